"""The one path every front door uses: read, check, build, solve, analyse, write."""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from exposure import __version__
from exposure.analytics import Exposure, compute_exposure
from exposure.errors import InputError, NotOptimalError, UsageError
from exposure.issues import Issue
from exposure.results import write_results
from exposure.summary import terminal_summary
from exposure.tables import to_model_data
from exposure.workbook.checks import run_checks
from exposure.workbook.reader import read_workbook
from models.allocation import AllocationModel, ObjectiveMode, Solution, build_model
from models.data import AllocationData

REFERENCE_WORKBOOK = Path(__file__).resolve().parent.parent / "inputs" / "reference.xlsx"
LOG = logging.getLogger("exposure.pipeline")


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Log how long one stage of a run took (`-v` shows it)."""
    clock = time.perf_counter()
    yield
    LOG.info("stage %s: %.3f s", name, time.perf_counter() - clock)


@dataclass
class RunResult:
    """Everything one run produced."""

    input_path: Path
    output_path: Path | None
    data: AllocationData
    model: AllocationModel
    solution: Solution
    exposure: Exposure
    run_info: dict[str, object]
    issues: list[Issue] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_output(input_path: Path) -> Path:
    """`<input stem>-results.xlsx` in the current folder."""
    return Path.cwd() / f"{input_path.stem}-results.xlsx"


def check_output_path(input_path: Path, output_path: Path, overwrite: bool) -> None:
    """Refuse to write over the input, or over an existing file without `overwrite`."""
    if output_path.exists() and output_path.resolve() == input_path.resolve():
        raise UsageError(f"refusing to write results over the input {input_path.name}; use -o")
    if output_path.suffix.lower() != ".xlsx":
        raise UsageError(f"the results file must end in .xlsx, not {output_path.name}")
    if output_path.exists() and not overwrite:
        raise UsageError(f"{output_path} already exists; pass --overwrite or choose -o")


def versions() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "tool_version": __version__,
        "python_version": platform.python_version(),
        "pyomo_version": version("pyomo"),
        "highs_version": version("highspy"),
        "pandas_version": version("pandas"),
        "openpyxl_version": version("openpyxl"),
    }


def run_record(
    input_path: Path,
    objective: str,
    started: datetime | None = None,
    digest: str | None = None,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """What every Run sheet records: input file and SHA-256, objective, `extra`, versions, time.

    The one place a run's provenance is put together, for run, what-if, sweep, stress and
    scheduled reports alike.
    """
    started = started or datetime.now(UTC)
    return {
        "objective_mode": objective,
        "input_file": str(input_path.name),
        "input_sha256": digest or sha256_of(input_path),
        **(extra or {}),
        **versions(),
        "timestamp_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def run_workbook(
    input_path: str | Path | None = None,
    output_path: str | Path | None = None,
    *,
    objective: ObjectiveMode = "priority",
    time_limit: float | None = None,
    overwrite: bool = False,
    sensitivities: bool = True,
    jobs: int | None = None,
) -> RunResult:
    """Solve one workbook and write its results workbook.

    Raises InputError (exit 2), UsageError (2), NotOptimalError (3) or OutputError.
    With `output_path` None nothing is written.
    """
    input_path = Path(input_path) if input_path is not None else REFERENCE_WORKBOOK
    output = Path(output_path) if output_path is not None else None
    if output is not None:
        check_output_path(input_path, output, overwrite)
    clock = time.perf_counter()
    with stage("read"):
        book = read_workbook(input_path)
    with stage("validate"):
        run_checks(book)
    if book.log.errors:
        raise InputError(book.log.issues)
    read_seconds = time.perf_counter() - clock
    data, issues = to_model_data(book), book.log.issues
    # The read tables and their cells (about 50 MiB at 100k LP columns) are not needed
    # past here; held through the run, they would add to its peak.
    del book
    return run_data(
        data,
        input_path,
        output,
        objective=objective,
        time_limit=time_limit,
        overwrite=overwrite,
        sensitivities=sensitivities,
        issues=issues,
        read_seconds=read_seconds,
        jobs=jobs,
    )


def run_data(
    data: AllocationData,
    input_path: Path,
    output: Path | None,
    *,
    objective: ObjectiveMode = "priority",
    time_limit: float | None = None,
    overwrite: bool = False,
    sensitivities: bool = True,
    scenario: str = "base",
    issues: list[Issue] | None = None,
    read_seconds: float = 0.0,
    jobs: int | None = None,
) -> RunResult:
    """Build, solve, analyse and (if `output`) write the results of checked model data.

    `jobs`: at most this many worker processes for the sensitivities' re-solves, started
    only when they are predicted to pay (`exposure.whatif.executors.solve_tasks`).
    """
    issues = issues or []
    if output is not None:
        check_output_path(input_path, output, overwrite)
    started = datetime.now(UTC)
    with stage("build"):
        model = build_model(data, objective)
    with stage("solve"):
        solution = model.solve(time_limit=time_limit)
    run_info: dict[str, object] = {
        "status": solution.status.value,
        "objective_value": solution.objective_value,
        "penalty": solution.violation,
        "lost_value": float("nan"),
        **run_record(input_path, objective, started, extra={"scenario": scenario, "seed": ""}),
        "read_seconds": round(read_seconds, 4),
        "build_seconds": round(model.build_seconds, 4),
        "handoff_seconds": round(model.handoff_seconds, 4),
        "solve_seconds": round(solution.solve_seconds, 4),
        "simplex_iterations": solution.iterations,
        "variables": model.highs.getNumCol(),
        "constraints": model.highs.getNumRow(),
    }
    if not solution.status.ok:
        raise NotOptimalError(
            f"the solver did not reach an optimum: {solution.message}; no results written"
        )
    with stage("analytics and sensitivities" if sensitivities else "analytics"):
        exposure = compute_exposure(solution, data, model if sensitivities else None, jobs=jobs)
    LOG.info("re-solves: %d (batches ran: %s)", exposure.resolves, exposure.resolves_ran)
    run_info["analytics_seconds"] = round(exposure.seconds, 4)
    run_info["resolves"] = exposure.resolves
    run_info["lost_value"] = exposure.kpis["lost_value"]
    result = RunResult(
        input_path=input_path,
        output_path=None,
        data=data,
        model=model,
        solution=solution,
        exposure=exposure,
        run_info=run_info,
        issues=issues,
    )
    if output is not None:
        created = started.replace(tzinfo=None)
        # The Summary carries the lines the terminal prints (without the file's own name).
        sentences = terminal_summary(result).splitlines()
        with stage("write"):
            write_results(output, exposure, run_info, issues, created=created, sentences=sentences)
        result.output_path = output
    return result
