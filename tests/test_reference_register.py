"""The reference workbook's About register: every number has a basis, every tag a citation.

Issue 13: no number in inputs/reference.xlsx may be unregistered, a sourced number must name
a source of reference-data.md (a section 9 tag, or a section 11 publisher), and every [Sxx]
tag must resolve to a citation listed on the About sheet (and, where the compilation is on
this machine, to an entry of its section 9).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "inputs" / "reference.xlsx"
REFERENCE_DATA = Path(os.environ.get("REFERENCE_DATA", "/work/shared/reference-data.md"))
TAG = re.compile(r"\[(S\d+)([a-z]?)\]")
REGISTER_HEADER = ["sheet", "cell", "key", "column", "value", "basis", "source"]


def builder():
    if "build_reference" in sys.modules:
        return sys.modules["build_reference"]
    spec = importlib.util.spec_from_file_location(
        "build_reference", ROOT / "inputs" / "build_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_reference"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=["shipped", "compat", "lanes"])
def workbook(request, tmp_path_factory):
    if request.param == "shipped":
        return load_workbook(SHIPPED)
    build = builder()
    path = tmp_path_factory.mktemp(request.param) / "reference.xlsx"
    build.save_deterministic(build.build_workbook(request.param == "lanes"), path)
    return load_workbook(path)


def about_tables(ws) -> tuple[list[dict], dict[str, str]]:
    """The register rows and the citations {tag: text} of the About sheet."""
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    start = next(i for i, r in enumerate(rows) if r[: len(REGISTER_HEADER)] == REGISTER_HEADER)
    register = []
    for r in rows[start + 1 :]:
        if r[0] is None:
            break
        register.append(dict(zip(REGISTER_HEADER, r, strict=False)))
    cite_at = next(i for i, r in enumerate(rows) if r[:2] == ["tag", "citation"])
    citations = {r[0]: r[1] for r in rows[cite_at + 1 :] if r[0] is not None}
    return register, citations


def numbers(wb) -> dict[str, float]:
    """Every number typed in a data sheet, by cell reference."""
    out = {}
    for ws in wb.worksheets:
        if ws.title == "About":
            continue
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                v = cell.value
                if isinstance(v, bool | dt.date | dt.datetime):
                    continue
                if isinstance(v, int | float):
                    out[f"{ws.title}!{cell.coordinate}"] = v
    return out


def test_every_number_is_registered_once_with_its_value(workbook):
    register, _ = about_tables(workbook["About"])
    cells = numbers(workbook)
    refs = [r["cell"] for r in register]
    assert len(refs) == len(set(refs)), "a cell is registered twice"
    assert set(cells) - set(refs) == set(), "numbers without a register entry"
    assert set(refs) - set(cells) == set(), "register entries for cells that hold no number"
    for entry in register:
        assert entry["value"] == pytest.approx(cells[entry["cell"]]), entry


def test_every_entry_has_a_basis(workbook):
    register, _ = about_tables(workbook["About"])
    assert register
    for entry in register:
        basis, source = entry["basis"] or "", entry["source"] or ""
        if basis == "sourced":
            assert TAG.search(source) or "reference-data.md section 11" in source, entry
        elif basis.startswith("derived: "):
            assert len(basis) > len("derived: ") + 3, entry
        else:
            assert basis.startswith("assumption: ") and len(basis) > 15, entry
            assert not source, f"an assumption names no source: {entry}"
        assert "[§" not in basis + source, f"section tags are not sources: {entry}"


def test_every_tag_resolves_to_a_citation(workbook):
    register, citations = about_tables(workbook["About"])
    used = {m.group(1) for e in register for m in TAG.finditer(f"{e['basis']} {e['source']}")}
    assert used
    assert {f"[{t}]" for t in used} <= set(citations), "tags without a citation on About"
    if not REFERENCE_DATA.exists():
        pytest.skip(f"{REFERENCE_DATA} not on this machine")
    text = REFERENCE_DATA.read_text(encoding="utf-8")
    section9 = text.split("## 9. Sources", 1)[1].split("\n## 10.", 1)[0]
    entries = dict(re.findall(r"^- \*\*(S\d+[a-z]?)\*\* (.*)$", section9, flags=re.M))
    for tag in used:
        assert tag in entries, f"[{tag}] is not a source of reference-data.md section 9"
        assert citations[f"[{tag}]"] == entries[tag], f"[{tag}] citation differs from section 9"


def test_shipped_workbook_is_what_the_builder_writes(tmp_path):
    build = builder()
    fresh = tmp_path / "reference.xlsx"
    build.main(["--out", str(fresh)])
    assert fresh.read_bytes() == SHIPPED.read_bytes(), (
        "inputs/reference.xlsx is stale: run .venv/bin/python inputs/build_reference.py"
    )


def script():
    name = "what_the_reference_says"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "inputs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_readme_headline_is_what_the_shipped_workbook_gives():
    from exposure.pipeline import run_workbook

    says = script()
    readme = (ROOT / "inputs" / "README.md").read_text(encoding="utf-8")
    assert readme.count(says.START) == 1 and readme.count(says.END) == 1
    kpis = run_workbook(SHIPPED, None, sensitivities=False).exposure.kpis
    headline = (
        f"**Headline:** {says.usd(kpis['lost_value'])} of {says.usd(kpis['demand_value'])}"
        f" demanded is lost (value service level {kpis['value_service_level']:.1%})."
    )
    assert headline in readme, (
        "inputs/README.md is stale: run .venv/bin/python inputs/what_the_reference_says.py"
    )


def test_rewrite_replaces_only_the_marked_section():
    says = script()
    text = f"# T\n\nbefore\n\n{says.START}\nold\n{says.END}\n\nafter\n"
    new = f"{says.START}\nnew\n{says.END}"
    assert says.rewrite(text, new) == f"# T\n\nbefore\n\n{new}\n\nafter\n"
    assert says.rewrite(says.rewrite(text, new), new) == says.rewrite(text, new)
