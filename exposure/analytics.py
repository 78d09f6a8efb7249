"""Exposure metrics from a solved allocation (design section 6), as result tables.

Units: tonnes (t), USD, shares in [0, 1]. Shadow prices are USD per tonne:
what one more tonne would save.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from exposure import metrics
from exposure.origins import concentration_table, direct_dependency, origin_table
from exposure.sensitivity import (
    Effect,
    Resolver,
    binding_steps,
    licence_dependency,
    licence_levers,
    licence_table,
    material_values,
    relief_steps,
    relief_table,
)
from exposure.text import usd
from exposure.why_short import why_short_table
from models.allocation import AllocationModel, Solution
from models.data import DEFAULT_LANE, ROW_KEYS, AllocationData, join_inputs

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
    licence_levers: pd.DataFrame | None = None  # value of +1 pp per Licences row as typed
    dependency_by_sector: pd.DataFrame | None = None
    dependency_by_product: pd.DataFrame | None = None
    lanes: pd.DataFrame | None = None  # per lane and period (design 5)
    variants: pd.DataFrame | None = None  # units built per product row and variant
    concentration: pd.DataFrame | None = None  # HHI by origin per material, lane and period
    seconds: float = 0.0  # time to compute every table, re-solves included
    resolves: int = 0  # warm re-solves behind the "value of" figures
    resolves_ran: str = "serial"  # where the batched ones ran: serial or processes


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
    lane_columns = [c for c in ("market", "lane") if c in products]
    return products[
        [
            "product",
            "sector",
            *lane_columns,
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
    inputs = data.supply.assign(country=data.supply.get("country"))
    supply = join_inputs(solution.supply, inputs, ROW_KEYS["supply"], ["country", "regime"])
    supply["use_pct"] = metrics.share(supply["buy"], supply["licensed_capacity"])
    return supply[
        [
            "source",
            "material",
            "period",
            "lane",
            "lead",
            "in_licensing",
            "country",
            "regime",
            "capacity",
            "approval",
            "licensed_capacity",
            "buy",
            "use_pct",
            "unit_cost",
        ]
    ]


def lane_table(products: pd.DataFrame, supply: pd.DataFrame, plants: pd.DataFrame) -> pd.DataFrame:
    """Per lane and period: value demanded and lost [USD], tonnes dispatched into the lane
    (bought and made) and tonnes dispatched that are still in licensing at the horizon."""
    lanes = products.assign(lane=products.get("lane", DEFAULT_LANE))
    table = lanes.groupby(["lane", "period"], sort=False, as_index=False)[
        ["demand_value", "lost_value"]
    ].sum()
    table["value_service_level"] = metrics.share(
        table["demand_value"] - table["lost_value"], table["demand_value"]
    )
    flows = [
        supply.groupby(["lane", "period"])[["buy", "in_licensing"]].sum(),
        plants.groupby(["lane", "period"])[["make", "in_licensing"]]
        .sum()
        .rename(columns={"in_licensing": "made_in_licensing"}),
    ]
    for flow in flows:
        if flow.empty:  # nothing bought or made: its keys have no type to join on
            table = table.assign(**dict.fromkeys(flow.columns, 0.0))
        else:
            table = table.join(flow, on=["lane", "period"])
    table = table.fillna(0.0)
    table["in_licensing"] += table.pop("made_in_licensing")
    return table.rename(columns={"buy": "tonnes_bought", "make": "tonnes_made"})


def plant_table(solution: Solution) -> pd.DataFrame:
    plants = solution.plants.copy()
    plants["use_pct"] = metrics.share(plants["make"], plants["licensed_capacity"])
    return plants.drop(columns=["limit_dual"])


def material_table(
    solution: Solution, data: AllocationData, values: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Balance of each material and period (in = out), with the value of one more tonne.

    `values` (from `sensitivity.material_values`) holds re-solved values; without
    it the column says "not computed" and the value is blank.
    """
    keys = ["material", "period", "lane"]
    # The model reads each pool's flows off its balance row (leads and variants included).
    materials = solution.materials.copy()
    if values is None:
        materials["value_of_1t"] = np.nan
        materials["penalty_change_1t"] = np.nan
        materials["value_method"] = "not computed"
    else:
        materials = materials.merge(values, on=keys, how="left")
    materials["reading"] = [
        _tonne_reading(m, t, v, p)
        for m, t, v, p in zip(
            materials["material"],
            materials["period"],
            materials["value_of_1t"],
            materials["penalty_change_1t"],
            strict=True,
        )
    ]
    return materials[
        [
            "material",
            "period",
            "lane",
            "opening_stock",
            "supplied",
            "made",
            "used_by_plants",
            "used_by_products",
            "stock",
            "value_of_1t",
            "penalty_change_1t",
            "value_method",
            "reading",
        ]
    ]


