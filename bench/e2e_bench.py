"""`exposure run` end to end against the raw highspy floor (issue 14).

    .venv/bin/python bench/e2e_bench.py                         # 100k and 300k LP columns
    .venv/bin/python bench/e2e_bench.py --sizes 10000 --json    # quick
    .venv/bin/python bench/e2e_bench.py --analytics             # compute_exposure / solve

For each size, `generate.synthetic(n, seed)` is written out as the input workbook a
planner fills in (`read_bench.write_input_workbook`). Then, one after another in the
same run:

- *project*: `exposure run IN.xlsx -o OUT.xlsx -v` in a fresh process: wall time and
  CPU seconds and peak RSS (GNU `time -f '%U %S %M'`), the stage timers it logs, and its
  Run and Licences sheets read back (Licences rows with a break-even rate answered,
  against those marked skipped or failed);
- *raw*: the same workbook read and built here, the cost phase's LP written as MPS, and
  highspy reading that MPS and solving it cold in a fresh process (as
  `lanes_bench.py`): the wall of that whole process, its solve alone, and its peak RSS.

Ratios are project / raw from the same run; the machine is shared, so compare those.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import lp_columns, synthetic
from bench.lanes_bench import RAW_SOLVE
from bench.read_bench import write_input_workbook
from exposure.tables import to_model_data
from exposure.workbook.checks import run_checks
from exposure.workbook.reader import read_workbook
from models.allocation import build_model

SEED = 20260101
# `exposure` as its console script runs it, from whatever tree is first on sys.path
# (PYTHONPATH=/a/copy measures that copy's code with this venv).
EXPOSURE = [sys.executable, "-c", "import sys; from exposure.cli import main; sys.exit(main())"]
STAGE = re.compile(r"stage (.+?): ([0-9.]+) s")


def timed_child(command: list[str]) -> tuple[float, float, float, str, str]:
    """(wall s, CPU s (user + system), peak RSS MiB, stdout, stderr) of one child process.

    The peak RSS is GNU time's `%M` for the command: a child's own rusage would also count
    the pages of this (large) process, which Linux carries over a fork and exec.
    """
    with tempfile.NamedTemporaryFile(suffix=".txt") as measured:
        started = time.perf_counter()
        child = subprocess.run(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", measured.name, *command],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        user, system, rss_kib = map(float, Path(measured.name).read_text().split()[-3:])
    if child.returncode != 0:
        raise RuntimeError(f"{command[0]} exited {child.returncode}: {child.stderr[-2000:]}")
    return wall, user + system, rss_kib / 1024, child.stdout, child.stderr


def sheet_table(path: Path, sheet: str, first_column: str) -> pd.DataFrame:
    """A results sheet's table: the header is the row whose first cell is `first_column`."""
    frame = pd.read_excel(path, sheet_name=sheet, header=None, engine="calamine")
    header = frame.index[frame.iloc[:, 0] == first_column][0]
    table = frame.iloc[header + 1 :].copy()
    table.columns = frame.iloc[header].tolist()
    return table.reset_index(drop=True)


def project_run(workbook: Path, output: Path) -> dict[str, Any]:
    wall, cpu, rss, _, stderr = timed_child(
        [*EXPOSURE, "run", str(workbook), "-o", str(output), "--overwrite", "-v"]
    )
    stages = {name: float(seconds) for name, seconds in STAGE.findall(stderr)}
    run = sheet_table(output, "Run", "field").set_index("field")["value"]
    licences = sheet_table(output, "Licences", "regime")
    criterion = licences["criterion"].astype(str)
    unanswered = criterion.str.startswith(("skipped", "re-solve failed", "not computed"))
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_mib": rss,
        "stages": stages,
        "run": {k: run.get(k) for k in ("read_seconds", "solve_seconds", "analytics_seconds")},
        "resolves": run.get("resolves"),
        "licence_rows": len(licences),
        "licence_rows_answered": int((~unanswered).sum()),
    }


def raw_floor(workbook: Path, folder: Path) -> dict[str, Any]:
    book = read_workbook(workbook)
    run_checks(book)
    model = build_model(to_model_data(book))
    mps = folder / "cost-phase.mps"
    model.highs.writeModel(str(mps))
    columns = model.highs.getNumCol()
    del model, book
    wall, cpu, rss, stdout, _ = timed_child([sys.executable, "-c", RAW_SOLVE, str(mps)])
    solve = float(stdout.split()[-1])
    return {"wall_s": wall, "cpu_s": cpu, "solve_s": solve, "rss_mib": rss, "columns": columns}


def analytics_ratio(size: int) -> dict[str, float]:
    """`compute_exposure` without re-solves (origins, why short, binding, dependency traced)
    against the project's own solve of the same instance, in this process."""
    from exposure.analytics import compute_exposure

    data = synthetic(size, seed=SEED)
    model = build_model(data)
    started = time.perf_counter()
    solution = model.solve()
    solve = time.perf_counter() - started
    started = time.perf_counter()
    compute_exposure(solution, data, None)
    analytics = time.perf_counter() - started
    return {"solve_s": solve, "compute_exposure_s": analytics, "ratio": analytics / solve}


def measure(size: int, folder: Path) -> dict[str, Any]:
    data = synthetic(size, seed=SEED)
    workbook = write_input_workbook(data, folder / f"input-{size}.xlsx")
    raw = raw_floor(workbook, folder)
    project = project_run(workbook, folder / f"results-{size}.xlsx")
    return {"size": size, "generated_columns": lp_columns(data), "raw": raw, "project": project}


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| LP columns | `exposure run` wall s | raw highspy wall s (solve s) | wall / raw wall "
        "| wall / raw solve | CPU s project / raw | CPU ratio | peak RSS MiB project / raw "
        "| RSS ratio | analytics s | analytics / project solve | Licences rows answered "
        "| stages s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p, raw = r["project"], r["raw"]
        stages = ", ".join(f"{k} {v:.1f}" for k, v in p["stages"].items())
        analytics = float(p["run"]["analytics_seconds"] or "nan")
        solve = float(p["run"]["solve_seconds"] or "nan")
        lines.append(
            f"| {raw['columns']:,} | {p['wall_s']:.1f} "
            f"| {raw['wall_s']:.2f} ({raw['solve_s']:.2f}) "
            f"| {p['wall_s'] / raw['wall_s']:.1f}x | {p['wall_s'] / raw['solve_s']:.1f}x "
            f"| {p['cpu_s']:.1f} / {raw['cpu_s']:.2f} | {p['cpu_s'] / raw['cpu_s']:.1f}x "
            f"| {p['rss_mib']:,.0f} / {raw['rss_mib']:,.0f} | {p['rss_mib'] / raw['rss_mib']:.1f}x "
            f"| {analytics:.1f} | {analytics / solve:.1f}x "
            f"| {p['licence_rows_answered']} of {p['licence_rows']} | {stages} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--json", action="store_true", help="also print the raw numbers")
    parser.add_argument(
        "--analytics",
        action="store_true",
        help="only time compute_exposure (no re-solves) against the solve, in this process",
    )
    args = parser.parse_args(argv)
    if args.analytics:
        print("| LP columns | solve s | compute_exposure s | compute_exposure / solve |")
        print("|---|---|---|---|")
        for size in args.sizes:
            r = analytics_ratio(size)
            print(
                f"| {size:,} | {r['solve_s']:.2f} | {r['compute_exposure_s']:.2f} "
                f"| {r['ratio']:.2f}x |",
                flush=True,
            )
        return 0
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            results.append(measure(size, Path(folder)))
            print(table(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(results))
    if args.json:
        print(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
