"""Read an input workbook into one table per sheet, recording every problem with its cell.

The reader never raises on bad content: it parses what it can, logs each
problem in an IssueLog and leaves the cross-sheet rules to `checks`. Only an
unreadable file (see `safe_open`) stops it.

Cells are read by python-calamine, or by openpyxl when `safe_open.calamine_refusal`
says calamine must not (and as the reference, `engine="openpyxl"`). Both fill the
same `SheetCells`, so the tables, problems and places come from one piece of code.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from exposure.issues import Issue, IssueLog
from exposure.workbook.safe_open import (
    check_container,
    has_formulas,
    open_workbook,
    scan_for_calamine,
)
from exposure.workbook.schema import (
    KNOWN_EXTRA_SHEETS,
    LARGEST_NUMBER,
    SHEETS,
    VALUE_RANGES,
    Column,
    SheetSpec,
    value_issue,
)

MAX_COLUMNS = 200
MAX_ROWS = 1_000_000
ROW = "_row"  # column holding the worksheet row a record came from

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_PERCENT = re.compile(r"^([+-]?(\d+\.?\d*|\.\d+))\s*%$")
_EXCEL_ERRORS = frozenset(
    ("#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!")
)


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


Engine = Literal["calamine", "openpyxl"]


class ExcelError(str):
    """An error value Excel saved in a cell (#N/A, #DIV/0!, ...), as opposed to typed text."""


@dataclass
class SheetCells:
    """One worksheet's cells as an engine read them, in 1-based worksheet coordinates.

    `rows` lists the worksheet rows below the header that may hold a record, in
    order; `column(c)` gives the values of worksheet column `c` in those rows (None
    or "" where a cell is empty). Both engines fill this, so the table is built
    and checked by one piece of code whichever engine read the file.
    """

    title: str
    hidden: bool
    header: dict[int, Any]
    rows: list[int]
    column: Callable[[int], list[Any]]
    merged: list[tuple[int, int, int, int]]  # (min_row, min_col, max_row, max_col)
    # cells holding a formula that has no saved value
    formulas_without_values: set[tuple[int, int]] = field(default_factory=set)
    # values beyond MAX_COLUMNS, and the count of rows holding any cell (openpyxl only:
    # calamine is not given a workbook with either, see `safe_open.calamine_refusal`)
    far_cells: list[tuple[int, int, Any]] = field(default_factory=list)
    row_count: int = 0


def read_workbook(path: str | Path, *, engine: Engine = "calamine") -> RawWorkbook:
    """Read every known sheet of `path` into tables; problems go to `result.log`.

    `engine="calamine"` reads the cells with python-calamine (Rust, no XML entity
    engine; about ten times faster than openpyxl on big workbooks). A workbook that
    calamine cannot hold safely or read exactly as openpyxl would (see
    `safe_open.calamine_refusal`), or that calamine fails on, is read with openpyxl
    instead, so every file is judged exactly as before. `engine="openpyxl"` forces
    the old path (kept for the read benchmark and as the reference in tests).
    """
    path = Path(path)
    sheets = _calamine_sheets(path) if engine == "calamine" else None
    if sheets is None:
        sheets = _openpyxl_sheets(path)
    result = RawWorkbook(path=path)
    log = result.log

    titles = {normalise_header(sheet.title): sheet for sheet in sheets}
    expected = {normalise_header(s.name): s for s in SHEETS}
    for key, sheet in titles.items():
        if key in expected:
            if sheet.hidden:
                log.add_warning(
                    "hidden-sheet",
                    f"sheet '{sheet.title}' is hidden; it is read all the same",
                    sheet=sheet.title,
                    hint="unhide it so that reviewers see what is used",
                )
            continue
        if key in {normalise_header(n) for n in KNOWN_EXTRA_SHEETS}:
            continue
        guess = closest(sheet.title, [s.name for s in SHEETS])
        if guess and normalise_header(guess) not in titles:
            log.add_error(
                "misspelt-sheet",
                f"sheet '{sheet.title}' is not a known sheet",
                sheet=sheet.title,
                hint=f"did you mean '{guess}'? rename the sheet",
            )
        else:
            log.add_warning(
                "unknown-sheet", f"sheet '{sheet.title}' is not used", sheet=sheet.title
            )

    for spec in SHEETS:
        found = titles.get(normalise_header(spec.name))
        logged = len(log.issues)
        if found is None:
            if spec.required:
                log.add_error(
                    "missing-sheet",
                    f"the workbook has no '{spec.name}' sheet",
                    hint="add it; `exposure template` writes one with every sheet",
                )
        else:
            table = _read_sheet(found, spec, log)
            if table is not None:
                result.tables[spec.name] = table
        if spec.name not in result.tables:
            root = next((i for i in log.issues[logged:] if i.severity == "error"), None)
            if root is not None:
                result.unread[spec.name] = root
    return result


def _calamine_sheets(path: Path) -> list[SheetCells] | None:
    """The worksheets read by python-calamine, or None to have openpyxl read the file.

    The container checks run first (they raise InputError for a file refused
    outright). None is returned for a workbook calamine would hold as a huge dense
    grid or might read differently from openpyxl (`calamine_refusal` says why),
    and for any failure of calamine itself: openpyxl then gives today's verdict.
    """
    check_container(path)
    refusal, formulas = scan_for_calamine(path, max_columns=MAX_COLUMNS, max_rows=MAX_ROWS)
    if refusal is not None:
        return None
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    try:
        with CalamineWorkbook.from_path(str(path)) as book:
            sheets = []
            for meta in book.sheets_metadata:
                if meta.typ != SheetTypeEnum.WorkSheet:
                    continue  # openpyxl's `worksheets` leaves chart sheets out too
                sheet = book.get_sheet_by_name(meta.name)
                grid = sheet.to_python(skip_empty_area=False)
                merged = [
                    (top + 1, left + 1, bottom + 1, right + 1)
                    for (top, left), (bottom, right) in sheet.merged_cell_ranges or []
                ]
                sheets.append(
                    _grid_sheet(meta.name, meta.visible != SheetVisibleEnum.Visible, grid, merged)
                )
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException:  # CalamineError, and a Rust panic surfaces as a BaseException
        return None
    if formulas:
        try:
            _mark_formulas_without_values(path, sheets)
        # openpyxl reads sheets lazily here, so a part calamine tolerated (junk after the
        # root element, found by bench/fuzz_reader.py) fails mid-read: let openpyxl's own
        # path give its verdict, as it did before calamine.
        except Exception:
            return None
    return sheets


def _grid_sheet(
    title: str, hidden: bool, grid: list[list[Any]], merged: list[tuple[int, int, int, int]]
) -> SheetCells:
    """A sheet from calamine's dense grid: `grid[r][c]` is worksheet cell (r + 1, c + 1)."""
    header = {c + 1: v for c, v in enumerate(grid[0]) if v != ""} if grid else {}
    body = grid[1:]

    def column(col: int) -> list[Any]:
        if not body or col > len(body[0]):
            return [None] * len(body)
        index = col - 1
        return [row[index] for row in body]

    return SheetCells(
        title=title,
        hidden=hidden,
        header=header,
        rows=list(range(2, len(grid) + 1)),
        column=column,
        merged=merged,
    )


def _as_openpyxl(value: Any) -> Any:
    """A value as openpyxl gives it: calamine reads a date cell as a date, openpyxl as a
    datetime (so messages and stored values are the same whichever engine read it)."""
    if type(value) is date:
        return datetime(value.year, value.month, value.day)
    return value


def _mark_formulas_without_values(path: Path, sheets: list[SheetCells]) -> None:
    """Find formulas whose value Excel never saved: calamine reads those cells as blank."""
    by_title = {sheet.title: sheet for sheet in sheets}
    book = open_workbook(path, data_only=False, read_only=True)
    try:
        for ws in book.worksheets:
            sheet = by_title.get(ws.title)
            if sheet is None:
                continue
            formulas = [
                (cell.row, cell.column)
                for row in ws.iter_rows()
                for cell in row
                if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value[:1] == "=")
            ]
            columns: dict[int, list[Any]] = {}
            first = sheet.rows[0] if sheet.rows else 2
            for row, col in formulas:
                if row == 1:
                    value = sheet.header.get(col)
                else:
                    if col not in columns:
                        columns[col] = sheet.column(col)
                    values = columns[col]
                    value = values[row - first] if 0 <= row - first < len(values) else None
                if _is_blank(value):
                    sheet.formulas_without_values.add((row, col))
    finally:
        book.close()


