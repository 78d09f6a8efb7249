"""Turn the rows of a checked workbook into the model's typed tables.

Blank periods are expanded to every period, period rows override them
(design section 3), approval rates are joined from the licence regime of each
source or plant, and defaults are applied. Each row keeps the worksheet row it
came from (`*_row` columns) so that results can point back at input cells.
"""

from __future__ import annotations

import pandas as pd
from openpyxl.utils import get_column_letter

from exposure.workbook.checks import DEFAULT_PERIOD
from exposure.workbook.reader import ROW, RawWorkbook
from models.data import AllocationData


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
    "approval_rate",
    "approval_low",
    "approval_high",
    "licence_row",
]


def approval_lookup(book: RawWorkbook, periods: list[str]) -> pd.DataFrame:
    """Approval rate (and range) per regime, material and period, with its Licences row."""
    licences = book.frame("Licences")
    if licences.empty:
        return pd.DataFrame(columns=LICENCE_COLUMNS)
    expanded = expand_periods(licences, ["regime", "material"], periods)
    return expanded.rename(columns={ROW: "licence_row"})[LICENCE_COLUMNS]


def _with_approval(
    frame: pd.DataFrame, material_column: str, licences: pd.DataFrame
) -> pd.DataFrame:
    merged = frame.merge(
        licences.rename(columns={"material": material_column}),
        on=["regime", material_column, "period"],
        how="left",
    )
    merged["approval"] = merged["approval_rate"].astype(float).fillna(1.0)
    return merged.drop(columns=["approval_rate"])


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
    licences = approval_lookup(book, periods)

    materials = book.frame("Materials").rename(columns={ROW: "material_row"})

    sources = book.frame("Sources")[["source", "country", "regime"]]
    supply = expand_periods(book.frame("Supply"), ["source", "material"], periods)
    supply = supply.rename(columns={ROW: "supply_row"}).merge(sources, on="source", how="left")
    supply = _with_approval(supply, "material", licences)
    supply["capacity_cell"] = cell_refs(book, "Supply", "capacity", supply["supply_row"])
    supply["approval_cell"] = cell_refs(book, "Licences", "approval_rate", supply["licence_row"])

    plants = book.frame("Plants").rename(columns={ROW: "plant_row"})
    plants = plants.merge(pd.DataFrame({"period": periods}), how="cross")
    plants = _with_approval(plants, "output", licences)
    plants["capacity_cell"] = cell_refs(book, "Plants", "capacity", plants["plant_row"])
    plants["approval_cell"] = cell_refs(book, "Licences", "approval_rate", plants["licence_row"])

    recipes = book.frame("Recipes").rename(columns={ROW: "recipe_row"})

    sectors = book.frame("Sectors")[["sector", "min_service", "weight"]]
    demand = expand_periods(book.frame("Demand"), ["sector", "product"], periods)
    demand = demand.rename(columns={ROW: "demand_row"}).merge(sectors, on="sector", how="left")

    intensity = book.frame("Intensity").rename(columns={ROW: "intensity_row"})

    return AllocationData(
        periods=periods,
        materials=_floats(materials, ["initial_stock", "min_stock", "holding_cost"]),
        supply=_floats(supply, ["capacity", "unit_cost", "approval"]),
        plants=_floats(plants, ["capacity", "unit_cost", "approval"]),
        recipes=_floats(recipes, ["t_per_t"]),
        demand=_floats(demand, ["units", "value_per_unit", "min_service", "weight"]),
        intensity=_floats(intensity, ["kg_per_unit"]),
    )


def _floats(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame.reset_index(drop=True)