def _tonne_reading(material: str, period: str, value: float, penalty: float) -> str:
    if math.isnan(value):
        return f"the value of one more tonne of {material} in {period} was not computed"
    if penalty > BINDING_TOLERANCE:
        return (
            f"one more tonne of {material} in {period} first goes to meeting floors "
            f"(penalty falls by {penalty:.4f}); the objective "
            f"{'falls' if value >= 0 else 'rises'} by {usd(abs(value))}"
        )
    if value > BINDING_TOLERANCE:
        return f"one more tonne of {material} in {period} would save {usd(value)}"
    return f"{material} is not scarce in {period}"


BINDING_COLUMNS = [
    "constraint",
    "item",
    "periods",
    "value_of_relief",
    "penalty_change_relief",
    "relief",
    "input_cell",
    "reading",
]


def binding_summary(
    relief: pd.DataFrame, soft: pd.DataFrame, periods: list[str], resolver: Resolver | None
) -> pd.DataFrame:
    """One row per binding limit, in words, ranked by the value of relieving it.

    A licence is relieved by +1 pp of approval, any other limit by +1% of its
    capacity, in every period where it binds at once, and the whole procedure
    re-solves: USD of objective saved, and the fall in penalty beside it.
    """
    rows = []
    if not relief.empty:
        relief_periods = relief["period"].to_numpy()
        input_cells = relief["input_cell"].to_numpy()
        if resolver is None:
            groups = relief.groupby(["constraint", "item"], sort=False).indices
            ordered = sorted(groups.items(), key=lambda kv: kv[1][0])
            effects: list[Effect | None] = [None] * len(ordered)
        else:
            # Measured with the Relief table's batch (`relief_table`): answered from memory.
            steps = binding_steps(relief, resolver)
            ordered = [(key, at) for key, at, _ in steps]
            effects = list(resolver.measure_many([step for _, _, step in steps]))
        for ((constraint, item), at), effect in zip(ordered, effects, strict=True):
            bound_set = set(relief_periods[at].tolist())
            bound = [p for p in periods if p in bound_set]
            when = "in every period" if len(bound) == len(periods) else "in " + ", ".join(bound)
            value = math.nan if effect is None else effect.value
            penalty = math.nan if effect is None else effect.penalty_change
            step = "+1 pp of approval" if constraint == "licence" else "+1% of capacity"
            if constraint == "licence":
                reading = f"the {item} is used to its licensed limit {when}"
            elif constraint == "supply_limit":
                reading = f"{item} is exhausted {when}"
            else:
                reading = f"{item} runs at capacity {when}"
            reading += _relief_words(step, value, penalty)
            cells = [c for c in dict.fromkeys(input_cells[at].tolist()) if isinstance(c, str)]
            rows.append(
                {
                    "constraint": constraint,
                    "item": item,
                    "periods": ", ".join(bound),
                    "value_of_relief": value,
                    "penalty_change_relief": penalty,
                    "relief": f"{step} {when}",
                    "input_cell": ", ".join(cells),
                    "reading": reading,
                }
            )
    for record in soft[soft["gap_share"] > BINDING_TOLERANCE].itertuples():
        rows.append(
            {
                "constraint": record.constraint,
                "item": record.item,
                "periods": record.period,
                "value_of_relief": np.nan,
                "penalty_change_relief": np.nan,
                "relief": "",
                "input_cell": "",
                "reading": f"{record.constraint} of {record.item} missed in {record.period} "
                f"by {record.shortfall:,.1f}",
            }
        )
    frame = pd.DataFrame(rows, columns=BINDING_COLUMNS)
    return frame.sort_values(
        "value_of_relief", ascending=False, kind="stable", na_position="last"
    ).reset_index(drop=True)


