"""Exposure analytics checked against answers worked out by hand or by re-solving.

- shadow prices and supply values against finite differences of the objective;
- licence dependency and break-even approval rates against hand-solved workbooks;
- origin tracing through a magnet plant, with and without a mixed magnet pool;
- the results workbook: charts pointing at the right ranges, and the
  Licences, Origins, Why short and Binding sheets.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from exposure.analytics import compute_exposure
from exposure.origins import INITIAL_STOCK, origin_table
from exposure.pipeline import RunResult, run_workbook
from exposure.sensitivity import (
    BISECTION_STEPS,
    DUAL_METHOD,
    RESOLVE_METHOD,
    break_even_rate,
    licence_dependency,
    licence_table,
    solve_with,
    with_approval,
)
from models import AllocationData, SolveStatus, build_model
from tests import workbooks
from tests.test_model_paths import magnet_chain

BISECTION_RESOLUTION = 1 / 2**BISECTION_STEPS
DELTA = 0.1  # t: small enough to stay in the optimal basis of every instance below


# ------------------------------------------------------------------ helpers
def objective(data: AllocationData) -> float:
    """Objective (USD) of a freshly built and solved model of `data`."""
    solution = build_model(data).solve()
    assert solution.status is SolveStatus.OPTIMAL
    return solution.objective_value


def with_extra_supply(
    data: AllocationData, material: str, period: str, tonnes: float
) -> AllocationData:
    """A copy of `data` with a free, uncontrolled source of `tonnes` of `material` in `period`."""
    changed = copy.deepcopy(data)
    row = dict.fromkeys(changed.supply.columns)
    row.update(
        source="EXTRA",
        material=material,
        period=period,
        capacity=tonnes,
        approval=1.0,
        unit_cost=0.0,
    )
    changed.supply = pd.concat([changed.supply, pd.DataFrame([row])], ignore_index=True)
    return changed


def with_initial_stock(data: AllocationData, material: str, extra: float) -> AllocationData:
    changed = copy.deepcopy(data)
    rows = changed.materials["material"] == material
    changed.materials.loc[rows, "initial_stock"] += extra
    return changed


def with_capacity(data: AllocationData, row: int, extra: float) -> AllocationData:
    changed = copy.deepcopy(data)
    changed.supply.loc[row, "capacity"] += extra
    return changed


def two_periods_with_stock() -> AllocationData:
    """DY, 2 periods: 5 t initial stock (holding 10 USD/t/period), source A 3 t in t1, 2 t in t2
    at 100 USD/t. Product P uses 1 t/unit, wants 6 units per period, worth 1000 in t1, 800 in t2.

    By hand: t1 has 5 + 3 = 8 t, builds 6 and must carry 2 t (no disposal) to t2; t2 has
    2 + 2 = 4 t, builds 4, loses 2 x 800. Objective = 1600 + 5 x 100 + 2 x 10 = 2120.
    One more tonne in t2 builds one more unit there: saves 800. One more tonne in t1 (or of
    initial stock) is carried to t2 at 10 USD: saves 790. A tonne more of A's capacity saves
    the shadow price less its 100 USD cost: 690 in t1, 700 in t2.
    """
    return AllocationData(
        periods=["t1", "t2"],
        materials=pd.DataFrame(
            {
                "material": ["DY"],
                "initial_stock": [5.0],
                "min_stock": [0.0],
                "holding_cost": [10.0],
            }
        ),
        supply=pd.DataFrame(
            {
                "source": ["A", "A"],
                "material": ["DY", "DY"],
                "period": ["t1", "t2"],
                "capacity": [3.0, 2.0],
                "approval": [1.0, 1.0],
                "unit_cost": [100.0, 100.0],
            }
        ),
        demand=pd.DataFrame(
            {
                "product": ["P", "P"],
                "sector": ["S", "S"],
                "period": ["t1", "t2"],
                "units": [6.0, 6.0],
                "value_per_unit": [1000.0, 800.0],
                "min_service": [0.0, 0.0],
                "weight": [1.0, 1.0],
            }
        ),
        intensity=pd.DataFrame({"product": ["P"], "material": ["DY"], "kg_per_unit": [1000.0]}),
    )


def solved_workbook(sheets: workbooks.Sheets, path: Path) -> RunResult:
    """Solve a workbook through the real pipeline (regimes, licence rows), writing nothing."""
    return run_workbook(workbooks.write(sheets, path), None, sensitivities=False)


def floor_workbook() -> workbooks.Sheets:
    """tiny() with sector S2 at min_service 0.5, AU capacity 2 t and CN approval 0.6.

    By hand: 2 + 6 = 8 t. The P2 floor (5 units = 5 t) is met first, the other 3 t go to P1
    (1000 USD > 500). The floor holds while 2 + 10 x rate >= 5: break-even rate 0.3.
    """
    sheets = workbooks.tiny()
    sheets["Sectors"][2] = ["S2", None, 0.5, None]
    sheets["Supply"][2] = ["AUS", "DY", None, 2, 100]
    sheets["Licences"][1] = ["CN", "DY", None, 0.6]
    return sheets


# ------------------------------------ 1. values of one more tonne vs independent re-solves
def test_magnet_chain_values_of_one_more_tonne_match_independent_re_solves():
    # By hand: 1 t of Dy makes 100 t of magnet (0.01 t/t) = 100 motors of 10 USD, all costs 0.
    # One more t of DY saves 1000, of MAG 10; NdPr is slack (50 of 100 t used): 0.
    data = magnet_chain()
    model = build_model(data)
    solution = model.solve()
    base = solution.objective_value
    assert base == pytest.approx(400 * 10)  # 400 of 500 motors lost
    exposure = compute_exposure(solution, data, model)
    materials = exposure.materials.set_index("material")
    assert materials["value_of_1t"].to_dict() == pytest.approx(
        {"NDPR": 0.0, "DY": 1000.0, "MAG": 10.0}, abs=1e-6
    )
    assert set(materials["value_method"]) <= {RESOLVE_METHOD, DUAL_METHOD}
    for material in ("NDPR", "DY", "MAG"):
        more = objective(with_extra_supply(data, material, "t1", 1.0))
        assert materials.loc[material, "value_of_1t"] == pytest.approx(base - more, abs=1e-6)
    # The same through initial stock.
    more = objective(with_initial_stock(data, "DY", 1.0))
    assert materials.loc["DY", "value_of_1t"] == pytest.approx(base - more)

    # Binding: B's Dy supply is exhausted; +1% of it (0.01 t) makes 1 more motor: 10 USD.
    binding = exposure.binding.set_index("item")
    relief = binding.loc["DY supply from B", "value_of_relief"]
    assert relief == pytest.approx(10)
    assert relief == pytest.approx(base - objective(with_capacity(data, 1, 0.01)))
    assert "NDPR supply from A" not in binding.index  # not at its limit
    # The model is left holding the base numbers.
    assert model.solve().objective_value == pytest.approx(base)


def test_two_period_shadow_prices_match_finite_differences():
    data = two_periods_with_stock()
    solution = build_model(data).solve()
    base = solution.objective_value
    assert base == pytest.approx(2120)
    prices = solution.materials.set_index("period")["balance_dual"]
    assert prices["t1"] == pytest.approx(790, rel=1e-6)
    assert prices["t2"] == pytest.approx(800, rel=1e-6)
    for period in ("t1", "t2"):
        perturbed = objective(with_extra_supply(data, "DY", period, DELTA))
        assert prices[period] == pytest.approx(-(perturbed - base) / DELTA, rel=1e-6)
    # Initial stock enters the t1 balance.
    perturbed = objective(with_initial_stock(data, "DY", DELTA))
    assert prices["t1"] == pytest.approx(-(perturbed - base) / DELTA, rel=1e-6)

    # The reported values are re-solves, and the duals agree with them here (V* = 0,
    # one tonne stays inside the basis): 790 in t1 (carried at 10 USD), 800 in t2.
    model = build_model(data)
    exposure = compute_exposure(model.solve(), data, model)
    values = exposure.materials.set_index("period")["value_of_1t"]
    assert values.to_dict() == pytest.approx({"t1": 790, "t2": 800})
    # Priority mode, every floor met, one tonne inside the basis's range: HiGHS ranging
    # proves the dual equal to the re-solve, so none was needed for these two.
    assert set(exposure.materials["value_method"]) == {DUAL_METHOD}
    # A's capacity binds in both periods; +1% of it at once (0.03 t in t1, 0.02 t in t2)
    # is worth (790 - 100) x 0.03 + (800 - 100) x 0.02 = 34.7 USD.
    binding = exposure.binding.set_index("item")
    assert binding.loc["DY supply from A", "value_of_relief"] == pytest.approx(34.7)
    both = with_capacity(with_capacity(data, 0, 0.03), 1, 0.02)
    assert binding.loc["DY supply from A", "value_of_relief"] == pytest.approx(
        base - objective(both)
    )


# ------------------------------------------------------------ 2. licence dependency
def test_licence_dependency_of_tiny_and_model_restored(tmp_path: Path):
    # By hand: base P1 10, P2 3 (13 t). CN at 0: 10 t from AU all to P1 -> P1 10, P2 0.
    # S1 keeps 10 000 of 10 000 USD (dependency 0), S2 loses 1 500 of 1 500 (dependency 1).
    run = solved_workbook(workbooks.tiny(), tmp_path / "tiny.xlsx")
    model, base = run.model, run.solution
    base_data = model.data
    by_sector, by_product = licence_dependency(model, base)

    sectors = by_sector.set_index(["sector", "regime"])
    assert sectors.loc[("S1", "CN"), "built_value"] == pytest.approx(10_000)
    assert sectors.loc[("S1", "CN"), "built_value_without_regime"] == pytest.approx(10_000)
    assert sectors.loc[("S1", "CN"), "licence_dependency"] == pytest.approx(0, abs=1e-9)
    assert sectors.loc[("S2", "CN"), "built_value"] == pytest.approx(1_500)
    assert sectors.loc[("S2", "CN"), "built_value_without_regime"] == pytest.approx(0, abs=1e-6)
    assert sectors.loc[("S2", "CN"), "licence_dependency"] == pytest.approx(1)
    products = by_product.set_index(["product", "regime"])["licence_dependency"]
    assert products[("P1", "CN")] == pytest.approx(0, abs=1e-9)
    assert products[("P2", "CN")] == pytest.approx(1)

    # The model holds the base data again: same data and the same optimum on a re-solve.
    assert model.data is base_data
    again = model.solve()
    assert again.objective_value == pytest.approx(base.objective_value)
    assert list(again.products["built"]) == pytest.approx([10, 3])


def test_value_of_one_point_of_approval_matches_a_re_solve(tmp_path: Path):
    # By hand: +1 pp of CN approval = +0.1 t, built as P2 (500) at 50 USD/t: 45 USD.
    run = solved_workbook(workbooks.tiny(), tmp_path / "tiny.xlsx")
    model, base = run.model, run.solution
    table = licence_table(model, base, break_even=False)
    assert len(table) == 1
    assert table.loc[0, "value_of_1pp"] == pytest.approx(45)
    higher = solve_with(model, with_approval(run.data, "CN", 0.31, "DY", "t1"))
    assert base.objective_value - higher.objective_value == pytest.approx(45)
    model.update(run.data)


# ------------------------------------------------------------- 3. break-even rates
def _check_break_even(run: RunResult, rate: float, criterion_broken) -> None:
    """Solve 0.01 below and above `rate`: below must break the criterion, above must not."""
    model, data = run.model, run.data
    try:
        below = solve_with(model, with_approval(data, "CN", rate - 0.01, "DY", "t1"))
        above = solve_with(model, with_approval(data, "CN", rate + 0.01, "DY", "t1"))
    finally:
        model.update(data)
    assert criterion_broken(below)
    assert not criterion_broken(above)


def test_break_even_rate_with_a_min_service_floor(tmp_path: Path):
    run = solved_workbook(floor_workbook(), tmp_path / "floor.xlsx")
    base = run.solution
    built = base.products.set_index("product")["built"]
    assert built["P1"] == pytest.approx(3)  # the floor of P2 is met first
    assert built["P2"] == pytest.approx(5)
    assert base.violation == pytest.approx(0, abs=1e-6)

    rate, criterion = break_even_rate(run.model, "CN", "DY", "t1", base)
    assert run.model.solve().objective_value == pytest.approx(base.objective_value)  # restored
    assert criterion == "min_service"
    assert rate == pytest.approx(0.3, abs=BISECTION_RESOLUTION + 1e-9)

    def floor_missed(solution) -> bool:
        p2 = solution.products.set_index("product")["built"]["P2"]
        return solution.violation > 1e-6 and p2 < 5 - 1e-6

    _check_break_even(run, rate, floor_missed)
    # licence_table reports the same, and the model is left at the base data.
    table = licence_table(run.model, base)
    assert table.loc[0, "criterion"] == "min_service"
    assert table.loc[0, "break_even_rate"] == pytest.approx(rate)
    # One more licensed tonne goes to P1 (1000 USD) at 50 USD: 950/t x 10 t / 100 = 95 per pp.
    assert table.loc[0, "value_of_1pp"] == pytest.approx(95)
    assert run.model.solve().objective_value == pytest.approx(base.objective_value)


def test_break_even_rate_without_a_floor(tmp_path: Path):
    # By hand (tiny): at rate r, P2 gets 10r t, lost value = 500 (10 - 10r) = 5000 - 5000r.
    # Base (r = 0.3) loses 3500; +1% is 3535, reached at r = (5000 - 3535) / 5000 = 0.293.
    run = solved_workbook(workbooks.tiny(), tmp_path / "tiny.xlsx")
    base = run.solution
    rate, criterion = break_even_rate(run.model, "CN", "DY", "t1", base)
    assert run.model.solve().objective_value == pytest.approx(base.objective_value)  # restored
    assert criterion == "lost_value+1%"
    assert rate == pytest.approx(0.293, abs=BISECTION_RESOLUTION + 1e-9)

    def lost_value(solution) -> float:
        products = solution.products
        return float(((products["units"] - products["built"]) * products["value_per_unit"]).sum())

    _check_break_even(run, rate, lambda s: lost_value(s) > 3500 * 1.01)
    assert run.model.solve().objective_value == pytest.approx(base.objective_value)


# --------------------------------------------------------------- 4. origin tracing
def with_countries(data: AllocationData, supply: list[str], plants: list[str]) -> AllocationData:
    data = copy.deepcopy(data)
    data.supply["country"] = supply
    data.plants["country"] = plants
    return data


def origins_of(data: AllocationData) -> dict[tuple[str, str, str, str], float]:
    solution = build_model(data).solve()
    assert solution.status is SolveStatus.OPTIMAL
    table = origin_table(solution, data)
    assert (table["period"] == "t1").all()
    return {
        (r.sector, r.via, r.material, r.country): r.tonnes
        for r in table.itertuples()
        if r.tonnes > 1e-9
    }


def test_origins_through_a_magnet_plant():
    # A: NdPr from AU, B: Dy from CN, plant P in JP makes 100 t of magnet (Dy-limited) for
    # 100 motors of 1 t. Magnet reaching EV: 100 t from JP containing 0.5 x 100 = 50 t
    # of AU NdPr and 0.01 x 100 = 1 t of CN Dy.
    data = with_countries(magnet_chain(), ["AU", "CN"], ["JP"])
    assert origins_of(data) == pytest.approx(
        {
            ("EV", "MAG", "MAG", "JP"): 100.0,
            ("EV", "MAG", "NDPR", "AU"): 50.0,
            ("EV", "MAG", "DY", "CN"): 1.0,
        }
    )


def test_origins_of_a_mixed_magnet_pool_are_proportional():
    # As above plus 300 t of magnet bought directly from CN, and a second sector WIND
    # (2 t of magnet per turbine, 30 USD = 15 USD/t, served first) wanting 100 turbines.
    # Pool: 100 t JP + 300 t CN = 400 t: 25% JP, 75% CN, and per tonne 0.125 t AU NdPr
    # (50/400) and 0.0025 t CN Dy (1/400). WIND takes 200 t, EV the other 200 t (200 of
    # 300 motors). Each sector: MAG JP 50, MAG CN 150, NdPr AU 25, Dy CN 0.5.
    data = magnet_chain()
    data.supply = pd.DataFrame(
        {
            "source": ["A", "B", "C"],
            "material": ["NDPR", "DY", "MAG"],
            "period": ["t1"] * 3,
            "capacity": [100.0, 1.0, 300.0],
            "approval": [1.0] * 3,
            "unit_cost": [1.0, 1.0, 1.0],
            "country": ["AU", "CN", "CN"],
        }
    )
    data.plants["country"] = ["JP"]
    data.demand = pd.DataFrame(
        {
            "product": ["MOTOR", "TURBINE"],
            "sector": ["EV", "WIND"],
            "period": ["t1", "t1"],
            "units": [300.0, 100.0],
            "value_per_unit": [10.0, 30.0],
            "min_service": [0.0, 0.0],
            "weight": [1.0, 1.0],
        }
    )
    data.intensity = pd.DataFrame(
        {"product": ["MOTOR", "TURBINE"], "material": ["MAG", "MAG"], "kg_per_unit": [1000, 2000]}
    )
    expected = {}
    for sector in ("EV", "WIND"):
        expected[sector, "MAG", "MAG", "JP"] = 50.0
        expected[sector, "MAG", "MAG", "CN"] = 150.0
        expected[sector, "MAG", "NDPR", "AU"] = 25.0
        expected[sector, "MAG", "DY", "CN"] = 0.5
    assert origins_of(data) == pytest.approx(expected)


def test_origins_carry_stock_between_periods():
    # two_periods_with_stock with A in AU. t1 pool: 5 t initial stock + 3 t AU (5/8, 3/8);
    # 6 t used: 3.75 initial, 2.25 AU. The 2 t carried keep that mix (1.25 initial, 0.75 AU)
    # and meet 2 t more from AU in t2: 4 t used, 1.25 initial and 2.75 AU.
    data = two_periods_with_stock()
    data.supply["country"] = ["AU", "AU"]
    solution = build_model(data).solve()
    table = origin_table(solution, data)
    tonnes = table.set_index(["period", "country"])["tonnes"].to_dict()
    assert tonnes == pytest.approx(
        {
            ("t1", INITIAL_STOCK): 3.75,
            ("t1", "AU"): 2.25,
            ("t2", INITIAL_STOCK): 1.25,
            ("t2", "AU"): 2.75,
        }
    )


# ------------------------------------------------------------- 5-6. results workbook
@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("results")
    tiny = workbooks.write(workbooks.tiny(), folder / "tiny.xlsx")
    out = folder / "tiny-results.xlsx"
    run_workbook(tiny, out)
    return out


def _column_range(sheet, header: str) -> str:
    """`'Sheet'!$X$2:$X$<last>` of the column headed `header` in row 1 of `sheet`."""
    headers = [cell.value for cell in sheet[1]]
    letter = get_column_letter(headers.index(header) + 1)
    return f"'{sheet.title}'!${letter}$2:${letter}${sheet.max_row}"


def category_range(series) -> str:
    """The formula of a series' categories (openpyxl writes them as a numRef, Excel as strRef)."""
    reference = series.cat.numRef or series.cat.strRef
    return reference.f


