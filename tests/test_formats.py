"""Number formats, widths and page setup of every workbook the product writes.

Formats come from one registry (`exposure.report.formats`) by column or key name;
these tests read the written files back with openpyxl and check what a planner
would see: a share as a percentage, money as USD, no number wider than its column.
"""

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook

from exposure.cli import main
from exposure.report.excel import LINE_HEIGHT, SheetData, write_workbook
from exposure.report.formats import (
    COUNT,
    DECIMAL4,
    GENERAL,
    PERCENT,
    RATIO,
    SECONDS,
    TEXT,
    TONNES,
    UNITS,
    USD,
    USD_PER_T,
    format_for,
    usd_axis_format,
)
from tests import workbooks

FORMATS = (PERCENT, USD, USD_PER_T, TONNES, UNITS, COUNT, DECIMAL4, RATIO, SECONDS, GENERAL, TEXT)
# every code a cell may carry -> its format (money has codes of its own for negatives)
SHOWS = {f.code(v): f for f in FORMATS for v in (-2e9, -2e6, -2.0, 2.0)}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # the columns being added in parallel (issue 11), by name alone
        ("value_service_level", PERCENT),
        ("value_of_1pp", USD),
        ("penalty_change_1pp", DECIMAL4),
        ("value_of_1t", USD_PER_T),
        ("value_method", TEXT),
        ("method", TEXT),
        ("licence_dependency_direct", PERCENT),
        ("licence_dependency_systemic", PERCENT),
        ("value_of_relief", USD),
        # what the reviewer found wrong
        ("service_level", PERCENT),
        ("penalty", DECIMAL4),
        ("value_per_pct_approval", USD),
        ("use_pct", PERCENT),
        ("approval_rate", PERCENT),
        ("licence_dependency_CN-MOFCOM", PERCENT),
        ("probability_below_min_service", PERCENT),
        ("shortfall_at_risk", USD),
        ("lost_value_p95", USD),
        ("service_level_p5", PERCENT),
        ("objective_value", USD),
        ("unit_cost", USD_PER_T),
        ("value_per_t", USD_PER_T),
        ("buy", TONNES),
        ("make", TONNES),
        ("stock", TONNES),
        ("licensed_capacity", TONNES),
        ("used_t", TONNES),
        ("units", UNITS),
        ("build_seconds", SECONDS),
        ("simplex_iterations", COUNT),
        ("period", GENERAL),
        # key/value rows: the first word is the KPI, the rest is data
        ("service_level DEFENCE", PERCENT),
        ("lost_value WIND change", USD),
        ("licence_dependency CN-MOFCOM", PERCENT),
    ],
)
def test_the_registry_formats_a_column_by_its_name(name: str, expected) -> None:
    assert format_for(name) is expected


def test_a_share_never_shows_as_1_and_money_has_separators() -> None:
    assert PERCENT.shows(0.9694) == "96.9%"
    assert USD.shows(46_595_385_034.2) == "USD 46.60 bn"  # in the terminal's scale
    assert USD.shows(-3_500_000) == "-USD 3.5 M"
    assert USD.shows(3_500) == "USD 3,500"
    assert DECIMAL4.shows(1.054648) == "1.0546"
    assert usd_axis_format(3e10).endswith('" bn"')


def _widths_fit_and_pages_are_set_up(book: Workbook) -> None:
    """No number is wider than its column ('###'), and each sheet prints one page wide."""
    for sheet in book.worksheets:
        setup = sheet.page_setup
        assert setup.orientation == "landscape", sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        # an absent fitToWidth is the file format's default, 1 (xlsxwriter leaves it out)
        fit_width = 1 if setup.fitToWidth is None else setup.fitToWidth
        assert (fit_width, setup.fitToHeight) == (1, 0), sheet.title
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                shown = SHOWS.get(cell.number_format)
                assert shown is not None, (sheet.title, cell.coordinate, cell.number_format)
                if cell.coordinate in sheet.merged_cells:
                    continue
                width = sheet.column_dimensions[get_column_letter(cell.column)].width
                assert len(shown.shows(value)) < width, (sheet.title, cell.coordinate, value)


def _by_key(sheet, key_column: int = 1, value_column: int = 2) -> dict[str, object]:
    """Key -> value cell of a key/value table (the header is the first row whose key is text)."""
    return {
        row[key_column - 1].value: row[value_column - 1]
        for row in sheet.iter_rows()
        if isinstance(row[key_column - 1].value, str)
    }


