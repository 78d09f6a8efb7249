"""Mutated input workbooks for fuzzing the reader and validator.

Shared by the short run in the test suite (tests/test_fuzz_reader.py) and the long
campaign (bench/fuzz_reader.py). An input is a seed workbook (built in code by
`tests.workbooks`, or the shipped reference workbook) passed through four layers
of mutation, each drawn by hypothesis so that a failure shrinks to a small case:

1. sheets: whole rows, columns, headers and sheets removed, renamed or repeated,
   then written by openpyxl (the slowest layer, so the campaign uses it sparingly);
2. cells: one cell of a worksheet's XML replaced by a cell of any type Excel can
   store (inline text, shared number, boolean, error, ISO date, formula without a
   value...) holding an awkward value;
3. XML: an attribute or text node replaced, a span deleted or repeated, bytes
   inserted, flipped or cut off, a DOCTYPE or an odd encoding put in front;
4. zip: a part dropped, repeated or stored uncompressed, the archive's own bytes
   flipped or cut off.

The oracle (`read_and_check`): reading and checking either succeeds, with every
problem collected as an Issue that prints and serialises, or stops with the
project's InputError. A workbook with no errors must also convert to the model's
tables. Anything else is an uncaught exception: a bug.
"""

from __future__ import annotations

import copy
import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from exposure.errors import InputError
from exposure.issues import Issue
from exposure.tables import to_model_data
from exposure.workbook.validate import check_workbook
from tests import workbooks

# --- seeds -------------------------------------------------------------------------


def _seed_sheets() -> dict[str, workbooks.Sheets]:
    """Small workbooks that between them use every sheet the reader knows."""
    processing = workbooks.variant(
        Materials=[
            ["material", "name", "form", "initial_stock", "min_stock", "holding_cost"],
            ["DY", "Dy oxide", "oxide", 0, 0, 0],
            ["MAG", "magnet", "magnet", 2, 1, 5],
        ],
        Plants=[
            ["plant", "country", "output", "capacity", "regime", "unit_cost"],
            ["PL1", "JP", "MAG", 5, None, 10],
        ],
        Recipes=[["plant", "input", "t_per_t"], ["PL1", "DY", 0.3]],
        Intensity=[
            ["product", "material", "kg_per_unit"],
            ["P1", "DY", 1000],
            ["P2", "MAG", 500],
        ],
    )
    scenarios = workbooks.variant(
        Periods=[["period", "label", "start"], ["t1", "first", "2026-01-01"], [2027, None, None]],
        Licences=[
            ["regime", "material", "period", "approval_rate", "approval_low", "approval_high"],
            ["CN", "DY", None, 0.3, 0.1, 0.6],
            ["CN", "DY", 2027, "50%", None, None],
        ],
        Scenarios=[
            ["scenario", "sheet", "column", "match", "operation", "value", "note"],
            ["ban", "Licences", "approval_rate", "regime=CN", "set", 0, "embargo"],
            ["more", "Supply", "capacity", "source=AU*", "scale", 1.5, None],
        ],
    )
    return {"tiny": workbooks.tiny(), "processing": processing, "scenarios": scenarios}


SEED_NAMES = ("tiny", "processing", "scenarios", "reference")


@cache
def seeds() -> dict[str, bytes]:
    """Seed name -> .xlsx bytes, built once per process."""
    built = {}
    for name, sheets in _seed_sheets().items():
        stream = io.BytesIO()
        workbooks.write(sheets, stream)  # type: ignore[arg-type]  # openpyxl saves to a stream
        built[name] = stream.getvalue()
    built["reference"] = workbooks.REFERENCE.read_bytes()
    return built


@cache
def seed_sheets() -> dict[str, workbooks.Sheets]:
    """The seeds as name -> rows, for the sheets layer (the reference is read once)."""
    import openpyxl

    sheets = _seed_sheets()
    book = openpyxl.load_workbook(workbooks.REFERENCE)
    sheets["reference"] = {
        ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book
    }
    book.close()
    return sheets


# --- awkward values ----------------------------------------------------------------

