"""The `exposure` command: a thin layer over the library, one function per command.

Exit codes (design section 8): 0 solved and written, 2 invalid input, 3 no
optimum, 1 a bug (short message plus the path of a log with the details).
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from exposure.errors import EXIT_BUG, EXIT_INVALID_INPUT, ExposureError, InputError
from exposure.issues import Issue

LOG = logging.getLogger("exposure")
CRASH_LOG = Path(tempfile.gettempdir()) / "exposure-crash.log"


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
            CRASH_LOG.write_text(traceback.format_exc(), encoding="utf-8")
            click.echo(
                f"internal error ({type(exc).__name__}: {exc}). This is a bug; details are in "
                f"{CRASH_LOG}. Run with -v to see them here.",
                err=True,
            )
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                traceback.print_exc()
            sys.exit(EXIT_BUG)

    return wrapper


def verbose_option(command: Callable[..., Any]) -> Callable[..., Any]:
    def set_verbosity(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
        level = logging.DEBUG if value >= 1 else logging.WARNING
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s")
        return value

    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=set_verbosity,
        help="Show more detail (timings, tracebacks of bugs).",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="exposure")
def main() -> None:
    """Rare-earth supply-chain exposure calculator.

    Allocates constrained rare-earth and magnet supply across sectors under
    export-licence approval rates, and reports what is lost.

    Example: exposure run inputs/reference.xlsx -o results.xlsx
    """


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
@verbose_option
@handle_errors
def run(
    workbook: Path | None,
    output: Path | None,
    objective: str,
    time_limit: float | None,
    overwrite: bool,
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
        source, output, objective=objective, time_limit=time_limit, overwrite=overwrite
    )
    click.echo(terminal_summary(result))
