"""The calamine reader finds the same problems at the same cells as the openpyxl one.

`read_workbook(engine="calamine")` is the fast path (issue 14); `engine="openpyxl"`
is the reference. Each workbook below is one calamine reads itself (not handed to
openpyxl by `calamine_refusal`), so the comparison is a real one.
"""

from __future__ import annotations

import zipfile
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from exposure.workbook import reader
from exposure.workbook.checks import run_checks
from exposure.workbook.safe_open import calamine_refusal
from tests import workbooks


def read_both(path: Path) -> tuple[reader.RawWorkbook, reader.RawWorkbook]:
    books = []
    for engine in ("calamine", "openpyxl"):
        book = reader.read_workbook(path, engine=engine)
        run_checks(book)
        books.append(book)
    return books[0], books[1]


def findings(book: reader.RawWorkbook) -> list[tuple[str, str, str, str]]:
    return [(i.code, i.severity, i.place, str(i)) for i in book.log.issues]


def assert_same(path: Path) -> reader.RawWorkbook:
    """Calamine reads `path` itself and agrees with openpyxl on every issue and table."""
    assert calamine_refusal(path, max_columns=reader.MAX_COLUMNS, max_rows=reader.MAX_ROWS) is None
    fast, reference = read_both(path)
    assert findings(fast) == findings(reference)
    assert fast.tables.keys() == reference.tables.keys()
    for name, table in fast.tables.items():
        expected = reference.tables[name]
        assert table.column_index == expected.column_index, name
        assert table.frame.to_dict("records") == expected.frame.to_dict("records"), name
    return fast


def edited(tmp_path: Path, edit: Any) -> Path:
    path = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    book = openpyxl.load_workbook(path)
    edit(book)
    book.save(path)
    return path


def test_tiny_and_reference_workbooks_read_alike(tmp_path: Path):
    assert_same(workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx"))
    assert_same(workbooks.REFERENCE)


def test_sparse_sheet_with_gaps_and_stray_cells(tmp_path: Path):
    def sparse(book: openpyxl.Workbook) -> None:
        ws = book["Supply"]
        ws["A9"], ws["B9"], ws["D9"] = "AUS", "DY", 3  # after blank rows 4-8
        ws["K30"] = "a note far below, in an unused column"
        ws["C20"] = "  "  # a blank cell in a used column
        ws["E9"] = None

    book = assert_same(edited(tmp_path, sparse))
    assert ("blank-row", "Supply!A4") in [(i.code, i.place) for i in book.log.issues]
    assert ("duplicate-key", "Supply!A9") in [(i.code, i.place) for i in book.log.issues]


def test_blank_rows_and_rows_of_blank_cells(tmp_path: Path):
    def blanks(book: openpyxl.Workbook) -> None:
        ws = book["Demand"]
        ws.insert_rows(3, 2)
        ws["A3"], ws["C3"] = " ", ""  # a row of blank cells, then an empty row

    book = assert_same(edited(tmp_path, blanks))
    (issue,) = [i for i in book.log.issues if i.code == "blank-row"]
    assert issue.place == "Demand!A3"
    assert "rows 3-4" in issue.message


def test_merged_cells_in_and_above_the_table(tmp_path: Path):
    def merge(book: openpyxl.Workbook) -> None:
        book["Supply"].merge_cells("A2:A3")
        book["Supply"]["G1"] = "notes"
        book["Supply"].merge_cells("G1:H1")
        book["Intensity"].merge_cells("B2:C3")

    book = assert_same(edited(tmp_path, merge))
    places = [i.place for i in book.log.issues if i.code == "merged-cells"]
    assert places == ["Supply!A2", "Intensity!B2"]


def test_table_starting_away_from_a1(tmp_path: Path):
    def shift(book: openpyxl.Workbook) -> None:
        book["Supply"].insert_cols(1, 2)  # the table now starts in C1
        ws = book["Sectors"]
        ws.insert_rows(1, 2)  # the header is in row 3: every column is missing from row 1
        ws.insert_cols(1, 1)

    book = assert_same(edited(tmp_path, shift))
    assert book.tables["Supply"].column_index["source"] == 3
    missing = [i.place for i in book.log.issues if i.code == "missing-column"]
    assert missing == ["Sectors!A1"]  # row 1 is empty: A1 is free


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (True, "not-a-number"),
        (time(10, 0), "not-a-number"),
        (timedelta(hours=30), "not-a-number"),  # a duration, formatted [h]:mm:ss
        (datetime(2026, 1, 2), "not-a-number"),
        ("1,234.5", "not-a-number"),
        ("12", "number-as-text"),
        (-1, "negative"),
        (1e16, "huge-number"),
    ],
)
def test_odd_values_in_a_number_cell(tmp_path: Path, value: Any, code: str):
    def put(book: openpyxl.Workbook) -> None:
        book["Supply"]["D3"] = value

    book = assert_same(edited(tmp_path, put))
    assert [(i.code, i.place) for i in book.log.issues] == [(code, "Supply!D3")]


