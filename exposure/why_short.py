"""Why a product is short: the material that runs out and what limits that material.

For each product and period with lost units, every material it uses with a
positive shadow price is a cause; for each such material, the binding
supplies, licences and plants that limit it are listed with the input cell
they come from, following plants upstream to the inputs that limit them.
"""

from __future__ import annotations

import pandas as pd

from models.allocation import Solution
from models.data import AllocationData

TOLERANCE = 1e-6
MAX_DEPTH = 4

COLUMNS = [
    "product",
    "sector",
    "period",
    "lost_units",
    "lost_value",
    "material",
    "shadow_price",
    "limited_by",
    "value_per_t",
    "input_cell",
]


def _limits(
    material: str,
    period: str,
    supply: pd.DataFrame,
    plants: pd.DataFrame,
    recipes: pd.DataFrame,
    prices: pd.Series,
    depth: int = 0,
) -> list[tuple[str, float, str | None]]:
    """(reading, value per t, input cell) of every binding limit on `material` in `period`."""
    found: list[tuple[str, float, str | None]] = []
    rows = supply[(supply["material"] == material) & (supply["period"] == period)]
    for record in rows[rows["value_per_t"] > TOLERANCE].itertuples():
        if record.approval < 1:
            found.append(
                (
                    f"licence: {record.source} may ship {record.approval:.0%} of "
                    f"{record.capacity:,.1f} t of {material}",
                    record.value_per_t,
                    record.approval_cell,
                )
            )
        found.append(
            (
                f"supply: {record.source} capacity of {material} ({record.capacity:,.1f} t)",
                record.value_per_t,
                record.capacity_cell,
            )
        )
    made = plants[(plants["output"] == material) & (plants["period"] == period)]
    for record in made.itertuples():
        if record.value_per_t > TOLERANCE:
            if record.approval < 1:
                found.append(
                    (
                        f"licence: {record.plant} may ship {record.approval:.0%} of "
                        f"{record.capacity:,.1f} t of {material}",
                        record.value_per_t,
                        record.approval_cell,
                    )
                )
            found.append(
                (
                    f"plant: {record.plant} capacity ({record.licensed_capacity:,.1f} t)",
                    record.value_per_t,
                    record.capacity_cell,
                )
            )
        if depth >= MAX_DEPTH:
            continue
        for recipe in recipes[recipes["plant"] == record.plant].itertuples():
            if prices.get((recipe.input, period), 0.0) > TOLERANCE:
                upstream = _limits(recipe.input, period, supply, plants, recipes, prices, depth + 1)
                found.extend(
                    (f"{text} (input of {record.plant})", value, cell)
                    for text, value, cell in upstream
                )
    return found


def why_short_table(
    solution: Solution, data: AllocationData, products: pd.DataFrame, materials: pd.DataFrame
) -> pd.DataFrame:
    supply = solution.supply.assign(
        value_per_t=-solution.supply["limit_dual"],
        capacity_cell=data.supply.get("capacity_cell"),
        approval_cell=data.supply.get("approval_cell"),
    )
    plants = solution.plants.assign(
        value_per_t=-solution.plants["limit_dual"],
        capacity_cell=data.plants.get("capacity_cell"),
        approval_cell=data.plants.get("approval_cell"),
    )
    prices = materials.set_index(["material", "period"])["shadow_price"]
    uses = data.intensity.groupby("product")["material"].apply(list)
    rows = []
    short = products[products["lost_units"] > TOLERANCE * (1 + products["units"])]
    for record in short.itertuples():
        for material in uses.get(record.product, []):
            price = prices.get((material, record.period), 0.0)
            if price <= TOLERANCE:
                continue
            limits = _limits(material, record.period, supply, plants, data.recipes, prices)
            if not limits:
                limits = [("no further supply, plant or stock of it", float("nan"), None)]
            for text, value, cell in limits:
                rows.append(
                    (
                        record.product,
                        record.sector,
                        record.period,
                        record.lost_units,
                        record.lost_value,
                        material,
                        price,
                        text,
                        value,
                        cell,
                    )
                )
    return pd.DataFrame(rows, columns=COLUMNS)
