"""Lay out the results workbook of design section 5 from an Exposure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path

import pandas as pd

from exposure.analytics import Exposure, sector_table
from exposure.issues import Issue
from exposure.report.atomic import write_atomically
from exposure.report.charts import bar_chart, place_charts_on_pages
from exposure.report.excel import SheetData, WrittenBook, write_workbook
from exposure.report.formats import COUNT, TONNES, usd_axis_format


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
    return pd.DataFrame(rows + _input_warning_rows(issues), columns=WARNING_COLUMNS)


WARNING_COLUMNS = ["kind", "where", "message", "code"]


def _input_warning_rows(issues: list[Issue]) -> list[dict[str, str]]:
    return [
        {"kind": "input warning", "where": i.place, "message": i.message, "code": i.code}
        for i in issues
        if i.severity == "warning"
    ]


def input_warnings_table(issues: list[Issue]) -> pd.DataFrame:
    """The input's warnings (e.g. nothing to allocate), one row each, for a Warnings sheet."""
    return pd.DataFrame(_input_warning_rows(issues), columns=WARNING_COLUMNS)


# The Summary's KPIs in reading order (value service level first, design section 5),
# with what each means; a KPI the analytics do not produce is left out.
SUMMARY_KPIS: list[tuple[str, str]] = [
    ("value_service_level", "value built / value wanted: the headline"),
    ("lost_value", "USD of output not built"),
    ("demand_value", "USD of output wanted"),
    ("objective_value", "USD: lost output value plus costs"),
    ("purchase_cost", "USD"),
    ("penalty", "sum of soft-constraint gap shares; 0 = all met"),
    ("soft_constraints_violated", "see Warnings"),
]


def summary_table(exposure: Exposure, run: dict[str, object]) -> pd.DataFrame:
    kpis = exposure.kpis
    rows = [("status", run["status"], "")]
    rows += [(name, kpis[name], meaning) for name, meaning in SUMMARY_KPIS if name in kpis]
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


def add_summary_charts(book: WrittenBook) -> None:
    """Service level and lost value by sector, supply by origin country, below the Summary."""
    summary = book["Summary"]
    totals = book["Sector totals"]
    header = totals.header_row
    last = totals.max_row
    columns = totals.columns
    level = "value_service_level" if "value_service_level" in columns else "service_level"
    charts = []
    if last > header:
        charts.append(
            bar_chart(
                totals,
                columns["sector"],
                [columns[level]],
                header,
                last,
                "Value service level by sector",
                f"share of {'value' if level == 'value_service_level' else 'units'} built",
                number_format="0%",  # whole percentages read better on an axis
                axis_range=(0.0, 1.0),
            )
        )
        charts.append(
            bar_chart(
                totals,
                columns["sector"],
                [columns["lost_value"]],
                header,
                last,
                "Lost value by sector",
                "USD",
                number_format=usd_axis_format(float(totals.frame["lost_value"].max())),
            )
        )
    by_country = book["Supply by country"]
    if by_country.max_row > by_country.header_row and by_country.max_column > 1:
        charts.append(
            bar_chart(
                by_country,
                1,
                list(range(2, by_country.max_column + 1)),
                by_country.header_row,
                by_country.max_row,
                "Supply by origin country",
                "t",
                stacked=True,
                number_format=COUNT.excel,
            )
        )
    # The charts start on a page of their own below the KPIs, whole on every page.
    place_charts_on_pages(summary, charts, first_row=summary.max_row + 2)


def key_value_frame(run: Mapping[str, object]) -> pd.DataFrame:
    """A `field`, `value` table (the Run sheet); numbers stay numbers, the rest text."""
    return pd.DataFrame(
        [(k, v if isinstance(v, int | float) else str(v)) for k, v in run.items()],
        columns=["field", "value"],
    )


