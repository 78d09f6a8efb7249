"""Whether the optimal basis HiGHS holds stays optimal after bounds move, and the solution then.

A warm re-solve after a few bounds move often ends where it started: the basis HiGHS
holds is still optimal and the simplex does no iteration. HiGHS still spends its fixed
cost of a run on it (about 16 ms at 100k columns, measured: checking the model and the
KKT conditions, drawing its random vectors, copying the matrix row-wise), which is
most of a sensitivity re-solve. This module answers those re-solves without a run.

Bounds do not touch reduced costs, so after any move of bounds an optimal basis stays
dual feasible, and it stays optimal exactly while its basic solution stays within the
new bounds. That solution is one solve with HiGHS's own factor of the basis away:
nonbasic variables follow the bounds they sit at, and the basic ones take up the
difference. HiGHS pairs row i with a logical column +e_i whose value is minus the row
activity, so with column moves dx_N and moves dr_N of the activities of nonbasic rows

    B d = -A_N dx_N + dr_N,   and a basic row's activity moves by -d_i.

Where every basic value is inside its bounds (to a margin far below HiGHS's own
feasibility tolerance), the new solution is x + dx and its objective c'(x + dx): what
a re-solve from that basis reports after no iteration. Anywhere else (a basic value
past a bound: the basis must change) the caller runs HiGHS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

BASIC = int(highspy.HighsBasisStatus.kBasic)
# A basic value may end this far past a bound (relative to the bound, at least 1) and
# still count as inside: far below HiGHS's own primal feasibility tolerance (1e-7).
FEASIBILITY_MARGIN = 1e-9


@dataclass
class LpBounds:
    """The bounds an LP holds now (HiGHS indices), tracked beside it."""

    column_lower: np.ndarray
    column_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray

    def copy(self) -> LpBounds:
        return LpBounds(
            self.column_lower.copy(),
            self.column_upper.copy(),
            self.row_lower.copy(),
            self.row_upper.copy(),
        )


@dataclass
class KeptBasis:
    """An optimal basis HiGHS holds, with the solution and bounds it was optimal for."""

    highs: highspy.Highs
    objective: float  # HiGHS's objective at that solution (scaled units, offset included)
    # HiGHS's copy of that solution. Its values are read only where a check needs them:
    # highspy hands a vector over as a list, and a numpy array of all 100k column values
    # cost about 5 ms a capture, more than the check itself.
    solution: highspy.HighsSolution
    bounds: LpBounds  # the bounds the solution was optimal for (a copy)
    basic_is_column: np.ndarray  # per basic position (HiGHS's order): a column, or a row
    basic_columns: np.ndarray  # HiGHS columns of the positions that are columns, in order
    basic_rows: np.ndarray  # HiGHS rows of the other positions, in order
    # The lists highspy handed over for `solution`'s vectors, each asked for once.
    _lists: dict[str, list[float]] = field(default_factory=dict)

    def column_values(self, at: np.ndarray) -> np.ndarray:
        """The captured values of columns `at`."""
        return self._captured("col_value", at)

    def row_values(self, at: np.ndarray) -> np.ndarray:
        """The captured activities of rows `at`."""
        return self._captured("row_value", at)

    def _captured(self, vector: str, at: np.ndarray) -> np.ndarray:
        """Entries `at` of the captured solution's `vector` (col_value or row_value)."""
        if not at.size:
            return np.empty(0)
        values = self._lists.get(vector)
        if values is None:
            values = self._lists[vector] = getattr(self.solution, vector)
        return np.array([values[i] for i in at.tolist()], dtype=float)

    @classmethod
    def capture(cls, highs: highspy.Highs, bounds: LpBounds) -> KeptBasis | None:
        """The optimal basis `highs` holds after a run with `bounds`, or None if it has
        none to keep."""
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        status, basic = highs.getBasicVariables()
        if status != highspy.HighsStatus.kOk:
            return None
        basic = np.asarray(basic, dtype=np.int64)
        return cls(
            highs=highs,
            objective=float(highs.getInfo().objective_function_value),
            solution=highs.getSolution(),
            bounds=bounds.copy(),
            basic_is_column=basic >= 0,
            basic_columns=basic[basic >= 0],
            basic_rows=-1 - basic[basic < 0],
        )

    def objective_at(
        self, bounds: LpBounds, cost: np.ndarray, matrix: sp.csc_matrix
    ) -> float | None:
        """The objective with `bounds` if this basis stays optimal there; None where it
        does not (or cannot be shown to): HiGHS must run.

        `cost` and `matrix` are the LP's (unchanged since the capture: the caller's
        promise). HiGHS must still hold this basis's factor: no run since the capture.
        """
        moved_columns = np.flatnonzero(
            (bounds.column_lower != self.bounds.column_lower)
            | (bounds.column_upper != self.bounds.column_upper)
        )
        moved_rows = np.flatnonzero(
            (bounds.row_lower != self.bounds.row_lower)
            | (bounds.row_upper != self.bounds.row_upper)
        )
        column_shift = _nonbasic_shift(
            self.column_values(moved_columns),
            self.bounds.column_lower[moved_columns],
            self.bounds.column_upper[moved_columns],
            bounds.column_lower[moved_columns],
            bounds.column_upper[moved_columns],
            np.isin(moved_columns, self.basic_columns),
        )
        row_shift = _nonbasic_shift(
            self.row_values(moved_rows),
            self.bounds.row_lower[moved_rows],
            self.bounds.row_upper[moved_rows],
            bounds.row_lower[moved_rows],
            bounds.row_upper[moved_rows],
            np.isin(moved_rows, self.basic_rows),
        )
        if column_shift is None or row_shift is None:
            return None
        rhs = np.zeros(self.bounds.row_lower.size)
        if column_shift.any():
            shifted = moved_columns[column_shift != 0]
            rhs -= matrix[:, shifted] @ column_shift[column_shift != 0]
        rhs[moved_rows] += row_shift
        basic_shift = np.zeros(self.basic_is_column.size)
        if rhs.any():
            status, solved = self.highs.getBasisSolve(rhs)
            if status != highspy.HighsStatus.kOk:
                return None
            basic_shift = np.asarray(solved, dtype=float)
        columns, rows = self.basic_columns, self.basic_rows
        column_moves = basic_shift[self.basic_is_column]
        row_moves = -basic_shift[~self.basic_is_column]
        # Only what moved (a value or its bounds) is checked: the rest is as feasible as
        # at the capture, which HiGHS accepted.
        check = (column_moves != 0) | np.isin(columns, moved_columns)
        at = columns[check]
        value = self.column_values(at) + column_moves[check]
        if not _inside(value, bounds.column_lower[at], bounds.column_upper[at]):
            return None
        check = (row_moves != 0) | np.isin(rows, moved_rows)
        at = rows[check]
        value = self.row_values(at) + row_moves[check]
        if not _inside(value, bounds.row_lower[at], bounds.row_upper[at]):
            return None
        # Basic and moved nonbasic columns are apart: each term counts one move once.
        return (
            self.objective
            + float(np.dot(cost[moved_columns], column_shift))
            + float(np.dot(cost[columns], column_moves))
        )


def _nonbasic_shift(
    value: np.ndarray,
    old_lower: np.ndarray,
    old_upper: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    basic: np.ndarray,
) -> np.ndarray | None:
    """How far each moved variable moves if nonbasic (it follows the bound it sat at;
    basic ones get 0: the basis solve moves them). None if one cannot follow (its bound
    went to infinity) or would be left outside its other bound."""
    at_upper = ~basic & (np.abs(value - old_upper) <= np.abs(value - old_lower))
    at_lower = ~basic & ~at_upper
    target = np.where(at_upper, upper, np.where(at_lower, lower, value))
    if not np.all(np.isfinite(target)):
        return None
    nonbasic = ~basic
    if np.any(target[nonbasic] < lower[nonbasic]) or np.any(target[nonbasic] > upper[nonbasic]):
        return None
    return np.where(nonbasic, target - value, 0.0)


def _inside(value: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> bool:
    """Whether every value is within its bounds, up to the margin."""
    slack_low = FEASIBILITY_MARGIN * np.maximum(1.0, np.abs(lower))
    slack_high = FEASIBILITY_MARGIN * np.maximum(1.0, np.abs(upper))
    return bool(np.all(value >= lower - slack_low) and np.all(value <= upper + slack_high))
