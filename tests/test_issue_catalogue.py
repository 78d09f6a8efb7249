"""The issue catalogue (issue 10): one home for every code, and README.md's table of it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from exposure.issues import CATALOGUE, Issue, IssueLog, catalogue_table, issue_type

ROOT = Path(__file__).resolve().parent.parent
# Calls whose first argument (or `code=`) is an issue code.
MAKERS = {"Issue", "add_error", "add_warning", "_refuse"}


def codes_in_source() -> dict[str, list[str]]:
    """Every literal issue code in exposure/, with where it is used: made or compared."""
    used: dict[str, list[str]] = {}
    for path in sorted((ROOT / "exposure").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            literal = None
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in MAKERS:
                    literal = node.args[0] if node.args else None
                    for keyword in node.keywords:
                        if keyword.arg == "code":
                            literal = keyword.value
            elif isinstance(node, ast.Compare) and getattr(node.left, "attr", None) == "code":
                literal = node.comparators[0]  # e.g. `issue.code == "zip-bomb"`
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                place = f"{path.relative_to(ROOT)}:{node.lineno}"
                used.setdefault(literal.value, []).append(place)
    return used


def test_every_code_used_anywhere_is_in_the_catalogue():
    used = codes_in_source()
    unknown = {code: places for code, places in used.items() if code not in CATALOGUE}
    assert not unknown, f"add these codes to exposure/issues.py CATALOGUE: {unknown}"


def test_every_catalogue_entry_is_used():
    used = codes_in_source()
    unused = [code for code in CATALOGUE if code not in used]
    assert not unused, f"no code makes these issues; remove them from the catalogue: {unused}"


def test_the_scan_sees_the_files_that_make_issues():
    """Guards the scan itself: each file known to make issues is found making some."""
    files = {place.split(":")[0] for places in codes_in_source().values() for place in places}
    for name in ("reader.py", "checks.py", "safe_open.py", "scenarios.py", "config.py"):
        assert any(f.endswith(name) for f in files), name


def test_catalogue_entries_are_well_formed():
    for code, entry in CATALOGUE.items():
        assert code == entry.code
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code), code
        assert entry.severity in ("error", "warning", "either"), code
        assert entry.title and entry.title[0].isupper(), code
        assert entry.hint, f"{code}: give the usual fix"


def test_readme_table_matches_the_catalogue():
    text = (ROOT / "README.md").read_text()
    match = re.search(
        r"<!-- issue-catalogue:start -->\n(.*?)\n<!-- issue-catalogue:end -->", text, re.S
    )
    assert match, "README.md has no issue catalogue table"
    assert match.group(1) == catalogue_table(), (
        "README.md's issue table is stale: regenerate it with catalogue_table()"
    )


def test_json_record_carries_the_title():
    record = Issue("duplicate-key", "x is also in row 2", sheet="Supply", row=3).as_dict()
    assert record["title"] == CATALOGUE["duplicate-key"].title


def test_a_finder_without_a_hint_gets_the_catalogue_fix():
    log = IssueLog()
    log.add_warning("unknown-sheet", "sheet 'Old' is not used", sheet="Old")
    log.add_error("unknown-id", "material 'X' is not on the Materials sheet")  # needs {sheet}
    log.add_error("negative", "capacity -1 is negative", hint="given here")
    assert [i.hint for i in log.issues] == ["it is ignored", "", "given here"]


def test_an_unknown_code_still_has_a_title():
    assert issue_type("made-up-code").title == "Made up code"
