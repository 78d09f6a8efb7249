"""Leximin (max-min fair) shortfall levels by progressive filling (design section 4b).

The weighted shortfall of item i (a product row (j, t)) is

    s[i] = weight[i] * (units[i] - built[i]) / units[i]        (share x weight)

and its fair row in the LP is `built[i] + units[i] / weight[i] * mu >= units[i]`,
i.e. s[i] <= mu. Progressive filling:

1. minimise mu over the items not yet fixed (fixed items held at their level);
2. an item whose fair row has a positive dual in that optimum cannot go below
   mu (complementary slackness: its row is tight in every optimum); if no dual
   shows, each item is tested by minimising its own shortfall with the others
   held at mu;
3. the blocked items are fixed at mu; repeat until every item is fixed.

While an item is free, the fair object writes its `built` as
`units - units / weight * mu + extra` (`Substitution`), so that mu is not one dense
column through every fair row, and each round is solved cold with presolve
(`_run_round`). models/README.md says why the levels are the same.

A fixed item is held by the lower bound of its `built` column, exactly at the
level found (not with a slack: a slack on one item is amplified by tonnage
ratios when another item uses what it frees), and its fair row is switched
off. All of it is bound changes on one warm `Highs` object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np

from models.robust import RunOutcome, retry_cold, retryable, run_cold, run_highs
from models.status import SolveStatus

INF = highspy.kHighsInf
# Items with fewer units than this (units) have no shortfall worth the name: fixed at level 0.
SMALLEST_ITEM = 1e-6
# An item is blocked by the dual test if units / weight * dual of its fair row exceeds this.
# These normalised duals sum to 1 in an optimal basis (mu's reduced cost is 0), so one of n
# items is at least 1/n; anything near round-off is left to the next round or the item test.
BLOCKING_DUAL = 1e-6
# A level below this is zero: every item still free is served in full.
ZERO_LEVEL = 1e-9
# The item test blocks an item whose least weighted shortfall is within this of mu.
BLOCKING_GAP = 1e-7
# When holding every fixed item exactly leaves HiGHS too thin a feasible set (seen on the
# reference workbook: the cost phase ended "unknown" with a 2e-5 unit violation on a
# 1e8-unit product), the holds are loosened by these shares of each item's units, in turn,
# before any cold retry. 1e-12 of the units was enough there and moved the cost by USD 144.
# 1e-6 (SMALLEST_ITEM, below planning precision) is the last: a stock of 1e-7 t, at HiGHS's
# feasibility tolerance, left the cost phase infeasible with every smaller one
# (tests/test_leximin.py, a stock below the solver tolerance).
HOLD_SLACKS = (1e-12, 1e-10, 1e-8, 1e-6)
# Free items are substituted out of the fair rows while they are free (`Substitution`).
SUBSTITUTE = True
# Each round starts cold with presolve (`_run_round`) rather than from the last round's basis.
COLD_ROUNDS = True
# HiGHS presolve rule "forcing row" (bit 6 of presolve_rule_off). Off in the cold rounds: with
# every fixed item held exactly, a balance row can force its columns to their bounds, and the
# reduced LP was then declared infeasible by round-off (10k columns, last round: infeasible
# after 851 iterations with the rule, optimal after 1,370 without).
FORCING_ROW = 1 << 6
# A substituted item building less than -this x units is put back in its fair row.
NEGATIVE_BUILT = 1e-9


@dataclass
class FairItems:
    """The fair rows of the LP and what they are about, aligned by item (product row)."""

    rows: np.ndarray  # HiGHS row of each fair row
    built: np.ndarray  # HiGHS column of built[i]
    mu: int  # HiGHS column of mu
    units: np.ndarray  # units[i]: the fair row's right-hand side and built's upper bound
    weight: np.ndarray  # weight of the sector of item i (> 0)

    @property
    def coef(self) -> np.ndarray:
        """units / weight: the coefficient of mu in the fair row [units per unit of level]."""
        return self.units / self.weight

    def shortfall(self, built: np.ndarray) -> np.ndarray:
        """Weighted shortfall of every item for `built` [units]; 0 where units are negligible."""
        level = np.zeros(self.units.size)
        real = self.units > SMALLEST_ITEM
        served = np.clip(built[real], 0.0, self.units[real])
        level[real] = self.weight[real] * (self.units[real] - served) / self.units[real]
        return level


@dataclass
class LeximinOutcome:
    status: SolveStatus
    levels: np.ndarray  # weighted shortfall at which each item was fixed (NaN if not reached)
    iterations: int
    rounds: int = 0  # progressive-filling rounds (mu minimised)
    item_tests: int = 0  # one-at-a-time tests run where the dual test showed nothing
    resolves: int = 0  # rounds solved again after items of low weight got their fair rows back
    retries: list[str] = field(default_factory=list)
    # built >= floor holds each fixed item [units]; NaN: not held
    floors: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hold_slack: float = 0.0  # share of units the holds were loosened by (0: exact)


def release(items: FairItems, objects: Sequence[highspy.Highs]) -> None:
    """Undo every fixing: fair rows on, built in [0, units], mu in [0, inf)."""
    n = items.rows.size
    rows = items.rows.astype(np.int32)
    cols = items.built.astype(np.int32)
    for highs in objects:
        highs.changeRowsBounds(n, rows, items.units.astype(float), np.full(n, INF))
        highs.changeColsBounds(n, cols, np.zeros(n), items.units.astype(float))
        highs.changeColBounds(items.mu, 0.0, INF)


def hold(
    items: FairItems, which: np.ndarray, floor: np.ndarray, objects: Sequence[highspy.Highs]
) -> None:
    """Hold items `which` at built >= `floor` [units] and switch their fair rows off."""
    n = which.size
    if n == 0:
        return
    rows = items.rows[which].astype(np.int32)
    cols = items.built[which].astype(np.int32)
    for highs in objects:
        highs.changeRowsBounds(n, rows, np.full(n, -INF), np.full(n, INF))
        highs.changeColsBounds(n, cols, floor.astype(float), items.units[which].astype(float))


def keep_point(highs: highspy.Highs, items: FairItems, which: np.ndarray) -> None:
    """Swap each switched-off fair row into the basis for its `built` column, now at its hold.

    A nonbasic row whose bounds become free would be put at activity 0 (a jump of the
    whole point) and pivoted back in one by one: thousands of iterations per round.
    The swap keeps the solver's point, so the next round starts where this one ended.
    """
    basis = highs.getBasis()
    if not basis.valid or which.size == 0:
        return
    col_status = basis.col_status
    row_status = basis.row_status
    basic = highspy.HighsBasisStatus.kBasic
    changed = False
    for row, column in zip(items.rows[which], items.built[which], strict=True):
        if row_status[row] != basic and col_status[column] == basic:
            row_status[row] = basic
            col_status[column] = highspy.HighsBasisStatus.kLower
            changed = True
    if changed:
        basis.col_status = col_status
        basis.row_status = row_status
        highs.setBasis(basis)


class Substitution:
    """Free items of the fair object written as `built = units - coef * mu + extra`, extra >= 0.

    With the fair rows as stated, `mu` has a coefficient in every fair row: one dense
    column that every free item's fair row must pivot through (6,192 simplex iterations
    for the first round at 10k columns, against 93 for the whole priority solve). With
    built[i] = units[i] - coef[i] * mu + extra[i], the fair row is `extra[i] >= 0`: a
    bound. `mu` then appears only in the rows where `built` does (balance, service floor,
    variant rows), with coefficient -sum(alpha * coef) over the free items, and those
    rows' bounds move by -sum(alpha * units). The `built` column of a substituted item
    holds extra (bounds [0, inf)); its reduced cost is the dual its fair row would have.

    This drops built's bounds [0, units]. Building beyond units never lowers mu (it only
    uses material), so dropping the upper bound keeps the optimum. A negative built
    (weight below mu) would invent material: such items are put back in the fair-row
    form (`explicit`) and the round re-solved. So the optimum is that of the stated LP,
    and an item whose extra has a positive reduced cost is at mu in every optimum of it.
    Only `fair` is rewritten, and `progressive_filling` ends with `set` of no item, which
    puts it back as built, so the other objects and `update()` always see the stated LP.
    Raises ValueError for an LP it cannot read (then the fair rows are used as stated).
    """

    def __init__(self, highs: highspy.Highs, items: FairItems) -> None:
        self.highs = highs
        self.items = items
        lp = highs.getLp()
        matrix = lp.a_matrix_
        if matrix.format_ != highspy.MatrixFormat.kColwise:
            raise ValueError("the fair LP is expected column-wise")
        start = np.asarray(matrix.start_)
        index = np.asarray(matrix.index_)
        value = np.asarray(matrix.value_)
        begin = start[items.built]
        count = start[items.built + 1] - begin
        item = np.repeat(np.arange(items.built.size), count)
        position = np.repeat(begin - np.cumsum(count) + count, count) + np.arange(count.sum())
        row = index[position]
        keep = ~np.isin(row, items.rows)
        self.entry_item = item[keep]
        self.entry_row = row[keep]
        self.entry_alpha = value[position][keep]
        self.touched, self.entry_slot = np.unique(self.entry_row, return_inverse=True)
        self.row_lower = np.asarray(lp.row_lower_)[self.touched]
        self.row_upper = np.asarray(lp.row_upper_)[self.touched]
        mu_start, mu_end = start[items.mu], start[items.mu + 1]
        mu_rows = set(index[mu_start:mu_end].tolist())
        if mu_rows - set(items.rows.tolist()):
            raise ValueError("mu is expected only in the fair rows")
        # mu's coefficient and the bound shift, as now set in the rows of `touched`
        self.coefficient: np.ndarray = np.zeros(self.touched.size)
        self.shift: np.ndarray = np.zeros(self.touched.size)
        self.on = np.zeros(items.built.size, dtype=bool)

    def set(self, on: np.ndarray) -> None:
        """Substitute exactly the items of mask `on`; the others get their fair rows back."""
        items = self.items
        entering = np.flatnonzero(on & ~self.on)
        leaving = np.flatnonzero(self.on & ~on)
        self._write_mu(on)
        if entering.size:
            n = entering.size
            self.highs.changeRowsBounds(
                n, items.rows[entering].astype(np.int32), np.full(n, -INF), np.full(n, INF)
            )
            self.highs.changeColsBounds(
                n, items.built[entering].astype(np.int32), np.zeros(n), np.full(n, INF)
            )
        if leaving.size:
            n = leaving.size
            units = items.units[leaving].astype(float)
            self.highs.changeRowsBounds(
                n, items.rows[leaving].astype(np.int32), units, np.full(n, INF)
            )
            self.highs.changeColsBounds(
                n, items.built[leaving].astype(np.int32), np.zeros(n), units
            )

    def leave(self, which: np.ndarray) -> None:
        """Stop substituting `which`, leaving their rows and bounds to `hold` (fixed next)."""
        on = self.on.copy()
        on[which] = False
        self._write_mu(on)

    def _write_mu(self, on: np.ndarray) -> None:
        """mu's coefficients and the row bounds of the touched rows for substituted `on`."""
        alpha = self.entry_alpha * on[self.entry_item]
        slots = self.touched.size
        coefficient = -np.bincount(
            self.entry_slot, alpha * self.items.coef[self.entry_item], minlength=slots
        )
        shift = np.bincount(
            self.entry_slot, alpha * self.items.units[self.entry_item], minlength=slots
        )
        changed = np.flatnonzero((coefficient != self.coefficient) | (shift != self.shift))
        for slot in changed:
            self.highs.changeCoeff(int(self.touched[slot]), self.items.mu, float(coefficient[slot]))
        if changed.size:
            self.highs.changeRowsBounds(
                changed.size,
                self.touched[changed].astype(np.int32),
                self.row_lower[changed] - shift[changed],
                self.row_upper[changed] - shift[changed],
            )
        self.coefficient, self.shift = coefficient, shift
        self.on = on.copy()

    def built(self, col_value: np.ndarray, mu: float) -> np.ndarray:
        """built[i] of every item at the point `col_value` (extra translated back)."""
        built = np.array(col_value[self.items.built], dtype=float)
        on = self.on
        built[on] += self.items.units[on] - self.items.coef[on] * mu
        return built


