"""One job of the upload page, in its own process: `python -m exposure.web.worker JOB_DIR`.

Limits its own memory first, then checks the uploaded workbook, solves it and
writes the results (and, if asked, the what-if of the workbook's scenarios)
into the job folder, recording each stage and the verdict in `state.json`.
It never reads or writes outside the job folder.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from exposure.issues import issue_type
from exposure.web.jobs import (
    ANNOTATED_FILE,
    INPUT_FILE,
    RESULTS_FILE,
    WHATIF_FILE,
    update_state,
)

MAX_ISSUES_SHOWN = 500
MEMORY_WORDS = ("cannot allocate memory", "failed to map segment", "memory allocation")


def limit_memory(limit_bytes: int) -> None:
    """Cap this process's address space, so a runaway job fails alone."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    if limit_bytes > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit_bytes = min(limit_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, hard))


def issue_rows(issues: list[Any]) -> list[dict[str, Any]]:
    rows = [
        {
            "severity": i.severity,
            "sheet": i.sheet or "",
            "cell": i.cell or "",
            "place": i.place,
            "message": i.message,
            "hint": i.hint,
            "code": i.code,
            "title": issue_type(i.code).title,
        }
        for i in issues
    ]
    rows.sort(key=lambda r: r["severity"] != "error")  # errors first, order kept otherwise
    return rows[:MAX_ISSUES_SHOWN]


def chart_data(result: Any) -> dict[str, Any]:
    """Per-sector value service level and lost value, and tonnes bought per origin country."""
    from exposure.analytics import sector_table

    exposure = result.exposure
    sectors = sector_table(exposure.products, by_period=False)
    sector_rows = [
        {
            "sector": str(r.sector),
            "value_service_level": float(r.value_service_level),
            "lost_value": float(r.lost_value),
            "demand_value": float(r.demand_value),
        }
        for r in sectors.itertuples()
    ]
    supply = exposure.supply.copy()
    supply["country"] = supply["country"].fillna("unknown").astype(str)
    by_origin = supply.groupby(["country", "material"], sort=True, as_index=False)["buy"].sum()
    origin_rows = [
        {"country": str(r.country), "material": str(r.material), "tonnes": float(r.buy)}
        for r in by_origin.itertuples()
        if r.buy > 1e-9
    ]
    return {"sectors": sector_rows, "origins": origin_rows}


def run_job(folder: Path, job: dict[str, Any]) -> None:
    from exposure.errors import ExposureError, InputError, NotOptimalError
    from exposure.pipeline import run_data
    from exposure.summary import exposure_sentences
    from exposure.tables import to_model_data
    from exposure.workbook.annotate import write_annotated
    from exposure.workbook.validate import check_workbook

    source = folder / INPUT_FILE
    objective = job.get("objective", "priority")
    time_limit = job.get("solver_time_limit")
    update_state(folder, status="running", stage="checking the workbook", started=time.time())
    try:
        book = check_workbook(source)
    except InputError as exc:  # the file itself cannot be read: nothing to annotate
        update_state(
            folder,
            status="invalid",
            finished=time.time(),
            issues=issue_rows(exc.issues),
            annotated=False,
        )
        return
    issues = book.log.issues
    if book.log.errors:
        update_state(folder, stage="marking the problems in a copy of the workbook")
        annotated = True
        try:
            write_annotated(source, folder / ANNOTATED_FILE, issues)
        except ExposureError:
            annotated = False
        update_state(
            folder,
            status="invalid",
            finished=time.time(),
            issues=issue_rows(issues),
            annotated=annotated,
        )
        return

    update_state(folder, stage="solving and writing the results workbook")
    try:
        result = run_data(
            to_model_data(book),
            source,
            folder / RESULTS_FILE,
            objective=objective,
            time_limit=time_limit,
            issues=issues,
        )
    except NotOptimalError as exc:
        update_state(folder, status="failed", finished=time.time(), message=str(exc))
        return
    kpis = {k: float(v) for k, v in result.exposure.kpis.items() if isinstance(v, int | float)}
    summary: dict[str, Any] = {
        "kpis": kpis,
        "sentences": exposure_sentences(result),
        "charts": chart_data(result),
        "warnings": issue_rows([i for i in issues if i.severity == "warning"]),
    }
    if job.get("scenarios"):
        update_state(folder, stage="running the workbook's scenarios")
        summary["whatif"] = run_scenarios(folder, book, objective, time_limit, result.run_info)
    update_state(folder, status="done", finished=time.time(), stage="finished", **summary)


def run_scenarios(
    folder: Path,
    book: Any,
    objective: str,
    time_limit: float | None,
    run_info: dict[str, object],
) -> dict[str, Any]:
    """The what-if of the workbook's Scenarios sheet; a problem there is a note, not a failure."""
    from exposure.errors import ExposureError, InputError
    from exposure.scenario_results import write_whatif
    from exposure.scenarios import run_whatif, scenario_edits

    try:
        if not scenario_edits(book):
            return {"note": "The workbook has no scenarios on a Scenarios sheet."}
        result = run_whatif(book, objective, time_limit=time_limit)  # type: ignore[arg-type]
        run: dict[str, object] = {
            key: run_info[key]
            for key in ("input_file", "input_sha256", "objective_mode")
            if key in run_info
        }
        run["scenarios"] = len(result.scenarios)
        write_whatif(folder / WHATIF_FILE, result, run)
    except InputError as exc:
        problems = "; ".join(str(i) for i in exc.errors[:5])
        return {"note": f"The scenarios could not be run: {problems}"}
    except ExposureError as exc:
        return {"note": f"The scenarios could not be run: {exc}"}
    comparison = result.comparison.set_index("kpi")
    rows = []
    for name in ["base", *result.scenarios]:
        column = comparison[name]
        rows.append(
            {
                "scenario": name,
                "status": str(column.get("status", "")),
                "lost_value": _number(column.get("lost_value")),
                "value_service_level": _number(column.get("value_service_level")),
            }
        )
    return {"file": True, "rows": rows}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def out_of_memory(exc: BaseException) -> bool:
    """True if `exc` (or what caused it) is a failed allocation, e.g. a library that
    could not be loaded under the memory limit."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen).lower()
        if isinstance(seen, MemoryError) or any(w in text for w in MEMORY_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0])
    job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    limit_memory(int(job.get("memory_limit_bytes") or 0))
    memory_message = (
        "The calculation needed more memory than the "
        f"{int(job.get('memory_limit_bytes') or 0) // 1024**2} MB allowed per job and "
        "was stopped. The server is fine: try a smaller workbook."
    )
    try:
        run_job(folder, job)
    except MemoryError:
        update_state(folder, status="failed", finished=time.time(), message=memory_message)
        return 1
    except Exception as exc:
        traceback.print_exc()  # into the job's worker.log, for whoever runs the server
        message = (
            "The calculation stopped on an unexpected error (a bug, not your workbook's "
            "fault). The server is fine: try again; if it happens again, send the "
            "workbook to support."
        )
        if out_of_memory(exc):
            message = memory_message
        update_state(folder, status="failed", finished=time.time(), message=message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
