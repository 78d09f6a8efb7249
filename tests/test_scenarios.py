"""What-if engine: scenario edits, sweeps, stress, interruption."""

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from exposure.cli import main
from exposure.errors import InputError
from exposure.scenarios import (
    Edit,
    Engine,
    LimitMap,
    Vary,
    apply_edits,
    run_stress,
    run_sweep,
    run_whatif,
    scenario_edits,
    stress_rates,
    triangular_quantile,
)
from exposure.tables import to_model_data
from exposure.whatif import executors
from exposure.workbook.validate import load_valid_workbook
from models import build_model
from tests import workbooks

SCENARIOS = [
    ["scenario", "sheet", "column", "match", "operation", "value", "note"],
    ["CUT", "Licences", "approval_rate", "regime=CN", "set", 0.1, "approvals fall"],
    ["MORE_AU", "Supply", "capacity", "source=AU*", "scale", 1.5, "wildcard"],
    ["ADD", "Supply", "capacity", "source=CNX; material=DY", "add", 5, None],
]


def book_with(tmp_path: Path, scenarios: list[list] = SCENARIOS, **changes):
    sheets = workbooks.variant(**changes)
    sheets["Scenarios"] = scenarios
    path = workbooks.write(sheets, tmp_path / "w.xlsx")
    return load_valid_workbook(path), path


def test_set_scale_and_add_change_the_matched_cells(tmp_path: Path):
    book, _ = book_with(tmp_path)
    edits = [
        Edit("X", "Licences", "approval_rate", (("regime", "CN"),), "set", 0.1, None, 2),
        Edit("X", "Supply", "capacity", (("source", "AU*"),), "scale", 1.5, None, 3),
        Edit("X", "Supply", "capacity", (("source", "cnx"), ("material", "DY")), "add", 5, None, 4),
    ]
    changed, diff = apply_edits(book, edits)
    supply = changed.frame("Supply").set_index("source")
    assert supply.loc["AUS", "capacity"] == pytest.approx(15)
    assert supply.loc["CNX", "capacity"] == pytest.approx(15)
    assert changed.frame("Licences")["approval_rate"].iloc[0] == pytest.approx(0.1)
    # the base book is untouched
    assert book.frame("Supply").set_index("source").loc["AUS", "capacity"] == 10
    cells = dict(zip(diff["cell"], zip(diff["from"], diff["to"], strict=True), strict=True))
    assert cells["Licences!D2"] == (0.3, 0.1)
    assert cells["Supply!D3"] == (10, 15)
    assert cells["Supply!D2"] == (10, 15)


def test_a_match_that_selects_nothing_names_the_scenario_row(tmp_path: Path):
    book, _ = book_with(tmp_path)
    with pytest.raises(InputError) as caught:
        apply_edits(
            book, [Edit("GHOST", "Supply", "capacity", (("source", "XX"),), "set", 1, None, 7)]
        )
    issue = caught.value.issues[0]
    assert issue.sheet == "Scenarios"
    assert issue.row == 7
    assert "GHOST" in issue.message and "selects no row" in issue.message


def test_the_validator_refuses_a_scenario_that_matches_nothing(tmp_path: Path):
    rows = [*SCENARIOS, ["BAD", "Supply", "capacity", "source=NOPE", "set", 1, None]]
    sheets = workbooks.tiny()
    sheets["Scenarios"] = rows
    path = workbooks.write(sheets, tmp_path / "bad.xlsx")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Scenarios!D5" in result.output
    assert "scenario-no-match" in result.output


def test_an_edit_that_breaks_a_rate_is_an_error(tmp_path: Path):
    book, _ = book_with(tmp_path)
    with pytest.raises(InputError) as caught:
        apply_edits(book, [Edit("UP", "Licences", "approval_rate", (), "scale", 5, None, 2)])
    (issue,) = caught.value.issues
    assert "within [0, 1]" in issue.message
    assert (issue.sheet, issue.row) == ("Scenarios", 2)


def test_whatif_compares_each_scenario_with_the_base(tmp_path: Path):
    book, _ = book_with(tmp_path)
    result = run_whatif(book)
    table = result.comparison.set_index("kpi")
    # base: 13 t -> P2 loses 7 units x 500
    assert table.at["lost_value", "base"] == pytest.approx(3500)
    # CUT: CN 1 t + AU 10 t = 11 t -> P2 gets 1: loses 9 x 500
    assert table.at["lost_value", "CUT"] == pytest.approx(4500)
    assert table.at["lost_value", "CUT change"] == pytest.approx(1000)
    # MORE_AU: 15 + 3 = 18 t -> P2 gets 8, loses 1000
    assert table.at["lost_value", "MORE_AU"] == pytest.approx(1000)
    # ADD: CN 15 t x 0.3 = 4.5 t + 10 = 14.5 -> P2 loses 5.5 x 500
    assert table.at["lost_value", "ADD"] == pytest.approx(2750)
    assert table.at["lost_value S2", "ADD"] == pytest.approx(2750)
    assert result.rebuilds == 0
    assert set(result.diff["scenario"]) == {"CUT", "MORE_AU", "ADD"}


