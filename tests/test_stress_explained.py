"""The Stress sheet says what its numbers are drawn from and why the base case can lie
outside them (approval_rate is the mode of a skewed triangle, not its mean)."""

from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from openpyxl import load_workbook

from exposure.cli import main
from tests import workbooks


def stress_sentences(tmp_path: Path, low: float, rate: float, high: float) -> list[str]:
    sheets = workbooks.tiny()
    sheets["Licences"] = [
        ["regime", "material", "period", "approval_rate", "approval_low", "approval_high"],
        ["CN", "DY", None, rate, low, high],
    ]
    path = workbooks.write(sheets, tmp_path / "w.xlsx")
    out = tmp_path / "stress.xlsx"
    args = ["stress", str(path), "-o", str(out), "--draws", "20", "--seed", "5", "--jobs", "1"]
    result = CliRunner().invoke(main, [*args, "-q"])
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out)["Stress"]
    return [c.value for c in sheet["A"] if isinstance(c.value, str)]


def test_the_stress_sheet_explains_its_distribution_and_draws(tmp_path: Path):
    # all the range lies above approval_rate: every draw approves at least as much
    text = " ".join(stress_sentences(tmp_path, low=0.3, rate=0.3, high=0.9))
    assert "most likely value (mode) is approval_rate" in text
    assert "approval_low to approval_high" in text
    assert "One random number per regime and period is shared by all its materials" in text
    assert "20 draws, seed 5" in text
    assert "Base case (every rate at approval_rate): lost value USD 3,500" in text
    assert "Worst draw: number" in text and "Best draw: number" in text
    assert "rates drawn: CN DY t1" in text
    assert "The base case lies outside the drawn outcomes" in text
    assert "it loses more than every draw" in text
    assert "CN DY: approval_rate 30.0%, range 30.0% to 90.0%, average draw 50.0%" in text
    assert "S2: the base case loses USD 3,500, USD " in text
    assert "more than its worst draw" in text


def test_a_symmetric_range_says_nothing_about_outside(tmp_path: Path):
    text = " ".join(stress_sentences(tmp_path, low=0.0, rate=0.5, high=1.0))
    assert "Worst draw" in text
    assert "outside the drawn outcomes" not in text


def test_the_stress_table_still_reads_back_below_its_sentences(tmp_path: Path):
    sentences = stress_sentences(tmp_path, low=0.1, rate=0.3, high=0.5)
    notes = sentences[1 : sentences.index("sector")]
    # title, blank line, the sentences, blank line, header (README, "The results workbook")
    header_row = 3 + len(notes) + 1
    assert load_workbook(tmp_path / "stress.xlsx")["Stress"].cell(header_row, 1).value == "sector"
    frame = pd.read_excel(tmp_path / "stress.xlsx", sheet_name="Stress", header=header_row - 1)
    assert list(frame["sector"]) == ["S1", "S2"]
    assert {"lost_value_base", "lost_value_best", "shortfall_at_risk"} <= set(frame.columns)
