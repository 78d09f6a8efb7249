"""`exposure template`: a blank workbook with every sheet, header notes and drop-downs."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from exposure.cli import main
from exposure.errors import EXIT_INVALID_INPUT
from exposure.workbook.schema import SHEETS
from exposure.workbook.validate import check_workbook
from tests import workbooks


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "inputs.xlsx"
    result = CliRunner().invoke(main, ["template", str(path)])
    assert result.exit_code == 0, result.output
    assert f"template written to {path}" in result.output
    return path


def fill(template: Path, target: Path, sheets: workbooks.Sheets) -> Path:
    """Copy `sheets`' rows under the template's headers (matched by name) and save as `target`."""
    book = openpyxl.load_workbook(template)
    for name, rows in sheets.items():
        ws = book[name]
        columns = {ws.cell(row=1, column=j).value: j for j in range(1, ws.max_column + 1)}
        header, *body = rows
        for i, values in enumerate(body, start=2):
            for column, value in zip(header, values, strict=True):
                ws.cell(row=i, column=columns[column], value=value)
    book.save(target)
    book.close()
    return target


def test_template_opens_with_openpyxl_and_has_every_sheet(template: Path):
    book = openpyxl.load_workbook(template)
    for spec in SHEETS:
        assert spec.name in book.sheetnames
        ws = book[spec.name]
        header = [ws.cell(row=1, column=j).value for j in range(1, len(spec.columns) + 1)]
        assert header == list(spec.column_names)
        assert ws.cell(row=1, column=len(spec.columns) + 1).value is None
        for j, column in enumerate(spec.columns, start=1):
            comment = ws.cell(row=1, column=j).comment
            assert comment is not None, (spec.name, column.name)
            assert comment.text == column.note()
    book.close()


def test_template_opens_with_pandas(template: Path):
    frames = pd.read_excel(template, sheet_name=None, engine="openpyxl")
    for spec in SHEETS:
        frame = frames[spec.name]
        assert list(frame.columns) == list(spec.column_names)
        assert frame.empty


def test_template_notes_give_units_and_whether_required(template: Path):
    book = openpyxl.load_workbook(template)
    capacity = book["Supply"]["D1"]
    assert capacity.value == "capacity"
    assert "t/period" in capacity.comment.text
    assert "Required." in capacity.comment.text
    cost = book["Supply"]["E1"]
    assert "USD/t" in cost.comment.text
    assert "Optional (blank = 0)" in cost.comment.text
    assert "Must be an id from the Sources sheet." in book["Supply"]["A1"].comment.text
    book.close()


def test_template_has_a_hidden_lists_sheet_with_the_choices(template: Path):
    book = openpyxl.load_workbook(template)
    lists = book["Lists"]
    assert lists.sheet_state == "hidden"
    columns = {
        lists.cell(row=1, column=j).value: [
            lists.cell(row=i, column=j).value for i in range(2, lists.max_row + 1)
        ]
        for j in range(1, lists.max_column + 1)
    }
    assert [v for v in columns["Materials.form"] if v] == [
        "ore",
        "oxide",
        "metal",
        "alloy",
        "magnet",
        "other",
    ]
    assert [v for v in columns["Scenarios.operation"] if v] == ["set", "scale", "add"]
    for spec in SHEETS:
        assert book[spec.name].sheet_state == "visible"
    book.close()


def validations(ws) -> dict[str, object]:
    """Data validations of a sheet by the first cell of the range they cover."""
    found = {}
    for validation in ws.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            found[cell_range.coord.split(":")[0]] = validation
    return found


def unquoted(formula: str) -> str:
    return formula.replace("'", "")


def test_template_has_data_validations(template: Path):
    book = openpyxl.load_workbook(template)
    supply = validations(book["Supply"])
    # drop-downs of ids from the sheets they refer to
    assert supply["A2"].type == "list"
    assert unquoted(supply["A2"].formula1) == "Sources!$A$2:$A$2000"
    assert unquoted(supply["B2"].formula1) == "Materials!$A$2:$A$2000"
    assert unquoted(supply["C2"].formula1) == "Periods!$A$2:$A$2000"
    # fixed choices from the hidden Lists sheet
    form = validations(book["Materials"])["C2"]
    assert form.type == "list"
    assert form.formula1.startswith("Lists!$")
    assert form.showErrorMessage
    # rates between 0 and 1
    rate = validations(book["Licences"])["D2"]
    assert (rate.type, rate.operator, rate.formula1, rate.formula2) == (
        "decimal",
        "between",
        "0",
        "1",
    )
    # products are the Demand sheet's product column
    assert unquoted(validations(book["Intensity"])["A2"].formula1) == "Demand!$B$2:$B$2000"
    book.close()


def test_blank_template_is_read_as_empty_tables(template: Path):
    book = check_workbook(template)
    # valid, with the one warning that there is nothing to allocate (design section 3)
    assert [i.code for i in book.log.issues] == ["nothing-to-allocate"]
    for spec in SHEETS:
        assert book.frame(spec.name).empty


def test_template_refuses_to_overwrite(tmp_path: Path):
    path = tmp_path / "mine.xlsx"
    path.write_bytes(b"my own work")
    runner = CliRunner()
    result = runner.invoke(main, ["template", str(path)])
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "already exists" in result.output
    assert "--overwrite" in result.output
    assert path.read_bytes() == b"my own work"

    result = runner.invoke(main, ["template", str(path), "--overwrite"])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(path)
    assert "Supply" in book.sheetnames
    book.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.xlsx"]


def test_filled_template_validates(template: Path, tmp_path: Path):
    path = fill(template, tmp_path / "filled.xlsx", workbooks.tiny())
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "filled.xlsx: valid, 0 warning(s)" in result.output
    book = check_workbook(path)
    assert list(book.frame("Supply")["capacity"]) == [10.0, 10.0]
    assert list(book.frame("Demand")["product"]) == ["P1", "P2"]
    assert book.frame("Licences")["approval_rate"][0] == pytest.approx(0.3)


def test_filled_template_with_a_mistake_names_the_cell(template: Path, tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Supply"][2][3] = -10  # AUS capacity, Supply!D3
    path = fill(template, tmp_path / "filled.xlsx", sheets)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!D3: capacity -10 is negative" in result.output
    assert "[negative]" in result.output
