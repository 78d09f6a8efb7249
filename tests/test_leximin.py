"""Fair mode is leximin (design 4b); re-solves retry before reporting trouble (issue 15)."""

from __future__ import annotations

import highspy
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.tables import to_model_data
from exposure.workbook.validate import load_valid_workbook
from models import AllocationData, SolveStatus, build_model
from models import leximin as leximin_module
from models.allocation import Solution
from models.data import DEMAND_COLUMNS
from models.robust import RETRIES
from tests import workbooks
from tests.leximin_reference import leximin_levels, priority_optimum

TOL = 1e-6


def scarce_and_plentiful() -> AllocationData:
    """The worked example of models/README.md.

    DY: 12 t at 100 USD/t. P1 (sector S1, weight 1) and P2 (S2, weight 2: half the
    shortfall) want 10 units each of 1 t DY. TB: 8 t at 10 USD/t for P4 (10 units of
    1 t). NDPR: 100 t at 5 USD/t for P3 (10 units of 1 t), worth only 1 USD/unit.
    """
    return AllocationData(
        periods=["t1"],
        materials=pd.DataFrame(
            {
                "material": ["DY", "TB", "NDPR"],
                "initial_stock": [0.0] * 3,
                "min_stock": [0.0] * 3,
                "holding_cost": [0.0] * 3,
            }
        ),
        supply=pd.DataFrame(
            {
                "source": ["A", "C", "B"],
                "material": ["DY", "TB", "NDPR"],
                "period": ["t1"] * 3,
                "capacity": [12.0, 8.0, 100.0],
                "approval": [1.0] * 3,
                "unit_cost": [100.0, 10.0, 5.0],
            }
        ),
        demand=pd.DataFrame(
            [
                ("P1", "S1", "t1", 10.0, 1000.0, 0.0, 1.0),
                ("P2", "S2", "t1", 10.0, 500.0, 0.0, 2.0),
                ("P3", "S1", "t1", 10.0, 1.0, 0.0, 1.0),
                ("P4", "S1", "t1", 10.0, 100.0, 0.0, 1.0),
            ],
            columns=DEMAND_COLUMNS,
        ),
        intensity=pd.DataFrame(
            {
                "product": ["P1", "P2", "P3", "P4"],
                "material": ["DY", "DY", "NDPR", "TB"],
                "kg_per_unit": [1000.0] * 4,
            }
        ),
    )


def weighted_shortfall(solution: Solution, data: AllocationData) -> np.ndarray:
    """weight x (units - built) / units per product row, from the reported allocation."""
    units = solution.products["units"].to_numpy(float)
    built = solution.products["built"].to_numpy(float)
    weight = data.demand["weight"].to_numpy(float)
    out = np.zeros(units.size)
    real = units > 1e-6
    out[real] = weight[real] * (units[real] - built[real]) / units[real]
    return out


def descending(vector: np.ndarray) -> np.ndarray:
    return np.sort(vector)[::-1]


def lexicographically_no_worse(better: np.ndarray, worse: np.ndarray, tol: float = TOL) -> bool:
    """`better` <= `worse` in the leximin order (both sorted descending), within `tol`."""
    for b, w in zip(better, worse, strict=True):
        if b < w - tol:
            return True
        if b > w + tol:
            return False
    return True


def test_worked_example_by_hand():
    data = scarce_and_plentiful()
    model = build_model(data, "fair")
    solution = model.solve()
    assert solution.status is SolveStatus.OPTIMAL
    built = solution.products.set_index("product")["built"]
    # P1 and P2 share 12 t of DY with equal weighted shortfalls:
    # (10 - b1)/10 = 2 (10 - b2)/10 and b1 + b2 = 12  ->  b2 = 22/3, b1 = 14/3, level 8/15.
    assert built["P1"] == pytest.approx(14 / 3, abs=1e-6)
    assert built["P2"] == pytest.approx(22 / 3, abs=1e-6)
    # P4 is short of TB alone: 8 of 10, level 0.2. P3's NDPR is plentiful: served in full,
    # although it is worth less than it costs (shortfalls come before cost).
    assert built["P4"] == pytest.approx(8, abs=1e-6)
    assert built["P3"] == pytest.approx(10, abs=1e-6)
    levels = pd.Series(solution.shortfall_levels, index=solution.products["product"])
    assert levels.to_dict() == pytest.approx({"P1": 8 / 15, "P2": 8 / 15, "P3": 0, "P4": 0.2})
    assert solution.max_shortfall_share == pytest.approx(8 / 15)
    # lost 1000 (10 - 14/3) + 500 (10 - 22/3) + 100 x 2; bought 12 x 100 + 8 x 10 + 10 x 5
    cost = 1000 * 16 / 3 + 500 * 8 / 3 + 200 + 1200 + 80 + 50
    assert solution.objective_value == pytest.approx(cost, rel=1e-9)
    assert model.last_leximin is not None and model.last_leximin.rounds == 3


