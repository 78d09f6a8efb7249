"""Stress draws through every executor: this process, the local pool, Dask with 1 and 2 workers.

Issue 14: "Stress of 1,000 draws at 100k columns: 2 Dask workers at least 1.7x the
throughput of 1 on this machine; report 1, 2 and the local pool side by side with the Dask
overhead per scenario. No parallel default may be slower than `--jobs 1`."

Every variant solves the same seeded draws (licensed capacities from approval rates drawn
per (Licences row, period), as `exposure stress` does) on the same `ModelSpec`, through the
executors the CLI uses (`exposure.whatif.executors`). Each variant starts cold: no warm model
in this process, a fresh pool, a fresh `LocalCluster` (its start-up is timed apart, since an
operator points `--scheduler` at a cluster that is already up). Wall seconds therefore
include every worker building its warm model and its first (cold) solve.

*Overhead per draw* = (workers x wall - summed solve seconds inside the workers) / draws: the
worker-seconds per draw not spent in `solve_quick` (building the model, shipping the tables
and the results, scheduling, idling). The rounds interleave the variants (each round runs
every variant once, in a rotated order), so load from other jobs on the machine falls on all
of them alike; the load average is printed beside every figure.

The second part (skipped with --no-sweep) checks the default `--jobs` against `--jobs 1` on
a 41-step sweep and on --default-draws stress draws, through `solve_tasks` as the CLI runs
them, with the pool forced beside them to show what the rule avoids.

    .venv/bin/python bench/stress_bench.py --sizes 100000 10000 --draws 1000
    .venv/bin/python bench/stress_bench.py --sizes 100000 --draws 100 --no-sweep
    .venv/bin/python bench/stress_bench.py --sweep-only --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import REGIMES, synthetic
from exposure.scenarios import LimitMap
from exposure.whatif import executors
from exposure.whatif.executors import (
    DaskExecutor,
    ModelSpec,
    ProcessExecutor,
    SerialExecutor,
    Task,
    WarmModel,
    solve_tasks,
)
from models.allocation import QuickSolution

SEED = 20260101
DEFAULT_JOBS = os.cpu_count() or 1  # what the CLI's --jobs defaults to


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def stress_tasks(data: Any, draws: int, seed: int) -> list[Task]:
    """Licensed capacities of `draws` seeded draws: a triangular rate per (Licences row, period)."""
    licences = LimitMap.of(data)
    keys = sorted({k for k in licences.supply_key + licences.plant_key if k})
    approval = {}
    for key, rate in zip(licences.supply_key, licences.supply_approval, strict=True):
        if key:
            approval[key] = float(rate)
    for key, rate in zip(licences.plant_key, licences.plant_approval, strict=True):
        if key:
            approval[key] = float(rate)
    rng = np.random.default_rng(seed)
    tasks: list[Task] = []
    for _ in range(draws):
        rates = {k: float(rng.triangular(0.0, approval[k], 1.0)) for k in keys}
        tasks.append(licences.limits_for_rates(rates))
    return tasks


def sweep_tasks(data: Any, steps: int) -> list[Task]:
    """One regime's licences (the first one) swept over [0, 1] in `steps` values."""
    licences = LimitMap.of(data)
    regime = next(iter(REGIMES))
    rows = {int(r) for r in data.supply.loc[data.supply["regime"] == regime, "licence_row"]}
    return [licences.limits_for_rows(rows, float(v)) for v in np.linspace(0, 1, steps)]


def fresh() -> None:
    """No warm model left in this process from an earlier variant."""
    executors._LOCAL.models = {}


def cpu_seconds() -> float:
    """CPU seconds of this process and of its reaped children (a pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def worker_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(
    make: Callable[[], Any], spec: ModelSpec, tasks: list[Task], client: Any = None
) -> dict[str, Any]:
    """One variant; `cpu` = CPU seconds it used: this process and the pool's workers
    (which includes their start), or the Dask workers' during the map."""
    fresh()
    executor = make()
    before = client.run(worker_cpu) if client is not None else {}
    cpu_started = cpu_seconds()
    started = time.perf_counter()
    solutions, interrupted = executor.map(spec, tasks)
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_started  # the pool has shut down: its workers are reaped
    if client is not None:
        after = client.run(worker_cpu)
        cpu += sum(after[w] - before[w] for w in after)
    assert not interrupted and len(solutions) == len(tasks)
    return {"wall": wall, "solutions": solutions, "load": load(), "cpu": cpu}


