"""Origin mix: tonnes of each material reaching each sector, by country of origin.

Material is traced through plants in proportion to their inputs, so a
Japanese magnet made with Chinese Dy shows JP for the magnet and CN for the
Dy in it. Each material's pool in a period mixes opening stock (with the
previous pool's mix), purchases (country of the source) and plant output
(country of the plant); every tonne drawn from a pool carries the pool's mix.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from exposure import metrics
from models.allocation import Solution
from models.data import AllocationData

INITIAL_STOCK = "initial stock"
Mix = dict[tuple[str, str], float]  # (material, country) -> t per t of the pool


def _material_order(data: AllocationData) -> list[str]:
    """Materials with every plant input before the plant's output (recipes form a DAG)."""
    outputs = dict(zip(data.plants["plant"], data.plants["output"], strict=True))
    inputs_of: dict[str, set[str]] = defaultdict(set)
    for plant, material in zip(data.recipes["plant"], data.recipes["input"], strict=True):
        if plant in outputs:
            inputs_of[outputs[plant]].add(material)
    order: list[str] = []
    visiting: set[str] = set()

    def visit(material: str) -> None:
        if material in order or material in visiting:
            return  # a cycle is traced as far as it goes, never looped
        visiting.add(material)
        for upstream in sorted(inputs_of[material]):
            visit(upstream)
        visiting.discard(material)
        order.append(material)

    for material in data.materials["material"]:
        visit(material)
    return order


def _countries(frame: pd.DataFrame, id_column: str) -> list[str]:
    """Country of each row; tables without countries fall back to the source or plant id."""
    if "country" not in frame:
        return list(frame[id_column])
    return [
        c if isinstance(c, str) else i
        for c, i in zip(frame["country"], frame[id_column], strict=True)
    ]


def pool_mixes(
    solution: Solution,
    data: AllocationData,
    supply_origins: list[str] | None = None,
    plant_origins: list[str] | None = None,
) -> dict[tuple[str, str], Mix]:
    """For each (material, period): tonnes of (material, origin) per tonne of its pool.

    The origin of a supply or plant row is its country unless `supply_origins` and
    `plant_origins` give another tag per row (e.g. the regime that licensed it).
    """
    order = _material_order(data)
    if supply_origins is None:
        supply_origins = _countries(data.supply, "source")
    if plant_origins is None:
        plant_origins = _countries(data.plants, "plant")
    supply = solution.supply.assign(country=supply_origins)
    bought = supply.groupby(["material", "period", "country"])["buy"].sum()
    plants = solution.plants.assign(country=plant_origins)
    recipes = data.recipes.groupby("plant")
    initial = data.materials.set_index("material")["initial_stock"]
    stocks = solution.materials.set_index(["material", "period"])["stock"]

    mixes: dict[tuple[str, str], Mix] = {}
    previous: dict[str, tuple[float, Mix]] = {
        m: (float(initial[m]), {(m, INITIAL_STOCK): 1.0}) for m in order
    }
    for period in data.periods:
        made_here = plants[plants["period"] == period]
        for material in order:
            opening, opening_mix = previous[material]
            amounts: Mix = defaultdict(float)
            for key, share in opening_mix.items():
                amounts[key] += opening * share
            total = opening
            if (material, period) in bought.index.droplevel(2):
                for country, tonnes in bought.loc[(material, period)].items():
                    amounts[material, country] += tonnes
                    total += tonnes
            for record in made_here[made_here["output"] == material].itertuples():
                if record.make <= 0:
                    continue
                amounts[material, record.country] += record.make
                total += record.make
                if record.plant in recipes.groups:
                    for recipe in recipes.get_group(record.plant).itertuples():
                        content = record.make * recipe.t_per_t
                        for key, share in mixes.get((recipe.input, period), {}).items():
                            amounts[key] += content * share
            mix = {k: v / total for k, v in amounts.items() if total > 0 and v > 0}
            mixes[material, period] = mix
            previous[material] = (float(stocks.get((material, period), 0.0)), mix)
    return mixes


