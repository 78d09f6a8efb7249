"""Problems found in an input workbook, each with its exact place.

Like frictionless-py's errors, every problem carries a stable code, the sheet,
the cell and the offending value, so that all of them can be reported at once
and a planner fixes the workbook in one pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from openpyxl.utils import get_column_letter

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem in a workbook.

    `row` and `column` are 1-based worksheet coordinates (as Excel shows them);
    `column_name` is the header of that column when it has one.
    """

    code: str
    message: str
    severity: Severity = "error"
    sheet: str | None = None
    row: int | None = None
    column: int | None = None
    column_name: str | None = None
    value: Any = None
    hint: str = ""

    @property
    def cell(self) -> str | None:
        """The A1-style reference, e.g. ``C7``, or None for a whole-sheet problem."""
        if self.row is None and self.column is None:
            return None
        letters = get_column_letter(self.column) if self.column else ""
        return f"{letters}{self.row or ''}"

    @property
    def place(self) -> str:
        """Where the problem is, as `Sheet!C7`, `Sheet` or `workbook`."""
        if self.sheet is None:
            return "workbook"
        cell = self.cell
        return f"{self.sheet}!{cell}" if cell else self.sheet

    def __str__(self) -> str:
        text = f"{self.place}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return f"{text} [{self.code}]"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record: code, severity, sheet, cell, row, column, value, message."""
        record = asdict(self)
        record["cell"] = self.cell
        record["column"] = self.column_name or (
            get_column_letter(self.column) if self.column else None
        )
        record.pop("column_name")
        value = record["value"]
        if value is not None and not isinstance(value, str | int | float | bool):
            record["value"] = str(value)
        return record


@dataclass
class IssueLog:
    """Collects issues while a workbook is read; never raises on its own."""

    issues: list[Issue] = field(default_factory=list)

    def add_error(self, code: str, message: str, **where: Any) -> None:
        self.issues.append(Issue(code=code, message=message, **where))

    def add_warning(self, code: str, message: str, **where: Any) -> None:
        self.issues.append(Issue(code=code, message=message, severity="warning", **where))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def extend(self, other: IssueLog) -> None:
        self.issues.extend(other.issues)