def local_cluster(workers: int) -> Any:
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )


def dask_variant(workers: int, spec: ModelSpec, tasks: list[Task]) -> dict[str, Any]:
    from distributed import Client

    started = time.perf_counter()
    with local_cluster(workers) as cluster, Client(cluster) as client:
        up = time.perf_counter() - started
        result = run(lambda: DaskExecutor(client=client), spec, tasks, client)
    result["cluster_start"] = up
    return result


def summary(name: str, workers: int, result: dict[str, Any], base_wall: float | None) -> dict:
    solutions: list[QuickSolution] = result["solutions"]
    draws = len(solutions)
    solve = sum(s.solve_seconds for s in solutions)
    return {
        "variant": name,
        "workers": workers,
        "draws": draws,
        "wall": result["wall"],
        "per_s": draws / result["wall"],
        "ratio": (base_wall / result["wall"]) if base_wall else None,
        "solve_mean": solve / draws,
        "overhead": (workers * result["wall"] - solve) / draws,
        "cpu": result["cpu"] / draws,
        "cores": result["cpu"] / result["wall"],
        "load": result["load"],
        "cluster_start": result.get("cluster_start"),
    }


def identical(reference: list[QuickSolution], other: list[QuickSolution]) -> float:
    """Largest relative difference of the objective values of the same draws."""
    return max(
        abs(a.objective_value - b.objective_value) / max(abs(a.objective_value), 1e-300)
        for a, b in zip(reference, other, strict=True)
    )


def drift(reference: list[QuickSolution], other: list[QuickSolution]) -> float:
    """Largest difference in built units [t] between the same draws: a warm start from
    another previous draw reaches the same optimum by another path, so round-off differs."""
    return max(
        float(np.max(np.abs(a.built - b.built), initial=0.0))
        for a, b in zip(reference, other, strict=True)
    )


VARIANTS: dict[str, tuple[int, Callable[[ModelSpec, list[Task]], dict[str, Any]]]] = {
    "serial (--jobs 1)": (1, lambda spec, tasks: run(SerialExecutor, spec, tasks)),
    "local pool, 2 processes (--jobs 2)": (
        2,
        lambda spec, tasks: run(lambda: ProcessExecutor(2), spec, tasks),
    ),
    "Dask LocalCluster, 1 worker x 1 thread": (1, lambda s, t: dask_variant(1, s, t)),
    "Dask LocalCluster, 2 workers x 1 thread": (2, lambda s, t: dask_variant(2, s, t)),
}
ONE_DASK_WORKER = "Dask LocalCluster, 1 worker x 1 thread"


def stress(size: int, draws: int, rounds: int, only: list[str] | None) -> list[dict]:
    data = synthetic(size, seed=SEED)
    spec = ModelSpec.of(data, "priority")
    tasks = stress_tasks(data, draws, SEED)
    names = [n for n in VARIANTS if not only or any(o in n for o in only)]
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            _, variant = VARIANTS[name]
            print(f"  {size:,} columns, round {r + 1}: {name} ...", flush=True)
            result = variant(spec, tasks)
            row = summary(name, VARIANTS[name][0], result, None)
            print(
                f"    {row['wall']:.1f} s, solve {row['solve_mean']:.3f} s/draw, overhead "
                f"{row['overhead']:.3f} s/draw, CPU {row['cpu']:.3f} s/draw "
                f"({row['cores']:.2f} cores), load {row['load']}",
                flush=True,
            )
            results[name].append(result)
    reference = results[names[0]][0]["solutions"]
    rows = []
    for name in names:
        same = max(identical(reference, res["solutions"]) for res in results[name])
        most = max(drift(reference, res["solutions"]) for res in results[name])
        for r, res in enumerate(results[name]):
            base = results.get(ONE_DASK_WORKER, results[names[0]])[r]["wall"]
            row = summary(name, VARIANTS[name][0], res, base)
            row.update(size=size, round=r + 1, identical=same, drift=most)
            rows.append(row)
    return rows


