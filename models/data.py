"""Typed input tables of the allocation LP, one frame per set of the maths.

Every frame is long (one row per index tuple) with plain float columns.
Units: tonnes (t) of material, USD, fractions in [0, 1].
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

SUPPLY_COLUMNS = ["source", "material", "period", "capacity", "approval", "unit_cost"]
PLANT_COLUMNS = ["plant", "period", "output", "capacity", "approval", "unit_cost"]
RECIPE_COLUMNS = ["plant", "input", "t_per_t"]
DEMAND_COLUMNS = [
    "product",
    "sector",
    "period",
    "units",
    "value_per_unit",
    "min_service",
    "weight",
]
INTENSITY_COLUMNS = ["product", "material", "kg_per_unit"]
MATERIAL_COLUMNS = ["material", "initial_stock", "min_stock", "holding_cost"]
VARIANT_COLUMNS = ["product", "variant", "extra_cost_per_unit", "max_share"]
# One row per Licences row and period it speaks for. `licence_row` is the licence's key
# (from a workbook: its row on the Licences sheet); `end_use` and `market` are its lane
# scope (None: every lane); `rate` [0-1] is the approval rate, `low` and `high` its range
# for stress draws (NaN: the rate itself), `lead` [periods] its licensing delay.
LICENCE_COLUMNS = [
    "licence_row",
    "regime",
    "material",
    "period",
    "end_use",
    "market",
    "rate",
    "low",
    "high",
    "lead",
]
# One row per regime: `persistence` [0-1], the chance that a stress draw keeps a
# period's approval quantile for the next period of the same regime (0: independent).
REGIME_COLUMNS = ["regime"]

# The lane of a workbook without end_use and market columns (design 3a), and the
# variant of a product without variant rows (design 3b).
DEFAULT_END_USE = "civil"
DEFAULT_LANE = DEFAULT_END_USE
STANDARD = "standard"
OWN_LANE = "(no lane)"
ANY_MARKET = "*"
# The column of each table holding the worksheet row its rows came from (a workbook's
# Supply row 7 gives the supply rows of all its periods and lanes `supply_row` 7). What-if
# edits of a sheet select typed rows by it (`exposure.tables.SHEET_TABLES`). `licence_row`
# is also the licence table's key; the others are optional, NaN for data built in code.
SOURCE_ROWS: dict[str, str] = {
    "materials": "material_row",
    "supply": "supply_row",
    "plants": "plant_row",
    "recipes": "recipe_row",
    "demand": "demand_row",
    "intensity": "intensity_row",
    "variants": "variant_row",
    "regimes": "regime_row",
    "licences": "licence_row",
}
# Optional columns of the long tables and the value a table without them means.
OPTIONAL_DEFAULTS: dict[str, dict[str, object]] = {
    "materials": {"terminal_value": 0.0, "material_row": math.nan},
    # `regime` of the row's source or plant (None: uncontrolled) and `licence_row`, the key
    # of the licence its approval comes from (NaN: none; see `AllocationData.licences`).
    # `country` (None: not given) is where the material comes from, for Origins.
    "supply": {
        "lane": DEFAULT_LANE,
        "lead": 0.0,
        "regime": None,
        "licence_row": math.nan,
        "supply_row": math.nan,
        "country": None,
    },
    "plants": {
        "lane": DEFAULT_LANE,
        "lead": 0.0,
        "regime": None,
        "licence_row": math.nan,
        "plant_row": math.nan,
        "country": None,
    },
    "recipes": {"recipe_row": math.nan},
    "demand": {"lane": DEFAULT_LANE, "demand_row": math.nan},
    "intensity": {"variant": STANDARD, "intensity_row": math.nan},
    "variants": {"variant_row": math.nan},
    "regimes": {"persistence": 0.0, "regime_row": math.nan},
}


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class AllocationData:
    """The data of one instance of the allocation LP.

    periods
        Period ids t, in time order.
    materials
        One row per material m: `initial_stock` [t], `min_stock` [t],
        `holding_cost` [USD/t/period], optional `terminal_value` [USD/t of stock
        left after the last period].
    supply
        One row per (source s, material m, period t, lane l): `capacity` [t/period]
        (shared by the lanes of (s, m, t)), `approval` [0-1] of lane l (1 when no
        regime controls m; 0 where a restriction forbids the lane), `unit_cost`
        [USD/t, paid at dispatch], optional `lead` [periods, >= 0, fractional
        allowed] and `lane` (design 3a).
    plants
        One row per (plant p, period t, lane l): `output` material, `capacity`
        [t of output/period, shared by the lanes], `approval` [0-1],
        `unit_cost` [USD/t of output], optional `lead` and `lane`.
    recipes
        One row per (plant p, input material m): `t_per_t` [t input per t output].
    demand
        One row per (product j, market, period t): `sector` k(j), `units`
        [units/period], `value_per_unit` [USD], `min_service` [0-1] and `weight`
        of the sector, optional `lane` l(j).
    intensity
        One row per (product j, material m, variant v): `kg_per_unit` [kg/unit];
        `variant` optional (blank = standard).
    variants
        One row per (product j, variant v) with a Variants row:
        `extra_cost_per_unit` [USD/unit], `max_share` [0-1] of the product's
        units per market and period.
    licences
        One row per licence and period it speaks for (`LICENCE_COLUMNS`): the
        approval `rate` that supply and plant rows with its `licence_row` take,
        its stress range `low`..`high` and its `lead`. The model reads `approval`
        and `lead` of the supply and plant rows; this table says where they came
        from, so that a change of a rate reaches every row it feeds.
    regimes
        One row per licence regime (`REGIME_COLUMNS`): optional `persistence`
        [0-1], the chance that a stress draw keeps a period's approval quantile
        for the regime's next period (0: independent periods; `persistence`).
        Not read by the LP.
    cells
        Input cells beside the tables: table -> column -> `Sheet!A1` per row
        (a Series on the table's index, None where there is no cell). From a
        workbook: `supply`/`plants` `capacity` and `restriction`, `licences`
        `rate` and `lead`. Empty for data built in code.

    Tables without the optional columns mean one lane, no lead, one variant
    and no terminal value: exactly the model of the first release. Each table
    may carry the worksheet row of its rows (`SOURCE_ROWS`: `supply_row`, ...;
    NaN when built in code), which Scenarios edits and `--vary` select rows by.
    """

    periods: list[str]
    materials: pd.DataFrame
    supply: pd.DataFrame
    demand: pd.DataFrame
    intensity: pd.DataFrame
    plants: pd.DataFrame = field(default_factory=lambda: _empty(PLANT_COLUMNS))
    recipes: pd.DataFrame = field(default_factory=lambda: _empty(RECIPE_COLUMNS))
    variants: pd.DataFrame = field(default_factory=lambda: _empty(VARIANT_COLUMNS))
    licences: pd.DataFrame = field(default_factory=lambda: _empty(LICENCE_COLUMNS))
    regimes: pd.DataFrame = field(default_factory=lambda: _empty(REGIME_COLUMNS))
    cells: dict[str, dict[str, pd.Series]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fill_defaults()

    def fill_defaults(self) -> None:
        """Check the columns and give optional ones (absent or blank) their defaults.

        The model calls it again, since tests and what-ifs replace tables after construction.
        """
        for name, columns in (
            ("materials", MATERIAL_COLUMNS),
            ("supply", SUPPLY_COLUMNS),
            ("plants", PLANT_COLUMNS),
            ("recipes", RECIPE_COLUMNS),
            ("demand", DEMAND_COLUMNS),
            ("intensity", INTENSITY_COLUMNS),
            ("variants", VARIANT_COLUMNS),
            ("licences", LICENCE_COLUMNS),
            ("regimes", REGIME_COLUMNS),
        ):
            frame = getattr(self, name)
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"{name} table lacks columns {missing}")
            frame = frame.reset_index(drop=True)
            for column, default in OPTIONAL_DEFAULTS.get(name, {}).items():
                if column not in frame.columns:
                    frame = frame.assign(**{column: default})
                elif default is None or (isinstance(default, float) and math.isnan(default)):
                    continue  # blank is the default
                elif frame[column].isna().any():
                    frame = frame.assign(**{column: frame[column].fillna(default)})
            setattr(self, name, frame)

    def cell(self, table: str, column: str) -> pd.Series:
        """`Sheet!A1` of `column` per row of `table` (None where the data has no input cell).

        Supply and plant rows name their licence's cells under `approval` and `lead`
        (joined by the licence key), and their own under `capacity` and `restriction`.
        """
        frame: pd.DataFrame = getattr(self, table)
        if table in ("supply", "plants") and column in ("approval", "lead"):
            own = self.cells.get("licences", {}).get("rate" if column == "approval" else column)
            if own is None or self.licences.empty:
                return pd.Series(None, index=frame.index, dtype=object)
            by_licence = dict(zip(self.licences["licence_row"], own, strict=True))
            return pd.Series(
                [None if pd.isna(r) else by_licence.get(r) for r in frame["licence_row"]],
                index=frame.index,
                dtype=object,
            )
        refs = self.cells.get(table, {}).get(column)
        if refs is None:
            return pd.Series(None, index=frame.index, dtype=object)
        return refs.reindex(frame.index)

    def with_cells(self, table: str, columns: tuple[str, ...]) -> pd.DataFrame:
        """`table` with `<column>_cell` columns of its input cells (for reports and lookups)."""
        frame: pd.DataFrame = getattr(self, table).copy()
        for column in columns:
            frame[f"{column}_cell"] = self.cell(table, column)
        return frame

    @property
    def persistence(self) -> dict[str, float]:
        """Regime -> its stress `persistence`, for the regimes where it is above 0."""
        return persistence_of(self.regimes)

    @property
    def lanes(self) -> list[str]:
        """Lanes l of the products, in order of first appearance (one lane at least)."""
        lanes = list(dict.fromkeys(self.demand["lane"]))
        return lanes or [DEFAULT_LANE]

    def pool_lanes(self) -> dict[str, list[str]]:
        """Lanes that each material reaches (design 4): one pool (m, t, l) per lane l."""
        return pool_lanes(
            list(self.materials["material"]),
            self.demand,
            self.intensity,
            self.plants,
            self.recipes,
        )


# The key of a row of each table: a result row is joined to its input row by it.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "supply": ("source", "material", "period", "lane"),
    "plants": ("plant", "period", "lane"),
    "licences": ("licence_row", "period"),
}


def join_inputs(
    frame: pd.DataFrame, inputs: pd.DataFrame, keys: tuple[str, ...], columns: list[str]
) -> pd.DataFrame:
    """`frame` (e.g. a solution table) with `columns` of `inputs` joined by `keys`, checked.

    Every row of `frame` must find exactly one input row, whatever the row orders:
    results are joined to inputs by key, never by row position.
    """
    if inputs.duplicated(list(keys)).any():
        raise ValueError(f"input rows repeat a key {keys}")
    right = inputs[[*keys, *columns]]
    merged = frame.drop(columns=[c for c in columns if c in frame]).merge(
        right, on=list(keys), how="left", validate="many_to_one", indicator="_joined"
    )
    if (merged["_joined"] != "both").any():
        raise ValueError(f"result rows without an input row of key {keys}")
    merged.index = frame.index
    return merged.drop(columns="_joined")


def persistence_of(regimes: pd.DataFrame) -> dict[str, float]:
    """Regime -> `persistence` of a regimes table, in row order, where it is above 0
    (blank: 0, independent periods)."""
    return {
        str(regime): float(chance)
        for regime, chance in zip(regimes["regime"], regimes["persistence"], strict=True)
        if chance is not None and not pd.isna(chance) and float(chance) > 0
    }


def lane_name(end_use: str, market: str) -> str:
    """The id of lane (end_use, market): `defence/US`, or `civil` for the unspecified market."""
    return end_use if market == ANY_MARKET else f"{end_use}/{market}"


def pool_lanes(
    materials: list[str],
    demand: pd.DataFrame,
    intensity: pd.DataFrame,
    plants: pd.DataFrame,
    recipes: pd.DataFrame,
) -> dict[str, list[str]]:
    """Lanes that each material reaches, in lane order (design 4).

    Material m reaches lane l when a product of l uses it (in any variant) or a
    plant whose output reaches l takes it as an input. A material that reaches no
    lane keeps one pool: in the one lane when there is one, else in `OWN_LANE`.
    """
    lanes = list(dict.fromkeys(demand["lane"])) or [DEFAULT_LANE]
    reach: dict[str, set[str]] = {m: set() for m in materials}
    used = intensity[["product", "material"]].merge(
        demand[["product", "lane"]].drop_duplicates(), on="product"
    )
    for material, lane in zip(used["material"], used["lane"], strict=True):
        reach.setdefault(material, set()).add(lane)
    inputs: dict[str, set[str]] = defaultdict(set)
    outputs = dict(zip(plants["plant"], plants["output"], strict=True))
    for plant, material in zip(recipes["plant"], recipes["input"], strict=True):
        if plant in outputs:
            inputs[outputs[plant]].add(material)
    changed = True
    while changed:  # inputs of plants reach every lane their output reaches
        changed = False
        for output, needed in inputs.items():
            for material in needed:
                before = len(reach.setdefault(material, set()))
                reach[material] |= reach.get(output, set())
                changed |= len(reach[material]) != before
    own = lanes[0] if len(lanes) == 1 else OWN_LANE
    return {m: [lane for lane in lanes if lane in r] or [own] for m, r in reach.items()}
