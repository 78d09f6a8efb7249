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

import gc
import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

import highspy
import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from models.data import AllocationData
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

    supply_limit: np.ndarray  # licensed capacity [t]
    plant_limit: np.ndarray  # licensed plant capacity [t]
    demand_limit: np.ndarray  # units
    balance_rhs: np.ndarray  # -initial stock in the first period [t]
    stock_target: np.ndarray  # min_stock [t]
    stock_coef: np.ndarray  # 1 / min_stock: stock_floor rows are stated as shares of target
    service_floor: np.ndarray  # min_service (share of units)
    service_target: np.ndarray  # min_service * units [units]
    service_coef: np.ndarray  # 1 / units: service_floor rows are stated as shares of demand
    fair_rhs: np.ndarray  # units
    fair_coef: np.ndarray  # units / weight (coefficient of mu)
    fair_weight: np.ndarray  # weight of the product row's sector (> 0)
    buy_cost: np.ndarray  # USD/t
    make_cost: np.ndarray  # USD/t
    built_value: np.ndarray  # USD/unit
    holding_cost: np.ndarray  # USD/t/period
    lost_value_if_nothing_built: float  # USD
    product_use: np.ndarray  # t of material per unit, per (j, m, t) entry
    recipe_use: np.ndarray  # t of input per t of output, per (p, m, t) entry


@dataclass
class Structure:
    """Index sets of one LP; two data sets with equal structures share one model."""

    periods: list[str]
    materials: list[str]
    supply_keys: list[tuple[str, str, str]]
    plant_keys: list[tuple[str, str]]
    plant_output: list[str]
    product_keys: list[tuple[str, str]]
    stock_keys: list[tuple[str, str]]
    stock_floor_keys: list[tuple[str, str]]
    service_floor_keys: list[tuple[str, str]]
    fair_keys: list[tuple[str, str]]
    product_use_keys: list[tuple[str, str, str]]  # (product, material, period)
    recipe_use_keys: list[tuple[str, str, str]]  # (plant, input material, period)

    def signature(self) -> tuple:
        return tuple(tuple(v) for v in vars(self).values())


