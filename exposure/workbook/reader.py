"""Read an input workbook into one table per sheet, recording every problem with its cell.

The reader never raises on bad content: it parses what it can, logs each
problem in an IssueLog and leaves the cross-sheet rules to `checks`. Only an
unreadable file (see `safe_open`) stops it.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from exposure.issues import Issue, IssueLog
from exposure.workbook.safe_open import has_formulas, open_workbook
from exposure.workbook.schema import KNOWN_EXTRA_SHEETS, SHEETS, Column, SheetSpec

MAX_COLUMNS = 200
MAX_ROWS = 1_000_000
LARGEST_NUMBER = 1e15  # beyond any real tonnage or dollar figure; guards against typos and 1e308
ROW = "_row"  # column holding the worksheet row a record came from

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_PERCENT = re.compile(r"^([+-]?(\d+\.?\d*|\.\d+))\s*%$")
_EXCEL_ERRORS = ("#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!")


def normalise_header(text: Any) -> str:
    """`` Approval Rate (0-1) `` -> ``approval_rate``: case, spaces and a unit suffix ignored."""
    name = str(text).strip().casefold()
    name = re.sub(r"\s*\([^)]*\)\s*$", "", name)
    return re.sub(r"[\s\-]+", "_", name.strip())


def closest(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The choice most like `word` (case-insensitive), or None if nothing is close."""
    lowered = {c.casefold(): c for c in choices}
    match = difflib.get_close_matches(word.casefold(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    guess = closest(word, choices)
    return f"did you mean '{guess}'?" if guess else ""


@dataclass
class SheetTable:
    """One parsed input sheet.

    `frame` has one row per record with the canonical column names and a
    `_row` column (the worksheet row); `column_index` maps a canonical column
    name to its worksheet column number, so checks can name cells.
    """

    spec: SheetSpec
    title: str
    frame: pd.DataFrame
    column_index: dict[str, int]

    def cell(self, column: str, row: int) -> dict[str, Any]:
        """Keyword arguments that place an issue at this sheet's (column, row)."""
        return {
            "sheet": self.title,
            "row": row,
            "column": self.column_index.get(column),
            "column_name": column,
        }


@dataclass
class RawWorkbook:
    """Everything read from one workbook: its tables and the problems found."""

    path: Path
    tables: dict[str, SheetTable] = field(default_factory=dict)
    log: IssueLog = field(default_factory=IssueLog)
    # Sheets that could not be read (absent, or a required header missing), each with the
    # error that says why: checks do not repeat that error for every row referring to them.
    unread: dict[str, Issue] = field(default_factory=dict)
    rows_not_checked: Counter[str] = field(default_factory=Counter)

    def frame(self, name: str) -> pd.DataFrame:
        """The table of sheet `name`, or an empty one with the right columns if absent."""
        if name in self.tables:
            return self.tables[name].frame
        spec = next(s for s in SHEETS if s.name == name)
        return pd.DataFrame(columns=[*spec.column_names, ROW])


def read_workbook(path: str | Path) -> RawWorkbook:
    """Read every known sheet of `path` into tables; problems go to `result.log`."""
    path = Path(path)
    book = open_workbook(path, data_only=True)
    result = RawWorkbook(path=path)
    log = result.log
    formula_cells = _formulas_without_values(path, book) if has_formulas(path) else set()

    titles = {normalise_header(ws.title): ws for ws in book.worksheets}
    expected = {normalise_header(s.name): s for s in SHEETS}
    for key, ws in titles.items():
        if key in expected:
            if ws.sheet_state != "visible":
                log.add_warning(
                    "hidden-sheet",
                    f"sheet '{ws.title}' is hidden; it is read all the same",
                    sheet=ws.title,
                    hint="unhide it so that reviewers see what is used",
                )
            continue
        if key in {normalise_header(n) for n in KNOWN_EXTRA_SHEETS}:
            continue
        guess = closest(ws.title, [s.name for s in SHEETS])
        if guess and normalise_header(guess) not in titles:
            log.add_error(
                "misspelt-sheet",
                f"sheet '{ws.title}' is not a known sheet",
                sheet=ws.title,
                hint=f"did you mean '{guess}'? rename the sheet",
            )
        else:
            log.add_warning("unknown-sheet", f"sheet '{ws.title}' is not used", sheet=ws.title)

    for spec in SHEETS:
        ws = titles.get(normalise_header(spec.name))
        logged = len(log.issues)
        if ws is None:
            if spec.required:
                log.add_error(
                    "missing-sheet",
                    f"the workbook has no '{spec.name}' sheet",
                    hint="add it; `exposure template` writes one with every sheet",
                )
        else:
            table = _read_sheet(ws, spec, log, formula_cells)
            if table is not None:
                result.tables[spec.name] = table
        if spec.name not in result.tables:
            root = next((i for i in log.issues[logged:] if i.severity == "error"), None)
            if root is not None:
                result.unread[spec.name] = root
    return result


def _formulas_without_values(path: Path, values_book: Any) -> set[tuple[str, int, int]]:
    """Cells that hold a formula whose value Excel never saved (e.g. written by a script)."""
    formulas_book = open_workbook(path, data_only=False)
    missing = set()
    for ws in formulas_book.worksheets:
        values = values_book[ws.title]._cells
        for (row, col), cell in ws._cells.items():
            if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value[:1] == "="):
                saved = values.get((row, col))
                if saved is None or saved.value is None:
                    missing.add((ws.title, row, col))
    formulas_book.close()
    return missing


def _read_sheet(
    ws: Worksheet, spec: SheetSpec, log: IssueLog, formula_cells: set[tuple[str, int, int]]
) -> SheetTable | None:
    # Iterate only over cells that exist: a stray value in XFD1048576 must not
    # make us walk (or allocate) a million empty rows.
    cells_by_row: dict[int, dict[int, Any]] = {}
    for (row, col), cell in ws._cells.items():
        if col > MAX_COLUMNS:
            if cell.value is not None:
                log.add_warning(
                    "far-cell",
                    f"a value far right of the table (column {get_column_letter(col)}) is ignored",
                    sheet=ws.title,
                    row=row,
                    column=col,
                    value=cell.value,
                )
            continue
        cells_by_row.setdefault(row, {})[col] = cell
    if len(cells_by_row) > MAX_ROWS:
        log.add_error(
            "too-many-rows",
            f"sheet has {len(cells_by_row)} rows; the limit is {MAX_ROWS}",
            sheet=ws.title,
        )
        return None

    column_index = _read_header(ws, spec, cells_by_row.get(1, {}), log)
    if column_index is None:
        return None
    merged_key_cells = _merged_cells(ws, spec, column_index, log)

    records = []
    last_record_row = 1  # the header
    used_columns = set(column_index.values())
    for row in sorted(r for r in cells_by_row if r > 1):
        cells = cells_by_row[row]
        if all(_is_blank(cells.get(c)) for c in used_columns):
            continue
        # A row Excel saved empty has no cells at all, so look for gaps, not blank cells.
        if row > last_record_row + 1:
            first, last = last_record_row + 1, row - 1
            span = f"row {first}" if first == last else f"rows {first}-{last}"
            log.add_warning(
                "blank-row",
                f"blank {span} inside the table; skipped",
                sheet=ws.title,
                row=first,
                column=1,
                hint="delete empty rows so that the table is contiguous",
            )
        last_record_row = row
        record: dict[str, Any] = {ROW: row}
        for column in spec.columns:
            col = column_index.get(column.name)
            cell = cells.get(col) if col else None
            where = {
                "sheet": ws.title,
                "row": row,
                "column": col,
                "column_name": column.name,
            }
            if col and (ws.title, row, col) in formula_cells:
                log.add_error(
                    "formula-without-value",
                    "formula has no saved value",
                    hint="open the file in Excel, let it calculate and save; or type the value",
                    **where,
                )
                record[column.name] = None
                continue
            if col and (row, col) in merged_key_cells:
                record[column.name] = None
                continue
            record[column.name] = parse_cell(cell, column, log, where)
        records.append(record)

    frame = pd.DataFrame.from_records(records, columns=[*spec.column_names, ROW])
    frame = frame.astype(object).where(frame.notna(), None)
    return SheetTable(spec=spec, title=ws.title, frame=frame, column_index=column_index)


def _read_header(
    ws: Worksheet, spec: SheetSpec, header_cells: dict[int, Any], log: IssueLog
) -> dict[str, int] | None:
    known = {normalise_header(c.name): c.name for c in spec.columns}
    column_index: dict[str, int] = {}
    unknown: dict[int, str] = {}
    for col in sorted(header_cells):
        text = header_cells[col].value
        if text is None or str(text).strip() == "":
            continue
        key = normalise_header(text)
        name = known.get(key)
        if name is None:
            unknown[col] = str(text)
            continue
        if name in column_index:
            first = get_column_letter(column_index[name])
            log.add_error(
                "duplicate-column",
                f"column '{name}' appears twice (also in {first}1)",
                sheet=ws.title,
                row=1,
                column=col,
                value=text,
                hint="delete or rename one of them",
            )
            continue
        column_index[name] = col

    missing = [c for c in spec.columns if c.name not in column_index]
    for col, text in unknown.items():
        guess = closest(normalise_header(text), [c.name for c in missing])
        if guess and spec.column(guess).required:
            continue  # reported below as the missing column, with this cell as the hint
        hint = f"did you mean '{guess}'?" if guess else "it is ignored"
        log.add_warning(
            "unknown-column",
            f"column '{text}' is not used",
            sheet=ws.title,
            row=1,
            column=col,
            value=text,
            hint=hint,
        )
    ok = True
    next_free = max([*header_cells, 0]) + 1  # where a missing header can be added
    for column in missing:
        if not column.required:
            continue
        ok = False
        near = [
            (col, text)
            for col, text in unknown.items()
            if closest(normalise_header(text), [column.name]) == column.name
        ]
        if near:
            col, text = near[0]
            log.add_error(
                "misspelt-column",
                f"column '{text}' is not a known column",
                sheet=ws.title,
                row=1,
                column=col,
                value=text,
                hint=f"did you mean '{column.name}'? rename the header",
            )
        else:
            log.add_error(
                "missing-column",
                f"required column '{column.name}' is missing",
                sheet=ws.title,
                row=1,
                column=next_free,
                hint=f"add a header '{column.name}' in row 1",
            )
    return column_index if ok else None


def _merged_cells(
    ws: Worksheet, spec: SheetSpec, column_index: dict[str, int], log: IssueLog
) -> set[tuple[int, int]]:
    """Report merged ranges that touch a table column; return the hidden cells they cover."""
    covered: set[tuple[int, int]] = set()
    used = set(column_index.values())
    for merged in ws.merged_cells.ranges:
        cols = set(range(merged.min_col, merged.max_col + 1)) & used
        if not cols or merged.max_row < 2:
            continue
        log.add_error(
            "merged-cells",
            f"merged cells {merged.coord} inside the table",
            sheet=ws.title,
            row=merged.min_row,
            column=merged.min_col,
            hint="unmerge them and type the value in every row",
        )
        for row in range(max(merged.min_row, 2), merged.max_row + 1):
            for col in cols:
                covered.add((row, col))
    return covered


def _is_blank(cell: Any) -> bool:
    if cell is None:
        return True
    value = cell.value
    return value is None or (isinstance(value, str) and value.strip() == "")


def parse_cell(cell: Any, column: Column, log: IssueLog, where: dict[str, Any]) -> Any:
    """One cell's value in the column's type; logs a problem and returns None when it is bad."""
    value = None if cell is None else cell.value
    if isinstance(value, str) and value.strip() == "":
        value = None
    if value is None:
        if column.required:
            log.add_error(
                "blank-required", f"'{column.name}' is required", **where, hint="fill it in"
            )
        return None if column.default is None or not column.is_number else column.default
    if (cell is not None and cell.data_type == "e") or (
        isinstance(value, str) and value.strip() in _EXCEL_ERRORS
    ):
        log.add_error(
            "excel-error",
            f"cell holds the Excel error {value}",
            value=value,
            **where,
            hint="fix the formula or type the value",
        )
        return None
    if column.kind == "id":
        return _parse_id(value, column, log, where)
    if column.kind in ("text",):
        return _parse_text(value, log, where)
    if column.kind == "choice":
        text = _parse_text(value, log, where)
        if text is None:
            return None
        if text.casefold() not in column.choices:
            log.add_error(
                "bad-choice",
                f"'{text}' is not one of {', '.join(column.choices)}",
                value=text,
                **where,
                hint=did_you_mean(text, column.choices) or "pick one from the list",
            )
            return None
        return text.casefold()
    if column.kind == "date":
        if isinstance(value, datetime | date):
            return value
        text = _parse_text(value, log, where)
        try:
            return datetime.fromisoformat(text) if text else None
        except ValueError:
            log.add_error(
                "not-a-date",
                f"'{text}' is not a date",
                value=text,
                **where,
                hint="type a date such as 2026-01-01",
            )
            return None
    return _parse_number(value, column, log, where)


def _parse_id(value: Any, column: Column, log: IssueLog, where: dict[str, Any]) -> str | None:
    if isinstance(value, bool):
        log.add_error(
            "bad-id", f"{value} is not an id", value=value, **where, hint="type the id as text"
        )
        return None
    if isinstance(value, time | timedelta):  # a cell typed 10:00 or formatted [h]:mm
        log.add_error(
            "date-as-id",
            f"Excel turned this id into the time {value}",
            value=value,
            **where,
            hint="format the column as Text and type the id again",
        )
        return None
    if isinstance(value, datetime | date):
        log.add_error(
            "date-as-id",
            f"Excel turned this id into the date {value:%Y-%m-%d}",
            value=value,
            **where,
            hint="format the column as Text and type the id again",
        )
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            log.add_error("bad-id", f"{value} is not an id", value=value, **where)
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _CONTROL.search(text):
        log.add_error(
            "control-characters",
            f"'{column.name}' contains invisible control characters",
            value=text,
            **where,
            hint="retype the id",
        )
        return None
    return unicodedata.normalize("NFC", text.strip())


def _parse_text(value: Any, log: IssueLog, where: dict[str, Any]) -> str | None:
    text = str(value)
    if _CONTROL.search(text):
        log.add_warning(
            "control-characters",
            "invisible control characters removed",
            value=text,
            **where,
        )
        text = _CONTROL.sub("", text)
    text = text.strip()
    return text or None


def _parse_number(value: Any, column: Column, log: IssueLog, where: dict[str, Any]) -> float | None:
    # Anything but a number or text: a boolean, a date, a time of day (a cell typed 10:00),
    # a duration (formatted [h]:mm).
    if not isinstance(value, int | float | str) or isinstance(value, bool):
        log.add_error(
            "not-a-number",
            f"'{value}' is not a number",
            value=value,
            **where,
            hint="type a plain number",
        )
        return None
    if isinstance(value, str):
        number = _number_from_text(value, column)
        if number is None:
            hint = "type a plain number such as 1234.5"
            if re.search(r"\d[.,]\d{3}[.,]\d|\d,\d", value):
                hint = "use a plain number without thousands separators, decimal point '.'"
            log.add_error(
                "not-a-number",
                f"'{value}' is not a number",
                value=value,
                **where,
                hint=hint,
            )
            return None
        log.add_warning(
            "number-as-text",
            f"number stored as text '{value}' read as {number:g}",
            value=value,
            **where,
            hint="format the cell as a number",
        )
        value = number
    number = float(value)
    if not math.isfinite(number):
        log.add_error("not-finite", f"{value} is not a finite number", value=value, **where)
        return None
    if abs(number) > LARGEST_NUMBER:
        log.add_error(
            "huge-number",
            f"{number:g} is implausibly large (limit {LARGEST_NUMBER:g})",
            value=value,
            **where,
            hint="check the unit: tonnes and USD are expected",
        )
        return None
    if column.kind == "rate" and not 0 <= number <= 1:
        hint = (
            f"write {number:g}% or {number / 100:g}, not {number:g}"
            if 1 < number <= 100
            else "a rate is between 0 and 1"
        )
        log.add_error(
            "rate-out-of-range",
            f"{column.name} {number:g} is outside [0, 1]",
            value=value,
            **where,
            hint=hint,
        )
        return None
    if column.kind in ("quantity", "money") and number < 0:
        log.add_error(
            "negative",
            f"{column.name} {number:g} is negative",
            value=value,
            **where,
            hint="quantities and costs are zero or more",
        )
        return None
    if column.kind == "weight" and number <= 0:
        log.add_error(
            "not-positive",
            f"{column.name} {number:g} must be greater than 0",
            value=value,
            **where,
        )
        return None
    return number


def _number_from_text(text: str, column: Column) -> float | None:
    stripped = text.strip().replace("\u00a0", "")
    if _PLAIN_NUMBER.match(stripped):
        return float(stripped)
    percent = _PERCENT.match(stripped)
    if percent and column.kind == "rate":
        return float(percent.group(1)) / 100
    return None
