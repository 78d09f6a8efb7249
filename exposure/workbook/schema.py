"""The input workbook's contract: sheets, columns, keys, units (design section 3).

One declaration drives the reader, the validator, the template and the
documentation, so they can never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from exposure.issues import Issue

ColumnKind = Literal[
    "id", "text", "quantity", "money", "rate", "weight", "number", "date", "choice"
]

FORMS = ("ore", "oxide", "metal", "alloy", "magnet", "other")
OPERATIONS = ("set", "scale", "add")


@dataclass(frozen=True)
class Column:
    """One column of an input sheet.

    `refers_to` names the sheet whose key this id must exist in.
    `default` applies to a blank optional number.
    """

    name: str
    kind: ColumnKind
    meaning: str
    unit: str = ""
    required: bool = False
    default: float | None = None
    refers_to: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def is_number(self) -> bool:
        return self.kind in ("quantity", "money", "rate", "weight", "number")

    def note(self) -> str:
        """The header note a planner sees in the template."""
        parts = [self.meaning]
        if self.unit:
            parts.append(f"Unit: {self.unit}.")
        if self.required:
            parts.append("Required.")
        else:
            default = "blank" if self.default is None else f"{self.default:g}"
            parts.append(f"Optional (blank = {default}).")
        if self.refers_to:
            parts.append(f"Must be an id from the {self.refers_to} sheet.")
        if self.choices:
            parts.append("One of: " + ", ".join(self.choices) + ".")
        return " ".join(parts)


@dataclass(frozen=True)
class SheetSpec:
    """One input sheet: its columns, its key and whether a workbook must have it."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required: bool = True
    period_column: bool = field(default=False)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


END_USE = Column(
    "end_use",
    "id",
    "End use of the lane, e.g. civil or defence (blank = civil on Sectors, every end use "
    "elsewhere).",
)
MARKET = Column(
    "market",
    "id",
    "Market (destination) of the lane, e.g. US; * = unspecified (blank = unspecified on "
    "Demand, every market elsewhere).",
)
PERIOD = Column(
    "period",
    "id",
    "Period id. Blank = every period; a row with a period overrides the blank one.",
    refers_to="Periods",
)