def test_summary_charts_point_at_the_data(tiny_results: Path):
    book = load_workbook(tiny_results)
    charts = book["Summary"]._charts
    assert len(charts) == 3
    titles = ["".join(run.t for p in c.title.tx.rich.p for run in p.r) for c in charts]
    assert titles == [
        "Value service level by sector",
        "Lost value by sector",
        "Supply by origin country",
    ]

    totals = book["Sector totals"]
    assert totals.max_row == 3  # header + S1, S2
    sectors = _column_range(totals, "sector")
    for chart, column in zip(charts[:2], ["value_service_level", "lost_value"], strict=True):
        assert len(chart.series) == 1
        assert chart.series[0].val.numRef.f == _column_range(totals, column)
        assert category_range(chart.series[0]) == sectors

    by_country = book["Supply by country"]
    assert [c.value for c in by_country[1]] == ["country", "DY"]
    assert by_country.max_row == 3  # header + AU, CN
    (series,) = charts[2].series
    assert series.val.numRef.f == _column_range(by_country, "DY")
    assert category_range(series) == _column_range(by_country, "country")
    # ... and the cells they point at hold what was bought: AU 10 t, CN 3 t.
    by_country_frame = pd.read_excel(tiny_results, "Supply by country")
    bought = dict(zip(by_country_frame["country"], by_country_frame["DY"], strict=True))
    assert bought == pytest.approx({"AU": 10, "CN": 3})
    levels = pd.read_excel(tiny_results, "Sector totals").set_index("sector")
    assert levels.loc["S1", "value_service_level"] == pytest.approx(1)
    assert levels.loc["S2", "value_service_level"] == pytest.approx(0.3)
    assert levels.loc["S2", "lost_value"] == pytest.approx(3500)
    # Systemic (re-solve with CN at 0): S1 keeps everything, S2 loses everything.
    assert levels.loc["S2", "licence_dependency_systemic_CN"] == pytest.approx(1)
    assert levels.loc["S1", "licence_dependency_systemic_CN"] == pytest.approx(0)
    # Direct (traced): the one Dy pool holds 3 CN-licensed tonnes of 13, whoever uses it.
    assert levels.loc["S1", "licence_dependency_direct_CN"] == pytest.approx(3 / 13)
    assert levels.loc["S2", "licence_dependency_direct_CN"] == pytest.approx(3 / 13)


