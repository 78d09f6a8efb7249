"""Write frames to a new .xlsx file as Excel Tables, atomically, with xlsxwriter.

Every sheet is a real Excel Table with a frozen header, readable widths and
number formats, and reads back with `pandas.read_excel`. Text is always
written as text: a name that starts with "=" never becomes a formula.

Rows are streamed: xlsxwriter's `constant_memory` mode writes each row to disk
as soon as the next one starts, so a workbook of hundreds of thousands of rows
needs little memory and about a third of the time openpyxl does (bench/README.md).
That mode asks for everything in row order, so a sheet is measured first (column
widths, wrapped rows) and then written top to bottom in one pass.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.format import Format
from xlsxwriter.utility import _datetime_to_excel_datetime, xl_col_to_name, xl_range
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from exposure.report.atomic import partial_files, save_atomically, write_atomically
from exposure.report.formats import NumberFormat, format_for
from exposure.report.layout import (
    CHARS_PER_WIDTH,
    EXCEL_MAX_ROWS,
    HEADER_COLOUR,
    HEADER_WIDTH_MAX,
    LINE_HEIGHT,
    NOTES_WIDTH_MIN,
    NUMBER_WIDTH_MIN,
    TEXT_WIDTH_MAX,
    SheetData,
    cell_value,
    column_number_width,
    header_row,
    shown_width,
    table_name,
)
from exposure.report.openpyxl_sheet import write_sheet

__all__ = [
    "EXCEL_MAX_ROWS",
    "SheetData",
    "WrittenBook",
    "WrittenSheet",
    "header_row",
    "partial_files",
    "save_atomically",
    "write_sheet",
    "write_workbook",
]

DEFAULT_COLUMN_WIDTH = 13  # what a spreadsheet shows a column it was given no width for
DATE_WIDTH = 16
STRING_MAX = 32_767  # characters a cell holds
WRAP_AT = TEXT_WIDTH_MAX * CHARS_PER_WIDTH  # characters of text on one line of a column


@dataclass(frozen=True)
class WrittenSheet:
    """Where a sheet's table landed, for charts that point at it (1-based rows, columns)."""

    book: Workbook
    worksheet: Worksheet
    name: str
    frame: pd.DataFrame  # as written (cut to the sheet's rows)
    header_row: int

    @property
    def max_row(self) -> int:
        """The last row of the table: its header when it has no rows."""
        return self.header_row + len(self.frame)

    @property
    def max_column(self) -> int:
        return len(self.frame.columns)

    @property
    def columns(self) -> dict[str, int]:
        """Column name -> column number."""
        return {str(name): number for number, name in enumerate(self.frame.columns, start=1)}


class WrittenBook(Mapping[str, WrittenSheet]):
    """The sheets written so far, by name; what `write_workbook(finish=...)` is handed."""

    def __init__(self, book: Workbook) -> None:
        self.book = book
        self._sheets: dict[str, WrittenSheet] = {}

    def add(self, sheet: WrittenSheet) -> None:
        self._sheets[sheet.name] = sheet

    def __getitem__(self, name: str) -> WrittenSheet:
        return self._sheets[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sheets)

    def __len__(self) -> int:
        return len(self._sheets)


class Styles:
    """The workbook's cell formats, each made once: xlsxwriter keeps every Format it is
    given, so one per cell would bloat the file and the time to write it."""

    def __init__(self, book: Workbook) -> None:
        self.book = book
        self._made: dict[tuple[tuple[str, Any], ...], Format] = {}

    def get(self, **properties: Any) -> Format:
        key = tuple(sorted(properties.items()))
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = self.book.add_format(properties)
        return made

    def header(self, numbers_below: bool) -> Format:
        # a header stands over its numbers (right) or its text (left)
        return self.get(
            bold=True,
            font_color="#FFFFFF",
            bg_color=f"#{HEADER_COLOUR}",
            align="right" if numbers_below else "left",
            text_wrap=True,
            valign="top",
        )

    def title(self) -> Format:
        return self.get(bold=True, font_size=14)

    def note(self) -> Format:
        return self.get(text_wrap=True, valign="top")

    def text(self, wrap: bool, top: bool) -> Format:
        # Text is indented one step: it would otherwise touch a right-aligned number on its left.
        if wrap:
            return self.get(align="left", indent=1, text_wrap=True, valign="top")
        if top:  # a tall row reads from its top, like its wrapped text
            return self.get(align="left", indent=1, valign="top")
        return self.get(align="left", indent=1)

    def number(self, code: str | None, top: bool) -> Format | None:
        properties: dict[str, Any] = {}
        if code is not None:
            properties["num_format"] = code
        if top:
            properties["valign"] = "top"
        return self.get(**properties) if properties else None


