"""Read and check a workbook in one pass: every problem found, then one verdict."""

from __future__ import annotations

from pathlib import Path

from exposure.errors import InputError
from exposure.workbook.checks import run_checks
from exposure.workbook.reader import RawWorkbook, read_workbook


def check_workbook(path: str | Path) -> RawWorkbook:
    """Read `path` and run every check; `result.log` holds all errors and warnings.

    Raises InputError only when the file itself cannot be read (not an
    .xlsx, encrypted, unsafe); content problems are collected, not raised.
    """
    book = read_workbook(path)
    run_checks(book)
    return book


def load_valid_workbook(path: str | Path) -> RawWorkbook:
    """Like `check_workbook`, but raise InputError listing every problem if any is an error."""
    book = check_workbook(path)
    if book.log.errors:
        raise InputError(book.log.issues)
    return book