def test_whatif_command_writes_the_comparison(tmp_path: Path):
    _, path = book_with(tmp_path)
    out = tmp_path / "whatif.xlsx"
    result = CliRunner().invoke(main, ["whatif", str(path), "-o", str(out), "--full", "-q"])
    assert result.exit_code == 0, result.output
    sheets = pd.read_excel(out, sheet_name=None, header=2)
    assert {"CUT", "MORE_AU", "ADD", "base"} <= set(sheets["Scenarios"].columns)
    full = tmp_path / "whatif-CUT.xlsx"
    products = pd.read_excel(full, sheet_name="Products").set_index("product")
    assert products.loc["P2", "built"] == pytest.approx(1)


def test_sweep_of_the_approval_rate_follows_the_hand_curve(tmp_path: Path):
    # CN ships 10 r t and AU 10 t; P1 takes 10, P2 gets 10 r and loses 10 - 10 r units.
    book, path = book_with(tmp_path)
    values = [0.0, 0.25, 0.5, 0.75, 1.0]
    result = run_sweep(book, path, Vary.parse("Licences:approval_rate:regime=CN"), values, jobs=1)
    lost = result.totals.set_index("value")["lost_value"]
    for r in values:
        assert lost[r] == pytest.approx(500 * (10 - 10 * r))
    assert not result.interrupted


def test_sweep_of_another_column_uses_the_general_path(tmp_path: Path):
    book, path = book_with(tmp_path)
    result = run_sweep(
        book, path, Vary.parse("Supply:capacity:source=AUS"), [0.0, 10.0, 17.0], jobs=1
    )
    lost = result.totals.set_index("value")["lost_value"]
    # 3 t from CN + c from AU: P1 first
    assert lost[0.0] == pytest.approx(7 * 1000 + 10 * 500)
    assert lost[10.0] == pytest.approx(3500)
    assert lost[17.0] == pytest.approx(0)


def test_lost_value_never_falls_as_approval_falls(tmp_path: Path):
    book, path = load_valid_workbook(workbooks.REFERENCE), workbooks.REFERENCE
    values = list(np.linspace(0, 1, 9))
    result = run_sweep(
        book, path, Vary.parse("Licences:approval_rate:regime=CN-MOFCOM"), values, jobs=1
    )
    lost = result.totals["lost_value"].to_numpy()
    assert np.all(np.diff(lost) <= 1e-6 * lost.max())


def test_sweep_in_two_processes_equals_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The pool even for work this small (`--jobs 2` alone would keep it in this process).
    monkeypatch.setattr(executors, "pool_pays", lambda *_: True)
    monkeypatch.setattr(executors, "SOLVE_HERE_WHILE_HELPED", False)
    book, path = book_with(tmp_path)
    values = list(np.linspace(0, 1, 12))
    vary = Vary.parse("Licences:approval_rate:regime=CN")
    one = run_sweep(book, path, vary, values, jobs=1)
    two = run_sweep(book, path, vary, values, jobs=2)
    pd.testing.assert_frame_equal(one.totals, two.totals, rtol=1e-9)


def test_warm_scenarios_equal_cold_solves(tmp_path: Path):
    book, _ = book_with(tmp_path)
    engine = Engine(book, "priority")
    for rows in scenario_edits(book).values():
        changed, _ = apply_edits(book, rows)
        data = to_model_data(changed)
        warm = engine.solve(data)
        cold = build_model(data).solve()
        assert warm.objective_value == pytest.approx(cold.objective_value, rel=1e-6, abs=1e-6)


def test_stress_is_reproducible_by_seed(tmp_path: Path):
    licences = [
        ["regime", "material", "period", "approval_rate", "approval_low", "approval_high"],
        ["CN", "DY", None, 0.3, 0.0, 0.6],
    ]
    book, path = book_with(tmp_path, Licences=licences)
    first = run_stress(book, path, draws=30, seed=11, jobs=1)
    again = run_stress(book, path, draws=30, seed=11, jobs=1)
    other = run_stress(book, path, draws=30, seed=12, jobs=1)
    pd.testing.assert_frame_equal(first.sectors, again.sectors)
    pd.testing.assert_frame_equal(first.draws, again.draws)
    assert not first.draws["lost_value"].equals(other.draws["lost_value"])
    s2 = first.sectors.set_index("sector").loc["S2"]
    # lost value of S2 = 500 x (10 - 10 r) with r in [0, 0.6]: between 2000 and 5000
    assert 2000 - 1e-6 <= s2["lost_value_p50"] <= 5000 + 1e-6
    assert s2["shortfall_at_risk"] == s2["lost_value_p95"]
    assert first.completed == 30


