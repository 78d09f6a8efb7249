"""`exposure template`: a blank input workbook a planner can fill in without a manual.

Every sheet of the schema with its headers, a note on each header (meaning,
unit, required or optional, default), drop-down lists for ids that refer to
another sheet and for fixed choices (kept on a hidden Lists sheet, because
inline lists are capped at 255 characters), and number formats.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from exposure.report.excel import save_atomically
from exposure.workbook.schema import SHEETS, SHEETS_BY_NAME, Column

TEMPLATE_ROWS = 2000
REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
OPTIONAL_FILL = PatternFill("solid", fgColor="DDEBF7")
FORMATS = {"rate": "0%", "quantity": "#,##0.0##", "money": "#,##0", "weight": "0.0##"}

ABOUT = [
    "Rare-earth exposure calculator: input workbook",
    "",
    "Fill in one sheet per table, one record per row, headers in row 1 (do not rename them).",
    "Orange headers are required, blue ones optional; hover a header for its meaning and unit.",
    "Quantities are tonnes (t) per period, money is USD, rates are fractions (25% = 0.25).",
    "A blank period cell means every period; a row with a period overrides it for that period.",
    "Ids are text; drop-downs offer the ids already entered on the sheet they refer to.",
    "Check the workbook with:  exposure validate THIS.xlsx",
    "Solve it with:            exposure run THIS.xlsx -o results.xlsx",
]


def _list_range(column: Column) -> str | None:
    """The range a drop-down offers: the key column of the referred sheet."""
    if column.refers_to is None:
        return None
    target = SHEETS_BY_NAME[column.refers_to]
    key = "product" if target.name == "Demand" else target.key[0]
    letter = get_column_letter(target.column_names.index(key) + 1)
    return f"{quote_sheetname(target.name)}!${letter}$2:${letter}${TEMPLATE_ROWS}"


def build_template() -> Workbook:
    book = Workbook()
    about = book.active
    about.title = "About"
    for row, text in enumerate(ABOUT, start=1):
        about.cell(row=row, column=1, value=text)
    about["A1"].font = Font(bold=True, size=14)
    about.column_dimensions["A"].width = 100
    lists = book.create_sheet("Lists")
    list_column = 1

    for spec in SHEETS:
        ws = book.create_sheet(spec.name)
        ws.freeze_panes = "A2"
        for j, column in enumerate(spec.columns, start=1):
            letter = get_column_letter(j)
            cell = ws.cell(row=1, column=j, value=column.name)
            cell.font = Font(bold=True)
            cell.fill = REQUIRED_FILL if column.required else OPTIONAL_FILL
            cell.comment = Comment(column.note(), "exposure", width=320, height=140)
            ws.column_dimensions[letter].width = max(14, len(column.name) + 4)
            target = f"{letter}2:{letter}{TEMPLATE_ROWS}"
            if column.kind in FORMATS:
                for (body_cell,) in ws.iter_rows(min_row=2, max_row=200, min_col=j, max_col=j):
                    body_cell.number_format = FORMATS[column.kind]
            formula = _list_range(column)
            if column.choices:
                list_letter = get_column_letter(list_column)
                lists.cell(row=1, column=list_column, value=f"{spec.name}.{column.name}")
                for i, choice in enumerate(column.choices, start=2):
                    lists.cell(row=i, column=list_column, value=choice)
                end = len(column.choices) + 1
                formula = f"Lists!${list_letter}$2:${list_letter}${end}"
                list_column += 1
            if formula:
                validation = DataValidation(
                    type="list",
                    formula1=formula,
                    allow_blank=not column.required,
                    showErrorMessage=bool(column.choices),
                    errorTitle="Not on the list",
                    error=f"Pick a {column.name} from the list.",
                )
                validation.add(target)
                ws.add_data_validation(validation)
            elif column.kind == "rate":
                validation = DataValidation(
                    type="decimal",
                    operator="between",
                    formula1="0",
                    formula2="1",
                    allow_blank=True,
                    showErrorMessage=True,
                    errorTitle="Rate out of range",
                    error="A rate is between 0 and 1 (e.g. 25% or 0.25).",
                )
                validation.add(target)
                ws.add_data_validation(validation)
    lists.sheet_state = "hidden"
    return book


def write_template(path: Path) -> None:
    save_atomically(build_template(), Path(path))