def run_held(
    highs: highspy.Highs,
    items: FairItems,
    outcome: LeximinOutcome,
    objects: Sequence[highspy.Highs],
    deadline: float | None,
    *,
    retry_verdicts: bool = True,
) -> RunOutcome:
    """Run `highs` with the fixed items held, with remedies for a feasible set too thin.

    In trouble, it reruns cold without presolve, then loosens the holds by
    `HOLD_SLACKS` in turn, then retries cold (`retry_cold`). Holds are loosened on
    every object of `objects` and stay loosened for the later runs.
    """
    result = run_highs(highs, deadline, retry=False)
    held = np.flatnonzero(~np.isnan(outcome.floors) & (items.units > SMALLEST_ITEM))
    if held.size and retryable(result.status) and highs.getOptionValue("presolve")[1] != "off":
        # Exact holds leave a thin feasible set; presolve's reductions (and postsolve) were
        # seen to turn it into "unknown" where the simplex alone solves it.
        status, iterations = run_cold(highs, deadline, {"presolve": "off"})
        result.status = status
        result.iterations += iterations
        result.retries.append("cold, presolve off")
    for slack in HOLD_SLACKS:
        if held.size == 0 or slack <= outcome.hold_slack or not retryable(result.status):
            continue
        floor = np.maximum(outcome.floors[held] - slack * items.units[held], 0.0)
        hold(items, held, floor, objects)
        outcome.hold_slack = slack
        again = run_highs(highs, deadline, retry=False)
        result.status = again.status
        result.iterations += again.iterations
        result.retries.append(f"holds loosened by {slack:g} x units")
    if retryable(result.status, retry_verdicts):
        result = retry_cold(highs, deadline, result)
    return result


