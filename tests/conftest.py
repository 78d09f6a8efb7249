"""Shared fixtures: tiny workbooks built in code, so every answer can be checked by hand."""

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from tests import workbooks

# In CI (CI=true) every property test draws the same examples, so a run that passed on a
# machine passes in CI; on a developer's machine they explore new examples each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# With python-calamine installed (the input reader), pandas warns that its default xlsx
# reader will become calamine; tests read results back with openpyxl, as they always have.
pd.set_option("io.excel.xlsx.reader", "openpyxl")


@pytest.fixture
def tiny_workbook(tmp_path: Path) -> Path:
    return workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