AWKWARD_TEXT = [
    "",
    " ",
    "\u00a0",
    "0",
    "-0",
    "1e309",
    "-1e309",
    "nan",
    "NaN",
    "inf",
    "1,5",
    "1.234,5",
    "12%",
    "150%",
    "-5%",
    "%",
    "#N/A",
    "#DIV/0!",
    "=1/0",
    "=SUM(A1:A2)",
    "TRUE",
    "2026-02-30",
    "2026-01-01T25:00",
    "DY",
    "dy",
    " DY ",
    "CN",
    "t1",
    "P1",
    "S1",
    "base",
    "*",
    "regime=CN",
    "material=",
    "=;=",
    "x;y",
    "Licences",
    "approval_rate",
    "set",
    "scale",
    "oxide",
    "e\u0301",
    "\u202e",
    "\ufeff",
    "A" * 300,
    "🙂",
]

AWKWARD_NUMBERS = [
    0,
    -0.0,
    1,
    -1,
    0.5,
    1.0000001,
    100,
    1e15,
    1e15 + 1,
    -1e15 - 1,
    1e308,
    -1e308,
    5e-324,
    2**53 + 1,
    2**63,
    10**30,
    float("nan"),
    float("inf"),
    float("-inf"),
]

cell_values = st.one_of(
    st.none(),
    st.sampled_from(AWKWARD_TEXT),
    st.sampled_from(AWKWARD_NUMBERS),
    st.booleans(),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31)),
    st.dates(min_value=date(1900, 1, 1)),
    st.times(),
    st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3)),
)

# --- layer 1: sheets ---------------------------------------------------------------


@dataclass(frozen=True)
class SheetEdit:
    """One structural change to a workbook's rows: `kind` at (sheet, row, column) indices."""

    kind: str
    sheet: int
    row: int = 0
    column: int = 0
    value: Any = None

    def apply(self, sheets: workbooks.Sheets) -> None:
        if not sheets:
            return
        name = list(sheets)[self.sheet % len(sheets)]
        rows = sheets[name]
        width = max((len(r) for r in rows), default=0)
        if self.kind == "drop-sheet":
            del sheets[name]
        elif self.kind == "rename-sheet":
            sheets[str(self.value)[:31] or "Sheet"] = sheets.pop(name)
        elif self.kind == "drop-row" and rows:
            del rows[self.row % len(rows)]
        elif self.kind == "repeat-row" and rows:
            rows.insert(self.row % len(rows), list(rows[self.row % len(rows)]))
        elif self.kind == "drop-column" and width:
            for row in rows:
                if len(row) > self.column % width:
                    del row[self.column % width]
        elif self.kind == "set-cell":
            row = rows[self.row % len(rows)] if rows else []
            if not rows:
                rows.append(row)
            column = self.column % (width + 2)
            row.extend([None] * (column + 1 - len(row)))
            row[column] = self.value
        elif self.kind == "blank-row":
            rows.insert(self.row % (len(rows) + 1), [])


sheet_edits = st.one_of(
    st.builds(
        SheetEdit,
        kind=st.sampled_from(["drop-sheet", "drop-row", "repeat-row", "drop-column", "blank-row"]),
        sheet=st.integers(0, 20),
        row=st.integers(0, 50),
        column=st.integers(0, 10),
    ),
    st.builds(
        SheetEdit,
        kind=st.just("rename-sheet"),
        sheet=st.integers(0, 20),
        value=st.sampled_from(["supply", "Suply", "SUPPLY ", "Sheet1", "Demand", "Notes", "x"]),
    ),
    st.builds(
        SheetEdit,
        kind=st.just("set-cell"),
        sheet=st.integers(0, 20),
        row=st.integers(0, 50),
        column=st.integers(0, 10),
        value=cell_values,
    ),
)


def write_sheets(sheets: workbooks.Sheets) -> bytes | None:
    """The workbook openpyxl writes for `sheets`, or None if openpyxl cannot store a value
    (illegal XML characters, a time zone...): that is the writer's limit, not the reader's."""
    stream = io.BytesIO()
    try:
        workbooks.write(sheets, stream)  # type: ignore[arg-type]
    except Exception:  # the input generator's limit (illegal characters...), not a reader bug
        return None
    return stream.getvalue()


# --- layer 2: cells, as Excel stores them -------------------------------------------

_CELL = re.compile(rb"<c [^>]*?(?:/>|>.*?</c>)", re.DOTALL)
_CELL_REF = re.compile(rb'r="([A-Z]+[0-9]+)"')