def defaults(size: int, steps: int, draws: int, rounds: int) -> list[dict]:
    """A sweep of `steps` values and `draws` stress draws: the default against `--jobs 1`.

    Each variant gets a model built here first and not timed (the CLI's engine builds it
    whichever executor runs the scenarios), then `solve_tasks` as the CLI calls it: the
    default (`--jobs` = the cores, the pool only where `pool_pays`), `--jobs 1`, and the
    pool forced (what `--jobs 2` did before the rule).
    """
    data = synthetic(size, seed=SEED)
    spec = ModelSpec.of(data, "priority")
    work = {
        f"sweep {steps}": sweep_tasks(data, steps),
        f"stress {draws}": stress_tasks(data, draws, SEED),
    }
    always = executors.pool_pays
    variants: dict[str, tuple[int, Callable[..., bool]]] = {
        f"default (--jobs {DEFAULT_JOBS})": (DEFAULT_JOBS, always),
        "--jobs 1": (1, always),
        "--jobs 2, pool forced": (2, lambda *_: True),
    }
    rows = []
    for label, tasks in work.items():
        for r in range(rounds):
            names = list(variants)
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                jobs, rule = variants[name]
                fresh()
                warm = WarmModel(spec)
                executors.pool_pays = rule
                try:
                    started = time.perf_counter()
                    solutions, _, where = solve_tasks(warm, tasks, jobs)
                    wall = time.perf_counter() - started
                finally:
                    executors.pool_pays = always
                print(f"  {size:,} {label}: {name}: {wall:.1f} s on {where} ({load()})", flush=True)
                rows.append(
                    {
                        "size": size,
                        "work": label,
                        "variant": name,
                        "where": where,
                        "wall": wall,
                        "load": load(),
                        "objectives": [s.objective_value for s in solutions],
                    }
                )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| columns | executor | round | draws | wall s | draws/s | vs 1 Dask worker "
        "| solve s/draw | overhead s/draw | CPU s/draw | cores used | objectives: max rel. diff "
        "| max built diff t | load 1/5 min |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] else ""
        lines.append(
            f"| {row['size']:,} | {row['variant']} | {row['round']} | {row['draws']} "
            f"| {row['wall']:.1f} | {row['per_s']:.2f} | {ratio} | {row['solve_mean']:.3f} "
            f"| {row['overhead']:.3f} | {row['cpu']:.3f} | {row['cores']:.2f} "
            f"| {row['identical']:.1e} "
            f"| {row['drift']:.1e} | {row['load']} |"
        )
    starts = [f"{r['cluster_start']:.1f}" for r in rows if r.get("cluster_start") is not None]
    if starts:
        lines.append("")
        lines.append(f"LocalCluster start-up (not in the wall times): {', '.join(starts)} s.")
    return "\n".join(lines)


def defaults_table(rows: list[dict]) -> str:
    lines = [
        "| columns | work | executor | ran on | wall s | objectives: rel. diff | load 1/5 min |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        reference = next(r for r in rows if r["size"] == row["size"] and r["work"] == row["work"])[
            "objectives"
        ]
        same = max(
            abs(a - b) / max(abs(a), 1e-300)
            for a, b in zip(reference, row["objectives"], strict=True)
        )
        lines.append(
            f"| {row['size']:,} | {row['work']} | {row['variant']} | {row['where']} "
            f"| {row['wall']:.1f} | {same:.1e} | {row['load']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 10_000])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="variants whose name contains one of these")
    parser.add_argument("--sweep-steps", type=int, default=41)
    parser.add_argument("--sweep-rounds", type=int, default=1)
    parser.add_argument("--default-draws", type=int, default=100, help="stress draws, defaults")
    parser.add_argument("--sweep-only", action="store_true")
    parser.add_argument("--no-sweep", action="store_true")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"cores: {os.cpu_count()}, load {load()}", flush=True)
    if not args.sweep_only:
        rows = []
        for size in args.sizes:
            rows += stress(size, args.draws, args.rounds, args.only)
        print(table(rows))
    if not args.no_sweep:
        rows = []
        for size in args.sizes:
            rows += defaults(size, args.sweep_steps, args.default_draws, args.sweep_rounds)
        print(defaults_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
