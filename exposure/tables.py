"""Turn the rows of a checked workbook into the model's typed tables.

Blank periods are expanded to every period, period rows override them
(design section 3), approval rates are joined from the licence regime of each
source or plant, and defaults are applied. Each row keeps the worksheet row it
came from (the `*_row` columns declared in `models.data.SOURCE_ROWS`) so that
edits of a sheet reach its typed rows and results can point back at input cells.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
from openpyxl.utils import get_column_letter

from exposure.workbook.checks import DEFAULT_PERIOD
from exposure.workbook.reader import ROW, RawWorkbook
from models.data import (
    ANY_MARKET,
    DEFAULT_END_USE,
    DEFAULT_LANE,
    OWN_LANE,
    SOURCE_ROWS,
    STANDARD,
    AllocationData,
    lane_name,
    pool_lanes,
)
from models.data import LICENCE_COLUMNS as LICENCE_TABLE_COLUMNS

# Input sheet -> (typed table, column of the worksheet row each typed row came from, and
# sheet column -> typed column where the names differ): how a Scenarios row or `--vary`
# of the sheet becomes a change of the typed table (`exposure.whatif.changes`). Sectors reach
# the demand rows by sector; a sheet not listed is edited on the workbook and read again.
SHEET_TABLES: dict[str, tuple[str, str, dict[str, str]]] = {
    "Materials": ("materials", SOURCE_ROWS["materials"], {}),
    "Supply": ("supply", SOURCE_ROWS["supply"], {}),
    "Plants": ("plants", SOURCE_ROWS["plants"], {}),
    "Recipes": ("recipes", SOURCE_ROWS["recipes"], {}),
    "Demand": ("demand", SOURCE_ROWS["demand"], {}),
    "Intensity": ("intensity", SOURCE_ROWS["intensity"], {}),
    "Variants": ("variants", SOURCE_ROWS["variants"], {}),
    "Licences": (
        "licences",
        SOURCE_ROWS["licences"],
        {
            "approval_rate": "rate",
            "approval_low": "low",
            "approval_high": "high",
            "lead_periods": "lead",
        },
    ),
}


def periods_of(book: RawWorkbook) -> list[str]:
    """Period ids in the row order of the Periods sheet, or the single default period."""
    if "Periods" not in book.tables or book.frame("Periods").empty:
        return [DEFAULT_PERIOD]
    return [p for p in book.frame("Periods")["period"] if p is not None]


def expand_periods(frame: pd.DataFrame, key: list[str], periods: list[str]) -> pd.DataFrame:
    """One row per key and period: a blank period means every period, a named one overrides."""
    if frame.empty:
        return frame.assign(period=pd.Series(dtype=object))
    blank = frame[frame["period"].isna()]
    named = frame[frame["period"].notna()]
    every = blank.drop(columns="period").merge(pd.DataFrame({"period": periods}), how="cross")
    combined = pd.concat([named, every], ignore_index=True)
    # Named rows come first, so keeping the first row of a key keeps the override.
    combined = combined.drop_duplicates(subset=[*key, "period"], keep="first")
    order = {p: i for i, p in enumerate(periods)}
    combined["_order"] = combined["period"].map(order)
    return combined.sort_values([*key, "_order"], kind="stable").drop(columns="_order")


LICENCE_COLUMNS = [
    "regime",
    "material",
    "period",
    "end_use",
    "market",
    "approval_rate",
    "approval_low",
    "approval_high",
    "lead_periods",
    "licence_row",
]


def approval_lookup(book: RawWorkbook, periods: list[str]) -> pd.DataFrame:
    """Approval rate (and range, lead) per Licences row and each period it speaks for.

    A row with a period overrides, for that period, the row of the same regime,
    material, end use and market without one.
    """
    licences = book.frame("Licences")
    if licences.empty:
        return pd.DataFrame(columns=LICENCE_COLUMNS)
    expanded = expand_periods(licences, ["regime", "material", "end_use", "market"], periods)
    return expanded.rename(columns={ROW: "licence_row"})[LICENCE_COLUMNS]


# A lane as Licences and Restrictions rows see it: (end_use, market). The pool of a
# material that reaches no lane sees only rows with both cells blank (design 4).
LaneKey = tuple[str | None, str | None]


def lane_keys(demand: pd.DataFrame) -> dict[str, LaneKey]:
    """(end_use, market) of every lane of `demand`, and of the lane of its own."""
    keys: dict[str, LaneKey] = {
        lane: (u, d)
        for lane, u, d in zip(demand["lane"], demand["end_use"], demand["market"], strict=True)
    }
    keys.setdefault(DEFAULT_LANE, (DEFAULT_END_USE, ANY_MARKET))
    keys[OWN_LANE] = (None, None)
    return keys


def _matches(cell: str | None, value: str | None) -> bool:
    """A blank Licences/Restrictions cell matches every lane; a named one only its own."""
    return cell is None or cell == value


def licence_index(book: RawWorkbook, periods: list[str]) -> dict[tuple[str, str], list[dict]]:
    """Licences rows by (regime, material), one record per period each speaks for."""
    index: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for record in book.frame("Licences").to_dict("records"):
        named = record["period"] is not None
        for period in [record["period"]] if named else periods:
            index[record["regime"], record["material"]].append(
                dict(record, period=period, named_period=named)
            )
    return index


def licence_candidates(
    licences: dict[tuple[str, str], list[dict]],
    regime: str,
    material: str,
    period: str,
    lane: LaneKey,
) -> list[tuple[tuple[int, int], dict]]:
    """Licences rows that may apply to `lane`, best first, with their scores (design 3a).

    The score is (how many of end_use and market the row names, whether it names the
    period); the first row wins, and two rows of the best score are an input error.
    """
    end_use, market = lane
    found = []
    for record in licences.get((regime, material), []):
        if record["period"] != period:
            continue
        if not (_matches(record["end_use"], end_use) and _matches(record["market"], market)):
            continue
        named = int(record["end_use"] is not None) + int(record["market"] is not None)
        found.append(((named, int(record["named_period"])), record))
    found.sort(key=lambda pair: pair[0], reverse=True)
    return found


def restriction_for(
    restrictions: list[dict],
    material: str,
    origin: str,
    period: str,
    lane: LaneKey,
    order: dict[str, int],
) -> dict | None:
    """The first Restrictions row forbidding `origin`'s `material` in `lane` and `period`."""
    end_use, market = lane
    for record in restrictions:
        if record["material"] != material or record["origin"] != origin:
            continue
        if not (_matches(record["end_use"], end_use) and _matches(record["market"], market)):
            continue
        first = order.get(record["from_period"], 0)
        last = order.get(record["to_period"], len(order) - 1)
        if first <= order[period] <= last:
            return record
    return None