def describe(data: AllocationData, objective: ObjectiveMode) -> tuple[Structure, Numbers]:
    """The index sets and numbers of the LP for `data` (design section 4)."""
    periods = list(data.periods)
    first_period = periods[0]
    materials_frame = data.materials.set_index("material")
    materials = list(materials_frame.index)
    supply = data.supply
    plants = data.plants
    demand = data.demand

    supply_keys = list(zip(supply["source"], supply["material"], supply["period"], strict=True))
    plant_keys = list(zip(plants["plant"], plants["period"], strict=True))
    product_keys = list(zip(demand["product"], demand["period"], strict=True))
    stock_keys = [(m, t) for m in materials for t in periods]
    min_stock = materials_frame["min_stock"].astype(float)
    stock_floor_keys = [(m, t) for m in materials if min_stock[m] > SMALLEST_FLOOR for t in periods]
    min_service = demand["min_service"].astype(float).to_numpy()
    units = demand["units"].astype(float).to_numpy()
    # A floor on (next to) zero units is met by building nothing: no row for it.
    has_floor = (min_service > 0) & (units > SMALLEST_FLOOR)
    service_floor_keys = [k for k, f in zip(product_keys, has_floor, strict=True) if f]
    fair_keys = list(product_keys) if objective == "fair" else []

    intensity = data.intensity.merge(demand[["product", "period"]], on="product")
    product_use_keys = list(
        zip(intensity["product"], intensity["material"], intensity["period"], strict=True)
    )
    recipe = data.recipes.merge(plants[["plant", "period"]], on="plant")
    recipe_use_keys = list(zip(recipe["plant"], recipe["input"], recipe["period"], strict=True))

    holding = materials_frame["holding_cost"].astype(float)
    initial = materials_frame["initial_stock"].astype(float)
    balance_rhs = np.array([-initial[m] if t == first_period else 0.0 for m, t in stock_keys])
    weights = demand["weight"].astype(float).to_numpy()
    values = demand["value_per_unit"].astype(float).to_numpy()

    structure = Structure(
        periods=periods,
        materials=materials,
        supply_keys=supply_keys,
        plant_keys=plant_keys,
        plant_output=list(plants["output"]),
        product_keys=product_keys,
        stock_keys=stock_keys,
        stock_floor_keys=stock_floor_keys,
        service_floor_keys=service_floor_keys,
        fair_keys=fair_keys,
        product_use_keys=product_use_keys,
        recipe_use_keys=recipe_use_keys,
    )
    numbers = Numbers(
        supply_limit=(
            supply["capacity"].astype(float) * supply["approval"].astype(float)
        ).to_numpy(),
        plant_limit=(
            plants["capacity"].astype(float) * plants["approval"].astype(float)
        ).to_numpy(),
        demand_limit=units,
        balance_rhs=balance_rhs,
        stock_target=np.array([min_stock[m] for m, _ in stock_floor_keys], dtype=float),
        stock_coef=np.array([1.0 / min_stock[m] for m, _ in stock_floor_keys], dtype=float),
        service_floor=min_service[has_floor],
        service_target=(min_service * units)[has_floor],
        service_coef=1.0 / units[has_floor],
        fair_rhs=units if objective == "fair" else np.zeros(0),
        fair_coef=units / weights if objective == "fair" else np.zeros(0),
        fair_weight=weights if objective == "fair" else np.zeros(0),
        buy_cost=supply["unit_cost"].astype(float).to_numpy(),
        make_cost=plants["unit_cost"].astype(float).to_numpy(),
        built_value=values,
        holding_cost=np.array([holding[m] for m, _ in stock_keys], dtype=float),
        lost_value_if_nothing_built=float(np.dot(values, units)),
        product_use=intensity["kg_per_unit"].astype(float).to_numpy() / 1000.0,
        recipe_use=recipe["t_per_t"].astype(float).to_numpy(),
    )
    return structure, numbers


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

    buy, make, built, stock = model.buy, model.make, model.built, model.stock

    stock_index = {key: i for i, key in enumerate(s.stock_keys)}
    period_before = dict(zip(s.periods[1:], s.periods[:-1], strict=True))
    terms: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))

    def add(row: int, coef: float, var: pyo.Var) -> None:
        coefs, variables = terms[row]
        coefs.append(coef)
        variables.append(var)

    for i, (_, material, period) in enumerate(s.supply_keys):
        add(stock_index[material, period], 1.0, buy[i])
    plant_position = {key: i for i, key in enumerate(s.plant_keys)}
    for i, ((_, period), output) in enumerate(zip(s.plant_keys, s.plant_output, strict=True)):
        add(stock_index[output, period], 1.0, make[i])
    for k, (plant, material, period) in enumerate(s.recipe_use_keys):
        add(stock_index[material, period], -n.recipe_use[k], make[plant_position[plant, period]])
    product_position = {key: i for i, key in enumerate(s.product_keys)}
    for k, (product, material, period) in enumerate(s.product_use_keys):
        add(
            stock_index[material, period],
            -n.product_use[k],
            built[product_position[product, period]],
        )
    for i, (material, period) in enumerate(s.stock_keys):
        add(i, -1.0, stock[i])
        if period in period_before:
            add(i, 1.0, stock[stock_index[material, period_before[period]]])

    def balance_rule(_: pyo.ConcreteModel, i: int) -> object:
        coefs, variables = terms[i]
        body = LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=variables)
        return body == n.balance_rhs[i]

    model.balance = pyo.Constraint(range(len(s.stock_keys)), rule=balance_rule)

    model.stock_floor = pyo.Constraint(
        range(len(s.stock_floor_keys)),
        rule=lambda _, i: (
            n.stock_coef[i] * stock[stock_index[s.stock_floor_keys[i]]] + model.stock_gap[i] >= 1.0
        ),
    )
    model.service_floor = pyo.Constraint(
        range(len(s.service_floor_keys)),
        rule=lambda _, i: (
            n.service_coef[i] * built[product_position[s.service_floor_keys[i]]]
            + model.service_gap[i]
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

    scale = objective_scale(n)
    cost_terms = LinearExpression(
        constant=n.lost_value_if_nothing_built / scale,
        linear_coefs=[
            *(-n.built_value / scale),
            *(n.buy_cost / scale),
            *(n.make_cost / scale),
            *(n.holding_cost / scale),
        ],
        linear_vars=[*built.values(), *buy.values(), *make.values(), *stock.values()],
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


PHASES = ("violation", "max_shortfall_share", "total_cost")


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
    pyomo_model: pyo.ConcreteModel
    solvers: dict[str, highspy.Highs]  # phase name -> HiGHS object, in phase order
    scale: float
    columns: dict[str, np.ndarray]
    rows: dict[str, np.ndarray]
    costs: dict[str, np.ndarray]
    build_seconds: float
    handoff_seconds: float
    entries: dict[str, tuple[np.ndarray, np.ndarray, float]] = field(default_factory=dict)
    _last_violation: float = 0.0
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

    def solve_quick(self, time_limit: float | None = None) -> QuickSolution:
        """Solve like `solve`, reading back only what scenario KPIs need (no tables)."""
        status, violation, mu, seconds, _ = self._run_phases(time_limit)
        if not status.ok:
            nan = np.full(len(self.columns["built"]), np.nan)
            return QuickSolution(status, math.nan, violation, mu, nan, seconds, self.last_levels)
        col_value = np.asarray(self.highs.getSolution().col_value)
        built = np.minimum(
            np.maximum(col_value[self.columns["built"]], 0.0), self.numbers.demand_limit
        )
        objective = float(
            np.dot(self.costs["total_cost"], col_value) * self.scale
            + self.numbers.lost_value_if_nothing_built
        )
        return QuickSolution(status, objective, violation, mu, built, seconds, self.last_levels)

    def _run_phases(
        self, time_limit: float | None
    ) -> tuple[SolveStatus, float, float | None, float, int]:
        started = time.perf_counter()
        deadline = None if time_limit is None else started + time_limit
        phases = list(self.solvers)
        self.last_retries = []
        if "violation" in self.solvers and self._last_violation == 0.0:
            # Optimistic: the floors were all met last time, so first try holding the
            # violation at zero and skip its phase; an infeasible cap means they no
            # longer can be, and the phases run in full.
            outcome = self._run(phases[1:], deadline, started, violation_cap=0.0)
            if outcome[0] is not SolveStatus.INFEASIBLE:
                return outcome
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
        if probe:
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

        supply = data.supply[["source", "material", "period", "capacity", "approval"]].copy()
        supply["licensed_capacity"] = self.numbers.supply_limit
        supply["buy"] = np.minimum(values("buy"), self.numbers.supply_limit)
        supply["unit_cost"] = self.numbers.buy_cost
        supply["limit_dual"] = bound_duals("buy")

        plants = data.plants[["plant", "period", "output", "capacity", "approval"]].copy()
        plants["licensed_capacity"] = self.numbers.plant_limit
        plants["make"] = np.minimum(values("make"), self.numbers.plant_limit)
        plants["unit_cost"] = self.numbers.make_cost
        plants["limit_dual"] = bound_duals("make")

        products = data.demand[["product", "sector", "period", "units", "value_per_unit"]].copy()
        products["built"] = np.minimum(values("built"), self.numbers.demand_limit)
        products["demand_dual"] = bound_duals("built")

        materials = pd.DataFrame(s.stock_keys, columns=["material", "period"])
        materials["stock"] = values("stock")
        materials["balance_dual"] = duals("balance")

        soft_rows = []
        for i, (material, period) in enumerate(s.stock_floor_keys):
            soft_rows.append(("min_stock", material, period, self.numbers.stock_target[i]))
        for i, (product, period) in enumerate(s.service_floor_keys):
            soft_rows.append(("min_service", product, period, self.numbers.service_target[i]))
        soft = pd.DataFrame(soft_rows, columns=["constraint", "item", "period", "target"])
        gaps = np.concatenate([values("stock_gap"), values("service_gap")]) if soft_rows else []
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
    def update(self, data: AllocationData) -> None:
        """Make the held LP that of `data`, changing only numbers that differ.

        Raises StructureChangedError when `data` needs other rows or columns.
        """
        structure, numbers = describe(data, self.objective)
        if structure.signature() != self.structure.signature():
            raise StructureChangedError("the new data changes the model's index sets")
        if objective_scale(numbers) != self.scale:
            raise StructureChangedError("the new data needs another objective scale")
        old = self.numbers

        self._change_upper("buy", old.supply_limit, numbers.supply_limit)
        self._change_upper("make", old.plant_limit, numbers.plant_limit)
        self._change_upper("built", old.demand_limit, numbers.demand_limit)
        self._change_rows("balance", old.balance_rhs, numbers.balance_rhs, equal=True)
        self._change_rows("service_floor", old.service_floor, numbers.service_floor)
        self._change_rows("fair_share", old.fair_rhs, numbers.fair_rhs)
        for name, old_coef, new_coef in (
            ("stock_floor", old.stock_coef, numbers.stock_coef),
            ("service_floor", old.service_coef, numbers.service_coef),
            ("fair_mu", old.fair_coef, numbers.fair_coef),
            ("product_use", old.product_use, numbers.product_use),
            ("recipe_use", old.recipe_use, numbers.recipe_use),
        ):
            rows, cols, sign = self.entries[name]
            for k in np.flatnonzero(old_coef != new_coef):
                for highs in self.solvers.values():
                    highs.changeCoeff(int(rows[k]), int(cols[k]), float(sign * new_coef[k]))
        self.numbers = numbers
        self.data = data
        new_costs = self._total_cost_vector()
        changed = np.flatnonzero(new_costs != self.costs["total_cost"])
        if changed.size:
            self.costs["total_cost"] = new_costs
            self.highs.changeColsCost(changed.size, changed.astype(np.int32), new_costs[changed])
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

    def _change_rows(
        self, name: str, old: np.ndarray, new: np.ndarray, *, equal: bool = False
    ) -> None:
        """New lower bounds (or both bounds, for equalities) of rows `name`."""
        changed = np.flatnonzero(old != new)
        if changed.size == 0:
            return
        rows = self.rows[name][changed].astype(np.int32)
        values = new[changed].astype(float)
        upper = values if equal else np.full(values.size, INF)
        for highs in self.solvers.values():
            highs.changeRowsBounds(rows.size, rows, values, upper)

    def _total_cost_vector(self) -> np.ndarray:
        n = self.numbers
        cost = np.zeros(self.highs.getNumCol())
        cost[self.columns["built"]] = -n.built_value / self.scale
        cost[self.columns["buy"]] = n.buy_cost / self.scale
        cost[self.columns["make"]] = n.make_cost / self.scale
        cost[self.columns["stock"]] = n.holding_cost / self.scale
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
) -> AllocationModel:
    """Build the LP of `data` and hand it to fresh HiGHS objects, one per phase (not solved)."""
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
        for name in ("buy", "make", "built", "stock", "stock_gap", "service_gap")
    }
    if hasattr(model, "mu"):
        columns["mu"] = column_positions(model.mu)
    rows = {
        name: row_positions(getattr(model, name))
        for name in ("balance", "stock_floor", "service_floor")
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
        pyomo_model=model,
        solvers=solvers,
        scale=scale,
        columns=columns,
        rows=rows,
        costs=costs,
        build_seconds=built_at - started,
        handoff_seconds=handed_at - built_at,
    )
    allocation.entries = _coefficient_entries(allocation)
    return allocation


def _coefficient_entries(model: AllocationModel) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """(row, column, sign) of every matrix entry that data can change."""
    s = model.structure
    rows, cols = model.rows, model.columns
    stock_index = {key: i for i, key in enumerate(s.stock_keys)}
    product_position = {key: i for i, key in enumerate(s.product_keys)}
    plant_position = {key: i for i, key in enumerate(s.plant_keys)}
    stock_of_floor = [stock_index[key] for key in s.stock_floor_keys]
    built_of_floor = [product_position[key] for key in s.service_floor_keys]
    entries = {
        "stock_floor": (rows["stock_floor"], cols["stock"][stock_of_floor], 1.0),
        "service_floor": (rows["service_floor"], cols["built"][built_of_floor], 1.0),
        "fair_mu": (
            rows.get("fair_share", np.zeros(0, dtype=np.int64)),
            np.repeat(cols.get("mu", np.zeros(1, dtype=np.int64))[:1], len(s.fair_keys)),
            1.0,
        ),
        "product_use": (
            rows["balance"][[stock_index[m, t] for _, m, t in s.product_use_keys]],
            cols["built"][[product_position[j, t] for j, _, t in s.product_use_keys]],
            -1.0,
        ),
        "recipe_use": (
            rows["balance"][[stock_index[m, t] for _, m, t in s.recipe_use_keys]],
            cols["make"][[plant_position[p, t] for p, _, t in s.recipe_use_keys]],
            -1.0,
        ),
    }
    return {
        name: (np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64), sign)
        for name, (r, c, sign) in entries.items()
    }
