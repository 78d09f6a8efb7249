"""Why a product is short: the material that runs out and what limits that material.

For each product and period with lost units, every material it uses with a
positive shadow price is a cause; for each such material, the binding
supplies, licences and plants that limit it are listed with the input cell
they come from, following plants upstream to the inputs that limit them.
The limits of a material in a period are worked out once and shared by every
product that needs it; the `MAX_LIMITS` most valuable are listed.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import pandas as pd

from models.allocation import Solution
from models.data import AllocationData

TOLERANCE = 1e-6
MAX_DEPTH = 4
MAX_LIMITS = 5  # per product, period and material: the most valuable limits

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

Limit = tuple[str, float, str | None]  # (reading, value per t, input cell)


def _binding_supply(solution: Solution, data: AllocationData) -> dict[tuple, list[Limit]]:
    supply = solution.supply.assign(
        value_per_t=-solution.supply["limit_dual"],
        capacity_cell=data.supply.get("capacity_cell"),
        approval_cell=data.supply.get("approval_cell"),
    )
    found: dict[tuple, list[Limit]] = defaultdict(list)
    for record in supply[supply["value_per_t"] > TOLERANCE].itertuples():
        key = (record.material, record.period)
        if record.approval < 1:
            found[key].append(
                (
                    f"licence: {record.source} may ship {record.approval:.0%} of "
                    f"{record.capacity:,.1f} t of {record.material}",
                    record.value_per_t,
                    record.approval_cell,
                )
            )
        found[key].append(
            (
                f"supply: {record.source} capacity of {record.material} ({record.capacity:,.1f} t)",
                record.value_per_t,
                record.capacity_cell,
            )
        )
    return found


def why_short_table(
    solution: Solution, data: AllocationData, products: pd.DataFrame, materials: pd.DataFrame
) -> pd.DataFrame:
    supply_limits = _binding_supply(solution, data)
    plants = solution.plants.assign(
        value_per_t=-solution.plants["limit_dual"],
        capacity_cell=data.plants.get("capacity_cell"),
        approval_cell=data.plants.get("approval_cell"),
    )
    plants_by_output: dict[tuple, list] = defaultdict(list)
    for record in plants.itertuples():
        plants_by_output[record.output, record.period].append(record)
    inputs_of: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for plant, material, t_per_t in zip(
        data.recipes["plant"], data.recipes["input"], data.recipes["t_per_t"], strict=True
    ):
        inputs_of[plant].append((material, t_per_t))
    prices = materials.set_index(["material", "period"])["shadow_price"].to_dict()

    @cache
    def limits(material: str, period: str, depth: int = 0) -> tuple[Limit, ...]:
        found = list(supply_limits.get((material, period), []))
        for record in plants_by_output.get((material, period), []):
            if record.value_per_t > TOLERANCE:
                if record.approval < 1:
                    found.append(
                        (
                            f"licence: plant {record.plant} may make {record.approval:.0%} of "
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
            if depth >= MAX_DEPTH or (record.make <= 0 and record.value_per_t <= TOLERANCE):
                continue
            for upstream, _ in inputs_of.get(record.plant, []):
                if prices.get((upstream, period), 0.0) > TOLERANCE:
                    found.extend(
                        (f"{text} (input of {record.plant})", value, cell)
                        for text, value, cell in limits(upstream, period, depth + 1)
                    )
        found.sort(key=lambda limit: -limit[1] if limit[1] == limit[1] else 0.0)
        # The most valuable few of a union are among the most valuable few of its parts.
        return tuple(found[:MAX_LIMITS])

    uses = data.intensity.groupby("product")["material"].apply(list).to_dict()
    rows = []
    short = products[products["lost_units"] > TOLERANCE * (1 + products["units"])]
    for record in short.itertuples():
        for material in uses.get(record.product, []):
            price = prices.get((material, record.period), 0.0)
            if price <= TOLERANCE:
                continue
            found = limits(material, record.period) or (
                ("no further supply, plant or stock of it", float("nan"), None),
            )
            for text, value, cell in found:
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
