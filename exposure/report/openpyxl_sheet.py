"""A table written into a planner's own workbook with openpyxl (the "Problems found"
sheet `exposure.workbook.annotate` adds). Results workbooks, written from scratch, go
through xlsxwriter instead (`exposure.report.excel`); both lay out the same way
(`exposure.report.layout`)."""

from __future__ import annotations

import math
from datetime import date, datetime

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from exposure.report.formats import format_for
from exposure.report.layout import (
    CHARS_PER_WIDTH,
    EXCEL_MAX_ROWS,
    FONT_NAME,
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
    is_number,
    shown_width,
    table_name,
)

HEADER_FONT = Font(name=FONT_NAME, bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor=HEADER_COLOUR)
TITLE_FONT = Font(name=FONT_NAME, bold=True, size=14)
NOTE_FONT = Font(name=FONT_NAME, size=11)


def write_sheet(ws: Worksheet, sheet: SheetData) -> None:
    """Write one table below its title and notes; formats, widths and page set up."""
    frame = sheet.frame
    title = sheet.title
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
    widths = [0] * len(columns)
    if not row_keyed:
        for j, name in enumerate(columns):
            if frame[name].dtype.kind in "iuf":
                widths[j] = column_number_width(frame[name], column_formats[j])
    key_index = (
        columns.index(sheet.row_formats_from) if row_keyed and sheet.row_formats_from else -1
    )
    # Text is indented one step: it would otherwise touch a right-aligned number on its left.
    text_alignment = Alignment(horizontal="left", indent=1)
    wrap = Alignment(horizontal="left", indent=1, wrap_text=True, vertical="top")
    for i, record in enumerate(frame.itertuples(index=False, name=None), start=first + 1):
        row_format = format_for(record[key_index]) if row_keyed else None
        for j, raw in enumerate(record, start=1):
            value = cell_value(raw)
            if value is None:
                continue
            cell = ws.cell(row=i, column=j, value=value)
            if isinstance(value, str):
                # Text from an input is data, never a formula.
                cell.data_type = "s"
                lines = math.ceil(len(value) / (TEXT_WIDTH_MAX * CHARS_PER_WIDTH))
                cell.alignment = text_alignment
                if lines > 1:
                    cell.alignment = wrap
                    # Not every spreadsheet grows a row for wrapped text: give it the lines.
                    height = ws.row_dimensions[i].height or LINE_HEIGHT
                    ws.row_dimensions[i].height = max(height, LINE_HEIGHT * lines)
                widths[j - 1] = max(widths[j - 1], min(len(value), TEXT_WIDTH_MAX) + 1)
            elif is_number(value):
                chosen = column_formats[j - 1]
                if row_keyed and j - 1 != key_index:
                    chosen = sheet.formats.get(columns[j - 1]) or row_format
                if chosen is not None:
                    cell.number_format = chosen.code(value)
                if row_keyed or frame.dtypes.iloc[j - 1].kind not in "iuf":
                    widths[j - 1] = max(widths[j - 1], shown_width(value, chosen))
            elif isinstance(value, datetime | date):
                cell.number_format = (
                    "yyyy-mm-dd hh:mm" if isinstance(value, datetime) else "yyyy-mm-dd"
                )
                widths[j - 1] = max(widths[j - 1], 16)
        if ws.row_dimensions[i].height:  # a tall row reads from its top, like its wrapped text
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
