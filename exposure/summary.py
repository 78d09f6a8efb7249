"""A short human summary of a run for the terminal."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from exposure import metrics
from exposure.text import usd

FLOOR_TOLERANCE = 1e-6

if TYPE_CHECKING:
    from exposure.pipeline import RunResult


def terminal_summary(result: RunResult) -> str:
    exposure = result.exposure
    kpis = exposure.kpis
    lines = [
        f"status: {result.solution.status.value} ({result.run_info['objective_mode']} objective)",
        f"lost value: {usd(kpis['lost_value'])} of {usd(kpis['demand_value'])} demanded "
        f"(value service level {kpis['value_service_level']:.1%})",
    ]
    products = exposure.products.groupby(["product", "sector"], as_index=False)[
        ["units", "built", "lost_value"]
    ].sum()
    products["unit_service_level"] = metrics.unit_service_level(
        products["units"], products["built"]
    )
    # Only products that lose units: a fully served product is nobody's worst.
    short = products["units"] - products["built"] > 1e-6 * (1 + products["units"])
    worst = (
        products[(products["units"] > 0) & short]
        .sort_values(["unit_service_level", "lost_value"], ascending=[True, False])
        .head(3)
    )
    if len(worst):
        lines.append("worst-served products:")
        for record in worst.itertuples():
            lines.append(
                f"  {record.product} ({record.sector}): {record.unit_service_level:.1%} served, "
                f"{usd(record.lost_value)} lost"
            )
    lines += exposure_sentences(result)
    if kpis["soft_constraints_violated"]:
        lines.append(
            f"soft constraints violated: {kpis['soft_constraints_violated']} (see Warnings)"
        )
    if result.output_path is not None:
        lines.append(f"results: {result.output_path}")
    return "\n".join(lines)


def exposure_sentences(result: RunResult) -> list[str]:
    """The three largest exposures and the single most valuable lever, one sentence each."""
    exposure = result.exposure
    totals = exposure.sectors.groupby("sector", as_index=False)[
        ["demand_value", "lost_value"]
    ].sum()
    totals = totals[totals["lost_value"] > 0].sort_values("lost_value", ascending=False).head(3)
    dependency = exposure.dependency_by_sector
    lines = []
    for rank, record in enumerate(totals.itertuples(), start=1):
        share = record.lost_value / record.demand_value if record.demand_value else 0.0
        text = (
            f"exposure {rank}: {record.sector} loses {usd(record.lost_value)} "
            f"({share:.0%} of the value it wanted)"
        )
        if dependency is not None and not dependency.empty:
            own = dependency[dependency["sector"] == record.sector]
            if len(own):
                top = own.sort_values("licence_dependency_direct").iloc[-1]
                text += (
                    f"; {top['licence_dependency_direct']:.0%} of its material came through "
                    f"{top['regime']} licences, and it would lose "
                    f"{top['licence_dependency_systemic']:.0%} of its built value if "
                    f"{top['regime']} approved nothing (other supply moving to it)"
                )
        lines.append(text + ".")
    lever = most_valuable_lever(result)
    if lever:
        lines.append(lever)
    return lines


def most_valuable_lever(result: RunResult) -> str | None:
    """The licence row (+1 pp) worth most, by re-solve, in one sentence.

    Ranked as the model ranks outcomes: the fall in penalty (floors met) first, then
    USD saved; a lever whose extra tonnes first go to meeting floors says so. Where no
    licence is worth anything, the material of which one more tonne is worth most.
    """
    exposure = result.exposure
    licence_levers: list[tuple[float, float, str]] = []
    if exposure.licence_levers is not None:
        for record in exposure.licence_levers.itertuples():
            where = f" ({record.approval_cell})" if isinstance(record.approval_cell, str) else ""
            licence_levers.append(
                (
                    record.value_of_1pp,
                    record.penalty_change_1pp,
                    f"1 percentage point more {record.regime} approval for {record.material} "
                    f"in {record.periods}{where}",
                )
            )
    tonnes = [
        (r.value_of_1t, r.penalty_change_1t, f"one more tonne of {r.material} in {r.period}")
        for r in exposure.materials.itertuples()
    ]
    for candidates in (licence_levers, tonnes):
        found = _best_lever(candidates)
        if found:
            return found
    return None


def _best_lever(candidates: list[tuple[float, float, str]]) -> str | None:
    candidates = [c for c in candidates if not math.isnan(c[0]) and not math.isnan(c[1])]
    if not candidates:
        return None
    # The same order as the model's: meeting floors first, then money.
    value, penalty, lever = max(
        candidates, key=lambda c: (c[1] if c[1] > FLOOR_TOLERANCE else 0.0, c[0])
    )
    if penalty > FLOOR_TOLERANCE:
        return (
            f"most valuable lever: {lever} would first go to meeting min_service or "
            f"min_stock floors (penalty falls by {penalty:.4f}) and "
            f"{'lower' if value >= 0 else 'raise'} the objective by {usd(abs(value))}."
        )
    if value <= FLOOR_TOLERANCE:
        return None
    return f"most valuable lever: {lever} would save {usd(value)}."
