"""The `exposure` command: a thin layer over the library, one function per command.

Exit codes (design section 8): 0 solved and written, 2 invalid input, 3 no
optimum, 1 a bug (short message plus the path of a log with the details).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from exposure.errors import EXIT_BUG, EXIT_INVALID_INPUT, ExposureError, InputError
from exposure.issues import Issue
from exposure.summary import usd

if TYPE_CHECKING:
    from exposure.workbook.reader import RawWorkbook
    from models.allocation import ObjectiveMode

LOG = logging.getLogger("exposure")
CRASH_LOG_NAME = "crash.log"


def _private_folder(folder: Path) -> Path | None:
    """`folder`, created 0700 if need be, if it is a real folder only this user can enter."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = folder.lstat()  # lstat: a symlink planted by someone else is refused
    except OSError:
        return None
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid():
        return None
    if stat.S_IMODE(status.st_mode) & 0o077:
        try:
            folder.chmod(0o700)
        except OSError:
            return None
    return folder


def crash_log_path() -> Path:
    """Where the traceback of a bug goes: private to the user, never a shared fixed name.

    `$XDG_STATE_HOME/exposure/crash.log` (default `~/.local/state/exposure/`); if that
    cannot be made, a per-user folder in the temporary directory. A fixed
    /tmp/exposure-crash.log could be read by anyone, or be a symlink planted by
    another user to make us overwrite one of our own files.
    """
    candidates = [Path(tempfile.gettempdir()) / f"exposure-{os.getuid()}"]
    state_home = os.environ.get("XDG_STATE_HOME")
    if not state_home:
        with contextlib.suppress(RuntimeError, KeyError):  # no home folder at all
            state_home = str(Path.home() / ".local" / "state")
    if state_home:
        candidates.insert(0, Path(state_home) / "exposure")
    for folder in candidates:
        if (private := _private_folder(folder)) is not None:
            return private / CRASH_LOG_NAME
    return Path(tempfile.mkdtemp(prefix="exposure-")) / CRASH_LOG_NAME  # 0700, fresh


def write_crash_log(text: str) -> Path:
    """Write `text` to a new crash log (0600, the previous one replaced); returns its path."""
    path = crash_log_path()
    path.unlink(missing_ok=True)  # never write through whatever was there (a symlink)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
    return path


def _print_warnings(issues: list[Issue]) -> None:
    """The input's warnings (e.g. nothing to allocate) on stderr, before the results."""
    _print_issues([i for i in issues if i.severity == "warning"])


def _print_issues(issues: list[Issue], stream_err: bool = True) -> None:
    errors = [i for i in issues if i.severity == "error"]
    warnings = [i for i in issues if i.severity == "warning"]
    for issue in errors:
        click.echo(f"error: {issue}", err=stream_err)
    for issue in warnings:
        click.echo(f"warning: {issue}", err=stream_err)


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the application's exceptions into exit codes and plain messages."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputError as exc:
            _print_issues(exc.issues)
            errors = len(exc.errors)
            click.echo(f"{errors} problem(s) found; nothing was written.", err=True)
            sys.exit(exc.exit_code)
        except ExposureError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing more was written.", err=True)
            sys.exit(130)
        except Exception as exc:
            try:
                where = f"details are in {write_crash_log(traceback.format_exc())}"
            except OSError as log_error:  # a bug report must not fail for want of a log
                where = f"no crash log could be written ({log_error.strerror or log_error})"
            click.echo(
                f"internal error ({type(exc).__name__}: {exc}). This is a bug; {where}. "
                "Run with -v to see them here.",
                err=True,
            )
            if LOG.isEnabledFor(logging.DEBUG):
                traceback.print_exc()
            sys.exit(EXIT_BUG)

    return wrapper


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(verbosity: int) -> None:
    """The application's own lines on stderr: warnings, and with -v every stage and its time.

    Only the `exposure` logger is raised to DEBUG: Pyomo, HiGHS and the other
    libraries keep the root logger's WARNING, so -v is not hundreds of lines of
    their internals. The handler is made per invocation so that it writes to the
    stderr of this command (a test runner swaps it).
    """
    logger = logging.getLogger("exposure")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S%z"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbosity >= 1 else logging.WARNING)
    logger.propagate = False