def test_licences_origins_and_why_short_sheets(tiny_results: Path):
    sheets = pd.read_excel(tiny_results, sheet_name=["Licences", "Origins", "Why short"])

    licences = sheets["Licences"]
    assert len(licences) == 1
    row = licences.iloc[0]
    assert (row["regime"], row["material"], row["period"]) == ("CN", "DY", "t1")
    assert row["approval_rate"] == pytest.approx(0.3)
    assert row["licensed_t"] == pytest.approx(3)
    assert row["used_t"] == pytest.approx(3)
    assert row["value_of_1pp"] == pytest.approx(45)  # (500 - 50) USD/t x 10 t / 100
    assert row["break_even_rate"] == pytest.approx(0.293, abs=BISECTION_RESOLUTION + 1e-9)
    assert row["criterion"] == "lost_value+1%"
    assert row["approval_cell"] == "Licences!D2"

    # One DY pool of 10 t AU + 3 t CN: every tonne is 10/13 AU and 3/13 CN.
    # S1 uses 10 t, S2 3 t.
    origins = sheets["Origins"].set_index(["sector", "country"])["tonnes"]
    assert origins.to_dict() == pytest.approx(
        {
            ("S1", "AU"): 100 / 13,
            ("S1", "CN"): 30 / 13,
            ("S2", "AU"): 30 / 13,
            ("S2", "CN"): 9 / 13,
        }
    )
    assert set(sheets["Origins"]["via"]) == {"DY"}

    # P2 is short (7 units, 3500 USD) because DY (one more tonne: one more P2, 500 USD) is
    # limited by the CN licence (Licences!D2: +1 pp = 0.1 t x (500 - 50) = 45 USD) and by
    # AU's capacity (Supply!D3: +1% = 0.1 t x (500 - 100) = 40 USD), ranked by that value.
    why = sheets["Why short"]
    assert set(why["product"]) == {"P2"}
    assert (why["material"] == "DY").all()
    assert why["value_of_1t"].to_numpy() == pytest.approx(500)
    assert why["lost_units"].to_numpy() == pytest.approx(7)
    assert list(why["input_cell"]) == ["Licences!D2", "Supply!D3"]
    assert list(why["value_of_relief"]) == pytest.approx([45, 40])
    licence = why[why["input_cell"] == "Licences!D2"]["limited_by"].iloc[0]
    assert "CNX" in licence and "CN" in licence and "3.0 t" in licence


