"""Read-and-check time of a big input workbook: calamine (now) against openpyxl (before).

    .venv/bin/python bench/read_bench.py                 # 100k and 300k LP columns
    .venv/bin/python bench/read_bench.py --sizes 10000   # quick

For each size, `synthetic()` is written out as the input sheets a planner would
fill in (Periods, Materials, Regimes, Licences, Sources, Supply, Plants, Recipes,
Sectors, Demand, Intensity), then read and checked, in the same run:

- before: the openpyxl reader and the checks as they were before issue 14
  (exposure/workbook/checks.py of commit BEFORE, taken with `git show`);
- openpyxl: the openpyxl reader with today's vectorised checks;
- calamine: today's path.

All three must report the same issues. Issue 14.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import REGIMES, SECTORS, lp_columns, synthetic
from exposure.workbook.checks import run_checks
from exposure.workbook.reader import read_workbook
from models.data import AllocationData

SEED = 20260101
BEFORE = "a660967"  # the last commit before issue 14's reader and checks
ROOT = Path(__file__).resolve().parent.parent


def checks_before() -> ModuleType | None:
    """exposure/workbook/checks.py as it was at BEFORE (iterrows), or None without git."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE}:exposure/workbook/checks.py"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = ModuleType("checks_before")
    exec(compile(source, "checks_before.py", "exec"), module.__dict__)
    return module


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


def read_and_check(path: Path, engine: str, checks: Any = None) -> tuple[float, list[str]]:
    start = time.perf_counter()
    book = read_workbook(path, engine=engine)  # type: ignore[arg-type]
    (checks.run_checks if checks is not None else run_checks)(book)
    seconds = time.perf_counter() - start
    return seconds, [str(i) for i in book.log.issues]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    args = parser.parse_args(argv)
    old_checks = checks_before()
    print(
        "| LP columns | input rows | file MB | before s | openpyxl s | calamine s "
        "| before / calamine | openpyxl / calamine |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            data = synthetic(size, seed=SEED)
            path = write_input_workbook(data, Path(folder) / f"input-{size}.xlsx")
            rows = sum(len(r) - 1 for r in input_sheets(data).values())
            before, before_issues = math.nan, None
            if old_checks is not None:
                before, before_issues = read_and_check(path, "openpyxl", old_checks)
            reference, reference_issues = read_and_check(path, "openpyxl")
            after, after_issues = read_and_check(path, "calamine")
            if after_issues != reference_issues or before_issues not in (None, after_issues):
                print(f"the paths disagree at {size}:", reference_issues[:5], after_issues[:5])
                return 1
            print(
                f"| {lp_columns(data):,} | {rows:,} | {path.stat().st_size / 1024**2:.1f} "
                f"| {before:.2f} | {reference:.2f} | {after:.2f} | {before / after:.1f}x "
                f"| {reference / after:.1f}x |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
