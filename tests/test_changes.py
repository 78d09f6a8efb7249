"""The change engine (issue 10): changes to the typed tables equal a cold read of the edited
workbook, are validated by the schema's rules naming the Scenarios cell, and move only the
numbers they feed, in place, without describing the LP again."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from exposure.errors import InputError
from exposure.scenarios import Engine, Vary
from exposure.tables import to_model_data
from exposure.whatif.changes import (
    Change,
    Changes,
    Edit,
    apply_changes,
    apply_edits,
    edit_changes,
    resolve_edits,
    scenario_edits,
)
from exposure.workbook.reader import RawWorkbook
from exposure.workbook.validate import load_valid_workbook
from models import build_model
from models.allocation import describe
from models.data import AllocationData
from tests import workbooks

REFERENCE = Path(__file__).parent.parent / "inputs" / "reference.xlsx"
TABLES = ("materials", "supply", "plants", "recipes", "demand", "intensity", "variants", "licences")


@cache
def reference() -> tuple[RawWorkbook, AllocationData]:
    book = load_valid_workbook(REFERENCE)
    return book, to_model_data(book)


def assert_same_tables(left: AllocationData, right: AllocationData) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), obj=name)


def changed_and_cold(book: RawWorkbook, base: AllocationData, edits: list[Edit]):
    resolved, _ = resolve_edits(book, edits)
    changes = edit_changes(resolved)
    assert changes is not None
    changed, touched = apply_changes(base, changes.items)
    cold = to_model_data(apply_edits(book, edits)[0])
    return changes, changed, touched, cold


# ------------------------------------------------------------------ validation
def test_a_change_that_breaks_a_rate_names_its_scenarios_cell(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Scenarios"] = [
        ["scenario", "sheet", "column", "match", "operation", "value", "note"],
        ["OK", "Supply", "capacity", "source=CNX", "scale", 2, None],
        ["UP", "Licences", "approval_rate", "regime=CN", "scale", 5, None],
    ]
    book = load_valid_workbook(workbooks.write(sheets, tmp_path / "w.xlsx"))
    with pytest.raises(InputError) as caught:
        resolve_edits(book, scenario_edits(book)["UP"])
    (issue,) = caught.value.issues
    assert (issue.sheet, issue.row, issue.column) == ("Scenarios", 3, 6)  # the value cell, F3
    assert "within [0, 1]" in issue.message
    # The same rule refuses the same value as a sweep step.
    with pytest.raises(InputError, match=r"within \[0, 1\]"):
        from exposure.scenarios import run_sweep

        run_sweep(book, tmp_path, Vary.parse("Licences:approval_rate:regime=CN"), [1.5])


def test_vary_and_the_validator_share_the_schema_rules():
    with pytest.raises(InputError, match="is not a number column of Supply"):
        Vary.parse("Supply:source")
    with pytest.raises(InputError, match="unknown sheet 'Scenarios'"):
        Vary.parse("Scenarios:value")
    with pytest.raises(InputError, match="unknown column 'colour'"):
        Vary.parse("Supply:capacity:colour=red")
    assert Vary.parse("supply:Capacity:source=A*").sheet == "Supply"


# ------------------------------------------------- changes equal a cold read
def test_every_reference_scenario_as_changes_equals_the_edited_workbook_read_cold():
    book, base = reference()
    for edits in scenario_edits(book).values():
        _, changed, _, cold = changed_and_cold(book, base, edits)
        assert_same_tables(changed, cold)


# (sheet, column, key column of the match) that a Scenarios row may change in a table
EDITABLE = [
    ("Supply", "capacity", "source"),
    ("Supply", "unit_cost", "material"),
    ("Plants", "capacity", "plant"),
    ("Licences", "approval_rate", "material"),
    ("Licences", "approval_low", "regime"),
    ("Licences", "lead_periods", "market"),
    ("Demand", "units", "product"),
    ("Demand", "value_per_unit", "sector"),
    ("Sectors", "min_service", "sector"),
    ("Sectors", "weight", "sector"),
    ("Materials", "initial_stock", "material"),
    ("Materials", "holding_cost", "material"),
    ("Intensity", "kg_per_unit", "product"),
    ("Variants", "max_share", "variant"),
    ("Recipes", "t_per_t", "plant"),
]


@st.composite
def edits(draw: st.DrawFn) -> list[Edit]:
    book, _ = reference()
    chosen = []
    for _ in range(draw(st.integers(1, 3))):
        sheet, column, key = draw(st.sampled_from(EDITABLE))
        ids = sorted({str(v) for v in book.frame(sheet)[key] if v is not None})
        value = draw(st.sampled_from(ids))
        operation = draw(st.sampled_from(["set", "scale", "add"]))
        number = draw(st.sampled_from([0.0, 0.05, 0.5, 0.9, 1.0, 1.5, 2.0]))
        chosen.append(
            Edit("H", sheet, column, ((key, value),), operation, number, None, len(chosen) + 2)
        )
    return chosen


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits())
def test_changes_equal_a_cold_read_of_the_edited_workbook(chosen: list[Edit]):
    book, base = reference()
    try:
        _, changed, _, cold = changed_and_cold(book, base, chosen)
    except InputError:
        assume(False)  # an edit the schema refuses (a rate above 1): refused both ways
        return
    assert_same_tables(changed, cold)


def test_warm_changes_solve_as_a_cold_build_of_the_edited_workbook(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Scenarios"] = [
        ["scenario", "sheet", "column", "match", "operation", "value", "note"],
        ["CUT", "Licences", "approval_rate", "regime=CN", "set", 0.1, None],
        ["MORE", "Supply", "capacity", "source=AUS", "add", 4, None],
        ["DEAR", "Demand", "value_per_unit", "product=P2", "scale", 3, None],
        ["FLOOR", "Sectors", "min_service", "sector=S2", "set", 0.5, None],
        ["STOCK", "Materials", "initial_stock", "material=DY", "set", 2, None],
    ]
    book = load_valid_workbook(workbooks.write(sheets, tmp_path / "w.xlsx"))
    engine = Engine(book, "priority")
    for edits_ in scenario_edits(book).values():
        changes = edit_changes(resolve_edits(book, edits_)[0])
        assert changes is not None
        warm = engine.solve(changes)
        cold = build_model(to_model_data(apply_edits(book, edits_)[0])).solve_quick()
        assert warm.objective_value == pytest.approx(cold.objective_value, rel=1e-9)
        assert np.allclose(warm.built, cold.built, rtol=1e-9, atol=1e-9)
    assert engine.rebuilds == 2  # only adding the service floor and dropping it need new rows


# ------------------------------------------------------- in place, no describe
IN_PLACE = [
    Change("supply", "capacity", (("source", ("CN-OXIDES",)),), "scale", 0.5),
    Change("licences", "rate", (("regime", ("CN-MOFCOM",)),), "set", 0.2),
    Change("plants", "unit_cost", (), "scale", 1.3),
    Change("demand", "units", (("sector", ("EV",)),), "scale", 1.2),
    Change("demand", "value_per_unit", (("sector", ("WIND",)),), "add", 10.0),
    Change("materials", "initial_stock", (), "add", 5.0),
]


@pytest.mark.parametrize("change", IN_PLACE, ids=lambda c: f"{c.table}.{c.column}")
def test_an_in_place_update_needs_no_describe_and_equals_a_cold_build(change, monkeypatch):
    _, base = reference()
    in_place, described = build_model(base), build_model(base)
    in_place.solve_quick()
    described.solve_quick()
    changed, touched = apply_changes(base, [change])
    _, expected = describe(copy.deepcopy(changed), "priority")
    described.update(changed)  # the path of a structural change: describe, compare

    def no_describe(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("describe() was called")

    monkeypatch.setattr("models.allocation.describe", no_describe)
    in_place.update(changed, touched)
    for name, value in vars(expected).items():
        assert np.array_equal(getattr(in_place.numbers, name), value), name
    warm = in_place.solve_quick()
    monkeypatch.undo()
    # The same numbers, so the same HiGHS edits: the very solution of the describe path.
    assert np.array_equal(warm.built, described.solve_quick().built)
    # And the optimum of a cold build (the point may be another optimal vertex).
    cold = build_model(changed).solve_quick()
    assert warm.objective_value == pytest.approx(cold.objective_value, rel=1e-9)


def test_stress_draws_are_licence_rate_changes_on_the_fast_path():
    _, base = reference()
    from exposure.whatif.changes import LimitMap, licence_rate_changes

    licences = LimitMap.of(base)
    keys = zip(base.licences["licence_row"], base.licences["period"], strict=True)
    rates = {(int(r), t): 0.25 for r, t in keys}
    task = licence_rate_changes(rates)
    assert LimitMap.handles(task) and not LimitMap.handles(Changes(IN_PLACE[2:3]))
    changed, _ = apply_changes(base, task.items)
    supply, plants = licences.limits_for(task)
    assert np.array_equal(supply, (changed.supply["capacity"] * changed.supply["approval"]))
    assert np.array_equal(plants, (changed.plants["capacity"] * changed.plants["approval"]))


def test_the_change_engine_imports_no_front_door():
    import ast

    import exposure.whatif.changes as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    doors = ("exposure.cli", "exposure.web", "exposure.schedule", "exposure.pipeline")
    assert not [m for m in imported if m.startswith(doors)]


FAST = [
    Change("supply", "capacity", (("source", ("CN-OXIDES",)),), "scale", 0.5),
    Change("supply", "capacity", (("source", ("CN-OXIDES", "AU-LYNAS")),), "scale", 1.01),
    Change("plants", "capacity", (("period", ("2026-Q2",)),), "scale", 1.5),
    Change("supply", "approval", (("material", ("DY_OX",)), ("period", ("2026-Q1",))), "set", 0.9),
    Change("plants", "approval", (), "set", 0.4),
    Change("licences", "rate", (("regime", ("CN-MOFCOM",)),), "set", 0.2),
]


def test_the_rows_a_step_touches_are_read_only_where_they_are_the_cached_positions():
    """One change touches one part of a table: its positions are handed out as cached
    (no copy), so writing into them must fail rather than move every later step."""
    from exposure.whatif.changes import LimitMap

    _, base = reference()
    limits = LimitMap.of(base)
    task = Changes((Change("supply", "approval", (("source", ("CN-OXIDES",)),), "set", 0.9),))
    before = limits.touched_rows(task)["supply"].copy()
    assert before.size
    with pytest.raises(ValueError, match="read-only"):
        limits.touched_rows(task)["supply"][0] = before[0] + 1
    assert np.array_equal(limits.touched_rows(task)["supply"], before)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(FAST), min_size=1, max_size=4))
def test_the_limits_fast_path_gives_the_numbers_of_the_changed_tables(changes):
    """Capacities, approvals and licensed capacities after fast changes, in any order, are
    those of `apply_changes`, to the last bit; so is the LP a warm model holds for them."""
    from exposure.whatif.changes import LimitMap

    _, base = reference()
    task = Changes(tuple(changes))
    assert LimitMap.handles(task)
    changed, _ = apply_changes(base, task.items)
    numbers = LimitMap.of(base).numbers_for(task)
    expected = (
        changed.supply["capacity"],
        changed.supply["approval"],
        changed.plants["capacity"],
        changed.plants["approval"],
    )
    for got, want in zip(numbers, expected, strict=True):
        assert np.array_equal(got, want.to_numpy(float))
    # On the rows a step touches only (the sensitivities' path): the same numbers, and
    # every row it leaves out holds its base numbers.
    limits = LimitMap.of(base)
    rows = limits.touched_rows(task)
    sparse = limits.numbers_at(task, rows)
    base_numbers = limits.numbers_for(Changes(()))
    for table in ("supply", "plants"):
        assert np.array_equal(rows[table], np.unique(rows[table]))  # sorted, each row once
    for i, table in enumerate(("supply", "supply", "plants", "plants")):
        assert np.array_equal(sparse[i], numbers[i][rows[table]])
        untouched = np.setdiff1d(np.arange(len(numbers[i])), rows[table])
        assert np.array_equal(numbers[i][untouched], base_numbers[i][untouched])
    model = build_model(base)
    model.set_capacities(*numbers)
    updated = build_model(base)
    updated.update(
        changed,
        {("supply", "capacity"), ("supply", "approval")}
        | {
            ("plants", "capacity"),
            ("plants", "approval"),
        },
    )
    for name in ("supply_limit", "plant_limit", "supply_capacity", "plant_capacity"):
        assert np.array_equal(getattr(model.numbers, name), getattr(updated.numbers, name))
