"""Workbooks of the what-if commands: Scenarios comparison, sweep curves, stress distributions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd

from exposure.issues import Issue
from exposure.report.charts import line_chart
from exposure.report.excel import SheetData, WrittenBook, write_workbook
from exposure.report.formats import GENERAL, PERCENT, USD, format_for, usd_axis_format
from exposure.results import input_warnings_table, key_value_frame
from exposure.scenarios import StressResult, SweepResult, WhatIfResult
from exposure.summary import usd


def run_sheet(run: Mapping[str, object]) -> SheetData:
    """The Run sheet: each value formatted by its field's name."""
    return SheetData("Run", key_value_frame(run), row_formats_from="field")


def warnings_sheet(issues: list[Issue] | None) -> list[SheetData]:
    """A Warnings sheet when the input had warnings (e.g. nothing to allocate); else none."""
    table = input_warnings_table(issues or [])
    return [SheetData("Warnings", table)] if len(table) else []


def scenarios_sheet(comparison: pd.DataFrame, title: str) -> SheetData:
    """KPIs (rows) by scenario (columns): each row's numbers formatted by its KPI."""
    return SheetData("Scenarios", comparison, title=title, row_formats_from="kpi")


def scenario_inputs_sheet(diff: pd.DataFrame) -> SheetData:
    """The input cells each scenario changed, from and to, formatted by the input column."""
    return SheetData("Scenario inputs", diff, row_formats_from="column")


def write_whatif(
    path: Path,
    result: WhatIfResult,
    run: dict[str, object],
    created: datetime | None = None,
    issues: list[Issue] | None = None,
) -> None:
    sheets = [
        scenarios_sheet(result.comparison, "Scenarios side by side with the base"),
        scenario_inputs_sheet(result.diff),
        *warnings_sheet(issues),
        run_sheet(run),
    ]
    write_workbook(path, sheets, created=created)


def write_sweep(
    path: Path,
    result: SweepResult,
    label: str,
    run: dict[str, object],
    created: datetime | None = None,
    varied_column: str = "",
    issues: list[Issue] | None = None,
) -> None:
    """The sweep's curve per sector, totals, and a chart of lost value per sector.

    The swept values show in the format of the column they stand for (an
    approval rate as a percentage), in the tables and on the chart's axis.
    """
    wide = result.curve.pivot_table(
        index="value", columns="sector", values="lost_value", sort=False
    ).reset_index()
    wide.columns = [str(c) if c != "value" else "value" for c in wide.columns]
    value_format = format_for(varied_column) or GENERAL
    largest_loss = float(result.curve["lost_value"].max()) if len(result.curve) else 0.0
    value_formats = {"value": value_format}

    def add_chart(book: WrittenBook) -> None:
        sheet = book["Sweep chart data"]
        if sheet.max_row > sheet.header_row and sheet.max_column > 1:
            chart = line_chart(
                sheet,
                1,
                list(range(2, sheet.max_column + 1)),
                sheet.header_row,
                sheet.max_row,
                f"Lost value by sector as {label} varies",
                "USD",
                label,
                y_number_format=usd_axis_format(largest_loss),
                x_number_format=value_format.excel,
            )
            # Right of the curve's four columns: printed whole on the sheet's first page.
            book["Sweep"].worksheet.insert_chart("F3", chart)

    sheets = [
        SheetData("Sweep", result.curve, title=f"Sweep of {label}", formats=value_formats),
        SheetData("Sweep totals", result.totals, formats=value_formats),
        SheetData(
            "Sweep chart data",
            wide,
            formats={"value": value_format, **dict.fromkeys(wide.columns[1:], USD)},
        ),
        *warnings_sheet(issues),
        run_sheet(run),
    ]
    write_workbook(path, sheets, created=created, finish=add_chart)


RATES_NAMED = 6  # drawn rates spelled out per draw; the rest are on Stress draws


def _drawn_rates(draw: pd.Series, rate_columns: list[str]) -> str:
    named = [f"{column} {draw[column]:.1%}" for column in rate_columns[:RATES_NAMED]]
    rest = len(rate_columns) - RATES_NAMED
    more = f" and {rest} more" if rest > 0 else ""
    return ", ".join(named) + more + f" (Stress draws, row {int(draw['draw']) + 1})"


