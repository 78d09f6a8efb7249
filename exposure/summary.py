"""A short human summary of a run for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exposure import metrics

if TYPE_CHECKING:
    from exposure.pipeline import RunResult


def usd(value: float) -> str:
    """USD 1.2 bn / 3.4 M / 5,600."""
    if abs(value) >= 1e9:
        return f"USD {value / 1e9:,.2f} bn"
    if abs(value) >= 1e6:
        return f"USD {value / 1e6:,.1f} M"
    return f"USD {value:,.0f}"


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
    worst = (
        products[products["units"] > 0]
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
                top = own.sort_values("licence_dependency").iloc[-1]
                text += (
                    f"; {top['licence_dependency']:.0%} of its built value depends on "
                    f"{top['regime']} licences"
                )
        lines.append(text + ".")
    lever = most_valuable_lever(result)
    if lever:
        lines.append(lever)
    return lines


def most_valuable_lever(result: RunResult) -> str | None:
    """The licence (value of +1 pp) or supply (value of +1 t) worth most, in one sentence."""
    exposure = result.exposure
    licences = exposure.licences
    if licences is not None and not licences.empty:
        by_material = licences.groupby(["regime", "material"], as_index=False)["value_of_1pp"].sum()
        best = by_material.sort_values("value_of_1pp").iloc[-1]
        if best["value_of_1pp"] > 0:
            return (
                f"most valuable lever: 1 percentage point more {best['regime']} approval for "
                f"{best['material']} in every period would save {usd(best['value_of_1pp'])}."
            )
    supply = exposure.supply
    if supply.empty:
        return None
    best = supply.sort_values("value_per_t").iloc[-1]
    if best["value_per_t"] <= 0:
        return None
    return (
        f"most valuable lever: one more tonne of {best['material']} from {best['source']} in "
        f"{best['period']} would save {usd(best['value_per_t'])}."
    )