def progressive_filling(
    fair: highspy.Highs,
    held: Sequence[highspy.Highs],
    items: FairItems,
    deadline: float | None,
    *,
    retry_verdicts: bool = True,
    hold_slack: float = 0.0,
) -> LeximinOutcome:
    """Leximin levels of `items`, solved on `fair` (objective: mu), fixings copied to `held`.

    `fair` must minimise mu with every other phase already held. On return, `fair` and
    every object of `held` hold all items at their levels (the cost phase then
    minimises cost given those shortfalls, with `run_held`). `deadline` is a
    `time.perf_counter()` instant or None; `retry_verdicts` as in `run_highs`.
    `hold_slack` (share of units) starts the holds loosened as far as a previous
    solve of the same model needed, so that its failed attempts are not repeated.
    """
    objects = [fair, *held]
    release(items, objects)
    n = items.rows.size
    levels = np.full(n, np.nan)
    outcome = LeximinOutcome(
        SolveStatus.OPTIMAL, levels, 0, floors=np.full(n, np.nan), hold_slack=hold_slack
    )

    def run(highs: highspy.Highs) -> RunOutcome:
        return run_held(highs, items, outcome, objects, deadline, retry_verdicts=retry_verdicts)

    coef = items.coef
    trivial = np.flatnonzero(items.units <= SMALLEST_ITEM)
    levels[trivial] = 0.0
    # Negligible demand is not held: it would only add a bound below planning precision.
    hold(items, trivial, np.zeros(trivial.size), objects)
    outcome.floors[trivial] = 0.0
    free = items.units > SMALLEST_ITEM
    substitution: Substitution | None = None
    if SUBSTITUTE and free.any():
        try:
            substitution = Substitution(fair, items)
        except ValueError:
            substitution = None  # the fair rows as stated: slower, the same levels
    explicit = np.zeros(n, dtype=bool)  # free items kept in their fair rows (weight below mu)
    try:
        if substitution is not None:
            substitution.set(free)
        while free.any():
            # An infeasible first round is the answer a probe expects (`retry_verdicts`);
            # after a round, the last point is feasible and such a verdict is round-off.
            trust_verdict = not retry_verdicts and outcome.rounds == 0
            result = _run_round(fair, run, deadline, trust_verdict)
            outcome.iterations += result.iterations
            outcome.retries += result.retries
            outcome.rounds += 1
            if not result.status.ok:
                outcome.status = result.status
                return outcome
            solution = fair.getSolution()
            col_value = np.asarray(solution.col_value)
            mu = max(float(col_value[items.mu]), 0.0)
            candidates = np.flatnonzero(free)
            if substitution is not None:
                built = substitution.built(col_value, mu)
                # A substituted item below zero built would have made material: its weight
                # is under mu. Back to its fair row, and the round is solved again.
                negative = substitution.on & (built < -NEGATIVE_BUILT * items.units)
                if negative.any():
                    explicit |= negative
                    substitution.set(free & ~explicit)
                    outcome.rounds -= 1
                    outcome.resolves += 1
                    continue
            else:
                built = col_value[items.built]
            if mu <= ZERO_LEVEL:
                blocked = candidates
                mu = 0.0
            else:
                # The fair row's dual, or for a substituted item its extra's reduced cost
                # (the same number: extra is built shifted), normalised by units / weight.
                dual = np.asarray(solution.row_dual)[items.rows[candidates]]
                if substitution is not None:
                    on = substitution.on[candidates]
                    col_dual = np.asarray(solution.col_dual)[items.built[candidates]]
                    dual = np.where(on, col_dual, dual)
                blocked = candidates[dual * coef[candidates] > BLOCKING_DUAL]
                if blocked.size == 0:
                    if substitution is not None:
                        substitution.set(np.zeros(free.size, dtype=bool))
                    blocked, tested = _item_test(fair, items, candidates, mu, run, outcome)
                    outcome.item_tests += tested
                    if outcome.status is not SolveStatus.OPTIMAL:
                        return outcome
                    built = np.asarray(fair.getSolution().col_value)[items.built]
            # Exactly at the level found; never above what the solver's own point builds, so
            # that point stays feasible and the next round starts warm from it.
            floor = items.units[blocked] - coef[blocked] * mu
            floor = np.minimum(floor, built[blocked])
            floor = np.clip(floor, 0.0, items.units[blocked])
            outcome.floors[blocked] = floor
            floor = np.maximum(floor - outcome.hold_slack * items.units[blocked], 0.0)
            if substitution is not None:
                substitution.leave(blocked)
            hold(items, blocked, floor, objects)
            keep_point(fair, items, blocked)
            levels[blocked] = mu
            free[blocked] = False
            if substitution is not None:
                substitution.set(free & ~explicit)  # again after an item test
    finally:
        if substitution is not None:
            substitution.set(np.zeros(free.size, dtype=bool))
    return outcome


