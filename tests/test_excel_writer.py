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


def test_every_kind_of_cell_reads_back(tmp_path: Path):
    """The rows are streamed as XML of this writer's own: each kind of value survives."""
    long_text = "a sentence that runs on " * 6  # wraps: its row grows
    frame = pd.DataFrame(
        {
            "name": pd.array(["DY", None, long_text], dtype="str"),
            "mixed": ["text", 2.5, None],
            "lost_value": [-2.5e9, float("nan"), 3_500.0],
            "units": pd.array([1, None, 3], dtype="Int64"),
            "ok": [True, False, True],
            "when": pd.to_datetime(["2026-01-02 00:00", None, "2026-03-04 05:06"]),
        }
    )
    path = tmp_path / "kinds.xlsx"
    write_workbook(path, [SheetData("Kinds", frame, title="Kinds", notes=["One note."])])
    back = pd.read_excel(path, header=4)
    assert back["name"].tolist()[0] == "DY" and back["name"].tolist()[2] == long_text
    assert pd.isna(back["name"][1])
    assert back["mixed"][0] == "text" and back["mixed"][1] == 2.5
    assert back["lost_value"][0] == -2.5e9 and pd.isna(back["lost_value"][1])
    assert back["units"].tolist()[::2] == [1, 3]
    assert back["ok"].tolist() == [True, False, True]
    assert back["when"][2] == pd.Timestamp("2026-03-04 05:06")
    sheet = load_workbook(path)["Kinds"]
    assert sheet["C6"].number_format == '"USD "#,##0.00,,," bn"'  # a negative's own scale
    assert sheet.row_dimensions[8].height == 30  # two lines of wrapped text
    (table,) = sheet.tables.values()
    assert table.ref == "A5:F8"
    assert sheet.freeze_panes == "A6"
    assert sheet.print_title_rows.replace("$", "") == "5:5"