def _relief_words(step: str, value: float, penalty: float) -> str:
    if math.isnan(value):
        return ""
    words = f"; {step} would save {usd(value)}"
    if penalty > BINDING_TOLERANCE:
        words = (
            f"; {step} would first go to meeting floors (penalty falls by {penalty:.4f}) "
            f"and raise the objective by {usd(-value)}"
            if value < 0
            else words + f" and cut the penalty by {penalty:.4f}"
        )
    return words


def compute_exposure(
    solution: Solution,
    data: AllocationData,
    model: AllocationModel | None = None,
    *,
    break_even: bool = True,
    jobs: int | None = None,
) -> Exposure:
    """All result tables and headline KPIs of one solve.

    With `model` (the built model that gave `solution`), every "value of" figure
    is measured by re-solving it (see `sensitivity`); without it those columns
    say "not computed". The model is left holding the base numbers.
    """
    started = time.perf_counter()
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
    resolver = Resolver(model, solution, jobs=jobs) if model is not None else None
    licences = levers = values = None
    by_sector = by_product = None
    try:
        steps = None
        if resolver is not None and resolver.helpers is not None:
            # The Binding and Why short steps go to the helpers now, to be measured while
            # the licence rows are measured here (the relief rows' steps do not depend on
            # the licence values the table shows for licensed rows).
            steps = relief_steps(relief_table(solution, data, None, None), resolver)
            resolver.hand_out(steps)
        if model is not None and resolver is not None:
            licences = licence_table(model, solution, break_even=break_even, resolver=resolver)
            values = material_values(model, resolver)
            by_sector, by_product = licence_dependency(model, solution, resolver)
            # Last: the levers' steps (a Licences row over its periods) are among the
            # Binding sheet's, so measuring them collects the helpers' batch.
            levers = licence_levers(model, solution, resolver)
        materials = material_table(solution, data, values)
        relief = relief_table(solution, data, resolver, licences, steps)
        binding = binding_summary(relief, soft, list(data.periods), resolver)
    finally:
        if resolver is not None:
            resolver.close()
    resolves = resolver.resolves if resolver is not None else 0
    resolves_ran = resolver.executor if resolver is not None else "serial"
    # Every re-solve is done: its steps and answers (tens of MiB at 100k LP columns) go
    # before the traced tables below are built, so they do not add to the run's peak.
    del resolver, steps
    direct = direct_dependency(solution, data)
    origins = origin_table(solution, data)
    exposure = Exposure(
        products=products,
        sectors=sector_table(products),
        supply=supply,
        plants=plants,
        materials=materials,
        binding=binding,
        soft=soft,
        kpis=kpis,
        origins=origins,
        lanes=lane_table(products, supply, plants),
        variants=solution.variants,
        concentration=concentration_table(origins),
        why_short=why_short_table(solution, data, products, materials, relief),
        licences=licences,
        licence_levers=levers,
        dependency_by_sector=_with_direct(by_sector, direct),
        dependency_by_product=by_product,
    )
    exposure.seconds = time.perf_counter() - started
    exposure.resolves = resolves
    exposure.resolves_ran = resolves_ran
    return exposure


def _with_direct(systemic: pd.DataFrame | None, direct: pd.DataFrame) -> pd.DataFrame | None:
    """Both dependencies per sector and regime: direct (traced) and systemic (re-solved)."""
    if systemic is None:
        return None
    frame = systemic.merge(direct, on=["sector", "regime"], how="left")
    frame["licence_dependency_direct"] = frame["licence_dependency_direct"].fillna(0.0)
    return frame