def _openpyxl_sheets(path: Path) -> list[SheetCells]:
    """The worksheets read by openpyxl (the reference path; slow on big workbooks)."""
    book = open_workbook(path, data_only=True)
    formula_cells = _formulas_without_values(path, book) if has_formulas(path) else set()
    return [_openpyxl_sheet(ws, formula_cells) for ws in book.worksheets]


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


def _openpyxl_sheet(ws: Worksheet, formula_cells: set[tuple[str, int, int]]) -> SheetCells:
    # Iterate only over cells that exist: a stray value in XFD1048576 must not
    # make us walk (or allocate) a million empty rows.
    cells_by_row: dict[int, dict[int, Any]] = {}
    far: list[tuple[int, int, Any]] = []
    for (row, col), cell in ws._cells.items():
        if col > MAX_COLUMNS:
            if cell.value is not None:
                far.append((row, col, cell.value))
            continue
        value = ExcelError(cell.value) if cell.data_type == "e" else cell.value
        cells_by_row.setdefault(row, {})[col] = value
    rows = sorted(r for r in cells_by_row if r > 1)

    def column(col: int) -> list[Any]:
        return [cells_by_row[row].get(col) for row in rows]

    return SheetCells(
        title=ws.title,
        hidden=ws.sheet_state != "visible",
        header=cells_by_row.get(1, {}),
        rows=rows,
        column=column,
        merged=[(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges],
        formulas_without_values={(r, c) for t, r, c in formula_cells if t == ws.title},
        far_cells=far,
        row_count=len(cells_by_row),
    )


def _read_sheet(sheet: SheetCells, spec: SheetSpec, log: IssueLog) -> SheetTable | None:
    for row, col, value in sheet.far_cells:
        log.add_warning(
            "far-cell",
            f"a value far right of the table (column {get_column_letter(col)}) is ignored",
            sheet=sheet.title,
            row=row,
            column=col,
            value=value,
        )
    if sheet.row_count > MAX_ROWS:
        log.add_error(
            "too-many-rows",
            f"sheet has {sheet.row_count} rows; the limit is {MAX_ROWS}",
            sheet=sheet.title,
        )
        return None

    column_index = _read_header(sheet.title, spec, sheet.header, log)
    if column_index is None:
        return None
    covered = _merged_cells(sheet, column_index, log)

    # One list per table column, then a record is a row with a value in any of them.
    raw = {name: sheet.column(col) for name, col in column_index.items()}
    blank = np.ones(len(sheet.rows), dtype=bool)
    for values in raw.values():
        # inline rather than _is_blank: this runs for every cell of every table
        blank &= np.array(
            [v is None or (type(v) is str and (not v or v.isspace())) for v in values],
            dtype=bool,
        )
    kept = np.flatnonzero(~blank)
    rows = [sheet.rows[i] for i in kept]

    # Issues from here on are put in row order at the end, as a row-by-row reader would
    # give them: gaps, then each column's problems (columns are parsed one at a time).
    cell_log = IssueLog()
    # A row Excel saved empty has no cells at all, so look for gaps, not blank cells.
    previous = np.array([1, *rows[:-1]], dtype=np.int64)
    for i in np.flatnonzero(np.array(rows, dtype=np.int64) > previous + 1):
        first, last = int(previous[i]) + 1, rows[i] - 1
        span = f"row {first}" if first == last else f"rows {first}-{last}"
        cell_log.add_warning(
            "blank-row",
            f"blank {span} inside the table; skipped",
            sheet=sheet.title,
            row=first,
            column=1,
            hint="delete empty rows so that the table is contiguous",
        )

    data: dict[str, list[Any]] = {}
    for column in spec.columns:
        found = column_index.get(column.name)
        if found is None:  # an optional column left out: every record takes its default
            data[column.name] = [column.default if column.is_number else None] * len(rows)
            continue
        values = raw[column.name]
        parsed = _parse_column(
            [values[i] for i in kept], rows, column, found, sheet, covered, cell_log
        )
        data[column.name] = _one_object_per_text(parsed) if not column.is_number else parsed
    log.issues.extend(sorted(cell_log.issues, key=lambda issue: issue.row or 0))  # stable
    data[ROW] = rows
    frame = pd.DataFrame(data, columns=[*spec.column_names, ROW])
    frame = frame.astype(object).where(frame.notna(), None)
    return SheetTable(spec=spec, title=sheet.title, frame=frame, column_index=column_index)


def _one_object_per_text(values: list[Any]) -> list[Any]:
    """`values` with equal strings made one object.

    The reader makes a new `str` for every cell, and a column of keys repeats a few
    values (periods, materials, countries) or each value a few times (products over
    periods). The tables built from it keep these objects all run: at 100k LP columns
    sharing them holds about 20 MiB less.
    """
    canonical: dict[str, str] = {}
    return [canonical.setdefault(v, v) if type(v) is str else v for v in values]


_SLOW = object()  # a fast parser's answer for a value that needs the full `parse_cell`


def _fast_number(low: float, high: float, low_open: bool = False) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        kind = type(value)
        if (kind is float or kind is int) and low <= value <= high:
            if low_open and value == low:
                return _SLOW
            return float(value)
        return _SLOW

    return parse


def _fast_plain_text(value: Any) -> Any:
    """Text of a column known to be ASCII without control characters (see _parse_column)."""
    if type(value) is str:
        text = value.strip()
        if text and text not in _EXCEL_ERRORS:
            return text
    return _SLOW


def _fast_id(value: Any) -> Any:
    if type(value) is str:
        text = value.strip()
        if (
            text
            and text not in _EXCEL_ERRORS
            and not _CONTROL.search(value)
            and unicodedata.is_normalized("NFC", text)
        ):
            return text
    return _SLOW


def _fast_text(value: Any) -> Any:
    if type(value) is str:
        text = value.strip()
        if text and text not in _EXCEL_ERRORS and not _CONTROL.search(value):
            return text
    return _SLOW


# The common, valid value of each kind, parsed without `parse_cell`'s many branches:
# the same result, but a few hundred thousand cells a second faster. Anything else
# (blank, error, text in a number column, out of range ...) goes to `parse_cell`.
# Number kinds: the schema's range (`VALUE_RANGES`) within the limit on magnitude.
_NUMBER_RANGES: dict[str, tuple[float, float, bool]] = {
    kind: (max(low, -LARGEST_NUMBER), min(high, LARGEST_NUMBER), low_refused)
    for kind, (low, high, low_refused) in VALUE_RANGES.items()
}
_FAST_PARSERS: dict[str, Callable[[Any], Any]] = {
    "id": _fast_id,
    "text": _fast_text,
    **{kind: _fast_number(*bounds) for kind, bounds in _NUMBER_RANGES.items()},
}


def _parse_column(
    values: list[Any],
    rows: list[int],
    column: Column,
    col: int,
    sheet: SheetCells,
    covered: set[tuple[int, int]],
    log: IssueLog,
) -> list[Any]:
    """Parse one table column: the fast path where it applies, `parse_cell` elsewhere."""
    special = {r for r, c in sheet.formulas_without_values | covered if c == col}
    if not special:
        whole = _parse_whole_column(values, column)
        if whole is not None:
            return whole
    fast = _FAST_PARSERS.get(column.kind)
    if fast in (_fast_id, _fast_text):
        # One search over the whole column instead of one per cell: ASCII text is
        # NFC already, and without control characters needs no cleaning.
        joined = "".join(v for v in values if type(v) is str)
        if joined.isascii() and not _CONTROL.search(joined):
            fast = _fast_plain_text
    parsed: list[Any] = []
    for value, row in zip(values, rows, strict=True):
        if fast is not None and row not in special:
            result = fast(value)
            if result is not _SLOW:
                parsed.append(result)
                continue
        where = {"sheet": sheet.title, "row": row, "column": col, "column_name": column.name}
        if (row, col) in sheet.formulas_without_values:
            log.add_error(
                "formula-without-value",
                "formula has no saved value",
                hint="open the file in Excel, let it calculate and save; or type the value",
                **where,
            )
            parsed.append(None)
        elif (row, col) in covered:
            parsed.append(None)
        else:
            parsed.append(parse_cell(_as_openpyxl(value), column, log, where))
    return parsed


def _parse_whole_column(values: list[Any], column: Column) -> list[Any] | None:
    """The parsed column when every value is the common, valid case; else None.

    Whole-column operations in C (type sets, numpy, str.strip via map) instead of a
    Python call per cell: the bulk of a 300k-column workbook goes this way.
    """
    kinds = set(map(type, values))
    if column.kind in _NUMBER_RANGES and kinds <= {float, int} and kinds:
        low, high, low_refused = _NUMBER_RANGES[column.kind]
        numbers = np.asarray(values, dtype=float)
        valid = ((numbers > low) if low_refused else (numbers >= low)) & (numbers <= high)
        return numbers.tolist() if valid.all() else None
    if column.kind in ("id", "text") and kinds == {str}:
        joined = "".join(values)
        if not joined.isascii() or _CONTROL.search(joined):
            return None
        stripped = list(map(str.strip, values))
        found = set(stripped)
        if "" in found or not _EXCEL_ERRORS.isdisjoint(found):
            return None
        return stripped
    return None


def _read_header(
    title: str, spec: SheetSpec, header_cells: dict[int, Any], log: IssueLog
) -> dict[str, int] | None:
    known = {normalise_header(c.name): c.name for c in spec.columns}
    column_index: dict[str, int] = {}
    unknown: dict[int, str] = {}
    for col in sorted(header_cells):
        text = header_cells[col]
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
                sheet=title,
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
            sheet=title,
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
                sheet=title,
                row=1,
                column=col,
                value=text,
                hint=f"did you mean '{column.name}'? rename the header",
            )
        else:
            log.add_error(
                "missing-column",
                f"required column '{column.name}' is missing",
                sheet=title,
                row=1,
                column=next_free,
                hint=f"add a header '{column.name}' in row 1",
            )
    return column_index if ok else None


