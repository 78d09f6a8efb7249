"""Break-even approval rates (issue 14): the grid search against plain bisection and cold solves.

- `_grid_search` on made-up monotone piecewise-linear curves: it returns the smallest grid
  index that is not worse, as a bisection of the whole grid would, in few evaluations;
- `break_even_rate` on small workbooks drawn by hypothesis: the grid rate it returns is not
  worse and the one 1/4096 below it is, each checked by a cold build and solve, and the
  criterion is the one cold solves at 0 and 100% give;
- the Licences sheet answers every row (no time budget skips any).
"""

from __future__ import annotations

import copy
import functools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.pipeline import run_workbook
from exposure.sensitivity import (
    LOST_VALUE_THRESHOLD,
    RATE_GRID,
    TOLERANCE,
    _grid_search,
    break_even_rate,
    licence_table,
    with_approval,
)
from models import AllocationData, SolveStatus, build_model
from tests import workbooks


# --------------------------------------------------------------- the search alone
def _bisection(worse, steps: int = 12) -> int:
    """The index plain bisection of [0, RATE_GRID] returns (worse at 0, fine at the top)."""
    low, high = 0, RATE_GRID
    for _ in range(steps):
        middle = (low + high) // 2
        if worse(middle):
            low = middle
        else:
            high = middle
    return high


@st.composite
def falling_curves(draw):
    """A non-increasing piecewise-linear excess on [0, RATE_GRID], worse (> 0) at 0."""
    pieces = draw(st.integers(1, 6))
    knots = sorted(draw(st.lists(st.floats(0, RATE_GRID), min_size=pieces - 1, max_size=5)))
    xs = np.unique([0.0, *knots[: pieces - 1], float(RATE_GRID)])
    drops = draw(st.lists(st.floats(0, 1e6), min_size=len(xs) - 1, max_size=len(xs) - 1))
    ys = np.concatenate([[0.0], -np.cumsum(drops)])
    start = draw(st.floats(1e-3, 1e6))  # excess at 0
    ys = ys + start
    # Put the threshold somewhere in [0, RATE_GRID]: shift so the top is fine.
    if ys[-1] > 0:
        ys = ys - ys[-1] - draw(st.floats(0, 10))
        if ys[0] <= 0:
            ys[0] = 1.0
    return xs, ys


@settings(max_examples=300, deadline=None)
@given(falling_curves())
def test_grid_search_returns_what_bisection_returns(curve):
    xs, ys = curve
    calls: list[int] = []

    def excess(index: int) -> float:
        return float(np.interp(index, xs, ys))

    def evaluate(index: int) -> float:
        calls.append(index)
        return excess(index)

    expected = _bisection(lambda i: excess(i) > 0)
    known = {0: excess(0), RATE_GRID: excess(RATE_GRID)}
    found = _grid_search(known, 0, RATE_GRID, evaluate, set())
    assert found == expected
    assert len(set(calls)) == len(calls)  # nothing re-solved twice
    # Bisection steps are forced when the others gain too little: never more than 3
    # evaluations per halving of the grid.
    assert len(calls) <= 3 * 12 + 2


@settings(max_examples=100, deadline=None)
@given(st.floats(0.5, RATE_GRID - 0.5), st.floats(1, 1e6))
def test_grid_search_on_one_linear_piece_takes_few_steps(root, slope):
    """A straight line is found by its chord, then confirmed on both sides."""

    def excess(index: int) -> float:
        return slope * (root - index)

    calls: list[int] = []

    def evaluate(index: int) -> float:
        calls.append(index)
        return excess(index)

    found = _grid_search(
        {0: excess(0), RATE_GRID: excess(RATE_GRID)}, 0, RATE_GRID, evaluate, set()
    )
    assert found == _bisection(lambda i: excess(i) > 0)
    assert len(calls) <= 4


def test_an_inferred_fine_end_that_is_worse_is_searched_above():
    """`verify`: a fine end taken from the base is re-solved; if worse, the search goes on."""
    truth = 3000  # worse below 3000, fine from there

    def evaluate(index: int) -> float:
        return float(truth - index) if index < truth else -1.0

    known = {0: float(truth), 2000: -1.0}  # 2000 was wrongly inferred fine
    assert _grid_search(known, 0, 2000, evaluate, {2000}) == truth
    # A curve worse everywhere gives None.
    assert _grid_search({0: 5.0, 10: -1.0}, 0, 10, lambda i: 5.0, {10}) is None


# ------------------------------------------------------------ on real workbooks
@functools.cache
def _tiny_data(tmp: str) -> AllocationData:
    result = run_workbook(
        workbooks.write(workbooks.tiny(), Path(tmp) / "tiny.xlsx"), None, sensitivities=False
    )
    return result.data


def _variant(
    data: AllocationData, approval: float, au_capacity: float, p2_value: float, floor: float
) -> AllocationData:
    data = copy.deepcopy(with_approval(data, "CN", approval, "DY", "t1"))
    data.supply.loc[data.supply["source"] == "AUS", "capacity"] = au_capacity
    data.demand.loc[data.demand["product"] == "P2", "value_per_unit"] = p2_value
    data.demand.loc[data.demand["sector"] == "S2", "min_service"] = floor
    return data


def _cold(data: AllocationData, rate: float):
    solution = build_model(with_approval(data, "CN", rate, "DY", "t1")).solve()
    assert solution.status is SolveStatus.OPTIMAL
    products = solution.products
    lost = float(
        (
            (products["units"] - np.minimum(products["built"], products["units"]))
            * products["value_per_unit"]
        ).sum()
    )
    return solution.violation, lost


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    approval=st.floats(0.05, 0.95),
    au_capacity=st.floats(0, 12),
    p2_value=st.floats(50, 900),
    floor=st.sampled_from([0.0, 0.3, 0.6]),
)
def test_break_even_rate_is_what_cold_solves_say(
    tmp_path_factory, approval, au_capacity, p2_value, floor
):
    data = _variant(
        _tiny_data(str(tmp_path_factory.getbasetemp())), approval, au_capacity, p2_value, floor
    )
    model = build_model(data)
    base = model.solve()
    assert base.status is SolveStatus.OPTIMAL
    rate, criterion = break_even_rate(model, "CN", "DY", "t1", base)
    full, none = _cold(data, 1.0), _cold(data, 0.0)
    if none[0] > full[0] + TOLERANCE:
        assert criterion == "min_service"

        def worse(outcome) -> bool:
            return outcome[0] > full[0] + TOLERANCE

    else:
        assert criterion == "lost_value+1%"
        _, base_lost = _cold(data, approval)
        limit = base_lost * (1 + LOST_VALUE_THRESHOLD) + TOLERANCE

        def worse(outcome) -> bool:
            return outcome[1] > limit

    assert not math.isnan(rate)
    assert rate * RATE_GRID == pytest.approx(round(rate * RATE_GRID), abs=1e-9)  # on the grid
    assert not worse(_cold(data, rate))
    if rate > 0:
        assert worse(_cold(data, rate - 1 / RATE_GRID))
    # The model is left holding the base numbers.
    assert model.solve().objective_value == pytest.approx(base.objective_value)


def test_every_licences_row_is_answered(tmp_path: Path):
    result = run_workbook(
        workbooks.write(workbooks.tiny(), tmp_path / "t.xlsx"), None, sensitivities=False
    )
    table = licence_table(result.model, result.solution)
    assert not table["criterion"].str.startswith(("skipped", "not computed")).any()
    assert table["break_even_rate"].notna().all()
