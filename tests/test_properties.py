"""Invariants of the allocation on random small instances (hypothesis).

Conservation of material, bounds respected, more supply or a higher approval
rate never makes things worse, row order never changes the optimum.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.analytics import compute_exposure
from models import AllocationData, build_model
from models.data import DEMAND_COLUMNS

PERIODS = ["t1", "t2"]
MATERIALS = ["M1", "M2"]

quantity = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)
rate = st.floats(min_value=0, max_value=1, allow_nan=False)
value = st.floats(min_value=1, max_value=1e6, allow_nan=False)


@st.composite
def instances(draw: st.DrawFn) -> AllocationData:
    supply = [
        (s, m, t, draw(quantity), draw(rate), draw(st.floats(0, 100)))
        for s in ("S1", "S2")
        for m in MATERIALS
        for t in PERIODS
    ]
    plants = [("P1", t, "M2", draw(quantity), draw(rate), draw(st.floats(0, 10))) for t in PERIODS]
    products = ["J1", "J2", "J3"]
    demand = [
        (j, f"K{i % 2}", t, draw(quantity), draw(value), draw(st.sampled_from([0.0, 0.5])), 1.0)
        for i, j in enumerate(products)
        for t in PERIODS
    ]
    intensity = [(j, m, draw(st.floats(0, 2000))) for j in products for m in MATERIALS]
    return AllocationData(
        periods=PERIODS,
        materials=pd.DataFrame(
            {
                "material": MATERIALS,
                "initial_stock": [draw(quantity) for _ in MATERIALS],
                "min_stock": [0.0, draw(st.sampled_from([0.0, 5.0]))],
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
            {"plant": ["P1"], "input": ["M1"], "t_per_t": [draw(st.floats(0, 3))]}
        ),
        demand=pd.DataFrame(
            demand,
            columns=DEMAND_COLUMNS,
        ),
        intensity=pd.DataFrame(intensity, columns=["product", "material", "kg_per_unit"]),
    )


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(instances())
def test_material_is_conserved_and_bounds_hold(data: AllocationData):
    solution = build_model(data).solve()
    assert solution.status.ok
    exposure = compute_exposure(solution, data)
    m = exposure.materials
    inflow = m["opening_stock"] + m["supplied"] + m["made"]
    outflow = m["used_by_plants"] + m["used_by_products"] + m["stock"]
    assert np.allclose(inflow, outflow, atol=1e-5 * (1 + inflow.abs().max()))
    tol = 1e-6
    assert (solution.supply["buy"] <= solution.supply["licensed_capacity"] * (1 + tol) + tol).all()
    assert (solution.plants["make"] <= solution.plants["licensed_capacity"] * (1 + tol) + tol).all()
    assert (solution.products["built"] <= solution.products["units"] + tol).all()
    assert (solution.materials["stock"] >= -tol).all()


@SETTINGS
@given(instances(), st.floats(1.0, 3.0), st.integers(0, 7))
def test_more_supply_never_makes_things_worse(data: AllocationData, factor: float, row: int):
    base = build_model(data).solve()
    more = AllocationData(**vars(data))
    more.supply = data.supply.copy()
    more.supply.loc[row, "capacity"] *= factor
    richer = build_model(more).solve()
    assert base.violation >= richer.violation - 1e-6
    if abs(base.violation - richer.violation) < 1e-9:
        assert richer.objective_value <= base.objective_value * (1 + 1e-6) + 1e-3


@SETTINGS
@given(instances(), st.integers(0, 7))
def test_higher_approval_never_raises_the_objective(data: AllocationData, row: int):
    base = build_model(data).solve()
    model = build_model(data)
    higher = AllocationData(**vars(data))
    higher.supply = data.supply.copy()
    higher.supply.loc[row, "approval"] = 1.0
    model.update(higher)
    warm = model.solve()
    assert base.violation >= warm.violation - 1e-6
    if abs(base.violation - warm.violation) < 1e-9:
        assert warm.objective_value <= base.objective_value * (1 + 1e-6) + 1e-3


@SETTINGS
@given(instances(), st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_optimum(data: AllocationData, random):
    base = build_model(data).solve()
    shuffled = AllocationData(**vars(data))
    for name in ("supply", "demand", "intensity"):
        frame = getattr(data, name)
        order = list(range(len(frame)))
        random.shuffle(order)
        setattr(shuffled, name, frame.iloc[order].reset_index(drop=True))
    other = build_model(shuffled).solve()
    assert other.violation == pytest.approx(base.violation, abs=1e-6)
    assert other.objective_value == pytest.approx(base.objective_value, rel=1e-6, abs=1e-3)


@SETTINGS
@given(instances(), st.integers(0, 7), rate)
def test_warm_resolve_equals_a_cold_solve(data: AllocationData, row: int, approval: float):
    model = build_model(data)
    model.solve()
    changed = AllocationData(**vars(data))
    changed.supply = data.supply.copy()
    changed.supply.loc[row, "approval"] = approval
    model.update(changed)
    warm = model.solve()
    cold = build_model(changed).solve()
    assert warm.violation == pytest.approx(cold.violation, abs=1e-6)
    assert warm.objective_value == pytest.approx(cold.objective_value, rel=1e-6, abs=1e-6)
