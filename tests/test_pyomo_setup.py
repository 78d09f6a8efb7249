"""Pyomo is made to load `scipy.sparse` only (`models/pyomo_setup.py`).

Checked in a fresh interpreter: this test process may have imported scipy already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BUILD_AND_SOLVE = textwrap.dedent(
    """
    import sys
    from exposure.pipeline import run_workbook
    from models import pyomo_setup

    result = run_workbook(sys.argv[1], None, sensitivities=False)
    print(pyomo_setup.LIGHTENED, result.solution.status.value)
    print(sorted({m.split(".")[1] for m in sys.modules if m.startswith("scipy.")}))
    """
)


def test_a_run_imports_scipy_sparse_but_not_stats_integrate_or_spatial(
    tiny_workbook: Path,
) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", BUILD_AND_SOLVE, str(tiny_workbook)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    first, subpackages = completed.stdout.splitlines()
    assert first.split() == ["True", "optimal"]
    assert "sparse" in subpackages
    for heavy in ("stats", "integrate", "spatial", "optimize"):
        assert f"'{heavy}'" not in subpackages


def test_scipy_imported_first_leaves_pyomo_as_it_was() -> None:
    # Imported first, scipy makes Pyomo resolve its deferred import at once, with its own
    # finaliser (scipy.stats loaded); nothing is swapped and the model still builds.
    code = textwrap.dedent(
        """
        import sys
        import scipy.sparse
        import models.pyomo_setup as s
        from models.allocation import build_model
        print(s.LIGHTENED, "scipy.stats" in sys.modules)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert completed.stdout.split() == ["False", "True"]
