"""Write frames to an .xlsx file as Excel Tables, atomically.

Every sheet is a real Excel Table with a frozen header, readable widths and
number formats, and reads back with `pandas.read_excel`. Text is always
written as text: a name that starts with "=" never becomes a formula.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import glob
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from exposure.errors import OutputError
from exposure.report.formats import GENERAL, NumberFormat, format_for

EXCEL_MAX_ROWS = 1_048_576
# Fonts named: a spreadsheet without the workbook's default font would use a serif.
FONT_NAME = "Calibri"
HEADER_FONT = Font(name=FONT_NAME, bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
TITLE_FONT = Font(name=FONT_NAME, bold=True, size=14)
NOTE_FONT = Font(name=FONT_NAME, size=11)
CHARS_PER_WIDTH = 1.2  # characters of text per unit of column width (the width of a "0")
LINE_HEIGHT = 15.0  # points: one line of the default 11 pt font
TEXT_WIDTH_MAX = 60  # characters; longer text wraps rather than widen the printed page
HEADER_WIDTH_MAX = 14  # a longer header wraps rather than widen its column (and the page)
NOTES_WIDTH_MIN = 100  # characters across which the sentences above a table wrap
NUMBER_WIDTH_MIN = 8


@dataclass
class SheetData:
    """A sheet to write: a title, sentences under it, then a table.

    Numbers take their format from the registry (`exposure.report.formats`) by
    column name; `formats` overrides it for columns whose names are data (a
    pivot by sector). A key/value table (`row_formats_from`) formats each row's
    numbers by the text in that column, e.g. the Summary's "service_level" row.
    """

    name: str
    frame: pd.DataFrame
    title: str = ""
    notes: list[str] = field(default_factory=list)
    formats: dict[str, NumberFormat] = field(default_factory=dict)
    row_formats_from: str | None = None
    repeat_header: bool = True  # on every printed page; off where pages below hold charts
    decorate: Callable[[Worksheet, int, int], None] | None = None  # (ws, header_row, n_rows)

    @property
    def header_row(self) -> int:
        return header_row(self.title, self.notes)


def header_row(title: str, notes: list[str]) -> int:
    """Row of a table's header: below the title and notes, with a blank line after each."""
    if not title and not notes:
        return 1
    return 3 + len(notes) + (1 if notes else 0)


def number_format(column: str) -> str | None:
    """The Excel format code of a column name, from the registry."""
    found = format_for(column)
    return found.excel if found else None


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, bool | int | float | str | datetime | date):
        return value
    if pd.isna(value):
        return None
    return str(value)


def table_name(sheet: str) -> str:
    return "t" + re.sub(r"\W", "_", sheet)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown_width(value: float, number_format: NumberFormat | None) -> int:
    """Column width a number needs: "USD" and "bn" are wider than the digit the unit is."""
    return math.ceil(len((number_format or GENERAL).shows(value)) * 1.1)


def _column_number_width(values: pd.Series, number_format: NumberFormat | None) -> int:
    """Characters the widest number of a column shows: the largest magnitude, with its sign."""
    numbers = pd.to_numeric(values, errors="coerce")
    numbers = numbers[np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))]
    if numbers.empty:
        return 0
    return max(_shown_width(float(v), number_format) for v in (numbers.max(), numbers.min()))


class _CellStyle:
    """An alignment given to many text cells: registered once, then its style copied.

    Setting `cell.alignment` looks the alignment up in the workbook's style table
    each time, which for a table of 100,000 rows costs more than writing the text.
    """

    def __init__(self, alignment: Alignment) -> None:
        self.alignment = alignment
        self.style: StyleArray | None = None

    def apply(self, cell: Cell) -> None:
        if self.style is None:
            cell.alignment = self.alignment
            self.style = copy.copy(cell._style)
        else:
            cell._style = copy.copy(self.style)