def test_plentiful_product_is_not_cut_to_the_worst_level():
    # One min-max level then cost built P3 only down to the worst level (8/15 short),
    # since P3 is worth less than its NDPR; leximin serves it in full.
    solution = build_model(scarce_and_plentiful(), "fair").solve()
    built = solution.products.set_index("product")["built"]
    assert built["P3"] == pytest.approx(10, abs=1e-6)
    assert weighted_shortfall(solution, scarce_and_plentiful()) == pytest.approx(
        [8 / 15, 8 / 15, 0, 0.2], abs=1e-6
    )


def test_one_at_a_time_test_gives_the_same_levels(monkeypatch: pytest.MonkeyPatch):
    expected = build_model(scarce_and_plentiful(), "fair").solve()
    monkeypatch.setattr(leximin_module, "BLOCKING_DUAL", np.inf)  # no dual ever blocks
    model = build_model(scarce_and_plentiful(), "fair")
    solution = model.solve()
    assert model.last_leximin is not None and model.last_leximin.item_tests > 0
    assert solution.shortfall_levels == pytest.approx(expected.shortfall_levels, abs=1e-9)
    assert solution.objective_value == pytest.approx(expected.objective_value, rel=1e-9)


def test_weights_above_one_are_feasible_with_nothing_to_build():
    # weight 2 and no DY at all: weighted shortfall 2 (mu was capped at 1 before).
    data = scarce_and_plentiful()
    data.supply["capacity"] = [0.0, 8.0, 100.0]
    solution = build_model(data, "fair").solve()
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.max_shortfall_share == pytest.approx(2.0)
    assert descending(solution.shortfall_levels) == pytest.approx([2, 1, 0.2, 0], abs=1e-9)


def test_zero_units_are_fixed_at_zero():
    data = scarce_and_plentiful()
    data.demand.loc[0, "units"] = 0.0
    solution = build_model(data, "fair").solve()
    assert solution.shortfall_levels[0] == 0.0
    # P2 alone on 12 t of DY: served in full
    assert solution.shortfall_levels[1] == pytest.approx(0, abs=1e-9)


def test_warm_fair_resolve_equals_a_cold_one():
    data = scarce_and_plentiful()
    model = build_model(data, "fair")
    model.solve()
    changed = scarce_and_plentiful()
    changed.supply["capacity"] = [15.0, 4.0, 100.0]
    model.update(changed)
    warm = model.solve()
    cold = build_model(changed, "fair").solve()
    assert warm.shortfall_levels == pytest.approx(cold.shortfall_levels, abs=1e-9)
    assert warm.objective_value == pytest.approx(cold.objective_value, rel=1e-9)
    quick = model.solve_quick()
    assert quick.shortfall_levels == pytest.approx(cold.shortfall_levels, abs=1e-9)
    assert quick.objective_value == pytest.approx(cold.objective_value, rel=1e-9)


# ------------------------------------------------------------------ retries (issue 15)
class Failing:
    """A `Highs` object whose next `failures` runs report `status` (then its own)."""

    def __init__(self, highs: highspy.Highs, failures: int, status: highspy.HighsModelStatus):
        self._highs = highs
        self.failures = failures
        self.status = status
        self.runs = 0
        self.cleared = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._highs, name)

    def run(self) -> object:
        self.runs += 1
        self._failing = self.runs <= self.failures
        return self._highs.run()

    def clearSolver(self) -> object:
        self.cleared += 1
        return self._highs.clearSolver()

    def getModelStatus(self) -> highspy.HighsModelStatus:
        return self.status if self._failing else self._highs.getModelStatus()


UNKNOWN = highspy.HighsModelStatus.kUnknown