def _xml_text(value: str) -> bytes:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


@dataclass(frozen=True)
class CellEdit:
    """Replace one `<c>` element of worksheet `sheet` by a cell of type `kind` holding `text`."""

    sheet: int
    cell: int
    kind: str
    text: str

    def render(self, ref: bytes) -> bytes:
        body = _xml_text(self.text)
        if self.kind == "inlineStr":
            return b'<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (ref, body)
        if self.kind == "formula":
            return b'<c r="%s"><f>%s</f></c>' % (ref, body)
        if self.kind == "formula-str":
            return b'<c r="%s" t="str"><f>A1</f><v>%s</v></c>' % (ref, body)
        if self.kind == "shared":  # an index into a shared-strings table that may not exist
            return b'<c r="%s" t="s"><v>%s</v></c>' % (ref, body)
        if self.kind == "empty":
            return b'<c r="%s"/>' % ref
        return b'<c r="%s" t="%s"><v>%s</v></c>' % (ref, self.kind.encode(), body)

    def apply(self, parts: dict[str, bytes]) -> None:
        sheets = sorted(p for p in parts if p.startswith("xl/worksheets/sheet"))
        if not sheets:
            return
        part = sheets[self.sheet % len(sheets)]
        data = parts[part]
        cells = list(_CELL.finditer(data))
        if not cells:
            return
        found = cells[self.cell % len(cells)]
        ref = _CELL_REF.search(found.group())
        new = self.render(ref.group(1) if ref else b"A1")
        parts[part] = data[: found.start()] + new + data[found.end() :]