PER_LANE_COLUMNS = ["lane", "approval", "lead", "licence_row", "restriction_row"]


def _per_lane(
    frame: pd.DataFrame,
    material_column: str,
    pools: dict[str, list[str]],
    keys: dict[str, LaneKey],
    licences: dict[tuple[str, str], list[dict]],
    restrictions: list[dict],
    order: dict[str, int],
) -> pd.DataFrame:
    """One row per row of `frame` and lane its material reaches, with that lane's licence.

    A restricted row gets approval 0 and no licence row, so that no approval lever moves it.
    """
    rows = []
    for record in frame.to_dict("records"):
        material, period = record[material_column], record["period"]
        for lane in pools.get(material, [DEFAULT_LANE]):
            row = dict(record, lane=lane, approval=1.0, lead=0.0)
            row.update(licence_row=None, restriction_row=None)
            regime = record.get("regime")
            if regime is not None:
                candidates = licence_candidates(licences, regime, material, period, keys[lane])
                if candidates:
                    best = candidates[0][1]
                    row.update(
                        approval=best["approval_rate"],
                        lead=best["lead_periods"] or 0.0,
                        licence_row=best[ROW],
                    )
            banned = restriction_for(
                restrictions, material, record["country"], period, keys[lane], order
            )
            if banned is not None:
                row.update(approval=0.0, licence_row=None, restriction_row=banned[ROW])
            rows.append(row)
    columns = list(dict.fromkeys([*frame.columns, *PER_LANE_COLUMNS]))
    result = pd.DataFrame(rows, columns=columns)
    for column in ("licence_row", "restriction_row"):
        result[column] = pd.to_numeric(result[column]).astype(float)
    return result


def cell_refs(book: RawWorkbook, sheet: str, column: str, rows: pd.Series) -> list[str | None]:
    """`Sheet!C7` for each worksheet row in `rows` (None where there is no row)."""
    if sheet not in book.tables or column not in book.tables[sheet].column_index:
        return [None] * len(rows)
    table = book.tables[sheet]
    letter = get_column_letter(table.column_index[column])
    return [None if pd.isna(r) else f"{table.title}!{letter}{int(r)}" for r in rows]