@pytest.mark.parametrize("objective", ["priority", "fair"])
def test_a_failed_warm_resolve_is_retried_cold(objective: str):
    data = scarce_and_plentiful()
    expected = build_model(data, objective).solve()
    model = build_model(data, objective)
    model.solve()
    # In fair mode the leximin holds are first solved without presolve, then loosened.
    remedies = ["cold, presolve off"] + [
        f"holds loosened by {slack:g} x units" for slack in leximin_module.HOLD_SLACKS
    ]
    if objective == "priority":
        remedies = []
    failing = Failing(model.solvers["total_cost"], 1 + len(remedies), UNKNOWN)
    model.solvers["total_cost"] = failing  # type: ignore[assignment]
    solution = model.solve()
    assert solution.status is SolveStatus.OPTIMAL
    assert [r.split(": ")[1] for r in model.last_retries] == [*remedies, "cold"]
    assert failing.cleared == (2 if remedies else 1)
    # (holds loosened by up to 1e-6 of the units move the cost by that order)
    assert solution.objective_value == pytest.approx(expected.objective_value, rel=1e-6)


def test_trouble_is_reported_after_every_retry_and_options_are_restored():
    model = build_model(scarce_and_plentiful())
    highs = model.solvers["total_cost"]
    before = {k: highs.getOptionValue(k)[1] for k in ("presolve", "simplex_strategy", "solver")}
    failing = Failing(highs, 100, UNKNOWN)
    model.solvers["total_cost"] = failing  # type: ignore[assignment]
    solution = model.solve()
    assert solution.status is SolveStatus.NUMERICAL_TROUBLE
    assert failing.runs == 1 + len(RETRIES)
    assert [r.split(": ")[1] for r in model.last_retries] == [name for name, _ in RETRIES]
    after = {k: highs.getOptionValue(k)[1] for k in before}
    assert after == before
    assert "after retries" in solution.message


def test_a_time_limit_is_not_retried():
    model = build_model(scarce_and_plentiful(), "fair")
    failing = Failing(model.solvers["max_shortfall_share"], 1, highspy.HighsModelStatus.kTimeLimit)
    model.solvers["max_shortfall_share"] = failing  # type: ignore[assignment]
    solution = model.solve()
    assert solution.status is SolveStatus.TIME_LIMIT
    assert failing.runs == 1 and failing.cleared == 0
    assert model.last_retries == []


def test_fair_time_limit_of_zero_is_reported_and_does_not_leak():
    model = build_model(scarce_and_plentiful(), "fair", highs_options={"presolve": "off"})
    solution = model.solve(time_limit=0)
    assert solution.status is SolveStatus.TIME_LIMIT
    assert model.last_retries == []
    again = model.solve()
    assert again.status is SolveStatus.OPTIMAL
    assert again.max_shortfall_share == pytest.approx(8 / 15)


# ------------------------------------------------------------------ properties
PERIODS = ["t1", "t2"]
MATERIALS = ["M1", "M2"]
# Quantities are 0 or planning-sized: a capacity of 1e-309 t tests the solvers' round-off,
# not the leximin (the independent scipy computation then calls thin sets infeasible).
amount = st.one_of(st.just(0.0), st.floats(1, 100))
capacity = st.one_of(st.just(0.0), st.floats(0.01, 60))