def _merged_cells(
    sheet: SheetCells, column_index: dict[str, int], log: IssueLog
) -> set[tuple[int, int]]:
    """Report merged ranges that touch a table column; return the hidden cells they cover."""
    covered: set[tuple[int, int]] = set()
    used = set(column_index.values())
    for min_row, min_col, max_row, max_col in sheet.merged:
        cols = set(range(min_col, max_col + 1)) & used
        if not cols or max_row < 2:
            continue
        coord = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"
        log.add_error(
            "merged-cells",
            f"merged cells {coord} inside the table",
            sheet=sheet.title,
            row=min_row,
            column=min_col,
            hint="unmerge them and type the value in every row",
        )
        for row in range(max(min_row, 2), max_row + 1):
            for col in cols:
                covered.add((row, col))
    return covered


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def parse_cell(value: Any, column: Column, log: IssueLog, where: dict[str, Any]) -> Any:
    """One cell's value in the column's type; logs a problem and returns None when it is bad."""
    if isinstance(value, str) and value.strip() == "":
        value = None
    if value is None:
        if column.required:
            log.add_error(
                "blank-required", f"'{column.name}' is required", **where, hint="fill it in"
            )
        return None if column.default is None or not column.is_number else column.default
    if isinstance(value, ExcelError) or (isinstance(value, str) and value.strip() in _EXCEL_ERRORS):
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
    # The schema's rule of the column, as edits apply it, plus the limit on magnitude.
    problem = value_issue(column.name, column.kind, number, plausible=True)
    if problem is not None:
        log.add_error(problem.code, problem.message, value=value, hint=problem.hint, **where)
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
