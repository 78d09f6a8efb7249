"""An annotated copy of a planner's own workbook: bad cells highlighted and commented.

Only highlights, comments and an Errors sheet are added; every value,
formula and format the planner wrote stays as it was. The input file itself
is never written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from exposure.errors import UsageError
from exposure.issues import Issue, issue_type
from exposure.report.excel import SheetData, save_atomically, write_sheet
from exposure.workbook.safe_open import open_workbook

ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
WARNING_FILL = PatternFill("solid", fgColor="FFEB9C")


def write_annotated(source: Path, target: Path, issues: list[Issue]) -> None:
    """Write `target`: a copy of `source` with each issue's cell marked, plus an Errors sheet."""
    source, target = Path(source), Path(target)
    if target.exists() and target.resolve() == source.resolve():
        raise UsageError("refusing to annotate the workbook in place; choose another file name")
    book = open_workbook(source, data_only=False)
    by_cell: dict[tuple[str, int, int], list[Issue]] = {}
    for issue in issues:
        if issue.sheet and issue.sheet in book.sheetnames and issue.row and issue.column:
            by_cell.setdefault((issue.sheet, issue.row, issue.column), []).append(issue)
    for (sheet, row, column), found in by_cell.items():
        cell = book[sheet].cell(row=row, column=column)
        severe = any(i.severity == "error" for i in found)
        cell.fill = ERROR_FILL if severe else WARNING_FILL
        text = "\n".join(
            f"{i.severity}: {i.message}" + (f" ({i.hint})" if i.hint else "") for i in found
        )
        cell.comment = Comment(text, "exposure validate", width=360, height=120)
    name = "Errors"
    while name in book.sheetnames:
        name += "_"
    frame = pd.DataFrame(
        [
            {
                "severity": i.severity,
                "place": i.place,
                "code": i.code,
                "message": i.message,
                "problem": issue_type(i.code).title,
                "fix": i.hint,
                "value": None if i.value is None else str(i.value),
            }
            for i in issues
        ],
        columns=["severity", "place", "code", "problem", "message", "fix", "value"],
    )
    write_sheet(book.create_sheet(name, 0), SheetData(name, frame, title="Problems found"))
    save_atomically(book, target)
