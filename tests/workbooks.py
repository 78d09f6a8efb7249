"""Build small input workbooks in code, so that every fixture is readable and hand-checkable.

`tiny()` is the smallest valid instance: one material, two sources (one
Chinese under a licence), two products. Tests copy it, change a cell, write it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl import Workbook

Sheets = dict[str, list[list[Any]]]

REFERENCE = Path(__file__).resolve().parent.parent / "inputs" / "reference.xlsx"
# The first edition of the reference (before lanes, as shipped at commit 0819fb1), kept as a
# fixture: the "old workbook, old LP" and first-edition acceptance tests are pinned to it.
REFERENCE_FIRST_EDITION = Path(__file__).resolve().parent / "data" / "reference-first-edition.xlsx"


def tiny() -> Sheets:
    """One material DY; CN supplies 10 t at 30% approval, AU 10 t; P1 1000 USD/unit, P2 500.

    Each product uses 1000 kg (1 t) of DY per unit and wants 10 units:
    13 t available, so P1 gets 10 and P2 gets 3.
    """
    return {
        "Periods": [["period", "label"], ["t1", "first"]],
        "Materials": [
            ["material", "name", "form", "initial_stock", "min_stock", "holding_cost"],
            ["DY", "Dy oxide", "oxide", 0, 0, 0],
        ],
        "Regimes": [["regime", "name", "authority"], ["CN", "China dual-use", "MOFCOM"]],
        "Licences": [["regime", "material", "period", "approval_rate"], ["CN", "DY", None, 0.3]],
        "Sources": [
            ["source", "country", "regime", "name"],
            ["CNX", "CN", "CN", None],
            ["AUS", "AU", None, None],
        ],
        "Supply": [
            ["source", "material", "period", "capacity", "unit_cost"],
            ["CNX", "DY", None, 10, 50],
            ["AUS", "DY", None, 10, 100],
        ],
        "Sectors": [
            ["sector", "name", "min_service", "weight"],
            ["S1", None, None, None],
            ["S2", None, None, None],
        ],
        "Demand": [
            ["sector", "product", "period", "units", "value_per_unit"],
            ["S1", "P1", None, 10, 1000],
            ["S2", "P2", None, 10, 500],
        ],
        "Intensity": [
            ["product", "material", "kg_per_unit"],
            ["P1", "DY", 1000],
            ["P2", "DY", 1000],
        ],
    }


def write(sheets: Sheets, path: Path) -> Path:
    """Write `sheets` (name -> rows, first row the header) to `path`; returns `path`."""
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    book.save(path)
    return path


def variant(**changes: list[list[Any]] | None) -> Sheets:
    """`tiny()` with whole sheets replaced (or removed, with None)."""
    sheets = copy.deepcopy(tiny())
    for name, rows in changes.items():
        if rows is None:
            sheets.pop(name, None)
        else:
            sheets[name] = rows
    return sheets


NEW_COLUMNS = ("end_use", "market", "lead_periods", "variant", "terminal_value")


def without_new_inputs(path: Path, out: Path) -> Path:
    """A copy of `path` without the sheets, columns and lane-specific rows of issue 12."""
    book = openpyxl.load_workbook(path)
    for name in ("Restrictions", "Variants"):
        if name in book.sheetnames:
            del book[name]
    for ws in book.worksheets:
        header = [c.value for c in ws[1]]
        if "end_use" in header and ws.title == "Licences":
            column = header.index("end_use") + 1
            for row in range(ws.max_row, 1, -1):
                if ws.cell(row, column).value not in (None, ""):
                    ws.delete_rows(row)
        for column in sorted(
            (i + 1 for i, h in enumerate(header) if h in NEW_COLUMNS), reverse=True
        ):
            ws.delete_cols(column)
    book.save(out)
    return out
