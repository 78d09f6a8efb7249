"""Lanes, licensing delays, restrictions, variants and terminal value (issue 12, design 3a/3b).

Every expected number is worked out by hand in the test's comment.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from exposure.analytics import compute_exposure
from exposure.scenarios import Engine, apply_edits, run_whatif, scenario_edits
from exposure.tables import to_model_data
from exposure.workbook.validate import check_workbook, load_valid_workbook
from models import build_model
from tests import workbooks

# The LP of the code before lanes existed (commit 6f1d6b0), measured on the same inputs:
# a workbook without the new columns must give exactly that LP and optimum (design 3).
OLD_LP = {
    ("reference", "priority"): (175, 37, 293, 48932290061.28577, 1.054648275862069),
    ("reference", "fair"): (176, 89, 397, 228031185322.75018, 1.054648275862069),
    ("tiny", "priority"): (5, 1, 5, 4650.0, 0.0),
    ("tiny", "fair"): (6, 3, 9, 6400.0, 0.0),
}


def _workbook(name: str, tmp_path: Path) -> Path:
    if name == "reference":
        return workbooks.REFERENCE_FIRST_EDITION
    return workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")


@pytest.mark.parametrize(("name", "mode"), sorted(OLD_LP))
def test_workbook_without_new_columns_builds_the_old_lp(name, mode, tmp_path):
    data = to_model_data(load_valid_workbook(_workbook(name, tmp_path)))
    assert data.lanes == ["civil"]
    model = build_model(data, mode)
    solution = model.solve()
    cols, rows, nonzeros, objective, violation = OLD_LP[name, mode]
    assert (model.highs.getNumCol(), model.highs.getNumRow(), model.highs.getNumNz()) == (
        cols,
        rows,
        nonzeros,
    )
    assert solution.objective_value == pytest.approx(objective, rel=1e-9)
    assert solution.violation == pytest.approx(violation, rel=1e-7, abs=1e-9)


# ------------------------------------------------------------ hand-checked workbooks
def _solve(sheets: workbooks.Sheets, tmp_path: Path, mode: str = "priority"):
    data = to_model_data(load_valid_workbook(workbooks.write(sheets, tmp_path / "w.xlsx")))
    model = build_model(data, mode)
    solution = model.solve()
    assert solution.status.ok
    return data, model, solution


def _defence_sectors() -> list[list]:
    return [
        ["sector", "name", "min_service", "weight", "end_use"],
        ["S1", None, None, None, "defence"],
        ["S2", None, None, None, None],
    ]


def test_defence_is_refused_while_civil_is_served_from_the_same_source(tmp_path):
    # CN approves 30% in general and nothing for defence. AUS has 5 t. P1 (defence, 1000
    # USD/unit) can use only AUS: 5 units. P2 (civil, 500) gets CN's 3 t: 3 units.
    # Lost 5 x 1000 + 7 x 500 = 8500; bought 5 x 100 + 3 x 50 = 650; objective 9150.
    # (Without lanes P1 would get all 8 t.)
    sheets = workbooks.variant(
        Sectors=_defence_sectors(),
        Licences=[
            ["regime", "material", "period", "approval_rate", "end_use"],
            ["CN", "DY", None, 0.3, None],
            ["CN", "DY", None, 0.0, "defence"],
        ],
        Supply=[
            ["source", "material", "period", "capacity", "unit_cost"],
            ["CNX", "DY", None, 10, 50],
            ["AUS", "DY", None, 5, 100],
        ],
    )
    data, _, solution = _solve(sheets, tmp_path)
    assert data.lanes == ["defence", "civil"]
    buy = solution.supply.set_index(["source", "lane"])["buy"]
    assert buy["CNX", "defence"] == pytest.approx(0)
    assert buy["CNX", "civil"] == pytest.approx(3)
    assert buy["AUS", "defence"] == pytest.approx(5)
    assert buy["AUS", "civil"] == pytest.approx(0)
    built = solution.products.set_index("product")["built"]
    assert built.to_dict() == pytest.approx({"P1": 5, "P2": 3})
    assert solution.objective_value == pytest.approx(9150)
    # The defence lane's licence is the defence row (Licences row 3), civil's the general one.
    licence = data.with_cells("supply", ("approval",)).set_index(["source", "lane"])[
        "approval_cell"
    ]
    assert licence["CNX", "defence"] == "Licences!D3"
    assert licence["CNX", "civil"] == "Licences!D2"


def test_a_licensing_delay_moves_tonnes_into_the_next_period_and_drops_those_past_the_horizon(
    tmp_path,
):
    # CN approves everything with lead 0.5: half of a dispatch arrives in its own period,
    # half in the next. P1 wants 10 units (1 t each) per period. t1: dispatch 10, 5 arrive,
    # 5 units built. t2: 5 from t1 plus half of t2's 10 = 10 units. Half of t2's dispatch
    # (5 t) is still in licensing at the end. Lost 5 x 1000; bought 20 x 50; objective 6000.
    sheets = workbooks.variant(
        Periods=[["period"], ["t1"], ["t2"]],
        Licences=[
            ["regime", "material", "period", "approval_rate", "lead_periods"],
            ["CN", "DY", None, 1.0, 0.5],
        ],
        Supply=[
            ["source", "material", "period", "capacity", "unit_cost"],
            ["CNX", "DY", None, 10, 50],
        ],
        Demand=[
            ["sector", "product", "period", "units", "value_per_unit"],
            ["S1", "P1", None, 10, 1000],
        ],
        Intensity=[["product", "material", "kg_per_unit"], ["P1", "DY", 1000]],
    )
    _, _, solution = _solve(sheets, tmp_path)
    built = solution.products.set_index("period")["built"]
    assert built.to_dict() == pytest.approx({"t1": 5, "t2": 10})
    supply = solution.supply.set_index("period")
    assert supply["buy"].to_dict() == pytest.approx({"t1": 10, "t2": 10})
    assert supply["in_licensing"].to_dict() == pytest.approx({"t1": 0, "t2": 5})
    assert solution.objective_value == pytest.approx(6000)
    materials = solution.materials.set_index("period")
    assert materials["supplied"].to_dict() == pytest.approx({"t1": 5, "t2": 10})


def test_a_restriction_forces_defence_onto_non_chinese_supply_at_a_higher_cost(tmp_path):
    # CN approves everything; defence P1 wants 10 t, civil P2 5 t. Cheapest without the
    # restriction: CN 10 t + AU 5 t = 500 + 500. With Chinese DY barred from defence,
    # defence takes AU's 10 t (1000) and civil CN's 5 t (250): 250 USD more.
    base = workbooks.variant(
        Sectors=_defence_sectors(),
        Licences=[["regime", "material", "period", "approval_rate"], ["CN", "DY", None, 1.0]],
        Demand=[
            ["sector", "product", "period", "units", "value_per_unit"],
            ["S1", "P1", None, 10, 1000],
            ["S2", "P2", None, 5, 500],
        ],
    )
    _, _, free = _solve(base, tmp_path)
    restricted = dict(
        base,
        Restrictions=[
            ["material", "origin", "end_use", "market", "note"],
            ["DY", "CN", "defence", None, "no Chinese Dy in defence"],
        ],
    )
    data, _, solution = _solve(restricted, tmp_path)
    assert free.objective_value == pytest.approx(1000)
    assert solution.objective_value == pytest.approx(1250)
    buy = solution.supply.set_index(["source", "lane"])["buy"]
    assert buy["CNX", "defence"] == pytest.approx(0)
    assert buy["AUS", "defence"] == pytest.approx(10)
    assert buy["CNX", "civil"] == pytest.approx(5)
    cells = data.with_cells("supply", ("restriction",)).set_index(["source", "lane"])[
        "restriction_cell"
    ]
    assert cells["CNX", "defence"] == "Restrictions!B2"


def test_a_restriction_applies_from_its_period_on(tmp_path):
    sheets = workbooks.variant(
        Periods=[["period"], ["t1"], ["t2"]],
        Sectors=_defence_sectors(),
        Restrictions=[
            ["material", "origin", "end_use", "from_period"],
            ["DY", "CN", "defence", "t2"],
        ],
    )
    data, _, _ = _solve(sheets, tmp_path)
    rows = data.supply[(data.supply["source"] == "CNX") & (data.supply["lane"] == "defence")]
    assert rows.set_index("period")["approval"].to_dict() == {"t1": 0.3, "t2": 0.0}


def _variant_book(extra_cost: float, max_share: float = 1.0, capacity: float = 10):
    # Only AUS (100 USD/t). Standard P1 needs 1 t per unit, variant gbd 0.5 t.
    return workbooks.variant(
        Supply=[
            ["source", "material", "period", "capacity", "unit_cost"],
            ["AUS", "DY", None, capacity, 100],
        ],
        Demand=[
            ["sector", "product", "period", "units", "value_per_unit"],
            ["S1", "P1", None, 10, 1000],
        ],
        Intensity=[
            ["product", "material", "kg_per_unit", "variant"],
            ["P1", "DY", 1000, None],
            ["P1", "DY", 500, "gbd"],
        ],
        Variants=[
            ["product", "variant", "extra_cost_per_unit", "max_share"],
            ["P1", "gbd", extra_cost, max_share],
        ],
    )


@pytest.mark.parametrize(
    ("extra_cost", "gbd_units", "objective"),
    # gbd saves 0.5 t x 100 USD/t = 50 USD per unit: chosen below 50, not above.
    [(40.0, 10.0, 10 * 50 + 10 * 40), (60.0, 0.0, 10 * 100)],
)
def test_a_variant_is_chosen_exactly_when_its_extra_cost_is_below_what_it_saves(
    extra_cost, gbd_units, objective, tmp_path
):
    _, _, solution = _solve(_variant_book(extra_cost), tmp_path)
    units = solution.variants.set_index("variant")["built"]
    assert units["gbd"] == pytest.approx(gbd_units)
    assert units["standard"] == pytest.approx(10 - gbd_units)
    assert solution.objective_value == pytest.approx(objective)


def test_a_variant_is_capped_by_its_max_share_and_saves_scarce_material(tmp_path):
    # 6 t for 10 units: at most 3 units gbd (1.5 t), the other 4.5 t build 4.5 standard:
    # 7.5 units. Lost 2.5 x 1000, bought 600, gbd 3 x 200: 3700.
    _, _, solution = _solve(_variant_book(200.0, max_share=0.3, capacity=6), tmp_path)
    units = solution.variants.set_index("variant")["built"]
    assert units.to_dict() == pytest.approx({"standard": 4.5, "gbd": 3.0})
    assert solution.objective_value == pytest.approx(2500 + 600 + 600)


@pytest.mark.parametrize(("terminal_value", "built", "objective"), [(0, 5, 2500), (600, 0, 2000)])
def test_terminal_value_keeps_stock(terminal_value, built, objective, tmp_path):
    # 5 t of DY in stock, no supply; P2 is worth 500 USD per t. Left as stock at 600 USD/t it
    # is worth more: lost 10 x 500 - 5 x 600 = 2000; otherwise 5 units lost: 2500.
    sheets = workbooks.variant(
        Materials=[
            ["material", "initial_stock", "terminal_value"],
            ["DY", 5, terminal_value],
        ],
        Supply=[
            ["source", "material", "period", "capacity", "unit_cost"],
            ["AUS", "DY", None, 0, 100],
        ],
        Demand=[
            ["sector", "product", "period", "units", "value_per_unit"],
            ["S2", "P2", None, 10, 500],
        ],
        Intensity=[["product", "material", "kg_per_unit"], ["P2", "DY", 1000]],
    )
    _, _, solution = _solve(sheets, tmp_path)
    assert solution.products["built"].iloc[0] == pytest.approx(built)
    assert solution.materials["stock"].iloc[-1] == pytest.approx(5 - built)
    assert solution.objective_value == pytest.approx(objective)


# ------------------------------------------------------------------------ validation
def _issues(sheets: workbooks.Sheets, tmp_path: Path) -> list[tuple[str, str, str]]:
    book = check_workbook(workbooks.write(sheets, tmp_path / "v.xlsx"))
    return [(i.severity, i.code, i.place) for i in book.log.issues]


LICENCES_HEADER = ["regime", "material", "period", "approval_rate", "end_use", "market"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (  # an end use no sector has
            {
                "Licences": [
                    LICENCES_HEADER,
                    ["CN", "DY", None, 0.3, None, None],
                    ["CN", "DY", None, 0.0, "defense", None],
                ]
            },
            ("error", "unknown-lane", "Licences!E3"),
        ),
        (  # a market no Demand row has
            {"Licences": [LICENCES_HEADER, ["CN", "DY", None, 0.3, None, "US"]]},
            ("error", "unknown-lane", "Licences!F2"),
        ),
        (  # a restriction on a country that no source or plant is in
            {"Restrictions": [["material", "origin"], ["DY", "RU"]]},
            ("error", "unknown-origin", "Restrictions!B2"),
        ),
        (  # a variant without a Variants row
            {
                "Intensity": [
                    ["product", "material", "kg_per_unit", "variant"],
                    ["P1", "DY", 1000, None],
                    ["P2", "DY", 1000, None],
                    ["P2", "DY", 500, "gbd"],
                ]
            },
            ("error", "variant-without-row", "Intensity!D4"),
        ),
        (  # max_share above 1
            {
                "Intensity": [
                    ["product", "material", "kg_per_unit", "variant"],
                    ["P1", "DY", 1000, None],
                    ["P2", "DY", 1000, None],
                    ["P2", "DY", 500, "gbd"],
                ],
                "Variants": [["product", "variant", "max_share"], ["P2", "gbd", 1.5]],
            },
            ("error", "rate-out-of-range", "Variants!C2"),
        ),
        (  # a negative lead
            {
                "Licences": [
                    ["regime", "material", "period", "approval_rate", "lead_periods"],
                    ["CN", "DY", None, 0.3, -1],
                ]
            },
            ("error", "negative", "Licences!E2"),
        ),
        (  # a row naming only the end use and one naming only the market tie for defence/US
            {
                "Sectors": [["sector", "end_use"], ["S1", "defence"], ["S2", None]],
                "Demand": [
                    ["sector", "product", "period", "units", "value_per_unit", "market"],
                    ["S1", "P1", None, 10, 1000, "US"],
                    ["S2", "P2", None, 10, 500, None],
                ],
                "Licences": [
                    LICENCES_HEADER,
                    ["CN", "DY", None, 0.3, None, None],
                    ["CN", "DY", None, 0.0, "defence", None],
                    ["CN", "DY", None, 0.1, None, "US"],
                ],
            },
            ("error", "licence-tie", "Licences!F4"),
        ),
    ],
)
def test_new_inputs_are_validated_with_their_cell(changes, expected, tmp_path):
    issues = _issues(workbooks.variant(**changes), tmp_path)
    errors = [i for i in issues if i[0] == "error"]
    assert errors == [expected], issues


# --------------------------------------------------------------------------- results
def test_results_trace_origins_exactly_per_lane_with_concentration(tmp_path):
    # The refusal workbook above: defence gets AU's 5 t only, civil CN's 3 t only.
    sheets = workbooks.variant(
        Sectors=_defence_sectors(),
        Licences=[
            ["regime", "material", "period", "approval_rate", "end_use"],
            ["CN", "DY", None, 0.3, None],
            ["CN", "DY", None, 0.0, "defence"],
        ],
        Supply=[
            ["source", "material", "period", "capacity", "unit_cost"],
            ["CNX", "DY", None, 10, 50],
            ["AUS", "DY", None, 5, 100],
        ],
    )
    data, model, solution = _solve(sheets, tmp_path)
    exposure = compute_exposure(solution, data, model)
    origins = exposure.origins.set_index(["lane", "country"])["tonnes"]
    assert origins.to_dict() == pytest.approx({("defence", "AU"): 5.0, ("civil", "CN"): 3.0})
    hhi = exposure.concentration.set_index("lane")["hhi"]
    assert hhi.to_dict() == pytest.approx({"defence": 10_000.0, "civil": 10_000.0})
    lanes = exposure.lanes.set_index("lane")
    assert lanes.loc["defence", "lost_value"] == pytest.approx(5000)
    assert lanes.loc["civil", "tonnes_bought"] == pytest.approx(3)
    assert set(exposure.supply["lane"]) == {"defence", "civil"}
    why = exposure.why_short
    defence = why[why["product"] == "P1"]
    assert "defence gets no CN DY from CNX" in set(defence["limited_by"])
    assert "Licences!D3" in set(defence["input_cell"])


def test_the_reference_workbook_has_a_refused_defence_lane_and_a_restriction(tmp_path):
    data, _, solution = _solve_path(workbooks.REFERENCE)
    defence = [lane for lane in data.lanes if lane.startswith("defence")]
    assert defence  # e.g. defence/US and defence/ROW
    in_defence = data.supply["lane"].isin(defence)
    ndfeb = data.supply[(data.supply["material"] == "NDFEB") & in_defence]
    chinese = ndfeb[ndfeb["country"] == "CN"]
    assert not chinese.empty and (chinese["approval"] == 0).all()
    assert data.cell("supply", "restriction")[in_defence].notna().any()
    assert solution.status.ok


def _solve_path(path: Path):
    data = to_model_data(load_valid_workbook(path))
    model = build_model(data)
    return data, model, model.solve()


def test_lane_licence_values_equal_cold_re_solves(tmp_path):
    # Defence (approval 0 row) and civil (general 0.3 row) are separate levers; each
    # +1 pp figure equals a model built and solved from scratch with that row raised.
    sheets = workbooks.variant(
        Sectors=_defence_sectors(),
        Licences=[
            ["regime", "material", "period", "approval_rate", "end_use"],
            ["CN", "DY", None, 0.3, None],
            ["CN", "DY", None, 0.0, "defence"],
        ],
        Supply=[
            ["source", "material", "period", "capacity", "unit_cost"],
            ["CNX", "DY", None, 10, 50],
            ["AUS", "DY", None, 5, 100],
        ],
    )
    data, model, solution = _solve(sheets, tmp_path)
    licences = compute_exposure(solution, data, model).licences
    assert list(licences["lanes"]) == ["civil", "defence"]
    for record in licences.itertuples():
        raised = copy.deepcopy(data)
        rows = raised.cell("supply", "approval") == record.approval_cell
        raised.supply.loc[rows, "approval"] += 0.01
        cold = build_model(raised).solve().objective_value
        assert record.value_of_1pp == pytest.approx(solution.objective_value - cold, abs=1e-6)
    # By hand: +0.1 t to civil builds 0.1 more P2 (500 x 0.1 - 50 x 0.1 = 45); to defence
    # 0.1 t more P1 (1000 x 0.1 - 50 x 0.1 = 95).
    assert licences.set_index("lanes")["value_of_1pp"].to_dict() == pytest.approx(
        {"civil": 45.0, "defence": 95.0}
    )


# ------------------------------------------------------------------------ what-if
def test_scenarios_match_the_new_columns_and_re_solve_warm(tmp_path):
    # The defence workbook; scenarios open defence (match on end_use), lengthen the lead
    # within its lag pattern, and lift AU capacity. None needs a rebuild; each equals a
    # cold solve.
    sheets = workbooks.variant(
        Periods=[["period"], ["t1"], ["t2"]],
        Sectors=_defence_sectors(),
        Licences=[
            ["regime", "material", "period", "approval_rate", "end_use", "lead_periods"],
            ["CN", "DY", None, 0.3, None, 0.25],
            ["CN", "DY", None, 0.0, "defence", None],
        ],
        Supply=[
            ["source", "material", "period", "capacity", "unit_cost"],
            ["CNX", "DY", None, 10, 50],
            ["AUS", "DY", None, 5, 100],
        ],
        Scenarios=[
            ["scenario", "sheet", "column", "match", "operation", "value", "note"],
            ["OPEN", "Licences", "approval_rate", "end_use=defence", "set", 0.2, None],
            ["SLOW", "Licences", "lead_periods", "regime=CN; lead_periods=0.25", "set", 0.75, None],
            ["MORE_AU", "Supply", "capacity", "source=AUS", "scale", 2, None],
        ],
    )
    book = load_valid_workbook(workbooks.write(sheets, tmp_path / "s.xlsx"))
    result = run_whatif(book)
    assert result.rebuilds == 0
    engine = Engine(book, "priority")
    for name, rows in scenario_edits(book).items():
        changed, _ = apply_edits(book, rows)
        data = to_model_data(changed)
        warm = engine.solve(data)
        cold = build_model(data).solve()
        assert warm.objective_value == pytest.approx(cold.objective_value, rel=1e-9), name
    lost = result.comparison.set_index("kpi").loc["lost_value"]
    # OPEN: defence also gets 2 t of Chinese DY, so less value is lost.
    assert lost["OPEN"] < lost["base"]
