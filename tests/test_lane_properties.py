"""Invariants of the lane model on random small instances (hypothesis, issue 12).

Material is conserved in every pool (m, t, l), counted independently of the model from
buys, leads, makes and use; no lane receives more than its licences allow; a lane-specific
Licences row that repeats the general rate changes nothing; and data without lanes give
the optimum of an independent scipy statement of the first release's LP.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.tables import to_model_data
from exposure.workbook.validate import load_valid_workbook
from models import AllocationData, build_model
from tests import workbooks
from tests.leximin_reference import priority_optimum
from tests.test_properties import instances

PERIODS = ["t1", "t2", "t3"]
MATERIALS = ["M1", "M2"]
LANES = ["civil", "defence"]
TOL = 1e-6

quantity = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)
rate = st.floats(min_value=0, max_value=1, allow_nan=False)
lead = st.sampled_from([0.0, 0.5, 1.0, 1.25, 3.0])


@st.composite
def lane_instances(draw: st.DrawFn) -> AllocationData:
    """Two lanes sharing two sources and one plant (M1 -> M2), with leads per lane."""
    supply = []
    for s in ("S1", "S2"):
        for m in MATERIALS:
            for t in PERIODS:
                capacity, cost = draw(quantity), draw(st.floats(0, 100))
                for lane in LANES:
                    supply.append((s, m, t, lane, capacity, draw(rate), cost, draw(lead)))
    plants = []
    for t in PERIODS:
        capacity, cost = draw(quantity), draw(st.floats(0, 10))
        for lane in LANES:
            plants.append(("P1", t, lane, "M2", capacity, draw(rate), cost, draw(lead)))
    products = [("J1", "K0", "civil"), ("J2", "K1", "defence"), ("J3", "K0", "defence")]
    demand = [
        (j, k, t, lane, draw(quantity), draw(st.floats(1, 1e4)), 0.0, 1.0)
        for j, k, lane in products
        for t in PERIODS
    ]
    intensity = [(j, m, draw(st.floats(0, 2000))) for j, _, _ in products for m in MATERIALS]
    return AllocationData(
        periods=PERIODS,
        materials=pd.DataFrame(
            {
                "material": MATERIALS,
                "initial_stock": [draw(quantity) for _ in MATERIALS],
                "min_stock": [0.0, draw(st.sampled_from([0.0, 5.0]))],
                "holding_cost": [draw(st.floats(0, 5)) for _ in MATERIALS],
                "terminal_value": [draw(st.floats(0, 5)) for _ in MATERIALS],
            }
        ),
        supply=pd.DataFrame(
            supply,
            columns=[
                "source",
                "material",
                "period",
                "lane",
                "capacity",
                "approval",
                "unit_cost",
                "lead",
            ],
        ),
        plants=pd.DataFrame(
            plants,
            columns=[
                "plant",
                "period",
                "lane",
                "output",
                "capacity",
                "approval",
                "unit_cost",
                "lead",
            ],
        ),
        recipes=pd.DataFrame(
            {"plant": ["P1"], "input": ["M1"], "t_per_t": [draw(st.floats(0, 3))]}
        ),
        demand=pd.DataFrame(
            demand,
            columns=[
                "product",
                "sector",
                "period",
                "lane",
                "units",
                "value_per_unit",
                "min_service",
                "weight",
            ],
        ),
        intensity=pd.DataFrame(intensity, columns=["product", "material", "kg_per_unit"]),
    )


SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _arrivals(frame: pd.DataFrame, amount: str, material: str) -> dict:
    """Tonnes arriving per (material, period, lane) from dispatches with leads (design 3a)."""
    totals: dict[tuple[str, str, str], float] = {}
    for m, t, lane, tonnes, lag in zip(
        frame[material], frame["period"], frame["lane"], frame[amount], frame["lead"], strict=True
    ):
        whole, fraction = math.floor(lag), lag - math.floor(lag)
        for offset, share in ((whole, 1 - fraction), (whole + 1, fraction)):
            arrival = PERIODS.index(t) + offset
            if share > 0 and arrival < len(PERIODS):
                key = (m, PERIODS[arrival], lane)
                totals[key] = totals.get(key, 0.0) + share * tonnes
    return totals


@SETTINGS
@given(lane_instances())
def test_material_is_conserved_in_every_lane(data: AllocationData):
    solution = build_model(data).solve()
    assert solution.status.ok
    supply, plants, products = solution.supply, solution.plants, solution.products
    arrived = _arrivals(supply, "buy", "material")
    for key, tonnes in _arrivals(plants, "make", "output").items():
        arrived[key] = arrived.get(key, 0.0) + tonnes
    used: dict[tuple[str, str, str], float] = {}

    def use(key: tuple[str, str, str], tonnes: float) -> None:
        used[key] = used.get(key, 0.0) + tonnes

    kg = data.intensity.groupby("product")
    for j, t, lane, built in zip(
        products["product"], products["period"], products["lane"], products["built"], strict=True
    ):
        for m, k in zip(kg.get_group(j)["material"], kg.get_group(j)["kg_per_unit"], strict=True):
            use((m, t, lane), k / 1000 * built)
    t_per_t = dict(zip(data.recipes["input"], data.recipes["t_per_t"], strict=True))
    for t, lane, make in zip(plants["period"], plants["lane"], plants["make"], strict=True):
        for m, ratio in t_per_t.items():
            use((m, t, lane), ratio * make)
    stock = solution.materials.set_index(["material", "period", "lane"])["stock"].to_dict()
    scale = 1 + max(abs(v) for v in stock.values())
    initial = data.materials.set_index("material")["initial_stock"]
    for m in MATERIALS:
        opening_total = 0.0
        for lane in LANES:
            previous = None
            for t in PERIODS:
                key = (m, t, lane)
                inflow = arrived.get(key, 0.0) - used.get(key, 0.0)
                if previous is None:
                    opening = stock[key] - inflow  # the lane's share of the initial stock
                    assert opening >= -1e-5 * scale
                    opening_total += opening
                else:
                    assert stock[key] == pytest.approx(previous + inflow, abs=1e-5 * scale)
                previous = stock[key]
        assert opening_total == pytest.approx(initial[m], abs=1e-5 * scale)


@SETTINGS
@given(lane_instances())
def test_no_lane_receives_more_than_its_licences_allow(data: AllocationData):
    solution = build_model(data).solve()
    supply = solution.supply
    allowed = data.supply["capacity"] * data.supply["approval"]
    assert (supply["buy"] <= allowed * (1 + TOL) + TOL).all()
    shared = supply.groupby(["source", "material", "period"])["buy"].sum()
    capacity = data.supply.groupby(["source", "material", "period"])["capacity"].first()
    assert (shared <= capacity * (1 + TOL) + TOL).all()
    plants = solution.plants
    assert (plants["make"] <= data.plants["capacity"] * data.plants["approval"] + TOL).all()
    assert (
        plants.groupby("period")["make"].sum() <= plants.groupby("period")["capacity"].first() + TOL
    ).all()


@SETTINGS
@given(lane_instances(), st.integers(0, 23), rate)
def test_warm_resolve_with_lanes_equals_a_cold_solve(data: AllocationData, row: int, approval):
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


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_data_without_lanes_give_the_first_release_optimum(data: AllocationData):
    violation, cost = priority_optimum(data)
    solution = build_model(data).solve()
    assert solution.violation == pytest.approx(violation, abs=1e-6)
    assert solution.objective_value == pytest.approx(cost, rel=1e-6, abs=1e-3)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    approval=rate,
    end_use=st.sampled_from(["defence", "civil"]),
    period=st.sampled_from([None, "t1"]),
)
def test_a_lane_row_repeating_the_general_rate_changes_nothing(approval, end_use, period, tmp_path):
    sectors = [["sector", "end_use"], ["S1", "defence"], ["S2", None]]
    general = ["CN", "DY", None, approval, None]
    header = ["regime", "material", "period", "approval_rate", "end_use"]
    plain = workbooks.variant(Sectors=sectors, Licences=[header, general])
    repeated = workbooks.variant(
        Sectors=sectors, Licences=[header, general, ["CN", "DY", period, approval, end_use]]
    )
    results = []
    for name, sheets in (("plain", plain), ("repeated", repeated)):
        data = to_model_data(
            load_valid_workbook(workbooks.write(sheets, tmp_path / f"{name}.xlsx"))
        )
        solution = build_model(data).solve()
        results.append((solution.objective_value, solution.supply["buy"].to_numpy()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-9)
    assert np.allclose(results[0][1], results[1][1])