def _number_code(value: float, chosen: NumberFormat | None) -> str | None:
    return chosen.code(value) if chosen is not None else None


@dataclass
class _Measured:
    """What a sheet needs before its first row is written: widths and tall rows."""

    widths: list[int]
    lines: np.ndarray  # lines of wrapped text per row (1: an ordinary row)


def _text_lengths(values: pd.Series) -> np.ndarray:
    """Length of each text value of a column; 0 for anything else."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.str.len().fillna(0).to_numpy(dtype=np.int64)
    return np.fromiter(
        (len(v) if isinstance(v, str) else 0 for v in values), dtype=np.int64, count=len(values)
    )


def _measure(
    frame: pd.DataFrame, columns: list[str], formats: list[NumberFormat | None], sheet: SheetData
) -> _Measured:
    """Column widths (characters) and wrapped lines per row, from the values alone."""
    row_keyed = sheet.row_formats_from in columns
    widths = [0] * len(columns)
    lines = np.ones(len(frame), dtype=np.int64)
    for j in range(len(columns)):
        values = frame.iloc[:, j]
        kind = values.dtype.kind
        if kind in "iuf" and not row_keyed:
            widths[j] = column_number_width(values, formats[j])
        elif kind == "M":
            widths[j] = DATE_WIDTH
        elif kind == "O" or row_keyed:
            lengths = _text_lengths(values)
            if lengths.any():
                widths[j] = min(int(lengths.max()), TEXT_WIDTH_MAX) + 1
                lines = np.maximum(lines, np.ceil(lengths / WRAP_AT).astype(np.int64))
            others = np.flatnonzero((lengths == 0) & values.notna().to_numpy())
            if others.size:  # numbers or dates among the text, or a key/value table
                widths[j] = max(widths[j], _mixed_width(frame, j, others, sheet, formats, columns))
    return _Measured(widths, lines)


def _mixed_width(
    frame: pd.DataFrame,
    j: int,
    rows: np.ndarray,
    sheet: SheetData,
    formats: list[NumberFormat | None],
    columns: list[str],
) -> int:
    """Width of the numbers and dates at `rows` of column `j` (in a key/value table, numbers
    show in the format of their row's key)."""
    row_keyed = sheet.row_formats_from in columns
    name = columns[j]
    keys = frame[sheet.row_formats_from] if row_keyed else None
    values = frame.iloc[:, j]
    widest = 0
    for i in rows:
        value = cell_value(values.iloc[i])
        if isinstance(value, int | float) and not isinstance(value, bool):
            chosen = formats[j]
            if keys is not None and name != sheet.row_formats_from:
                chosen = sheet.formats.get(name) or format_for(keys.iloc[i])
            widest = max(widest, shown_width(value, chosen))
        elif isinstance(value, datetime | date):
            widest = max(widest, DATE_WIDTH)
    return widest


def _cut_to_sheet(sheet: SheetData) -> tuple[pd.DataFrame, str]:
    """The rows a sheet holds, and its title: a table longer than a sheet is cut and says so."""
    room = EXCEL_MAX_ROWS - header_row("title", sheet.notes)
    if len(sheet.frame) <= room:
        return sheet.frame, sheet.title
    title = f"{sheet.title} (first {room:,} of {len(sheet.frame):,} rows)".strip()
    return sheet.frame.iloc[:room], title


def _unique_headers(columns: list[str]) -> list[str]:
    """Excel Table headers must differ, ignoring case; a repeat gets a number."""
    seen: set[str] = set()
    unique = []
    for name in columns:
        candidate, number = name or "column", 1
        while candidate.casefold() in seen:
            number += 1
            candidate = f"{name} ({number})"
        seen.add(candidate.casefold())
        unique.append(candidate)
    return unique


def write_sheet_streamed(
    book: Workbook, ws: Worksheet, sheet: SheetData, styles: Styles
) -> WrittenSheet:
    """Write one table below its title and notes, top to bottom; formats, widths, page."""
    frame, title = _cut_to_sheet(sheet)
    first = header_row(title, sheet.notes)  # 1-based, as planners and `SheetData` count
    columns = [str(c) for c in frame.columns]
    headers = _unique_headers(columns)
    column_formats = [sheet.formats.get(c) or format_for(c) for c in columns]
    measured = _measure(frame, columns, column_formats, sheet)
    widths = [
        # 3 characters of air: right-aligned numbers and left-aligned text do not touch
        max(width, min(len(name), HEADER_WIDTH_MAX), NUMBER_WIDTH_MIN) + 3
        for width, name in zip(measured.widths, columns, strict=True)
    ]
    for j, width in enumerate(widths):
        ws.set_column(j, j, width)

    if title:
        ws.write_string(0, 0, title, styles.title())
    _write_notes(ws, sheet.notes, widths, styles)

    if columns:
        _add_table(ws, sheet.name, first, headers, len(frame))
    header_lines = max(
        [math.ceil(len(name) / (width - 1)) for name, width in zip(columns, widths, strict=True)],
        default=1,
    )
    if header_lines > 1:
        ws.set_row(first - 1, LINE_HEIGHT * header_lines)
    for j, name in enumerate(headers):
        numbers_below = frame.iloc[:, j].dtype.kind in "iuf"
        ws.write_string(first - 1, j, name, styles.header(numbers_below))

    _write_rows(book, ws, sheet, frame, columns, column_formats, measured.lines, first, styles)
    ws.freeze_panes(first, 0)
    set_up_page(ws, first if sheet.repeat_header else None)
    return WrittenSheet(book, ws, sheet.name, frame, first)


def _add_table(ws: Worksheet, name: str, first: int, headers: list[str], rows: int) -> None:
    """An Excel Table over the header and rows (at least one, as Excel requires).

    xlsxwriter refuses tables in constant_memory mode because `add_table` writes the
    header cells itself, out of row order. Called before the header row is written, with
    the mode off for the call, those cells are the ones this writer then writes over,
    in order; the table part itself is written at the end, as in any mode. The table is
    made over the header and one row, then widened to every row: `add_table` keeps one
    dict entry per cell of its range (to refuse overlaps), a gigabyte at a million rows.
    """
    last = first + max(rows, 1)  # 1-based
    streaming = ws.constant_memory
    ws.constant_memory = False
    try:
        ws.add_table(
            first - 1,
            0,
            first,
            len(headers) - 1,
            {
                "name": table_name(name),
                "style": "Table Style Medium 2",
                "columns": [{"header": header} for header in headers],
            },
        )
    finally:
        ws.constant_memory = streaming
    table = ws.tables[-1]
    table["range"] = table["a_range"] = xl_range(first - 1, 0, last - 1, len(headers) - 1)
    table["autofilter"] = table["a_range"]


class _RowXml:
    """The table's rows, written straight into the sheet's streamed XML.

    xlsxwriter spends ~5 us of Python per cell (argument checks, a cell object, a
    dispatch on its class, an inline string escaped again for every repeat); building
    each row's `<row>` element here takes a fraction of that, and repeated text (sector,
    material, country) goes once into the shared-string table. Everything else in the
    sheet (title, notes, header, widths, Table, page setup) goes through xlsxwriter's
    API. This relies on how constant_memory mode streams: rows are appended to
    `ws.fh` in order, `previous_row` is the row xlsxwriter holds back, and the
    dimensions come from `_check_dimensions`; xlsxwriter is pinned to a major version
    in pyproject.toml, and tests/test_excel_writer.py reads every kind of cell back.
    """

    def __init__(self, book: Workbook, ws: Worksheet, first_row: int, n_columns: int) -> None:
        self.ws = ws
        self.strings = book.str_table
        self.letters = [xl_col_to_name(j) for j in range(n_columns)]
        # Write out the header row xlsxwriter holds back: ours come after it.
        ws._write_single_row(first_row)

    def string_cell(self, j: int, row: int, text: str, style: str) -> str:
        """A text cell: its index in the shared-string table; `style` from `_style`."""
        if len(text) > STRING_MAX:
            text = text[:STRING_MAX]
        index = self.strings._get_shared_string_index(text)
        return f'<c r="{self.letters[j]}{row}"{style} t="s"><v>{index}</v></c>'

    def number_cell(self, j: int, row: int, number: float, style: str) -> str:
        return f'<c r="{self.letters[j]}{row}"{style}><v>{number!r}</v></c>'

    def boolean_cell(self, j: int, row: int, value: bool, style: str) -> str:
        return f'<c r="{self.letters[j]}{row}"{style} t="b"><v>{int(value)}</v></c>'

    def write_row(self, row: int, cells: list[str], height: float | None) -> None:
        """Row `row` (1-based) of `cells`; `height` in points for a tall row."""
        attributes = f' ht="{height:g}" customHeight="1"' if height else ""
        self.ws.fh.write(f'<row r="{row}"{attributes}>{"".join(cells)}</row>')

    def close(self, last_row: int) -> None:
        """Tell xlsxwriter where the rows end (0-based), as if it had written them."""
        self.ws.previous_row = last_row
        self.ws._check_dimensions(last_row, len(self.letters) - 1)


def _style(style: Format | None) -> str:
    """` s="<index>"`: a cell's format (xlsxwriter fixes a format's index when first asked)."""
    return f' s="{style._get_xf_index()}"' if style is not None else ""


def _write_rows(
    book: Workbook,
    ws: Worksheet,
    sheet: SheetData,
    frame: pd.DataFrame,
    columns: list[str],
    column_formats: list[NumberFormat | None],
    lines: np.ndarray,
    first: int,
    styles: Styles,
) -> None:
    """The table's rows, in order, each cell by the kind of its column (the hot loop)."""
    if frame.empty or not columns:
        return
    xml = _RowXml(book, ws, first, len(columns))
    row_keyed = sheet.row_formats_from in columns
    key_index = (
        columns.index(sheet.row_formats_from) if row_keyed and sheet.row_formats_from else -1
    )
    dtypes = [frame.iloc[:, j].dtype for j in range(len(columns))]
    # Per column: plain numbers (the common, fast case) or anything (checked per cell);
    # a nullable integer column (pd.NA) is checked per cell.
    fast_numbers = [
        isinstance(dtype, np.dtype) and dtype.kind in "iuf" and not row_keyed for dtype in dtypes
    ]
    # A column's format for its positive numbers, in ordinary and in tall rows; a negative
    # number's may depend on its size (USD bn, M), so it is looked up per number.
    positive_formats = [
        (
            _style(styles.number(_number_code(1.0, chosen), False)),
            _style(styles.number(_number_code(1.0, chosen), True)),
        )
        for chosen in column_formats
    ]
    # Text columns (pandas' string dtype) hold text or nothing: no check of each value's kind.
    text_only = [isinstance(dtype, pd.StringDtype) and not row_keyed for dtype in dtypes]
    text_formats = [
        [_style(styles.text(False, False)), _style(styles.text(False, True))],
        [_style(styles.text(True, False)), _style(styles.text(True, True))],
    ]
    number_cell, string_cell = xml.number_cell, xml.string_cell
    # One Python list per column: iterating them is far cheaper than DataFrame rows.
    column_values = [frame.iloc[:, j].tolist() for j in range(len(columns))]
    tall_rows = lines > 1
    row = first  # 1-based: the header's row; each record goes below it
    for i, record in enumerate(zip(*column_values, strict=True)):
        row += 1
        tall = bool(tall_rows[i])
        row_format = format_for(record[key_index]) if row_keyed else None
        cells = []
        for j, raw in enumerate(record):
            if fast_numbers[j]:
                if not math.isfinite(raw):  # NaN (missing) or infinite: an empty cell
                    continue
                if raw < 0:
                    style = _style(styles.number(_number_code(raw, column_formats[j]), tall))
                    cells.append(number_cell(j, row, raw, style))
                else:
                    cells.append(number_cell(j, row, raw, positive_formats[j][tall]))
                continue
            if text_only[j]:
                if isinstance(raw, str):
                    style = text_formats[len(raw) > WRAP_AT][tall]
                    cells.append(string_cell(j, row, raw, style))
                continue  # None or NaN: an empty cell
            value = cell_value(raw)
            if value is None:
                continue
            if isinstance(value, str):
                # Text from an input is data, never a formula: a shared string.
                style = text_formats[len(value) > WRAP_AT][tall]
                cells.append(string_cell(j, row, value, style))
            elif isinstance(value, bool):
                cells.append(xml.boolean_cell(j, row, value, _style(styles.number(None, tall))))
            elif isinstance(value, int | float):
                chosen = column_formats[j]
                if row_keyed and j != key_index:
                    chosen = sheet.formats.get(columns[j]) or row_format
                style = _style(styles.number(_number_code(value, chosen), tall))
                cells.append(number_cell(j, row, value, style))
            elif isinstance(value, datetime | date):
                code = "yyyy-mm-dd hh:mm" if isinstance(value, datetime) else "yyyy-mm-dd"
                serial = _datetime_to_excel_datetime(value, False, True)  # its own conversion
                cells.append(number_cell(j, row, serial, _style(styles.number(code, tall))))
        # Not every spreadsheet grows a row for wrapped text: give it the lines.
        xml.write_row(row, cells, LINE_HEIGHT * int(lines[i]) if tall else None)
    xml.close(row - 1)


def _write_notes(ws: Worksheet, notes: list[str], widths: list[int], styles: Styles) -> None:
    """Sentences from row 3, each merged across the table (at least NOTES_WIDTH_MIN) and wrapped."""
    if not notes:
        return
    span, width = 0, 0.0
    while span < max(len(widths), 1) or width < NOTES_WIDTH_MIN:
        width += widths[span] if span < len(widths) else DEFAULT_COLUMN_WIDTH
        span += 1
        if span >= 26:
            break
    for row, text in enumerate(notes, start=2):  # 0-based: row 3
        # A merged, wrapped cell does not grow by itself: give it the lines it needs.
        lines = max(1, math.ceil(len(text) / (width * CHARS_PER_WIDTH)))
        ws.set_row(row, LINE_HEIGHT * lines)
        if span > 1:
            ws.merge_range(row, 0, row, span - 1, "", styles.note())
        ws.write_string(row, 0, text, styles.note())


def set_up_page(ws: Worksheet, header_row: int | None) -> None:
    """Landscape, one page wide, the header repeated on every page, sheet and page in the footer."""
    ws.set_landscape()
    ws.fit_to_pages(1, 0)  # one page wide, as many pages down as the rows need
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_header("", {"margin": 0.25})
    ws.set_footer("&C&A, page &P of &N", {"margin": 0.3})
    if header_row is not None:
        ws.repeat_rows(header_row - 1)


def _fill(
    book: Workbook,
    sheets: Iterable[SheetData],
    created: datetime | None,
    finish: Callable[[WrittenBook], None] | None,
) -> None:
    styles = Styles(book)
    written = WrittenBook(book)
    for sheet in sheets:
        ws = book.add_worksheet(sheet.name[:31])
        written.add(write_sheet_streamed(book, ws, sheet, styles))
    if finish is not None:
        finish(written)
    properties: dict[str, Any] = {"author": "exposure"}
    if created is not None:
        properties["created"] = created
    book.set_properties(properties)


def write_workbook(
    path: Path,
    sheets: Iterable[SheetData],
    created: datetime | None = None,
    finish: Callable[[WrittenBook], None] | None = None,
) -> None:
    """Write a new workbook of one table per sheet and save it atomically; `finish` adds
    what spans sheets (charts), given where each table landed."""

    def write(temporary: str) -> None:
        # xlsxwriter's own scratch files (streamed rows, the parts before zipping) go in a
        # folder of this save's own, removed whether the save succeeds or fails.
        with tempfile.TemporaryDirectory(prefix="exposure-xlsx-") as scratch:
            book = Workbook(
                temporary,
                {
                    "constant_memory": True,  # stream rows to disk: memory flat at any size
                    "tmpdir": scratch,
                    "strings_to_formulas": False,  # text is data, never a formula
                    "strings_to_urls": False,
                    "strings_to_numbers": False,
                    "remove_timezone": True,
                },
            )
            try:
                _fill(book, sheets, created, finish)
                book.close()
            except FileCreateError as exc:
                # xlsxwriter wraps every OSError of its save: say what went wrong, plainly.
                cause = exc.args[0] if exc.args else None
                raise cause if isinstance(cause, OSError) else OSError(str(exc)) from exc
            finally:
                if not book.fileclosed:
                    for ws in book.worksheets():
                        ws._opt_close()  # the streamed rows' open files, before their folder goes

    write_atomically(Path(path), write)