UNLICENSED = "unlicensed"


def _licence_tags(frame: pd.DataFrame) -> list[str]:
    """The regime whose Licences row a supply or plant row ships under, else UNLICENSED."""
    if frame.empty or "licence_row" not in frame or "regime" not in frame:
        return [UNLICENSED] * len(frame)
    return [
        str(regime) if isinstance(regime, str) and not pd.isna(row) else UNLICENSED
        for regime, row in zip(frame["regime"], frame["licence_row"], strict=True)
    ]


def direct_dependency(solution: Solution, data: AllocationData) -> pd.DataFrame:
    """Per sector and regime: the share of its material that arrived through the regime's licences.

    For each product row, the tonnes of each material it used are split by how
    that material's pool was filled (bought or made under a regime's licence, or
    not, with stock carried between periods); a product's share is its licensed
    tonnes over all its tonnes, and a sector's share weighs its products by the
    value they built. Columns: sector, regime, licence_dependency_direct.
    """
    mixes = pool_mixes(solution, data, _licence_tags(data.supply), _licence_tags(data.plants))
    built = solution.products[["product", "sector", "period", "built", "value_per_unit"]]
    use = metrics.material_use(data.intensity, built)
    use = use[use["tonnes"] > 0]
    rows = []
    for record in use.itertuples():
        mix = mixes.get((record.material, record.period), {})
        for (content, tag), share in mix.items():
            if content == record.material and tag != UNLICENSED:
                rows.append(
                    (record.sector, record.product, record.period, tag, record.tonnes * share)
                )
    columns = ["sector", "regime", "licence_dependency_direct"]
    if use.empty:
        return pd.DataFrame(columns=columns)
    licensed = pd.DataFrame(rows, columns=["sector", "product", "period", "regime", "tonnes"])
    product_tonnes = use.groupby(["sector", "product", "period"])["tonnes"].sum()
    product_value = (
        (built["built"] * built["value_per_unit"])
        .groupby([built["sector"], built["product"], built["period"]])
        .sum()
    )
    shares = licensed.groupby(["sector", "product", "period", "regime"])["tonnes"].sum()
    frames = []
    for regime in sorted(set(licensed["regime"])):
        own = shares.xs(regime, level="regime").reindex(product_tonnes.index, fill_value=0.0)
        weighted = (
            (own / product_tonnes * product_value.reindex(product_tonnes.index))
            .groupby(level="sector")
            .sum()
        )
        total = product_value.reindex(product_tonnes.index).groupby(level="sector").sum()
        direct = (weighted / total).where(total > 0, 0.0).clip(0, 1)
        frames.append(
            pd.DataFrame(
                {
                    "sector": total.index,
                    "regime": regime,
                    "licence_dependency_direct": direct.to_numpy(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def origin_table(solution: Solution, data: AllocationData) -> pd.DataFrame:
    """Rows (sector, period, via material, material, country, tonnes) reaching each sector."""
    mixes = pool_mixes(solution, data)
    use = data.intensity.merge(solution.products[["product", "sector", "period", "built"]])
    use["tonnes"] = use["kg_per_unit"] / 1000 * use["built"]
    totals: dict[tuple[str, str, str, str, str], float] = defaultdict(float)
    for record in use[use["tonnes"] > 0].itertuples():
        for (content, country), share in mixes.get((record.material, record.period), {}).items():
            key = (record.sector, record.period, record.material, content, country)
            totals[key] += record.tonnes * share
    frame = pd.DataFrame(
        [(*k, v) for k, v in totals.items()],
        columns=["sector", "period", "via", "material", "country", "tonnes"],
    )
    return frame.sort_values(
        ["sector", "period", "via", "material", "tonnes"], ascending=[True, True, True, True, False]
    ).reset_index(drop=True)