def verbose_option(command: Callable[..., Any]) -> Callable[..., Any]:
    def set_verbosity(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
        configure_logging(value)
        return value

    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=set_verbosity,
        help="Show more detail: each stage and its time, tracebacks of bugs.",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="exposure")
def main() -> None:
    """Rare-earth supply-chain exposure calculator.

    Allocates constrained rare-earth and magnet supply across sectors under
    export-licence approval rates, and reports what is lost.

    Example: exposure run inputs/reference.xlsx -o results.xlsx
    """


def jobs_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--jobs N`: at most N local worker processes, the number of cores by default."""
    return click.option(
        "--jobs",
        type=click.IntRange(min=1),
        default=os.cpu_count() or 1,
        show_default="the number of cores",
        help=help_text,
    )


@main.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@verbose_option
@handle_errors
def template(out: Path, overwrite: bool) -> None:
    """Write a blank input workbook with notes and drop-down lists.

    Example: exposure template my-inputs.xlsx
    """
    from exposure.errors import UsageError
    from exposure.workbook.template import write_template

    if out.exists() and not overwrite:
        raise UsageError(f"{out} already exists; pass --overwrite or choose another name")
    write_template(out)
    click.echo(f"template written to {out}")


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list.")
@click.option(
    "--annotate",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a copy of WORKBOOK with each bad cell highlighted and commented.",
)
@verbose_option
@handle_errors
def validate(workbook: Path, as_json: bool, annotate: Path | None) -> None:
    """Check a workbook and list every problem at once, by sheet and cell.

    Exit 0 when valid (warnings are printed), 2 when not. Nothing is changed.

    Example: exposure validate inputs/reference.xlsx --json
    """
    from exposure.workbook.validate import check_workbook

    try:
        book = check_workbook(workbook)
        issues = book.log.issues
    except InputError as exc:  # the file itself is unreadable
        issues = exc.issues
    if annotate is not None:
        from exposure.workbook.annotate import write_annotated

        write_annotated(workbook, annotate, issues)
    errors = [i for i in issues if i.severity == "error"]
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in issues], indent=2, default=str))
    else:
        _print_issues(issues, stream_err=False)
        verdict = "valid" if not errors else f"invalid: {len(errors)} error(s)"
        click.echo(f"{workbook.name}: {verdict}, {len(issues) - len(errors)} warning(s)")
    if errors:
        sys.exit(EXIT_INVALID_INPUT)


@main.command()
@click.argument("workbook", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results workbook (default: <input>-results.xlsx in the current folder).",
)
@click.option(
    "--objective",
    type=click.Choice(["priority", "fair"]),
    default="priority",
    show_default=True,
    help="priority: minimise lost value then costs; fair: share shortfalls pro rata first.",
)
@click.option("--time-limit", type=click.FloatRange(min=0), help="Solver time limit, seconds.")
@click.option("--overwrite", is_flag=True, help="Replace the results file if it exists.")
@click.option(
    "--full-tables",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write every results table whole, one CSV a sheet, into this folder "
    "(the workbook keeps at most 100,000 rows a sheet).",
)
@jobs_option(
    "At most this many local worker processes for the sensitivities' re-solves. They are "
    "started only when predicted to finish 1.5x sooner (start-up and build per worker "
    "against the timed re-solves of the first two); --jobs 1: never."
)
@verbose_option
@handle_errors
def run(
    workbook: Path | None,
    output: Path | None,
    objective: ObjectiveMode,
    time_limit: float | None,
    overwrite: bool,
    full_tables: Path | None,
    jobs: int,
) -> None:
    """Solve one workbook and write the results workbook.

    Without WORKBOOK the shipped reference workbook is solved.

    Example: exposure run inputs/reference.xlsx -o results.xlsx --objective fair
    """
    from exposure.pipeline import REFERENCE_WORKBOOK, default_output, run_workbook
    from exposure.summary import terminal_summary

    source = workbook or REFERENCE_WORKBOOK
    output = output or default_output(source)
    result = run_workbook(
        source, output, objective=objective, time_limit=time_limit, overwrite=overwrite, jobs=jobs
    )
    if full_tables is not None:
        from exposure.results import write_full_tables

        write_full_tables(full_tables, result.exposure, result.run_info, result.issues)
    _print_warnings(result.issues)
    click.echo(terminal_summary(result))
    if full_tables is not None:
        click.echo(f"full tables: {full_tables}/<sheet>.csv")


# ------------------------------------------------------------------ what-if commands
def objective_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--objective",
        type=click.Choice(["priority", "fair"]),
        default="priority",
        show_default=True,
        help="priority: minimise lost value then costs; fair: share shortfalls pro rata first.",
    )(command)


def whatif_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by whatif, sweep and stress."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Output workbook (default: <input>-<command>.xlsx here).",
        ),
        click.option("--overwrite", is_flag=True, help="Replace the output if it exists."),
        click.option(
            "--time-limit",
            type=click.FloatRange(min=0),
            help="Solver time limit per scenario, seconds.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
        jobs_option(
            "At most this many local worker processes. They are started only when the "
            "scenarios are predicted to finish 1.5x sooner with them (start-up, build "
            "and a cold solve per worker against the timed solves of the first two); "
            "otherwise all run in this process. --jobs 1: never."
        ),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            help="Run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786 "
            "(start it with `dask scheduler` and `dask worker ADDRESS`).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return objective_option(command)


@contextmanager
def progress_bar(total: int, quiet: bool, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; silent in a pipe or with --quiet."""
    if quiet or not sys.stderr.isatty():
        yield lambda _n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def _prepare(
    workbook: Path, output: Path | None, suffix: str, overwrite: bool
) -> tuple[RawWorkbook, Path]:
    from exposure.pipeline import check_output_path, default_output, stage
    from exposure.workbook.validate import load_valid_workbook

    output = output or default_output(workbook).with_name(f"{workbook.stem}-{suffix}.xlsx")
    check_output_path(workbook, output, overwrite)
    with stage("read and validate"):
        book = load_valid_workbook(workbook)
    _print_warnings(book.log.issues)
    return book, output


def _run_info(workbook: Path, objective: str, **extra: object) -> dict[str, object]:
    from exposure.pipeline import run_record

    return run_record(workbook, objective, extra=extra)


def _finish(output: Path, interrupted: bool) -> None:
    if interrupted:
        click.echo(f"interrupted: partial results (marked partial) written to {output}", err=True)
        sys.exit(130)
    click.echo(f"results: {output}")


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scenario", "names", multiple=True, help="Run only this scenario (repeatable).")
@click.option("--full", is_flag=True, help="Also write the full results of each scenario.")
@whatif_options
@verbose_option
@handle_errors
def whatif(
    workbook: Path,
    names: tuple[str, ...],
    full: bool,
    output: Path | None,
    overwrite: bool,
    time_limit: float | None,
    quiet: bool,
    jobs: int | None,
    scheduler: str | None,
    objective: ObjectiveMode,
) -> None:
    """Solve the base and every scenario of the Scenarios sheet, side by side.

    Example: exposure whatif inputs/reference.xlsx -o whatif.xlsx
    """
    import time

    from exposure.pipeline import stage
    from exposure.scenario_results import write_whatif
    from exposure.scenarios import run_whatif, scenario_edits

    book, output = _prepare(workbook, output, "whatif", overwrite)
    count = len(names) if names else len(scenario_edits(book))
    started = time.perf_counter()
    with progress_bar(count, quiet, "scenarios") as advance, stage("solve scenarios"):
        result = run_whatif(
            book, objective, list(names) or None, advance, time_limit, jobs, scheduler
        )
    run = _run_info(
        workbook,
        objective,
        scenarios=len(result.scenarios),
        model_rebuilds=result.rebuilds,
        seconds=round(time.perf_counter() - started, 3),
        partial=result.interrupted,
    )
    with stage("write"):
        write_whatif(output, result, run, issues=book.log.issues)
    if full:
        from exposure.pipeline import run_data

        for name in result.scenarios:
            target = output.with_name(f"{output.stem}-{name}.xlsx")
            run_data(
                result.data[name],
                workbook,
                target,
                objective=objective,
                scenario=name,
                overwrite=overwrite,
                time_limit=time_limit,
            )
            click.echo(f"full results of {name}: {target}")
    comparison = result.comparison.set_index("kpi")
    for name in ["base", *result.scenarios]:
        click.echo(
            f"{name}: lost value {usd(comparison.at['lost_value', name])}, "
            f"value service level {comparison.at['value_service_level', name]:.1%}"
        )
    _finish(output, result.interrupted)


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--vary",
    required=True,
    help="Sheet:column:match, e.g. 'Licences:approval_rate:regime=CN;material=DY'.",
)
@click.option("--from", "start", type=float, required=True, help="First value.")
@click.option("--to", "stop", type=float, required=True, help="Last value.")
@click.option(
    "--steps",
    type=click.IntRange(min=2),
    default=11,
    show_default=True,
    help="Number of values from --from to --to.",
)
@whatif_options
@verbose_option
@handle_errors
def sweep(
    workbook: Path,
    vary: str,
    start: float,
    stop: float,
    steps: int,
    output: Path | None,
    overwrite: bool,
    time_limit: float | None,
    quiet: bool,
    jobs: int | None,
    scheduler: str | None,
    objective: ObjectiveMode,
) -> None:
    """Vary one input over a range and chart lost value per sector.

    Example: exposure sweep inputs/reference.xlsx --vary "Licences:approval_rate:regime=CN-MOFCOM;material=DY_OX" --from 0 --to 1 --steps 21
    """  # noqa: E501
    import time

    import numpy as np

    from exposure.pipeline import stage
    from exposure.scenario_results import write_sweep
    from exposure.scenarios import Vary, run_sweep

    spec = Vary.parse(vary)
    book, output = _prepare(workbook, output, "sweep", overwrite)
    values = [float(v) for v in np.linspace(start, stop, steps)]
    started = time.perf_counter()
    with progress_bar(len(values), quiet, "sweep") as advance, stage("solve sweep"):
        result = run_sweep(
            book, workbook, spec, values, objective, jobs, advance, time_limit, scheduler
        )
    run = _run_info(
        workbook,
        objective,
        vary=vary,
        steps=len(result.totals),
        seconds=round(time.perf_counter() - started, 3),
        partial=result.interrupted,
    )
    with stage("write"):
        write_sweep(
            output,
            result,
            f"{spec.sheet} {spec.column}",
            run,
            varied_column=spec.column,
            issues=book.log.issues,
        )
    for record in result.totals.itertuples():
        click.echo(
            f"{record.value:8.3f}: lost value {usd(record.lost_value)}, "
            f"value service level {record.value_service_level:.1%}"
        )
    _finish(output, result.interrupted)


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--draws",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Number of Monte Carlo draws.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@whatif_options
@verbose_option
@handle_errors
def stress(
    workbook: Path,
    draws: int,
    seed: int,
    output: Path | None,
    overwrite: bool,
    time_limit: float | None,
    quiet: bool,
    jobs: int | None,
    scheduler: str | None,
    objective: ObjectiveMode,
) -> None:
    """Monte Carlo over approval rates: the distribution of lost value per sector.

    Rates are drawn triangular (approval_low, approval_rate, approval_high),
    one draw per regime and period shared by its materials. Same seed, same numbers.

    Example: exposure stress inputs/reference.xlsx --draws 1000 --seed 7
    """
    import time

    from exposure.pipeline import stage
    from exposure.scenario_results import write_stress
    from exposure.scenarios import run_stress

    book, output = _prepare(workbook, output, "stress", overwrite)
    started = time.perf_counter()
    with progress_bar(draws, quiet, "draws") as advance, stage("solve draws"):
        result = run_stress(
            book, workbook, draws, seed, objective, jobs, advance, time_limit, scheduler
        )
    run = _run_info(
        workbook,
        objective,
        seed=seed,
        draws=result.completed,
        seconds=round(time.perf_counter() - started, 3),
        partial=result.interrupted,
    )
    with stage("write"):
        write_stress(output, result, run, issues=book.log.issues)
    if result.sectors.empty:
        click.echo("no sectors: nothing to allocate, so nothing at risk")
    for record in result.sectors.sort_values("shortfall_at_risk", ascending=False).itertuples():
        click.echo(
            f"{record.sector}: shortfall at risk (P95) {usd(record.shortfall_at_risk)}, "
            f"P(below min service) {record.probability_below_min_service:.0%}"
        )
    _finish(output, result.interrupted)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--token",
    envvar="EXPOSURE_TOKEN",
    help="Require this bearer token for shared deployments. Visible to other users of "
    "this machine (ps): prefer the EXPOSURE_TOKEN environment variable or --token-file.",
)
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="EXPOSURE_TOKEN_FILE",
    help="Read the bearer token from the first line of this file (or EXPOSURE_TOKEN_FILE); "
    "make it readable by the server's user only.",
)
@verbose_option
@handle_errors
def serve(host: str, port: int, token: str | None, token_file: Path | None) -> None:
    """Start the upload page: planners run the calculator from a browser.

    SIGTERM or Ctrl-C stops it gracefully: finished results stay in the work
    folder and are served again after a restart.

    Example: EXPOSURE_TOKEN_FILE=/etc/exposure/token exposure serve --host 0.0.0.0
    """
    from exposure.errors import UsageError
    from exposure.web.server import serve as run_server
    from exposure.web.settings import read_token_file

    if token and token_file:
        raise UsageError("give the token once: --token (EXPOSURE_TOKEN) or --token-file")
    if token_file is not None:
        try:
            token = read_token_file(token_file)
        except ValueError as exc:  # unreadable or empty
            raise UsageError(str(exc)) from exc
    run_server(host=host, port=port, token=token)


# ------------------------------------------------------------------ scheduled reports
def _setup_report_logging(quiet: bool) -> None:
    """Plain, timestamped lines on stderr (cron mails them; journald stores them).

    -v (already applied) keeps its detail; --quiet leaves only warnings and errors.
    """
    logger = logging.getLogger("exposure")
    if quiet:
        logger.setLevel(logging.WARNING)
    elif not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--dry-run", is_flag=True, help="Check the config and input; solve and write nothing."
)
@click.option("-q", "--quiet", is_flag=True, help="Log only warnings and errors (for cron).")
@verbose_option
@handle_errors
def report(config: Path, dry_run: bool, quiet: bool) -> None:
    """Run a scheduled what-if report: dated workbook, history, changes, alerts.

    Exit 4 when the report was written but a threshold is breached; 75 when
    another run of the same report is in progress.

    Example: exposure report inputs/report-example.toml
    """
    from exposure.schedule.config import load_config
    from exposure.schedule.report import run_report

    _setup_report_logging(quiet)
    outcome = run_report(load_config(config), dry_run=dry_run)
    if outcome.report_path is not None and not quiet:
        click.echo(f"report: {outcome.report_path}")
    sys.exit(outcome.exit_code)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON list.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@verbose_option
@handle_errors
def history(config: Path, as_json: bool, limit: int) -> None:
    """List past runs of a scheduled report: time, input, status, headline KPIs.

    Example: exposure history inputs/report-example.toml --json
    """
    from exposure.schedule.config import load_config
    from exposure.schedule.history import History

    settings = load_config(config)
    store = History(settings.history)
    try:
        rows = []
        for run in store.runs(settings.name, limit):
            kpis = store.kpis(run.id)
            rows.append(
                {
                    "id": run.id,
                    "started_utc": run.started_utc,
                    "status": run.status,
                    "exit_code": run.exit_code,
                    "input_file": run.input_file,
                    "input_sha256": run.input_sha256,
                    "lost_value": kpis.get(("base", "", "lost_value")),
                    "value_service_level": kpis.get(("base", "", "value_service_level")),
                    "report_path": run.report_path,
                    "message": run.message,
                }
            )
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no runs of report '{settings.name}' yet")
        return
    for row in rows:
        lost_value, level_value = row["lost_value"], row["value_service_level"]
        lost = usd(float(lost_value)) if isinstance(lost_value, int | float) else "-"
        level = f"{level_value:.1%}" if isinstance(level_value, int | float) else "-"
        source = Path(str(row["input_file"])).name if row["input_file"] else "-"
        click.echo(
            f"{row['started_utc']}  {row['status']:<8}  {source:<28}  lost {lost:<16}  "
            f"value service {level}"
        )
