"""What a written sheet is (`SheetData`) and how it is laid out: where the header goes,
how wide a column must be for what it shows. Shared by the results writer (xlsxwriter,
`exposure.report.excel`) and the sheet added to a planner's own workbook (openpyxl,
`exposure.report.openpyxl_sheet`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from exposure.report.formats import GENERAL, NumberFormat, format_for

EXCEL_MAX_ROWS = 1_048_576
# Fonts named: a spreadsheet without the workbook's default font would use a serif.
FONT_NAME = "Calibri"
HEADER_COLOUR = "1F4E78"  # white bold text on dark blue
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


def cell_value(value: Any) -> Any:
    if value is None or value is pd.NaT:  # NaT passes for a datetime
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


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def shown_width(value: float, number_format: NumberFormat | None) -> int:
    """Column width a number needs: "USD" and "bn" are wider than the digit the unit is."""
    return math.ceil(len((number_format or GENERAL).shows(value)) * 1.1)


def column_number_width(values: pd.Series, number_format: NumberFormat | None) -> int:
    """Characters the widest number of a column shows: the largest magnitude, with its sign."""
    numbers = pd.to_numeric(values, errors="coerce")
    numbers = numbers[np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))]
    if numbers.empty:
        return 0
    return max(shown_width(float(v), number_format) for v in (numbers.max(), numbers.min()))