@pytest.mark.parametrize(
    ("value", "code", "place"),
    [
        (datetime(2026, 1, 2), "date-as-id", "Sources!A2"),
        (time(10, 0), "date-as-id", "Sources!A2"),
        (False, "bad-id", "Sources!A2"),
        ("CN\u00a0X ", "unknown-id", "Supply!A2"),  # Supply names CNX, now not on Sources
    ],
)
def test_odd_values_in_an_id_cell(tmp_path: Path, value: Any, code: str, place: str):
    def put(book: openpyxl.Workbook) -> None:
        book["Sources"]["A2"] = value

    book = assert_same(edited(tmp_path, put))
    assert (code, place) in [(i.code, i.place) for i in book.log.issues]


def test_dates_read_as_openpyxl_reads_them(tmp_path: Path):
    def dated(book: openpyxl.Workbook) -> None:
        book["Periods"]["C1"] = "start"
        book["Periods"]["C2"] = datetime(2026, 1, 1)

    book = assert_same(edited(tmp_path, dated))
    assert book.frame("Periods")["start"].tolist() == [datetime(2026, 1, 1)]


def test_hidden_sheet_and_formula_without_value(tmp_path: Path):
    def edit(book: openpyxl.Workbook) -> None:
        book["Regimes"].sheet_state = "hidden"
        book["Supply"]["E3"] = "=1+1"  # openpyxl saves no value for it

    book = assert_same(edited(tmp_path, edit))
    codes = [(i.code, i.place) for i in book.log.issues]
    assert codes == [("hidden-sheet", "Regimes"), ("formula-without-value", "Supply!E3")]


def rewrite_sheet(path: Path, target: Path, sheet_part: str, edit: Any) -> Path:
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            new.writestr(item, edit(data) if item.filename == sheet_part else data)
    return target


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d.replace(b'<c r="D3"', b'<c r="XFD3"', 1), "column 16384"),
        (lambda d: d.replace(b'<c r="D3" t="n"', b'<c r="D3" t="e"', 1), "error cells"),
        (lambda d: d.replace(b'<c r="D3"', b"<c", 1), "cells without a plain reference"),
        (lambda d: d.replace(b'<row r="3"', b'<row r="1048576"', 1), "row 1048576"),
        (lambda d: d[: len(d) // 2], "does not end"),
    ],
)
def test_workbooks_calamine_must_not_read_are_read_by_openpyxl(
    tmp_path: Path, edit: Any, reason: str
):
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    path = rewrite_sheet(source, tmp_path / "odd.xlsx", "xl/worksheets/sheet6.xml", edit)
    refusal = calamine_refusal(path, max_columns=reader.MAX_COLUMNS, max_rows=reader.MAX_ROWS)
    assert refusal is not None
    assert reason in refusal
