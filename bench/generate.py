"""Seeded synthetic instances of the allocation LP, at a chosen number of LP columns.

`synthetic(n_variables, seed)` returns an `AllocationData` shaped like the
reference workbook, only bigger: rare-earth oxides bought from sources (some
under an export-licence regime with approval < 1), plants that turn oxides
into magnets and phosphors by recipe, and products of several sectors that
use magnets (mostly) and oxides. Licensed supply covers only part of what is
wanted, so the LP has to ration scarce material between products of very
different value per kg: the solve does real work.

Numbers are kept in the ranges of the real data: value per unit 10 to 1e8
USD, material costs of dollars to thousands of dollars per kg (USD/t here),
kg per unit from 1 g to 1 t.

The number of LP columns is

    periods x (supply rows + plants + products + materials)
    + periods x (materials with min_stock > 0)       # stock_gap
    + periods x (products of sectors with min_service > 0)  # service_gap

and the generator sizes the tables so that it lands within about 1% of the
request (`lp_columns` gives the exact count without building the model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.data import AllocationData

# (material, base cost USD/t, tier). Tier 0 is bought only; tier 1 is made by
# plants from tier-0 inputs (and some of it is also bought, as finished magnets).
MATERIALS: list[tuple[str, float, int]] = [
    ("NDPR_OX", 60_000.0, 0),
    ("DY_OX", 300_000.0, 0),
    ("TB_OX", 1_000_000.0, 0),
    ("SM_OX", 30_000.0, 0),
    ("CE_OX", 2_000.0, 0),
    ("LA_OX", 2_000.0, 0),
    ("GD_OX", 50_000.0, 0),
    ("Y_OX", 40_000.0, 0),
    ("NDFEB", 50_000.0, 1),
    ("NDFEB_HRE", 90_000.0, 1),
    ("SMCO", 120_000.0, 1),
    ("PHOSPHOR", 80_000.0, 1),
]
RAW = [m for m, _, tier in MATERIALS if tier == 0]
MADE = [m for m, _, tier in MATERIALS if tier == 1]
BASE_COST = {m: c for m, c, _ in MATERIALS}
# t of input per t of output
RECIPES: dict[str, dict[str, float]] = {
    "NDFEB": {"NDPR_OX": 0.362, "DY_OX": 0.0138, "TB_OX": 0.0035},
    "NDFEB_HRE": {"NDPR_OX": 0.33, "DY_OX": 0.04, "TB_OX": 0.01, "GD_OX": 0.02},
    "SMCO": {"SM_OX": 0.29},
    "PHOSPHOR": {"Y_OX": 0.5, "CE_OX": 0.1, "LA_OX": 0.1, "TB_OX": 0.05},
}
MADE_WEIGHTS = np.array([0.55, 0.2, 0.1, 0.15])  # share of products using each made material

# Regimes and what they control. A licence row per controlled (regime, material).
REGIMES: dict[str, tuple[str, list[str]]] = {
    "CN-MOFCOM": ("CN", ["DY_OX", "TB_OX", "SM_OX", "GD_OX", "Y_OX", "NDFEB", "NDFEB_HRE", "SMCO"]),
    "MM-EXPORT": ("MM", ["DY_OX", "TB_OX"]),
}
OTHER_COUNTRIES = ["AU", "US", "MY", "EE", "FR", "VN", "BR", "IN", "JP", "KR", "CA", "ZA"]
PLANT_COUNTRIES = ["JP", "VN", "US", "DE", "EE", "KR", "CN"]

# sector: (min_service, weight)
SECTORS: dict[str, tuple[float, float]] = {
    "EV": (0.0, 1.0),
    "WIND": (0.0, 1.0),
    "PHONES": (0.0, 1.0),
    "HVAC": (0.0, 1.0),
    "INDUSTRY": (0.0, 1.0),
    "LIGHTING": (0.0, 1.0),
    "AEROSPACE": (0.0, 2.0),
    "ROBOTICS": (0.0, 1.0),
    "DEFENCE": (0.9, 3.0),
    "MEDICAL": (0.6, 2.0),
}
FLOOR_SECTOR_SHARE = 0.15  # share of products in sectors with min_service > 0
MIN_STOCK_MATERIALS = ["DY_OX", "TB_OX"]

SUPPLY_SHARE = 0.30  # of the per-period column budget
PLANT_SHARE = 0.10


def periods_for(n_variables: int) -> int:
    """4 periods (quarters) for small instances, up to 12 (months) for big ones."""
    if n_variables <= 20_000:
        return 4
    if n_variables <= 150_000:
        return 8
    return 12


def lp_columns(data: AllocationData) -> int:
    """Columns of `build_model(data)` (priority objective), without building it."""
    t = len(data.periods)
    floors = int((data.materials["min_stock"] > 0).sum()) * t
    service = int((data.demand["min_service"] > 0).sum())
    return (
        len(data.supply)
        + len(data.plants)
        + len(data.demand)
        + len(data.materials) * t
        + (floors + service)
    )


def _licences() -> dict[tuple[str, str], int]:
    """A licence row id (like a Licences worksheet row) per controlled (regime, material)."""
    rows = {}
    row = 2
    for regime, (_, materials) in REGIMES.items():
        for material in materials:
            rows[regime, material] = row
            row += 1
    return rows


def synthetic(n_variables: int, seed: int = 0, periods: int | None = None) -> AllocationData:
    """A random instance whose LP has about `n_variables` columns; same seed, same instance."""
    rng = np.random.default_rng(seed)
    n_periods = periods or periods_for(n_variables)
    period_ids = [f"P{t + 1:02d}" for t in range(n_periods)]
    n_materials = len(MATERIALS)
    budget = n_variables / n_periods - n_materials - len(MIN_STOCK_MATERIALS)
    n_pairs = max(int(budget * SUPPLY_SHARE), 2 * n_materials)
    n_plants = max(int(budget * PLANT_SHARE), len(MADE))
    product_columns = budget - n_pairs - n_plants
    n_products = max(round(product_columns / (1 + FLOOR_SECTOR_SHARE)), 10)

    # ---------------------------------------------------------------- products
    sector_names = list(SECTORS)
    floor_sectors = [s for s in sector_names if SECTORS[s][0] > 0]
    free_sectors = [s for s in sector_names if SECTORS[s][0] == 0]
    n_floor = round(n_products * FLOOR_SECTOR_SHARE)
    sectors = np.array(
        list(rng.choice(floor_sectors, n_floor))
        + list(rng.choice(free_sectors, n_products - n_floor))
    )
    rng.shuffle(sectors)
    products = np.array([f"J{i:06d}" for i in range(n_products)])
    kg_total = np.exp(rng.uniform(np.log(0.001), np.log(1000.0), n_products))  # kg/unit
    value_per_kg = np.exp(rng.uniform(np.log(1e3), np.log(5e6), n_products))
    value = np.clip(kg_total * value_per_kg, 10.0, 1e8)

    # each product uses one made material, and one raw material for 30% of products
    main = rng.choice(MADE, n_products, p=MADE_WEIGHTS / MADE_WEIGHTS.sum())
    has_raw = rng.random(n_products) < 0.3
    raw_pick = rng.choice(RAW, n_products)
    raw_share = rng.uniform(0.05, 0.3, n_products)
    intensity = pd.concat(
        [
            pd.DataFrame(
                {
                    "product": products,
                    "material": main,
                    "kg_per_unit": np.where(has_raw, 1 - raw_share, 1.0) * kg_total,
                }
            ),
            pd.DataFrame(
                {
                    "product": products[has_raw],
                    "material": raw_pick[has_raw],
                    "kg_per_unit": (raw_share * kg_total)[has_raw],
                }
            ),
        ],
        ignore_index=True,
    ).sort_values(["product", "material"], kind="stable", ignore_index=True)

    # tonnes wanted per product and period, lognormal around 1 t, slowly growing
    tonnes = np.exp(rng.normal(0.0, 1.2, n_products))
    base_units = np.maximum(np.round(tonnes * 1000.0 / kg_total), 1.0)
    growth = 1.0 + 0.02 * np.arange(n_periods)
    noise = rng.uniform(0.9, 1.1, (n_products, n_periods))
    units = np.round(base_units[:, None] * growth[None, :] * noise).clip(min=1.0)
    demand = pd.DataFrame(
        {
            "product": np.repeat(products, n_periods),
            "sector": np.repeat(sectors, n_periods),
            "period": np.tile(period_ids, n_products),
            "units": units.ravel(),
            "value_per_unit": np.repeat(value, n_periods),
            "min_service": np.repeat([SECTORS[s][0] for s in sectors], n_periods),
            "weight": np.repeat([SECTORS[s][1] for s in sectors], n_periods),
        }
    )

    # t of each material wanted per period (average over periods) by products
    wanted_units = units.mean(axis=1)
    use = intensity.assign(
        t=intensity["kg_per_unit"].to_numpy()
        / 1000.0
        * wanted_units[intensity["product"].str[1:].astype(int).to_numpy()]
    )
    direct = use.groupby("material")["t"].sum().reindex([m for m, _, _ in MATERIALS]).fillna(0.0)

    # ------------------------------------------------------------------ plants
    plant_output = np.array(list(MADE) + list(rng.choice(MADE, n_plants - len(MADE))))
    plant_country = rng.choice(PLANT_COUNTRIES, n_plants)
    plant_names = np.array([f"PL{i:05d}" for i in range(n_plants)])
    plant_weight = rng.uniform(0.2, 1.0, n_plants)
    # plants can make 85% of what products want of each made material
    plant_capacity = np.zeros(n_plants)
    for material in MADE:
        mask = plant_output == material
        plant_capacity[mask] = (
            0.85 * direct[material] * plant_weight[mask] / plant_weight[mask].sum()
        )
    licences = _licences()
    plant_regime = np.where(plant_country == "CN", "CN-MOFCOM", None)
    licence_approval = {key: float(rng.uniform(0.1, 0.7)) for key in licences}
    plant_licence = [
        licences.get((r, m)) if r is not None else None
        for r, m in zip(plant_regime, plant_output, strict=True)
    ]
    plant_approval = [
        licence_approval[r, m] if lr is not None else 1.0
        for r, m, lr in zip(plant_regime, plant_output, plant_licence, strict=True)
    ]
    plants = pd.DataFrame(
        {
            "plant": np.repeat(plant_names, n_periods),
            "period": np.tile(period_ids, n_plants),
            "output": np.repeat(plant_output, n_periods),
            "capacity": np.repeat(np.round(plant_capacity, 3), n_periods),
            "approval": np.repeat(plant_approval, n_periods),
            "unit_cost": np.repeat(np.round(rng.uniform(1e4, 3e4, n_plants)), n_periods),
            "country": np.repeat(plant_country, n_periods),
            "regime": np.repeat(plant_regime, n_periods),
            "licence_row": np.repeat(
                np.array([np.nan if r is None else r for r in plant_licence], dtype=float),
                n_periods,
            ),
        }
    )
    plant_rows = np.repeat(np.arange(n_plants) + 2, n_periods)
    plant_cells = pd.Series([f"Plants!D{r}" for r in plant_rows], dtype=object)
    recipes = pd.DataFrame(
        [
            (plant, material, round(t_per_t * float(rng.uniform(0.9, 1.1)), 5))
            for plant, output in zip(plant_names, plant_output, strict=True)
            for material, t_per_t in RECIPES[output].items()
        ],
        columns=["plant", "input", "t_per_t"],
    )

    # ------------------------------------------------------------------ supply
    # t of each raw material needed if plants ran at capacity, plus direct use
    need = direct.copy()
    for material in MADE:
        made = plant_capacity[plant_output == material].sum()
        for raw, t_per_t in RECIPES[material].items():
            need[raw] += made * t_per_t
    # finished magnets can also be bought: 40% of what products want of them
    for material in MADE:
        need[material] = 0.4 * direct[material]
    material_names = [m for m, _, _ in MATERIALS]
    pair_material = np.array(
        material_names + list(rng.choice(material_names, n_pairs - n_materials))
    )
    n_sources = (n_pairs + 1) // 2
    pair_source = np.arange(n_pairs) // 2
    source_country = np.where(
        rng.random(n_sources) < 0.45,
        "CN",
        np.where(rng.random(n_sources) < 0.15, "MM", rng.choice(OTHER_COUNTRIES, n_sources)),
    )
    country = source_country[pair_source]
    regime = np.array(
        [
            next((r for r, (c, ms) in REGIMES.items() if c == cc and m in ms), None)
            for cc, m in zip(country, pair_material, strict=True)
        ],
        dtype=object,
    )
    # a source supplying its second material: keep (source, material) pairs unique
    source_names = np.array([f"S{i:06d}" for i in range(n_sources)])[pair_source]
    pairs = pd.DataFrame({"source": source_names, "material": pair_material})
    duplicated = pairs.duplicated().to_numpy()
    source_names = np.where(
        duplicated, np.char.add(source_names.astype(str), "B"), source_names
    ).astype(object)
    # supply capacity: 110% of the need of each material, split at random between
    # sources; CN sources hold bigger shares (so licences bite)
    weight = rng.uniform(0.2, 1.0, n_pairs) * np.where(country == "CN", 3.0, 1.0)
    capacity = np.zeros(n_pairs)
    for material in material_names:
        mask = pair_material == material
        capacity[mask] = 1.1 * need[material] * weight[mask] / weight[mask].sum()
    licence_row = np.array(
        [
            licences.get((r, m)) if r is not None else np.nan
            for r, m in zip(regime, pair_material, strict=True)
        ],
        dtype=float,
    )
    approval = np.array(
        [
            licence_approval[r, m] if r is not None else 1.0
            for r, m in zip(regime, pair_material, strict=True)
        ]
    )
    cost_factor = np.exp(rng.normal(0.0, 0.2, n_pairs)) * np.where(country == "CN", 0.8, 1.0)
    unit_cost = np.round(np.array([BASE_COST[m] for m in pair_material]) * cost_factor)
    supply_noise = rng.uniform(0.95, 1.05, (n_pairs, n_periods))
    supply = pd.DataFrame(
        {
            "source": np.repeat(source_names, n_periods),
            "material": np.repeat(pair_material, n_periods),
            "period": np.tile(period_ids, n_pairs),
            "capacity": np.round((capacity[:, None] * supply_noise).ravel(), 3),
            "approval": np.repeat(approval, n_periods),
            "unit_cost": np.repeat(unit_cost, n_periods),
            "country": np.repeat(country, n_periods),
            "regime": np.repeat(regime, n_periods),
            "licence_row": np.repeat(licence_row, n_periods),
        }
    )
    supply_rows = np.repeat(np.arange(n_pairs) + 2, n_periods)
    supply_cells = pd.Series([f"Supply!D{r}" for r in supply_rows], dtype=object)
    # The licence table: one row per Licences row and period, keyed by its sheet row.
    licence_table = pd.DataFrame(
        [
            (
                float(row),
                regime_id,
                material,
                period,
                None,
                None,
                licence_approval[regime_id, material],
            )
            for (regime_id, material), row in sorted(licences.items(), key=lambda kv: kv[1])
            for period in period_ids
        ],
        columns=["licence_row", "regime", "material", "period", "end_use", "market", "rate"],
    ).assign(low=np.nan, high=np.nan, lead=0.0)

    # --------------------------------------------------------------- materials
    materials = pd.DataFrame(
        {
            "material": material_names,
            "initial_stock": [round(0.3 * float(direct[m] + need[m]), 3) for m in material_names],
            "min_stock": [
                round(0.2 * float(need[m]), 3) if m in MIN_STOCK_MATERIALS else 0.0
                for m in material_names
            ],
            "holding_cost": [round(0.02 * BASE_COST[m]) for m in material_names],
        }
    )
    return AllocationData(
        periods=period_ids,
        materials=materials,
        supply=supply,
        demand=demand,
        intensity=intensity,
        plants=plants,
        recipes=recipes,
        licences=licence_table,
        cells={
            "supply": {"capacity": supply_cells},
            "plants": {"capacity": plant_cells},
            "licences": {
                "rate": pd.Series(
                    [f"Licences!D{int(r)}" for r in licence_table["licence_row"]], dtype=object
                )
            },
        },
    )


def licence_of(data: AllocationData, regime: str, material: str) -> int:
    """The licence row id of (regime, material) in `data` (raises if no supply row has it)."""
    supply = data.supply
    rows = supply.loc[
        (supply["regime"] == regime) & (supply["material"] == material), "licence_row"
    ].dropna()
    if rows.empty:
        raise ValueError(f"no supply row under licence ({regime}, {material})")
    return int(rows.iloc[0])


if __name__ == "__main__":
    import sys

    for size in [int(a) for a in sys.argv[1:]] or [10_000]:
        instance = synthetic(size, seed=1)
        print(
            f"{size}: columns {lp_columns(instance)}, periods {len(instance.periods)}, "
            f"supply {len(instance.supply)}, plants {len(instance.plants)}, "
            f"demand {len(instance.demand)}, intensity {len(instance.intensity)}"
        )
