"""Solver outcomes as the project's own status, every HiGHS model status mapped on purpose."""

from __future__ import annotations

from enum import StrEnum

import highspy


class SolveStatus(StrEnum):
    """What the solver proved. Only OPTIMAL is a success."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NUMERICAL_TROUBLE = "numerical_trouble"
    ITERATION_LIMIT = "iteration_limit"
    INTERRUPTED = "interrupted"
    ERROR = "error"

    @property
    def ok(self) -> bool:
        return self is SolveStatus.OPTIMAL

    def explain(self) -> str:
        return _EXPLANATIONS[self]


_EXPLANATIONS = {
    SolveStatus.OPTIMAL: "solved to optimality",
    SolveStatus.TIME_LIMIT: "stopped at the time limit before proving an optimum; "
    "raise --time-limit",
    SolveStatus.INFEASIBLE: "no allocation satisfies the constraints",
    SolveStatus.UNBOUNDED: "the objective can improve without limit (a cost is negative?)",
    SolveStatus.NUMERICAL_TROUBLE: "the solver ran into numerical trouble; check for values "
    "that differ by many orders of magnitude",
    SolveStatus.ITERATION_LIMIT: "stopped at the iteration limit before proving an optimum",
    SolveStatus.INTERRUPTED: "interrupted before an optimum was proved",
    SolveStatus.ERROR: "the solver reported an error",
}

_MS = highspy.HighsModelStatus
HIGHS_STATUS: dict[highspy.HighsModelStatus, SolveStatus] = {
    _MS.kOptimal: SolveStatus.OPTIMAL,
    _MS.kInfeasible: SolveStatus.INFEASIBLE,
    _MS.kUnbounded: SolveStatus.UNBOUNDED,
    _MS.kUnboundedOrInfeasible: SolveStatus.INFEASIBLE,
    _MS.kTimeLimit: SolveStatus.TIME_LIMIT,
    _MS.kIterationLimit: SolveStatus.ITERATION_LIMIT,
    _MS.kInterrupt: SolveStatus.INTERRUPTED,
    _MS.kHighsInterrupt: SolveStatus.INTERRUPTED,  # type: ignore[attr-defined]  # not in stubs
    _MS.kMemoryLimit: SolveStatus.ERROR,
    _MS.kObjectiveBound: SolveStatus.NUMERICAL_TROUBLE,
    _MS.kObjectiveTarget: SolveStatus.NUMERICAL_TROUBLE,
    _MS.kSolutionLimit: SolveStatus.ITERATION_LIMIT,
    _MS.kNotset: SolveStatus.NUMERICAL_TROUBLE,
    _MS.kLoadError: SolveStatus.ERROR,
    _MS.kModelError: SolveStatus.ERROR,
    _MS.kPresolveError: SolveStatus.ERROR,
    _MS.kSolveError: SolveStatus.NUMERICAL_TROUBLE,
    _MS.kPostsolveError: SolveStatus.NUMERICAL_TROUBLE,
    _MS.kModelEmpty: SolveStatus.OPTIMAL,
    _MS.kUnknown: SolveStatus.NUMERICAL_TROUBLE,
}


def from_highs(status: highspy.HighsModelStatus) -> SolveStatus:
    """Map a HiGHS model status; an unmapped one is numerical trouble, never success."""
    return HIGHS_STATUS.get(status, SolveStatus.NUMERICAL_TROUBLE)
