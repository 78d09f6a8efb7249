"""Origin mix: tonnes of each material reaching each sector, by country of origin.

Material is traced through plants in proportion to their inputs, so a
Japanese magnet made with Chinese Dy shows JP for the magnet and CN for the
Dy in it. Each material's pool in a period mixes opening stock (with the
previous pool's mix), purchases (country of the source) and plant output
(country of the plant); every tonne drawn from a pool carries the pool's mix.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pandas as pd

from exposure import metrics
from models.allocation import Solution
from models.data import DEFAULT_LANE, ROW_KEYS, STANDARD, AllocationData, join_inputs

INITIAL_STOCK = "initial stock"
Mix = dict[tuple[str, str], float]  # (material, country) -> t per t of the pool


def _material_order(data: AllocationData) -> list[str]:
    """Materials with every plant input before the plant's output (recipes form a DAG)."""
    outputs = dict(zip(data.plants["plant"].tolist(), data.plants["output"].tolist(), strict=True))
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


def _countries(frame: pd.DataFrame, id_column: str) -> pd.Series:
    """Country of each row (indexed like `frame`); a row without one falls back to the
    source or plant id."""
    return pd.Series(
        [
            c if isinstance(c, str) else i
            for c, i in zip(frame["country"].tolist(), frame[id_column].tolist(), strict=True)
        ],
        index=frame.index,
        dtype=object,
    )


def tags_of_rows(
    rows: pd.DataFrame, data: AllocationData, table: str, tags: pd.Series
) -> list[str]:
    """The tag of each of `rows` (solution rows of `table`), joined from its input row by key.

    `tags` holds one tag per row of the input table `table` (`supply` or `plants`), indexed
    like it. A tag series indexed otherwise, or a solution row without exactly one input row
    (`models.data.ROW_KEYS`), raises ValueError: tags never pair with rows by position.
    """
    inputs: pd.DataFrame = getattr(data, table)
    if not isinstance(tags, pd.Series):
        raise ValueError(f"{table} origin tags must be a Series indexed like the {table} rows")
    if (
        len(tags) != len(inputs)
        or not tags.index.is_unique
        or not tags.index.isin(inputs.index).all()
    ):
        raise ValueError(f"{table} origin tags are not indexed like the {table} rows")
    keys = ROW_KEYS[table]
    keyed = inputs[list(keys)].assign(origin=tags.reindex(inputs.index))
    return join_inputs(rows[list(keys)], keyed, keys, ["origin"])["origin"].tolist()


def _arrivals(period: str, lead: float, periods: list[str]) -> list[tuple[str, float]]:
    """(arrival period, share) of a dispatch in `period` with `lead` (design 3a)."""
    whole = math.floor(lead)
    fraction = lead - whole
    start = periods.index(period) + whole
    shares = ((start, 1.0 - fraction), (start + 1, fraction))
    return [(periods[i], share) for i, share in shares if share > 0 and i < len(periods)]


def product_use(solution: Solution, data: AllocationData) -> pd.DataFrame:
    """Tonnes of each material used per product row, over the bills of its variants.

    Columns: product, period, (market,) lane, material, tonnes, sector, value_per_unit.
    """
    products = solution.products
    keys = ["product", "period", *(c for c in ("market",) if c in products)]
    if solution.variants is not None:
        by_variant = solution.variants
    else:
        by_variant = products.assign(variant=STANDARD)
    lane = ["lane"] if "lane" in by_variant else []
    intensity = data.intensity[["product", "material", "variant", "kg_per_unit"]]
    rows = by_variant[[*keys, *lane, "variant", "built"]]
    if rows.empty or intensity.empty:  # nothing built or no bill: merge keys may be untyped
        rows, intensity = rows.astype({"variant": object}), intensity.astype({"variant": object})
    use = rows.merge(intensity, on=["product", "variant"])
    use["tonnes"] = use["kg_per_unit"] / 1000.0 * use["built"]
    if not lane:
        use["lane"] = DEFAULT_LANE
    grouped = use.groupby([*keys, "lane", "material"], as_index=False)["tonnes"].sum()
    context = products[[*keys, "sector", "value_per_unit"]].drop_duplicates(keys)
    return grouped.merge(context, on=keys, how="left")


