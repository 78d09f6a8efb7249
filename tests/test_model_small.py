"""Hand-checkable optima of the allocation LP, called on the model layer directly."""

import pandas as pd
import pytest

from models import AllocationData, SolveStatus, build_model


def one_material(approval_b: float = 0.3, min_service_p2: float = 0.0) -> AllocationData:
    """One material, two sources, two products using 1 t each.

    Source A: 10 t at 100 USD/t, uncontrolled. Source B: 10 t at 50 USD/t,
    licensed at `approval_b`. P1 is worth 1000 USD/unit, P2 500 USD/unit,
    10 units of each wanted.
    """
    return AllocationData(
        periods=["t1"],
        materials=pd.DataFrame(
            {"material": ["DY"], "initial_stock": [0.0], "min_stock": [0.0], "holding_cost": [0.0]}
        ),
        supply=pd.DataFrame(
            {
                "source": ["A", "B"],
                "material": ["DY", "DY"],
                "period": ["t1", "t1"],
                "capacity": [10.0, 10.0],
                "approval": [1.0, approval_b],
                "unit_cost": [100.0, 50.0],
            }
        ),
        demand=pd.DataFrame(
            {
                "product": ["P1", "P2"],
                "sector": ["S1", "S2"],
                "period": ["t1", "t1"],
                "units": [10.0, 10.0],
                "value_per_unit": [1000.0, 500.0],
                "min_service": [0.0, min_service_p2],
                "weight": [1.0, 1.0],
            }
        ),
        intensity=pd.DataFrame(
            {"product": ["P1", "P2"], "material": ["DY", "DY"], "kg_per_unit": [1000.0, 1000.0]}
        ),
    )


def test_priority_serves_the_more_valuable_product_first():
    solution = build_model(one_material()).solve()
    assert solution.status is SolveStatus.OPTIMAL
    built = solution.products.set_index("product")["built"]
    # 13 t available: P1 gets 10, P2 gets the remaining 3.
    assert built["P1"] == pytest.approx(10)
    assert built["P2"] == pytest.approx(3)
    # lost 7 x 500 + purchases 10 x 100 + 3 x 50
    assert solution.objective_value == pytest.approx(3500 + 1000 + 150)
    # one more tonne would build one more P2: worth 500 USD
    assert solution.materials["balance_dual"].iloc[0] == pytest.approx(500)


def test_fair_mode_shares_the_shortfall_equally():
    solution = build_model(one_material(), "fair").solve()
    built = solution.products.set_index("product")["built"]
    assert solution.max_shortfall_share == pytest.approx(0.35, abs=1e-6)
    assert built["P1"] == pytest.approx(6.5, abs=1e-4)
    assert built["P2"] == pytest.approx(6.5, abs=1e-4)
