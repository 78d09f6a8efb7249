"""Numbers in words a planner reads: one place for how money is written."""

from __future__ import annotations


def usd(value: float) -> str:
    """USD 1.2 bn / 3.4 M / 5,600."""
    if abs(value) >= 1e9:
        return f"USD {value / 1e9:,.2f} bn"
    if abs(value) >= 1e6:
        return f"USD {value / 1e6:,.1f} M"
    return f"USD {value:,.0f}"