def _run_round(
    fair: highspy.Highs,
    run: Callable[[highspy.Highs], RunOutcome],
    deadline: float | None,
    trust_verdict: bool = False,
) -> RunOutcome:
    """One round of progressive filling: cold with presolve, else warm from the last basis.

    With the free items substituted, presolve cuts a round to about the priority LP
    (at 10k columns: 6,029 rows to 828, and 795 dual simplex iterations for the second
    round against 4,202 from the previous round's basis, whose pivots undo the last
    round's point item by item). Presolve's forcing-row rule is off (`FORCING_ROW`). If
    exact holds still leave presolve too thin a set (it then says "infeasible" where the
    last point is feasible), the round is run warm from the basis it started with, with
    the remedies of `run_held`. With `trust_verdict`, an infeasible or unbounded cold
    round is reported as it is.
    """
    if not COLD_ROUNDS:
        return run(fair)
    basis = fair.getBasis()
    if not basis.valid:
        return run(fair)  # nothing to start from: the first solve, cold already
    rules = int(fair.getOptionValue("presolve_rule_off")[1])
    status, iterations = run_cold(fair, deadline, {"presolve_rule_off": rules | FORCING_ROW})
    if not retryable(status, retry_verdicts=not trust_verdict):
        return RunOutcome(status, iterations)
    fair.setBasis(basis)
    result = run(fair)
    result.iterations += iterations
    result.retries.insert(0, f"cold with presolve: {status.value}; warm")
    return result


