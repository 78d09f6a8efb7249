"""Why a product is short: the material that runs out and what limits that material.

For each product and period with lost units, every material it uses that is
scarce (one more tonne of it would save money or cut the penalty; the
shadow price where no re-solve was made) is a cause; for each such material,
the supplies, licences and plants at their limit are listed with the input
cell they come from, following plants upstream to the inputs that limit them.
Limits are ranked by the value of relieving them (USD of objective saved by
+1 pp of a licence or +1% of a capacity, re-solved), which is comparable
across materials, unlike a price per tonne. The limits of a material in a
period are worked out once and shared by every product that needs it; the
`MAX_LIMITS` most valuable are listed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from functools import cache

import pandas as pd

from models.allocation import Solution
from models.data import DEFAULT_LANE, AllocationData

TOLERANCE = 1e-6
MAX_DEPTH = 4
MAX_LIMITS = 5  # per product, period and material: the most valuable limits

COLUMNS = [
    "product",
    "sector",
    "period",
    "lost_units",
    "lost_value",
    "material",
    "value_of_1t",
    "limited_by",
    "relief",
    "value_of_relief",
    "input_cell",
]

Limit = tuple[str, str, float, str | None]  # (reading, relief, value of relief, input cell)


def _rank(limit: Limit) -> float:
    value = limit[2]
    return -value if not math.isnan(value) else math.inf


def _reading(record: dict) -> str:
    if record["constraint"] == "licence":
        what = "ship" if record["kind"] == "supply" else "make"
        return (
            f"licence: {record['regime']} lets {record['name']} {what} only "
            f"{record['limit_t']:,.1f} t of {record['material']}"
        )
    if record["kind"] == "supply":
        return (
            f"supply: {record['name']} capacity of {record['material']} "
            f"({record['limit_t']:,.1f} t)"
        )
    return f"plant: {record['name']} capacity ({record['limit_t']:,.1f} t)"


def why_short_table(
    solution: Solution,
    data: AllocationData,
    products: pd.DataFrame,
    materials: pd.DataFrame,
    relief: pd.DataFrame,
) -> pd.DataFrame:
    """One row per short product, period, scarce material and limit behind it."""
    limits_at: dict[tuple, list[Limit]] = defaultdict(list)
    for record in relief.to_dict("records"):
        limits_at[record["material"], record["period"]].append(
            (_reading(record), record["relief"], record["value_of_relief"], record["input_cell"])
        )
    plants_by_output: dict[tuple, list] = defaultdict(list)
    for record in solution.plants.itertuples():
        plants_by_output[record.output, record.period].append(record)
    inputs_of: dict[str, list[str]] = defaultdict(list)
    for plant, material in zip(data.recipes["plant"], data.recipes["input"], strict=True):
        inputs_of[plant].append(material)
    # Scarcity is a property of a pool (material, period, lane); the limits of a
    # material are shared by its lanes, the lane's own refusals are listed apart.
    pools = ["material", "period", "lane"]
    frame = materials.set_index(pools) if "lane" in materials else materials.set_index(pools[:2])
    values = _by_pool(frame["value_of_1t"].to_dict())
    penalties = _by_pool(frame["penalty_change_1t"].to_dict())
    balance_dual = _by_pool(solution.materials.set_index(pools)["balance_dual"].to_dict())
    refusals = _lane_refusals(data)

    def scarce(material: str, period: str, lane: str | None = None) -> bool:
        key = (material, period, lane)
        value = values.get(key, math.nan)
        if math.isnan(value):  # no re-solve was made: fall back on the shadow price
            return balance_dual.get(key, 0.0) > TOLERANCE
        return value > TOLERANCE or penalties.get(key, 0.0) > TOLERANCE

    @cache
    def limits(material: str, period: str, depth: int = 0) -> tuple[Limit, ...]:
        found = list(limits_at.get((material, period), []))
        if depth < MAX_DEPTH:
            for record in plants_by_output.get((material, period), []):
                if record.make <= 0:
                    continue
                for upstream in inputs_of.get(record.plant, []):
                    if scarce(upstream, period):
                        found.extend(
                            (f"{text} (input of {record.plant})", relief, value, cell)
                            for text, relief, value, cell in limits(upstream, period, depth + 1)
                        )
        found.sort(key=_rank)
        # The most valuable few of a union are among the most valuable few of its parts.
        return tuple(found[:MAX_LIMITS])

    uses = (
        data.intensity.groupby("product")["material"]
        .apply(lambda m: list(dict.fromkeys(m)))
        .to_dict()
    )
    rows = []
    short = products[products["lost_units"] > TOLERANCE * (1 + products["units"])]
    for record in short.itertuples():
        lane = str(getattr(record, "lane", DEFAULT_LANE))
        for material in uses.get(record.product, []):
            if not scarce(material, record.period, lane):
                continue
            own = tuple(refusals.get((material, record.period, lane), ()))
            found = (*own, *limits(material, record.period)) or (
                ("no further supply, plant or stock of it", "", math.nan, None),
            )
            for text, how_relieved, value, cell in found:
                rows.append(
                    (
                        record.product,
                        record.sector,
                        record.period,
                        record.lost_units,
                        record.lost_value,
                        material,
                        values.get((material, record.period, lane), math.nan),
                        text,
                        how_relieved,
                        value,
                        cell,
                    )
                )
    return pd.DataFrame(rows, columns=COLUMNS)


def _by_pool(values: dict) -> dict[tuple[str, str, str | None], float]:
    """Pool-keyed values, also under (material, period, None) for lane-less lookups."""
    keyed: dict[tuple[str, str, str | None], float] = {}
    for key, value in values.items():
        material, period = key[0], key[1]
        lane = key[2] if len(key) > 2 else None
        keyed[material, period, lane] = value
        current = keyed.get((material, period, None), -math.inf)
        keyed[material, period, None] = max(current, value) if not math.isnan(value) else value
    return keyed


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _lane_refusals(data: AllocationData) -> dict[tuple[str, str, str], list[Limit]]:
    """What keeps a lane from a source or plant: a refusal, a restriction or a delay.

    E.g. "defence/US gets no CN-MOFCOM NDFEB from CNX: Licences!D9" (design 5, Why short).
    """
    found: dict[tuple[str, str, str], list[Limit]] = defaultdict(list)
    for name_of_table, material_column, name_column in (
        ("supply", "material", "source"),
        ("plants", "output", "plant"),
    ):
        table = data.with_cells(name_of_table, ("restriction", "approval", "lead"))
        if table.empty:
            continue

        # Only rows with something to say: a restriction, a refusal or a delay.
        def has(column: str, frame: pd.DataFrame = table) -> pd.Series:
            if column not in frame:
                return pd.Series(False, index=frame.index)
            return frame[column].map(_is_text)

        approval = table["approval"] if "approval" in table else pd.Series(1.0, index=table.index)
        lead = table["lead"] if "lead" in table else pd.Series(0.0, index=table.index)
        telling = (
            has("restriction_cell")
            | (has("approval_cell") & (approval <= 0))
            | (has("lead_cell") & (lead.fillna(0) > 0))
        )
        for record in table[telling].to_dict("records"):
            key = (record[material_column], record["period"], record["lane"])
            name, lane, material = record[name_column], record["lane"], record[material_column]
            cells = {c: record.get(c) for c in ("restriction_cell", "approval_cell", "lead_cell")}
            cells = {c: v for c, v in cells.items() if isinstance(v, str)}
            if "restriction_cell" in cells:
                text = f"{lane} may not take {record.get('country')} {material} from {name}"
                found[key].append((text, "restriction", math.nan, record["restriction_cell"]))
            elif "approval_cell" in cells and record["approval"] <= 0:
                text = f"{lane} gets no {record.get('regime')} {material} from {name}"
                found[key].append((text, "licence refused", math.nan, record["approval_cell"]))
            if record.get("lead", 0) > 0 and "lead_cell" in cells:
                text = (
                    f"{lane}'s {record.get('regime')} {material} from {name} arrives "
                    f"{record['lead']:g} periods after dispatch"
                )
                found[key].append((text, "licensing delay", math.nan, record["lead_cell"]))
    return found
