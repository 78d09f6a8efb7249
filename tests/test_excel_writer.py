"""The results writer: Excel's row limit, text that looks like a formula."""

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from exposure.report import excel
from exposure.report.excel import SheetData, write_workbook


def test_a_table_longer_than_a_sheet_is_cut_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(excel, "EXCEL_MAX_ROWS", 60)
    path = tmp_path / "big.xlsx"
    write_workbook(path, [SheetData("Big", pd.DataFrame({"a": range(100)}), title="Big")])
    assert pd.read_excel(path, header=None).iloc[0, 0] == "Big (first 57 of 100 rows)"
    assert len(pd.read_excel(path, header=2)) == 57


def test_text_starting_with_equals_is_written_as_text(tmp_path: Path):
    path = tmp_path / "text.xlsx"
    write_workbook(path, [SheetData("T", pd.DataFrame({"id": ["=cmd|' /C calc'!A0", "+1"]}))])
    cell = load_workbook(path)["T"]["A2"]
    assert cell.data_type == "s"
    assert pd.read_excel(path)["id"].tolist() == ["=cmd|' /C calc'!A0", "+1"]