def test_one_draw_per_regime_and_period_is_shared_by_its_materials(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Materials"].append(["TB", "Tb oxide", "oxide", 0, 0, 0])
    sheets["Licences"] = [
        ["regime", "material", "period", "approval_rate", "approval_low", "approval_high"],
        ["CN", "DY", None, 0.3, 0.1, 0.5],
        ["CN", "TB", None, 0.3, 0.1, 0.5],
    ]
    path = workbooks.write(sheets, tmp_path / "two.xlsx")
    _, table = stress_rates(to_model_data(load_valid_workbook(path)), draws=50, seed=3)
    assert np.allclose(table["CN DY t1"], table["CN TB t1"])


def test_triangular_quantiles():
    u = np.array([0.0, 0.5, 1.0])
    assert triangular_quantile(u, 0.0, 0.5, 1.0) == pytest.approx([0.0, 0.5, 1.0])
    assert triangular_quantile(u, 0.2, 0.2, 0.2) == pytest.approx([0.2, 0.2, 0.2])


def test_ctrl_c_keeps_what_finished(tmp_path: Path):
    book, path = book_with(tmp_path)
    calls = []

    def interrupt_after_three(step: int) -> None:
        calls.append(step)
        if len(calls) == 3:
            raise KeyboardInterrupt

    result = run_sweep(
        book,
        path,
        Vary.parse("Licences:approval_rate:regime=CN"),
        list(np.linspace(0, 1, 10)),
        jobs=1,
        progress=interrupt_after_three,
    )
    assert result.interrupted
    assert len(result.totals) == 3
    assert result.totals["value"].tolist() == pytest.approx([0, 1 / 9, 2 / 9])


# --------------------------------------------------------------- correlated stress
def persistence_book(tmp_path: Path, persistence: float | None) -> Path:
    sheets = workbooks.tiny()
    sheets["Periods"] = [["period"], ["q1"], ["q2"], ["q3"], ["q4"]]
    sheets["Regimes"] = [["regime", "persistence"], ["CN", persistence]]
    sheets["Licences"] = [
        ["regime", "material", "period", "approval_rate", "approval_low", "approval_high"],
        ["CN", "DY", None, 0.3, 0.0, 0.9],
    ]
    return workbooks.write(sheets, tmp_path / f"persist-{persistence}.xlsx")


def test_persistence_links_periods_and_zero_draws_as_before(tmp_path: Path):
    from exposure.scenarios import regime_persistence, stress_rates, stress_uniforms

    draws = 4000
    rates = {}
    for persistence in (None, 0.0, 0.6, 1.0):
        book = load_valid_workbook(persistence_book(tmp_path, persistence))
        _, table = stress_rates(to_model_data(book), draws, 21, regime_persistence(book))
        rates[persistence] = table[[f"CN DY q{i}" for i in (1, 2, 3, 4)]].to_numpy()
    # Blank and 0 are independent periods, drawn exactly as without the column.
    groups = [("CN", f"q{i}") for i in (1, 2, 3, 4)]
    independent = stress_uniforms(groups, [g[1] for g in groups], {}, draws, 21)
    assert np.array_equal(rates[None], rates[0.0])
    assert not np.array_equal(independent["CN", "q1"], independent["CN", "q2"])
    # 1: every quarter keeps the first quarter's draw.
    assert np.array_equal(rates[1.0][:, 0], rates[1.0][:, 3])
    # 0.6: a quarter equals the one before in about 60% of draws (fresh draws never do).
    same = (rates[0.6][:, 1:] == rates[0.6][:, :-1]).mean()
    assert same == pytest.approx(0.6, abs=0.03)
    assert (rates[0.0][:, 1:] == rates[0.0][:, :-1]).mean() == 0
    # The first quarter is drawn the same whatever the persistence; the marginal of every
    # quarter stays the same triangular distribution (mean (0 + 0.3 + 0.9) / 3 = 0.4).
    assert np.array_equal(rates[0.6][:, 0], rates[0.0][:, 0])
    assert rates[0.6].mean(axis=0) == pytest.approx([0.4] * 4, abs=0.02)


def test_stress_sheet_says_how_draws_were_linked(tmp_path: Path):
    from exposure.scenario_results import stress_notes

    path = persistence_book(tmp_path, 0.75)
    result = run_stress(load_valid_workbook(path), path, draws=8, seed=2, jobs=1)
    assert result.persistence == {"CN": 0.75}
    assert any("Persistence here: CN 75%" in note for note in stress_notes(result))


def test_a_structural_scenario_then_the_fast_path_solves_the_base_again(tmp_path: Path):
    # A scenario that adds a min_service floor needs new rows (a rebuild); a sweep or stress
    # draw after it must still solve the base tables, not the scenario's.
    book, _ = book_with(tmp_path)
    engine = Engine(book, "priority")
    base = engine.solve(engine.base).objective_value
    floored = copy.deepcopy(engine.base)
    floored.demand["min_service"] = 0.5
    engine.solve(floored)
    assert engine.rebuilds == 1
    limits = LimitMap.of(engine.base).limits_for_rates({})
    assert engine.solve_limits(*limits).objective_value == pytest.approx(base)
