"""Licence sensitivities by re-solving the one model already built (design section 6).

- licence dependency: the share of each sector's built value lost when a
  regime's approval rates are all set to 0;
- break-even approval rate: the rate of one regime-material-period below
  which some sector falls short of its min_service because of it (or, where
  no floor is at stake, below which lost value rises by more than 1%),
  found by bisection on warm re-solves.

Every function leaves the model holding the base data again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from exposure.analytics import product_table
from models.allocation import AllocationModel, Solution
from models.data import AllocationData

BISECTION_STEPS = 12  # 1/4096 of the [0, 1] range: a hundredth of a percentage point
LOST_VALUE_THRESHOLD = 0.01  # "lost value rises by more than 1% of the base"
TOLERANCE = 1e-6
BREAK_EVEN_BUDGET_SECONDS = 120.0
LICENCE_COLUMNS = [
    "regime",
    "material",
    "period",
    "approval_rate",
    "capacity",
    "licensed_t",
    "used_t",
    "value_of_1pp",
    "break_even_rate",
    "criterion",
    "method",
    "approval_cell",
]


def with_approval(
    data: AllocationData,
    regime: str,
    rate: float,
    material: str | None = None,
    period: str | None = None,
) -> AllocationData:
    """A copy of `data` with the approval of a regime (optionally one material, period) set."""
    supply = data.supply.copy()
    plants = data.plants.copy()
    mask = supply["regime"] == regime
    plant_mask = plants["regime"] == regime
    if material is not None:
        mask &= supply["material"] == material
        plant_mask &= plants["output"] == material
    if period is not None:
        mask &= supply["period"] == period
        plant_mask &= plants["period"] == period
    # Only materials the regime lists are controlled: rows it does not list keep approval 1.
    if "licence_row" in supply:
        mask &= supply["licence_row"].notna()
    if "licence_row" in plants:
        plant_mask &= plants["licence_row"].notna()
    supply.loc[mask, "approval"] = rate
    plants.loc[plant_mask, "approval"] = rate
    changed = AllocationData(**vars(data))
    changed.supply = supply
    changed.plants = plants
    return changed


@contextmanager
def restored(model: AllocationModel) -> Iterator[AllocationModel]:
    base = model.data
    try:
        yield model
    finally:
        model.update(base)


def solve_with(model: AllocationModel, data: AllocationData) -> Solution:
    model.update(data)
    solution = model.solve()
    if not solution.status.ok:
        raise RuntimeError(f"re-solve failed: {solution.message}")
    return solution


def regimes_of(data: AllocationData) -> list[str]:
    regimes = pd.concat([data.supply.get("regime"), data.plants.get("regime")]).dropna()
    return sorted(set(regimes))


def licence_dependency(model: AllocationModel, base: Solution) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(by sector, by product): share of built value lost when a regime approves nothing."""
    data = model.data
    base_products = product_table(base)
    keys = ["sector", "product"]
    base_products["built_value"] = base_products["built"] * base_products["value_per_unit"]
    base_value = base_products.groupby(keys, sort=False)["built_value"].sum()
    frames = []
    with restored(model):
        for regime in regimes_of(data):
            zero = product_table(solve_with(model, with_approval(data, regime, 0.0)))
            zero["built_value"] = zero["built"] * zero["value_per_unit"]
            value = zero.groupby(keys, sort=False)["built_value"].sum()
            frames.append(
                pd.DataFrame(
                    {
                        "regime": regime,
                        "built_value": base_value,
                        "built_value_without_regime": value.reindex(base_value.index).fillna(0),
                    }
                ).reset_index()
            )
    columns = ["regime", "built_value", "built_value_without_regime"]
    if not frames:
        empty = pd.DataFrame(columns=[*keys, *columns, "licence_dependency"])
        return empty.drop(columns="product"), empty
    by_product = pd.concat(frames, ignore_index=True)
    by_sector = by_product.groupby(["sector", "regime"], sort=False, as_index=False)[
        ["built_value", "built_value_without_regime"]
    ].sum()
    for frame in (by_product, by_sector):
        lost = (frame["built_value"] - frame["built_value_without_regime"]).clip(lower=0)
        frame["licence_dependency"] = (lost / frame["built_value"]).where(
            frame["built_value"] > 0, 0.0
        )
    return by_sector, by_product


