"""Typed input tables of the allocation LP, one frame per set of the maths.

Every frame is long (one row per index tuple) with plain float columns.
Units: tonnes (t) of material, USD, fractions in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

SUPPLY_COLUMNS = ["source", "material", "period", "capacity", "approval", "unit_cost"]
PLANT_COLUMNS = ["plant", "period", "output", "capacity", "approval", "unit_cost"]
RECIPE_COLUMNS = ["plant", "input", "t_per_t"]
DEMAND_COLUMNS = [
    "product",
    "sector",
    "period",
    "units",
    "value_per_unit",
    "min_service",
    "weight",
]
INTENSITY_COLUMNS = ["product", "material", "kg_per_unit"]
MATERIAL_COLUMNS = ["material", "initial_stock", "min_stock", "holding_cost"]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class AllocationData:
    """The data of one instance of the allocation LP.

    periods
        Period ids t, in time order.
    materials
        One row per material m: `initial_stock` [t], `min_stock` [t],
        `holding_cost` [USD/t/period].
    supply
        One row per (source s, material m, period t): `capacity` [t/period],
        `approval` [0-1] (1 when no regime controls m), `unit_cost` [USD/t].
    plants
        One row per (plant p, period t): `output` material, `capacity`
        [t of output/period], `approval` [0-1], `unit_cost` [USD/t of output].
    recipes
        One row per (plant p, input material m): `t_per_t` [t input per t output].
    demand
        One row per (product j, period t): `sector` k(j), `units` [units/period],
        `value_per_unit` [USD], `min_service` [0-1] and `weight` of the sector.
    intensity
        One row per (product j, material m): `kg_per_unit` [kg/unit].
    """

    periods: list[str]
    materials: pd.DataFrame
    supply: pd.DataFrame
    demand: pd.DataFrame
    intensity: pd.DataFrame
    plants: pd.DataFrame = field(default_factory=lambda: _empty(PLANT_COLUMNS))
    recipes: pd.DataFrame = field(default_factory=lambda: _empty(RECIPE_COLUMNS))

    def __post_init__(self) -> None:
        for name, columns in (
            ("materials", MATERIAL_COLUMNS),
            ("supply", SUPPLY_COLUMNS),
            ("plants", PLANT_COLUMNS),
            ("recipes", RECIPE_COLUMNS),
            ("demand", DEMAND_COLUMNS),
            ("intensity", INTENSITY_COLUMNS),
        ):
            frame = getattr(self, name)
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"{name} table lacks columns {missing}")
            setattr(self, name, frame.reset_index(drop=True))

    @property
    def licensed_capacity(self) -> pd.Series:
        """capacity * approval per supply row [t/period]."""
        return self.supply["capacity"] * self.supply["approval"]
