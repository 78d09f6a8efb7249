"""Benchmark of results writing: the project's writer against pandas `to_excel`.

    python bench/write_bench.py [--sizes 10000 100000] [--readme bench/README.md]

Per size, one seeded instance (`bench/generate.py`) is solved and its results
computed once; then the same sheets (`exposure.results.result_sheets`, every row,
before the workbook's at-scale rule) are written by

* `exposure.report.excel.write_workbook`: xlsxwriter, rows streamed in
  constant_memory mode, with Tables, formats, widths, page setup (no charts:
  they belong to `write_results`, and cost nothing at scale);
* `DataFrame.to_excel` with openpyxl, one workbook: what the project used before;
* `DataFrame.to_excel` with xlsxwriter (normal mode: pandas writes column by
  column, which constant_memory cannot take), for reference.

Each writer runs in a forked child of the process that holds the sheets, so the
three start from the same memory. Peak memory is the child's peak resident set
less its resident set when it started (Linux `ru_maxrss`): what writing added.
Writers run one after another in the same run, so the ratios compare like with like
on a shared machine; seconds are one measurement each.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import lp_columns, synthetic
from exposure.analytics import compute_exposure
from exposure.report.excel import SheetData, write_workbook
from exposure.results import result_sheets
from models.allocation import build_model

SEED = 20260101
README = Path(__file__).with_name("README.md")
TABLE_START = "<!-- writing:start -->"
TABLE_END = "<!-- writing:end -->"


def _resident_kib() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024


def _child(write: Callable[[], None], results: Any) -> None:
    before = _resident_kib()
    started = time.perf_counter()
    write()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    results.put((seconds, max(peak - before, 0) / 1024))


def measured(write: Callable[[], None]) -> tuple[float, float]:
    """(seconds, MiB added at peak) of `write()` in a forked child."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    gc.collect()
    child = context.Process(target=_child, args=(write, results))
    child.start()
    outcome = results.get()
    child.join()
    return outcome


def pandas_writer(sheets: list[SheetData], path: Path, engine: str) -> Callable[[], None]:
    def write() -> None:
        with pd.ExcelWriter(path, engine=engine) as writer:
            for sheet in sheets:
                sheet.frame.to_excel(writer, sheet_name=sheet.name[:31], index=False)

    return write


def one_size(size: int, folder: Path) -> dict[str, Any]:
    data = synthetic(size, seed=SEED)
    solution = build_model(data).solve()
    exposure = compute_exposure(solution, data)
    run = {"status": solution.status.value, "objective_value": solution.objective_value}
    sheets = result_sheets(exposure, run, [])
    result: dict[str, Any] = {
        "columns": lp_columns(data),
        "sheets": len(sheets),
        "rows": sum(len(s.frame) for s in sheets),
        "cells": sum(s.frame.size for s in sheets),
        "largest": max(sheets, key=lambda s: len(s.frame)).name,
    }
    result["largest_rows"] = max(len(s.frame) for s in sheets)
    writers = {
        "project": lambda: write_workbook(folder / "project.xlsx", sheets),
        "openpyxl": pandas_writer(sheets, folder / "openpyxl.xlsx", "openpyxl"),
        "xlsxwriter": pandas_writer(sheets, folder / "xlsxwriter.xlsx", "xlsxwriter"),
    }
    for name, write in writers.items():
        result[name], result[f"{name}_mib"] = measured(write)
        print(f"  {name}: {result[name]:.2f} s, +{result[f'{name}_mib']:,.0f} MiB", flush=True)
    result["project_mb_file"] = (folder / "project.xlsx").stat().st_size / 1e6
    return result


def report(results: list[dict[str, Any]], when: str) -> str:
    lines = [
        f"Run: {when}; `python bench/write_bench.py --sizes "
        f"{' '.join(str(r['size']) for r in results)}`.",
        "",
        "| LP columns | sheets, rows (cells) | largest sheet | project writer "
        "| pandas to_excel, openpyxl | pandas to_excel, xlsxwriter "
        "| openpyxl / project | file |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['columns']:,} | {r['sheets']}, {r['rows']:,} ({r['cells']:,}) "
            f"| {r['largest']} ({r['largest_rows']:,}) "
            f"| {r['project']:.2f} s, +{r['project_mib']:,.0f} MiB "
            f"| {r['openpyxl']:.2f} s, +{r['openpyxl_mib']:,.0f} MiB "
            f"| {r['xlsxwriter']:.2f} s, +{r['xlsxwriter_mib']:,.0f} MiB "
            f"| **{r['openpyxl'] / r['project']:.2f}x** | {r['project_mb_file']:.1f} MB |"
        )
    return "\n".join(lines) + "\n"


def write_readme(path: Path, table: str) -> None:
    text = path.read_text()
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    path.write_text(f"{head}{TABLE_START}\n{table}{TABLE_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--readme", type=Path, default=None, help="write the table here")
    args = parser.parse_args(argv)
    results = []
    began = time.strftime("%a %d %b %Y, %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="exposure-write-bench-") as folder:
        for size in args.sizes:
            print(f"{size:,} columns ...", flush=True)
            results.append({"size": size, **one_size(size, Path(folder))})
    table = report(results, began)
    print(table)
    if args.readme is not None:
        write_readme(args.readme, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