def test_results_workbook_formats(tiny_workbook: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.xlsx"
    result = CliRunner().invoke(main, ["run", str(tiny_workbook), "-o", str(out)])
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    _widths_fit_and_pages_are_set_up(book)

    summary = _by_key(book["Summary"])
    assert summary["value_service_level"].number_format == PERCENT.excel
    assert summary["lost_value"].number_format == USD.excel
    assert summary["penalty"].number_format == DECIMAL4.excel
    # the terminal's sentences, above the KPIs
    texts = [c.value for c in book["Summary"]["A"] if isinstance(c.value, str)]
    assert "status: optimal (priority objective)" in texts
    assert any(t.startswith("lost value: USD 3,500 of USD 15,000 demanded") for t in texts)
    assert texts.index("status: optimal (priority objective)") < texts.index("kpi")

    supply = book["Supply"]
    headers = {c.value: c.column for c in supply[1]}
    for column, expected in [
        ("use_pct", PERCENT),
        ("buy", TONNES),
        ("approval", PERCENT),
    ]:
        assert supply.cell(row=2, column=headers[column]).number_format == expected.excel

    run = _by_key(book["Run"])
    assert run["solve_seconds"].number_format == SECONDS.excel
    assert run["objective_value"].number_format == USD.excel
    assert run["input_sha256"].data_type == "s"
    assert book["Supply by country"]["B2"].number_format == TONNES.excel


def test_whatif_sweep_and_stress_workbooks_are_formatted(tmp_path: Path) -> None:
    sheets = workbooks.tiny()
    sheets["Licences"] = [
        ["regime", "material", "period", "approval_rate", "approval_low", "approval_high"],
        ["CN", "DY", None, 0.3, 0.1, 0.5],
    ]
    sheets["Scenarios"] = [
        ["scenario", "sheet", "column", "match", "operation", "value", "note"],
        ["CUT", "Licences", "approval_rate", "regime=CN", "set", 0.1, None],
        ["MORE", "Supply", "capacity", "source=AUS", "scale", 1.5, None],
    ]
    path = workbooks.write(sheets, tmp_path / "w.xlsx")
    runner = CliRunner()
    commands = {
        "whatif": [],
        "sweep": ["--vary", "Licences:approval_rate:regime=CN", "--from", "0", "--to", "1"],
        "stress": ["--draws", "12", "--jobs", "1"],
    }
    books = {}
    for command, extra in commands.items():
        out = tmp_path / f"{command}.xlsx"
        result = runner.invoke(main, [command, str(path), "-o", str(out), "-q", *extra])
        assert result.exit_code == 0, result.output
        books[command] = load_workbook(out)
        _widths_fit_and_pages_are_set_up(books[command])

    scenarios = _by_key(books["whatif"]["Scenarios"], value_column=2)
    assert scenarios["value_service_level"].number_format == PERCENT.excel
    assert scenarios["lost_value S2"].number_format == USD.excel
    assert scenarios["penalty"].number_format == DECIMAL4.excel
    inputs = books["whatif"]["Scenario inputs"]
    headers = {c.value: c.column for c in inputs[1]}
    formats = {
        inputs.cell(row=r, column=headers["column"]).value: inputs.cell(
            row=r, column=headers["to"]
        ).number_format
        for r in range(2, inputs.max_row + 1)
    }
    assert formats == {"approval_rate": PERCENT.excel, "capacity": TONNES.excel}

    # the swept approval rate shows as a percentage, in the tables and on the chart's axis
    sweep = books["sweep"]
    assert sweep["Sweep totals"]["A2"].number_format == PERCENT.excel
    assert sweep["Sweep totals"]["A3"].value == pytest.approx(0.1)
    (chart,) = sweep["Sweep"]._charts
    assert chart.x_axis.number_format.formatCode == PERCENT.excel

    stress = books["stress"]
    draws = stress["Stress draws"]
    assert draws["B1"].value == "CN DY t1"
    assert draws["B2"].number_format == PERCENT.excel


def test_report_workbook_is_formatted(tmp_path: Path) -> None:
    workbooks.write(workbooks.tiny(), tmp_path / "in.xlsx")
    config = tmp_path / "report.toml"
    config.write_text(
        'name = "tiny"\ninput = "in.xlsx"\noutput_dir = "out"\n'
        "[stress]\ndraws = 5\nseed = 1\n"
        '[[thresholds]]\nmetric = "service_level"\nop = "<"\nvalue = 0.5\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["report", str(config), "-q"])
    assert result.exit_code == 0, result.output
    (written,) = (tmp_path / "out").glob("tiny-*.xlsx")
    book = load_workbook(written)
    _widths_fit_and_pages_are_set_up(book)
    alerts = book["Alerts"]
    headers = {c.value: c.column for c in alerts[1]}
    assert alerts.cell(row=2, column=headers["limit"]).number_format == PERCENT.excel
    assert alerts.cell(row=2, column=headers["value"]).number_format == PERCENT.excel
    changes = _by_key(book["Changes"], key_column=3, value_column=5)
    assert changes["penalty"].number_format == DECIMAL4.excel


def test_long_text_wraps_in_a_row_tall_enough(tmp_path: Path) -> None:
    long = "supply: CN-OXIDES capacity of SM_OX (10.0 t) (input of ROW-SMCO) " * 3
    frame = pd.DataFrame({"item": ["short", long], "lost_value": [1.0, 2.0]})
    path = tmp_path / "t.xlsx"
    write_workbook(path, [SheetData("T", frame)])
    sheet = load_workbook(path)["T"]
    assert sheet["A3"].alignment.wrap_text
    assert sheet.row_dimensions[3].height >= 2 * LINE_HEIGHT  # not every reader grows it
    assert not sheet.row_dimensions[2].height  # a short row keeps the default height
    assert sheet["B3"].alignment.vertical == "top"  # the number reads with its text's top line
