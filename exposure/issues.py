"""Problems found in an input workbook, each with its exact place, and their catalogue.

Like frictionless-py's errors, every problem carries a stable code, the sheet,
the cell and the offending value, so that all of them can be reported at once
and a planner fixes the workbook in one pass. Every code is declared once, in
`CATALOGUE` below (issue 10): its usual severity, a title and the usual fix. The
reader, the checks, `validate --json`, the annotated workbook, the web page and
README.md's table all take them from there; tests/test_issue_catalogue.py checks
that every code used anywhere is in it and that every entry is used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from openpyxl.utils import get_column_letter

Severity = Literal["error", "warning"]
Usually = Literal["error", "warning", "either"]  # a catalogue entry's usual severity


@dataclass(frozen=True)
class IssueType:
    """One kind of problem: its stable code, usual severity, a title and the usual fix.

    `hint` is the fix shown when the place that found the problem gives none; a
    `{name}` in it is filled by that place (`fix(name=...)`), e.g. a suggested name.
    `severity` is "either" for a code that is an error in one column kind and a
    warning in another (control characters: an id is refused, text is cleaned).
    """

    code: str
    severity: Usually
    title: str
    hint: str = ""

    def fix(self, **fields: Any) -> str:
        """The hint with its `{name}`s filled in."""
        return self.hint.format(**fields)


def _catalogue(*types: IssueType) -> dict[str, IssueType]:
    return {t.code: t for t in types}


E: Usually = "error"
W: Usually = "warning"
CATALOGUE: dict[str, IssueType] = _catalogue(
    # --- the file itself (safe_open): refused before any cell is read -----------------
    IssueType("file-not-found", E, "No file at that path", "check the path"),
    IssueType("not-a-file", E, "The path is a folder, not a workbook", "name the .xlsx file"),
    IssueType("empty-file", E, "The file is empty", "save the workbook again from Excel"),
    IssueType(
        "file-too-large", E, "The file is over the size limit", "remove unused sheets or data"
    ),
    IssueType(
        "encrypted-workbook",
        E,
        "The workbook is password-protected",
        "remove the password (File > Info > Protect Workbook) and save again",
    ),
    IssueType(
        "legacy-xls",
        E,
        "An old-style .xls workbook",
        "open it in Excel and save as Excel Workbook (.xlsx)",
    ),
    IssueType(
        "not-xlsx", E, "Not an Excel .xlsx workbook", "save it from Excel as Excel Workbook (.xlsx)"
    ),
    IssueType("corrupt-file", E, "The file is damaged", "save it again from Excel"),
    IssueType(
        "zip-bomb",
        E,
        "The archive would inflate too far to be safe",
        "remove unused sheets or data, and save it again from Excel",
    ),
    IssueType(
        "xml-forbidden",
        E,
        "XML constructs refused for safety (DOCTYPE, entities)",
        "save the workbook again from Excel",
    ),
    # --- sheets (reader) ---------------------------------------------------------------
    IssueType(
        "missing-sheet",
        E,
        "A required sheet is missing",
        "add it; `exposure template` writes one with every sheet",
    ),
    IssueType("misspelt-sheet", E, "A sheet name close to a known one", "did you mean '{guess}'?"),
    IssueType("unknown-sheet", W, "A sheet that is not used", "it is ignored"),
    IssueType(
        "hidden-sheet", W, "A hidden sheet is read", "unhide it so that reviewers see what is used"
    ),
    IssueType("too-many-rows", E, "A sheet over the row limit", "split or trim the sheet"),
    IssueType("far-cell", W, "A value far right of the table is ignored", "delete it"),
    # --- headers (reader) --------------------------------------------------------------
    IssueType("missing-column", E, "A required column is missing", "add a header '{column}'"),
    IssueType(
        "misspelt-column", E, "A header close to a required column", "did you mean '{guess}'?"
    ),
    IssueType("unknown-column", W, "A column that is not used", "it is ignored"),
    IssueType("duplicate-column", E, "A column appears twice", "delete or rename one of them"),
    IssueType(
        "merged-cells",
        E,
        "Merged cells inside a table",
        "unmerge them and type the value in every row",
    ),
    IssueType(
        "blank-row",
        W,
        "Blank rows inside a table are skipped",
        "delete empty rows so that the table is contiguous",
    ),
    # --- cells (reader) ----------------------------------------------------------------
    IssueType("blank-required", E, "A required cell is blank", "fill it in"),
    IssueType(
        "formula-without-value",
        E,
        "A formula with no saved value",
        "open the file in Excel, let it calculate and save; or type the value",
    ),
    IssueType(
        "excel-error", E, "An Excel error value (#N/A ...)", "fix the formula or type the value"
    ),
    IssueType("bad-id", E, "Not usable as an id", "type the id as text"),
    IssueType(
        "date-as-id",
        E,
        "Excel turned an id into a date or time",
        "format the column as Text and type the id again",
    ),
    IssueType("control-characters", "either", "Invisible control characters", "retype the text"),
    IssueType("bad-choice", E, "Not one of the allowed values", "pick one from the list"),
    IssueType("not-a-date", E, "Not a date", "type a date such as 2026-01-01"),
    IssueType("not-a-number", E, "Not a number", "type a plain number such as 1234.5"),
    IssueType("number-as-text", W, "A number stored as text", "format the cell as a number"),
    IssueType("not-finite", E, "Not a finite number", "type a plain number"),
    IssueType(
        "huge-number",
        E,
        "An implausibly large number",
        "check the unit: tonnes and USD are expected",
    ),
    IssueType("rate-out-of-range", E, "A rate outside [0, 1]", "a rate is between 0 and 1"),
    IssueType(
        "negative", E, "A negative quantity or cost", "quantities and costs are zero or more"
    ),
    IssueType("not-positive", E, "A weight that is not above 0", "type a number greater than 0"),
    # --- across sheets (checks) --------------------------------------------------------
    IssueType("duplicate-key", E, "The same key on two rows", "keep one of the rows"),
    IssueType(
        "unknown-id",
        E,
        "An id not defined on the sheet it refers to",
        "add it to the {sheet} sheet",
    ),
    IssueType(
        "product-in-two-sectors",
        E,
        "A product in two sectors",
        "a product belongs to one sector; give the other one its own product id",
    ),
    IssueType(
        "product-without-intensity",
        E,
        "A product with no material content",
        "add its kg_per_unit of each material it needs",
    ),
    IssueType(
        "approval-range",
        E,
        "Approval low/high out of order",
        "approval_low <= approval_rate <= approval_high",
    ),
    IssueType(
        "recipe-self-input",
        E,
        "A plant uses its own output",
        "a plant's inputs are other materials",
    ),
    IssueType(
        "material-without-supply",
        W,
        "A needed material with no supply, plant or stock",
        "every unit that needs it will be lost; add a Supply row if that is wrong",
    ),
    IssueType(
        "nothing-to-allocate",
        W,
        "Demand or Supply has no rows",
        "fill in Demand and Supply if this is not what you meant",
    ),
    IssueType("scenario-sheet", E, "A scenario changes an unknown sheet", "name an input sheet"),
    IssueType(
        "scenario-column", E, "A scenario changes a column that is not a number", "one of {columns}"
    ),
    IssueType(
        "scenario-match", E, "A scenario match that cannot be read", "write column=value; ..."
    ),
    IssueType(
        "scenario-no-match",
        E,
        "A scenario match selects no row",
        "check the ids; * matches any text",
    ),
    # --- options and configuration (what-if, report) -----------------------------------
    IssueType(
        "unknown-scenario", E, "No such scenario on the Scenarios sheet", "check the scenario id"
    ),
    IssueType(
        "scenario-edit", E, "A scenario edit that cannot be applied", "check the Scenarios row"
    ),
    IssueType(
        "bad-vary",
        E,
        "A --vary option that cannot be read",
        "e.g. Licences:approval_rate:regime=CN;material=DY",
    ),
    IssueType("bad-config", E, "A report configuration problem", "fix the config file"),
    # --- lanes, restrictions and variants (design 3a, 3b) -----------------------------
    IssueType(
        "unknown-lane",
        E,
        "An end use or market that no lane of the workbook has",
        "use an end_use of Sectors or a market of Demand",
    ),
    IssueType(
        "licence-tie",
        E,
        "Two Licences rows that apply equally to one lane and period",
        "make one of them name more of end_use and market, or remove it",
    ),
    IssueType(
        "unknown-origin",
        E,
        "A Restrictions origin that no source or plant has",
        "use a country of the Sources or Plants sheet",
    ),
    IssueType(
        "variant-without-row",
        E,
        "An Intensity variant with no Variants row",
        "add the product and variant to the Variants sheet",
    ),
    IssueType(
        "variant-without-intensity",
        W,
        "A Variants row with no Intensity rows for it: it would need no material",
        "add its bill of material on the Intensity sheet, or remove the row",
    ),
)
del E, W


def issue_type(code: str) -> IssueType:
    """The catalogue entry of `code`; an unknown code is a bug, reported with a plain title."""
    return CATALOGUE.get(code) or IssueType(code, "error", code.replace("-", " ").capitalize())


def catalogue_table() -> str:
    """The catalogue as a Markdown table (README.md carries it; a test keeps them equal)."""
    lines = ["| code | severity | problem | usual fix |", "|---|---|---|---|"]
    for t in CATALOGUE.values():
        lines.append(f"| `{t.code}` | {t.severity} | {t.title} | {t.hint.replace('|', '/')} |")
    return "\n".join(lines)


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
    def title(self) -> str:
        """What kind of problem this is, from the catalogue."""
        return issue_type(self.code).title

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
        record["title"] = self.title
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
        self.issues.append(Issue(code=code, message=message, **_with_hint(code, where)))

    def add_warning(self, code: str, message: str, **where: Any) -> None:
        where = _with_hint(code, where)
        self.issues.append(Issue(code=code, message=message, severity="warning", **where))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def extend(self, other: IssueLog) -> None:
        self.issues.extend(other.issues)


def _with_hint(code: str, where: dict[str, Any]) -> dict[str, Any]:
    """`where` with the catalogue's fix as hint when the finder gave none (and it needs no
    `{name}` filled in)."""
    if where.get("hint"):
        return where
    hint = issue_type(code).hint
    return {**where, "hint": hint} if hint and "{" not in hint else where
