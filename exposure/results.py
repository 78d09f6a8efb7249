"""Lay out the results workbook of design section 5 from an Exposure."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from exposure.analytics import Exposure
from exposure.issues import Issue
from exposure.report.excel import SheetData, write_workbook


def warnings_table(exposure: Exposure, issues: list[Issue]) -> pd.DataFrame:
    rows = [
        {
            "kind": "soft constraint violated",
            "where": f"{r.item} {r.period}",
            "message": f"{r.constraint} target {r.target:,.2f} missed by {r.shortfall:,.2f}",
            "code": r.constraint,
        }
        for r in exposure.soft.itertuples()
        if r.gap_share > 1e-6
    ]
    rows += [
        {"kind": "input warning", "where": i.place, "message": i.message, "code": i.code}
        for i in issues
        if i.severity == "warning"
    ]
    return pd.DataFrame(rows, columns=["kind", "where", "message", "code"])


def summary_table(exposure: Exposure, run: dict[str, object]) -> pd.DataFrame:
    kpis = exposure.kpis
    rows = [
        ("status", run["status"], ""),
        ("objective_value", kpis["objective_value"], "USD: lost output value plus costs"),
        ("lost_value", kpis["lost_value"], "USD of output not built"),
        ("demand_value", kpis["demand_value"], "USD of output wanted"),
        ("service_level", kpis["service_level"], "units built / units wanted"),
        ("purchase_cost", kpis["purchase_cost"], "USD"),
        ("penalty", kpis["penalty"], "sum of soft-constraint gap shares; 0 = all met"),
        ("soft_constraints_violated", kpis["soft_constraints_violated"], "see Warnings"),
    ]
    return pd.DataFrame(rows, columns=["kpi", "value", "meaning"])


def result_sheets(
    exposure: Exposure, run: dict[str, object], issues: list[Issue]
) -> list[SheetData]:
    """The sheets of a results workbook, in reading order."""
    sector_totals = exposure.sectors.groupby("sector", as_index=False, sort=False)[
        ["units", "built", "lost_units", "demand_value", "lost_value"]
    ].sum()
    sector_totals["service_level"] = (sector_totals["built"] / sector_totals["units"]).fillna(1.0)
    sector_totals = sector_totals.sort_values("lost_value", ascending=False)
    run_frame = pd.DataFrame(
        [(k, v if isinstance(v, int | float) else str(v)) for k, v in run.items()],
        columns=["field", "value"],
    )
    return [
        SheetData("Summary", summary_table(exposure, run), title="Exposure summary"),
        SheetData("Sectors", exposure.sectors),
        SheetData("Sector totals", sector_totals),
        SheetData("Products", exposure.products),
        SheetData("Supply", exposure.supply),
        SheetData("Plants", exposure.plants),
        SheetData("Materials", exposure.materials),
        SheetData("Binding", exposure.binding),
        SheetData("Warnings", warnings_table(exposure, issues)),
        SheetData("Run", run_frame, formats={"value": "General"}),
    ]


def write_results(
    path: Path,
    exposure: Exposure,
    run: dict[str, object],
    issues: list[Issue],
    created: datetime | None = None,
) -> None:
    write_workbook(path, result_sheets(exposure, run, issues), created=created)