@st.composite
def instances(draw: st.DrawFn, floors: bool = False) -> AllocationData:
    """Three products on two materials (M2 also made from M1), two periods, weights 0.5-2."""
    supply = [
        (s, m, t, draw(capacity), draw(st.sampled_from([0.3, 1.0])), draw(st.floats(0, 100)))
        for s in ("S1", "S2")
        for m in MATERIALS
        for t in PERIODS
    ]
    plants = [("P1", t, "M2", draw(capacity), 1.0, draw(st.floats(0, 10))) for t in PERIODS]
    weight = {"K0": draw(st.sampled_from([0.5, 1.0, 2.0])), "K1": 1.0}
    min_service = st.sampled_from([0.0, 0.5]) if floors else st.just(0.0)
    demand = [
        (j, f"K{i % 2}", t, draw(amount), draw(st.floats(1, 1e4)), draw(min_service), 0.0)
        for i, j in enumerate(["J1", "J2", "J3"])
        for t in PERIODS
    ]
    intensity = [
        (j, m, draw(st.one_of(st.just(0.0), st.floats(10, 2000))))
        for j in ("J1", "J2", "J3")
        for m in MATERIALS
    ]
    frame = pd.DataFrame(demand, columns=DEMAND_COLUMNS)
    frame["weight"] = frame["sector"].map(weight)
    return AllocationData(
        periods=PERIODS,
        materials=pd.DataFrame(
            {
                "material": MATERIALS,
                "initial_stock": [
                    draw(st.one_of(st.just(0.0), st.floats(0.01, 20))) for _ in MATERIALS
                ],
                "min_stock": [0.0, draw(st.sampled_from([0.0, 5.0])) if floors else 0.0],
                "holding_cost": [draw(st.floats(0, 5)) for _ in MATERIALS],
            }
        ),
        supply=pd.DataFrame(
            supply, columns=["source", "material", "period", "capacity", "approval", "unit_cost"]
        ),
        plants=pd.DataFrame(
            plants, columns=["plant", "period", "output", "capacity", "approval", "unit_cost"]
        ),
        recipes=pd.DataFrame(
            {"plant": ["P1"], "input": ["M1"], "t_per_t": [draw(st.floats(0.5, 2))]}
        ),
        demand=frame,
        intensity=pd.DataFrame(intensity, columns=["product", "material", "kg_per_unit"]),
    )


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.one_of(instances(), instances(floors=True)))
def test_leximin_equals_an_independent_computation(data: AllocationData):
    solution = build_model(data, "fair").solve()
    assert solution.status is SolveStatus.OPTIMAL
    expected = descending(leximin_levels(data))
    assert descending(weighted_shortfall(solution, data)) == pytest.approx(expected, abs=TOL)
    assert descending(solution.shortfall_levels) == pytest.approx(expected, abs=TOL)


@SETTINGS
@given(
    st.one_of(instances(), instances(floors=True)),
    st.integers(0, 7),
    st.floats(1.0, 3.0),
    st.booleans(),
)
def test_more_supply_never_makes_the_leximin_vector_worse(
    data: AllocationData, row: int, factor: float, approval: bool
):
    base = build_model(data, "fair").solve()
    more = AllocationData(**vars(data))
    more.supply = data.supply.copy()
    if approval:
        more.supply.loc[row, "approval"] = 1.0
    else:
        more.supply.loc[row, "capacity"] *= factor
    model = build_model(data, "fair")
    model.solve()
    model.update(more)  # warm, as the what-if commands do
    richer = model.solve()
    assert richer.violation <= base.violation + 1e-6
    # The soft floors come first (design 4): a lower violation may reorder shortfalls.
    if abs(base.violation - richer.violation) < 1e-9:
        assert lexicographically_no_worse(
            descending(weighted_shortfall(richer, more)),
            descending(weighted_shortfall(base, data)),
        )


@SETTINGS
@given(st.one_of(instances(), instances(floors=True)))
def test_priority_mode_is_the_lexicographic_optimum(data: AllocationData):
    solution = build_model(data, "priority").solve()
    violation, cost = priority_optimum(data)
    assert solution.shortfall_levels is None and solution.max_shortfall_share is None
    assert solution.violation == pytest.approx(violation, abs=1e-7)
    assert solution.objective_value == pytest.approx(cost, rel=1e-6, abs=1e-4)


# ------------------------------------------------------------------ reference workbook
def reference_with_sm_ox_approval(approval: float) -> AllocationData:
    """The first edition of the reference with CN-MOFCOM's SM_OX approval (Licences!D4) set.

    Issue 11's acceptance case: fair mode with D4 at 0.04 must lose no more than at 0.03 by
    the leximin order. The first edition has no lanes, so `leximin_reference` (the first
    release's LP) states it.
    """
    data = to_model_data(load_valid_workbook(workbooks.REFERENCE_FIRST_EDITION))
    licensed = (data.supply["material"] == "SM_OX") & (data.supply["approval"] < 1)
    assert licensed.any() and np.allclose(data.supply.loc[licensed, "approval"], 0.03)
    data.supply.loc[licensed, "approval"] = approval
    return data


def lost_value(solution: Solution) -> float:
    p = solution.products
    return float(((p["units"] - p["built"]) * p["value_per_unit"]).sum())


