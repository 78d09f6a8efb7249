"""Write frames to an .xlsx file as Excel Tables, atomically.

Every sheet is a real Excel Table with a frozen header, readable widths and
number formats, and reads back with `pandas.read_excel`. Text is always
written as text: a name that starts with "=" never becomes a formula.
"""

from __future__ import annotations

import contextlib
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
