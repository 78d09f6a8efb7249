"""One scheduled report run: pick the input, solve the what-ifs, compare, alert, record.

Each run writes `<output_dir>/<name>-<UTC timestamp>.xlsx` atomically, keeps
the newest `keep` reports, and records itself (and its KPIs, or its failure)
in the history database. A lock file stops two runs of one config at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from exposure import metrics
from exposure.errors import (
    EXIT_OK,
    EXIT_THRESHOLD_BREACHED,
    ExposureError,
    InputError,
)
from exposure.issues import Issue
from exposure.pipeline import run_data, run_record, sha256_of
from exposure.report.excel import SheetData, write_workbook
from exposure.scenario_results import (
    run_sheet,
    scenario_inputs_sheet,
    scenarios_sheet,
    stress_sheet,
    warnings_sheet,
)
from exposure.scenarios import Engine, run_stress, run_whatif
from exposure.schedule.config import ReportConfig, Threshold
from exposure.schedule.history import History, HistoryError
from exposure.tables import to_model_data
from exposure.workbook.safe_open import check_container
from exposure.workbook.validate import load_valid_workbook

LOG = logging.getLogger("exposure.report")
EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the lock; try again later
WORKBOOK_KPIS = ("lost_value", "value_service_level", "objective_value", "penalty")


class ReportBusyError(ExposureError):
    """Another run of the same report holds its lock."""

    exit_code = EXIT_BUSY


@dataclass
class ReportOutcome:
    exit_code: int
    report_path: Path | None
    input_path: Path | None
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)


def pick_input(path: Path) -> Path:
    """`path` itself, or the newest real workbook in the folder `path`.

    Excel lock files (`~$*.xlsx`), hidden files and partial copies (a zip whose
    directory is not yet written) are skipped.
    """
    if path.is_file():
        return path
    if not path.is_dir():
        raise InputError([Issue("bad-config", f"input: no file or folder at {path}")])
    candidates = sorted(
        (p for p in path.glob("*.xlsx") if not p.name.startswith(("~$", "."))),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for candidate in candidates:
        try:
            check_container(candidate)
        except InputError:
            LOG.warning("skipping %s: not a complete workbook (still being copied?)", candidate)
            continue
        return candidate
    raise InputError([Issue("bad-config", f"input: no .xlsx workbook in {path}")])


@contextlib.contextmanager
def report_lock(output_dir: Path, name: str) -> Iterator[None]:
    """Hold `<output_dir>/.<name>.lock` for the run; refuse if another run holds it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    lock_path = output_dir / f".{name}.lock"
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ReportBusyError(
                f"another run of report '{name}' is in progress (lock {lock_path}); "
                "this run did nothing"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def report_path(config: ReportConfig, when: datetime) -> Path:
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    path = config.output_dir / f"{config.name}-{stamp}.xlsx"
    counter = 1
    while path.exists():
        counter += 1
        path = config.output_dir / f"{config.name}-{stamp}-{counter}.xlsx"
    return path


def prune(config: ReportConfig) -> list[Path]:
    """Delete the oldest reports of this name beyond `keep`; returns what was removed."""
    if not config.keep:
        return []
    reports = sorted(
        config.output_dir.glob(f"{config.name}-*.xlsx"),
        key=lambda p: (p.stat().st_mtime, p.name),
        reverse=True,
    )
    removed = reports[config.keep :]
    for path in removed:
        path.unlink(missing_ok=True)
        LOG.info("removed old report %s", path.name)
    return removed


def collect_kpis(
    comparison: pd.DataFrame, extra: list[tuple[str, str, str, float]]
) -> list[tuple[str, str, str, float]]:
    """(scenario, sector, metric, value) rows; sector "" is the whole workbook."""
    rows = list(extra)
    for scenario in [c for c in comparison.columns if c != "kpi" and not c.endswith(" change")]:
        for kpi, value in zip(comparison["kpi"], comparison[scenario], strict=True):
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            metric, _, sector = kpi.partition(" ")
            rows.append((scenario, sector, metric, float(value)))
    return rows


def threshold_value(
    threshold: Threshold,
    kpis: dict[tuple[str, str, str], float],
    products: pd.DataFrame,
) -> float:
    """The value a threshold is compared with; InputError if it names nothing known."""
    if threshold.product:
        if threshold.scenario != "base" or threshold.metric not in (
            "lost_value",
            "value_service_level",
        ):
            raise InputError(
                [
                    Issue(
                        "bad-config",
                        f"threshold {threshold.describe()}: product "
                        "thresholds take lost_value or value_service_level of the base",
                    )
                ]
            )
        rows = products[products["product"] == threshold.product]
        if rows.empty:
            raise InputError(
                [
                    Issue(
                        "bad-config",
                        f"threshold {threshold.describe()}: no product "
                        f"'{threshold.product}' in the workbook",
                    )
                ]
            )
        if threshold.metric == "lost_value":
            return float(rows["lost_value"].sum())
        return metrics.value_service_level(rows["units"], rows["built"], rows["value_per_unit"])
    if threshold.metric == "licence_dependency":
        found = [
            v
            for (s, k, m), v in kpis.items()
            if s == threshold.scenario
            and m.startswith("licence_dependency")
            and (threshold.sector is None or k == threshold.sector)
            and (threshold.regime is None or m == f"licence_dependency {threshold.regime}")
        ]
    elif threshold.metric == "shortfall_at_risk":
        found = [
            v
            for (s, k, m), v in kpis.items()
            if s == "stress"
            and m == "shortfall_at_risk"
            and (threshold.sector is None or k == threshold.sector)
        ]
        if found and threshold.sector is None:
            found = [sum(found)]  # the workbook as a whole: sectors added up
    else:
        found = (
            [kpis[key]]
            if (key := (threshold.scenario, threshold.sector or "", threshold.metric)) in kpis
            else []
        )
    if not found:
        raise InputError(
            [
                Issue(
                    "bad-config",
                    f"threshold {threshold.describe()}: no such "
                    "scenario, sector or regime in this workbook's results",
                )
            ]
        )
    return max(found)


def alerts_table(
    thresholds: list[Threshold], kpis: dict[tuple[str, str, str], float], products: pd.DataFrame
) -> pd.DataFrame:
    rows = []
    for threshold in thresholds:
        actual = threshold_value(threshold, kpis, products)
        rows.append(
            {
                "threshold": threshold.describe(),
                "metric": threshold.metric,
                "scenario": threshold.scenario,
                "sector": threshold.sector,
                "product": threshold.product,
                "op": threshold.op,
                "limit": threshold.value,
                "value": actual,
                "breached": threshold.breached(actual),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "threshold",
            "metric",
            "scenario",
            "sector",
            "product",
            "op",
            "limit",
            "value",
            "breached",
        ],
    )


def changes_table(
    current: dict[tuple[str, str, str], float],
    previous: dict[tuple[str, str, str], float] | None,
    inputs: tuple[tuple[str | None, str | None], tuple[str, str]],
) -> pd.DataFrame:
    """Every KPI now against the last successful run, with the input file and hash."""
    (old_file, old_hash), (new_file, new_hash) = inputs
    rows: list[dict[str, object]] = [
        {
            "scenario": "",
            "sector": "",
            "metric": "input_file",
            "previous": old_file,
            "current": new_file,
            "change": None,
        },
        {
            "scenario": "",
            "sector": "",
            "metric": "input_sha256",
            "previous": old_hash,
            "current": new_hash,
            "change": None,
        },
    ]
    previous = previous or {}
    for key in sorted(set(current) | set(previous)):
        before, now = previous.get(key), current.get(key)
        change = now - before if before is not None and now is not None else None
        rows.append(
            {
                "scenario": key[0],
                "sector": key[1],
                "metric": key[2],
                "previous": before,
                "current": now,
                "change": change,
            }
        )
    return pd.DataFrame(
        rows, columns=["scenario", "sector", "metric", "previous", "current", "change"]
    )


def run_report(config: ReportConfig, *, dry_run: bool = False) -> ReportOutcome:
    """Run one scheduled report; see the module docstring."""
    if dry_run:
        chosen = pick_input(config.input)
        book = load_valid_workbook(chosen)
        LOG.info(
            "dry run: would solve %s (%s) with objective %s",
            chosen,
            sha256_of(chosen),
            config.objective,
        )
        LOG.info(
            "dry run: scenarios %s, stress %s, %d threshold(s), history %s",
            config.scenarios or "all",
            config.stress,
            len(config.thresholds),
            config.history,
        )
        del book
        return ReportOutcome(EXIT_OK, None, chosen)

    with report_lock(config.output_dir, config.name):
        history = History(config.history)
        started = datetime.now(UTC)
        try:
            run_id = history.start(config.name, started)
        except HistoryError:
            history.close()
            raise
        source: Path | None = None
        digest: str | None = None
        try:
            source = pick_input(config.input)
            digest = sha256_of(source)
            LOG.info("report %s: input %s (sha256 %s)", config.name, source, digest[:12])
            outcome = _solve_and_write(config, history, source, digest, started, run_id)
        except BaseException as exc:
            exit_code = exc.exit_code if isinstance(exc, ExposureError) else 1
            message = (
                _message(exc) if isinstance(exc, ExposureError) else f"{type(exc).__name__}: {exc}"
            )
            try:
                history.finish(
                    run_id,
                    status="failed",
                    exit_code=exit_code,
                    finished=datetime.now(UTC),
                    input_file=str(source) if source else None,
                    input_sha256=digest,
                    message=message,
                )
            except HistoryError as history_error:
                # The database is gone: the run stays 'running' there, never 'ok'.
                # Raise the first failure, which says what went wrong with the run.
                LOG.error("could not record the failure either: %s", history_error)
            raise
        finally:
            history.close()
    prune(config)
    return outcome


def _message(exc: ExposureError) -> str:
    """What the history records of a failed run."""
    if isinstance(exc, InputError):
        return "; ".join(str(i) for i in exc.errors[:20]) or str(exc)
    return str(exc)


def _solve_and_write(
    config: ReportConfig,
    history: History,
    source: Path,
    digest: str,
    started: datetime,
    run_id: int,
) -> ReportOutcome:
    book = load_valid_workbook(source)
    for issue in book.log.issues:  # only warnings reach here: errors raised above
        LOG.warning("input: %s", issue)
    base = run_data(
        to_model_data(book), source, None, objective=config.objective, issues=book.log.issues
    )
    extra: list[tuple[str, str, str, float]] = []
    if base.exposure.dependency_by_sector is not None:
        for record in base.exposure.dependency_by_sector.itertuples():
            extra.append(
                (
                    "base",
                    record.sector,
                    f"licence_dependency {record.regime}",
                    float(record.licence_dependency),
                )
            )
    has_scenarios = "Scenarios" in book.tables and not book.frame("Scenarios").empty
    # a config that names scenarios of a workbook without them is an error, not a silent skip
    names = config.scenarios if has_scenarios or config.scenarios else []
    # One model for the whole report: the base run's, handed on warm to every what-if.
    engine = Engine(book, config.objective, reuse=base.model)
    whatif = run_whatif(book, config.objective, names, scheduler=config.scheduler, engine=engine)
    sheets = [
        scenarios_sheet(whatif.comparison, f"Report {config.name}"),
        scenario_inputs_sheet(whatif.diff),
    ]
    if config.stress:
        stress = run_stress(
            book,
            source,
            config.stress.draws,
            config.stress.seed,
            config.objective,
            scheduler=config.scheduler,
            engine=engine,
        )
        for record in stress.sectors.itertuples():
            extra.append(
                ("stress", record.sector, "shortfall_at_risk", float(record.shortfall_at_risk))
            )
        sheets.append(stress_sheet(stress, f"Stress: {stress.completed} draws, seed {stress.seed}"))
    kpi_rows = collect_kpis(whatif.comparison, extra)
    kpis = {(s, k, m): v for s, k, m, v in kpi_rows if not math.isnan(v)}
    alerts = alerts_table(config.thresholds, kpis, base.exposure.products)
    previous = history.last_successful(config.name)
    changes = changes_table(
        kpis,
        history.kpis(previous.id) if previous else None,
        (
            (previous.input_file, previous.input_sha256) if previous else (None, None),
            (str(source), digest),
        ),
    )
    breached = bool(alerts["breached"].any()) if len(alerts) else False
    exit_code = EXIT_THRESHOLD_BREACHED if breached else EXIT_OK
    target = report_path(config, started)
    run = {
        "report": config.name,
        "config": str(config.path),
        **run_record(
            source,
            config.objective,
            started,
            digest=digest,
            extra={
                "input_folder": str(source.parent),
                "previous_run": previous.started_utc if previous else "",
                "thresholds_breached": int(alerts["breached"].sum()) if len(alerts) else 0,
                "exit_code": exit_code,
                "seed": config.stress.seed if config.stress else "",
            },
        ),
    }
    sheets += [
        # each row's numbers in the format of the KPI it holds
        SheetData("Changes", changes, row_formats_from="metric"),
        SheetData("Alerts", alerts, row_formats_from="metric"),
        *warnings_sheet(book.log.issues),
        run_sheet(run),
    ]
    write_workbook(target, sheets, created=started.replace(tzinfo=None))
    try:
        history.finish(
            run_id,
            status="breached" if breached else "ok",
            exit_code=exit_code,
            finished=datetime.now(UTC),
            input_file=str(source),
            input_sha256=digest,
            report_path=str(target),
            kpis=[(s, k, m, v) for (s, k, m), v in kpis.items()],
        )
    except HistoryError:
        # A report whose run the history does not hold would be read as a success
        # and skew the next run's changes: remove it, and fail the run.
        target.unlink(missing_ok=True)
        LOG.error("the run could not be recorded; its report %s was removed", target.name)
        raise
    for record in alerts[alerts["breached"]].itertuples() if len(alerts) else []:
        LOG.warning("threshold breached: %s (value %g)", record.threshold, record.value)
    LOG.info("report written to %s", target)
    return ReportOutcome(exit_code, target, source, alerts, changes)
