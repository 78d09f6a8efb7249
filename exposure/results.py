"""Lay out the results workbook of design section 5 from an Exposure."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from openpyxl.workbook.workbook import Workbook

from exposure.analytics import Exposure, sector_table
from exposure.issues import Issue
from exposure.report.charts import bar_chart
from exposure.report.excel import SheetData, write_workbook

SUMMARY_HEADER_ROW = 3  # the Summary table starts below a title line


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
        ("value_service_level", kpis["value_service_level"], "value built / value wanted"),
        ("purchase_cost", kpis["purchase_cost"], "USD"),
        ("penalty", kpis["penalty"], "sum of soft-constraint gap shares; 0 = all met"),
        ("soft_constraints_violated", kpis["soft_constraints_violated"], "see Warnings"),
    ]
    return pd.DataFrame(rows, columns=["kpi", "value", "meaning"])


def _dependency_columns(
    frame: pd.DataFrame, dependency: pd.DataFrame | None, keys: list[str]
) -> pd.DataFrame:
    """Add `licence_dependency_direct_<regime>` and `..._systemic_<regime>` per regime.

    Direct: the share of the material that arrived through the regime's licences
    (traced). Systemic: the share of built value lost if the regime approves
    nothing and everything re-solves (other supply moves to where it is worth most).
    """
    if dependency is None or dependency.empty:
        return frame
    for kind in ("direct", "systemic"):
        column = f"licence_dependency_{kind}"
        if column not in dependency:
            continue
        wide = dependency.pivot_table(index=keys, columns="regime", values=column, aggfunc="first")
        wide.columns = [f"{column}_{regime}" for regime in wide.columns]
        frame = frame.merge(wide.reset_index(), on=keys, how="left")
    return frame


def sector_totals(exposure: Exposure) -> pd.DataFrame:
    totals = sector_table(exposure.products, by_period=False)
    totals = totals.sort_values("lost_value", ascending=False).reset_index(drop=True)
    return _dependency_columns(totals, exposure.dependency_by_sector, ["sector"])


def supply_by_country(exposure: Exposure) -> pd.DataFrame:
    """Tonnes bought by origin country (rows) and material (columns)."""
    bought = exposure.supply.pivot_table(
        index="country", columns="material", values="buy", aggfunc="sum", fill_value=0.0
    )
    bought.columns = [str(c) for c in bought.columns]
    return bought.reset_index().rename(columns={"country": "country"})


def add_summary_charts(book: Workbook) -> None:
    """Service level and lost value by sector, supply by origin country, on the Summary."""
    summary = book["Summary"]
    totals = book["Sector totals"]
    header = 1
    last = totals.max_row
    columns = {cell.value: cell.column for cell in totals[header]}
    if last > header:
        bar_chart(
            summary,
            "E3",
            totals,
            columns["sector"],
            [columns["value_service_level"]],
            header,
            last,
            "Value service level by sector",
            "share of value built",
            number_format="0%",
        )
        bar_chart(
            summary,
            "E20",
            totals,
            columns["sector"],
            [columns["lost_value"]],
            header,
            last,
            "Lost value by sector",
            "USD",
            number_format="#,##0",
        )
    by_country = book["Supply by country"]
    if by_country.max_row > 1 and by_country.max_column > 1:
        bar_chart(
            summary,
            "E37",
            by_country,
            1,
            list(range(2, by_country.max_column + 1)),
            1,
            by_country.max_row,
            "Supply by origin country",
            "t",
            stacked=True,
            number_format="#,##0",
        )


def result_sheets(
    exposure: Exposure, run: dict[str, object], issues: list[Issue]
) -> list[SheetData]:
    """The sheets of a results workbook, in reading order."""
    run_frame = pd.DataFrame(
        [(k, v if isinstance(v, int | float) else str(v)) for k, v in run.items()],
        columns=["field", "value"],
    )
    sectors = _dependency_columns(exposure.sectors, exposure.dependency_by_sector, ["sector"])
    products = _dependency_columns(
        exposure.products, exposure.dependency_by_product, ["sector", "product"]
    )
    sheets = [
        SheetData("Summary", summary_table(exposure, run), title="Exposure summary"),
        SheetData("Sector totals", sector_totals(exposure)),
        SheetData("Sectors", sectors),
        SheetData("Products", products),
        SheetData(
            "Why short", exposure.why_short if exposure.why_short is not None else pd.DataFrame()
        ),
        SheetData("Supply", exposure.supply),
        SheetData("Supply by country", supply_by_country(exposure)),
        SheetData("Plants", exposure.plants),
        SheetData("Materials", exposure.materials),
    ]
    if exposure.licences is not None:
        sheets.append(SheetData("Licences", exposure.licences))
    if exposure.lanes is not None:
        sheets.append(SheetData("Lanes", exposure.lanes))
    if exposure.variants is not None and (exposure.variants["variant"] != "standard").any():
        sheets.append(SheetData("Variants", exposure.variants))
    if exposure.origins is not None:
        sheets.append(SheetData("Origins", exposure.origins))
    if exposure.concentration is not None:
        sheets.append(SheetData("Concentration", exposure.concentration))
    sheets += [
        SheetData("Binding", exposure.binding),
        SheetData("Warnings", warnings_table(exposure, issues)),
        SheetData("Run", run_frame, formats={"value": "General"}),
    ]
    return sheets


def write_results(
    path: Path,
    exposure: Exposure,
    run: dict[str, object],
    issues: list[Issue],
    created: datetime | None = None,
) -> None:
    write_workbook(
        path, result_sheets(exposure, run, issues), created=created, finish=add_summary_charts
    )
