"""Shared fixtures: tiny workbooks built in code, so every answer can be checked by hand."""

from pathlib import Path

import pytest

from tests import workbooks


@pytest.fixture
def tiny_workbook(tmp_path: Path) -> Path:
    return workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