def to_model_data(book: RawWorkbook) -> AllocationData:
    """The AllocationData of a workbook that passed validation."""
    periods = periods_of(book)
    order = {p: i for i, p in enumerate(periods)}

    materials = book.frame("Materials").rename(columns={ROW: SOURCE_ROWS["materials"]})

    sectors = book.frame("Sectors")[["sector", "min_service", "weight", "end_use"]]
    sectors = sectors.assign(end_use=sectors["end_use"].fillna(DEFAULT_END_USE))
    demand = book.frame("Demand")
    demand = demand.assign(market=demand["market"].fillna(ANY_MARKET))
    demand = expand_periods(demand, ["sector", "product", "market"], periods)
    demand = demand.rename(columns={ROW: SOURCE_ROWS["demand"]}).merge(
        sectors, on="sector", how="left"
    )
    demand["lane"] = [
        lane_name(u, d) for u, d in zip(demand["end_use"], demand["market"], strict=True)
    ]

    intensity = book.frame("Intensity").rename(columns={ROW: SOURCE_ROWS["intensity"]})
    intensity["variant"] = intensity["variant"].fillna(STANDARD)
    variants = book.frame("Variants").rename(columns={ROW: SOURCE_ROWS["variants"]})
    recipes = book.frame("Recipes").rename(columns={ROW: SOURCE_ROWS["recipes"]})
    plant_frame = book.frame("Plants").rename(columns={ROW: SOURCE_ROWS["plants"]})

    pools = pool_lanes(list(materials["material"]), demand, intensity, plant_frame, recipes)
    keys = lane_keys(demand)
    licences = licence_index(book, periods)
    restrictions = book.frame("Restrictions").to_dict("records")

    sources = book.frame("Sources")[["source", "country", "regime"]]
    supply = expand_periods(book.frame("Supply"), ["source", "material"], periods)
    supply = supply.rename(columns={ROW: SOURCE_ROWS["supply"]}).merge(
        sources, on="source", how="left"
    )
    supply = _per_lane(supply, "material", pools, keys, licences, restrictions, order)
    plants = plant_frame.merge(pd.DataFrame({"period": periods}), how="cross")
    plants = _per_lane(plants, "output", pools, keys, licences, restrictions, order)
    supply, plants = supply.reset_index(drop=True), plants.reset_index(drop=True)
    licence_table = licence_rows_of(book, periods)
    cells: dict[str, dict[str, pd.Series]] = {
        "licences": {
            "rate": _cells(book, "Licences", "approval_rate", licence_table["licence_row"]),
            "lead": _cells(book, "Licences", "lead_periods", licence_table["licence_row"]),
        }
    }
    for name, table, sheet in (
        ("supply", supply, "Supply"),
        ("plants", plants, "Plants"),
    ):
        cells[name] = {
            "capacity": _cells(book, sheet, "capacity", table[SOURCE_ROWS[name]]),
            "restriction": _cells(book, "Restrictions", "origin", table["restriction_row"]),
        }
    supply = supply.drop(columns="restriction_row")
    plants = plants.drop(columns="restriction_row")

    return AllocationData(
        periods=periods,
        materials=_floats(
            materials, ["initial_stock", "min_stock", "holding_cost", "terminal_value"]
        ),
        supply=_floats(supply, ["capacity", "unit_cost", "approval", "lead"]),
        plants=_floats(plants, ["capacity", "unit_cost", "approval", "lead"]),
        recipes=_floats(recipes, ["t_per_t"]),
        demand=_floats(demand, ["units", "value_per_unit", "min_service", "weight"]),
        intensity=_floats(intensity, ["kg_per_unit"]),
        variants=_floats(variants, ["extra_cost_per_unit", "max_share"]),
        licences=licence_table,
        regimes=regime_table(book),
        cells=cells,
    )


def regime_table(book: RawWorkbook) -> pd.DataFrame:
    """The typed regimes table (`models.data.REGIME_COLUMNS`): one row per Regimes row
    with its stress `persistence` (blank: NaN, 0 once in `AllocationData`) and worksheet
    row; empty without the sheet."""
    regimes = book.frame("Regimes").rename(columns={ROW: SOURCE_ROWS["regimes"]})
    regimes = regimes[["regime", "persistence", SOURCE_ROWS["regimes"]]]
    return _floats(regimes, ["persistence"])


def _cells(book: RawWorkbook, sheet: str, column: str, rows: pd.Series) -> pd.Series:
    return pd.Series(cell_refs(book, sheet, column, rows), index=rows.index, dtype=object)


def licence_rows_of(book: RawWorkbook, periods: list[str]) -> pd.DataFrame:
    """The typed licence table (`models.data.LICENCE_COLUMNS`), one row per Licences row
    and period it speaks for, in the order of `approval_lookup`."""
    lookup = approval_lookup(book, periods)
    frame = pd.DataFrame(
        {
            "licence_row": pd.to_numeric(lookup["licence_row"]).astype(float),
            "regime": lookup["regime"],
            "material": lookup["material"],
            "period": lookup["period"],
            "end_use": lookup["end_use"],
            "market": lookup["market"],
            "rate": pd.to_numeric(lookup["approval_rate"]).astype(float),
            "low": pd.to_numeric(lookup["approval_low"]).astype(float),
            "high": pd.to_numeric(lookup["approval_high"]).astype(float),
            "lead": pd.to_numeric(lookup["lead_periods"]).astype(float).fillna(0.0),
        },
        columns=LICENCE_TABLE_COLUMNS,
    )
    return frame.reset_index(drop=True)


def _floats(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame.reset_index(drop=True)