def pool_mixes(
    solution: Solution,
    data: AllocationData,
    supply_origins: pd.Series | None = None,
    plant_origins: pd.Series | None = None,
) -> dict[tuple[str, str, str], Mix]:
    """For each pool (material, period, lane): t of (material, origin) per t of the pool.

    Exact between lanes: material never changes lane. The origin of a supply or plant
    row is its country unless `supply_origins` and `plant_origins` give another tag per
    row (e.g. the regime that licensed it): Series indexed like `data.supply` and
    `data.plants`, joined to the solution's rows by key (`tags_of_rows`). Dispatches
    count where they arrive (leads).
    """
    order = _material_order(data)
    periods = list(data.periods)
    if supply_origins is None:
        supply_origins = _countries(data.supply, "source")
    if plant_origins is None:
        plant_origins = _countries(data.plants, "plant")
    bought: dict[tuple[str, str, str], Mix] = defaultdict(lambda: defaultdict(float))
    supply = solution.supply
    for m, t, lane, lead, tonnes, origin in zip(
        supply["material"].tolist(),
        supply["period"].tolist(),
        supply["lane"].tolist(),
        supply["lead"].tolist(),
        supply["buy"].tolist(),
        tags_of_rows(supply, data, "supply", supply_origins),
        strict=True,
    ):
        if tonnes > 0:
            for arrival, share in _arrivals(t, lead, periods):
                bought[m, arrival, lane][m, origin] += tonnes * share
    made: dict[tuple[str, str, str], list[tuple[str, str, float, str]]] = defaultdict(list)
    plants = solution.plants
    for plant, m, t, lane, lead, tonnes, origin in zip(
        plants["plant"].tolist(),
        plants["output"].tolist(),
        plants["period"].tolist(),
        plants["lane"].tolist(),
        plants["lead"].tolist(),
        plants["make"].tolist(),
        tags_of_rows(plants, data, "plants", plant_origins),
        strict=True,
    ):
        if tonnes > 0:
            for arrival, share in _arrivals(t, lead, periods):
                made[m, arrival, lane].append((plant, t, tonnes * share, origin))
    recipes: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for plant, material, t_per_t in zip(
        data.recipes["plant"], data.recipes["input"], data.recipes["t_per_t"], strict=True
    ):
        recipes[plant].append((material, float(t_per_t)))
    materials = solution.materials
    stocks = materials.set_index(["material", "period", "lane"])["stock"].to_dict()
    openings = materials.set_index(["material", "period", "lane"])["opening_stock"].to_dict()
    lanes_of: dict[str, list[str]] = defaultdict(list)
    for m, lane in dict.fromkeys(
        zip(materials["material"].tolist(), materials["lane"].tolist(), strict=True)
    ):
        lanes_of[m].append(lane)

    mixes: dict[tuple[str, str, str], Mix] = {}
    for position, period in enumerate(periods):
        for material in order:
            for lane in lanes_of[material]:
                amounts: Mix = defaultdict(float)
                if position == 0:
                    opening = float(openings.get((material, period, lane), 0.0))
                    opening_mix: Mix = {(material, INITIAL_STOCK): 1.0}
                else:
                    before = (material, periods[position - 1], lane)
                    opening, opening_mix = float(stocks.get(before, 0.0)), mixes[before]
                for key, share in opening_mix.items():
                    amounts[key] += opening * share
                total = opening
                for key, tonnes in bought.get((material, period, lane), {}).items():
                    amounts[key] += tonnes
                    total += tonnes
                for plant, dispatched, tonnes, origin in made.get((material, period, lane), []):
                    amounts[material, origin] += tonnes
                    total += tonnes
                    for upstream, t_per_t in recipes.get(plant, ()):
                        content = tonnes * t_per_t
                        for key, share in mixes.get((upstream, dispatched, lane), {}).items():
                            amounts[key] += content * share
                mixes[material, period, lane] = {
                    k: v / total for k, v in amounts.items() if total > 0 and v > 0
                }
    return mixes


