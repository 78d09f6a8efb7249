"""An independent statement of the allocation LP and its lexicographic optima, in scipy.

Written from design section 4 and 4b, not from `models/allocation.py`: a dense
`scipy.optimize.linprog` model of `AllocationData`, the violation phase, and a
leximin by progressive filling that fixes items only by the one-at-a-time test
(no duals). Small instances only. Shares and levels are weight x share short.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from models.data import AllocationData

# Held like the project: V* (1 + 1e-7) + 1e-7, so both see the same feasible set.
VIOLATION_SLACK = 1e-7
# A level found is held as a bound on built, with this much room (in level units), the
# next one in turn when HiGHS (in scipy) calls so thin a region infeasible. Room in a level
# is amplified by tonnage ratios when another item uses what it frees, so it starts at 0.
HOLDS = (0.0, 1e-12, 1e-10, 1e-9)
SMALLEST = 1e-6


@dataclass
class DirectLp:
    """min c x  s.t.  A_eq x = b_eq,  A_ub x <= b_ub,  bounds; columns in blocks."""

    c_cost: np.ndarray
    cost_offset: float
    c_violation: np.ndarray
    a_eq: np.ndarray
    b_eq: np.ndarray
    a_ub: np.ndarray
    b_ub: np.ndarray
    bounds: list[tuple[float, float | None]]
    built: np.ndarray  # column of built per demand row
    units: np.ndarray
    weight: np.ndarray


def direct_lp(data: AllocationData) -> DirectLp:
    periods = list(data.periods)
    materials = list(data.materials["material"])
    mat = data.materials.set_index("material")
    supply, plants, demand = data.supply, data.plants, data.demand
    columns: list[tuple[float, float | None]] = []

    def new(n: int, lower: float, upper: np.ndarray | float | None) -> np.ndarray:
        start = len(columns)
        ups = np.broadcast_to(np.asarray(upper, dtype=object), (n,)) if n else []
        columns.extend((lower, None if u is None else float(u)) for u in ups)
        return np.arange(start, start + n)

    buy = new(len(supply), 0.0, (supply["capacity"] * supply["approval"]).to_numpy(float))
    make = new(len(plants), 0.0, (plants["capacity"] * plants["approval"]).to_numpy(float))
    units = demand["units"].to_numpy(float)
    built = new(len(demand), 0.0, units)
    stock_keys = [(m, t) for m in materials for t in periods]
    stock = new(len(stock_keys), 0.0, None)
    floors_stock = [(m, t) for m, t in stock_keys if mat.loc[m, "min_stock"] > SMALLEST]
    min_service = demand["min_service"].to_numpy(float)
    floors_service = np.flatnonzero((min_service > 0) & (units > SMALLEST))
    stock_gap = new(len(floors_stock), 0.0, 1.0)
    service_gap = new(len(floors_service), 0.0, 1.0)
    n = len(columns)

    a_eq = np.zeros((len(stock_keys), n))
    b_eq = np.zeros(len(stock_keys))
    row = {key: i for i, key in enumerate(stock_keys)}
    for k, r in enumerate(supply.itertuples()):
        a_eq[row[r.material, r.period], buy[k]] += 1.0
    for k, r in enumerate(plants.itertuples()):
        a_eq[row[r.output, r.period], make[k]] += 1.0
        for rec in data.recipes[data.recipes["plant"] == r.plant].itertuples():
            a_eq[row[rec.input, r.period], make[k]] -= rec.t_per_t
    for k, r in enumerate(demand.itertuples()):
        for use in data.intensity[data.intensity["product"] == r.product].itertuples():
            a_eq[row[use.material, r.period], built[k]] -= use.kg_per_unit / 1000.0
    for i, (m, t) in enumerate(stock_keys):
        a_eq[i, stock[i]] -= 1.0
        position = periods.index(t)
        if position == 0:
            b_eq[i] = -mat.loc[m, "initial_stock"]
        else:
            a_eq[i, stock[row[m, periods[position - 1]]]] += 1.0

    a_ub = np.zeros((len(floors_stock) + len(floors_service), n))
    b_ub = np.zeros(a_ub.shape[0])
    for i, (m, t) in enumerate(floors_stock):
        # stock / min_stock + gap >= 1
        a_ub[i, stock[row[m, t]]] = -1.0 / mat.loc[m, "min_stock"]
        a_ub[i, stock_gap[i]] = -1.0
        b_ub[i] = -1.0
    for i, k in enumerate(floors_service):
        j = len(floors_stock) + i
        a_ub[j, built[k]] = -1.0 / units[k]
        a_ub[j, service_gap[i]] = -1.0
        b_ub[j] = -min_service[k]

    values = demand["value_per_unit"].to_numpy(float)
    c_cost = np.zeros(n)
    c_cost[built] = -values
    c_cost[buy] = supply["unit_cost"].to_numpy(float)
    c_cost[make] = plants["unit_cost"].to_numpy(float)
    holding = mat["holding_cost"]
    c_cost[stock] = [holding[m] for m, _ in stock_keys]
    c_violation = np.zeros(n)
    c_violation[stock_gap] = 1.0
    c_violation[service_gap] = 1.0
    return DirectLp(
        c_cost=c_cost,
        cost_offset=float(np.dot(values, units)),
        c_violation=c_violation,
        a_eq=a_eq,
        b_eq=b_eq,
        a_ub=a_ub,
        b_ub=b_ub,
        bounds=columns,
        built=built,
        units=units,
        weight=demand["weight"].to_numpy(float),
    )


class InfeasibleError(Exception):
    pass


def _solve(lp: DirectLp, c: np.ndarray, a_ub: np.ndarray, b_ub: np.ndarray, bounds: list):
    a_eq = np.hstack([lp.a_eq, np.zeros((lp.a_eq.shape[0], c.size - lp.a_eq.shape[1]))])
    result = linprog(
        c,
        A_ub=a_ub if a_ub.size else None,
        b_ub=b_ub if a_ub.size else None,
        A_eq=a_eq,
        b_eq=lp.b_eq,
        bounds=bounds,
        method="highs",
        options={"presolve": False},
    )
    if result.status == 2:
        # Without presolve first (exact holds leave a thin set); then with it.
        result = linprog(
            c,
            A_ub=a_ub if a_ub.size else None,
            b_ub=b_ub if a_ub.size else None,
            A_eq=a_eq,
            b_eq=lp.b_eq,
            bounds=bounds,
            method="highs",
        )
    if result.status == 2:
        raise InfeasibleError(result.message)
    assert result.status == 0, result.message
    return result


def violation_held(lp: DirectLp) -> tuple[float, np.ndarray, np.ndarray]:
    """V* and the rows (A_ub, b_ub) with the violation capped at V* like the project."""
    v = 0.0
    if lp.c_violation.any():
        v = max(_solve(lp, lp.c_violation, lp.a_ub, lp.b_ub, lp.bounds).fun, 0.0)
    cap = v * (1 + VIOLATION_SLACK) + VIOLATION_SLACK
    a_ub = np.vstack([lp.a_ub, lp.c_violation[None, :]])
    b_ub = np.concatenate([lp.b_ub, [cap]])
    return v, a_ub, b_ub


def priority_optimum(data: AllocationData) -> tuple[float, float]:
    """(violation V*, least cost [USD] holding it): the priority mode of design section 4."""
    lp = direct_lp(data)
    v, a_ub, b_ub = violation_held(lp)
    cost = _solve(lp, lp.c_cost, a_ub, b_ub, lp.bounds).fun + lp.cost_offset
    return v, cost


def leximin_levels(data: AllocationData) -> np.ndarray:
    """Leximin weighted shortfall per demand row, items fixed by the one-at-a-time test."""
    for room in HOLDS:
        try:
            return _leximin_levels(data, room)
        except InfeasibleError:
            if room == HOLDS[-1]:
                raise
    raise AssertionError("unreachable")


def _leximin_levels(data: AllocationData, hold: float) -> np.ndarray:
    lp = direct_lp(data)
    _, base_ub, base_b = violation_held(lp)
    n = len(lp.bounds)
    items = np.flatnonzero(lp.units > SMALLEST)
    levels = np.zeros(lp.units.size)
    fixed: dict[int, float] = {}
    free = set(items.tolist())

    def rows() -> tuple[np.ndarray, np.ndarray]:
        """Base rows and free items <= mu (the last column)."""
        a = [np.hstack([base_ub, np.zeros((base_ub.shape[0], 1))])]
        b = [base_b]
        for i in sorted(free):
            # w - w/u built <= mu:  -w/u built - mu <= -w
            line = np.zeros(n + 1)
            line[lp.built[i]] = -lp.weight[i] / lp.units[i]
            line[n] = -1.0
            a.append(line[None, :])
            b.append([-lp.weight[i]])
        return np.vstack(a), np.concatenate(b)

    def held_bounds() -> list[tuple[float, float | None]]:
        """Bounds with each fixed item's built >= units (1 - level / weight)."""
        bounds = list(lp.bounds)
        for i, level in fixed.items():
            floor = lp.units[i] * (1 - (level + hold) / lp.weight[i])
            bounds[lp.built[i]] = (max(floor, 0.0), bounds[lp.built[i]][1])
        return bounds

    while free:
        a, b = rows()
        c = np.zeros(n + 1)
        c[n] = 1.0
        mu = max(_solve(lp, c, a, b, [*held_bounds(), (0.0, None)]).fun, 0.0)
        least = {}
        for i in sorted(free):
            # minimise item i's shortfall with every free item <= mu
            c = np.zeros(n + 1)
            c[lp.built[i]] = -lp.weight[i] / lp.units[i]
            held = [*held_bounds(), (mu + hold, mu + hold)]
            least[i] = _solve(lp, c, a, b, held).fun + lp.weight[i]
        blocked = [i for i, s in least.items() if s >= mu - 1e-7]
        if not blocked:
            blocked = [max(least, key=least.get)]
        for i in blocked:
            fixed[i] = mu
            levels[i] = mu
            free.discard(i)
    return levels
