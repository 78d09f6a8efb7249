"""Every "value of" figure by re-solving the one model already built (design section 6).

A figure is the fall in `objective_value` (USD) when one input moves, with
the fall in penalty (the soft-constraint violation V*) beside it, after the
whole lexicographic procedure (soft floors first, fair mode, then cost)
re-solves warm. Duals of the last phase are not used: they ignore that the
first phase takes extra tonnes to meet floors, and in fair mode they price a
level that the re-solve moves. What is measured:

- value of +1 percentage point of approval of a licence entry (regime,
  material, period), and of a whole Licences row (the lever a planner edits);
- value of one more tonne of a material in a period;
- value of relieving a limit: +1% of a capacity, or +1 pp of a licence;
- licence dependency, systemic: the share of each sector's built value lost
  when a regime's approval rates are all set to 0;
- break-even approval rate: the rate of one regime-material-period below
  which some sector falls short of its min_service because of it (or, where
  no floor is at stake, below which lost value rises by more than 1%),
  found on a 1/4096 grid of warm re-solves (regula falsi; every row answered).

Every function leaves the model holding the base numbers again.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import pandas as pd

from exposure import metrics
from exposure.whatif.changes import Change, Changes, LimitMap
from exposure.whatif.executors import HelpedRun, Helpers, ModelSpec, WarmModel, solve_tasks
from models.allocation import AllocationModel, QuickSolution, Solution
from models.data import ROW_KEYS, AllocationData, join_inputs

LOG = logging.getLogger("exposure.sensitivity")
APPROVAL_STEP = 0.01  # one percentage point
CAPACITY_STEP = 0.01  # one percent of a limit
BISECTION_STEPS = 12  # 1/4096 of the [0, 1] range: a hundredth of a percentage point
LOST_VALUE_THRESHOLD = 0.01  # "lost value rises by more than 1% of the base"
TOLERANCE = 1e-6
ROUND_OFF = 1e-9  # relative to the objective, and absolute for the penalty (a sum of shares)
# Break-even rates have no time budget by default: every Licences row is answered (issue
# 14). A caller may still pass one to `licence_table`; rows past it are marked skipped.
BREAK_EVEN_BUDGET_SECONDS: float | None = None
# The "value of" re-solves of one run (beside break-even rates) stop here; the rest are
# marked skipped rather than holding the run up. Licences come first, then materials,
# dependency and the limits behind Binding and Why short.
RESOLVE_BUDGET_SECONDS = 300.0
# With `jobs` above 1, helper processes are started as the Resolver is made (they build
# the model while the licence rows are measured here) when the base solve took at least
# this long: below it, starting them costs more than a batch they could share.
PRESTART_SOLVE_SECONDS = 1.0
RESOLVE_METHOD = "re-solve of the whole procedure (warm)"
DUAL_METHOD = "dual, proven equal to the re-solve (priority, no floor missed, step in range)"
# A step counts as inside the basis's range only with this much room to spare (relative).
RANGE_MARGIN = 1e-9
LICENCE_COLUMNS = [
    "regime",
    "material",
    "period",
    "lanes",
    "approval_rate",
    "capacity",
    "licensed_t",
    "used_t",
    "value_of_1pp",
    "penalty_change_1pp",
    "value_method",
    "break_even_rate",
    "criterion",
    "method",
    "approval_cell",
]
LEVER_COLUMNS = [
    "regime",
    "material",
    "periods",
    "approval_cell",
    "value_of_1pp",
    "penalty_change_1pp",
    "value_method",
]


@dataclass(frozen=True)
class Effect:
    """What one step did against the base: falls in objective [USD] and in penalty."""

    value: float  # USD saved (base objective - new objective); NaN if the re-solve failed
    penalty_change: float  # fall in penalty V* (sum of soft-constraint gap shares)
    method: str


UPPER = int(highspy.HighsBasisStatus.kUpper)
BASIC = int(highspy.HighsBasisStatus.kBasic)


@dataclass(frozen=True)
class _Ranging:
    """What HiGHS's ranging says of the base optimum of the cost phase (scaled objective)."""

    objective: float
    col_status: np.ndarray
    row_status: np.ndarray
    col_up_value: np.ndarray  # a column's upper bound may rise to here with the same basis
    col_up_objective: np.ndarray  # ... where the objective is this
    row_dn_value: np.ndarray  # a row's bounds may fall to here with the same basis
    row_dn_objective: np.ndarray


