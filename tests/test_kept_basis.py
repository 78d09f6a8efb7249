"""A re-solve answered by the basis HiGHS already holds is the re-solve (models/kept_basis.py).

After an objective-only re-solve in priority mode the model keeps the optimal basis;
when only bounds move before the next one, and that basis is still optimal with them,
the answer is computed from it without a HiGHS run. These tests check, by hand and on
random instances, that such answers equal a HiGHS run (warm and cold), that steps which
need another basis are run, and that anything but bounds moving drops the kept basis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import AllocationData, SolveStatus, build_model
from models.data import DEMAND_COLUMNS
from tests.test_properties import instances

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def three_sources() -> AllocationData:
    """10 units of P need 1 t of DY each; A and B (4 t each) cost 10 USD/t, C 100 USD/t.

    Optimum: A and B used up, C fills in 2 t. Each extra tonne of A or B (up to 2 in all)
    saves 90 USD: one fewer tonne of C.
    """
    supply = pd.DataFrame(
        [
            ("A", "DY", "t1", 4.0, 1.0, 10.0),
            ("B", "DY", "t1", 4.0, 1.0, 10.0),
            ("C", "DY", "t1", 10.0, 1.0, 100.0),
        ],
        columns=["source", "material", "period", "capacity", "approval", "unit_cost"],
    )
    return AllocationData(
        periods=["t1"],
        materials=pd.DataFrame(
            {"material": ["DY"], "initial_stock": [0.0], "min_stock": [0.0], "holding_cost": [1.0]}
        ),
        supply=supply,
        demand=pd.DataFrame([("P", "S", "t1", 10.0, 1000.0, 0.0, 1.0)], columns=DEMAND_COLUMNS),
        intensity=pd.DataFrame({"product": ["P"], "material": ["DY"], "kg_per_unit": [1000.0]}),
    )


def with_capacity(data: AllocationData, capacity: list[float]) -> AllocationData:
    changed = AllocationData(**vars(data))
    changed.supply = data.supply.copy()
    changed.supply["capacity"] = capacity
    return changed


def test_a_step_inside_the_basis_is_answered_without_a_run_and_one_past_it_runs():
    data = three_sources()
    model = build_model(data)
    base = model.solve_quick(read_built=False)  # the run whose basis is kept
    assert base.status is SolveStatus.OPTIMAL
    approval = np.ones(3)

    # +1 t of A: C falls from 2 t to 1 t, the basis stays optimal: 90 USD saved, no run.
    model.set_capacities(np.array([5.0, 4.0, 10.0]), approval, np.zeros(0), np.zeros(0))
    inside = model.solve_quick(read_built=False)
    assert model.kept_answers == 1 and inside.kept_basis
    assert base.objective_value - inside.objective_value == pytest.approx(90.0)
    cold = build_model(with_capacity(data, [5.0, 4.0, 10.0])).solve()
    assert inside.objective_value == pytest.approx(cold.objective_value, rel=1e-12)

    # +3 t of A and +3 t of B would push C to -4 t: the basis must change, HiGHS runs.
    # C drops to 0 and only 2 of the 6 extra tonnes are used: 180 USD saved, not 540.
    model.set_capacities(np.array([7.0, 7.0, 10.0]), approval, np.zeros(0), np.zeros(0))
    past = model.solve_quick(read_built=False)
    assert model.kept_answers == 1 and not past.kept_basis
    assert base.objective_value - past.objective_value == pytest.approx(180.0)

    # Back to the base: the basis kept after that run (C out of it) is not optimal there.
    model.set_capacities(np.array([4.0, 4.0, 10.0]), approval, np.zeros(0), np.zeros(0))
    again = model.solve_quick(read_built=False)
    assert again.objective_value == pytest.approx(base.objective_value, rel=1e-12)


def test_a_shared_capacity_row_that_would_be_overrun_makes_the_step_run():
    """Source S has 10 t a period, shared by its defence and civil lanes, each licensed
    40% (4 t); C (100 USD/t) fills the rest. Licensing defence at 50% uses 1 t more of S
    (its row: 9 of 10 t): 90 USD saved, the basis kept. At 90% defence would want 9 t, but
    the shared row allows only 2 t more: 180 USD saved, not 450, and HiGHS must run."""
    supply = pd.DataFrame(
        [
            ("S", "DY", "t1", 10.0, 0.4, 10.0, "defence"),
            ("S", "DY", "t1", 10.0, 0.4, 10.0, "civil"),
            ("C", "DY", "t1", 100.0, 1.0, 100.0, "defence"),
            ("C", "DY", "t1", 100.0, 1.0, 100.0, "civil"),
        ],
        columns=["source", "material", "period", "capacity", "approval", "unit_cost", "lane"],
    )
    demand = pd.DataFrame(
        [("P1", "S1", "t1", 10.0, 1000.0, 0.0, 1.0), ("P2", "S2", "t1", 10.0, 1000.0, 0.0, 1.0)],
        columns=DEMAND_COLUMNS,
    )
    demand["lane"] = ["defence", "civil"]
    data = AllocationData(
        periods=["t1"],
        materials=pd.DataFrame(
            {"material": ["DY"], "initial_stock": [0.0], "min_stock": [0.0], "holding_cost": [1.0]}
        ),
        supply=supply,
        demand=demand,
        intensity=pd.DataFrame(
            {"product": ["P1", "P2"], "material": ["DY", "DY"], "kg_per_unit": [1000.0, 1000.0]}
        ),
    )
    model = build_model(data)
    assert model.structure.supply_groups == [[0, 1], [2, 3]]  # one shared row per source
    base = model.solve_quick(read_built=False)
    capacity = np.array([10.0, 10.0, 100.0, 100.0])
    model.set_capacities(capacity, np.array([0.5, 0.4, 1, 1]), np.zeros(0), np.zeros(0))
    inside = model.solve_quick(read_built=False)
    assert inside.kept_basis
    assert base.objective_value - inside.objective_value == pytest.approx(90.0)
    model.set_capacities(capacity, np.array([0.9, 0.4, 1, 1]), np.zeros(0), np.zeros(0))
    past = model.solve_quick(read_built=False)
    assert not past.kept_basis
    assert base.objective_value - past.objective_value == pytest.approx(180.0)


def test_only_bound_moves_are_answered_from_the_kept_basis():
    """A cost or coefficient change (`update`) and new bases drop the kept basis."""
    data = three_sources()
    model = build_model(data)
    model.solve_quick(read_built=False)
    cheaper = AllocationData(**vars(data))
    cheaper.supply = data.supply.copy()
    cheaper.supply.loc[2, "unit_cost"] = 50.0  # a cost: the reduced costs move
    model.update(cheaper)
    moved = model.solve_quick(read_built=False)
    assert model.kept_answers == 0 and not moved.kept_basis
    assert moved.objective_value == pytest.approx(build_model(cheaper).solve().objective_value)
    model.set_bases(model.bases())
    model.solve_quick(read_built=False)
    assert model.kept_answers == 0


def test_fair_mode_never_answers_from_a_kept_basis():
    model = build_model(three_sources(), "fair")
    model.solve_quick(read_built=False)
    model.set_capacities(np.array([5.0, 4.0, 10.0]), np.ones(3), np.zeros(0), np.zeros(0))
    model.solve_quick(read_built=False)
    assert model.kept_answers == 0


@SETTINGS
@given(
    instances(),
    st.lists(
        st.tuples(
            st.integers(0, 7),
            st.one_of(st.floats(0.98, 1.02), st.floats(0.5, 1.5)),
            st.one_of(st.none(), st.floats(0.0, 1.0)),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_kept_basis_answers_equal_cold_solves(
    data: AllocationData, steps: list[tuple[int, float, float | None]]
):
    """A sequence of capacity and approval moves, each re-solved objective-only (kept
    basis allowed), equals a model of the moved data solved cold."""
    model = build_model(data)
    base = model.solve()
    model.solve_quick(read_built=False)  # a basis to keep
    capacity = data.supply["capacity"].to_numpy(float)
    approval = data.supply["approval"].to_numpy(float)
    plant_capacity = data.plants["capacity"].to_numpy(float)
    plant_approval = data.plants["approval"].to_numpy(float)
    for row, scale, new_approval in steps:
        moved_capacity, moved_approval = capacity.copy(), approval.copy()
        moved_capacity[row] *= scale
        if new_approval is not None:
            moved_approval[row] = new_approval
        model.set_capacities(moved_capacity, moved_approval, plant_capacity, plant_approval)
        quick = model.solve_quick(read_built=False)
        changed = AllocationData(**vars(data))
        changed.supply = data.supply.copy()
        changed.supply["capacity"] = moved_capacity
        changed.supply["approval"] = moved_approval
        cold = build_model(changed).solve()
        assert quick.status.ok and cold.status.ok
        assert quick.violation == pytest.approx(cold.violation, abs=1e-6)
        assert quick.objective_value == pytest.approx(
            cold.objective_value, rel=1e-7, abs=1e-6 * max(1.0, abs(base.objective_value))
        )


def test_kept_basis_answers_a_sensitivity_batch_on_the_reference_workbook():
    """On the reference, most relief steps after the first need no HiGHS run (a test
    that the path is taken at all: its figures are checked in test_true_figures)."""
    from exposure.sensitivity import Resolver
    from exposure.tables import to_model_data
    from exposure.workbook.validate import load_valid_workbook
    from tests import workbooks

    data = to_model_data(load_valid_workbook(workbooks.REFERENCE))
    model = build_model(data)
    base = model.solve()
    resolver = Resolver(model, base)
    empty = np.zeros(0, dtype=int)
    steps = [
        resolver.capacity_step(np.array([row]), empty, fraction=0.5)
        for row in range(len(data.supply))
    ]
    resolver.measure_many(steps)
    assert model.kept_answers > 0
    assert resolver.kept_answers == model.kept_answers