def _with_mix(
    use: pd.DataFrame, mixes: dict[tuple[str, str, str], Mix], licensed_only: bool = False
) -> pd.DataFrame:
    """`use` rows joined to their pool's mix: one row per (use row, content, origin), with
    that content's `share` of a tonne drawn from the pool (material, period, lane).

    `licensed_only` keeps only a pool's own material under a regime's licence (what direct
    dependency counts), before the join: the join is then no bigger than `use`."""
    pools = pd.DataFrame(
        [
            (material, period, lane, content, origin, share)
            for (material, period, lane), mix in mixes.items()
            for (content, origin), share in mix.items()
        ],
        columns=["material", "period", "lane", "content", "origin", "share"],
    )
    keys = ["material", "period", "lane"]
    if licensed_only:
        pools = pools[(pools["content"] == pools["material"]) & (pools["origin"] != UNLICENSED)]
    if use.empty or pools.empty:
        return use.iloc[:0].assign(content=None, origin=None, share=0.0)
    return use.merge(pools.astype({k: use[k].dtype for k in keys}), on=keys, how="inner")


UNLICENSED = "unlicensed"


def _licence_tags(frame: pd.DataFrame) -> pd.Series:
    """The regime whose Licences row a supply or plant row ships under, else UNLICENSED
    (indexed like `frame`)."""
    return pd.Series(
        [
            str(regime) if isinstance(regime, str) and not pd.isna(row) else UNLICENSED
            for regime, row in zip(
                frame["regime"].tolist(), frame["licence_row"].tolist(), strict=True
            )
        ],
        index=frame.index,
        dtype=object,
    )


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
    use = product_use(solution, data)
    use = use[use["tonnes"] > 0]
    # Each use row times its pool's shares of its own material under a regime's licence.
    shared = _with_mix(use, mixes, licensed_only=True)
    licensed = pd.DataFrame(
        {
            "sector": shared["sector"].to_numpy(),
            "product": shared["product"].to_numpy(),
            "period": shared["period"].to_numpy(),
            "regime": shared["origin"].to_numpy(),
            "tonnes": (shared["tonnes"] * shared["share"]).to_numpy(),
        }
    )
    columns = ["sector", "regime", "licence_dependency_direct"]
    if use.empty:
        return pd.DataFrame(columns=columns)
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
    """Rows (lane, sector, period, via material, material, country, tonnes) reaching sectors.

    Exact between lanes; within a lane's pool, in proportion (design 6).
    """
    mixes = pool_mixes(solution, data)
    use = product_use(solution, data)
    # Products of a sector draw from the same pools: add their tonnes up before the join,
    # which then has a row per (sector, pool, origin), not per (product, pool, origin).
    use = (
        use[use["tonnes"] > 0]
        .groupby(["lane", "sector", "period", "material"], sort=False, dropna=False)["tonnes"]
        .sum()
        .reset_index()
    )
    joined = _with_mix(use, mixes)
    columns = ["lane", "sector", "period", "via", "material", "country", "tonnes"]
    frame = (
        pd.DataFrame(
            {
                "lane": joined["lane"].to_numpy(),
                "sector": joined["sector"].to_numpy(),
                "period": joined["period"].to_numpy(),
                "via": joined["material"].to_numpy(),
                "material": joined["content"].to_numpy(),
                "country": joined["origin"].to_numpy(),
                "tonnes": (joined["tonnes"] * joined["share"]).to_numpy(),
            }
        )
        .groupby(columns[:-1], sort=False, as_index=False, dropna=False)["tonnes"]
        .sum()
    )
    frame = frame[columns]
    return frame.sort_values(
        ["lane", "sector", "period", "via", "material", "tonnes"],
        ascending=[True, True, True, True, True, False],
    ).reset_index(drop=True)


def concentration_table(origins: pd.DataFrame) -> pd.DataFrame:
    """Herfindahl-Hirschman index (0-10,000) of each material's origins, per lane and period.

    Counts the tonnes of each material reaching the lane's products, wherever they were
    made into something else (the `material` column of `origin_table`).
    """
    columns = ["lane", "period", "material", "tonnes", "hhi", "top_origin", "top_share"]
    if origins.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    by = origins.groupby(["lane", "period", "material", "country"])["tonnes"].sum()
    for (lane, period, material), group in by.groupby(level=[0, 1, 2]):
        tonnes = group.droplevel([0, 1, 2])
        total = float(tonnes.sum())
        top = tonnes.idxmax()
        rows.append(
            (
                lane,
                period,
                material,
                total,
                metrics.herfindahl(tonnes),
                top,
                float(tonnes.max()) / total if total > 0 else float("nan"),
            )
        )
    return pd.DataFrame(rows, columns=columns)