class Resolver:
    """Measures what changes to the typed tables are worth, by re-solving the built model.

    A step (+1 pp of approval on some rows, +1% of some capacities, a licence's rate
    set) is a list of changes (`exposure.whatif.changes`), the same currency as a
    what-if scenario. Its numbers are licensed capacities only (`LimitMap`), so HiGHS
    starts from the previous basis and the model's structure is never touched; every
    solve leaves the model holding the base numbers again. Where the base basis
    provably stays optimal the duals answer (`_shortcut_columns`); the rest are
    re-solved, here or, with `jobs` above 1 and when it pays, in worker processes
    (`exposure.whatif.executors.solve_tasks`), each holding the same model warm.
    """

    def __init__(
        self,
        model: AllocationModel,
        base: Solution,
        budget_seconds: float = RESOLVE_BUDGET_SECONDS,
        jobs: int | None = None,
    ) -> None:
        self.model = model
        self.base = base
        self.budget_seconds = budget_seconds
        self.jobs = jobs
        self.started = time.perf_counter()
        self._memo: dict[Changes, Effect] = {}
        self.limits = LimitMap.of(model.data)
        self.base_numbers = self.limits.numbers_for(Changes(()))
        self.supply_limit = model.numbers.supply_limit.copy()
        self.plant_limit = model.numbers.plant_limit.copy()
        self.balance_rhs = model.numbers.balance_rhs.copy()
        data = model.data
        _, self.supply_approval, _, self.plant_approval = self.base_numbers
        # Row keys (ROW_KEYS) of every supply and plant row: a step names rows by them.
        self.row_keys = {
            table: list(zip(*(frame[k] for k in ROW_KEYS[table]), strict=True))
            for table, frame in (("supply", data.supply), ("plants", data.plants))
        }
        # One `Change` per capacity step of a key (and one match per row key), shared by
        # every step that names it: the single-row steps and the Binding sheet's steps
        # name the same keys, and the memo keeps all of them to the end of the run.
        self._capacity_changes: dict[tuple[str, tuple, float], Change] = {}
        self._row_matches: dict[tuple[str, int], tuple[tuple[str, tuple], ...]] = {}
        # Rows whose capacity lanes share (a row of the LP, not a column bound).
        self.grouped = {}
        for table, frame, groups in (
            ("supply", data.supply, model.structure.supply_groups),
            ("plants", data.plants, model.structure.plant_groups),
        ):
            self.grouped[table] = np.zeros(len(frame), dtype=bool)
            self.grouped[table][[r for g in groups for r in g]] = True
        self.resolves = 0
        self.shortcuts = 0
        self.kept_answers = 0  # re-solves the basis HiGHS held answered without a run
        self.executor = "serial"
        self._ranging = self._base_ranging()
        # The base's bases, for workers to start from (read before any re-solve moves them).
        self._bases = model.bases() if jobs is not None and jobs > 1 else None
        self.helpers: Helpers | None = None
        # Steps handed to the helpers (`hand_out`), as a list and a set, and their run.
        self._handed_out: tuple[list[Changes], frozenset[Changes], HelpedRun] | None = None
        helpers = min(jobs or 1, os.cpu_count() or 1) - 1
        if helpers > 0 and base.solve_seconds >= PRESTART_SOLVE_SECONDS:
            self.helpers = Helpers(self._spec(), helpers)

    def close(self) -> None:
        """Let any helper processes go."""
        if self.helpers is not None:
            self.helpers.close()
            self.helpers = None

    def _spec(self) -> ModelSpec:
        """What a worker builds: the model of the base tables, from the base's bases."""
        return ModelSpec(
            self.model.data,
            self.model.objective,
            raise_failures=False,
            read_built=False,
            bases=self._bases,
        )

    # ------------------------------------------------------------------ steps
    def approval_step(
        self, supply_rows: np.ndarray, plant_rows: np.ndarray, step: float = APPROVAL_STEP
    ) -> Changes:
        """+`step` of approval (capped at 1) on the given supply and plant rows (positions)."""
        items = []
        for table, rows, approval in (
            ("supply", supply_rows, self.supply_approval),
            ("plants", plant_rows, self.plant_approval),
        ):
            for row in np.asarray(rows, dtype=int).tolist():
                raised = min(float(approval[row]) + step, 1.0)
                if raised != approval[row]:
                    items.append(self._row_change(table, row, "approval", "set", raised))
        return Changes(tuple(items))

    def capacity_step(
        self, supply_rows: np.ndarray, plant_rows: np.ndarray, fraction: float = CAPACITY_STEP
    ) -> Changes:
        """+`fraction` of the capacity of the given supply and plant rows (positions).

        A source's capacity is shared by its lanes: the change names the source, material
        and period (a plant and period), so every lane row of it moves, as it would if
        the Supply cell were raised.
        """
        items = []
        for table, rows in (("supply", supply_rows), ("plants", plant_rows)):
            keys = dict.fromkeys(
                self.row_keys[table][row][:-1] for row in np.asarray(rows, dtype=int).tolist()
            )
            items += [self._capacity_change(table, key, fraction) for key in keys]
        return Changes(tuple(items))

    def _capacity_change(self, table: str, key: tuple, fraction: float) -> Change:
        """+`fraction` of the capacity of `key` (a row key without the lane), made once."""
        change = self._capacity_changes.get((table, key, fraction))
        if change is None:
            shared = ROW_KEYS[table][:-1]
            match = tuple((column, (value,)) for column, value in zip(shared, key, strict=True))
            change = Change(table, "capacity", match, "scale", 1 + fraction)
            self._capacity_changes[table, key, fraction] = change
        return change

    def _row_change(
        self, table: str, row: int, column: str, operation: str, value: float
    ) -> Change:
        match = self._row_matches.get((table, row))
        if match is None:
            key = self.row_keys[table][row]
            match = tuple((c, (v,)) for c, v in zip(ROW_KEYS[table], key, strict=True))
            self._row_matches[table, row] = match
        return Change(table, column, match, operation, value)

    # ---------------------------------------------------------------- measure
    def raise_approval(
        self, supply_rows: np.ndarray, plant_rows: np.ndarray, step: float = APPROVAL_STEP
    ) -> Effect:
        """The effect of +`step` of approval (capped at 1) on the given rows."""
        return self.measure(self.approval_step(supply_rows, plant_rows, step))

    def raise_capacity(
        self, supply_rows: np.ndarray, plant_rows: np.ndarray, fraction: float = CAPACITY_STEP
    ) -> Effect:
        """The effect of +`fraction` of the capacity of the given rows (and their lanes)."""
        return self.measure(self.capacity_step(supply_rows, plant_rows, fraction))

    def measure(self, changes: Changes) -> Effect:
        """Falls in objective [USD] and penalty when `changes` apply and all re-solves."""
        return self.measure_many([changes])[0]

    def measure_many(self, steps: Sequence[Changes]) -> list[Effect]:
        """The effect of each step, in order: by the duals where provably exact, else by
        re-solves, which run in worker processes when `jobs` allows and that pays."""
        pending = self._pending(steps)
        if self._handed_out is not None and not self._handed_out[1].isdisjoint(pending):
            handed, _, run = self._handed_out
            self._handed_out = None
            for changes, outcome in zip(handed, self._solve_all(handed, run), strict=True):
                self._memo[changes] = self._effect(outcome)
            pending = [changes for changes in pending if changes not in self._memo]
        if pending:
            for changes, outcome in zip(pending, self._solve_all(pending), strict=True):
                self._memo[changes] = self._effect(outcome)
        return [self._memo[changes] for changes in steps]

    def hand_out(self, steps: Sequence[Changes]) -> None:
        """Start measuring `steps` on the helpers now, while this process does other
        work; the `measure_many` that next needs a re-solve collects them (solving here,
        from the front, what no helper has begun). Without helpers started ahead, nothing."""
        if self.helpers is None or self._handed_out is not None:
            return
        pending = self._pending(steps)
        if not pending:
            return
        warm = WarmModel(self._spec(), self.model, self.limits)
        run = HelpedRun(
            warm,
            pending,
            self.helpers.count,
            self._spec,
            None,
            self.started + self.budget_seconds,
            self.helpers,
        )
        run.hand_out()
        self._handed_out = (pending, frozenset(pending), run)

    def _pending(self, steps: Sequence[Changes]) -> list[Changes]:
        """The steps (each once) that neither the memo nor the duals answer: re-solves."""
        pending: dict[Changes, None] = {}
        for changes in steps:
            if changes in self._memo or changes in pending:
                continue
            if not changes.items:
                self._memo[changes] = Effect(0.0, 0.0, "approval already 100%")
                continue
            found = self._shortcut_columns(*self._moved_columns(changes))
            if found is not None:
                self._memo[changes] = found
            else:
                pending[changes] = None
        return list(pending)

    def solve(self, changes: Changes) -> QuickSolution:
        """The re-solved objective, penalty and built units [units] with `changes` applied."""
        self.resolves += 1
        self.model.set_capacities(*self.limits.numbers_for(changes))
        try:
            solution = self.model.solve_quick()
            self.kept_answers += solution.kept_basis
            return solution
        finally:
            self._restore()

    def _solve_all(
        self, steps: list[Changes], handed: HelpedRun | None = None
    ) -> list[QuickSolution | None]:
        """Objective-only re-solves of `steps` (None: past the budget), here or in workers
        (`handed`: the run `hand_out` started for them)."""
        if handed is None and time.perf_counter() - self.started > self.budget_seconds:
            return [None] * len(steps)
        started = time.perf_counter()
        outcomes, where = self._solve_batch(steps, handed)
        if where != "serial":
            self.executor = where  # where any batch went beyond this process
        solved = sum(outcome is not None for outcome in outcomes)
        kept = sum(outcome is not None and outcome.kept_basis for outcome in outcomes)
        self.resolves += solved
        self.kept_answers += kept
        LOG.info(
            "%d of %d re-solves in %.2f s (%s; %d answered by the basis held, without a run)",
            solved,
            len(steps),
            time.perf_counter() - started,
            where,
            kept,
        )
        return outcomes

    def _solve_batch(
        self, steps: list[Changes], handed: HelpedRun | None = None
    ) -> tuple[list[QuickSolution | None], str]:
        """Objective-only re-solves of `steps` on the executor `jobs` allows, and its name:
        this process, or workers that build the model and start from the base's bases
        (their first solve a warm one, like the probes timed here). Past the budget only a
        prefix comes back; the rest are None (skipped)."""
        try:
            if handed is not None:
                solutions, interrupted, where = handed.run()
            else:
                solutions, interrupted, where = solve_tasks(
                    WarmModel(self._spec(), self.model, self.limits),
                    steps,
                    self.jobs,
                    deadline=self.started + self.budget_seconds,
                    helpers=self.helpers,
                )
        finally:
            self._restore()
        if interrupted:
            raise KeyboardInterrupt
        return [*solutions, *[None] * (len(steps) - len(solutions))], where

    def _restore(self) -> None:
        """Put the base numbers back."""
        self.model.set_capacities(*self.base_numbers)
        self.model.set_balance_rhs(self.balance_rhs)

    def _effect(self, outcome: QuickSolution | None) -> Effect:
        if outcome is None:
            return Effect(math.nan, math.nan, f"skipped: over the {self.budget_seconds:g} s budget")
        if not outcome.status.ok:
            return Effect(math.nan, math.nan, f"re-solve failed: {outcome.status.explain()}")
        value = self.base.objective_value - outcome.objective_value
        penalty = self.base.violation - outcome.violation
        # Differences at round-off level are no change: a planner should not read 2e-16.
        if abs(value) <= ROUND_OFF * max(1.0, abs(self.base.objective_value)):
            value = 0.0
        if abs(penalty) <= ROUND_OFF:
            penalty = 0.0
        return Effect(value, penalty, RESOLVE_METHOD)

    def add_tonne(self, stock_position: int, tonnes: float = 1.0) -> Effect:
        """`tonnes` more of one material arriving in one period (balance row of stock key).

        Not a change to a table: a tonne arriving in a later period is no input cell (in
        the first it is one more tonne of initial stock), so the balance row moves itself.
        """
        rhs = self.balance_rhs.copy()
        rhs[stock_position] -= tonnes
        row = int(self.model.rows["balance"][stock_position])
        found = self._shortcut_row(
            row, float(self.balance_rhs[stock_position]), rhs[stock_position]
        )
        if found is not None:
            return found
        if time.perf_counter() - self.started > self.budget_seconds:
            return self._effect(None)
        self.resolves += 1
        self.model.set_balance_rhs(rhs)
        try:
            solution = self.model.solve_quick(read_built=False)
            self.kept_answers += solution.kept_basis
            return self._effect(solution)
        finally:
            self._restore()

    # ------------------------------------------------------------- the duals
    def _base_ranging(self) -> _Ranging | None:
        """HiGHS ranging of the base optimum, where a dual provably equals the re-solve.

        That holds in priority mode with every floor met (V* = 0, which more supply keeps
        at 0): the cost phase alone moves, and within the range of its basis its
        objective is linear in one bound or right-hand side. Fair mode's levels and a
        missed floor move with the input, so there every figure is re-solved.
        """
        if self.model.objective != "priority" or self.base.violation > TOLERANCE:
            return None
        highs = self.model.highs
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            # Numbers moved since the base was solved (and were put back): solve it again,
            # warm, so that the ranging is that of the base optimum.
            self.model.solve_quick(read_built=False)
            if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return None
        status, ranging = highs.getRanging()
        if status != highspy.HighsStatus.kOk or not ranging.valid:
            return None
        basis = highs.getBasis()
        return _Ranging(
            objective=float(highs.getInfo().objective_function_value),
            col_status=np.array([int(s) for s in basis.col_status]),
            row_status=np.array([int(s) for s in basis.row_status]),
            col_up_value=np.asarray(ranging.col_bound_up.value_, dtype=float),
            col_up_objective=np.asarray(ranging.col_bound_up.objective_, dtype=float),
            row_dn_value=np.asarray(ranging.row_bound_dn.value_, dtype=float),
            row_dn_objective=np.asarray(ranging.row_bound_dn.objective_, dtype=float),
        )

    def _moved_columns(self, changes: Changes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(HiGHS columns, old uppers, new uppers) of the licensed capacities `changes` move,
        computed on the rows they touch only; no columns at all when a capacity that lanes
        share moves (a row, not a column bound: re-solved)."""
        rows = self.limits.touched_rows(changes)
        supply_capacity, supply_approval, plant_capacity, plant_approval = self.limits.numbers_at(
            changes, rows
        )
        none = np.zeros(0, dtype=int), np.zeros(0), np.zeros(0)
        columns, old, new = [], [], []
        for table, capacity, approval, base_limit, column in (
            ("supply", supply_capacity, supply_approval, self.supply_limit, "buy"),
            ("plants", plant_capacity, plant_approval, self.plant_limit, "make"),
        ):
            at = rows[table]
            if not at.size:
                continue
            base_capacity = self.base_numbers[0 if table == "supply" else 2][at]
            if (self.grouped[table][at] & (capacity != base_capacity)).any():
                return none
            limit = capacity * approval  # as `licensed_limits` computes it
            moved = limit != base_limit[at]
            columns.append(np.asarray(self.model.columns[column], dtype=int)[at[moved]])
            old.append(base_limit[at[moved]])
            new.append(limit[moved])
        if not columns:
            return none
        return np.concatenate(columns), np.concatenate(old), np.concatenate(new)

    def _shortcut_columns(
        self, columns: np.ndarray, old: np.ndarray, new: np.ndarray
    ) -> Effect | None:
        """The change from raising the upper bounds of `columns` from `old` to `new` at
        once, by the duals, where provably exact; None where a re-solve must answer.

        Ranging gives, for each column alone, the bound `end` up to which the base basis
        stays optimal. Bounds do not touch reduced costs, so the basis stays optimal
        exactly while it stays primal feasible, and the moves that keep it feasible form a
        convex set holding 0 and each column's move to `end`. A joint move whose shares
        of those ranges sum to at most 1 is a convex combination of them, so it is inside,
        and there the objective is linear: the sum of each column's slope times its step.
        """
        ranging = self._ranging
        if ranging is None or not len(columns):
            return None
        if (ranging.col_status[columns] != UPPER).any() or (new < old).any():
            return None
        end = ranging.col_up_value[columns]
        end_objective = ranging.col_up_objective[columns]
        if not (np.isfinite(end).all() and np.isfinite(end_objective).all()):
            return None  # no finite end to measure a slope with: re-solve
        room = end - RANGE_MARGIN * np.maximum(1.0, np.abs(end)) - old
        if (room <= 0).any() or float(((new - old) / room).sum()) > 1.0:
            return None
        slope = (end_objective - ranging.objective) / (end - old)  # scaled objective per t
        self.shortcuts += 1
        value = -float(np.dot(slope, new - old)) * self.model.scale
        if abs(value) <= ROUND_OFF * max(1.0, abs(self.base.objective_value)):
            value = 0.0
        return Effect(value, 0.0, DUAL_METHOD)

    def _shortcut_row(self, index: int, old: float, new: float) -> Effect | None:
        """The change from moving one row's bounds down from `old` to `new`, by the
        dual, where provably exact (inside the row's range of the base basis)."""
        ranging = self._ranging
        if ranging is None or new == old:
            return None
        if ranging.row_status[index] == BASIC or new > old:
            return None
        end, end_objective = ranging.row_dn_value[index], ranging.row_dn_objective[index]
        if not (math.isfinite(end) and math.isfinite(end_objective)):
            return None
        if not (old > end and new >= end + RANGE_MARGIN * max(1.0, abs(end))):
            return None
        slope = (end_objective - ranging.objective) / (end - old)  # scaled objective per t
        self.shortcuts += 1
        value = -slope * (new - old) * self.model.scale
        if abs(value) <= ROUND_OFF * max(1.0, abs(self.base.objective_value)):
            value = 0.0
        return Effect(value, 0.0, DUAL_METHOD)


# --------------------------------------------------------------- licence rows
def licensed_rows(data: AllocationData) -> pd.DataFrame:
    """Supply and plant rows that take their approval from a Licences row.

    Columns: kind (supply/plant), position (row in its table), regime, material,
    period, capacity, approval, licence_row, approval_cell.
    """
    frames = []
    tables = (("supply", data.supply, "material"), ("plant", data.plants, "output"))
    names = {"supply": "source", "plant": "plant"}
    for kind, table, material in tables:
        if table.empty:
            continue
        controlled = table["regime"].notna() & table["licence_row"].notna()
        rows = table.loc[controlled]
        frames.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "position": np.flatnonzero(controlled.to_numpy()),
                    "regime": rows["regime"].to_numpy(),
                    "material": rows[material].to_numpy(),
                    "period": rows["period"].to_numpy(),
                    "capacity": rows["capacity"].to_numpy(float),
                    "approval": rows["approval"].to_numpy(float),
                    "licence_row": rows["licence_row"].to_numpy(),
                    "lane": rows.get("lane", pd.Series("", index=rows.index)).to_numpy(),
                    "name": rows[names[kind]].to_numpy(),
                    "approval_cell": data.cell(
                        "supply" if kind == "supply" else "plants", "approval"
                    )
                    .loc[rows.index]
                    .to_numpy(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            columns=[
                "kind",
                "position",
                "regime",
                "material",
                "period",
                "capacity",
                "approval",
                "licence_row",
                "lane",
                "name",
                "approval_cell",
            ]
        )
    return pd.concat(frames, ignore_index=True)


def _positions(group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    supply = group.loc[group["kind"] == "supply", "position"].to_numpy(int)
    plants = group.loc[group["kind"] == "plant", "position"].to_numpy(int)
    return supply, plants


# ------------------------------------------------------------- dependency
def with_approval(
    data: AllocationData,
    regime: str,
    rate: float,
    material: str | None = None,
    period: str | None = None,
) -> AllocationData:
    """A copy of `data` with the approval of a regime (optionally one material, period) set."""
    supply = data.supply.copy()
    plants = data.plants.copy()
    mask = supply["regime"] == regime
    plant_mask = plants["regime"] == regime
    if material is not None:
        mask &= supply["material"] == material
        plant_mask &= plants["output"] == material
    if period is not None:
        mask &= supply["period"] == period
        plant_mask &= plants["period"] == period
    # Only materials the regime lists are controlled: rows it does not list keep approval 1.
    mask &= supply["licence_row"].notna()
    plant_mask &= plants["licence_row"].notna()
    supply.loc[mask, "approval"] = rate
    plants.loc[plant_mask, "approval"] = rate
    changed = AllocationData(**vars(data))
    changed.supply = supply
    changed.plants = plants
    return changed


def solve_with(model: AllocationModel, data: AllocationData) -> Solution:
    """Update the model to `data` and solve it in full (the independent check path)."""
    model.update(data)
    solution = model.solve()
    if not solution.status.ok:
        raise RuntimeError(f"re-solve failed: {solution.message}")
    return solution


def regimes_of(data: AllocationData) -> list[str]:
    """Regimes that some supply or plant row ships under."""
    columns = [t["regime"] for t in (data.supply, data.plants) if "regime" in t]
    return sorted({r for column in columns for r in column.dropna()})


def _built_value(products: pd.DataFrame, built: np.ndarray) -> np.ndarray:
    units = products["units"].to_numpy(float)
    values = products["value_per_unit"].to_numpy(float)
    return (units - metrics.lost_units(units, np.minimum(built, units))) * values


def licence_dependency(
    model: AllocationModel, base: Solution, resolver: Resolver | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(by sector, by product): share of built value lost when a regime approves nothing.

    This is the systemic dependency: everything re-solves, so supply from other
    origins moves to where it is worth most. Regimes whose re-solve fails are
    marked NaN rather than stopping the run.
    """
    data = model.data
    resolver = resolver or Resolver(model, base)
    products = base.products[["sector", "product", "units", "value_per_unit"]]
    base_value = _built_value(products, base.products["built"].to_numpy(float))
    frames = []
    for regime in regimes_of(data):
        # The regime approves nothing: every licence of it at rate 0.
        outcome = resolver.solve(
            Changes((Change("licences", "rate", (("regime", (regime,)),), "set", 0.0),))
        )
        without = (
            _built_value(products, outcome.built)
            if outcome.status.ok
            else np.full(len(products), np.nan)
        )
        frames.append(
            products[["sector", "product"]].assign(
                regime=regime, built_value=base_value, built_value_without_regime=without
            )
        )
    columns = ["regime", "built_value", "built_value_without_regime"]
    keys = ["sector", "product"]
    if not frames:
        empty = pd.DataFrame(columns=[*keys, *columns, "licence_dependency"])
        return empty.drop(columns="product"), empty
    rows = pd.concat(frames, ignore_index=True)
    by_product = rows.groupby(["sector", "product", "regime"], sort=False, as_index=False)[
        ["built_value", "built_value_without_regime"]
    ].sum(min_count=1)
    by_sector = rows.groupby(["sector", "regime"], sort=False, as_index=False)[
        ["built_value", "built_value_without_regime"]
    ].sum(min_count=1)
    for frame in (by_product, by_sector):
        lost = (frame["built_value"] - frame["built_value_without_regime"]).clip(lower=0)
        frame["licence_dependency"] = (lost / frame["built_value"]).where(
            frame["built_value"] > 0, 0.0
        )
        frame.loc[frame["built_value_without_regime"].isna(), "licence_dependency"] = np.nan
        frame["licence_dependency_systemic"] = frame["licence_dependency"]
    return by_sector, by_product


# ------------------------------------------------------------ break-even rate
def _lost_value(products: pd.DataFrame, built: np.ndarray) -> float:
    units = products["units"].to_numpy(float)
    values = products["value_per_unit"].to_numpy(float)
    return float(metrics.lost_value(units, np.minimum(built, units), values).sum())


RATE_GRID = 2**BISECTION_STEPS  # break-even rates are multiples of 1/4096
BREAK_EVEN_METHOD = "grid search on warm re-solves (regula falsi, Illinois; 1/4096)"
UNUSED_TONNES = 1e-9  # a licence whose base flows are all below this ships nothing
SLOPE_SIGNAL = 1e-3  # a chord needs the fine end this far below 0, relative to the worse end


def break_even_rate(
    model: AllocationModel,
    regime: str,
    material: str,
    period: str,
    base: Solution,
    rows: tuple[np.ndarray, np.ndarray] | None = None,
    resolver: Resolver | None = None,
) -> tuple[float, str]:
    """(rate, criterion): the approval rate below which things get worse.

    Criterion `min_service` when lowering this approval can break a sector's floor
    (the penalty at rate 0 exceeds the penalty at 100%), else `lost_value+1%` (lost
    value more than 1% above the base's). NaN when even 100% approval does not meet it;
    0 when no rate does harm; NaN with a `re-solve failed` criterion when a re-solve
    cannot be completed. `rows` (supply and plant positions) narrows it to one Licences
    row's lanes; by default every lane of the regime-material-period moves.

    Precision: the rate is a multiple k/4096 of the grid of `BISECTION_STEPS` = 12
    halvings, the one a 12-step bisection of [0, 1] returns. It is the smallest grid
    rate not worse, with the grid rate 1/4096 below it worse, each as a warm re-solve
    says, so the true threshold lies within 1/4096 (a hundredth of a percentage point)
    below the rate returned. Two facts are used without a re-solve: the base solution
    itself (its rate is not worse for `lost_value+1%`; for `min_service` it is worse or
    not as its penalty says), and that the least penalty cannot rise when an approval
    rises (more supply only widens the feasible set), so a base penalty of 0 is the
    penalty at 100% too, and a grid rate above a rate with the floors met meets them.
    A licence that ships nothing in the base loses nothing at rate 0: the base optimum
    stays feasible, so the answer is 0 without a re-solve.

    The search (`_grid_search`) brackets the threshold between rate 0 (or the base)
    and the base (or 100%), and picks each next grid rate by regula falsi with the
    Illinois modification, or by extending the line through the last two worse rates
    (exact on the last linear piece of a convex piecewise-linear curve, as an LP's
    penalty is), halving the bracket instead when a step gains too little. Every
    measure is piecewise linear in the rate, so a few re-solves usually find the
    piece: about 3 to 6 per row against the 14 of plain bisection.
    """
    if rows is None:
        licensed = licensed_rows(model.data)
        own = licensed[
            (licensed["regime"] == regime)
            & (licensed["material"] == material)
            & (licensed["period"] == period)
        ]
        rows = _positions(own)
    supply_rows, plant_rows = rows
    resolver = resolver or Resolver(model, base)
    products = base.products
    base_lost = _lost_value(products, base.products["built"].to_numpy(float))
    base_rate = _base_rate(resolver, supply_rows, plant_rows)

    class ResolveFailedError(Exception):
        pass

    keys = dict.fromkeys(
        [resolver.limits.supply_key[r] for r in np.asarray(supply_rows, dtype=int).tolist()]
        + [resolver.limits.plant_key[r] for r in np.asarray(plant_rows, dtype=int).tolist()]
    )

    def at(rate: float) -> tuple[float, float]:
        """(violation, lost value) with this licence's approval at `rate`."""
        outcome = resolver.solve(
            Changes(
                tuple(
                    Change(
                        "licences", "rate", (("licence_row", (row,)), ("period", (t,))), "set", rate
                    )
                    for row, t in (key for key in keys if key is not None)
                )
            )
        )
        if not outcome.status.ok:
            raise ResolveFailedError(outcome.status.explain())
        return outcome.violation, _lost_value(products, outcome.built)

    used = np.concatenate(
        [
            base.supply["buy"].to_numpy(float)[supply_rows],
            base.plants["make"].to_numpy(float)[plant_rows],
        ]
    )
    try:
        full_violation = 0.0 if base.violation == 0.0 else at(1.0)[0]
        # A licence that ships nothing: the base optimum stays feasible and optimal at 0.
        shipped = bool(np.any(used > UNUSED_TONNES))
        none = at(0.0) if shipped else (base.violation, base_lost)
        if none[0] > full_violation + TOLERANCE:
            criterion = "min_service"
            ceiling = full_violation + TOLERANCE

            def excess(outcome: tuple[float, float]) -> float:
                return outcome[0] - ceiling

            base_excess = base.violation - ceiling
        else:
            criterion = "lost_value+1%"
            ceiling = base_lost * (1 + LOST_VALUE_THRESHOLD) + TOLERANCE

            def excess(outcome: tuple[float, float]) -> float:
                return outcome[1] - ceiling

            base_excess = base_lost - ceiling
        if excess(none) <= 0:
            return 0.0, criterion
        # Known points (grid index, excess); excess > 0 is worse. Monotone: worse below a
        # worse rate, fine above a fine one.
        known: dict[int, float] = {0: excess(none)}
        rate_index = base_rate * RATE_GRID
        verify: set[int] = set()  # grid points taken from the base, to confirm by re-solve
        if base_excess <= 0:
            high = min(math.ceil(rate_index), RATE_GRID)
            known.setdefault(high, base_excess)
            if high != rate_index and criterion == "lost_value+1%":
                verify.add(high)  # lost value is not provably monotone: re-solve it at the end
            low = 0
        else:  # the base itself misses a floor that 100% approval meets
            low = max(math.floor(rate_index), 0)
            known.setdefault(low, base_excess)
            high = RATE_GRID
            known.setdefault(high, excess((full_violation, math.nan)))

        def evaluate(index: int) -> float:
            return excess(at(index / RATE_GRID))

        first = math.nan
        if criterion == "lost_value+1%" and base_excess <= 0:
            # Warm bracketing: the value of +1 pp (memoised: the Licences sheet asked for
            # it first) is the objective's slope just above the base, and lost value
            # dominates the objective. By convexity the slope below the base is at least
            # as steep, so the line lands on the worse side near the threshold.
            step = resolver.raise_approval(supply_rows, plant_rows)
            if math.isfinite(step.value) and step.value > 0 and step.penalty_change == 0:
                first = (base_rate + base_excess * APPROVAL_STEP / step.value) * RATE_GRID
        rate = _grid_search(known, low, high, evaluate, verify, first)
        if rate is None:  # even 100% approval is worse (lost value rose with approval)
            return math.nan, criterion
        return rate / RATE_GRID, criterion
    except ResolveFailedError as failure:
        return math.nan, f"re-solve failed: {failure}"


def _base_rate(resolver: Resolver, supply_rows: np.ndarray, plant_rows: np.ndarray) -> float:
    """The base approval rate of a licence's rows (they share one rate)."""
    rates = np.concatenate(
        [resolver.supply_approval[supply_rows], resolver.plant_approval[plant_rows]]
    )
    return float(rates.max()) if len(rates) else 1.0


def _next_index(
    known: dict[int, float], low: int, high: int, g_low: float, g_high: float, bisect: bool
) -> int:
    """The next grid index to re-solve, strictly inside (low, high)."""
    estimate = math.nan
    worse = sorted(i for i in known if i <= low and known[i] > 0)
    if bisect:
        estimate = (low + high) / 2  # the bracket halves for sure
    elif len(worse) >= 2 and known[worse[-2]] != known[worse[-1]]:
        # The line through the last two worse points, extended to excess 0: on the last
        # linear piece of a convex curve it lands on the threshold itself.
        a, b = worse[-2], worse[-1]
        estimate = b + known[b] * (b - a) / (known[a] - known[b])
    if not (math.isfinite(estimate) and low < estimate < high + 1):
        # Regula falsi only where the fine end says how far off it is: a flat fine side
        # (a penalty back at its floor) would pull every chord to it.
        if math.isfinite(g_high) and -g_high > SLOPE_SIGNAL * g_low and g_low - g_high > 0:
            estimate = low + g_low * (high - low) / (g_low - g_high)
        else:
            estimate = (low + high) / 2
    return min(max(math.ceil(estimate - 1e-9), low + 1), high - 1)


def _grid_search(
    known: dict[int, float],
    low: int,
    high: int,
    evaluate: Callable[[int], float],
    verify: set[int],
    first: float = math.nan,
) -> int | None:
    """The smallest grid index whose excess is <= 0, with the one below it > 0.

    `known` maps grid indices to their excess (> 0: worse), with `low` worse and `high`
    not; `evaluate(index)` re-solves one. Indices in `verify` were inferred, not
    re-solved: before one is returned it is re-solved, and if it turns out worse the
    search goes on above it (None when the top of the grid is worse too). `first`, when
    finite, is a real index expected just on the worse side: the first grid index tried
    is the one below it.
    """
    illinois = {"low": 1.0, "high": 1.0}  # Illinois: the weight of a retained end
    last_kept = ""
    slow_steps = 0
    while True:
        while high - low > 1:
            width = high - low
            g_low, g_high = known[low] * illinois["low"], known[high] * illinois["high"]
            if math.isfinite(first) and low < math.floor(first) < high:
                candidate = math.floor(first)
            else:
                candidate = _next_index(known, low, high, g_low, g_high, slow_steps >= 2)
                if slow_steps >= 2:
                    slow_steps = 0
            first = math.nan
            value = evaluate(candidate)
            known[candidate] = value
            if value > 0:
                low = candidate
                kept = "high"
            else:
                high = candidate
                kept = "low"
            # Illinois: an end kept twice running counts for half at the next chord.
            if kept == last_kept:
                illinois[kept] /= 2
            else:
                illinois = {"low": 1.0, "high": 1.0}
            last_kept = kept
            slow_steps = slow_steps + 1 if high - low > width / 2 else 0
        if high not in verify:
            return high
        verify.discard(high)
        known[high] = evaluate(high)
        if known[high] <= 0:
            return high
        low = high
        if low >= RATE_GRID:
            return None
        high = RATE_GRID
        known[high] = evaluate(high)
        if known[high] > 0:
            return None
        illinois, last_kept, slow_steps = {"low": 1.0, "high": 1.0}, "", 0


# ------------------------------------------------------------ Licences sheet
def licence_table(
    model: AllocationModel,
    base: Solution,
    break_even: bool = True,
    budget_seconds: float | None = BREAK_EVEN_BUDGET_SECONDS,
    resolver: Resolver | None = None,
) -> pd.DataFrame:
    """Per regime, material and period: approval, licensed tonnes, value of +1 pp, break-even.

    `value_of_1pp` is the fall in objective_value [USD] when the approval of that
    entry rises by one percentage point and everything re-solves; `penalty_change_1pp`
    the fall in penalty, non-zero when the extra tonnes first go to meeting floors.
    Break-even rates (`break_even_rate`) cost a few warm re-solves each, none for a
    licence that ships nothing; every row is answered unless a `budget_seconds` is
    given, past which the remaining ones are marked skipped.
    """
    data = model.data
    resolver = resolver or Resolver(model, base)
    licensed = licensed_rows(data)
    if licensed.empty:
        return pd.DataFrame(columns=LICENCE_COLUMNS)
    flows = {
        "supply": base.supply["buy"].to_numpy(float),
        "plant": base.plants["make"].to_numpy(float),
    }
    licensed["used_t"] = [
        flows[kind][position]
        for kind, position in zip(licensed["kind"], licensed["position"], strict=True)
    ]
    licensed["licensed_t"] = licensed["capacity"] * licensed["approval"]
    order = {p: i for i, p in enumerate(data.periods)}
    rows = []
    # One row per Licences row and period: with lanes a regime-material-period may have a
    # row per end use and market, each its own lever.
    keys = ["regime", "material", "period", "licence_row"]
    groups = licensed.groupby(keys, sort=False)
    ordered = sorted(
        groups, key=lambda item: (item[0][0], item[0][1], order.get(item[0][2], 0), item[0][3])
    )
    group_rows = [_positions(group) for _, group in ordered]
    effects = resolver.measure_many([resolver.approval_step(*rows) for rows in group_rows])
    for ((regime, material, period, _), group), change in zip(ordered, effects, strict=True):
        rows.append(
            {
                "regime": regime,
                "material": material,
                "period": period,
                "lanes": ", ".join(dict.fromkeys(group["lane"])),
                "approval_rate": float(group["approval"].iloc[0]),
                # Lanes share a source's capacity: count it once.
                "capacity": float(group.drop_duplicates(["kind", "name"])["capacity"].sum()),
                "licensed_t": float(group["licensed_t"].sum()),
                "used_t": float(group["used_t"].sum()),
                "value_of_1pp": change.value,
                "penalty_change_1pp": change.penalty_change,
                "value_method": change.method,
                "approval_cell": group["approval_cell"].iloc[0],
            }
        )
    table = pd.DataFrame(rows)
    rates, criteria = [], []
    started = time.perf_counter()
    for record, positions in zip(table.itertuples(), group_rows, strict=True):
        over = budget_seconds is not None and time.perf_counter() - started > budget_seconds
        if break_even and over:
            rate, criterion = math.nan, f"skipped: over the {budget_seconds:g} s budget"
        elif break_even:
            # This Licences row's lanes only: a defence row's rate is not the civil one's.
            rate, criterion = break_even_rate(
                model, record.regime, record.material, record.period, base, positions, resolver
            )
        else:
            rate, criterion = math.nan, "not computed"
        rates.append(rate)
        criteria.append(criterion)
    table["break_even_rate"] = rates
    table["criterion"] = criteria
    table["method"] = BREAK_EVEN_METHOD if break_even else ""
    return table[LICENCE_COLUMNS]


def licence_levers(model: AllocationModel, base: Solution, resolver: Resolver) -> pd.DataFrame:
    """Value of +1 pp on each Licences row as typed: every period that row covers at once.

    This is the lever a planner can pull (one input cell), and what a what-if that
    adds 0.01 to that cell re-solves.
    """
    licensed = licensed_rows(model.data)
    if licensed.empty:
        return pd.DataFrame(columns=LEVER_COLUMNS)
    order = {p: i for i, p in enumerate(model.data.periods)}
    rows = []
    groups = [group for _, group in licensed.groupby("licence_row", sort=True)]
    effects = resolver.measure_many(
        [resolver.approval_step(*_positions(group)) for group in groups]
    )
    for group, change in zip(groups, effects, strict=True):
        periods = sorted(set(group["period"]), key=lambda p: order.get(p, 0))
        every = len(periods) == len(model.data.periods) and len(periods) > 1
        rows.append(
            {
                "regime": group["regime"].iloc[0],
                "material": group["material"].iloc[0],
                "periods": "every period" if every else ", ".join(map(str, periods)),
                "approval_cell": group["approval_cell"].iloc[0],
                "value_of_1pp": change.value,
                "penalty_change_1pp": change.penalty_change,
                "value_method": change.method,
            }
        )
    return pd.DataFrame(rows, columns=LEVER_COLUMNS)


# ----------------------------------------------------------- Materials sheet
def material_values(model: AllocationModel, resolver: Resolver) -> pd.DataFrame:
    """Per material and period: value of one more tonne [USD] and the fall in penalty."""
    rows = []
    for position, (material, period, lane) in enumerate(model.structure.stock_keys):
        change = resolver.add_tonne(position)
        rows.append((material, period, lane, change.value, change.penalty_change, change.method))
    return pd.DataFrame(
        rows,
        columns=["material", "period", "lane", "value_of_1t", "penalty_change_1t", "value_method"],
    )


# ------------------------------------------------------- Binding and Why short
RELIEF_COLUMNS = [
    "kind",
    "position",
    "constraint",
    "item",  # the limit, in words: a regime's licence for a material, a source, a plant
    "name",
    "regime",
    "material",
    "period",
    "limit_t",
    "relief",
    "value_of_relief",
    "penalty_change_relief",
    "value_method",
    "input_cell",
]
BINDING_TOLERANCE = 1e-6


def _at_limit(flow: np.ndarray, limit: np.ndarray) -> np.ndarray:
    return limit - flow <= BINDING_TOLERANCE * (1 + np.abs(flow))


def relief_table(
    solution: Solution,
    data: AllocationData,
    resolver: Resolver | None,
    licences: pd.DataFrame | None,
    steps: list[Changes] | None = None,
) -> pd.DataFrame:
    """Every supply and plant row at its limit, with the value of relieving that limit.

    A licensed row (approval below 1) is relieved by +1 pp of its licence entry
    (the value of the Licences sheet, shared by the regime's rows of that
    material and period); any other row by +1% of its capacity, re-solved.
    Without a resolver the values are NaN ("not computed").
    """
    licence_value: dict[tuple, tuple[float, float, str]] = {}
    if licences is not None:
        for record in licences.itertuples():
            licence_value[record.regime, record.material, record.period] = (
                record.value_of_1pp,
                record.penalty_change_1pp,
                record.value_method,
            )
    rows = []
    tables = (
        ("supply", solution.supply, "supply", "buy", "material", "source"),
        ("plant", solution.plants, "plants", "make", "output", "plant"),
    )
    for kind, result, name, flow, material_column, name_column in tables:
        table = join_inputs(
            result,
            data.with_cells(name, ("approval", "capacity")),
            ROW_KEYS[name],
            ["regime", "licence_row", "approval_cell", "capacity_cell"],
        )
        if result.empty:
            continue
        limit = result["licensed_capacity"].to_numpy(float)
        at_limit = _at_limit(result[flow].to_numpy(float), limit)
        licensed = (result["approval"].to_numpy(float) < 1) & (
            table["licence_row"].notna().to_numpy()
        )
        positions = np.flatnonzero(at_limit & ((limit > 0) | licensed))
        if not len(positions):
            continue
        picked = table.iloc[positions]

        def column(name: str, frame: pd.DataFrame = picked) -> list:
            return frame[name].tolist() if name in frame else [None] * len(frame)

        names, materials, periods = column(name_column), column(material_column), column("period")
        regimes = column("regime")
        approval_cells, capacity_cells = column("approval_cell"), column("capacity_cell")
        for i, position in enumerate(positions.tolist()):
            material, period, regime = materials[i], periods[i], regimes[i]
            if licensed[position]:
                value, penalty, method = licence_value.get(
                    (regime, material, period), (math.nan, math.nan, "not computed")
                )
                constraint = "licence"
                item = f"{regime} licence for {material}"
                relief = f"+1 pp of {regime} approval for {material} in {period}"
                cell = approval_cells[i]
            else:
                value, penalty, method = math.nan, math.nan, "not computed"
                constraint = "supply_limit" if kind == "supply" else "plant_limit"
                item = (
                    f"{material} supply from {names[i]}"
                    if kind == "supply"
                    else f"plant {names[i]}"
                )
                relief = f"+1% of {names[i]} capacity in {period}"
                cell = capacity_cells[i]
            rows.append(
                (
                    kind,
                    position,
                    constraint,
                    item,
                    names[i],
                    regime,
                    material,
                    period,
                    float(limit[position]),
                    relief,
                    value,
                    penalty,
                    method,
                    None if cell is None or pd.isna(cell) else cell,
                )
            )
    table = pd.DataFrame(rows, columns=RELIEF_COLUMNS)
    if resolver is None or table.empty:
        return table
    single = np.flatnonzero(table["constraint"].to_numpy() != "licence")
    if steps is None:  # else the caller's `relief_steps` of these same rows
        steps = relief_steps(table, resolver)
    measured = resolver.measure_many(steps)[: len(single)]
    values = table["value_of_relief"].to_numpy(float, copy=True)
    penalties = table["penalty_change_relief"].to_numpy(float, copy=True)
    methods = table["value_method"].to_numpy(object, copy=True)
    values[single] = [e.value for e in measured]
    penalties[single] = [e.penalty_change for e in measured]
    methods[single] = [e.method for e in measured]
    table["value_of_relief"] = values
    table["penalty_change_relief"] = penalties
    table["value_method"] = methods
    return table


def relief_steps(relief: pd.DataFrame, resolver: Resolver) -> list[Changes]:
    """What `relief_table` measures for its rows `relief`, in one batch: +1% of each
    capacity at its limit that is not a licence's (in row order), then every limit
    relieved in all its binding periods at once (the Binding sheet's steps)."""
    single = np.flatnonzero(relief["constraint"].to_numpy() != "licence")
    empty = np.zeros(0, dtype=int)
    steps = [
        resolver.capacity_step(np.array([position]), empty)
        if kind == "supply"
        else resolver.capacity_step(empty, np.array([position]))
        for kind, position in zip(
            relief["kind"].to_numpy()[single], relief["position"].to_numpy(int)[single], strict=True
        )
    ]
    return steps + [step for _, _, step in binding_steps(relief, resolver)]


def binding_steps(
    relief: pd.DataFrame, resolver: Resolver
) -> list[tuple[tuple[str, str], np.ndarray, Changes]]:
    """Per binding limit (constraint, item), in order of first appearance in `relief`:
    its rows of `relief` and its relief in every period where it binds at once (+1 pp of
    a licence's approval, +1% of any other capacity)."""
    if relief.empty:
        return []
    kinds = relief["kind"].to_numpy()
    positions = relief["position"].to_numpy(int)
    groups = relief.groupby(["constraint", "item"], sort=False).indices
    ordered = sorted(groups.items(), key=lambda kv: kv[1][0])
    found = []
    for (constraint, item), at in ordered:
        supply_rows = positions[at][kinds[at] == "supply"]
        plant_rows = positions[at][kinds[at] == "plant"]
        step = (
            resolver.approval_step(supply_rows, plant_rows)
            if constraint == "licence"
            else resolver.capacity_step(supply_rows, plant_rows)
        )
        found.append(((constraint, item), at, step))
    return found