def _lost_value(solution: Solution) -> float:
    products = product_table(solution)
    return float(products["lost_value"].sum())


def break_even_rate(
    model: AllocationModel, regime: str, material: str, period: str, base: Solution
) -> tuple[float, str]:
    """(rate, criterion): the approval rate below which things get worse, found by bisection.

    Criterion `min_service` when lowering this approval can break a sector's
    floor, else `lost_value+1%`. NaN when even 100% approval does not meet it;
    0 when no rate does harm.
    """
    data = model.data

    def at(rate: float) -> Solution:
        return solve_with(model, with_approval(data, regime, rate, material, period))

    with restored(model):
        full, none = at(1.0), at(0.0)
        if none.violation > full.violation + TOLERANCE:
            criterion = "min_service"

            def worse(s: Solution) -> bool:
                return s.violation > full.violation + TOLERANCE

        else:
            criterion = "lost_value+1%"
            limit = _lost_value(base) * (1 + LOST_VALUE_THRESHOLD) + TOLERANCE
            if _lost_value(full) > limit:
                return math.nan, criterion

            def worse(s: Solution) -> bool:
                return _lost_value(s) > limit

        if not worse(none):
            return 0.0, criterion
        low, high = 0.0, 1.0  # worse at low, fine at high
        for _ in range(BISECTION_STEPS):
            middle = (low + high) / 2
            if worse(at(middle)):
                low = middle
            else:
                high = middle
        return high, criterion


def licence_table(
    model: AllocationModel,
    base: Solution,
    break_even: bool = True,
    budget_seconds: float = BREAK_EVEN_BUDGET_SECONDS,
) -> pd.DataFrame:
    """Per regime, material and period: approval, licensed tonnes, value of +1 pp, break-even.

    Break-even rates cost about 14 warm re-solves each; past `budget_seconds`
    the remaining ones are marked as skipped rather than holding the run up.
    """
    data = model.data

    def licence_columns(table: pd.DataFrame) -> dict[str, np.ndarray]:
        """Regime, Licences row and approval cell of each row (blank where unknown)."""
        return {
            "regime": table["regime"].to_numpy(),
            "licence_row": table.get(
                "licence_row", pd.Series(np.nan, index=table.index)
            ).to_numpy(),
            "approval_cell": table.get(
                "approval_cell", pd.Series(None, index=table.index)
            ).to_numpy(),
        }

    supply = base.supply.assign(**licence_columns(data.supply))
    plants = base.plants.rename(columns={"output": "material", "make": "buy"}).assign(
        **licence_columns(data.plants)
    )
    rows = pd.concat([supply, plants], ignore_index=True)
    rows = rows[rows["regime"].notna() & rows["licence_row"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=LICENCE_COLUMNS)
    rows["value_of_1pp"] = -rows["limit_dual"] * rows["capacity"] / 100
    grouped = rows.groupby(["regime", "material", "period"], sort=False).agg(
        approval_rate=("approval", "first"),
        capacity=("capacity", "sum"),
        licensed_t=("licensed_capacity", "sum"),
        used_t=("buy", "sum"),
        value_of_1pp=("value_of_1pp", "sum"),
        approval_cell=("approval_cell", "first"),
    )
    table = grouped.reset_index()
    order = {p: i for i, p in enumerate(data.periods)}
    table = table.sort_values(
        ["regime", "material", "period"], key=lambda s: s.map(order) if s.name == "period" else s
    ).reset_index(drop=True)
    rates, criteria = [], []
    started = time.perf_counter()
    for record in table.itertuples():
        if break_even and time.perf_counter() - started > budget_seconds:
            rate, criterion = math.nan, f"skipped: over the {budget_seconds:g} s budget"
        elif break_even:
            rate, criterion = break_even_rate(
                model, record.regime, record.material, record.period, base
            )
        else:
            rate, criterion = math.nan, "not computed"
        rates.append(rate)
        criteria.append(criterion)
    table["break_even_rate"] = rates
    table["criterion"] = criteria
    table["method"] = "bisection on warm re-solves" if break_even else ""
    return table[LICENCE_COLUMNS]