def test_reference_fair_mode_is_no_worse_with_more_sm_ox():
    low = reference_with_sm_ox_approval(0.03)
    high = reference_with_sm_ox_approval(0.04)
    at_low = build_model(low, "fair").solve()
    at_high = build_model(high, "fair").solve()
    assert at_low.status.ok and at_high.status.ok
    low_vector = descending(weighted_shortfall(at_low, low))
    high_vector = descending(weighted_shortfall(at_high, high))
    assert lexicographically_no_worse(high_vector, low_vector)
    assert lost_value(at_high) <= lost_value(at_low) * (1 + 1e-9)
    # and the leximin vector is the independent one
    assert low_vector == pytest.approx(descending(leximin_levels(low)), abs=TOL)


def test_reference_priority_mode_is_the_lexicographic_optimum():
    data = reference_with_sm_ox_approval(0.03)
    solution = build_model(data).solve()
    violation, cost = priority_optimum(data)
    assert solution.violation == pytest.approx(violation, abs=1e-7)
    assert solution.objective_value == pytest.approx(cost, rel=1e-9)


# ------------------------------------------------------------------ substitution (issue 14)
def solve_fair_with(
    monkeypatch: pytest.MonkeyPatch, data: AllocationData, *, substitute: bool, cold: bool
) -> Solution:
    with monkeypatch.context() as patch:
        patch.setattr(leximin_module, "SUBSTITUTE", substitute)
        patch.setattr(leximin_module, "COLD_ROUNDS", cold)
        return build_model(data, "fair").solve()


@SETTINGS
@given(st.one_of(instances(), instances(floors=True)))
def test_substituted_rounds_give_the_levels_of_the_stated_fair_rows(data: AllocationData):
    # The substitution (cold rounds with presolve) against the fair rows as stated, solved
    # warm round after round: the same leximin levels, item by item, and the same cost.
    with pytest.MonkeyPatch.context() as monkeypatch:
        stated = solve_fair_with(monkeypatch, data, substitute=False, cold=False)
        substituted = solve_fair_with(monkeypatch, data, substitute=True, cold=True)
    assert stated.status.ok and substituted.status.ok
    assert substituted.shortfall_levels == pytest.approx(stated.shortfall_levels, abs=TOL)
    assert weighted_shortfall(substituted, data) == pytest.approx(
        weighted_shortfall(stated, data), abs=TOL
    )
    assert substituted.objective_value == pytest.approx(stated.objective_value, rel=1e-6, abs=1e-4)


def test_low_weight_items_get_their_fair_rows_back(monkeypatch: pytest.MonkeyPatch):
    # No DY: P1 (weight 1) and P2 (weight 2) build nothing. Substituted, P1 would "build"
    # 10 - 10 x mu < 0 at mu = 4/3 and make DY for P2; it is put back in its fair row
    # and the round solved again, giving the stated levels 2 and 1.
    data = scarce_and_plentiful()
    data.supply["capacity"] = [0.0, 8.0, 100.0]
    model = build_model(data, "fair")
    solution = model.solve()
    assert model.last_leximin is not None and model.last_leximin.resolves >= 1
    levels = pd.Series(solution.shortfall_levels, index=solution.products["product"])
    assert levels.to_dict() == pytest.approx({"P1": 1, "P2": 2, "P3": 0, "P4": 0.2}, abs=1e-9)
    assert solution.products["built"].min() >= 0


def test_the_fair_object_is_the_stated_lp_after_a_solve():
    # The substitution rewrites mu's column and row bounds of the fair object only while
    # it works; update() and the cost phase must find the LP as built.
    model = build_model(scarce_and_plentiful(), "fair")
    fair = model.solvers["max_shortfall_share"]
    before = fair.getLp()
    model.solve()
    after = fair.getLp()
    assert np.array_equal(before.a_matrix_.start_, after.a_matrix_.start_)
    assert np.array_equal(before.a_matrix_.index_, after.a_matrix_.index_)
    assert np.array_equal(before.a_matrix_.value_, after.a_matrix_.value_)
    others = np.setdiff1d(np.arange(fair.getNumRow()), model.rows["fair_share"])
    assert np.array_equal(
        np.asarray(before.row_lower_)[others], np.asarray(after.row_lower_)[others]
    )
    assert np.array_equal(
        np.asarray(before.row_upper_)[others], np.asarray(after.row_upper_)[others]
    )