def test_binding_sheet_ranks_limits_by_the_value_of_relieving_them(tiny_results: Path):
    # Both sources are used up. +1 pp of the CN licence ships 0.1 t more, worth
    # 500 - 50 = 450 USD/t: 45 USD; +1% of AU's 10 t is 0.1 t at 500 - 100: 40 USD.
    binding = pd.read_excel(tiny_results, "Binding")
    assert list(binding["item"]) == ["CN licence for DY", "DY supply from AUS"]
    assert list(binding["value_of_relief"]) == pytest.approx([45, 40])
    assert list(binding["constraint"]) == ["licence", "supply_limit"]
    assert binding.loc[0, "reading"].startswith(
        "the CN licence for DY is used to its licensed limit in every period; "
        "+1 pp of approval would save USD 45"
    )
    assert binding.loc[1, "input_cell"] == "Supply!D3"
    assert "dual" not in " ".join(binding["reading"])


def licensed_plant_workbook() -> workbooks.Sheets:
    """Plant JPM (JP, regime JP at 50%) makes MAG from AU NdPr: 100 t capacity, 50 t licensed.

    By hand: 500 motors of 1 t magnet wanted at 10 USD; 50 t of magnet can ship, so 450 are
    lost. One more licensed tonne saves 10 - 1 (plant) - 0.5 x 1 (NdPr) = 8.5 USD.
    """
    return {
        "Periods": [["period", "label"], ["t1", None]],
        "Materials": [
            ["material", "name", "form", "initial_stock", "min_stock", "holding_cost"],
            ["NDPR", None, "oxide", 0, 0, 0],
            ["MAG", None, "magnet", 0, 0, 0],
        ],
        "Regimes": [["regime", "name", "authority"], ["JP", "Japan exports", "METI"]],
        "Licences": [["regime", "material", "period", "approval_rate"], ["JP", "MAG", None, 0.5]],
        "Sources": [["source", "country", "regime", "name"], ["AUS", "AU", None, None]],
        "Supply": [
            ["source", "material", "period", "capacity", "unit_cost"],
            ["AUS", "NDPR", None, 1000, 1],
        ],
        "Plants": [
            ["plant", "country", "output", "capacity", "regime", "unit_cost"],
            ["JPM", "JP", "MAG", 100, "JP", 1],
        ],
        "Recipes": [["plant", "input", "t_per_t"], ["JPM", "NDPR", 0.5]],
        "Sectors": [["sector", "name", "min_service", "weight"], ["EV", None, None, None]],
        "Demand": [
            ["sector", "product", "period", "units", "value_per_unit"],
            ["EV", "MOTOR", None, 500, 10],
        ],
        "Intensity": [["product", "material", "kg_per_unit"], ["MOTOR", "MAG", 1000]],
    }


