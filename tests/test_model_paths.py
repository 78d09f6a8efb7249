"""Hand-checkable optima on chains, stock and plants; every solver status path."""

import numpy as np
import pandas as pd
import pytest

from models import AllocationData, SolveStatus, build_model
from models.allocation import StructureChangedError
from models.data import DEMAND_COLUMNS
from tests.test_model_small import one_material


def magnet_chain(dy_capacity: float = 1.0) -> AllocationData:
    """A plant makes 1 t of magnet from 0.5 t NdPr and 0.01 t Dy; Dy is the bottleneck.

    NdPr: 100 t available. Dy: `dy_capacity` t. Plant capacity 1000 t.
    One product needs 1 t of magnet per unit (kg_per_unit 1000), 500 units wanted,
    worth 10 USD each. Dy of 1 t makes 100 t of magnet -> 100 units.
    """
    return AllocationData(
        periods=["t1"],
        materials=pd.DataFrame(
            {
                "material": ["NDPR", "DY", "MAG"],
                "initial_stock": [0.0, 0.0, 0.0],
                "min_stock": [0.0, 0.0, 0.0],
                "holding_cost": [0.0, 0.0, 0.0],
            }
        ),
        supply=pd.DataFrame(
            {
                "source": ["A", "B"],
                "material": ["NDPR", "DY"],
                "period": ["t1", "t1"],
                "capacity": [100.0, dy_capacity],
                "approval": [1.0, 1.0],
                "unit_cost": [0.0, 0.0],
            }
        ),
        plants=pd.DataFrame(
            {
                "plant": ["P"],
                "period": ["t1"],
                "output": ["MAG"],
                "capacity": [1000.0],
                "approval": [1.0],
                "unit_cost": [0.0],
            }
        ),
        recipes=pd.DataFrame(
            {"plant": ["P", "P"], "input": ["NDPR", "DY"], "t_per_t": [0.5, 0.01]}
        ),
        demand=pd.DataFrame(
            {
                "product": ["MOTOR"],
                "sector": ["EV"],
                "period": ["t1"],
                "units": [500.0],
                "value_per_unit": [10.0],
                "min_service": [0.0],
                "weight": [1.0],
            }
        ),
        intensity=pd.DataFrame(
            {"product": ["MOTOR"], "material": ["MAG"], "kg_per_unit": [1000.0]}
        ),
    )


def test_dy_is_the_bottleneck_of_a_magnet_plant():
    solution = build_model(magnet_chain()).solve()
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.plants["make"].iloc[0] == pytest.approx(100)
    assert solution.products["built"].iloc[0] == pytest.approx(100)
    prices = solution.materials.set_index("material")["balance_dual"]
    # one more tonne of Dy makes 100 t of magnet = 100 motors x 10 USD
    assert prices["DY"] == pytest.approx(1000)
    assert prices["NDPR"] == pytest.approx(0, abs=1e-9)


def two_periods(initial_stock: float, holding_cost: float = 0.0) -> AllocationData:
    """Stock carried: nothing can be bought in t2, so t1 purchases must carry over."""
    data = one_material(approval_b=1.0)
    data.periods = ["t1", "t2"]
    data.materials["initial_stock"] = initial_stock
    data.materials["holding_cost"] = holding_cost
    supply = data.supply.copy()
    supply["capacity"] = [20.0, 0.0]
    supply2 = supply.assign(period="t2", capacity=[0.0, 0.0])
    data.supply = pd.concat([supply, supply2], ignore_index=True)
    demand = data.demand.copy()
    data.demand = pd.concat([demand, demand.assign(period="t2")], ignore_index=True)
    return data