def _item_test(
    fair: highspy.Highs,
    items: FairItems,
    candidates: np.ndarray,
    mu: float,
    run: Callable[[highspy.Highs], RunOutcome],
    outcome: LeximinOutcome,
) -> tuple[np.ndarray, int]:
    """The items of `candidates` that cannot go below `mu` with the others held at `mu`.

    Each item in turn: minimise its weighted shortfall with mu fixed. An item that
    some test's solution already shows below mu is not tested itself. Returns the
    blocked items and the number of tests run; `outcome.status` is set on failure.
    """
    coef = items.coef
    fair.changeColCost(items.mu, 0.0)
    fair.changeColBounds(items.mu, mu, mu)
    unblocked = np.zeros(items.rows.size, dtype=bool)
    least = np.full(items.rows.size, -np.inf)
    tested = 0
    try:
        for i in candidates:
            if unblocked[i]:
                continue
            column = int(items.built[i])
            # minimise weight * (units - built) / units, i.e. -built / coef up to a constant
            fair.changeColCost(column, -1.0 / coef[i])
            result = run(fair)
            fair.changeColCost(column, 0.0)
            tested += 1
            outcome.iterations += result.iterations
            outcome.retries += result.retries
            if not result.status.ok:
                outcome.status = result.status
                return np.zeros(0, dtype=np.int64), tested
            shortfall = items.shortfall(np.asarray(fair.getSolution().col_value)[items.built])
            least[i] = shortfall[i]
            unblocked[candidates] |= shortfall[candidates] < mu - BLOCKING_GAP
    finally:
        fair.changeColCost(items.mu, 1.0)
        fair.changeColBounds(items.mu, 0.0, INF)
    blocked = candidates[~unblocked[candidates]]
    if blocked.size == 0:
        # In exact arithmetic some item is always blocked (else the average of the tests'
        # solutions would put every item below mu); round-off aside, take the closest.
        blocked = candidates[[int(np.argmax(least[candidates]))]]
    return blocked, tested
