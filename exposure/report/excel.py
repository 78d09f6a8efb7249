"""Write frames to an .xlsx file as Excel Tables, atomically.

Every sheet is a real Excel Table with a frozen header, readable widths and
number formats, and reads back with `pandas.read_excel`. Text is always
written as text: a name that starts with "=" never becomes a formula.
"""

from __future__ import annotations

import contextlib
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
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from exposure.errors import OutputError

EXCEL_MAX_ROWS = 1_048_576
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
TITLE_FONT = Font(bold=True, size=14)

# Number formats by column-name pattern, first match wins.
FORMATS: list[tuple[str, str]] = [
    (r"(^|_)(share|rate|level|pct|approval|dependency|probability)($|_)", "0.0%"),
    (r"(^|_)(value|cost|price|usd|objective|penalty|dual)($|_)", "#,##0"),
    (r"(^|_)(units|built|lost_units)($|_)", "#,##0"),
    (
        r"(^|_)(t|tonnes|capacity|buy|make|stock|supplied|made|used|licensed_capacity)($|_)",
        "#,##0.0",
    ),
    (r"seconds", "0.000"),
]


@dataclass
class SheetData:
    """A sheet to write: a title line, a table, optional per-column number formats."""

    name: str
    frame: pd.DataFrame
    title: str = ""
    formats: dict[str, str] = field(default_factory=dict)
    decorate: Callable[[Worksheet, int, int], None] | None = None  # (ws, first_row, n_rows)


def number_format(column: str) -> str | None:
    lowered = column.casefold()
    for pattern, fmt in FORMATS:
        if re.search(pattern, lowered):
            return fmt
    return None


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


def write_sheet(ws: Worksheet, sheet: SheetData) -> None:
    """Write one table starting below an optional title; header frozen, widths fitted."""
    frame = sheet.frame
    title = sheet.title
    room = EXCEL_MAX_ROWS - 3  # header and title lines
    if len(frame) > room:
        # A sheet holds 1,048,576 rows: keep the first ones and say so, rather than fail.
        title = f"{title} (first {room:,} of {len(frame):,} rows)".strip()
        frame = frame.iloc[:room]
    first = 1
    if title:
        ws.cell(row=1, column=1, value=title).font = TITLE_FONT
        first = 3
    columns = [str(c) for c in frame.columns]
    for j, name in enumerate(columns, start=1):
        cell = ws.cell(row=first, column=j, value=name)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=False)
    formats = [sheet.formats.get(c) or number_format(c) for c in columns]
    widths = [len(c) + 2 for c in columns]
    for i, record in enumerate(frame.itertuples(index=False, name=None), start=first + 1):
        for j, raw in enumerate(record, start=1):
            value = _cell_value(raw)
            if value is None:
                continue
            cell = ws.cell(row=i, column=j, value=value)
            if isinstance(value, str):
                # Text from an input is data, never a formula.
                cell.data_type = "s"
                widths[j - 1] = max(widths[j - 1], min(len(value) + 2, 80))
            elif isinstance(value, int | float) and formats[j - 1]:
                cell.number_format = formats[j - 1]
                widths[j - 1] = max(widths[j - 1], 14)
            elif isinstance(value, datetime | date):
                cell.number_format = (
                    "yyyy-mm-dd hh:mm" if isinstance(value, datetime) else "yyyy-mm-dd"
                )
                widths[j - 1] = max(widths[j - 1], 18)
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = ws.cell(row=first + 1, column=1)
    if columns:
        last_row = first + max(len(frame), 1)
        ref = f"A{first}:{get_column_letter(len(columns))}{last_row}"
        table = Table(displayName=table_name(sheet.name), ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(table)
    if sheet.decorate:
        sheet.decorate(ws, first, len(frame))


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


def save_atomically(book: Workbook, path: Path) -> None:
    """Save to a temporary file in the same folder, then rename over `path`.

    A failure at any point leaves a previous file at `path` untouched.
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}-", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    os.close(handle)
    try:
        book.save(temporary)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        hint = " (is it open in Excel? close it and run again)" if path.exists() else ""
        raise OutputError(f"could not write {path}: {exc.strerror or exc}{hint}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_workbook(
    path: Path,
    sheets: Iterable[SheetData],
    created: datetime | None = None,
    finish: Callable[[Workbook], None] | None = None,
) -> None:
    """Build and atomically save a workbook of tables."""
    save_atomically(build_workbook(sheets, created, finish), path)