def _skew(distribution: pd.DataFrame, below: bool) -> str:
    """The licences whose average draw lies furthest from approval_rate, on one side."""
    gap = distribution["approval_mean"] - distribution["approval_rate"]
    side = distribution[gap < -1e-9] if below else distribution[gap > 1e-9]
    if side.empty:
        return ""
    side = side.assign(gap=gap.abs()).sort_values("gap", ascending=False)
    side = side.drop_duplicates(["regime", "material"]).head(3)
    examples = "; ".join(
        f"{r.regime} {r.material}: approval_rate {r.approval_rate:.1%}, range "
        f"{r.approval_low:.1%} to {r.approval_high:.1%}, average draw {r.approval_mean:.1%}"
        for r in side.itertuples()
    )
    return f" For example {examples}."


def stress_notes(result: StressResult) -> list[str]:
    """What the Stress sheet's numbers are drawn from, its best and worst draws, and where
    the base case lies among them and why."""
    notes = [
        "Each draw sets every approval rate of the Licences sheet from a triangular "
        "distribution: its most likely value (mode) is approval_rate, its range approval_low "
        "to approval_high (a blank bound is the rate itself).",
        f"One random number per regime and period is shared by all its materials, since "
        f"licence policy moves together. {result.completed} draws, seed {result.seed}: the "
        "same seed gives the same numbers.",
        "A regime's persistence p (Regimes sheet; blank is 0) links its periods: with "
        "probability p a period keeps the previous period's number (the same quantile), "
        "otherwise it draws afresh."
        + (
            " Persistence here: "
            + ", ".join(f"{r} {p:.0%}" for r, p in sorted(result.persistence.items()))
            + "."
            if result.persistence
            else " Every regime here draws its periods independently."
        ),
        f"Base case (every rate at approval_rate): lost value {usd(result.base_lost_value)}.",
    ]
    draws = result.draws
    if not result.completed or draws.empty:
        return notes
    rate_columns = [c for c in draws.columns if c not in ("draw", "lost_value")]
    worst = draws.loc[draws["lost_value"].idxmax()]
    best = draws.loc[draws["lost_value"].idxmin()]
    for name, draw in (("Worst", worst), ("Best", best)):
        notes.append(
            f"{name} draw: number {int(draw['draw'])}, lost value {usd(draw['lost_value'])}; "
            f"rates drawn: {_drawn_rates(draw, rate_columns) if rate_columns else 'none'}."
        )
    base = result.base_lost_value
    tolerance = 1e-6 * (1 + abs(base))
    lowest, highest = float(best["lost_value"]), float(worst["lost_value"])
    explained = False  # the reason is given once, for the workbook or the first sector
    if base < lowest - tolerance or base > highest + tolerance:
        explained = True
        above = base > highest  # every draw loses less: the draws approve more than the base
        notes.append(
            f"The base case lies outside the drawn outcomes ({usd(lowest)} to {usd(highest)}): "
            f"it loses {'more' if above else 'less'} than every draw. approval_rate is the most "
            "likely rate, not the average one: where the range reaches further "
            f"{'above' if above else 'below'} it than {'below' if above else 'above'}, most "
            f"draws approve {'more' if above else 'less'} than the base case."
            + _skew(result.distribution, below=not above)
        )
    for sector in result.sectors.itertuples():
        above = sector.lost_value_base > sector.lost_value_worst + tolerance
        below = sector.lost_value_base < sector.lost_value_best - tolerance
        if not above and not below:
            continue
        edge = sector.lost_value_worst if above else sector.lost_value_best
        text = (
            f"{sector.sector}: the base case loses {usd(sector.lost_value_base)}, "
            f"{usd(abs(sector.lost_value_base - edge))} {'more' if above else 'less'} than its "
            f"{'worst' if above else 'best'} draw ({usd(edge)})"
        )
        if not explained:
            text += (
                f": approval_rate is the most likely rate, not the average one; most draws "
                f"approve {'more' if above else 'less'} wherever the range reaches further "
                f"{'above' if above else 'below'} it than {'below' if above else 'above'}."
                + _skew(result.distribution, below=not above)
            )
            explained = True
        notes.append(text if text.endswith(".") else text + ".")
    return notes


def write_stress(
    path: Path,
    result: StressResult,
    run: dict[str, object],
    created: datetime | None = None,
    issues: list[Issue] | None = None,
) -> None:
    rate_columns = [c for c in result.draws.columns if c not in ("draw", "lost_value")]
    sheets = [
        stress_sheet(result, f"Stress: {result.completed} draws, seed {result.seed}"),
        SheetData("Stress draws", result.draws, formats=dict.fromkeys(rate_columns, PERCENT)),
        *warnings_sheet(issues),
        run_sheet(run),
    ]
    write_workbook(path, sheets, created=created)


def stress_sheet(result: StressResult, title: str) -> SheetData:
    """Per sector the distribution of outcomes, under the sentences that explain it."""
    return SheetData("Stress", result.sectors, title=title, notes=stress_notes(result))