def write_sheet(ws: Worksheet, sheet: SheetData) -> None:
    """Write one table below its title and notes; formats, widths and page set up."""
    frame = sheet.frame
    title = sheet.title
    # rows left below the header, were a title (at least the note of a cut) written
    room = EXCEL_MAX_ROWS - header_row("title", sheet.notes)
    if len(frame) > room:
        # A sheet holds 1,048,576 rows: keep the first ones and say so, rather than fail.
        title = f"{title} (first {room:,} of {len(frame):,} rows)".strip()
        frame = frame.iloc[:room]
    first = header_row(title, sheet.notes)
    if title:
        ws.cell(row=1, column=1, value=title).font = TITLE_FONT
    columns = [str(c) for c in frame.columns]
    for j, name in enumerate(columns, start=1):
        cell = ws.cell(row=first, column=j, value=name)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        # a header stands over its numbers (right) or its text (left)
        side = "right" if frame[name].dtype.kind in "iuf" else "left"
        cell.alignment = Alignment(horizontal=side, wrap_text=True, vertical="top")
    column_formats = [sheet.formats.get(c) or format_for(c) for c in columns]
    row_keyed = sheet.row_formats_from in columns
    numeric = [frame[name].dtype.kind in "iuf" for name in columns]
    widths = [0] * len(columns)
    if not row_keyed:
        # a numeric column's width from its extremes, not cell by cell
        for j, name in enumerate(columns):
            if numeric[j]:
                widths[j] = _column_number_width(frame[name], column_formats[j])
    key_index = columns.index(sheet.row_formats_from) if row_keyed else -1
    # Text is indented one step: it would otherwise touch a right-aligned number on its left.
    text_style = _CellStyle(Alignment(horizontal="left", indent=1))
    wrapped_style = _CellStyle(
        Alignment(horizontal="left", indent=1, wrap_text=True, vertical="top")
    )
    for i, record in enumerate(frame.itertuples(index=False, name=None), start=first + 1):
        row_format = format_for(record[key_index]) if row_keyed else None
        row_lines = 1
        for j, raw in enumerate(record, start=1):
            value = _cell_value(raw)
            if value is None:
                continue
            cell = ws.cell(row=i, column=j, value=value)
            if isinstance(value, str):
                # Text from an input is data, never a formula.
                cell.data_type = "s"
                lines = math.ceil(len(value) / (TEXT_WIDTH_MAX * CHARS_PER_WIDTH))
                if lines > 1:
                    wrapped_style.apply(cell)
                    row_lines = max(row_lines, lines)
                else:
                    text_style.apply(cell)
                widths[j - 1] = max(widths[j - 1], min(len(value), TEXT_WIDTH_MAX) + 1)
            elif _is_number(value):
                chosen = column_formats[j - 1]
                if row_keyed and j - 1 != key_index:
                    chosen = sheet.formats.get(columns[j - 1]) or row_format
                if chosen is not None:
                    cell.number_format = chosen.code(value)
                if row_keyed or not numeric[j - 1]:
                    widths[j - 1] = max(widths[j - 1], _shown_width(value, chosen))
            elif isinstance(value, datetime | date):
                cell.number_format = (
                    "yyyy-mm-dd hh:mm" if isinstance(value, datetime) else "yyyy-mm-dd"
                )
                widths[j - 1] = max(widths[j - 1], 16)
        if row_lines > 1:
            # Not every spreadsheet grows a row for wrapped text: give it the lines, and
            # let the row read from its top, like its wrapped text.
            ws.row_dimensions[i].height = LINE_HEIGHT * row_lines
            for cell in ws[i]:
                if cell.data_type != "s":
                    cell.alignment = Alignment(vertical="top")
                elif not cell.alignment.wrap_text:
                    cell.alignment = Alignment(horizontal="left", indent=1, vertical="top")
    header_lines = 1
    for j, name in enumerate(columns, start=1):
        # 3 characters of air: right-aligned numbers and left-aligned text do not touch
        width = max(widths[j - 1], min(len(name), HEADER_WIDTH_MAX), NUMBER_WIDTH_MIN) + 3
        ws.column_dimensions[get_column_letter(j)].width = width
        header_lines = max(header_lines, math.ceil(len(name) / (width - 1)))
    if header_lines > 1:
        ws.row_dimensions[first].height = LINE_HEIGHT * header_lines
    _write_notes(ws, sheet.notes, max(len(columns), 1))
    ws.freeze_panes = ws.cell(row=first + 1, column=1)
    if columns:
        last_row = first + max(len(frame), 1)
        ref = f"A{first}:{get_column_letter(len(columns))}{last_row}"
        table = Table(displayName=table_name(sheet.name), ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(table)
    set_up_page(ws, first if sheet.repeat_header else None)
    if sheet.decorate:
        sheet.decorate(ws, first, len(frame))


def _write_notes(ws: Worksheet, notes: list[str], table_columns: int) -> None:
    """Sentences from row 3, each merged across the table (at least NOTES_WIDTH_MIN) and wrapped."""
    if not notes:
        return
    span, width = 0, 0.0
    while span < max(table_columns, 1) or width < NOTES_WIDTH_MIN:
        span += 1
        letter = get_column_letter(span)
        width += ws.column_dimensions[letter].width or 13
        if span >= 26:
            break
    for row, text in enumerate(notes, start=3):
        cell = ws.cell(row=row, column=1, value=text)
        cell.data_type = "s"
        cell.font = NOTE_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if span > 1:
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=span)
        # A merged, wrapped cell does not grow by itself: give it the lines it needs.
        lines = max(1, math.ceil(len(text) / (width * CHARS_PER_WIDTH)))
        ws.row_dimensions[row].height = LINE_HEIGHT * lines


