"""Workbooks of the what-if commands: Scenarios comparison, sweep curves, stress distributions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from openpyxl.workbook.workbook import Workbook

from exposure.report.charts import line_chart
from exposure.report.excel import SheetData, write_workbook
from exposure.scenarios import StressResult, SweepResult, WhatIfResult


def run_frame(run: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(
        [(k, v if isinstance(v, int | float) else str(v)) for k, v in run.items()],
        columns=["field", "value"],
    )


def write_whatif(
    path: Path, result: WhatIfResult, run: dict[str, object], created: datetime | None = None
) -> None:
    sheets = [
        SheetData(
            "Scenarios",
            result.comparison,
            title="Scenarios side by side with the base",
            formats={c: "#,##0.###" for c in result.comparison.columns if c != "kpi"},
        ),
        SheetData("Scenario inputs", result.diff),
        SheetData("Run", run_frame(run), formats={"value": "General"}),
    ]
    write_workbook(path, sheets, created=created)


def write_sweep(
    path: Path,
    result: SweepResult,
    label: str,
    run: dict[str, object],
    created: datetime | None = None,
) -> None:
    wide = result.curve.pivot_table(
        index="value", columns="sector", values="lost_value", sort=False
    ).reset_index()
    wide.columns = [str(c) if c != "value" else "value" for c in wide.columns]

    def add_chart(book: Workbook) -> None:
        sheet = book["Sweep chart data"]
        if sheet.max_row > 1 and sheet.max_column > 1:
            line_chart(
                book["Sweep"],
                "H3",
                sheet,
                1,
                list(range(2, sheet.max_column + 1)),
                1,
                sheet.max_row,
                f"Lost value by sector as {label} varies",
                "USD",
                label,
            )

    sheets = [
        SheetData("Sweep", result.curve, title=f"Sweep of {label}"),
        SheetData("Sweep totals", result.totals),
        SheetData("Sweep chart data", wide, formats=dict.fromkeys(wide.columns[1:], "#,##0")),
        SheetData("Run", run_frame(run), formats={"value": "General"}),
    ]
    write_workbook(path, sheets, created=created, finish=add_chart)


def write_stress(
    path: Path, result: StressResult, run: dict[str, object], created: datetime | None = None
) -> None:
    sheets = [
        SheetData(
            "Stress", result.sectors, title=f"Stress: {result.completed} draws, seed {result.seed}"
        ),
        SheetData("Stress draws", result.draws),
        SheetData("Run", run_frame(run), formats={"value": "General"}),
    ]
    write_workbook(path, sheets, created=created)
