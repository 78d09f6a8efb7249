"""Read-and-check time of a big input workbook: calamine (now) against openpyxl (before).

    .venv/bin/python bench/read_bench.py                 # 100k and 300k LP columns
    .venv/bin/python bench/read_bench.py --sizes 10000   # quick

For each size, `synthetic()` is written out as the input sheets a planner would
fill in (Periods, Materials, Regimes, Licences, Sources, Supply, Plants, Recipes,
Sectors, Demand, Intensity), then `check_workbook` reads and checks it once with
each engine, in the same run, and both must report the same issues. Issue 14.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import REGIMES, SECTORS, lp_columns, synthetic
from exposure.workbook.checks import run_checks
from exposure.workbook.reader import read_workbook
from models.data import AllocationData

SEED = 20260101


def _none(value: Any) -> Any:
    return None if pd.isna(value) else value


def input_sheets(data: AllocationData) -> dict[str, list[list[Any]]]:
    """The generated instance as input sheets (header row first), as `exposure` reads them."""
    supply, plants = data.supply, data.plants
    licences = supply.dropna(subset=["regime"]).drop_duplicates(["regime", "material"])
    sources = supply.drop_duplicates("source")
    first_plants = plants.drop_duplicates("plant")
    demand = data.demand
    sectors = demand.drop_duplicates("sector")
    return {
        "Periods": [["period"], *([p] for p in data.periods)],
        "Materials": [
            ["material", "initial_stock", "min_stock", "holding_cost"],
            *data.materials[["material", "initial_stock", "min_stock", "holding_cost"]]
            .astype(object)
            .values.tolist(),
        ],
        "Regimes": [["regime"], *([r] for r in REGIMES)],
        "Licences": [
            ["regime", "material", "approval_rate"],
            *([r, m, a] for r, m, a in licences[["regime", "material", "approval"]].values),
        ],
        "Sources": [
            ["source", "country", "regime"],
            *([s, c, _none(r)] for s, c, r in sources[["source", "country", "regime"]].values),
        ],
        "Supply": [
            ["source", "material", "period", "capacity", "unit_cost"],
            *supply[["source", "material", "period", "capacity", "unit_cost"]]
            .astype(object)
            .values.tolist(),
        ],
        "Plants": [
            ["plant", "country", "output", "capacity", "regime", "unit_cost"],
            *(
                [p, c, o, k, _none(r), u]
                for p, c, o, k, r, u in first_plants[
                    ["plant", "country", "output", "capacity", "regime", "unit_cost"]
                ].values
            ),
        ],
        "Recipes": [
            ["plant", "input", "t_per_t"],
            *([str(p), i, t] for p, i, t in data.recipes[["plant", "input", "t_per_t"]].values),
        ],
        "Sectors": [
            ["sector", "min_service", "weight"],
            *([s, *SECTORS[s]] for s in sectors["sector"]),
        ],
        "Demand": [
            ["sector", "product", "period", "units", "value_per_unit"],
            *demand[["sector", "product", "period", "units", "value_per_unit"]]
            .astype(object)
            .values.tolist(),
        ],
        "Intensity": [
            ["product", "material", "kg_per_unit"],
            *data.intensity[["product", "material", "kg_per_unit"]].astype(object).values.tolist(),
        ],
    }


def write_input_workbook(data: AllocationData, path: Path) -> Path:
    book = Workbook(write_only=True)
    for name, rows in input_sheets(data).items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([float(v) if hasattr(v, "dtype") else v for v in row])
    book.save(path)
    return path


def read_and_check(path: Path, engine: str) -> tuple[float, list[str]]:
    start = time.perf_counter()
    book = read_workbook(path, engine=engine)  # type: ignore[arg-type]
    run_checks(book)
    seconds = time.perf_counter() - start
    return seconds, [str(i) for i in book.log.issues]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    args = parser.parse_args(argv)
    print("| LP columns | input rows | file MB | openpyxl s | calamine s | ratio |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            data = synthetic(size, seed=SEED)
            path = write_input_workbook(data, Path(folder) / f"input-{size}.xlsx")
            rows = sum(len(r) - 1 for r in input_sheets(data).values())
            before, before_issues = read_and_check(path, "openpyxl")
            after, after_issues = read_and_check(path, "calamine")
            if before_issues != after_issues:
                print(f"engines disagree at {size}:", before_issues[:5], after_issues[:5])
                return 1
            print(
                f"| {lp_columns(data):,} | {rows:,} | {path.stat().st_size / 1024**2:.1f} "
                f"| {before:.2f} | {after:.2f} | {before / after:.1f}x |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
