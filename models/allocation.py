"""The allocation LP of design section 4, built in Pyomo and held in HiGHS.

Sets: periods t, materials m, supply rows (s, m, t), plant rows (p, t),
product rows (j, t). Variables, constraints and objectives carry the names of
`models/README.md`.

How it is solved: Pyomo states the model; Pyomo's standard-form compiler turns
it into one sparse matrix that `highspy.Highs.passModel` takes in a single
call (much faster than handing rows over one at a time), and the `Highs`
object is kept. What-if re-solves change bounds, costs and coefficients of
that object in place, so HiGHS starts from the previous basis.

Soft constraints and the `fair` mode are solved lexicographically: first the
soft-constraint violation is minimised and capped, then (fair) the leximin
levels of the weighted shortfalls (`models/leximin.py`), then the cost. This is
the limit of an infinitely big penalty, without the numerical trouble that a
big-M penalty causes when values per unit already span eight orders of
magnitude. Every HiGHS run is retried cold before trouble is reported
(`models/robust.py`).
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import highspy
import numpy as np
import pandas as pd
import pyomo.core as pyo
import scipy.sparse as sp
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from models.data import STANDARD, AllocationData
from models.kept_basis import KeptBasis, LpBounds
from models.leximin import FairItems, LeximinOutcome, progressive_filling, run_held
from models.robust import run_highs
from models.status import SolveStatus

ObjectiveMode = Literal["priority", "fair"]
INF = highspy.kHighsInf
# A cap found by one phase is held in the next with this much slack, so that
# the next phase stays feasible despite round-off.
LEXICOGRAPHIC_RELATIVE_SLACK = 1e-7
LEXICOGRAPHIC_ABSOLUTE_SLACK = 1e-7
# Floors are rows scaled by 1/target: targets below this (units or t) are not enforced,
# since a millionth of a unit is below any planning precision and 1/target would explode.
SMALLEST_FLOOR = 1e-6


class StructureChangedError(Exception):
    """New data needs different rows or columns: build a new model instead of updating."""


@dataclass
class Numbers:
    """Every number of the LP, aligned with the key lists of `Structure`.

    The Pyomo build and the in-place updates both read these arrays, so the
    maths is written once.
    """

    supply_limit: np.ndarray  # licensed capacity of lane l [t], per buy column
    plant_limit: np.ndarray  # licensed plant capacity of lane l [t], per make column
    supply_capacity: np.ndarray  # capacity [t] shared by the lanes, per supply_capacity row
    plant_capacity: np.ndarray  # capacity [t] shared by the lanes, per plant_capacity row
    demand_limit: np.ndarray  # units
    variant_limit: np.ndarray  # max_share * units, per variant column [units]
    standard_limit: np.ndarray  # max_share of the standard variant * units [units]
    balance_rhs: np.ndarray  # -initial stock in the first period of a one-pool material [t]
    opening_rhs: np.ndarray  # initial stock of a material split over its lanes [t]
    stock_target: np.ndarray  # min_stock [t]
    stock_coef: np.ndarray  # 1 / min_stock: stock_floor rows are stated as shares of target
    service_floor: np.ndarray  # min_service (share of units)
    service_target: np.ndarray  # min_service * units [units]
    service_coef: np.ndarray  # 1 / units: service_floor rows are stated as shares of demand
    fair_rhs: np.ndarray  # units
    fair_coef: np.ndarray  # units / weight (coefficient of mu)
    fair_weight: np.ndarray  # weight of the product row's sector (> 0)
    buy_cost: np.ndarray  # USD/t, paid at dispatch
    make_cost: np.ndarray  # USD/t, paid at dispatch
    built_value: np.ndarray  # USD/unit, less the extra cost of the standard variant
    variant_cost: np.ndarray  # extra cost of the variant over the standard one [USD/unit]
    holding_cost: np.ndarray  # USD/t/period; the last period's less the terminal value
    lost_value_if_nothing_built: float  # USD
    product_use: np.ndarray  # t of material per unit, per product_use entry
    recipe_use: np.ndarray  # t of input per t of output, per (p, m, t, l) entry
    supply_arrival: np.ndarray  # share of a dispatch arriving, per supply_arrival entry
    plant_arrival: np.ndarray  # share of a make arriving, per plant_arrival entry
    supply_beyond: np.ndarray  # share of each buy arriving after the last period
    plant_beyond: np.ndarray  # share of each make arriving after the last period


@dataclass
class Structure:
    """Index sets of one LP; two data sets with equal structures share one model.

    Keys list the columns and rows in order; `*_entries` list the matrix entries
    that data can change, as positions into the key lists.
    """

    periods: list[str]
    materials: list[str]
    lanes: list[str]
    supply_keys: list[tuple[str, str, str]]  # (s, m, t) of each buy column
    supply_lanes: list[str]  # l of each buy column
    supply_groups: list[list[int]]  # buy columns sharing one capacity (two lanes or more)
    plant_keys: list[tuple[str, str]]  # (p, t) of each make column
    plant_lanes: list[str]
    plant_groups: list[list[int]]
    plant_output: list[str]
    product_keys: list[tuple[str, str]]  # (j, t) of each demand row (markets repeat them)
    product_lanes: list[str]
    variant_keys: list[tuple[int, str]]  # (demand row, variant other than standard)
    standard_keys: list[int]  # demand rows whose standard variant has max_share < 1
    stock_keys: list[tuple[str, str, str]]  # pools (m, t, l)
    opening_keys: list[tuple[str, str]]  # (m, l) of materials with two pools or more
    split_materials: list[str]  # materials whose initial stock is split over lanes
    stock_floor_keys: list[tuple[str, str]]  # (m, t)
    stock_floor_entries: list[tuple[int, int]]  # (floor, pool)
    service_floor_keys: list[tuple[str, str]]
    service_floor_rows: list[int]  # demand row of each service floor
    fair_keys: list[tuple[str, str]]
    product_use_entries: list[tuple[int, int, int]]  # (0 built / 1 variant, column, pool)
    recipe_use_entries: list[tuple[int, int]]  # (make column, pool)
    supply_arrival_entries: list[tuple[int, int]]  # (buy column, pool)
    plant_arrival_entries: list[tuple[int, int]]  # (make column, pool)

    def signature(self) -> tuple:
        return tuple(tuple(v) for v in vars(self).values())


def _groups(keys: list[tuple]) -> list[list[int]]:
    """Positions sharing a key, for keys held by two columns or more (one per lane)."""
    positions: dict[tuple, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        positions[key].append(i)
    return [p for p in positions.values() if len(p) > 1]


def _arrivals(
    periods: list[str], dispatch: list[str], lead: np.ndarray
) -> tuple[list[tuple[int, int]], list[float], np.ndarray]:
    """(column, period index) and share of each arrival, and the share lost to the horizon.

    A dispatch in t with lead L arrives 1 - f in t + floor(L) and f in t + floor(L) + 1,
    f = L - floor(L) (design 3a); shares of zero are no entries.
    """
    index = {t: i for i, t in enumerate(periods)}
    entries: list[tuple[int, int]] = []
    shares: list[float] = []
    beyond = np.zeros(len(dispatch))
    for column, (period, lag) in enumerate(zip(dispatch, lead, strict=True)):
        whole = math.floor(lag)
        fraction = float(lag - whole)
        for offset, share in ((whole, 1.0 - fraction), (whole + 1, fraction)):
            if share <= 0.0:
                continue
            arrival = index[period] + offset
            if arrival < len(periods):
                entries.append((column, arrival))
                shares.append(share)
            else:
                beyond[column] += share
    return entries, shares, beyond


def describe(data: AllocationData, objective: ObjectiveMode) -> tuple[Structure, Numbers]:
    """The index sets and numbers of the LP for `data` (design section 4)."""
    data.fill_defaults()
    periods = list(data.periods)
    materials_frame = data.materials.set_index("material")
    materials = list(materials_frame.index)
    supply = data.supply
    plants = data.plants
    demand = data.demand
    pools = data.pool_lanes()

    supply_keys = list(zip(supply["source"], supply["material"], supply["period"], strict=True))
    supply_lanes = list(supply["lane"])
    plant_keys = list(zip(plants["plant"], plants["period"], strict=True))
    plant_lanes = list(plants["lane"])
    product_keys = list(zip(demand["product"], demand["period"], strict=True))
    product_lanes = list(demand["lane"])
    stock_keys = [(m, t, lane) for m in materials for lane in pools[m] for t in periods]
    stock_index = {key: i for i, key in enumerate(stock_keys)}
    split_materials = [m for m in materials if len(pools[m]) > 1]
    opening_keys = [(m, lane) for m in split_materials for lane in pools[m]]
    min_stock = materials_frame["min_stock"].astype(float)
    stock_floor_keys = [(m, t) for m in materials if min_stock[m] > SMALLEST_FLOOR for t in periods]
    stock_floor_entries = [
        (f, stock_index[m, t, lane])
        for f, (m, t) in enumerate(stock_floor_keys)
        for lane in pools[m]
    ]
    has_floor = _floors(demand)
    service_floor_rows = [int(i) for i in np.flatnonzero(has_floor)]
    service_floor_keys = [product_keys[i] for i in service_floor_rows]
    fair_keys = list(product_keys) if objective == "fair" else []

    # Bills of material: the standard variant on `built`, every other variant on its own
    # column as the difference from the standard one (design 3b).
    intensity = data.intensity
    kg: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for j, m, v, k in zip(
        intensity["product"],
        intensity["material"],
        intensity["variant"],
        intensity["kg_per_unit"].astype(float),
        strict=True,
    ):
        kg[j, v][m] = k
    share = data.variants.set_index(["product", "variant"])["max_share"].astype(float).to_dict()
    variants_of: dict[str, list[str]] = defaultdict(list)
    for j, v in kg:
        if v != STANDARD:
            variants_of[j].append(v)
    variant_keys = [(i, v) for i, (j, _) in enumerate(product_keys) for v in variants_of[j]]
    standard_share = np.array([share.get((j, STANDARD), 1.0) for j, _ in product_keys])
    standard_keys = [int(i) for i in np.flatnonzero(standard_share < 1.0)]
    product_use_entries: list[tuple[int, int, int]] = []
    product_use: list[float] = []
    for i, ((j, t), lane) in enumerate(zip(product_keys, product_lanes, strict=True)):
        for m, k in kg.get((j, STANDARD), {}).items():
            product_use_entries.append((0, i, stock_index[m, t, lane]))
            product_use.append(k / 1000.0)
    for c, (i, v) in enumerate(variant_keys):
        (j, t), lane = product_keys[i], product_lanes[i]
        standard = kg.get((j, STANDARD), {})
        own = kg[j, v]
        for m in dict.fromkeys([*standard, *own]):
            difference = own.get(m, 0.0) - standard.get(m, 0.0)
            if difference != 0.0:
                product_use_entries.append((1, c, stock_index[m, t, lane]))
                product_use.append(difference / 1000.0)

    plant_position = defaultdict(list)
    for i, key in enumerate(plant_keys):
        plant_position[key].append(i)
    recipe_use_entries: list[tuple[int, int]] = []
    recipe_use: list[float] = []
    for plant, material, t_per_t in zip(
        data.recipes["plant"],
        data.recipes["input"],
        data.recipes["t_per_t"].astype(float),
        strict=True,
    ):
        for t in periods:
            for i in plant_position.get((plant, t), []):
                recipe_use_entries.append((i, stock_index[material, t, plant_lanes[i]]))
                recipe_use.append(t_per_t)

    supply_lead = supply["lead"].astype(float).to_numpy()
    plant_lead = plants["lead"].astype(float).to_numpy()
    supply_entries, supply_shares, supply_beyond = _arrivals(
        periods, list(supply["period"]), supply_lead
    )
    plant_entries, plant_shares, plant_beyond = _arrivals(
        periods, list(plants["period"]), plant_lead
    )
    supply_arrival_entries = [
        (i, stock_index[supply_keys[i][1], periods[a], supply_lanes[i]]) for i, a in supply_entries
    ]
    plant_arrival_entries = [
        (i, stock_index[plants["output"].iloc[i], periods[a], plant_lanes[i]])
        for i, a in plant_entries
    ]
    supply_groups = _groups(supply_keys)
    plant_groups = _groups(plant_keys)

    structure = Structure(
        periods=periods,
        materials=materials,
        lanes=data.lanes,
        supply_keys=supply_keys,
        supply_lanes=supply_lanes,
        supply_groups=supply_groups,
        plant_keys=plant_keys,
        plant_lanes=plant_lanes,
        plant_groups=plant_groups,
        plant_output=list(plants["output"]),
        product_keys=product_keys,
        product_lanes=product_lanes,
        variant_keys=variant_keys,
        standard_keys=standard_keys,
        stock_keys=stock_keys,
        opening_keys=opening_keys,
        split_materials=split_materials,
        stock_floor_keys=stock_floor_keys,
        stock_floor_entries=stock_floor_entries,
        service_floor_keys=service_floor_keys,
        service_floor_rows=service_floor_rows,
        fair_keys=fair_keys,
        product_use_entries=product_use_entries,
        recipe_use_entries=recipe_use_entries,
        supply_arrival_entries=supply_arrival_entries,
        plant_arrival_entries=plant_arrival_entries,
    )
    numbers = Numbers(
        **_supply_numbers(supply, structure),
        **_plant_numbers(plants, structure),
        **_demand_numbers(data, structure, objective),
        **_material_numbers(materials_frame, structure),
        stock_target=np.array([min_stock[m] for m, _ in stock_floor_keys], dtype=float),
        stock_coef=np.array([1.0 / min_stock[m] for m, _ in stock_floor_keys], dtype=float),
        product_use=np.array(product_use, dtype=float),
        recipe_use=np.array(recipe_use, dtype=float),
        supply_arrival=np.array(supply_shares, dtype=float),
        plant_arrival=np.array(plant_shares, dtype=float),
        supply_beyond=supply_beyond,
        plant_beyond=plant_beyond,
    )
    return structure, numbers


# The numbers of the LP that a change of these (table, column)s moves, and nothing else:
# `AllocationModel.update(data, changed)` recomputes only them, without `describe`.
IN_PLACE_COLUMNS = frozenset(
    {
        ("supply", "capacity"),
        ("supply", "approval"),
        ("supply", "unit_cost"),
        ("plants", "capacity"),
        ("plants", "approval"),
        ("plants", "unit_cost"),
        ("demand", "units"),
        ("demand", "value_per_unit"),
        ("materials", "initial_stock"),
        ("materials", "holding_cost"),
        ("materials", "terminal_value"),
        # The licence table feeds the LP only through the approval and lead of supply and
        # plant rows, which a change of a licence changes alongside.
        ("licences", "rate"),
        ("licences", "low"),
        ("licences", "high"),
    }
)


def _floors(demand: pd.DataFrame) -> np.ndarray:
    """Product rows with a service floor: min_service > 0 on more than next to zero units."""
    min_service = demand["min_service"].astype(float).to_numpy()
    units = demand["units"].astype(float).to_numpy()
    # A floor on (next to) zero units is met by building nothing: no row for it.
    return (min_service > 0) & (units > SMALLEST_FLOOR)


def licensed_limits(
    capacity: np.ndarray, approval: np.ndarray, groups: list[list[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """(licensed capacity per lane row, capacity per group of lanes sharing it) [t].

    The one formula for both: `update` and the what-if fast path
    (`AllocationModel.set_capacities`) give the same numbers to the last bit.
    """
    return capacity * approval, np.array([capacity[g[0]] for g in groups], float)


def _supply_numbers(supply: pd.DataFrame, structure: Structure) -> dict[str, Any]:
    limit, shared = licensed_limits(
        supply["capacity"].astype(float).to_numpy(),
        supply["approval"].astype(float).to_numpy(),
        structure.supply_groups,
    )
    return {
        "supply_limit": limit,
        "supply_capacity": shared,
        "buy_cost": supply["unit_cost"].astype(float).to_numpy(),
    }


def _plant_numbers(plants: pd.DataFrame, structure: Structure) -> dict[str, Any]:
    limit, shared = licensed_limits(
        plants["capacity"].astype(float).to_numpy(),
        plants["approval"].astype(float).to_numpy(),
        structure.plant_groups,
    )
    return {
        "plant_limit": limit,
        "plant_capacity": shared,
        "make_cost": plants["unit_cost"].astype(float).to_numpy(),
    }


def _demand_numbers(
    data: AllocationData, structure: Structure, objective: ObjectiveMode
) -> dict[str, Any]:
    demand = data.demand
    variant_table = data.variants.set_index(["product", "variant"])
    extra = variant_table["extra_cost_per_unit"].astype(float).to_dict()
    share = variant_table["max_share"].astype(float).to_dict()
    product_keys, variant_keys = structure.product_keys, structure.variant_keys
    min_service = demand["min_service"].astype(float).to_numpy()
    units = demand["units"].astype(float).to_numpy()
    has_floor = _floors(demand)
    weights = demand["weight"].astype(float).to_numpy()
    values = demand["value_per_unit"].astype(float).to_numpy()
    standard_share = np.array([share.get((j, STANDARD), 1.0) for j, _ in product_keys])
    standard_extra = np.array([extra.get((j, STANDARD), 0.0) for j, _ in product_keys])
    return {
        "demand_limit": units,
        "variant_limit": np.array(
            [share.get((product_keys[i][0], v), 1.0) * units[i] for i, v in variant_keys],
            dtype=float,
        ),
        "standard_limit": np.array(
            [standard_share[i] * units[i] for i in structure.standard_keys], float
        ),
        "service_floor": min_service[has_floor],
        "service_target": (min_service * units)[has_floor],
        "service_coef": 1.0 / units[has_floor],
        "fair_rhs": units if objective == "fair" else np.zeros(0),
        "fair_coef": units / weights if objective == "fair" else np.zeros(0),
        "fair_weight": weights if objective == "fair" else np.zeros(0),
        "built_value": values - standard_extra,
        "variant_cost": np.array(
            [extra.get((product_keys[i][0], v), 0.0) - standard_extra[i] for i, v in variant_keys],
            dtype=float,
        ),
        "lost_value_if_nothing_built": float(np.dot(values, units)),
    }


def _material_numbers(materials: pd.DataFrame, structure: Structure) -> dict[str, Any]:
    """`materials` indexed by material."""
    holding = materials["holding_cost"].astype(float)
    terminal = materials["terminal_value"].astype(float)
    initial = materials["initial_stock"].astype(float)
    first_period, last_period = structure.periods[0], structure.periods[-1]
    split = set(structure.split_materials)
    return {
        "balance_rhs": np.array(
            [
                -initial[m] if t == first_period and m not in split else 0.0
                for m, t, _ in structure.stock_keys
            ]
        ),
        "opening_rhs": np.array([initial[m] for m in structure.split_materials], dtype=float),
        "holding_cost": np.array(
            [
                holding[m] - (terminal[m] if t == last_period else 0.0)
                for m, t, _ in structure.stock_keys
            ],
            dtype=float,
        ),
    }


def renumber(
    data: AllocationData,
    structure: Structure,
    numbers: Numbers,
    objective: ObjectiveMode,
    changed: set[tuple[str, str]],
) -> Numbers:
    """`numbers` with those that the `changed` columns of `data` move recomputed (no describe).

    Only for columns in `IN_PLACE_COLUMNS`; raises StructureChangedError where the new
    numbers need other rows (a service floor appears or goes).
    """
    tables = {table for table, _ in changed}
    fresh: dict[str, Any] = {}
    if "supply" in tables:
        fresh.update(_supply_numbers(data.supply, structure))
    if "plants" in tables:
        fresh.update(_plant_numbers(data.plants, structure))
    if "demand" in tables:
        floors = [int(i) for i in np.flatnonzero(_floors(data.demand))]
        if floors != structure.service_floor_rows:
            raise StructureChangedError("the new data adds or drops service floors")
        fresh.update(_demand_numbers(data, structure, objective))
    if "materials" in tables:
        fresh.update(_material_numbers(data.materials.set_index("material"), structure))
    return dataclasses.replace(numbers, **fresh)


def objective_scale(numbers: Numbers) -> float:
    """A power of ten that brings the largest cost coefficient near 1e3.

    Values per unit reach 1e8 USD (an aircraft) while costs are dollars per
    kg; without scaling HiGHS's dual simplex can stop with status "not set"
    (excessive dual values).
    """
    largest = max(
        (
            float(np.abs(a).max())
            for a in (
                numbers.buy_cost,
                numbers.make_cost,
                numbers.built_value,
                numbers.holding_cost,
                numbers.variant_cost,
            )
            if a.size
        ),
        default=1.0,
    )
    if largest <= 1e3:
        return 1.0
    return 10.0 ** (math.floor(math.log10(largest)) - 3)


def build_pyomo(structure: Structure, numbers: Numbers) -> pyo.ConcreteModel:
    """The LP in Pyomo, with names as in the maths (see models/README.md)."""
    s = structure
    n = numbers
    model = pyo.ConcreteModel(name="allocation")
    # supply_limit, plant_limit and demand_limit are the upper bounds of buy, make and built:
    # bounds, not rows, so that presolve and warm starts have nothing to strip.
    model.buy = pyo.Var(
        range(len(s.supply_keys)), bounds=lambda _, i: (0.0, float(n.supply_limit[i]))
    )
    model.make = pyo.Var(
        range(len(s.plant_keys)), bounds=lambda _, i: (0.0, float(n.plant_limit[i]))
    )
    model.built = pyo.Var(
        range(len(s.product_keys)), bounds=lambda _, i: (0.0, float(n.demand_limit[i]))
    )
    model.stock = pyo.Var(range(len(s.stock_keys)), domain=pyo.NonNegativeReals)
    # Soft-constraint gaps are shares of the target, so their sum is comparable.
    model.stock_gap = pyo.Var(range(len(s.stock_floor_keys)), bounds=(0, 1))
    model.service_gap = pyo.Var(range(len(s.service_floor_keys)), bounds=(0, 1))
    if s.fair_keys:
        # No upper bound: a weighted shortfall reaches the weight, which may exceed 1.
        model.mu = pyo.Var(bounds=(0, None))
    # Declared after the first release's variables, so that a workbook without lanes or
    # variants gives the same columns in the same order.
    model.variant_built = pyo.Var(
        range(len(s.variant_keys)), bounds=lambda _, c: (0.0, float(n.variant_limit[c]))
    )
    model.opening = pyo.Var(range(len(s.opening_keys)), domain=pyo.NonNegativeReals)

    buy, make, built, stock = model.buy, model.make, model.built, model.stock
    variant_built = model.variant_built

    stock_index = {key: i for i, key in enumerate(s.stock_keys)}
    period_before = dict(zip(s.periods[1:], s.periods[:-1], strict=True))
    terms: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))

    def add(row: int, coef: float, var: pyo.Var) -> None:
        coefs, variables = terms[row]
        coefs.append(coef)
        variables.append(var)

    for k, (i, pool) in enumerate(s.supply_arrival_entries):
        add(pool, n.supply_arrival[k], buy[i])
    for k, (i, pool) in enumerate(s.plant_arrival_entries):
        add(pool, n.plant_arrival[k], make[i])
    for k, (i, pool) in enumerate(s.recipe_use_entries):
        add(pool, -n.recipe_use[k], make[i])
    for k, (kind, i, pool) in enumerate(s.product_use_entries):
        add(pool, -n.product_use[k], variant_built[i] if kind else built[i])
    first_pool = {(m, lane): stock_index[m, s.periods[0], lane] for m, lane in s.opening_keys}
    for k, key in enumerate(s.opening_keys):
        add(first_pool[key], 1.0, model.opening[k])
    for i, (material, period, lane) in enumerate(s.stock_keys):
        add(i, -1.0, stock[i])
        if period in period_before:
            add(i, 1.0, stock[stock_index[material, period_before[period], lane]])

    def balance_rule(_: pyo.ConcreteModel, i: int) -> object:
        coefs, variables = terms[i]
        body = LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=variables)
        return body == n.balance_rhs[i]

    model.balance = pyo.Constraint(range(len(s.stock_keys)), rule=balance_rule)

    floor_terms: dict[int, list[int]] = defaultdict(list)
    for f, pool in s.stock_floor_entries:
        floor_terms[f].append(pool)
    model.stock_floor = pyo.Constraint(
        range(len(s.stock_floor_keys)),
        rule=lambda _, f: (
            sum(n.stock_coef[f] * stock[pool] for pool in floor_terms[f]) + model.stock_gap[f]
            >= 1.0
        ),
    )
    model.service_floor = pyo.Constraint(
        range(len(s.service_floor_keys)),
        rule=lambda _, i: (
            n.service_coef[i] * built[s.service_floor_rows[i]] + model.service_gap[i]
            >= n.service_floor[i]
        ),
    )
    gaps = [*model.stock_gap.values(), *model.service_gap.values()]
    if gaps:
        model.violation_cap = pyo.Constraint(expr=pyo.quicksum(gaps) <= len(gaps))
    if s.fair_keys:
        model.fair_share = pyo.Constraint(
            range(len(s.fair_keys)),
            rule=lambda _, i: built[i] + n.fair_coef[i] * model.mu >= n.fair_rhs[i],
        )

    # Lanes share a source's (or plant's) capacity: sum_l buy[s,m,t,l] <= capacity[s,m,t].
    # With one lane the bound buy <= capacity * approval already says it: no row.
    model.supply_capacity = pyo.Constraint(
        range(len(s.supply_groups)),
        rule=lambda _, g: (
            pyo.quicksum(buy[i] for i in s.supply_groups[g]) <= float(n.supply_capacity[g])
        ),
    )
    model.plant_capacity = pyo.Constraint(
        range(len(s.plant_groups)),
        rule=lambda _, g: (
            pyo.quicksum(make[i] for i in s.plant_groups[g]) <= float(n.plant_capacity[g])
        ),
    )
    model.opening_split = pyo.Constraint(
        range(len(s.split_materials)),
        rule=lambda _, k: (
            pyo.quicksum(
                model.opening[q]
                for q, (m, _) in enumerate(s.opening_keys)
                if m == s.split_materials[k]
            )
            == float(n.opening_rhs[k])
        ),
    )
    # built is every variant's units; the standard variant builds what the others do not.
    variants_of: dict[int, list[int]] = defaultdict(list)
    for c, (i, _) in enumerate(s.variant_keys):
        variants_of[i].append(c)
    variant_rows = sorted(variants_of)
    model.variant_split = pyo.Constraint(
        range(len(variant_rows)),
        rule=lambda _, r: (
            built[variant_rows[r]]
            - pyo.quicksum(variant_built[c] for c in variants_of[variant_rows[r]])
            >= 0.0
        ),
    )
    model.standard_share = pyo.Constraint(
        range(len(s.standard_keys)),
        rule=lambda _, r: (
            built[s.standard_keys[r]]
            - pyo.quicksum(variant_built[c] for c in variants_of[s.standard_keys[r]])
            <= float(n.standard_limit[r])
        ),
    )

    scale = objective_scale(n)
    cost_terms = LinearExpression(
        constant=n.lost_value_if_nothing_built / scale,
        linear_coefs=[
            *(-n.built_value / scale),
            *(n.buy_cost / scale),
            *(n.make_cost / scale),
            *(n.holding_cost / scale),
            *(n.variant_cost / scale),
        ],
        linear_vars=[
            *built.values(),
            *buy.values(),
            *make.values(),
            *stock.values(),
            *variant_built.values(),
        ],
    )
    model.total_cost = pyo.Objective(expr=cost_terms, sense=pyo.minimize)
    if gaps:
        model.violation = pyo.Objective(expr=pyo.quicksum(gaps), sense=pyo.minimize)
    if s.fair_keys:
        model.max_shortfall_share = pyo.Objective(expr=model.mu, sense=pyo.minimize)
    return model


@dataclass
class Solution:
    """The optimum of one solve, as long tables keyed like the input tables.

    Duals are in USD of the cost objective (the objective scale removed) and
    follow HiGHS's sign convention: the change of cost per unit increase of
    the constraint's right-hand side.
    """

    status: SolveStatus
    objective_value: float  # USD, soft-constraint violation excluded
    violation: float  # sum of soft-constraint gap shares (0 = none violated)
    max_shortfall_share: float | None  # fair mode: the largest weighted shortfall (first level)
    supply: pd.DataFrame
    plants: pd.DataFrame
    products: pd.DataFrame
    materials: pd.DataFrame
    soft: pd.DataFrame
    solve_seconds: float
    iterations: int
    message: str = ""
    # fair mode: the leximin level of each product row (weight x share short), like `products`
    shortfall_levels: np.ndarray | None = None
    # units built per product row and variant (the standard variant builds the rest)
    variants: pd.DataFrame | None = None


@dataclass
class QuickSolution:
    """What a scenario needs from a solve: status, objective [USD], built units per product row."""

    status: SolveStatus
    objective_value: float
    violation: float
    max_shortfall_share: float | None
    built: np.ndarray
    solve_seconds: float
    shortfall_levels: np.ndarray | None = None  # fair mode, per product row
    kept_basis: bool = False  # answered by the basis HiGHS held, without a run


PHASES = ("violation", "max_shortfall_share", "total_cost")
# Per phase: (phase, column statuses, row statuses) as HiGHS basis status codes.
Bases = tuple[tuple[str, np.ndarray, np.ndarray], ...]


@dataclass
class AllocationModel:
    """A built allocation LP held in HiGHS, ready to solve and re-solve.

    Each objective phase has its own `Highs` object holding the same LP, so
    each phase re-solves warm from its own previous basis: switching the
    costs of one object back and forth loses the basis and presolve.
    """

    data: AllocationData
    objective: ObjectiveMode
    structure: Structure
    numbers: Numbers
    # The Pyomo statement of the model, kept only if asked for (`build_model(keep_pyomo=
    # True)`): nothing reads it after the hand-off to HiGHS, and it holds 34 MB at 100k
    # columns.
    pyomo_model: pyo.ConcreteModel | None
    solvers: dict[str, highspy.Highs]  # phase name -> HiGHS object, in phase order
    scale: float
    columns: dict[str, np.ndarray]
    rows: dict[str, np.ndarray]
    costs: dict[str, np.ndarray]
    build_seconds: float
    handoff_seconds: float
    entries: dict[str, tuple[np.ndarray, np.ndarray, float]] = field(default_factory=dict)
    # The bounds the cost phase's HiGHS object holds now, and its matrix (None: to be read
    # back from HiGHS, after coefficients moved): what `KeptBasis` checks a step against.
    bounds: LpBounds | None = None
    matrix: sp.csc_matrix | None = None
    _last_violation: float = 0.0
    # The cost phase's optimal basis after the last objective-only re-solve (priority
    # mode, cost phase alone), while HiGHS still holds its factor; see `solve_quick`.
    _kept: KeptBasis | None = None
    _cost_phase_only: bool = False
    # Objective-only re-solves answered by a kept basis, without a HiGHS run.
    kept_answers: int = 0
    # What the last solve did beyond the plain phases: retries ("phase: how") and, in fair
    # mode, the leximin levels and rounds.
    last_retries: list[str] = field(default_factory=list)
    last_levels: np.ndarray | None = None
    last_leximin: LeximinOutcome | None = None
    # How far the leximin holds had to be loosened (share of units) in the last solve.
    _hold_slack: float = 0.0

    @property
    def highs(self) -> highspy.Highs:
        """The HiGHS object of the final (cost) phase, which holds the reported solution."""
        return self.solvers["total_cost"]

    # ----------------------------------------------------------------- solve
    def solve(self, time_limit: float | None = None) -> Solution:
        """Solve all phases from the current bases and read the full solution back.

        Options are reset on every call, so a time limit never leaks into the next solve.
        """
        status, violation, mu, seconds, iterations = self._run_phases(time_limit)
        return self._read_solution(
            status, violation, mu, seconds, iterations, levels=self.last_levels
        )

    def solve_quick(
        self, time_limit: float | None = None, *, read_built: bool = True
    ) -> QuickSolution:
        """Solve like `solve`, reading back only what scenario KPIs need (no tables).

        With `read_built=False` only the objective is read (HiGHS's own, times the scale:
        its offset holds the constant term), and `built` comes back empty: reading the
        whole column vector back costs more than a warm re-solve of a few bounds.

        Objective-only re-solves in priority mode (the "value of" figures): when only
        bounds moved since the last one and its optimal basis is still optimal with them
        (`models.kept_basis`), the answer is that basis's objective, without a HiGHS run:
        what the run would have returned after no simplex iteration (to round-off), at a
        tenth of its fixed cost. Re-solves that read the built units always run HiGHS, so
        that scenario tables are the same to the last bit whichever process solves them.
        """
        started = time.perf_counter()
        kept = None if read_built else self._kept_solution()
        if kept is not None:
            self.kept_answers += 1
            self.last_retries = []
            self.last_levels = None
            return QuickSolution(
                SolveStatus.OPTIMAL,
                kept * self.scale,
                0.0,
                None,
                np.empty(0),
                time.perf_counter() - started,
                kept_basis=True,
            )
        status, violation, mu, seconds, _ = self._run_phases(time_limit)
        if not status.ok:
            nan = np.full(len(self.columns["built"]) if read_built else 0, np.nan)
            return QuickSolution(status, math.nan, violation, mu, nan, seconds, self.last_levels)
        if not read_built:
            self._keep_basis()
            objective = self.highs.getInfo().objective_function_value * self.scale
            return QuickSolution(
                status, objective, violation, mu, np.empty(0), seconds, self.last_levels
            )
        col_value = np.asarray(self.highs.getSolution().col_value)
        built = np.minimum(
            np.maximum(col_value[self.columns["built"]], 0.0), self.numbers.demand_limit
        )
        objective = float(
            np.dot(self.costs["total_cost"], col_value) * self.scale
            + self.numbers.lost_value_if_nothing_built
        )
        return QuickSolution(status, objective, violation, mu, built, seconds, self.last_levels)

    def _keep_basis(self) -> None:
        """Keep the cost phase's basis after a re-solve in which it alone ran (priority
        mode: the violation held at 0, or no floors), for the next re-solve to check."""
        if self.objective != "priority" or not self._cost_phase_only or self.bounds is None:
            return
        self._kept = KeptBasis.capture(self.highs, self.bounds)

    def _kept_solution(self) -> float | None:
        """The objective (HiGHS's scaled units) of the kept basis with the bounds held
        now, if it is still optimal there; else None."""
        if self._kept is None or self.bounds is None:
            return None
        if self.matrix is None:
            self.matrix = _matrix_of(self.highs)
        return self._kept.objective_at(self.bounds, self.costs["total_cost"], self.matrix)

    def _run_phases(
        self, time_limit: float | None
    ) -> tuple[SolveStatus, float, float | None, float, int]:
        started = time.perf_counter()
        deadline = None if time_limit is None else started + time_limit
        phases = list(self.solvers)
        self.last_retries = []
        self._kept = None  # HiGHS is about to run: the factor it holds will change
        if "violation" in self.solvers and self._last_violation == 0.0:
            # Optimistic: the floors were all met last time, so first try holding the
            # violation at zero and skip its phase; an infeasible cap means they no
            # longer can be, and the phases run in full.
            self._cost_phase_only = phases[1:] == ["total_cost"]
            outcome = self._run(phases[1:], deadline, started, violation_cap=0.0)
            if outcome[0] is not SolveStatus.INFEASIBLE:
                return outcome
        self._cost_phase_only = phases == ["total_cost"]
        outcome = self._run(phases, deadline, started, violation_cap=None)
        if outcome[0].ok:
            self._last_violation = outcome[1]
        return outcome

    def _run(
        self,
        phases: list[str],
        deadline: float | None,
        started: float,
        violation_cap: float | None,
    ) -> tuple[SolveStatus, float, float | None, float, int]:
        iterations = 0
        violation = violation_cap or 0.0
        mu: float | None = None
        self.last_levels = None
        status = SolveStatus.OPTIMAL
        # In the optimistic probe an infeasible cap is an expected answer, not trouble.
        probe = violation_cap is not None
        if violation_cap is not None:
            self._hold_violation(phases, violation_cap)

        leximin: LeximinOutcome | None = None
        for position, phase in enumerate(phases):
            later = phases[position + 1 :]
            if phase == "max_shortfall_share":
                held = [self.solvers[other] for other in later]
                leximin = progressive_filling(
                    self.solvers[phase],
                    held,
                    self.fair_items,
                    deadline,
                    retry_verdicts=not probe,
                    hold_slack=self._hold_slack,
                )
                status = leximin.status
                iterations += leximin.iterations
                self.last_retries += [f"{phase}: {r}" for r in leximin.retries]
                self.last_levels = leximin.levels
                self.last_leximin = leximin
                if not status.ok:
                    break
                mu = float(np.max(leximin.levels, initial=0.0))
                continue
            highs = self.solvers[phase]
            if leximin is None:
                result = run_highs(highs, deadline, retry_verdicts=not probe)
            else:
                # The cost phase, with every product row held at its leximin level, starts
                # from the last leximin basis: feasible for it, and no presolve of a thin set.
                basis = self.solvers["max_shortfall_share"].getBasis()
                if basis.valid:
                    highs.setBasis(basis)
                result = run_held(
                    highs, self.fair_items, leximin, [highs], deadline, retry_verdicts=not probe
                )
            status = result.status
            iterations += result.iterations
            self.last_retries += [f"{phase}: {r}" for r in result.retries]
            if not status.ok:
                break
            if phase == "violation":
                violation = max(highs.getInfo().objective_function_value, 0.0)
                self._hold_violation(later, violation)
        if leximin is not None and status.ok:
            self._hold_slack = leximin.hold_slack
        return status, violation, mu, time.perf_counter() - started, iterations

    @property
    def fair_items(self) -> FairItems:
        """The fair rows of the held LP (fair mode only), aligned with the product rows."""
        return FairItems(
            rows=self.rows["fair_share"],
            built=self.columns["built"],
            mu=int(self.columns["mu"][0]),
            units=self.numbers.fair_rhs,
            weight=self.numbers.fair_weight,
        )

    def _hold_violation(self, phases: list[str], violation: float) -> None:
        """Cap the soft-constraint violation at `violation` in the objects of `phases`."""
        cap = violation * (1 + LEXICOGRAPHIC_RELATIVE_SLACK) + LEXICOGRAPHIC_ABSOLUTE_SLACK
        row = int(self.rows["violation_cap"][0])
        for phase in phases:
            self.solvers[phase].changeRowBounds(row, -INF, cap)
        if "total_cost" in phases and self.bounds is not None:
            self.bounds.row_lower[row], self.bounds.row_upper[row] = -INF, cap

    def set_licensed_capacity(
        self, supply_limit: np.ndarray | None = None, plant_limit: np.ndarray | None = None
    ) -> None:
        """Change only the licensed capacities [t] (capacity x approval): the what-if fast path.

        `data` keeps the tables of the last `update`; `numbers` follows this call.
        """
        if supply_limit is not None:
            supply_limit = np.asarray(supply_limit, dtype=float)
            self._change_upper("buy", self.numbers.supply_limit, supply_limit)
            self.numbers.supply_limit = supply_limit
        if plant_limit is not None:
            plant_limit = np.asarray(plant_limit, dtype=float)
            self._change_upper("make", self.numbers.plant_limit, plant_limit)
            self.numbers.plant_limit = plant_limit

    def bases(self) -> Bases:
        """The current basis of each phase's HiGHS object, as status codes (picklable)."""
        held = []
        for phase, highs in self.solvers.items():
            basis = highs.getBasis()
            if basis.valid:
                held.append(
                    (
                        phase,
                        np.array([int(s) for s in basis.col_status], dtype=np.int8),
                        np.array([int(s) for s in basis.row_status], dtype=np.int8),
                    )
                )
        return tuple(held)

    def set_bases(self, bases: Bases) -> None:
        """Start each phase from these bases (`bases()` of a model of the same data)."""
        self._kept = None
        for phase, col_status, row_status in bases:
            highs = self.solvers.get(phase)
            if highs is None:
                continue
            basis = highspy.HighsBasis()
            basis.col_status = [highspy.HighsBasisStatus(int(s)) for s in col_status]
            basis.row_status = [highspy.HighsBasisStatus(int(s)) for s in row_status]
            basis.valid = True
            highs.setBasis(basis)

    def set_capacities(
        self,
        supply_capacity: np.ndarray,
        supply_approval: np.ndarray,
        plant_capacity: np.ndarray,
        plant_approval: np.ndarray,
    ) -> None:
        """Set capacities [t] and approvals [0-1] per supply and plant row: the licensed
        capacities and the capacities lanes share follow, as `update` would set them."""
        supply_limit, shared_supply = licensed_limits(
            supply_capacity, supply_approval, self.structure.supply_groups
        )
        plant_limit, shared_plant = licensed_limits(
            plant_capacity, plant_approval, self.structure.plant_groups
        )
        self.set_licensed_capacity(supply_limit, plant_limit)
        self.set_shared_capacity(shared_supply, shared_plant)

    def set_shared_capacity(
        self, supply_capacity: np.ndarray | None = None, plant_capacity: np.ndarray | None = None
    ) -> None:
        """Change only the capacities [t] that the lanes of a source or plant share (rows)."""
        if supply_capacity is not None:
            supply_capacity = np.asarray(supply_capacity, dtype=float)
            self._change_rows(
                "supply_capacity", self.numbers.supply_capacity, supply_capacity, upper=True
            )
            self.numbers.supply_capacity = supply_capacity
        if plant_capacity is not None:
            plant_capacity = np.asarray(plant_capacity, dtype=float)
            self._change_rows(
                "plant_capacity", self.numbers.plant_capacity, plant_capacity, upper=True
            )
            self.numbers.plant_capacity = plant_capacity

    def set_balance_rhs(self, balance_rhs: np.ndarray) -> None:
        """Change only the right-hand sides of the balance rows [t], one per stock key.

        Lowering the rhs of (m, t) by one is one more tonne of m arriving in t: the
        re-solve behind "the value of one more tonne" (design section 6).
        """
        balance_rhs = np.asarray(balance_rhs, dtype=float)
        self._change_rows("balance", self.numbers.balance_rhs, balance_rhs, equal=True)
        self.numbers.balance_rhs = balance_rhs

    def _read_solution(
        self,
        status: SolveStatus,
        violation: float,
        mu: float | None,
        seconds: float,
        iterations: int,
        levels: np.ndarray | None = None,
    ) -> Solution:
        s = self.structure
        data = self.data
        solution = self.highs.getSolution()
        have_values = status.ok and solution.value_valid
        have_duals = status.ok and solution.dual_valid
        col_value = np.asarray(solution.col_value) if have_values else None
        row_dual = np.asarray(solution.row_dual) if have_duals else None
        col_dual = np.asarray(solution.col_dual) if have_duals else None

        def values(name: str) -> np.ndarray:
            size = len(self.columns[name])
            if col_value is None:
                return np.full(size, np.nan)
            return np.maximum(col_value[self.columns[name]], 0.0)

        def duals(name: str) -> np.ndarray:
            size = len(self.rows.get(name, []))
            if row_dual is None:
                return np.full(size, np.nan)
            return row_dual[self.rows[name]] * self.scale

        def bound_duals(name: str) -> np.ndarray:
            """Dual of a variable's upper bound: the non-positive part of its reduced cost."""
            size = len(self.columns[name])
            if col_dual is None:
                return np.full(size, np.nan)
            return np.minimum(col_dual[self.columns[name]], 0.0) * self.scale

        supply = data.supply[
            ["source", "material", "period", "lane", "capacity", "approval", "lead"]
        ].copy()
        supply["licensed_capacity"] = self.numbers.supply_limit
        supply["buy"] = np.minimum(values("buy"), self.numbers.supply_limit)
        # Tonnes dispatched that would arrive after the last period (design 3a).
        supply["in_licensing"] = supply["buy"] * self.numbers.supply_beyond
        supply["unit_cost"] = self.numbers.buy_cost
        supply["limit_dual"] = bound_duals("buy")

        plants = data.plants[
            ["plant", "period", "lane", "output", "capacity", "approval", "lead"]
        ].copy()
        plants["licensed_capacity"] = self.numbers.plant_limit
        plants["make"] = np.minimum(values("make"), self.numbers.plant_limit)
        plants["in_licensing"] = plants["make"] * self.numbers.plant_beyond
        plants["unit_cost"] = self.numbers.make_cost
        plants["limit_dual"] = bound_duals("make")

        demand_columns = ["product", "sector", "period", "units", "value_per_unit"]
        extra_columns = [c for c in ("market", "end_use", "lane") if c in data.demand]
        products = data.demand[[*demand_columns, *extra_columns]].copy()
        products["built"] = np.minimum(values("built"), self.numbers.demand_limit)
        products["demand_dual"] = bound_duals("built")

        # Units by variant: every variant column, and the standard one builds the rest.
        variant_units = values("variant_built")
        by_row = np.zeros(len(products))
        np.add.at(by_row, [i for i, _ in s.variant_keys], variant_units)
        variants = pd.DataFrame(
            {
                "row": [*range(len(products)), *(i for i, _ in s.variant_keys)],
                "variant": [STANDARD] * len(products) + [v for _, v in s.variant_keys],
                "built": [
                    *np.maximum(products["built"].to_numpy() - by_row, 0.0),
                    *variant_units,
                ],
            }
        )
        variants = (
            products[[*demand_columns[:3], *extra_columns]]
            .iloc[variants["row"]]
            .assign(variant=variants["variant"].to_numpy(), built=variants["built"].to_numpy())
        )
        variants = variants.reset_index(drop=True)

        materials = pd.DataFrame(s.stock_keys, columns=["material", "period", "lane"])
        materials["stock"] = values("stock")
        # Flows into and out of each pool, read off the balance rows' own entries, so that
        # leads and variants count exactly as the LP counts them [t].
        n = self.numbers
        built_values = (values("built"), np.asarray(variant_units, dtype=float))
        buy = supply["buy"].to_numpy(float)
        make = plants["make"].to_numpy(float)

        def flow(
            entries: list[tuple[int, int]], coefficient: np.ndarray, level: np.ndarray
        ) -> np.ndarray:
            """Per pool, the sum of coefficient x level over the (column, pool) entries."""
            total = np.zeros(len(s.stock_keys))
            if entries:
                column, pool = np.asarray(entries, dtype=int).T
                np.add.at(total, pool, coefficient * level[column])
            return total

        materials["supplied"] = flow(s.supply_arrival_entries, n.supply_arrival, buy)
        materials["made"] = flow(s.plant_arrival_entries, n.plant_arrival, make)
        materials["used_by_plants"] = flow(s.recipe_use_entries, n.recipe_use, make)
        used = np.zeros(len(s.stock_keys))
        if s.product_use_entries:
            kind, column, pool = np.asarray(s.product_use_entries, dtype=int).T
            level = np.empty(kind.size)
            for which, units in enumerate(built_values):  # 0: products, 1: variants
                at = kind == which
                level[at] = units[column[at]]
            np.add.at(used, pool, n.product_use * level)
        materials["used_by_products"] = used
        opening = np.full(len(s.stock_keys), np.nan)
        previous = {key: i for i, key in enumerate(s.stock_keys)}
        period_before = dict(zip(s.periods[1:], s.periods[:-1], strict=True))
        stock = materials["stock"].to_numpy()
        for i, (m, t, lane) in enumerate(s.stock_keys):
            if t in period_before:
                opening[i] = stock[previous[m, period_before[t], lane]]
            else:
                opening[i] = -n.balance_rhs[i]
        for k, (m, lane) in enumerate(s.opening_keys):
            opening[previous[m, s.periods[0], lane]] = values("opening")[k]
        materials["opening_stock"] = opening
        materials["balance_dual"] = duals("balance")

        soft_rows = []
        for i, (material, period) in enumerate(s.stock_floor_keys):
            soft_rows.append(("min_stock", material, period, self.numbers.stock_target[i]))
        for i, (product, period) in enumerate(s.service_floor_keys):
            soft_rows.append(("min_service", product, period, self.numbers.service_target[i]))
        soft = pd.DataFrame(soft_rows, columns=["constraint", "item", "period", "target"])
        gaps: np.ndarray | list[float] = (
            np.concatenate([values("stock_gap"), values("service_gap")]) if soft_rows else []
        )
        soft["gap_share"] = gaps
        soft["shortfall"] = soft["gap_share"] * soft["target"]

        objective_value = math.nan
        if col_value is not None:
            objective_value = float(
                np.dot(self.costs["total_cost"], col_value) * self.scale
                + self.numbers.lost_value_if_nothing_built
            )
        return Solution(
            status=status,
            objective_value=objective_value,
            violation=violation,
            max_shortfall_share=mu,
            supply=supply,
            plants=plants,
            products=products,
            materials=materials,
            soft=soft,
            variants=variants,
            solve_seconds=seconds,
            iterations=iterations,
            message=self._message(status),
            shortfall_levels=levels,
        )

    def _message(self, status: SolveStatus) -> str:
        if not self.last_retries:
            return status.explain()
        return f"{status.explain()} (after retries: {'; '.join(self.last_retries)})"

    # ---------------------------------------------------------------- update
    def update(self, data: AllocationData, changed: set[tuple[str, str]] | None = None) -> None:
        """Make the held LP that of `data`, changing only numbers that differ.

        `changed`: the (table, column)s in which `data` differs from the held data, if
        known. When they are all `IN_PLACE_COLUMNS` only their numbers are recomputed,
        in place, without `describe` (the index sets cannot have moved); otherwise the
        whole LP is described again and compared. Raises StructureChangedError when
        `data` needs other rows or columns.
        """
        structure = self.structure
        self._kept = None  # costs or coefficients may move: only bound moves are checked
        if changed is not None and changed <= IN_PLACE_COLUMNS:
            numbers = renumber(data, structure, self.numbers, self.objective, changed)
        else:
            structure, numbers = describe(data, self.objective)
            if structure.signature() != self.structure.signature():
                raise StructureChangedError("the new data changes the model's index sets")
        if objective_scale(numbers) != self.scale:
            raise StructureChangedError("the new data needs another objective scale")
        old = self.numbers

        self._change_upper("buy", old.supply_limit, numbers.supply_limit)
        self._change_upper("make", old.plant_limit, numbers.plant_limit)
        self._change_upper("built", old.demand_limit, numbers.demand_limit)
        self._change_upper("variant_built", old.variant_limit, numbers.variant_limit)
        self._change_rows("balance", old.balance_rhs, numbers.balance_rhs, equal=True)
        self._change_rows("opening_split", old.opening_rhs, numbers.opening_rhs, equal=True)
        self._change_rows(
            "supply_capacity", old.supply_capacity, numbers.supply_capacity, upper=True
        )
        self._change_rows("plant_capacity", old.plant_capacity, numbers.plant_capacity, upper=True)
        self._change_rows("standard_share", old.standard_limit, numbers.standard_limit, upper=True)
        self._change_rows("service_floor", old.service_floor, numbers.service_floor)
        self._change_rows("fair_share", old.fair_rhs, numbers.fair_rhs)
        floor_of_entry = [f for f, _ in structure.stock_floor_entries]
        for name, old_coef, new_coef in (
            ("stock_floor", old.stock_coef[floor_of_entry], numbers.stock_coef[floor_of_entry]),
            ("service_floor", old.service_coef, numbers.service_coef),
            ("fair_mu", old.fair_coef, numbers.fair_coef),
            ("product_use", old.product_use, numbers.product_use),
            ("recipe_use", old.recipe_use, numbers.recipe_use),
            ("supply_arrival", old.supply_arrival, numbers.supply_arrival),
            ("plant_arrival", old.plant_arrival, numbers.plant_arrival),
        ):
            rows, cols, sign = self.entries[name]
            for k in np.flatnonzero(old_coef != new_coef):
                self.matrix = None  # read back from HiGHS when next needed
                for highs in self.solvers.values():
                    highs.changeCoeff(int(rows[k]), int(cols[k]), float(sign * new_coef[k]))
        self.numbers = numbers
        self.data = data
        new_costs = self._total_cost_vector()
        moved = np.flatnonzero(new_costs != self.costs["total_cost"])
        if moved.size:
            self.costs["total_cost"] = new_costs
            self.highs.changeColsCost(moved.size, moved.astype(np.int32), new_costs[moved])
        if numbers.lost_value_if_nothing_built != old.lost_value_if_nothing_built:
            self.highs.changeObjectiveOffset(numbers.lost_value_if_nothing_built / self.scale)

    def _change_upper(self, column: str, old: np.ndarray, new: np.ndarray) -> None:
        changed = np.flatnonzero(old != new)
        if changed.size == 0:
            return
        columns = self.columns[column][changed].astype(np.int32)
        lower = np.zeros(changed.size)
        upper = new[changed].astype(float)
        for highs in self.solvers.values():
            highs.changeColsBounds(columns.size, columns, lower, upper)
        if self.bounds is not None:
            self.bounds.column_lower[columns] = lower
            self.bounds.column_upper[columns] = upper

    def _change_rows(
        self,
        name: str,
        old: np.ndarray,
        new: np.ndarray,
        *,
        equal: bool = False,
        upper: bool = False,
    ) -> None:
        """New lower bounds (upper bounds with `upper`, both for equalities) of rows `name`."""
        changed = np.flatnonzero(old != new)
        if changed.size == 0:
            return
        rows = self.rows[name][changed].astype(np.int32)
        values = new[changed].astype(float)
        if upper:
            lower_bounds, upper_bounds = np.full(values.size, -INF), values
        else:
            lower_bounds = values
            upper_bounds = values if equal else np.full(values.size, INF)
        for highs in self.solvers.values():
            highs.changeRowsBounds(rows.size, rows, lower_bounds, upper_bounds)
        if self.bounds is not None:
            self.bounds.row_lower[rows] = lower_bounds
            self.bounds.row_upper[rows] = upper_bounds

    def _total_cost_vector(self) -> np.ndarray:
        n = self.numbers
        cost = np.zeros(self.highs.getNumCol())
        cost[self.columns["built"]] = -n.built_value / self.scale
        cost[self.columns["buy"]] = n.buy_cost / self.scale
        cost[self.columns["make"]] = n.make_cost / self.scale
        cost[self.columns["stock"]] = n.holding_cost / self.scale
        cost[self.columns["variant_built"]] = n.variant_cost / self.scale
        return cost


def quiet_highs() -> highspy.Highs:
    """A Highs object that prints nothing, not even the banner of its first construction."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    highs.silent()
    return highs


def build_model(
    data: AllocationData,
    objective: ObjectiveMode = "priority",
    *,
    highs_options: dict[str, object] | None = None,
    keep_pyomo: bool = False,
) -> AllocationModel:
    """Build the LP of `data` and hand it to fresh HiGHS objects, one per phase (not solved).

    With `keep_pyomo`, the Pyomo model it was stated in stays on `pyomo_model`."""
    if objective not in ("priority", "fair"):
        raise ValueError(f"objective must be 'priority' or 'fair', not {objective!r}")
    started = time.perf_counter()
    structure, numbers = describe(data, objective)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the build makes many small objects and no cycles
    try:
        model = build_pyomo(structure, numbers)
        built_at = time.perf_counter()
        info = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    finally:
        if gc_was_enabled:
            gc.enable()

    # The compiler drops columns with no coefficient anywhere (a product needing no
    # material and worth nothing); they are put back, empty, so that every variable
    # has a column and later data can give it coefficients.
    all_vars = [v for component in model.component_objects(pyo.Var) for v in component.values()]
    kept = {id(v) for v in info.columns}
    dropped = [v for v in all_vars if id(v) not in kept]
    variables = [*info.columns, *dropped]
    column_position = {id(var): i for i, var in enumerate(variables)}
    row_position = {id(row.constraint): i for i, row in enumerate(info.rows)}

    def column_positions(component: pyo.Var) -> np.ndarray:
        return np.array([column_position[id(v)] for v in component.values()], dtype=np.int64)

    def row_positions(component: pyo.Constraint) -> np.ndarray:
        return np.array([row_position[id(c)] for c in component.values()], dtype=np.int64)

    columns = {
        name: column_positions(getattr(model, name))
        for name in (
            "buy",
            "make",
            "built",
            "stock",
            "stock_gap",
            "service_gap",
            "variant_built",
            "opening",
        )
    }
    if hasattr(model, "mu"):
        columns["mu"] = column_positions(model.mu)
    rows = {
        name: row_positions(getattr(model, name))
        for name in (
            "balance",
            "stock_floor",
            "service_floor",
            "supply_capacity",
            "plant_capacity",
            "opening_split",
            "variant_split",
            "standard_share",
        )
    }
    if hasattr(model, "violation_cap"):
        rows["violation_cap"] = row_positions(model.violation_cap)
    if hasattr(model, "fair_share"):
        rows["fair_share"] = row_positions(model.fair_share)

    n_cols = len(variables)
    lower = np.array([v.lb if v.lb is not None else -INF for v in variables], dtype=float)
    upper = np.array([v.ub if v.ub is not None else INF for v in variables], dtype=float)
    row_lower = np.empty(len(info.rows))
    row_upper = np.empty(len(info.rows))
    rhs = np.asarray(info.rhs, dtype=float)
    for i, row in enumerate(info.rows):
        if row.bound_type == 0:
            row_lower[i] = row_upper[i] = rhs[i]
        elif row.bound_type > 0:
            row_lower[i], row_upper[i] = -INF, rhs[i]
        else:
            row_lower[i], row_upper[i] = rhs[i], INF

    def padded(vector: np.ndarray) -> np.ndarray:
        return np.concatenate([vector, np.zeros(len(dropped))])

    objectives = [o.parent_component().name for o in info.objectives]
    costs = {name: padded(info.c[[k], :].toarray().ravel()) for k, name in enumerate(objectives)}

    matrix = info.A.tocsc()
    indptr = np.concatenate([matrix.indptr, np.full(len(dropped), matrix.indptr[-1])])
    scale = objective_scale(numbers)
    solvers: dict[str, highspy.Highs] = {}
    for phase in (p for p in PHASES if p in costs):
        lp = highspy.HighsLp()
        lp.num_col_ = n_cols
        lp.num_row_ = len(info.rows)
        lp.col_cost_ = costs[phase]
        lp.offset_ = numbers.lost_value_if_nothing_built / scale if phase == "total_cost" else 0.0
        lp.col_lower_ = lower
        lp.col_upper_ = upper
        lp.row_lower_ = row_lower
        lp.row_upper_ = row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = indptr.astype(np.int32)
        lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
        lp.a_matrix_.value_ = matrix.data.astype(float)
        highs = quiet_highs()
        for key, value in (highs_options or {}).items():
            highs.setOptionValue(key, value)
        if phase == "violation":
            # HiGHS 1.16's presolve was seen exhausting memory (>9 GB) on this phase at
            # 300k columns; without it the phase solves in seconds.
            highs.setOptionValue("presolve", "off")
        highs.passModel(lp)
        solvers[phase] = highs
    handed_at = time.perf_counter()

    allocation = AllocationModel(
        data=data,
        objective=objective,
        structure=structure,
        numbers=numbers,
        pyomo_model=model if keep_pyomo else None,
        solvers=solvers,
        scale=scale,
        columns=columns,
        rows=rows,
        costs=costs,
        build_seconds=built_at - started,
        handoff_seconds=handed_at - built_at,
    )
    allocation.entries = _coefficient_entries(allocation)
    allocation.bounds = LpBounds(lower.copy(), upper.copy(), row_lower.copy(), row_upper.copy())
    allocation.matrix = sp.csc_matrix(
        (matrix.data.astype(float), matrix.indices, indptr), shape=(len(info.rows), n_cols)
    )
    return allocation


def _matrix_of(highs: highspy.Highs) -> sp.csc_matrix:
    """The constraint matrix `highs` holds, column-wise."""
    lp = highs.getLp()
    a = lp.a_matrix_
    arrays = (np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_))
    shape = (lp.num_row_, lp.num_col_)
    if a.format_ == highspy.MatrixFormat.kRowwise:
        return sp.csr_matrix(arrays, shape=shape).tocsc()
    return sp.csc_matrix(arrays, shape=shape)


def _coefficient_entries(model: AllocationModel) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """(row, column, sign) of every matrix entry that data can change."""
    s = model.structure
    rows, cols = model.rows, model.columns
    balance = rows["balance"]

    def use_columns() -> list[int]:
        kinds = (cols["built"], cols["variant_built"])
        return [int(kinds[kind][i]) for kind, i, _ in s.product_use_entries]

    entries = {
        "stock_floor": (
            rows["stock_floor"][[f for f, _ in s.stock_floor_entries]],
            cols["stock"][[pool for _, pool in s.stock_floor_entries]],
            1.0,
        ),
        "service_floor": (rows["service_floor"], cols["built"][s.service_floor_rows], 1.0),
        "fair_mu": (
            rows.get("fair_share", np.zeros(0, dtype=np.int64)),
            np.repeat(cols.get("mu", np.zeros(1, dtype=np.int64))[:1], len(s.fair_keys)),
            1.0,
        ),
        "product_use": (
            balance[[pool for _, _, pool in s.product_use_entries]],
            use_columns(),
            -1.0,
        ),
        "recipe_use": (
            balance[[pool for _, pool in s.recipe_use_entries]],
            cols["make"][[i for i, _ in s.recipe_use_entries]],
            -1.0,
        ),
        "supply_arrival": (
            balance[[pool for _, pool in s.supply_arrival_entries]],
            cols["buy"][[i for i, _ in s.supply_arrival_entries]],
            1.0,
        ),
        "plant_arrival": (
            balance[[pool for _, pool in s.plant_arrival_entries]],
            cols["make"][[i for i, _ in s.plant_arrival_entries]],
            1.0,
        ),
    }
    return {
        name: (np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64), sign)
        for name, (r, c, sign) in entries.items()
    }
