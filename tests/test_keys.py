"""Keys below the front doors (issue 10): declared worksheet-row columns, the stress
persistence in the typed tables, one value rule per column for the reader and edits, and
origin tags joined to solution rows by key."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from exposure.issues import CATALOGUE, IssueLog
from exposure.origins import pool_mixes
from exposure.scenarios import Engine, run_stress
from exposure.tables import SHEET_TABLES, to_model_data
from exposure.whatif.changes import Change, apply_changes
from exposure.workbook import reader
from exposure.workbook.schema import (
    EDIT_REASONS,
    VALUE_RANGES,
    Column,
    ColumnKind,
    value_issue,
    value_problem,
)
from exposure.workbook.validate import check_workbook, load_valid_workbook
from models import SolveStatus, build_model
from models.data import DEFAULT_LANE, OPTIONAL_DEFAULTS, SOURCE_ROWS, AllocationData
from tests import workbooks
from tests.test_model_paths import magnet_chain
from tests.test_model_small import one_material
from tests.test_scenarios import persistence_book


# ------------------------------------------------------------ 1. worksheet rows
def test_every_sheet_tables_row_column_is_declared():
    for table, row_column, _ in SHEET_TABLES.values():
        assert SOURCE_ROWS[table] == row_column
        if table != "licences":  # the licence key is required, the others optional
            assert math.isnan(OPTIONAL_DEFAULTS[table][row_column])


def test_data_built_in_code_has_the_row_columns_blank():
    data = one_material()
    for table, row_column in SOURCE_ROWS.items():
        frame = getattr(data, table)
        assert row_column in frame, (table, row_column)
        assert frame[row_column].isna().all()


def test_a_change_by_worksheet_row_of_data_built_in_code_selects_nothing():
    # Undeclared, `supply_row` was missing here and the change raised KeyError.
    data = one_material()
    change = Change("supply", "capacity", (("supply_row", (3,)),), "set", 0.0)
    changed, touched = apply_changes(data, [change])
    assert touched == set()
    pd.testing.assert_frame_equal(changed.supply, data.supply)


def test_a_workbook_gives_every_row_its_worksheet_row(tmp_path: Path):
    book = load_valid_workbook(workbooks.write(workbooks.tiny(), tmp_path / "w.xlsx"))
    data = to_model_data(book)
    assert data.supply.set_index("source")["supply_row"].to_dict() == {"CNX": 2, "AUS": 3}
    assert list(data.demand["demand_row"]) == [2, 3]
    assert list(data.intensity["intensity_row"]) == [2, 3]
    assert list(data.materials["material_row"]) == [2]
    change = Change("supply", "capacity", (("supply_row", (3,)),), "set", 4.0)
    changed, touched = apply_changes(data, [change])
    assert touched == {("supply", "capacity")}
    capacity = changed.supply.set_index("source")["capacity"].to_dict()
    assert capacity == {"CNX": 10.0, "AUS": 4.0}


# ------------------------------------------------------------ 2. stress persistence
def test_persistence_is_a_column_of_the_typed_tables(tmp_path: Path):
    book = load_valid_workbook(persistence_book(tmp_path, 0.6))
    data = to_model_data(book)
    assert list(data.regimes["regime"]) == ["CN"]
    assert list(data.regimes["persistence"]) == [0.6]
    assert list(data.regimes["regime_row"]) == [2]
    assert data.persistence == {"CN": 0.6}
    # Blank is 0 (independent periods), and data built in code has no regimes.
    blank = to_model_data(load_valid_workbook(persistence_book(tmp_path, None)))
    assert list(blank.regimes["persistence"]) == [0.0]
    assert blank.persistence == {}
    assert one_material().persistence == {}


def test_stress_reads_persistence_from_the_tables_it_solves(tmp_path: Path):
    # The workbook says 0 (independent periods); the engine's tables say 1. Stress must
    # follow the tables: every quarter then keeps the first quarter's draw.
    path = persistence_book(tmp_path, 0.0)
    book = load_valid_workbook(path)
    engine = Engine(book, "priority")
    engine.base.regimes = engine.base.regimes.assign(persistence=1.0)
    result = run_stress(book, path, draws=6, seed=3, jobs=1, engine=engine)
    assert result.persistence == {"CN": 1.0}
    rates = result.draws[[f"CN DY q{i}" for i in (1, 2, 3, 4)]].to_numpy()
    assert (rates == rates[:, :1]).all()
    assert not (rates[:, 0] == rates[0, 0]).all()


# ------------------------------------------------------------ 4. origin tags by key
def chain_with_countries() -> AllocationData:
    data = magnet_chain()
    data.supply["country"] = ["AU", "CN"]  # A: NdPr, B: Dy
    data.plants["country"] = ["JP"]
    return data


def test_origin_tags_follow_the_solution_rows_by_key_not_by_position():
    data = chain_with_countries()
    solution = build_model(data).solve()
    assert solution.status is SolveStatus.OPTIMAL
    mixes = pool_mixes(solution, data)
    assert mixes["MAG", "t1", DEFAULT_LANE] == pytest.approx(
        {("MAG", "JP"): 1.0, ("NDPR", "AU"): 0.5, ("DY", "CN"): 0.01}
    )
    # The same solution with its supply rows in another order: paired by position, the
    # NdPr row would take CN and the Dy row AU.
    reordered = copy.copy(solution)
    reordered.supply = solution.supply.iloc[::-1].reset_index(drop=True)
    assert pool_mixes(reordered, data) == mixes
    tags = pd.Series(["AU", "CN"], index=data.supply.index)
    assert pool_mixes(reordered, data, supply_origins=tags) == mixes
    # Tags given in another order of the same index are read by index, too.
    assert pool_mixes(solution, data, supply_origins=tags.iloc[::-1]) == mixes


@pytest.mark.parametrize(
    "tags",
    [
        pd.Series(["AU", "CN"], index=[1, 2]),  # shifted: one row untagged
        pd.Series(["AU"]),  # too short
        pd.Series(["AU", "CN", "US"]),  # too long
        pd.Series(["AU", "CN"], index=[0, 0]),  # one row tagged twice
        ["AU", "CN"],  # by position
    ],
)
def test_a_misaligned_origin_tag_raises(tags):
    data = chain_with_countries()
    solution = build_model(data).solve()
    with pytest.raises(ValueError, match="origin tags"):
        pool_mixes(solution, data, supply_origins=tags)


def test_a_solution_row_without_an_input_row_raises():
    data = chain_with_countries()
    solution = copy.copy(build_model(data).solve())
    solution.plants = solution.plants.assign(plant="Q")
    with pytest.raises(ValueError, match="without an input row"):
        pool_mixes(solution, data)


# ------------------------------------------------------- 3. one value rule per column
@pytest.mark.parametrize(
    ("place", "column", "kind", "value"),
    [
        ("Licences!D2", "approval_rate", "rate", 25),
        ("Licences!D2", "approval_rate", "rate", -0.1),
        ("Supply!D3", "capacity", "quantity", -5),
        ("Demand!E2", "value_per_unit", "money", -1000),
        ("Sectors!D2", "weight", "weight", 0),
        ("Supply!D3", "capacity", "quantity", 1e16),
    ],
)
def test_a_reader_range_error_is_the_schema_rule(
    tmp_path: Path, place: str, column: str, kind: ColumnKind, value: float
):
    path = workbooks.write(workbooks.tiny(), tmp_path / "w.xlsx")
    book = openpyxl.load_workbook(path)
    sheet, cell = place.split("!")
    book[sheet][cell] = value
    book.save(path)
    (issue,) = check_workbook(path).log.errors
    rule = value_issue(column, kind, float(value), plausible=True)
    assert rule is not None
    assert (issue.place, issue.code, issue.message) == (place, rule.code, rule.message)
    assert issue.hint == (rule.hint or CATALOGUE[rule.code].hint)
    if rule.code != "huge-number":  # the magnitude limit is the reader's alone
        assert value_problem(kind, float(value)) == EDIT_REASONS[rule.code]


VALUES = [-1e15, -1.0, -1e-9, 0.0, 1e-9, 0.5, 1.0, 1.0 + 1e-9, 25.0, 1e15, math.inf, math.nan]


@pytest.mark.parametrize("kind", list(VALUE_RANGES))
def test_reader_and_edits_accept_the_same_values(kind: ColumnKind):
    column = Column("x", kind, "")
    fast = reader._FAST_PARSERS[kind]
    for value in VALUES:
        log = IssueLog()
        read = reader.parse_cell(value, column, log, {})
        accepted = value_problem(kind, value) is None
        assert (read is not None) == accepted, (kind, value, log.issues)
        if not accepted:
            (issue,) = log.issues
            assert EDIT_REASONS[issue.code] == value_problem(kind, value)
        # The fast paths take only values the rule accepts, and all the plain ones.
        assert (fast(value) is not reader._SLOW) == accepted, (kind, value)
        assert (reader._parse_whole_column([value], column) is not None) == accepted
