"""Shared fixtures: tiny workbooks built in code, so every answer can be checked by hand."""

from pathlib import Path

import pandas as pd
import pytest

from tests import workbooks

# With python-calamine installed (the input reader), pandas warns that its default xlsx
# reader will become calamine; tests read results back with openpyxl, as they always have.
pd.set_option("io.excel.xlsx.reader", "openpyxl")


@pytest.fixture
def tiny_workbook(tmp_path: Path) -> Path:
    return workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
