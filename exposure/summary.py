"""A short human summary of a run for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
        f"(service level {kpis['service_level']:.1%})",
    ]
    products = exposure.products.groupby(["product", "sector"], as_index=False)[
        ["units", "built", "lost_value"]
    ].sum()
    products["service_level"] = (products["built"] / products["units"]).fillna(1.0)
    worst = (
        products[products["units"] > 0]
        .sort_values(["service_level", "lost_value"], ascending=[True, False])
        .head(3)
    )
    if len(worst):
        lines.append("worst-served products:")
        for record in worst.itertuples():
            lines.append(
                f"  {record.product} ({record.sector}): {record.service_level:.1%} served, "
                f"{usd(record.lost_value)} lost"
            )
    if kpis["soft_constraints_violated"]:
        lines.append(
            f"soft constraints violated: {kpis['soft_constraints_violated']} (see Warnings)"
        )
    if result.output_path is not None:
        lines.append(f"results: {result.output_path}")
    return "\n".join(lines)