SHEETS: tuple[SheetSpec, ...] = (
    SheetSpec(
        "Periods",
        "Planning periods, run in row order. Without this sheet there is one period, base.",
        (
            Column("period", "id", "Period id, e.g. 2026-Q1.", required=True),
            Column("label", "text", "Display name."),
            Column("start", "date", "First day of the period."),
        ),
        key=("period",),
        required=False,
    ),
    SheetSpec(
        "Materials",
        "Materials that flow through the chain: oxides, metals, magnets.",
        (
            Column("material", "id", "Material id, e.g. DY_OX.", required=True),
            Column("name", "text", "Display name."),
            Column("form", "choice", "Physical form.", choices=FORMS),
            Column("initial_stock", "quantity", "Stock at the start.", "t", default=0.0),
            Column("min_stock", "quantity", "Safety stock (soft).", "t", default=0.0),
            Column("holding_cost", "money", "Cost of holding.", "USD/t/period", default=0.0),
            Column(
                "terminal_value",
                "money",
                "Value of stock left after the last period.",
                "USD/t",
                default=0.0,
            ),
        ),
        key=("material",),
    ),
    SheetSpec(
        "Regimes",
        "Export-licence regimes. Without this sheet nothing is controlled.",
        (
            Column("regime", "id", "Regime id, e.g. CN-MOFCOM.", required=True),
            Column("name", "text", "Display name."),
            Column("authority", "text", "Issuing authority."),
            Column(
                "persistence",
                "rate",
                "Stress: chance that a period keeps the previous period's draw "
                "(0 = independent periods).",
                "0-1",
            ),
        ),
        key=("regime",),
        required=False,
    ),
    SheetSpec(
        "Licences",
        "Materials a regime controls, with the share of requested volume approved.",
        (
            Column("regime", "id", "Regime id.", required=True, refers_to="Regimes"),
            Column("material", "id", "Controlled material.", required=True, refers_to="Materials"),
            PERIOD,
            Column("approval_rate", "rate", "Share of capacity licensed.", "0-1", required=True),
            Column("approval_low", "rate", "Low end for stress draws.", "0-1"),
            Column("approval_high", "rate", "High end for stress draws.", "0-1"),
            END_USE,
            MARKET,
            Column(
                "lead_periods",
                "quantity",
                "Licensing delay: tonnes arrive this many periods after dispatch "
                "(fractions split over two periods).",
                "periods",
                default=0.0,
            ),
        ),
        key=("regime", "material", "period", "end_use", "market"),
        required=False,
        period_column=True,
    ),
    SheetSpec(
        "Sources",
        "Suppliers of materials (mines, separators, exporters).",
        (
            Column("source", "id", "Source id.", required=True),
            Column("country", "id", "Country of origin (ISO code).", required=True),
            Column("regime", "id", "Licence regime its exports fall under.", refers_to="Regimes"),
            Column("name", "text", "Display name."),
        ),
        key=("source",),
    ),
    SheetSpec(
        "Supply",
        "What each source can deliver of each material per period.",
        (
            Column("source", "id", "Source id.", required=True, refers_to="Sources"),
            Column("material", "id", "Material id.", required=True, refers_to="Materials"),
            PERIOD,
            Column("capacity", "quantity", "Deliverable tonnes.", "t/period", required=True),
            Column("unit_cost", "money", "Purchase cost.", "USD/t", default=0.0),
        ),
        key=("source", "material", "period"),
        period_column=True,
    ),
    SheetSpec(
        "Plants",
        "Processing plants (e.g. magnet makers) turning inputs into one output.",
        (
            Column("plant", "id", "Plant id.", required=True),
            Column("country", "id", "Country (ISO code).", required=True),
            Column("output", "id", "Material made.", required=True, refers_to="Materials"),
            Column("capacity", "quantity", "Output capacity.", "t/period", required=True),
            Column("regime", "id", "Licence regime of its exports.", refers_to="Regimes"),
            Column("unit_cost", "money", "Processing cost per t of output.", "USD/t", default=0.0),
        ),
        key=("plant",),
        required=False,
    ),
    SheetSpec(
        "Recipes",
        "Inputs a plant consumes per tonne of output.",
        (
            Column("plant", "id", "Plant id.", required=True, refers_to="Plants"),
            Column("input", "id", "Input material.", required=True, refers_to="Materials"),
            Column("t_per_t", "quantity", "Input per tonne of output.", "t/t", required=True),
        ),
        key=("plant", "input"),
        required=False,
    ),
    SheetSpec(
        "Sectors",
        "Demand sectors and how they are served.",
        (
            Column("sector", "id", "Sector id, e.g. EV.", required=True),
            Column("name", "text", "Display name."),
            Column("min_service", "rate", "Minimum share of units built (soft).", "0-1", default=0),
            Column("weight", "weight", "Fair-mode weight (2 = half the shortfall).", default=1.0),
            Column("end_use", "id", "End use of its products, e.g. defence (blank = civil)."),
        ),
        key=("sector",),
    ),
    SheetSpec(
        "Demand",
        "Products each sector wants to build, with the value of each unit.",
        (
            Column("sector", "id", "Sector id.", required=True, refers_to="Sectors"),
            Column("product", "id", "Product id.", required=True),
            PERIOD,
            Column("units", "quantity", "Units wanted.", "units/period", required=True),
            Column("value_per_unit", "money", "Value lost per unit not built.", "USD", True),
            Column("market", "id", "Market the units are for, e.g. US (blank = unspecified)."),
        ),
        key=("sector", "product", "market", "period"),
        period_column=True,
    ),
    SheetSpec(
        "Intensity",
        "Material content of a product. For demand in tonnes use kg_per_unit = 1000.",
        (
            Column("product", "id", "Product id.", required=True, refers_to="Demand"),
            Column("material", "id", "Material id.", required=True, refers_to="Materials"),
            Column("kg_per_unit", "quantity", "Material per unit.", "kg/unit", required=True),
            Column("variant", "id", "Bill of material this row belongs to (blank = standard)."),
        ),
        key=("product", "material", "variant"),
    ),
    SheetSpec(
        "Variants",
        "Alternative bills of material (substitution), e.g. gbd magnets with less Dy.",
        (
            Column("product", "id", "Product id.", required=True, refers_to="Demand"),
            Column("variant", "id", "Variant id, as on the Intensity sheet.", required=True),
            Column(
                "extra_cost_per_unit",
                "money",
                "Extra cost of a unit built this way.",
                "USD",
                default=0.0,
            ),
            Column(
                "max_share",
                "rate",
                "Most of the product's units (per market and period) built this way.",
                "0-1",
                default=1.0,
            ),
            Column("note", "text", "Why."),
        ),
        key=("product", "variant"),
        required=False,
    ),
    SheetSpec(
        "Restrictions",
        "Origin bans: material of this origin may not be dispatched into the lanes matched.",
        (
            Column("material", "id", "Material id.", required=True, refers_to="Materials"),
            Column("origin", "id", "Country of the source or plant (ISO code).", required=True),
            END_USE,
            MARKET,
            Column("from_period", "id", "First period (blank = the first).", refers_to="Periods"),
            Column("to_period", "id", "Last period (blank = the last).", refers_to="Periods"),
            Column("note", "text", "Why, e.g. the rule's name."),
        ),
        key=(),
        required=False,
    ),
    SheetSpec(
        "Scenarios",
        "What-if edits: rows of one scenario are applied in order to the base data.",
        (
            Column("scenario", "id", "Scenario id.", required=True),
            Column("sheet", "text", "Sheet to change.", required=True),
            Column("column", "text", "Column to change.", required=True),
            Column("match", "text", "Rows to change, e.g. regime=CN; material=Dy*."),
            Column("operation", "choice", "How to change.", required=True, choices=OPERATIONS),
            Column("value", "number", "Value for set, factor for scale, amount for add.", "", True),
            Column("note", "text", "Why."),
        ),
        key=(),
        required=False,
    ),
)

