"""Exposure metrics of design section 6: one formula per metric, in one place.

Every front door, report and what-if calls these; none re-derives a metric.
They work on numpy arrays (what-if loops) and on pandas Series (result
tables) alike. Units: units of product, USD, shares in [0, 1].
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

ArrayLike = TypeVar("ArrayLike", np.ndarray, pd.Series)

# A product with no demand is fully served: nothing was wanted, nothing is missing.
SERVED_WHEN_NOTHING_WANTED = 1.0


def share(part: ArrayLike, whole: ArrayLike) -> ArrayLike:
    """part / whole, and 1 where nothing was wanted (whole <= 0)."""
    if isinstance(part, pd.Series):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = part / whole
        return ratio.where(whole > 0, SERVED_WHEN_NOTHING_WANTED)
    part_array = np.asarray(part, dtype=float)
    whole_array = np.asarray(whole, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(whole_array > 0, part_array / whole_array, SERVED_WHEN_NOTHING_WANTED)


def lost_units(units: ArrayLike, built: ArrayLike) -> ArrayLike:
    """Units wanted but not built (never negative)."""
    if isinstance(units, pd.Series):
        return (units - built).clip(0)
    return np.clip(units - built, 0, None)


def lost_value(units: ArrayLike, built: ArrayLike, value_per_unit: ArrayLike) -> ArrayLike:
    """USD of output wanted but not built, per product row."""
    return lost_units(units, built) * value_per_unit


def value_service_level(units: ArrayLike, built: ArrayLike, value_per_unit: ArrayLike) -> float:
    """Built value / demanded value: the headline, which does not add aircraft to phones."""
    demanded = float(np.sum(np.asarray(units, dtype=float) * np.asarray(value_per_unit, float)))
    lost = float(np.sum(np.asarray(lost_value(units, built, value_per_unit), dtype=float)))
    return (demanded - lost) / demanded if demanded > 0 else SERVED_WHEN_NOTHING_WANTED


def unit_service_level(units: ArrayLike, built: ArrayLike) -> ArrayLike:
    """Units built / units wanted, per product row (only meaningful for one product)."""
    return share(built, units)


def grouped_value_service_level(
    codes: np.ndarray, count: int, units: np.ndarray, built: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(lost value [USD], value service level) per group of product rows (`codes` 0..count-1)."""
    lost = np.bincount(codes, lost_value(units, built, values), count)
    demanded = np.bincount(codes, units * values, count)
    return lost, share(demanded - lost, demanded)


def material_use(intensity: pd.DataFrame, built: pd.DataFrame) -> pd.DataFrame:
    """Tonnes of each material used per product row: built units x kg_per_unit / 1000.

    `intensity` has product, material, kg_per_unit; `built` has product, period,
    built (and any other columns, kept). Returns one row per product, period and
    material with a `tonnes` column.
    """
    use = intensity[["product", "material", "kg_per_unit"]].merge(built, on="product")
    use["tonnes"] = use["kg_per_unit"] / 1000.0 * use["built"]
    return use


def herfindahl(tonnes_by_origin: pd.Series) -> float:
    """Herfindahl-Hirschman index of supply by origin, 0-10,000 (10,000: one origin)."""
    total = float(tonnes_by_origin.sum())
    if total <= 0:
        return float("nan")
    return float(((tonnes_by_origin / total * 100.0) ** 2).sum())
