"""Lanes, licensing delays, restrictions, variants and terminal value (issue 12, design 3a/3b).

Every expected number is worked out by hand in the test's comment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exposure.tables import to_model_data
from exposure.workbook.validate import load_valid_workbook
from models import build_model
from tests import workbooks

# The LP of the code before lanes existed (commit 6f1d6b0), measured on the same inputs:
# a workbook without the new columns must give exactly that LP and optimum (design 3).
OLD_LP = {
    ("reference", "priority"): (175, 37, 293, 48932290061.28577, 1.054648275862069),
    ("reference", "fair"): (176, 89, 397, 228031185322.75018, 1.054648275862069),
    ("tiny", "priority"): (5, 1, 5, 4650.0, 0.0),
    ("tiny", "fair"): (6, 3, 9, 6400.0, 0.0),
}


def _workbook(name: str, tmp_path: Path) -> Path:
    if name == "reference":
        return workbooks.REFERENCE
    return workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")


@pytest.mark.parametrize(("name", "mode"), sorted(OLD_LP))
def test_workbook_without_new_columns_builds_the_old_lp(name, mode, tmp_path):
    data = to_model_data(load_valid_workbook(_workbook(name, tmp_path)))
    if name == "reference" and "end_use" in data.demand and data.demand["lane"].nunique() > 1:
        pytest.skip("the reference workbook has lanes now")
    model = build_model(data, mode)
    solution = model.solve()
    cols, rows, nonzeros, objective, violation = OLD_LP[name, mode]
    assert (model.highs.getNumCol(), model.highs.getNumRow(), model.highs.getNumNz()) == (
        cols,
        rows,
        nonzeros,
    )
    assert solution.objective_value == pytest.approx(objective, rel=1e-9)
    assert solution.violation == pytest.approx(violation, rel=1e-7, abs=1e-9)
