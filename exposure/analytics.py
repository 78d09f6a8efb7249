"""Exposure metrics from a solved allocation (design section 6), as result tables.

Units: tonnes (t), USD, shares in [0, 1]. Shadow prices are USD per tonne:
what one more tonne would save.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from exposure import metrics
from exposure.origins import origin_table
from exposure.why_short import why_short_table
from models.allocation import Solution
from models.data import AllocationData

BINDING_TOLERANCE = 1e-6


@dataclass
class Exposure:
    """The result tables of one solve, ready to be written or compared."""

    products: pd.DataFrame
    sectors: pd.DataFrame
    supply: pd.DataFrame
    plants: pd.DataFrame
    materials: pd.DataFrame
    binding: pd.DataFrame
    soft: pd.DataFrame
    kpis: dict[str, float]
    origins: pd.DataFrame | None = None
    why_short: pd.DataFrame | None = None
    licences: pd.DataFrame | None = None
    dependency_by_sector: pd.DataFrame | None = None
    dependency_by_product: pd.DataFrame | None = None


def product_table(solution: Solution) -> pd.DataFrame:
    products = solution.products.copy()
    products["built"] = products["built"].clip(upper=products["units"])
    products["lost_units"] = metrics.lost_units(products["units"], products["built"])
    products["unit_service_level"] = metrics.unit_service_level(
        products["units"], products["built"]
    )
    products["demand_value"] = products["units"] * products["value_per_unit"]
    products["lost_value"] = metrics.lost_value(
        products["units"], products["built"], products["value_per_unit"]
    )
    return products[
        [
            "product",
            "sector",
            "period",
            "units",
            "built",
            "lost_units",
            "unit_service_level",
            "value_per_unit",
            "demand_value",
            "lost_value",
        ]
    ]


def sector_table(products: pd.DataFrame, by_period: bool = True) -> pd.DataFrame:
    """Per sector (and period): value demanded, built and lost [USD], value service level.

    Units are not added across a sector's products: that would add aircraft to phones.
    """
    keys = ["sector", "period"] if by_period else ["sector"]
    sectors = products.groupby(keys, sort=False, as_index=False)[
        ["demand_value", "lost_value"]
    ].sum()
    sectors.insert(len(keys) + 1, "built_value", sectors["demand_value"] - sectors["lost_value"])
    sectors["value_service_level"] = metrics.share(sectors["built_value"], sectors["demand_value"])
    return sectors


def supply_table(solution: Solution, data: AllocationData) -> pd.DataFrame:
    supply = solution.supply.copy()
    for column in ("country", "regime"):
        supply[column] = data.supply[column].to_numpy() if column in data.supply else None
    supply["use_pct"] = metrics.share(supply["buy"], supply["licensed_capacity"])
    supply["value_per_t"] = -supply["limit_dual"]
    supply["value_per_pct_approval"] = -supply["limit_dual"] * supply["capacity"] / 100
    return supply[
        [
            "source",
            "material",
            "period",
            "country",
            "regime",
            "capacity",
            "approval",
            "licensed_capacity",
            "buy",
            "use_pct",
            "unit_cost",
            "value_per_t",
            "value_per_pct_approval",
        ]
    ]


def plant_table(solution: Solution) -> pd.DataFrame:
    plants = solution.plants.copy()
    plants["use_pct"] = metrics.share(plants["make"], plants["licensed_capacity"])
    plants["value_per_t"] = -plants["limit_dual"]
    return plants.drop(columns=["limit_dual"])


def material_table(solution: Solution, data: AllocationData) -> pd.DataFrame:
    """Balance of each material and period: in = out, with the shadow price."""
    keys = ["material", "period"]
    materials = solution.materials.copy()
    supplied = solution.supply.groupby(keys)["buy"].sum().rename("supplied")
    made = solution.plants.rename(columns={"output": "material"}).groupby(keys)["make"].sum()
    recipe_use = data.recipes.merge(solution.plants[["plant", "period", "make"]], on="plant")
    recipe_use["used"] = recipe_use["t_per_t"] * recipe_use["make"]
    used_by_plants = recipe_use.rename(columns={"input": "material"}).groupby(keys)["used"].sum()
    product_use = data.intensity.merge(solution.products[["product", "period", "built"]])
    product_use["used"] = product_use["kg_per_unit"] / 1000 * product_use["built"]
    used_by_products = product_use.groupby(keys)["used"].sum()

    materials = materials.join(supplied, on=keys).join(made.rename("made"), on=keys)
    materials = materials.join(used_by_plants.rename("used_by_plants"), on=keys)
    materials = materials.join(used_by_products.rename("used_by_products"), on=keys)
    for column in ("supplied", "made", "used_by_plants", "used_by_products"):
        materials[column] = materials[column].fillna(0.0)
    initial = data.materials.set_index("material")["initial_stock"]
    opening = materials.groupby("material")["stock"].shift(1)
    materials["opening_stock"] = opening.fillna(materials["material"].map(initial))
    materials["shadow_price"] = materials["balance_dual"]
    materials["reading"] = [
        f"one more tonne of {m} in {t} would save USD {p:,.0f}"
        if p > BINDING_TOLERANCE
        else f"{m} is not scarce in {t}"
        for m, t, p in zip(
            materials["material"], materials["period"], materials["shadow_price"], strict=True
        )
    ]
    return materials[
        [
            "material",
            "period",
            "opening_stock",
            "supplied",
            "made",
            "used_by_plants",
            "used_by_products",
            "stock",
            "shadow_price",
            "reading",
        ]
    ]


def binding_table(supply: pd.DataFrame, plants: pd.DataFrame, soft: pd.DataFrame) -> pd.DataFrame:
    """Constraints at their bound with a non-zero dual, ranked by |dual x right-hand side|."""
    rows = []
    at_limit = supply[
        (supply["licensed_capacity"] - supply["buy"] <= BINDING_TOLERANCE * (1 + supply["buy"]))
        & (supply["value_per_t"].abs() > BINDING_TOLERANCE)
    ]
    for record in at_limit.itertuples():
        licensed = "licensed " if record.approval < 1 else ""
        rows.append(
            {
                "constraint": "supply_limit",
                "item": f"{record.material} supply from {record.source}",
                "period": record.period,
                "rhs": record.licensed_capacity,
                "dual": record.value_per_t,
                "reading": f"{record.material} {licensed}supply from {record.source} is exhausted "
                f"in {record.period} ({record.licensed_capacity:,.1f} t); one more tonne is "
                f"worth USD {record.value_per_t:,.0f}",
            }
        )
    plants_at_limit = plants[
        (plants["licensed_capacity"] - plants["make"] <= BINDING_TOLERANCE * (1 + plants["make"]))
        & (plants["value_per_t"].abs() > BINDING_TOLERANCE)
    ]
    for record in plants_at_limit.itertuples():
        rows.append(
            {
                "constraint": "plant_limit",
                "item": record.plant,
                "period": record.period,
                "rhs": record.licensed_capacity,
                "dual": record.value_per_t,
                "reading": f"plant {record.plant} runs at capacity in {record.period} "
                f"({record.licensed_capacity:,.1f} t of {record.output}); one more tonne of "
                f"capacity is worth USD {record.value_per_t:,.0f}",
            }
        )
    for record in soft[soft["gap_share"] > BINDING_TOLERANCE].itertuples():
        rows.append(
            {
                "constraint": record.constraint,
                "item": record.item,
                "period": record.period,
                "rhs": record.target,
                "dual": np.nan,
                "reading": f"{record.constraint} of {record.item} missed in {record.period} "
                f"by {record.shortfall:,.1f}",
            }
        )
    binding = pd.DataFrame(rows, columns=["constraint", "item", "period", "rhs", "dual", "reading"])
    binding["value_at_stake"] = (binding["dual"] * binding["rhs"]).abs()
    return binding.sort_values("value_at_stake", ascending=False, na_position="last").reset_index(
        drop=True
    )


def binding_summary(binding: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """One row per binding constraint and item, naming the periods it binds in, in words."""
    rows = []
    for (constraint, item), group in binding.groupby(["constraint", "item"], sort=False):
        bound = [p for p in periods if p in set(group["period"])]
        when = "in every period" if len(bound) == len(periods) else "in " + ", ".join(bound)
        stake = float(group["value_at_stake"].sum(min_count=1))
        if constraint == "supply_limit":
            reading = f"{item} is exhausted {when}"
        elif constraint == "plant_limit":
            reading = f"plant {item} runs at capacity {when}"
        else:
            reading = f"{constraint} of {item} is missed {when}"
        if not math.isnan(stake) and stake > 0:
            reading += f"; USD {stake:,.0f} of dual x limit at stake"
        rows.append(
            {
                "constraint": constraint,
                "item": item,
                "periods": ", ".join(bound),
                "max_dual": float(group["dual"].abs().max()),
                "value_at_stake": stake,
                "reading": reading,
            }
        )
    frame = pd.DataFrame(
        rows, columns=["constraint", "item", "periods", "max_dual", "value_at_stake", "reading"]
    )
    return frame.sort_values("value_at_stake", ascending=False, na_position="last").reset_index(
        drop=True
    )


def compute_exposure(solution: Solution, data: AllocationData) -> Exposure:
    """All result tables and headline KPIs of one solve (no re-solves: see `sensitivity`)."""
    products = product_table(solution)
    supply = supply_table(solution, data)
    plants = plant_table(solution)
    soft = solution.soft.copy()
    kpis = {
        "objective_value": solution.objective_value,
        "penalty": solution.violation,
        "demand_value": float(products["demand_value"].sum()),
        "lost_value": float(products["lost_value"].sum()),
        "value_service_level": metrics.value_service_level(
            products["units"], products["built"], products["value_per_unit"]
        ),
        "purchase_cost": float((supply["buy"] * supply["unit_cost"]).sum()),
        "soft_constraints_violated": int((soft["gap_share"] > BINDING_TOLERANCE).sum()),
    }
    materials = material_table(solution, data)
    return Exposure(
        products=products,
        sectors=sector_table(products),
        supply=supply,
        plants=plants,
        materials=materials,
        binding=binding_summary(binding_table(supply, plants, soft), list(data.periods)),
        soft=soft,
        kpis=kpis,
        origins=origin_table(solution, data),
        why_short=why_short_table(solution, data, products, materials),
    )