def test_stock_is_carried_between_periods():
    # 20 t in t1 + 5 t initial; 10 units of P1 in each period use 10 t each.
    solution = build_model(two_periods(initial_stock=5.0)).solve()
    built = solution.products.set_index(["product", "period"])["built"]
    assert built["P1", "t1"] == pytest.approx(10)
    assert built["P1", "t2"] == pytest.approx(10)
    assert built["P2", "t1"] + built["P2", "t2"] == pytest.approx(5)
    stock = solution.materials.set_index("period")["stock"]
    assert stock["t2"] == pytest.approx(0, abs=1e-7)


def test_time_limit_of_zero_is_not_a_success():
    # Presolve alone solves so small a model, so it is switched off here.
    model = build_model(magnet_chain(), highs_options={"presolve": "off"})
    solution = model.solve(time_limit=0)
    assert solution.status is SolveStatus.TIME_LIMIT
    assert not solution.status.ok
    assert np.isnan(solution.objective_value)
    # The option does not leak into the next solve.
    assert model.solve().status is SolveStatus.OPTIMAL


def test_negative_initial_stock_is_infeasible():
    # The validator refuses negative stock; the model layer reports it honestly.
    data = one_material()
    data.materials["initial_stock"] = -5.0
    data.supply["capacity"] = 0.0
    assert build_model(data).solve().status is SolveStatus.INFEASIBLE


def test_unlimited_paid_supply_is_unbounded():
    data = one_material()
    data.supply["capacity"] = [np.inf, 10.0]
    data.supply["unit_cost"] = [-1.0, 50.0]
    status = build_model(data).solve().status
    assert status in (SolveStatus.UNBOUNDED, SolveStatus.INFEASIBLE)
    assert not status.ok


def test_min_service_is_met_before_more_valuable_output():
    # P2 must get 60% of its 10 units: 6 t of 13, P1 gets the other 7.
    solution = build_model(one_material(min_service_p2=0.6)).solve()
    built = solution.products.set_index("product")["built"]
    assert built["P2"] == pytest.approx(6)
    assert built["P1"] == pytest.approx(7)
    assert solution.violation == pytest.approx(0, abs=1e-6)


def test_unreachable_min_service_is_reported_not_hidden():
    # Only 5 t: P2's floor of 10 units is missed by half, and all 5 t go to P2.
    data = one_material(approval_b=0.0, min_service_p2=1.0)
    data.supply["capacity"] = [5.0, 10.0]
    solution = build_model(data).solve()
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.violation == pytest.approx(0.5, abs=1e-6)
    soft = solution.soft.set_index("item")
    assert soft.loc["P2", "shortfall"] == pytest.approx(5, abs=1e-5)
    built = solution.products.set_index("product")["built"]
    assert built["P2"] == pytest.approx(5)
    # the violation cap keeps a 1e-7 slack against round-off
    assert built["P1"] == pytest.approx(0, abs=1e-5)


