"""Fuzzing the reader and validator: mutated zips, XML and cell values never crash them.

The mutations are in `tests/fuzzing.py`. This is the short run, derandomized so
that CI sees the same inputs every time; `bench/fuzz_reader.py` is the long one
(see bench/README.md). Crashes either campaign found are kept below, minimised,
as regression tests.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from exposure.errors import InputError
from tests.fuzzing import (
    SEED_NAMES,
    CellEdit,
    FuzzInput,
    XmlEdit,
    ZipEdit,
    fuzz_inputs,
    run_one,
    seeds,
)

SHORT_RUN = settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def plain(seed: str, **edits: tuple) -> FuzzInput:
    layers = {"sheet_edits": (), "cell_edits": (), "xml_edits": (), "zip_edits": ()}
    return FuzzInput(seed=seed, **{**layers, **edits})


@pytest.mark.parametrize("seed", SEED_NAMES)
def test_every_seed_workbook_is_valid(tmp_path: Path, seed: str):
    assert run_one(plain(seed), tmp_path / "seed.xlsx") == "valid"


@SHORT_RUN
@given(fuzz_input=fuzz_inputs(sheet_layer=0.2))
def test_mutated_workbooks_are_read_or_refused_never_crash(
    tmp_path_factory: pytest.TempPathFactory, fuzz_input: FuzzInput
):
    """Outcome is one of refused / invalid / valid; any other exception fails the test."""
    path = tmp_path_factory.getbasetemp() / "fuzz-input.xlsx"
    assert run_one(fuzz_input, path) in ("refused", "invalid", "valid", "skipped")


# --- each layer on its own, so a regression points at one kind of damage ------------


@pytest.mark.parametrize(
    ("edit", "outcome"),
    [
        (CellEdit(sheet=5, cell=7, kind="e", text="#N/A"), "invalid"),
        (CellEdit(sheet=5, cell=7, kind="n", text="1e309"), "invalid"),
        (CellEdit(sheet=5, cell=7, kind="formula", text="1/0"), "invalid"),
        (CellEdit(sheet=5, cell=7, kind="shared", text="7"), "refused"),
    ],
)
def test_one_bad_cell(tmp_path: Path, edit: CellEdit, outcome: str):
    assert run_one(plain("tiny", cell_edits=(edit,)), tmp_path / "x.xlsx") == outcome


@pytest.mark.parametrize(
    "edit",
    [
        XmlEdit(kind="truncate", part=3, at=100),
        XmlEdit(kind="prolog", part=3, at=0, payload=b"<!DOCTYPE x>"),
        XmlEdit(kind="utf-16", part=3, at=0),
        XmlEdit(kind="attribute", part=9, at=4, payload=b"XFD1048576"),
    ],
)
def test_one_bad_xml_part(tmp_path: Path, edit: XmlEdit):
    assert run_one(plain("tiny", xml_edits=(edit,)), tmp_path / "x.xlsx") in (
        "refused",
        "invalid",
        "valid",
    )


@pytest.mark.parametrize(
    "edit",
    [
        ZipEdit(kind="drop-part", at=14),
        ZipEdit(kind="repeat-part", at=3),
        ZipEdit(kind="truncate", at=2000),
        ZipEdit(kind="flip", at=40, payload=b"\x01"),
    ],
)
def test_one_damaged_archive(tmp_path: Path, edit: ZipEdit):
    assert run_one(plain("tiny", zip_edits=(edit,)), tmp_path / "x.xlsx") in (
        "refused",
        "invalid",
        "valid",
    )


# --- regressions: crashes the campaign found, minimised --------------------------------


@pytest.mark.parametrize(
    ("cell", "code"),
    [(7, "not-a-number"), (5, "date-as-id")],  # Supply!D2 (capacity) and Supply!A2 (source)
)
def test_a_cell_stored_as_a_time_of_day_is_an_error_not_a_crash(
    tmp_path: Path, cell: int, code: str
):
    """Found by bench/fuzz_reader.py: `<c t="d"><v>10:00:00</v></c>` reads as a
    datetime.time, which float() refused with a TypeError."""
    from exposure.workbook.validate import check_workbook

    edit = CellEdit(sheet=5, cell=cell, kind="d", text="10:00:00")
    path = tmp_path / "time.xlsx"
    assert run_one(plain("tiny", cell_edits=(edit,)), path) == "invalid"
    (issue,) = check_workbook(path).log.errors
    assert issue.code == code
    assert issue.sheet == "Supply"
    assert "10:00:00" in str(issue)


def test_an_unknown_zip_version_is_a_corrupt_file(tmp_path: Path):
    """Found by bench/fuzz_reader.py: a flipped byte in the central directory made zipfile
    raise NotImplementedError ("zip file version 19.0"), which was not caught."""
    from exposure.workbook.validate import check_workbook

    data = bytearray(seeds()["tiny"])
    directory = data.index(b"PK\x01\x02")  # the first central directory record
    data[directory + 6 : directory + 8] = (190).to_bytes(2, "little")  # version needed: 19.0
    path = tmp_path / "version.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        check_workbook(path)
    assert [i.code for i in caught.value.issues] == ["corrupt-file"]


def test_a_damaged_worksheet_part_nothing_refers_to_is_a_corrupt_file(tmp_path: Path):
    """openpyxl reads only the parts the workbook refers to; the formula scan reads every
    worksheet part, so a bad CRC in an orphan part must be refused, not raised."""
    from exposure.workbook.validate import check_workbook

    orphan = b"<worksheet><sheetData>" + b"<row/>" * 50_000 + b"</sheetData></worksheet>"
    path = tmp_path / "orphan.xlsx"
    with zipfile.ZipFile(io.BytesIO(seeds()["tiny"])) as old, zipfile.ZipFile(path, "w") as new:
        for item in old.infolist():
            new.writestr(item, old.read(item))
        new.writestr("xl/worksheets/sheet99.xml", orphan)  # stored: bytes as they are
    data = bytearray(path.read_bytes())
    at = data.index(b"<row/></sheetData>")
    data[at + 1] ^= 0x20  # "row" -> "Row": the CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        check_workbook(path)
    assert [i.code for i in caught.value.issues] == ["corrupt-file"]


def test_junk_after_a_sheet_with_a_formula_is_refused_not_a_crash(tmp_path: Path):
    """Found by bench/fuzz_reader.py: calamine read a sheet with a repeated root element,
    then openpyxl's lazy formula pass raised a bare ParseError."""
    edits = plain(
        "reference",
        cell_edits=(CellEdit(sheet=10, cell=39, kind="formula-str", text="-700000"),),
        xml_edits=(XmlEdit(kind="repeat-element", part=39, at=259, payload=b""),),
    )
    assert run_one(edits, tmp_path / "junk.xlsx") in ("refused", "invalid", "valid")
