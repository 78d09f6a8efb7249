"""One exception family for the whole application, each with its exit code.

Exit codes are those of the design (section 8): 2 invalid input, 3 solver did not
reach an optimum, 1 a bug. Messages say what to do next.
"""

from __future__ import annotations

from exposure.issues import Issue

EXIT_OK = 0
EXIT_BUG = 1
EXIT_INVALID_INPUT = 2
EXIT_NOT_OPTIMAL = 3
EXIT_THRESHOLD_BREACHED = 4


class ExposureError(Exception):
    """Base of every error the application raises on purpose."""

    exit_code = EXIT_BUG


class InputError(ExposureError):
    """The input workbook (or an option) is invalid; nothing was written.

    `issues` holds every problem found, errors and warnings alike.
    """

    exit_code = EXIT_INVALID_INPUT

    def __init__(self, issues: list[Issue], summary: str | None = None) -> None:
        self.issues = list(issues)
        errors = [i for i in self.issues if i.severity == "error"]
        if summary is None:
            summary = str(errors[0]) if len(errors) == 1 else f"{len(errors)} problems found"
        super().__init__(summary)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]


class UsageError(ExposureError):
    """A command was asked to do something it must refuse (e.g. overwrite its input)."""

    exit_code = EXIT_INVALID_INPUT


class OutputError(ExposureError):
    """The results file could not be written; any previous file is untouched."""

    exit_code = EXIT_BUG


class NotOptimalError(ExposureError):
    """The solver stopped without proving an optimum (time limit, numerical trouble)."""

    exit_code = EXIT_NOT_OPTIMAL
