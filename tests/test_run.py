"""`exposure run` end to end: exit codes, safe writing, results that read back."""

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from exposure.cli import main
from exposure.pipeline import REFERENCE_WORKBOOK, run_workbook
from tests import workbooks


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_run_writes_results_that_read_back(tiny_workbook: Path, tmp_path: Path):
    out = tmp_path / "results.xlsx"
    result = invoke("run", str(tiny_workbook), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "status: optimal" in result.output
    assert "P2 (S2): 30.0% served" in result.output
    assert str(out) in result.output
    sheets = pd.read_excel(out, sheet_name=None)
    for name in (
        "Summary",
        "Sectors",
        "Products",
        "Supply",
        "Plants",
        "Materials",
        "Binding",
        "Warnings",
        "Run",
    ):
        assert name in sheets
    products = sheets["Products"].set_index("product")
    assert products.loc["P1", "built"] == pytest.approx(10)
    assert products.loc["P2", "built"] == pytest.approx(3)
    assert products.loc["P2", "lost_value"] == pytest.approx(3500)
    run = dict(zip(sheets["Run"]["field"], sheets["Run"]["value"], strict=True))
    assert run["status"] == "optimal"
    assert float(run["lost_value"]) == pytest.approx(3500)
    assert float(run["objective_value"]) == pytest.approx(3500 + 10 * 100 + 3 * 50)
    assert len(run["input_sha256"]) == 64
    for field in (
        "pyomo_version",
        "highs_version",
        "tool_version",
        "timestamp_utc",
        "build_seconds",
        "solve_seconds",
        "objective_mode",
        "input_file",
    ):
        assert field in run
    supply = sheets["Supply"].set_index("source")
    assert supply.loc["CNX", "licensed_capacity"] == pytest.approx(3)
    binding = sheets["Binding"]
    assert any("CN licence" in text and "licensed limit" in text for text in binding["reading"])
    assert any("AUS" in text and "exhausted" in text for text in binding["reading"])


def test_results_balance_every_material(tiny_workbook: Path, tmp_path: Path):
    out = tmp_path / "r.xlsx"
    run_workbook(tiny_workbook, out)
    materials = pd.read_excel(out, sheet_name="Materials")
    inflow = materials["opening_stock"] + materials["supplied"] + materials["made"]
    outflow = materials["used_by_plants"] + materials["used_by_products"] + materials["stock"]
    assert (inflow - outflow).abs().max() < 1e-6


def test_run_refuses_to_overwrite_without_flag(tiny_workbook: Path, tmp_path: Path):
    out = tmp_path / "r.xlsx"
    out.write_bytes(b"precious")
    result = invoke("run", str(tiny_workbook), "-o", str(out))
    assert result.exit_code == 2
    assert "--overwrite" in result.output
    assert out.read_bytes() == b"precious"
    result = invoke("run", str(tiny_workbook), "-o", str(out), "--overwrite")
    assert result.exit_code == 0, result.output
    assert pd.read_excel(out, sheet_name="Products").shape[0] == 2


def test_run_refuses_to_write_over_its_input(tiny_workbook: Path):
    before = tiny_workbook.read_bytes()
    result = invoke("run", str(tiny_workbook), "-o", str(tiny_workbook), "--overwrite")
    assert result.exit_code == 2
    assert "over the input" in result.output
    assert tiny_workbook.read_bytes() == before


def test_invalid_input_exits_2_and_writes_nothing(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Supply"][1][3] = -10
    path = workbooks.write(sheets, tmp_path / "bad.xlsx")
    out = tmp_path / "r.xlsx"
    result = invoke("run", str(path), "-o", str(out))
    assert result.exit_code == 2
    assert "Supply!D2" in result.output
    assert not out.exists()


def test_time_limit_exits_3_without_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from models.allocation import AllocationModel, Solution
    from models.status import SolveStatus

    original = AllocationModel.solve

    def stopped(self: AllocationModel, time_limit: float | None = None) -> Solution:
        solution = original(self, time_limit)
        solution.status = SolveStatus.TIME_LIMIT
        solution.message = SolveStatus.TIME_LIMIT.explain()
        return solution

    monkeypatch.setattr(AllocationModel, "solve", stopped)
    path = workbooks.write(workbooks.tiny(), tmp_path / "in.xlsx")
    out = tmp_path / "r.xlsx"
    result = invoke("run", str(path), "-o", str(out), "--time-limit", "0")
    assert result.exit_code == 3
    assert "time limit" in result.output
    assert not out.exists()


def test_input_text_is_never_written_as_a_formula(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Demand"][1][1] = "=1+1"  # a product id that looks like a formula
    sheets["Intensity"][1][0] = "=1+1"
    path = workbooks.write(sheets, tmp_path / "in.xlsx")
    # openpyxl stored them as formulas without values: the validator must say so
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert "formula-without-value" in result.output


def test_product_id_starting_with_equals_stays_text(tmp_path: Path):
    from openpyxl import load_workbook

    sheets = workbooks.tiny()
    path = workbooks.write(sheets, tmp_path / "in.xlsx")
    book = load_workbook(path)
    for ws, cell in ((book["Demand"], "B2"), (book["Intensity"], "A2")):
        ws[cell].value = "=HYPERLINK(1)"
        ws[cell].data_type = "s"
    book.save(path)
    out = tmp_path / "r.xlsx"
    assert invoke("run", str(path), "-o", str(out)).exit_code == 0
    results = load_workbook(out)
    cells = [
        c for row in results["Products"].iter_rows() for c in row if c.value == "=HYPERLINK(1)"
    ]
    assert cells and all(c.data_type == "s" for c in cells)


def test_a_failed_write_leaves_the_previous_file(
    tiny_workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from xlsxwriter.workbook import Workbook

    out = tmp_path / "r.xlsx"
    out.write_bytes(b"previous results")

    def broken_close(self: Workbook) -> None:
        Path(self.filename).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workbook, "close", broken_close)
    result = invoke("run", str(tiny_workbook), "-o", str(out), "--overwrite")
    assert result.exit_code == 1
    assert "No space left" in result.output
    assert out.read_bytes() == b"previous results"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith((".tmp", ".partial"))] == []


def test_reference_workbook_solves():
    result = run_workbook(REFERENCE_WORKBOOK, None)
    assert result.solution.status.ok
    sectors = set(result.exposure.sectors["sector"])
    assert {"EV", "WIND", "PHONES", "HVAC", "DEFENCE", "INDUSTRY"} <= sectors
    assert 0 < result.exposure.kpis["lost_value"] < result.exposure.kpis["demand_value"]


def test_fair_objective_from_the_cli(tiny_workbook: Path, tmp_path: Path):
    out = tmp_path / "r.xlsx"
    result = invoke("run", str(tiny_workbook), "-o", str(out), "--objective", "fair")
    assert result.exit_code == 0, result.output
    products = pd.read_excel(out, sheet_name="Products").set_index("product")
    assert products.loc["P1", "built"] == pytest.approx(6.5, abs=1e-4)


def test_every_command_has_help_with_an_example():
    for command in main.commands:
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.output, command


def test_at_scale_a_flow_table_keeps_its_moving_rows_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
):
    from exposure import results
    from exposure.report.excel import SheetData

    monkeypatch.setattr(results, "SHEET_ROWS_MAX", 4)
    supply = pd.DataFrame({"source": list("abcdefgh"), "buy": [0, 1, 0, 2, 0, 3, 4, 5.0]})
    kept = results.fit_for_workbook(SheetData("Supply", supply))
    assert kept.frame["source"].tolist() == ["b", "d", "f", "g"]  # moving, then the first 4
    assert kept.title == "Supply"
    assert "The 5 rows of 8 with a buy above zero" in kept.notes[0]
    assert "The first 4 rows of 5" in kept.notes[1]
    small = SheetData("Supply", supply.iloc[:3])
    assert results.fit_for_workbook(small) is small  # a small table is written whole
    other = results.fit_for_workbook(SheetData("Products", supply))
    assert len(other.frame) == 4 and other.notes == [
        "The first 4 rows of 8; `exposure run --full-tables DIR` writes every row."
    ]


def test_full_tables_are_written_beside_the_workbook(tiny_workbook: Path, tmp_path: Path):
    out = tmp_path / "r.xlsx"
    result = invoke("run", str(tiny_workbook), "-o", str(out), "--full-tables", str(tmp_path / "t"))
    assert result.exit_code == 0, result.output
    supply = pd.read_csv(tmp_path / "t" / "Supply.csv")
    pd.testing.assert_frame_equal(
        supply, pd.read_excel(out, sheet_name="Supply"), check_dtype=False
    )
    assert (tmp_path / "t" / "Origins.csv").exists() and (tmp_path / "t" / "Run.csv").exists()
