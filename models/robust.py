"""One HiGHS run that does not give up on the first numerical hiccup (issue 15).

A warm re-solve starts from the previous basis. Rarely that basis leads HiGHS's
simplex into numerical trouble (seen: model status Unknown when a 104k-column
workbook was re-solved warm at approval 0, where a cold solve was optimal). So a
run that ends in a status that is neither optimal nor a limit the caller set is
retried: cold first (the basis and solution cleared), then cold with other
settings. Only when every retry fails is the status reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy

from models.status import SolveStatus, from_highs

INF = highspy.kHighsInf

# Statuses that are the caller's limits, not the solver's trouble: never retried.
NOT_RETRIED = frozenset(
    {
        SolveStatus.OPTIMAL,
        SolveStatus.TIME_LIMIT,
        SolveStatus.ITERATION_LIMIT,
        SolveStatus.INTERRUPTED,
    }
)
# Statuses a retry may overturn only if the caller asks (the model is always
# feasible, but a probe that is expected to be infeasible must stay cheap).
VERDICTS = frozenset({SolveStatus.INFEASIBLE, SolveStatus.UNBOUNDED})
PRESOLVE_TOGGLED = "presolve toggled"
# (name, options) of each retry after the warm run, in order; every retry starts cold.
RETRIES: tuple[tuple[str, dict[str, object]], ...] = (
    ("cold", {}),
    ("cold, primal simplex", {"simplex_strategy": 4}),
    (f"cold, {PRESOLVE_TOGGLED}", {}),
    ("cold, interior point with crossover", {"solver": "ipm", "run_crossover": "on"}),
)


@dataclass
class RunOutcome:
    """What one (possibly retried) run of a `Highs` object ended with."""

    status: SolveStatus
    iterations: int  # simplex iterations over every attempt
    retries: list[str] = field(default_factory=list)  # "cold", ...: the attempts after the first


def run_highs(
    highs: highspy.Highs,
    deadline: float | None,
    *,
    retry: bool = True,
    retry_verdicts: bool = True,
) -> RunOutcome:
    """Run `highs` warm; retry cold and with other settings if it ends in trouble.

    `deadline` is a `time.perf_counter()` instant (None: no limit). A time,
    iteration or interrupt limit is reported at once. Infeasible or unbounded
    are retried only with `retry_verdicts`; nothing is retried without `retry`.
    Options changed for a retry are restored afterwards, so nothing leaks into
    the next solve.
    """
    outcome = RunOutcome(*_attempt(highs, deadline))
    if not retry or not retryable(outcome.status, retry_verdicts):
        return outcome
    return retry_cold(highs, deadline, outcome)


def retryable(status: SolveStatus, retry_verdicts: bool = True) -> bool:
    """Whether a run that ended in `status` is worth another attempt."""
    return status not in NOT_RETRIED and (retry_verdicts or status not in VERDICTS)


def retry_cold(highs: highspy.Highs, deadline: float | None, outcome: RunOutcome) -> RunOutcome:
    """The cold retries of `run_highs`, added to `outcome` (returned)."""
    for name, settings in RETRIES:
        if deadline is not None and time.perf_counter() >= deadline:
            outcome.status = SolveStatus.TIME_LIMIT
            break
        if name.endswith(PRESOLVE_TOGGLED):
            _, presolve = highs.getOptionValue("presolve")
            options: dict[str, object] = {"presolve": "on" if presolve == "off" else "off"}
        else:
            options = settings
        status, iterations = run_cold(highs, deadline, options)
        outcome.retries.append(name)
        outcome.iterations += iterations
        outcome.status = status
        if status in NOT_RETRIED:
            break
    return outcome


def run_cold(
    highs: highspy.Highs, deadline: float | None, options: dict[str, object]
) -> tuple[SolveStatus, int]:
    """One run from scratch (basis and solution cleared) with `options` set for it only."""
    saved = {key: highs.getOptionValue(key)[1] for key in options}
    highs.clearSolver()
    try:
        for key, value in options.items():
            highs.setOptionValue(key, value)
        return _attempt(highs, deadline)
    finally:
        for key, value in saved.items():
            highs.setOptionValue(key, value)


def _attempt(highs: highspy.Highs, deadline: float | None) -> tuple[SolveStatus, int]:
    if deadline is None:
        highs.setOptionValue("time_limit", INF)
    else:
        # HiGHS compares its limit with the object's run time summed over every run(),
        # so the limit is that total plus what this solve may still use.
        remaining = max(deadline - time.perf_counter(), 0.0)
        highs.setOptionValue("time_limit", highs.getRunTime() + remaining)
    highs.run()
    status = from_highs(highs.getModelStatus())
    return status, int(highs.getInfo().simplex_iteration_count)