def set_up_page(ws: Worksheet, header_row: int | None) -> None:
    """Landscape, one page wide, the header repeated on every page, sheet and page in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6, header=0.25, footer=0.3)
    if header_row is not None:
        ws.print_title_rows = f"{header_row}:{header_row}"
    ws.oddFooter.center.text = "&A, page &P of &N"


def build_workbook(
    sheets: Iterable[SheetData],
    created: datetime | None = None,
    finish: Callable[[Workbook], None] | None = None,
) -> Workbook:
    """A workbook of one table per sheet; `finish` adds what spans sheets (charts)."""
    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        write_sheet(book.create_sheet(sheet.name[:31]), sheet)
    if finish is not None:
        finish(book)
    if created is not None:
        book.properties.created = created
        book.properties.modified = created
    book.properties.creator = "exposure"
    return book


PARTIAL_SUFFIX = ".partial"  # leftover temporary files: `.<name>.<pid>-<random>.partial`


def partial_files(path: Path) -> list[Path]:
    """Temporary files a save of `path` left behind (a killed process cannot clean up)."""
    name = glob.escape(Path(path).name)  # a name may hold [ ] * ?
    return sorted(Path(path).parent.glob(f".{name}.*{PARTIAL_SUFFIX}"))


def _remove_stale_partials(path: Path) -> None:
    """Delete leftovers of earlier saves of `path` whose process is gone."""
    for leftover in partial_files(path):
        pid_text = leftover.name[len(path.name) + 2 :].split("-", 1)[0]
        try:
            os.kill(int(pid_text), 0)  # signal 0: only asks whether the process exists
            continue  # a live process, maybe saving this very file: leave it alone
        except ProcessLookupError:
            pass
        except (ValueError, OSError):  # not our name pattern, or another user's process
            continue
        with contextlib.suppress(OSError):
            leftover.unlink()


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (threads may be saving)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_failure_hint(error: OSError, target_exists: bool) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return " (the disk is full: free some space and run again)"
    if error.errno in (errno.EACCES, errno.EPERM) and target_exists:
        return " (is it open in Excel? close it and run again)"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return " (choose a folder you can write to)"
    return ""


def save_atomically(book: Workbook, path: Path) -> None:
    """Save to a temporary file in the same folder, then rename it over `path`.

    A failure, or the process being killed, at any point leaves at `path` either the
    previous file or the new one, never a part of either. The temporary file is named
    `.<name>.<pid>-<random>.partial`: one left by a killed process is recognisable and
    is removed by the next save of the same file. The result gets the permissions of
    any new file (0o666 less the umask), not the 0o600 of a temporary file.
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(path)
        handle, temporary = tempfile.mkstemp(
            dir=folder, prefix=f".{path.name}.{os.getpid()}-", suffix=PARTIAL_SUFFIX
        )
    except OSError as exc:
        hint = _write_failure_hint(exc, target_exists=False)
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}{hint}") from exc
    os.close(handle)
    try:
        book.save(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        _fsync_folder(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        hint = _write_failure_hint(exc, target_exists=path.exists())
        raise OutputError(f"could not write {path}: {exc.strerror or exc}{hint}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it keeps the new file)."""
    with contextlib.suppress(OSError):  # some file systems cannot open a folder
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_workbook(
    path: Path,
    sheets: Iterable[SheetData],
    created: datetime | None = None,
    finish: Callable[[Workbook], None] | None = None,
) -> None:
    """Build and atomically save a workbook of tables."""
    save_atomically(build_workbook(sheets, created, finish), path)