def test_why_short_names_the_licence_of_a_licensed_plant(tmp_path: Path):
    run = run_workbook(workbooks.write(licensed_plant_workbook(), tmp_path / "plant.xlsx"))
    why = run.exposure.why_short
    assert set(why["product"]) == {"MOTOR"}
    assert why["lost_units"].to_numpy() == pytest.approx(450)
    assert why["value_of_1t"].to_numpy() == pytest.approx(10)  # one more magnet, one more motor
    # The licence (Licences!D2, JP's approval_rate) limits it: +1 pp is 1 t more, 8.5 USD/t.
    cells = dict(zip(why["input_cell"], why["value_of_relief"], strict=True))
    assert cells == pytest.approx({"Licences!D2": 8.5})
    # Without JP's licence nothing is made: the EV sector depends on it entirely.
    by_sector, _ = licence_dependency(run.model, run.solution)
    assert by_sector.set_index("regime").loc["JP", "licence_dependency"] == pytest.approx(1)


def test_break_even_rates_past_the_budget_are_marked_skipped(tmp_path: Path):
    from exposure.sensitivity import licence_table

    result = run_workbook(
        workbooks.write(workbooks.tiny(), tmp_path / "b.xlsx"), None, sensitivities=False
    )
    table = licence_table(result.model, result.solution, budget_seconds=-1.0)
    assert table["break_even_rate"].isna().all()
    assert table["criterion"].str.startswith("skipped").all()