def result_sheets(
    exposure: Exposure,
    run: dict[str, object],
    issues: list[Issue],
    sentences: list[str] | None = None,
) -> list[SheetData]:
    """The sheets of a results workbook, in reading order.

    `sentences` are the lines the terminal prints for the run; the Summary shows them
    between its title and its KPIs.
    """
    by_country = supply_by_country(exposure)
    sectors = _dependency_columns(exposure.sectors, exposure.dependency_by_sector, ["sector"])
    products = _dependency_columns(
        exposure.products, exposure.dependency_by_product, ["sector", "product"]
    )
    sheets = [
        SheetData(
            "Summary",
            summary_table(exposure, run),
            title="Exposure summary",
            notes=list(sentences or []),
            row_formats_from="kpi",
            repeat_header=False,  # the pages below the KPIs hold charts
        ),
        SheetData("Sector totals", sector_totals(exposure)),
        SheetData("Sectors", sectors),
        SheetData("Products", products),
        SheetData(
            "Why short", exposure.why_short if exposure.why_short is not None else pd.DataFrame()
        ),
        SheetData("Supply", exposure.supply),
        SheetData(
            "Supply by country",
            by_country,
            formats=dict.fromkeys(by_country.columns[1:], TONNES),
        ),
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
        SheetData("Run", key_value_frame(run), row_formats_from="field"),
    ]
    return sheets


# What a results workbook holds at scale. A sheet of up to SHEET_ROWS_MAX rows is written
# whole; the workbook then stays well under Excel's 1,048,576 rows a sheet and opens in
# seconds. A longer flow table keeps the rows whose flow is not zero (a source nothing
# was bought from carries no exposure), and any table still longer keeps its first
# SHEET_ROWS_MAX rows. Each says so above its table; `exposure run --full-tables DIR`
# writes every table whole, as CSV, beside the workbook.
SHEET_ROWS_MAX = 100_000
FLOW_COLUMNS = {"Supply": "buy", "Plants": "make", "Origins": "tonnes"}
FLOW_TOLERANCE = 1e-9  # tonnes: a solver's zero


def fit_for_workbook(sheet: SheetData) -> SheetData:
    """The sheet as the results workbook holds it: whole, or cut as the rule above says."""
    frame = sheet.frame
    if len(frame) <= SHEET_ROWS_MAX:
        return sheet
    notes = list(sheet.notes)
    flow = FLOW_COLUMNS.get(sheet.name)
    if flow is not None and flow in frame:
        moving = frame[pd.to_numeric(frame[flow], errors="coerce").abs() > FLOW_TOLERANCE]
        notes.append(
            f"The {len(moving):,} rows of {len(frame):,} with a {flow} above zero; "
            "`exposure run --full-tables DIR` writes every row."
        )
        frame = moving
    if len(frame) > SHEET_ROWS_MAX:
        notes.append(
            f"The first {SHEET_ROWS_MAX:,} rows of {len(frame):,}; "
            "`exposure run --full-tables DIR` writes every row."
        )
        frame = frame.iloc[:SHEET_ROWS_MAX]
    return replace(sheet, frame=frame, title=sheet.title or sheet.name, notes=notes)


def write_results(
    path: Path,
    exposure: Exposure,
    run: dict[str, object],
    issues: list[Issue],
    created: datetime | None = None,
    sentences: list[str] | None = None,
) -> None:
    write_workbook(
        path,
        [fit_for_workbook(s) for s in result_sheets(exposure, run, issues, sentences)],
        created=created,
        finish=add_summary_charts,
    )


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def write_full_tables(
    folder: Path, exposure: Exposure, run: dict[str, object], issues: list[Issue]
) -> list[Path]:
    """Every table of the results workbook, whole, one CSV a sheet: `<folder>/<sheet>.csv`.

    CSV rather than Parquet: no further dependency, and every tool a planner has reads it
    (a spreadsheet up to its row limit, pandas, a database's bulk load).
    """
    written = []
    for sheet in result_sheets(exposure, run, issues):
        target = Path(folder) / f"{sheet.name}.csv"
        write_atomically(target, partial(_write_csv, sheet.frame))
        written.append(target)
    return written