def test_a_round_that_presolve_calls_infeasible_runs_warm(monkeypatch: pytest.MonkeyPatch):
    expected = build_model(scarce_and_plentiful(), "fair").solve()
    real = leximin_module.run_cold
    failed: list[dict[str, object]] = []

    def cold_fails(
        highs: highspy.Highs, deadline: float | None, options: dict[str, object]
    ) -> tuple[SolveStatus, int]:
        status, iterations = real(highs, deadline, options)
        if not failed:
            failed.append(options)
            status = SolveStatus.INFEASIBLE
        return status, iterations

    model = build_model(scarce_and_plentiful(), "fair")
    model.solve()  # a basis to fall back on
    monkeypatch.setattr(leximin_module, "run_cold", cold_fails)
    solution = model.solve()
    assert failed and solution.status is SolveStatus.OPTIMAL
    # the cold round ran with presolve's forcing-row rule off
    assert int(failed[0]["presolve_rule_off"]) & leximin_module.FORCING_ROW
    assert any("cold with presolve: infeasible; warm" in r for r in model.last_retries)
    assert solution.shortfall_levels == pytest.approx(expected.shortfall_levels, abs=1e-9)


def test_a_probe_that_is_infeasible_is_not_run_again_warm():
    # P4 must get half its units (min_service 0.5). With TB cut from 8 t to 2 t the
    # re-solve's optimistic probe (violation held at 0) is infeasible: an expected answer,
    # reported by the cold first round without a warm second attempt.
    data = scarce_and_plentiful()
    data.demand.loc[3, "min_service"] = 0.5
    model = build_model(data, "fair")
    assert model.solve().violation == 0
    short = scarce_and_plentiful()
    short.demand.loc[3, "min_service"] = 0.5
    short.supply["capacity"] = [12.0, 2.0, 100.0]
    model.update(short)
    solution = model.solve()
    assert not any("warm" in r for r in model.last_retries)
    cold = build_model(short, "fair").solve()
    assert solution.violation == pytest.approx(cold.violation, abs=1e-9) and cold.violation > 0
    assert solution.shortfall_levels == pytest.approx(cold.shortfall_levels, abs=1e-9)


def test_a_stock_below_the_solver_tolerance_does_not_make_fair_mode_infeasible():
    """1e-7 t of Dy, nothing else to build with: the leximin holds sit at the tolerance.

    Found by hypothesis (tests/test_true_figures.py): the cost phase, every item held at its
    level, was infeasible after every retry until the holds could be loosened by 1e-6 of
    the units (HOLD_SLACKS), below planning precision as SMALLEST_ITEM is.
    """
    periods = ["t1", "t2"]
    supply = pd.DataFrame(
        [
            (source, material, period, 0.0, approval, 10.0)
            for period in periods
            for source, material, approval in (
                ("CNX", "DY", 0.5),
                ("AUS", "DY", 1.0),
                ("MAGX", "MAG", 1.0),
            )
        ],
        columns=["source", "material", "period", "capacity", "approval", "unit_cost"],
    )
    demand = pd.DataFrame(
        [
            (product, sector, period, 1.0, value, 0.0, 1.0)
            for product, sector, value in (
                ("P1", "S1", 2000.0),
                ("P2", "S2", 900.0),
                ("P3", "S2", 300.0),
            )
            for period in periods
        ],
        columns=["product", "sector", "period", "units", "value_per_unit", "min_service", "weight"],
    )
    data = AllocationData(
        periods=periods,
        materials=pd.DataFrame(
            {
                "material": ["DY", "MAG"],
                "initial_stock": [1e-7, 0.0],
                "min_stock": [0.0, 0.0],
                "holding_cost": [1.0, 0.5],
            }
        ),
        supply=supply,
        demand=demand,
        intensity=pd.DataFrame(
            {
                "product": ["P1", "P2", "P2", "P3"],
                "material": ["MAG", "MAG", "DY", "DY"],
                "kg_per_unit": [100.0, 500.0, 20.0, 300.0],
            }
        ),
        plants=pd.DataFrame(
            [("JPM", period, "MAG", 40.0, 0.5, 10.0) for period in periods],
            columns=["plant", "period", "output", "capacity", "approval", "unit_cost"],
        ),
        recipes=pd.DataFrame({"plant": ["JPM"], "input": ["DY"], "t_per_t": [0.05]}),
    )
    fair = build_model(data, "fair").solve()
    priority = build_model(data, "priority").solve()
    assert fair.status is SolveStatus.OPTIMAL
    # Next to nothing can be built either way: the same lost value to a millionth.
    assert fair.objective_value == pytest.approx(priority.objective_value, rel=1e-6)