cell_texts = st.one_of(
    st.sampled_from(AWKWARD_TEXT),
    st.sampled_from([repr(n) for n in AWKWARD_NUMBERS]),
    st.sampled_from(["1", "0", "-1", "2", "45000", "45000.5", "2958466", "-700000", "1e20"]),
    st.sampled_from(["2026-01-01", "2026-01-01T10:00:00", "10:00:00", "P1D", "0000-00-00"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=8),
)

cell_edits = st.builds(
    CellEdit,
    sheet=st.integers(0, 20),
    cell=st.integers(0, 200),
    kind=st.sampled_from(
        ["n", "inlineStr", "b", "e", "d", "str", "formula", "formula-str", "shared", "empty", "x"]
    ),
    text=cell_texts,
)

# --- layer 3: XML ------------------------------------------------------------------

_ATTRIBUTE = re.compile(rb'(\w+)="([^"]*)"')
_TEXT = re.compile(rb">([^<]+)<")
_ELEMENT = re.compile(rb"<(\w+)[ >].*?</\1>|<\w+[^>]*/>", re.DOTALL)

AWKWARD_ATTRIBUTES = [
    b"",
    b"0",
    b"-1",
    b"1",
    b"A0",
    b"A1048577",
    b"XFD1048576",
    b"XFE1",
    b"ZZZZZZ1",
    b"A1:XFD1048576",
    b"B2:A1",
    b"1:1048576",
    b"s",
    b"e",
    b"n",
    b"b",
    b"d",
    b"str",
    b"inlineStr",
    b"hidden",
    b"veryHidden",
    b"99999999999999999999",
    b"1e308",
    b"nan",
    b"/xl/worksheets/sheet1.xml",
    b"../../../etc/passwd",
    b"http://example.invalid/x",
    b"rId1",
    b"rId999",
    b"true",
    b"&amp;",
    b"&#0;",
]

PROLOGS = [
    b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.invalid/x.dtd">',
    b'<?xml version="1.0" encoding="ISO-8859-1"?>',
    b'<?xml version="1.0" encoding="UTF-16"?>',
    b'<?xml version="1.1"?>',
    b"<!-- a comment -->",
    b"\xef\xbb\xbf",
    b"<?pi?>",
]


@dataclass(frozen=True)
class XmlEdit:
    """One change to the bytes of the `part`-th part of the archive."""

    kind: str
    part: int
    at: int
    payload: bytes = b""

    def apply(self, parts: dict[str, bytes]) -> None:
        if not parts:
            return
        name = sorted(parts)[self.part % len(parts)]
        data = parts[name]
        if self.kind in ("attribute", "text", "drop-element", "repeat-element"):
            pattern = {"attribute": _ATTRIBUTE, "text": _TEXT}.get(self.kind, _ELEMENT)
            found = list(pattern.finditer(data))
            if not found:
                return
            match = found[self.at % len(found)]
            if self.kind == "attribute":
                start, end = match.span(2)
                data = data[:start] + self.payload + data[end:]
            elif self.kind == "text":
                start, end = match.span(1)
                data = data[:start] + self.payload + data[end:]
            elif self.kind == "drop-element":
                data = data[: match.start()] + data[match.end() :]
            else:
                data = data[: match.end()] + match.group() * 3 + data[match.end() :]
        elif self.kind == "insert":
            at = self.at % (len(data) + 1)
            data = data[:at] + self.payload + data[at:]
        elif self.kind == "flip" and data:
            at = self.at % len(data)
            data = data[:at] + bytes([data[at] ^ (self.payload[:1] or b"\xff")[0]]) + data[at + 1 :]
        elif self.kind == "truncate":
            data = data[: self.at % (len(data) + 1)]
        elif self.kind == "prolog":
            if data.startswith(b"<?xml"):
                data = data[data.find(b"?>") + 2 :]
            data = self.payload + data
        elif self.kind == "utf-16":
            try:
                data = data.decode("utf-8").encode("utf-16")
            except UnicodeDecodeError:
                return
        parts[name] = data


xml_edits = st.one_of(
    st.builds(
        XmlEdit,
        kind=st.just("attribute"),
        part=st.integers(0, 40),
        at=st.integers(0, 500),
        payload=st.sampled_from(AWKWARD_ATTRIBUTES),
    ),
    st.builds(
        XmlEdit,
        kind=st.just("text"),
        part=st.integers(0, 40),
        at=st.integers(0, 500),
        payload=st.one_of(
            st.sampled_from(
                [b"", b"-1", b"1e999", b"NaN", b"99999999", b"&#0;", b"&#x1F;", b"&bogus;", b"x"]
            ),
            st.binary(max_size=8),
        ),
    ),
    st.builds(
        XmlEdit,
        kind=st.sampled_from(["drop-element", "repeat-element", "truncate", "utf-16"]),
        part=st.integers(0, 40),
        at=st.integers(0, 5000),
    ),
    st.builds(
        XmlEdit,
        kind=st.sampled_from(["insert", "flip"]),
        part=st.integers(0, 40),
        at=st.integers(0, 5000),
        payload=st.binary(min_size=1, max_size=8),
    ),
    st.builds(
        XmlEdit,
        kind=st.just("prolog"),
        part=st.integers(0, 40),
        at=st.just(0),
        payload=st.sampled_from(PROLOGS),
    ),
)

# --- layer 4: zip ------------------------------------------------------------------


@dataclass(frozen=True)
class ZipEdit:
    """One change to the archive: parts dropped or repeated, or its raw bytes damaged."""

    kind: str
    at: int
    payload: bytes = b""


zip_edits = st.one_of(
    st.builds(
        ZipEdit,
        kind=st.sampled_from(["drop-part", "repeat-part", "stored", "truncate", "empty-part"]),
        at=st.integers(0, 100_000),
    ),
    st.builds(
        ZipEdit,
        kind=st.sampled_from(["flip", "overwrite"]),
        at=st.integers(0, 100_000),
        payload=st.binary(min_size=1, max_size=4),
    ),
    st.builds(
        ZipEdit,
        kind=st.just("add-part"),
        at=st.integers(0, 3),
        payload=st.sampled_from([b"", b"<x/>", b"\x00" * 64, b"not xml"]),
    ),
)

EXTRA_PART_NAMES = ["../outside.xml", "xl/worksheets/", "/abs.xml", "xl/sharedStrings.xml"]


def _unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _zip(parts: dict[str, bytes], edits: list[ZipEdit]) -> bytes:
    """Pack `parts` with the part-level `edits`, then apply the byte-level ones."""
    names = list(parts)
    dropped = {names[e.at % len(names)] for e in edits if e.kind == "drop-part" and names}
    emptied = {names[e.at % len(names)] for e in edits if e.kind == "empty-part" and names}
    repeated = [names[e.at % len(names)] for e in edits if e.kind == "repeat-part" and names]
    stored = any(e.kind == "stored" for e in edits)
    stream = io.BytesIO()
    compression = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with (
        warnings.catch_warnings(),  # zipfile warns of the duplicate names we mean to write
        zipfile.ZipFile(stream, "w", compression) as archive,
    ):
        warnings.simplefilter("ignore")
        for name in names:
            if name not in dropped:
                archive.writestr(name, b"" if name in emptied else parts[name])
        for name in repeated:
            archive.writestr(name, parts[name])
        for edit in edits:
            if edit.kind == "add-part":
                archive.writestr(EXTRA_PART_NAMES[edit.at % len(EXTRA_PART_NAMES)], edit.payload)
    data = bytearray(stream.getvalue())
    for edit in edits:
        if edit.kind == "truncate":
            del data[edit.at % (len(data) + 1) :]
        elif edit.kind in ("flip", "overwrite") and data:
            at = edit.at % len(data)
            if edit.kind == "flip":
                data[at] ^= edit.payload[0] or 0xFF
            else:
                data[at : at + len(edit.payload)] = edit.payload
    return bytes(data)


# --- one fuzz input ----------------------------------------------------------------


@dataclass(frozen=True)
class FuzzInput:
    """A seed and the edits of every layer; `build` makes the .xlsx bytes."""

    seed: str
    sheet_edits: tuple[SheetEdit, ...]
    cell_edits: tuple[CellEdit, ...]
    xml_edits: tuple[XmlEdit, ...]
    zip_edits: tuple[ZipEdit, ...]

    def build(self) -> bytes | None:
        if self.sheet_edits:
            sheets = copy.deepcopy(seed_sheets()[self.seed])
            for edit in self.sheet_edits:
                edit.apply(sheets)
            data = write_sheets(sheets)
            if data is None:
                return None
        else:
            data = seeds()[self.seed]
        if not (self.cell_edits or self.xml_edits or self.zip_edits):
            return data
        parts = _unzip(data)
        for edit in self.cell_edits:
            edit.apply(parts)
        for edit in self.xml_edits:
            edit.apply(parts)
        return _zip(parts, list(self.zip_edits))


def fuzz_inputs(sheet_layer: float = 0.3) -> st.SearchStrategy[FuzzInput]:
    """Fuzz inputs; `sheet_layer` is the chance of using the slow, openpyxl-written layer."""

    @st.composite
    def build(draw: st.DrawFn) -> FuzzInput:
        use_sheets = draw(st.integers(0, 999)) < sheet_layer * 1000
        return FuzzInput(
            # the reference workbook is the richest seed but reads 3x slower than the others
            seed=draw(st.sampled_from(SEED_NAMES[:3]) | st.sampled_from(SEED_NAMES)),
            sheet_edits=tuple(draw(st.lists(sheet_edits, min_size=1, max_size=3)))
            if use_sheets
            else (),
            cell_edits=tuple(draw(st.lists(cell_edits, max_size=4))),
            xml_edits=tuple(draw(st.lists(xml_edits, max_size=2))),
            zip_edits=tuple(draw(st.lists(zip_edits, max_size=2))),
        )

    return build()


# --- the oracle --------------------------------------------------------------------


def _issues_print(issues: list[Issue]) -> None:
    """Every issue must print and serialise, as `validate` and `validate --json` do."""
    for issue in issues:
        assert isinstance(issue, Issue), issue
        str(issue)
    json.dumps([i.as_dict() for i in issues], default=str)


def read_and_check(path: Path) -> str:
    """Read and check `path` as every front door does; the outcome as a short word.

    Returns "refused" (InputError), "invalid" (errors collected) or "valid"; any
    other exception propagates: it is a bug. Python warnings (openpyxl's notes on
    unsupported extensions) are what a user sees on the command line, not failures.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            book = check_workbook(path)
        except InputError as exc:
            _issues_print(exc.issues)
            return "refused"
        _issues_print(book.log.issues)
        if book.log.errors:
            return "invalid"
        to_model_data(book)  # what the validator passes must be usable
    return "valid"


def run_one(
    fuzz_input: FuzzInput, path: Path, on_build: Callable[[bytes], None] | None = None
) -> str:
    """Build `fuzz_input` at `path` and check it; "skipped" if openpyxl could not write it."""
    data = fuzz_input.build()
    if data is None:
        return "skipped"
    if on_build is not None:
        on_build(data)
    path.write_bytes(data)
    return read_and_check(path)