def test_values_from_a_phone_to_an_aircraft_solve_to_optimality():
    """Values per unit span 1e1..1e8 USD while costs are dollars per kg."""
    data = AllocationData(
        periods=["q1", "q2", "q3", "q4"],
        materials=pd.DataFrame(
            {
                "material": ["NDFEB", "SMCO", "DY"],
                "initial_stock": [10.0, 0.5, 0.1],
                "min_stock": [0.0, 0.0, 0.0],
                "holding_cost": [0.5, 1.0, 2.0],
            }
        ),
        supply=pd.DataFrame(
            [
                (s, m, t, cap, appr, cost)
                for t in ["q1", "q2", "q3", "q4"]
                for s, m, cap, appr, cost in [
                    ("CN", "NDFEB", 5000.0, 0.4, 49_000.0),
                    ("JP", "NDFEB", 800.0, 1.0, 80_000.0),
                    ("CN", "SMCO", 2.0, 0.1, 150_000.0),
                    ("CN", "DY", 30.0, 0.25, 224_000.0),
                ]
            ],
            columns=["source", "material", "period", "capacity", "approval", "unit_cost"],
        ),
        demand=pd.DataFrame(
            [
                (j, k, t, units, value, 0.0, 1.0)
                for t in ["q1", "q2", "q3", "q4"]
                for j, k, units, value in [
                    ("PHONE", "PHONES", 3.0e8, 40.0),
                    ("EV", "EV", 1.5e6, 45_000.0),
                    ("F35", "DEFENCE", 40.0, 1.0e8),
                    ("MISSILE", "DEFENCE", 5000.0, 2.0e6),
                ]
            ],
            columns=DEMAND_COLUMNS,
        ),
        intensity=pd.DataFrame(
            [
                ("PHONE", "NDFEB", 0.00019),
                ("EV", "NDFEB", 2.0),
                ("EV", "DY", 0.03),
                ("F35", "SMCO", 23.0),
                ("MISSILE", "SMCO", 0.5),
                ("MISSILE", "NDFEB", 1.0),
            ],
            columns=["product", "material", "kg_per_unit"],
        ),
    )
    solution = build_model(data).solve()
    assert solution.status is SolveStatus.OPTIMAL
    built = solution.products.groupby("product")["built"].sum()
    # SmCo: 0.2 t/quarter licensed + 0.5 t stock = 1.3 t; aircraft (4.3 MUSD/kg of SmCo)
    # outrank missiles (4 MUSD/kg), so all 160 aircraft (3.68 t) cannot be met: all SmCo
    # goes to aircraft: 1.3 t / 23 kg = 56.5 aircraft.
    assert built["F35"] == pytest.approx(1300 / 23, rel=1e-6)
    assert built["MISSILE"] == pytest.approx(0, abs=1e-6)
    # the objective agrees with the solution it reports
    lost = (
        (solution.products["units"] - solution.products["built"])
        * solution.products["value_per_unit"]
    ).sum()
    costs = (solution.supply["buy"] * solution.supply["unit_cost"]).sum()
    holding = (
        solution.materials["stock"]
        * solution.materials["material"].map({"NDFEB": 0.5, "SMCO": 1.0, "DY": 2.0})
    ).sum()
    assert solution.objective_value == pytest.approx(lost + costs + holding, rel=1e-9)


def test_update_refuses_a_change_of_structure():
    model = build_model(one_material())
    with pytest.raises(StructureChangedError):
        model.update(one_material(min_service_p2=0.5))


def test_warm_update_equals_a_cold_build():
    model = build_model(magnet_chain(dy_capacity=1.0))
    model.solve()
    changed = magnet_chain(dy_capacity=2.5)
    changed.recipes["t_per_t"] = [0.6, 0.02]
    changed.demand["value_per_unit"] = [12.0]
    model.update(changed)
    warm = model.solve()
    cold = build_model(changed).solve()
    assert warm.objective_value == pytest.approx(cold.objective_value, rel=1e-9, abs=1e-6)
    assert warm.products["built"].iloc[0] == pytest.approx(125)


def test_floors_that_become_unreachable_after_an_update_are_still_reported():
    # Solved first with every floor met (the next solve tries the cap at zero first),
    # then supply drops below P2's floor: the optimistic solve is infeasible and the
    # phases run in full.
    model = build_model(one_material(min_service_p2=1.0))
    first = model.solve()
    assert first.violation == pytest.approx(0, abs=1e-9)
    scarce = one_material(min_service_p2=1.0)
    scarce.supply["capacity"] = [5.0, 10.0]
    scarce.supply["approval"] = [1.0, 0.0]
    model.update(scarce)
    warm = model.solve()
    cold = build_model(scarce).solve()
    assert warm.violation == pytest.approx(0.5, abs=1e-6)
    assert warm.violation == pytest.approx(cold.violation, abs=1e-9)
    assert warm.objective_value == pytest.approx(cold.objective_value, rel=1e-9)
    # and back: the floor is reachable again
    model.update(one_material(min_service_p2=1.0))
    assert model.solve().objective_value == pytest.approx(first.objective_value, rel=1e-9)
