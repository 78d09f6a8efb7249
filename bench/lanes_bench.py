"""Build and solve time of a 4-lane instance against its 1-lane base and the raw highspy floor.

Issue 12: pools, buys and makes exist only where a material can reach a lane, so four
lanes should cost about what their extra columns cost, no more. The 1-lane instance is
`generate.synthetic(n, seed)`; the 4-lane one gives every product one of four lanes
(civil/US, civil/ROW, defence/US, defence/ROW, round robin), repeats each supply and plant
row per lane with the capacity shared, and refuses defence every controlled row (approval
0), as the reference's CN-MOFCOM does. The raw floor is highspy reading the cost phase's
LP from an MPS file in a fresh process and solving it cold.

    .venv/bin/python bench/lanes_bench.py --columns 100000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import synthetic
from models.allocation import build_model
from models.data import AllocationData

LANES = ["civil/US", "civil/ROW", "defence/US", "defence/ROW"]
RAW_SOLVE = """
import sys, time, highspy
h = highspy.Highs(); h.silent(); h.readModel(sys.argv[1])
started = time.perf_counter(); h.run(); print(time.perf_counter() - started)
"""


def four_lanes(data: AllocationData) -> AllocationData:
    """`data` with every product in one of four lanes and supply and plants per lane."""
    products = sorted(set(data.demand["product"]))
    lane_of = {p: LANES[i % len(LANES)] for i, p in enumerate(products)}
    demand = data.demand.assign(lane=data.demand["product"].map(lane_of))

    def per_lane(table: pd.DataFrame) -> pd.DataFrame:
        frames = []
        for lane in LANES:
            copy = table.assign(lane=lane)
            if lane.startswith("defence"):
                controlled = copy["approval"] < 1
                copy.loc[controlled, "approval"] = 0.0
            frames.append(copy)
        return pd.concat(frames, ignore_index=True)

    changed = AllocationData(**vars(data))
    changed.demand = demand
    changed.supply = per_lane(data.supply)
    changed.plants = per_lane(data.plants)
    return AllocationData(**vars(changed))


def measure(data: AllocationData, folder: Path, name: str) -> dict[str, float]:
    started = time.perf_counter()
    model = build_model(data)
    built = time.perf_counter() - started
    solution = model.solve()
    assert solution.status.ok, solution.message
    mps = folder / f"{name}.mps"
    model.highs.writeModel(str(mps))
    raw = float(
        subprocess.run(
            [sys.executable, "-c", RAW_SOLVE, str(mps)], check=True, capture_output=True, text=True
        ).stdout.split()[-1]
    )
    return {
        "columns": model.highs.getNumCol(),
        "rows": model.highs.getNumRow(),
        "build_and_handoff_s": built,
        "solve_s": solution.solve_seconds,
        "raw_highspy_solve_s": raw,
        "lost_value": float(
            (
                (solution.products["units"] - solution.products["built"])
                * solution.products["value_per_unit"]
            ).sum()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=100_000, help="1-lane LP columns")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    base = synthetic(args.columns, seed=args.seed)
    build_model(synthetic(2_000, seed=args.seed)).solve()  # imports and first-call costs
    with tempfile.TemporaryDirectory() as folder:
        one = measure(base, Path(folder), "one")
        four = measure(four_lanes(base), Path(folder), "four")
    print("| instance | columns | rows | build + hand-off s | solve s | raw highspy s |")
    print("|---|---|---|---|---|---|")
    for name, r in (("1 lane", one), ("4 lanes", four)):
        print(
            f"| {name} | {r['columns']:,} | {r['rows']:,} | {r['build_and_handoff_s']:.2f} | "
            f"{r['solve_s']:.2f} | {r['raw_highspy_solve_s']:.2f} |"
        )
    print(
        f"4 lanes / 1 lane: columns {four['columns'] / one['columns']:.2f}x, build "
        f"{four['build_and_handoff_s'] / one['build_and_handoff_s']:.2f}x, solve "
        f"{four['solve_s'] / one['solve_s']:.2f}x; project solve / raw floor: 1 lane "
        f"{one['solve_s'] / one['raw_highspy_solve_s']:.2f}x, 4 lanes "
        f"{four['solve_s'] / four['raw_highspy_solve_s']:.2f}x"
    )


if __name__ == "__main__":
    main()
