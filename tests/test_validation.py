"""`exposure validate`: every problem of a workbook, with its sheet, cell and stable code.

Each bad workbook is `tests.workbooks.tiny()` with one thing changed, written in
code, so the expected place of every problem can be read off the test.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from exposure.cli import main
from exposure.errors import EXIT_INVALID_INPUT, InputError
from exposure.issues import Issue
from exposure.workbook.annotate import ERROR_FILL
from exposure.workbook.validate import check_workbook, load_valid_workbook
from tests import workbooks

SUPPLY_HEADER = ["source", "material", "period", "capacity", "unit_cost"]
DEMAND_HEADER = ["sector", "product", "period", "units", "value_per_unit"]


def build(
    tmp_path: Path,
    cells: dict[str, Any] | None = None,
    edit: Callable[[openpyxl.Workbook], None] | None = None,
    name: str = "book.xlsx",
    **sheets: list[list[Any]] | None,
) -> Path:
    """tiny() with whole `sheets` replaced, then `cells` ({"Supply!D3": -5}) set, then `edit`."""
    path = workbooks.write(workbooks.variant(**sheets), tmp_path / name)
    if cells or edit:
        book = openpyxl.load_workbook(path)
        for place, value in (cells or {}).items():
            sheet, cell = place.split("!")
            book[sheet][cell] = value
        if edit:
            edit(book)
        book.save(path)
    return path


def issues_of(path: Path) -> list[Issue]:
    return check_workbook(path).log.issues


def the(issues: list[Issue], code: str) -> Issue:
    """The one issue with `code`; fails listing every issue otherwise."""
    found = [i for i in issues if i.code == code]
    assert len(found) == 1, [str(i) for i in issues]
    return found[0]


def assert_only(issues: list[Issue], code: str, place: str, severity: str = "error") -> Issue:
    """Exactly one issue of this severity, with this code, at this place."""
    same = [i for i in issues if i.severity == severity]
    assert [(i.code, i.place) for i in same] == [(code, place)], [str(i) for i in issues]
    return same[0]


def validate(path: Path, *options: str):
    return CliRunner().invoke(main, ["validate", str(path), *options])


def test_tiny_workbook_is_valid(tiny_workbook: Path):
    assert issues_of(tiny_workbook) == []
    result = validate(tiny_workbook)
    assert result.exit_code == 0, result.output
    assert "tiny.xlsx: valid, 0 warning(s)" in result.output


# --- sheets ----------------------------------------------------------------------


def test_missing_sheet(tmp_path: Path):
    path = build(tmp_path, Demand=None)
    issue = the(issues_of(path), "missing-sheet")
    assert issue.place == "workbook"
    assert "'Demand'" in issue.message
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "the workbook has no 'Demand' sheet" in result.output
    assert "[missing-sheet]" in result.output


def test_missing_sheet_is_not_repeated_for_every_row_that_refers_to_it(tmp_path: Path):
    path = build(tmp_path, Materials=None)
    issues = issues_of(path)
    # Licences, Supply and Intensity each name DY: 1 + 2 + 2 rows that cannot be checked.
    (issue,) = issues
    assert issue.code == "missing-sheet"
    assert issue.message == (
        "the workbook has no 'Materials' sheet ... and 5 rows that depend on it"
    )
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "invalid: 1 error(s)" in result.output


def test_missing_column_is_not_repeated_for_every_row_that_refers_to_its_sheet(tmp_path: Path):
    """The reported case: Demand without `units` also made every Intensity row an error."""
    demand = [
        ["sector", "product", "period", "value_per_unit"],
        ["S1", "P1", None, 1000],
        ["S2", "P2", None, 500],
    ]
    path = build(tmp_path, Demand=demand)
    issues = issues_of(path)
    assert [(i.code, i.place) for i in issues] == [("missing-column", "Demand!E1")]
    assert issues[0].message == (
        "required column 'units' is missing ... and 2 rows that depend on it"
    )
    with pytest.raises(InputError) as caught:
        load_valid_workbook(path)
    assert str(caught.value) == (
        "Demand!E1: required column 'units' is missing ... and 2 rows that depend on it "
        "(add a header 'units' in row 1) [missing-column]"
    )
    result = CliRunner().invoke(main, ["run", str(path), "-o", str(tmp_path / "out.xlsx")])
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "1 problem(s) found; nothing was written." in result.output
    assert "is not on the Demand sheet" not in result.output


def test_reference_workbook_without_units_has_one_error(tmp_path: Path):
    path = tmp_path / "no-units.xlsx"
    book = openpyxl.load_workbook(workbooks.REFERENCE)
    demand = book["Demand"]
    header = [cell.value for cell in demand[1]]
    demand.delete_cols(header.index("units") + 1)
    book.save(path)
    (issue,) = check_workbook(path).log.errors
    assert issue.code == "missing-column"
    assert issue.message.startswith("required column 'units' is missing ... and ")


def test_unreadable_intensity_sheet_does_not_make_every_product_an_error(tmp_path: Path):
    intensity = [["product", "material", "kg_per_unt"], ["P1", "DY", 1000], ["P2", "DY", 1000]]
    path = build(tmp_path, Intensity=intensity)
    (issue,) = check_workbook(path).log.issues
    assert issue.code == "misspelt-column"
    # the two Demand rows (product has no intensity) and the two DY rows of Materials
    assert (
        issue.message
        == "column 'kg_per_unt' is not a known column ... and 3 rows that depend on it"
    )


def test_a_row_referring_to_a_readable_sheet_is_still_checked(tmp_path: Path):
    demand = [["sector", "product", "period", "value_per_unit"], ["S1", "P1", None, 1000]]
    supply = [SUPPLY_HEADER, ["CNX", "DYY", None, 10, 50]]
    path = build(tmp_path, Demand=demand, Supply=supply)
    codes = sorted((i.code, i.place) for i in check_workbook(path).log.errors)
    assert codes == [("missing-column", "Demand!E1"), ("unknown-id", "Supply!B2")]


# --- nothing to allocate -------------------------------------------------------------


@pytest.mark.parametrize(
    ("empty", "message", "place"),
    [
        (["Demand"], "the Demand sheet has no rows: there is nothing to allocate", "Demand"),
        (["Supply"], "the Supply sheet has no rows: there is nothing to allocate", "Supply"),
        (
            ["Demand", "Supply"],
            "the Demand and Supply sheets have no rows: there is nothing to allocate",
            "workbook",
        ),
    ],
)
def test_empty_workbook_is_valid_with_a_warning(
    tmp_path: Path, empty: list[str], message: str, place: str
):
    headers = {"Demand": DEMAND_HEADER, "Supply": SUPPLY_HEADER}
    sheets = {name: [headers[name]] for name in empty}
    if "Demand" in empty:  # nothing may refer to products that are no longer demanded
        sheets["Intensity"] = [["product", "material", "kg_per_unit"]]
    path = build(tmp_path, **sheets)
    issue = the(issues_of(path), "nothing-to-allocate")
    assert (issue.severity, issue.place, issue.message) == ("warning", place, message)
    assert check_workbook(path).log.errors == []
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert f"warning: {place}: {message}" in result.output
    assert ": valid, " in result.output


def test_blank_template_earns_the_nothing_to_allocate_warning(tmp_path: Path):
    path = tmp_path / "blank.xlsx"
    assert CliRunner().invoke(main, ["template", str(path)]).exit_code == 0
    result = validate(path, "--json")
    assert result.exit_code == 0
    assert [r["code"] for r in json.loads(result.stdout)] == ["nothing-to-allocate"]


def test_missing_optional_sheet_is_fine(tmp_path: Path):
    sources = [["source", "country"], ["CNX", "CN"], ["AUS", "AU"]]
    path = build(tmp_path, Periods=None, Regimes=None, Licences=None, Sources=sources)
    book = check_workbook(path)
    assert book.log.issues == []
    assert set(book.tables) == {"Materials", "Sources", "Supply", "Sectors", "Demand", "Intensity"}


def test_misspelt_sheet_suggests_the_right_name(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Suply"] = sheets.pop("Supply")
    path = workbooks.write(sheets, tmp_path / "suply.xlsx")
    found = issues_of(path)
    issue = the(found, "misspelt-sheet")
    assert issue.place == "Suply"
    assert "did you mean 'Supply'?" in issue.hint
    assert the(found, "missing-sheet").message.startswith("the workbook has no 'Supply' sheet")
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Suply: sheet 'Suply' is not a known sheet (did you mean 'Supply'?" in result.output


def test_sheet_names_match_case_insensitively(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["SUPPLY "] = sheets.pop("Supply")
    path = workbooks.write(sheets, tmp_path / "upper.xlsx")
    assert issues_of(path) == []


def test_unknown_extra_sheet_is_a_warning(tmp_path: Path):
    path = build(tmp_path, Scratchpad=[["anything"], [1]])
    assert_only(issues_of(path), "unknown-sheet", "Scratchpad", "warning")
    assert validate(path).exit_code == 0


def test_hidden_sheet_is_a_warning_and_still_read(tmp_path: Path):
    def hide(book: openpyxl.Workbook) -> None:
        book["Sectors"].sheet_state = "hidden"

    path = build(tmp_path, edit=hide)
    book = check_workbook(path)
    assert book.log.errors == []
    assert_only(book.log.issues, "hidden-sheet", "Sectors", "warning")
    assert list(book.frame("Sectors")["sector"]) == ["S1", "S2"]
    result = validate(path)
    assert result.exit_code == 0
    assert "warning: Sectors: sheet 'Sectors' is hidden" in result.output


# --- headers ---------------------------------------------------------------------


def test_missing_column(tmp_path: Path):
    path = build(tmp_path, Supply=[["source", "material", "unit_cost"], ["CNX", "DY", 50]])
    issue = the(issues_of(path), "missing-column")
    assert (issue.sheet, issue.row) == ("Supply", 1)
    assert "'capacity'" in issue.message
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!D1: required column 'capacity' is missing" in result.output


def test_misspelt_column_suggests_the_right_name(tmp_path: Path):
    header = ["source", "material", "period", "capacty", "unit_cost"]
    path = build(tmp_path, Supply=[header, ["CNX", "DY", None, 10, 50]])
    issue = the(issues_of(path), "misspelt-column")
    assert issue.place == "Supply!D1"
    assert issue.value == "capacty"
    assert "did you mean 'capacity'?" in issue.hint
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!D1" in result.output
    assert "[misspelt-column]" in result.output


def test_misspelt_optional_column_is_a_warning_with_a_suggestion(tmp_path: Path):
    header = ["source", "material", "period", "capacity", "unit_cots"]
    path = build(tmp_path, Supply=[header, ["CNX", "DY", None, 10, 50], ["AUS", "DY", None, 1, 1]])
    issue = assert_only(issues_of(path), "unknown-column", "Supply!E1", "warning")
    assert "did you mean 'unit_cost'?" in issue.hint


def test_duplicate_headers(tmp_path: Path):
    header = ["source", "material", "period", "capacity", "Capacity"]
    path = build(tmp_path, Supply=[header, ["CNX", "DY", None, 10, 10]])
    issue = the(issues_of(path), "duplicate-column")
    assert issue.place == "Supply!E1"
    assert "D1" in issue.message
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!E1: column 'capacity' appears twice (also in D1)" in result.output


def test_headers_differing_only_in_case_and_spaces_are_accepted(tmp_path: Path):
    header = [" Source", "MATERIAL ", "Period", "Capacity (t/period)", "Unit Cost"]
    rows = [header, ["CNX", "DY", None, 10, 50], ["AUS", "DY", None, 10, 100]]
    path = build(tmp_path, Supply=rows)
    book = check_workbook(path)
    assert book.log.issues == []
    supply = book.frame("Supply")
    assert list(supply["capacity"]) == [10.0, 10.0]
    assert list(supply["unit_cost"]) == [50.0, 100.0]
    assert validate(path).exit_code == 0


# --- table shape -----------------------------------------------------------------


def test_merged_cells_in_a_key_column(tmp_path: Path):
    def merge(book: openpyxl.Workbook) -> None:
        book["Supply"].merge_cells("A2:A3")

    path = build(tmp_path, edit=merge)
    issue = assert_only(issues_of(path), "merged-cells", "Supply!A2")
    assert "A2:A3" in issue.message
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!A2: merged cells A2:A3 inside the table" in result.output


def test_merged_title_cells_in_the_header_row_are_not_reported(tmp_path: Path):
    def merge(book: openpyxl.Workbook) -> None:
        book["Supply"]["G1"] = "notes"
        book["Supply"].merge_cells("G1:H1")

    path = build(tmp_path, edit=merge)
    assert [i.code for i in issues_of(path)] == ["unknown-column"]


def test_empty_row_inside_a_table_is_a_warning(tmp_path: Path):
    rows = [SUPPLY_HEADER, ["CNX", "DY", None, 10, 50], [], [], ["AUS", "DY", None, 10, 100]]
    path = build(tmp_path, Supply=rows)
    book = check_workbook(path)
    issue = assert_only(book.log.issues, "blank-row", "Supply!A3", "warning")
    assert "rows 3-4" in issue.message
    assert list(book.frame("Supply")["_row"]) == [2, 5]
    assert validate(path).exit_code == 0


def test_row_of_blank_cells_inside_a_table_is_a_warning(tmp_path: Path):
    rows = [SUPPLY_HEADER, ["CNX", "DY", None, 10, 50], [" ", None, "", None, None]]
    rows.append(["AUS", "DY", None, 10, 100])
    path = build(tmp_path, Supply=rows)
    issue = assert_only(issues_of(path), "blank-row", "Supply!A3", "warning")
    assert "blank row 3 " in issue.message


def test_blank_rows_after_the_table_are_not_reported(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!A10": " ", "Supply!B11": ""})
    assert issues_of(path) == []


def test_blank_required_cell(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!D3": None})
    assert_only(issues_of(path), "blank-required", "Supply!D3")


# --- cell values -----------------------------------------------------------------


def test_formula_without_a_saved_value(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!D2": "=1+1"})
    issue = assert_only(issues_of(path), "formula-without-value", "Supply!D2")
    assert issue.column_name == "capacity"
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!D2: formula has no saved value" in result.output
    assert "[formula-without-value]" in result.output


def test_formula_with_a_saved_value_is_read(tmp_path: Path):
    """A formula Excel calculated and saved is read as its value."""
    path = build(tmp_path, cells={"Supply!D2": "=5+5"})
    part = "xl/worksheets/sheet6.xml"  # the sixth sheet of tiny(): Supply
    target = tmp_path / "saved.xlsx"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == part:
                assert b"<f>5+5</f><v></v>" in data or b"<f>5+5</f><v />" in data
                data = data.replace(b"<f>5+5</f><v></v>", b"<f>5+5</f><v>10</v>")
                data = data.replace(b"<f>5+5</f><v />", b"<f>5+5</f><v>10</v>")
            new.writestr(item, data)
    book = check_workbook(target)
    assert book.log.issues == []
    assert list(book.frame("Supply")["capacity"]) == [10.0, 10.0]


@pytest.mark.parametrize("error", ["#DIV/0!", "#N/A", "#REF!"])
def test_excel_error_value(tmp_path: Path, error: str):
    def put_error(book: openpyxl.Workbook) -> None:
        cell = book["Supply"]["D2"]
        cell.value = error
        cell.data_type = "e"

    path = build(tmp_path, edit=put_error)
    issue = assert_only(issues_of(path), "excel-error", "Supply!D2")
    assert issue.value == error
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert f"Supply!D2: cell holds the Excel error {error}" in result.output


def test_excel_error_typed_as_text_is_also_an_excel_error(tmp_path: Path):
    path = build(tmp_path, cells={"Demand!E3": "#VALUE!"})
    assert_only(issues_of(path), "excel-error", "Demand!E3")


def test_text_in_a_number_cell(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!D3": "lots"})
    issue = assert_only(issues_of(path), "not-a-number", "Supply!D3")
    assert issue.value == "lots"
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!D3: 'lots' is not a number" in result.output
    assert "[not-a-number]" in result.output


@pytest.mark.parametrize("text", ["1.234,5", "1,5", "1,234.5"])
def test_locale_formatted_numbers_are_refused_with_a_hint(tmp_path: Path, text: str):
    path = build(tmp_path, cells={"Supply!E2": text})
    issue = assert_only(issues_of(path), "not-a-number", "Supply!E2")
    assert "thousands separators" in issue.hint


def test_plain_number_stored_as_text_is_read_with_a_warning(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!D2": " 12.5 "})
    book = check_workbook(path)
    assert_only(book.log.issues, "number-as-text", "Supply!D2", "warning")
    assert book.frame("Supply")["capacity"][0] == 12.5


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1e300, "huge-number"),
        (-1e300, "huge-number"),
        ("1e400", "not-finite"),
        ("nan", "not-a-number"),
        ("inf", "not-a-number"),
    ],
)
def test_nan_inf_and_huge_values(tmp_path: Path, value: Any, code: str):
    path = build(tmp_path, cells={"Supply!E3": value})
    issue = assert_only(issues_of(path), code, "Supply!E3")
    assert issue.column_name == "unit_cost"


def test_infinite_number_stored_in_the_file(tmp_path: Path):
    """openpyxl cannot write inf, so put an overflowing literal in the sheet XML."""
    path = build(tmp_path)
    target = tmp_path / "inf.xlsx"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "xl/worksheets/sheet6.xml":  # Supply
                assert b"<v>100</v>" in data
                data = data.replace(b"<v>100</v>", b"<v>1e400</v>")
            new.writestr(item, data)
    assert_only(issues_of(target), "not-finite", "Supply!E3")


def test_negative_quantity(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!D3": -5})
    issue = assert_only(issues_of(path), "negative", "Supply!D3")
    assert issue.value == -5
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!D3: capacity -5 is negative" in result.output
    assert "[negative]" in result.output


def test_negative_cost(tmp_path: Path):
    path = build(tmp_path, cells={"Demand!E2": -1000})
    assert_only(issues_of(path), "negative", "Demand!E2")


def test_rate_given_as_a_percentage_number_gets_a_percent_hint(tmp_path: Path):
    path = build(tmp_path, cells={"Licences!D2": 25})
    issue = assert_only(issues_of(path), "rate-out-of-range", "Licences!D2")
    assert "25%" in issue.hint
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Licences!D2: approval_rate 25 is outside [0, 1]" in result.output
    assert "25%" in result.output


@pytest.mark.parametrize("value", [-0.1, 250])
def test_rate_outside_zero_one(tmp_path: Path, value: float):
    path = build(tmp_path, cells={"Licences!D2": value})
    issue = assert_only(issues_of(path), "rate-out-of-range", "Licences!D2")
    assert "between 0 and 1" in issue.hint


@pytest.mark.parametrize(
    ("value", "percent", "fraction"), [(40, "40%", "0.4"), (1.5, "1.5%", "0.015")]
)
def test_rate_percent_hint_uses_the_value_typed(
    tmp_path: Path, value: float, percent: str, fraction: str
):
    path = build(tmp_path, cells={"Licences!D2": value})
    issue = assert_only(issues_of(path), "rate-out-of-range", "Licences!D2")
    assert issue.hint == f"write {percent} or {fraction}, not {value:g}"


def test_rate_typed_as_percent_text_is_read_as_a_fraction(tmp_path: Path):
    path = build(tmp_path, cells={"Licences!D2": "30%"})
    book = check_workbook(path)
    assert book.log.errors == []
    assert book.frame("Licences")["approval_rate"][0] == pytest.approx(0.3)


def test_approval_range_out_of_order(tmp_path: Path):
    rows = [
        ["regime", "material", "period", "approval_rate", "approval_low", "approval_high"],
        ["CN", "DY", None, 0.3, 0.5, 0.2],
    ]
    path = build(tmp_path, Licences=rows)
    found = [(i.code, i.place) for i in issues_of(path)]
    assert found == [("approval-range", "Licences!E2"), ("approval-range", "Licences!F2")]


def test_control_characters_in_an_id(tmp_path: Path):
    # openpyxl refuses to write most C0 controls; DEL (0x7f) is just as invisible.
    path = build(tmp_path, cells={"Supply!A2": "CN\x7fX"})
    issue = assert_only(issues_of(path), "control-characters", "Supply!A2")
    assert issue.value == "CN\x7fX"
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!A2: 'source' contains invisible control characters" in result.output


def test_control_characters_in_text_are_removed_with_a_warning(tmp_path: Path):
    path = build(tmp_path, cells={"Materials!B2": "Dy\x7f oxide"})
    book = check_workbook(path)
    assert_only(book.log.issues, "control-characters", "Materials!B2", "warning")
    assert book.frame("Materials")["name"][0] == "Dy oxide"


def test_bad_choice_suggests_the_closest(tmp_path: Path):
    path = build(tmp_path, cells={"Materials!C2": "oxyde"})
    issue = assert_only(issues_of(path), "bad-choice", "Materials!C2")
    assert "did you mean 'oxide'?" in issue.hint


# --- ids and cross-sheet rules ---------------------------------------------------


def test_unknown_id_suggests_the_closest(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!B2": "DYY"})
    issue = assert_only(issues_of(path), "unknown-id", "Supply!B2")
    assert issue.hint == "did you mean 'DY'?"
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!B2: material 'DYY' is not on the Materials sheet (did you mean 'DY'?)" in (
        result.output
    )


def test_unknown_id_without_a_close_match_says_where_to_add_it(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!A3": "ZZZZZZ"})
    issue = assert_only(issues_of(path), "unknown-id", "Supply!A3")
    assert issue.hint == "add it to the Sources sheet"


def test_unknown_period(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!C2": "t11"})
    issue = assert_only(issues_of(path), "unknown-id", "Supply!C2")
    assert "did you mean 't1'?" in issue.hint


def test_duplicate_key_names_both_rows(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!A3": "CNX"})
    issue = assert_only(issues_of(path), "duplicate-key", "Supply!A3")
    assert "row 2" in issue.message
    assert "rows 2 and 3" in issue.hint
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "Supply!A3: source=CNX, material=DY is also in row 2" in result.output


def test_same_key_in_another_period_is_not_a_duplicate(tmp_path: Path):
    path = build(tmp_path, cells={"Supply!A3": "CNX", "Supply!C3": "t1"})
    assert issues_of(path) == []


def test_product_in_two_sectors(tmp_path: Path):
    rows = [*workbooks.tiny()["Demand"], ["S2", "P1", None, 5, 1000]]
    path = build(tmp_path, Demand=rows)
    issue = assert_only(issues_of(path), "product-in-two-sectors", "Demand!A4")
    assert "'P1'" in issue.message
    assert "row 2" in issue.message


def test_product_without_intensity(tmp_path: Path):
    rows = [*workbooks.tiny()["Demand"], ["S2", "P3", None, 5, 100]]
    path = build(tmp_path, Demand=rows)
    issue = assert_only(issues_of(path), "product-without-intensity", "Demand!B4")
    assert issue.value == "P3"
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "[product-without-intensity]" in result.output


def test_material_without_any_supply_is_a_warning(tmp_path: Path):
    materials = [*workbooks.tiny()["Materials"], ["TB", "Tb oxide", "oxide", 0, 0, 0]]
    intensity = [*workbooks.tiny()["Intensity"], ["P2", "TB", 50]]
    path = build(tmp_path, Materials=materials, Intensity=intensity)
    issue = assert_only(issues_of(path), "material-without-supply", "Materials!A3", "warning")
    assert issue.value == "TB"
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert "warning: Materials!A3" in result.output
    assert "[material-without-supply]" in result.output


def test_material_with_initial_stock_needs_no_supply(tmp_path: Path):
    materials = [*workbooks.tiny()["Materials"], ["TB", "Tb oxide", "oxide", 5, 0, 0]]
    intensity = [*workbooks.tiny()["Intensity"], ["P2", "TB", 50]]
    path = build(tmp_path, Materials=materials, Intensity=intensity)
    assert issues_of(path) == []


def test_na_country_code_stays_text(tmp_path: Path):
    sources = [
        *workbooks.tiny()["Sources"],
        ["NAM", "NA", None, "Namibia"],
        ["NA", "NA", None, None],
    ]
    supply = [*workbooks.tiny()["Supply"], ["NAM", "DY", None, 1, 1], ["NA", "DY", None, 2, 2]]
    path = build(tmp_path, Sources=sources, Supply=supply)
    book = check_workbook(path)
    assert book.log.issues == []
    frame = book.frame("Sources")
    assert list(frame["country"]) == ["CN", "AU", "NA", "NA"]
    assert list(frame["source"]) == ["CNX", "AUS", "NAM", "NA"]
    assert list(book.frame("Supply")["source"])[-1] == "NA"
    assert validate(path).exit_code == 0


@pytest.mark.parametrize(("defined", "used"), [(2026, "2026"), ("2026", 2026), (2026, 2026.0)])
def test_whole_number_id_equals_its_digits(tmp_path: Path, defined: Any, used: Any):
    sources = [*workbooks.tiny()["Sources"], [defined, "AU", None, None]]
    supply = [*workbooks.tiny()["Supply"], [used, "DY", used, 1, 1]]  # source and period
    path = build(tmp_path, Sources=sources, Supply=supply, Periods=[["period"], [defined]])
    book = check_workbook(path)
    assert book.log.issues == []
    assert list(book.frame("Sources")["source"])[-1] == "2026"
    assert list(book.frame("Supply")["source"])[-1] == "2026"
    assert list(book.frame("Supply")["period"])[-1] == "2026"
    assert list(book.frame("Periods")["period"]) == ["2026"]


def test_fractional_number_id_is_not_truncated(tmp_path: Path):
    sources = [*workbooks.tiny()["Sources"], [12.5, "AU", None, None]]
    supply = [*workbooks.tiny()["Supply"], [12, "DY", None, 1, 1]]
    path = build(tmp_path, Sources=sources, Supply=supply)
    issue = assert_only(issues_of(path), "unknown-id", "Supply!A4")
    assert issue.value == "12"


# --- one pass, nothing written ---------------------------------------------------


def many_errors(tmp_path: Path) -> Path:
    return build(
        tmp_path,
        cells={
            "Supply!D3": -5,  # negative
            "Demand!D2": "ten",  # not-a-number
            "Licences!D2": 25,  # rate-out-of-range
            "Intensity!B3": "DYY",  # unknown-id
            "Sectors!A2": "S1\x7f",  # control-characters (and Demand's S1 becomes unknown)
        },
    )


EXPECTED_MANY = {
    ("negative", "Supply!D3"),
    ("not-a-number", "Demand!D2"),
    ("rate-out-of-range", "Licences!D2"),
    ("unknown-id", "Intensity!B3"),
    ("control-characters", "Sectors!A2"),
    ("unknown-id", "Demand!A2"),
}


def test_every_problem_is_reported_in_one_pass(tmp_path: Path):
    path = many_errors(tmp_path)
    found = {(i.code, i.place) for i in issues_of(path)}
    assert found == EXPECTED_MANY

    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT
    for code, place in EXPECTED_MANY:
        assert any(place in line and f"[{code}]" in line for line in result.output.splitlines()), (
            code,
            place,
            result.output,
        )
    assert f"invalid: {len(EXPECTED_MANY)} error(s)" in result.output


def test_load_valid_workbook_raises_with_every_problem(tmp_path: Path):
    with pytest.raises(InputError) as caught:
        load_valid_workbook(many_errors(tmp_path))
    assert {(i.code, i.place) for i in caught.value.errors} == EXPECTED_MANY


def test_json_output_lists_every_problem_with_its_place(tmp_path: Path):
    path = many_errors(tmp_path)
    result = validate(path, "--json")
    assert result.exit_code == EXIT_INVALID_INPUT
    records = json.loads(result.stdout)
    assert isinstance(records, list)
    for record in records:
        assert {"code", "sheet", "cell", "row", "column", "value", "message"} <= set(record)
    assert {(r["code"], f"{r['sheet']}!{r['cell']}") for r in records} == EXPECTED_MANY
    negative = next(r for r in records if r["code"] == "negative")
    assert negative["sheet"] == "Supply"
    assert negative["cell"] == "D3"
    assert negative["row"] == 3
    assert negative["column"] == "capacity"
    assert negative["value"] == -5
    assert negative["severity"] == "error"
    assert "negative" in negative["message"]


def test_json_output_of_a_valid_workbook_with_a_warning(tmp_path: Path):
    def hide(book: openpyxl.Workbook) -> None:
        book["Periods"].sheet_state = "hidden"

    result = validate(build(tmp_path, edit=hide), "--json")
    assert result.exit_code == 0
    records = json.loads(result.stdout)
    assert [(r["code"], r["severity"], r["sheet"], r["cell"]) for r in records] == [
        ("hidden-sheet", "warning", "Periods", None)
    ]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("bad", [False, True])
def test_validate_writes_and_changes_nothing(tmp_path: Path, bad: bool):
    folder = tmp_path / "inputs"
    folder.mkdir()
    path = many_errors(folder) if bad else build(folder)
    past = 1_600_000_000_000_000_000
    os.utime(path, ns=(past, past))
    before = snapshot(folder)
    cwd_before = sorted(Path.cwd().iterdir())

    runner = CliRunner()
    for options in ([], ["--json"]):
        result = runner.invoke(main, ["validate", str(path), *options])
        assert result.exit_code == (EXIT_INVALID_INPUT if bad else 0)
    check_workbook(path)

    assert snapshot(folder) == before
    assert path.stat().st_mtime_ns == past
    assert sorted(Path.cwd().iterdir()) == cwd_before


# --- annotate ----------------------------------------------------------------------


def cell_values(path: Path) -> dict[str, dict[str, Any]]:
    book = openpyxl.load_workbook(path, data_only=False)
    values = {
        ws.title: {c.coordinate: c.value for row in ws.iter_rows() for c in row}
        for ws in book.worksheets
    }
    book.close()
    return values


def test_annotate_marks_bad_cells_in_a_copy(tmp_path: Path):
    source = many_errors(tmp_path)
    source_bytes = source.read_bytes()
    target = tmp_path / "checked.xlsx"

    result = validate(source, "--annotate", str(target))
    assert result.exit_code == EXIT_INVALID_INPUT
    assert source.read_bytes() == source_bytes

    original = cell_values(source)
    annotated = openpyxl.load_workbook(target)
    assert "Errors" in annotated.sheetnames
    for sheet, values in original.items():
        ws = annotated[sheet]
        for coordinate, value in values.items():
            assert ws[coordinate].value == value, (sheet, coordinate)

    for _code, place in EXPECTED_MANY:
        sheet, coordinate = place.split("!")
        cell = annotated[sheet][coordinate]
        assert cell.comment is not None, place
        assert cell.fill.fgColor.rgb.endswith(ERROR_FILL.fgColor.rgb[-6:]), place
    assert "negative" in annotated["Supply"]["D3"].comment.text
    assert annotated["Supply"]["D2"].comment is None

    errors = annotated["Errors"]
    text = "\n".join(str(c.value) for row in errors.iter_rows() for c in row if c.value)
    for code, place in EXPECTED_MANY:
        assert code in text
        assert place in text
    annotated.close()


def test_annotate_keeps_formulas(tmp_path: Path):
    source = build(tmp_path, cells={"Supply!D2": "=1+1", "Supply!D3": -5})
    target = tmp_path / "checked.xlsx"
    result = validate(source, "--annotate", str(target))
    assert result.exit_code == EXIT_INVALID_INPUT
    annotated = openpyxl.load_workbook(target)
    assert annotated["Supply"]["D2"].value == "=1+1"
    assert "formula has no saved value" in annotated["Supply"]["D2"].comment.text
    assert annotated["Supply"]["D3"].value == -5
    annotated.close()


def test_annotate_refuses_to_write_over_its_input(tmp_path: Path):
    source = many_errors(tmp_path)
    before = source.read_bytes()
    result = validate(source, "--annotate", str(source))
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "refusing to annotate the workbook in place" in result.output
    assert source.read_bytes() == before


def test_annotate_marks_a_bad_lane_cell_of_the_new_inputs(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Licences"] = [
        ["regime", "material", "period", "approval_rate", "end_use", "market"],
        ["CN", "DY", None, 0.3, None, None],
        ["CN", "DY", None, 0.0, "defence", "MARS"],
    ]
    sheets["Sectors"] = [
        ["sector", "name", "min_service", "weight", "end_use"],
        ["S1", None, None, None, "defence"],
        ["S2", None, None, None, None],
    ]
    source = workbooks.write(sheets, tmp_path / "lanes.xlsx")
    target = tmp_path / "checked.xlsx"
    result = validate(source, "--annotate", str(target))
    assert result.exit_code == EXIT_INVALID_INPUT
    comment = openpyxl.load_workbook(target)["Licences"]["F3"].comment
    assert comment is not None and "MARS" in comment.text