SHEETS_BY_NAME: dict[str, SheetSpec] = {s.name: s for s in SHEETS}

# Sheets a workbook may carry that the reader ignores without a warning.
KNOWN_EXTRA_SHEETS = ("About", "Lists", "Errors", "Notes", "README")


def sheet(name: str) -> SheetSpec:
    """The spec of an input sheet by its canonical name."""
    return SHEETS_BY_NAME[name]


# ------------------------------------------------------------------ valid edits
# The rules of an edit (a Scenarios row, a --vary, a change): which sheet and column it
# may name, what its match may name, and which values it may leave in a cell. The
# validator, `--vary` and the change engine all ask these, so they never disagree.
@dataclass(frozen=True)
class EditError(Exception):
    """An edit breaks a rule: `part` is the field at fault (sheet, column, match or value)."""

    part: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        return self.message


def _closest(word: str, names: list[str]) -> str | None:
    import difflib

    lowered = {n.casefold(): n for n in names}
    match = difflib.get_close_matches(word.casefold(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def edit_sheet(name: str) -> SheetSpec:
    """The input sheet an edit may change (any but Scenarios), by name in any case."""
    spec = next((s for s in SHEETS if s.name.casefold() == name.strip().casefold()), None)
    if spec is None or spec.name == "Scenarios":
        guess = _closest(name, [s.name for s in SHEETS if s.name != "Scenarios"])
        raise EditError(
            "sheet",
            f"unknown sheet '{name}'",
            f"did you mean '{guess}'?" if guess else "name an input sheet",
        )
    return spec


def edit_column(spec: SheetSpec, name: str) -> Column:
    """The number column of `spec` an edit may change."""
    target = next((c for c in spec.columns if c.name == name.strip().casefold()), None)
    if target is None or not target.is_number:
        numeric = [c.name for c in spec.columns if c.is_number]
        guess = _closest(name, numeric)
        raise EditError(
            "column",
            f"'{name}' is not a number column of {spec.name}",
            f"did you mean '{guess}'?" if guess else "one of " + ", ".join(numeric),
        )
    return target


def edit_match(spec: SheetSpec, text: str | None) -> list[tuple[str, str]]:
    """``"regime=CN; material=Dy*"`` -> ``[("regime", "CN"), ("material", "Dy*")]``,
    naming only columns of `spec` (every row when blank)."""
    conditions = split_match(text)
    names = list(spec.column_names)
    bad = [c for c, _ in conditions if c not in names]
    if bad:
        guess = _closest(bad[0], names)
        raise EditError(
            "match",
            f"match names unknown column '{bad[0]}' of {spec.name}",
            f"did you mean '{guess}'?" if guess else "one of " + ", ".join(names),
        )
    return conditions


def split_match(text: str | None) -> list[tuple[str, str]]:
    """The (column, pattern) conditions of a match text, unchecked against any sheet."""
    conditions = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise EditError("match", f"'{part.strip()}' is not of the form column=value")
        column, value = part.split("=", 1)
        conditions.append((column.strip().casefold(), value.strip()))
    return conditions


# ------------------------------------------------------------------ value rules
# One rule per number column, by its kind: what a cell may hold. The reader applies it to
# every number it reads (`value_issue`, with the plausibility limit), every edit to the value
# it would leave (`value_problem`: Scenarios rows, `--vary`, the change engine), so that an
# input the reader refuses is never made by an edit either, and the other way round.
LARGEST_NUMBER = 1e15  # beyond any real tonnage or dollar figure; guards against typos and 1e308

# Kind -> (lowest, highest, whether the lowest itself is refused).
VALUE_RANGES: dict[str, tuple[float, float, bool]] = {
    "quantity": (0.0, math.inf, False),
    "money": (0.0, math.inf, False),
    "rate": (0.0, 1.0, False),
    "weight": (0.0, math.inf, True),
    "number": (-math.inf, math.inf, False),
}


def in_range(kind: ColumnKind, value: float) -> bool:
    """Whether `value` lies in the range of number columns of `kind` (`VALUE_RANGES`)."""
    low, high, low_refused = VALUE_RANGES[kind]
    return (low < value if low_refused else low <= value) and value <= high


def value_issue(name: str, kind: ColumnKind, value: float, plausible: bool = False) -> Issue | None:
    """Why `value` may not stand in number column `name` of `kind`, or None when it may.

    The problem comes as an `Issue` without a place: its code, message and hint (blank:
    the catalogue's). `plausible` adds the reader's limit on magnitude (`LARGEST_NUMBER`),
    which edits do not apply.
    """
    if not math.isfinite(value):
        return Issue("not-finite", f"{value} is not a finite number")
    if plausible and abs(value) > LARGEST_NUMBER:
        return Issue(
            "huge-number",
            f"{value:g} is implausibly large (limit {LARGEST_NUMBER:g})",
            hint="check the unit: tonnes and USD are expected",
        )
    if in_range(kind, value):
        return None
    if kind == "rate":
        hint = (
            f"write {value:g}% or {value / 100:g}, not {value:g}"
            if 1 < value <= 100
            else "a rate is between 0 and 1"
        )
        return Issue("rate-out-of-range", f"{name} {value:g} is outside [0, 1]", hint=hint)
    if kind == "weight":
        return Issue("not-positive", f"{name} {value:g} must be greater than 0")
    return Issue(
        "negative", f"{name} {value:g} is negative", hint="quantities and costs are zero or more"
    )


# The words an edit's problem uses for each broken rule ("... makes Licences approval_rate
# 1.5 at row 3: a rate must stay within [0, 1]").
EDIT_REASONS = {
    "not-finite": "not a finite number",
    "rate-out-of-range": "a rate must stay within [0, 1]",
    "negative": "it must not be negative",
    "not-positive": "it must be greater than 0",
}


def value_problem(kind: ColumnKind, value: float) -> str | None:
    """Why an edit may not leave `value` in a column of `kind`, or None when it may (the
    rule of `value_issue`, in an edit's words)."""
    problem = value_issue("value", kind, value)
    return None if problem is None else EDIT_REASONS[problem.code]
