"""What-if analysis on one warm model (design section 7): scenarios, sweeps, stress.

A scenario changes data, not structure: the model is built once, and each
scenario changes only the bounds, costs and coefficients that differ before a
warm re-solve (`AllocationModel.update`). Approval-rate sweeps and stress
draws take a faster path still: they change only licensed capacities
(`AllocationModel.set_licensed_capacity`), computed with numpy.

Work is split over processes when there is enough of it (Pyomo models and
HiGHS objects are not shared between threads); each process builds its own
model once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exposure import metrics
from exposure.errors import InputError
from exposure.issues import Issue
from exposure.tables import regime_table, to_model_data
from exposure.whatif.changes import (
    Change,
    Changes,
    Edit,
    LimitMap,
    apply_changes,
    apply_edits,
    edit_changes,
    licence_rate_changes,
    resolve_edits,
    scenario_edits,
    vary_edit,
)
from exposure.whatif.executors import ModelSpec, Task, WarmModel, solve_tasks
from exposure.workbook.checks import match_rows
from exposure.workbook.reader import ROW, RawWorkbook
from exposure.workbook.schema import (
    EditError,
    edit_column,
    edit_match,
    edit_sheet,
    value_problem,
)
from models.allocation import (
    AllocationModel,
    ObjectiveMode,
    QuickSolution,
)
from models.data import AllocationData, persistence_of

Progress = Callable[[int], None]


# ------------------------------------------------------------------------- KPIs
@dataclass
class SectorIndex:
    """Integer codes of sectors for fast KPIs from a vector of built units."""

    sectors: list[str]
    codes: np.ndarray
    units: np.ndarray
    values: np.ndarray
    floors: np.ndarray  # min_service * units per product row

    @classmethod
    def of(cls, data: AllocationData) -> SectorIndex:
        codes, sectors = pd.factorize(data.demand["sector"], sort=False)
        return cls(
            sectors=[str(s) for s in sectors],
            codes=np.asarray(codes),
            units=data.demand["units"].to_numpy(float),
            values=data.demand["value_per_unit"].to_numpy(float),
            floors=(data.demand["min_service"] * data.demand["units"]).to_numpy(float),
        )

    def kpis(self, built: np.ndarray) -> dict[str, np.ndarray]:
        """Per sector: lost value [USD], value service level, below min_service (bool)."""
        count = len(self.sectors)
        lost_value, service = metrics.grouped_value_service_level(
            self.codes, count, self.units, built, self.values
        )
        short = built < self.floors - 1e-6 * (1 + self.floors)
        below = np.bincount(self.codes, short.astype(float), count) > 0
        return {
            "lost_value": lost_value,
            "value_service_level": service,
            "below_min_service": below,
        }


def headline(solution: QuickSolution, index: SectorIndex) -> dict[str, float | str]:
    """Workbook-level KPIs of one scenario."""
    per_sector = index.kpis(solution.built)
    return {
        "status": solution.status.value,
        "objective_value": solution.objective_value,
        "lost_value": float(per_sector["lost_value"].sum()),
        "value_service_level": metrics.value_service_level(
            index.units, solution.built, index.values
        ),
        "penalty": solution.violation,
    }


# ----------------------------------------------------------------------- engine
@dataclass
class Engine:
    """One built model that solves many variants of one workbook's data, in this process.

    The warm model itself (update in place, or rebuild where a scenario changes the
    structure) is the same `WarmModel` that every executor's worker holds.
    """

    book: RawWorkbook
    objective: ObjectiveMode
    time_limit: float | None = None
    reuse: AllocationModel | None = None  # a model of the book's base tables, already built
    base: AllocationData = field(init=False)
    warm: WarmModel = field(init=False)

    def __post_init__(self) -> None:
        model = None
        if self.reuse is not None and self.reuse.objective == self.objective:
            # One model per run: a report's base run hands its model on to the what-ifs.
            self.base, model = self.reuse.data, self.reuse
        else:
            self.base = to_model_data(self.book)
        self.warm = WarmModel(ModelSpec(self.base, self.objective, self.time_limit), model)

    @property
    def model(self) -> AllocationModel:
        return self.warm.model

    @property
    def rebuilds(self) -> int:
        return self.warm.rebuilds

    def solve(self, task: Task) -> QuickSolution:
        """Solve changes to the base tables (or changed tables) on the warm model."""
        return self.warm.solve(task)

    def solve_limits(self, supply_limit: np.ndarray, plant_limit: np.ndarray) -> QuickSolution:
        """Solve with only licensed capacities changed from the base (the fast path)."""
        return self.warm.solve((supply_limit, plant_limit))


# ----------------------------------------------------------------------- whatif
@dataclass
class WhatIfResult:
    comparison: pd.DataFrame  # kpi x (base, scenario, scenario delta, ...)
    diff: pd.DataFrame
    scenarios: list[str]
    data: dict[str, AllocationData]
    rebuilds: int
    interrupted: bool = False


def run_whatif(
    book: RawWorkbook,
    objective: ObjectiveMode = "priority",
    names: list[str] | None = None,
    progress: Progress | None = None,
    time_limit: float | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    engine: Engine | None = None,
) -> WhatIfResult:
    """The base plus every scenario (or those in `names`), each applied to the base alone."""
    edits = scenario_edits(book)
    if names is not None:
        unknown = [n for n in names if n not in edits]
        if unknown:
            raise InputError(
                [
                    Issue("unknown-scenario", f"no scenario '{n}' on the Scenarios sheet")
                    for n in unknown
                ]
            )
        edits = {n: edits[n] for n in names}
    engine = engine or Engine(book, objective, time_limit)
    index = SectorIndex.of(engine.base)
    columns: dict[str, dict[str, float]] = {}
    datas = {"base": engine.base}
    diffs = []
    tasks: dict[str, Task] = {}
    for name, scenario_edits_ in edits.items():  # validate every scenario before solving
        resolved, diff = resolve_edits(book, scenario_edits_)
        diffs.append(diff)
        changes = edit_changes(resolved)
        if changes is None:  # a sheet without a typed table: the workbook path
            datas[name] = to_model_data(apply_edits(book, scenario_edits_)[0])
            tasks[name] = datas[name]
        else:
            datas[name] = apply_changes(engine.base, changes.items)[0]
            tasks[name] = changes
    base_solution = engine.solve(engine.base)
    columns["base"] = _scenario_kpis(base_solution, index)
    interrupted = False
    if scheduler or (jobs is not None and jobs > 1):
        names_in_order = list(tasks)
        solutions, interrupted = solve_elsewhere(
            engine, [tasks[n] for n in names_in_order], jobs, scheduler, progress
        )
        for name, solution in zip(names_in_order, solutions, strict=False):
            columns[name] = _scenario_kpis(solution, SectorIndex.of(datas[name]))
    else:
        try:
            for name, task in tasks.items():
                solution = engine.solve(task)
                columns[name] = _scenario_kpis(solution, SectorIndex.of(datas[name]))
                if progress:
                    progress(1)
        except KeyboardInterrupt:
            interrupted = True
    comparison = _comparison(columns)
    diff = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame()
    return WhatIfResult(comparison, diff, list(columns)[1:], datas, engine.rebuilds, interrupted)


def _scenario_kpis(solution: QuickSolution, index: SectorIndex) -> dict[str, float]:
    kpis: dict[str, Any] = headline(solution, index)
    per_sector = index.kpis(solution.built)
    for i, sector in enumerate(index.sectors):
        kpis[f"lost_value {sector}"] = float(per_sector["lost_value"][i])
        kpis[f"value_service_level {sector}"] = float(per_sector["value_service_level"][i])
    return kpis


def _comparison(columns: dict[str, dict[str, Any]]) -> pd.DataFrame:
    kpis = list(dict.fromkeys(k for c in columns.values() for k in c))
    frame = pd.DataFrame({"kpi": kpis})
    base = columns["base"]
    frame["base"] = [base.get(k) for k in kpis]
    for name, values in columns.items():
        if name == "base":
            continue
        frame[name] = [values.get(k) for k in kpis]
        frame[f"{name} change"] = [
            values[k] - base[k]
            if isinstance(values.get(k), float) and isinstance(base.get(k), float)
            else None
            for k in kpis
        ]
    return frame


# --------------------------------------------------------------------- executors
def solve_many(
    engine: Engine,
    tasks: list[Task],
    jobs: int | None = None,
    progress: Progress | None = None,
    scheduler: str | None = None,
) -> tuple[list[np.ndarray], bool]:
    """Built units per product row for each task (changes to the base tables); (results,
    interrupted).

    In this process on the engine's warm model by default; with `jobs` > 1 on local
    worker processes, with `scheduler` on a Dask cluster (see `whatif.executors`); the
    workers get the engine's typed tables, never the workbook. On Ctrl-C the results
    finished so far are kept, in order, and the rest dropped.
    """
    if not scheduler and (jobs is None or jobs <= 1):
        results: list[np.ndarray] = []
        try:
            for task in tasks:
                results.append(engine.warm.solve(task).built)
                if progress:
                    progress(1)
        except KeyboardInterrupt:
            return results, True
        return results, False
    solutions, interrupted = solve_elsewhere(engine, list(tasks), jobs, scheduler, progress)
    return [s.built for s in solutions], interrupted


def solve_elsewhere(
    engine: Engine,
    tasks: list[Task],
    jobs: int | None,
    scheduler: str | None,
    progress: Progress | None = None,
) -> tuple[list[QuickSolution], bool]:
    """Solve tasks on the executor that `jobs` and `scheduler` ask for, in task order.

    `jobs` > 1 is an upper bound: work too small to pay for starting local workers stays in
    this process (`whatif.executors.solve_tasks`).
    """
    solutions, interrupted, _ = solve_tasks(engine.warm, tasks, jobs, scheduler, progress)
    return solutions, interrupted


# ------------------------------------------------------------------------ sweep
@dataclass(frozen=True)
class Vary:
    """`Sheet:column:match`, e.g. ``Licences:approval_rate:regime=CN;material=Dy``."""

    sheet: str
    column: str
    conditions: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str) -> Vary:
        parts = text.split(":", 2)
        if len(parts) < 2:
            raise InputError(
                [
                    Issue(
                        "bad-vary",
                        f"--vary '{text}' is not Sheet:column[:match]",
                        hint="e.g. Licences:approval_rate:regime=CN;material=DY",
                    )
                ]
            )
        try:  # the schema's rules of an edit, as the Scenarios sheet's validation uses them
            spec = edit_sheet(parts[0])
            column = edit_column(spec, parts[1]).name
            conditions = tuple(edit_match(spec, parts[2] if len(parts) > 2 else ""))
        except EditError as problem:
            raise InputError(
                [
                    Issue(
                        "bad-vary",
                        f"--vary {problem.part}: {problem.message}",
                        hint=problem.hint or "e.g. Licences:approval_rate:regime=CN;material=DY",
                    )
                ]
            ) from problem
        return cls(spec.name, column, conditions)

    def changes(self, book: RawWorkbook, value: float) -> Changes | AllocationData:
        """The task of one sweep step: the varied cells set to `value`."""
        edits = [vary_edit(self.sheet, self.column, self.conditions, value)]
        changes = edit_changes(resolve_edits(book, edits)[0])
        if changes is None:  # a sheet without a typed table: the workbook path
            return to_model_data(apply_edits(book, edits)[0])
        return changes


@dataclass
class SweepResult:
    curve: pd.DataFrame  # value, sector, lost_value, value_service_level
    totals: pd.DataFrame  # value, lost_value, value_service_level
    interrupted: bool


def run_sweep(
    book: RawWorkbook,
    path: Path,
    vary: Vary,
    values: list[float],
    objective: ObjectiveMode = "priority",
    jobs: int | None = None,
    progress: Progress | None = None,
    time_limit: float | None = None,
    scheduler: str | None = None,
    engine: Engine | None = None,
) -> SweepResult:
    """Set the varied cells to each value in turn and record the KPIs per sector."""
    engine = engine or Engine(book, objective, time_limit)
    index = SectorIndex.of(engine.base)
    frame = book.frame(vary.sheet)
    mask = match_rows(frame, list(vary.conditions))
    if not mask.any():
        raise InputError(
            [
                Issue(
                    "bad-vary",
                    f"--vary match selects no row of {vary.sheet}",
                    hint="check the ids; * matches any text",
                )
            ]
        )
    kind = edit_sheet(vary.sheet).column(vary.column).kind
    for value in values:
        bad = value_problem(kind, value)
        if bad:
            raise InputError([Issue("bad-vary", f"sweep value {value:g}: {bad}")])
    if vary.sheet == "Licences" and vary.column == "approval_rate":
        # Every period of the matched licences at once; licensed capacities only.
        rows = tuple(float(r) for r in frame.loc[mask, ROW])
        tasks: list[Task] = [
            Changes((Change("licences", "rate", (("licence_row", rows),), "set", value),))
            for value in values
        ]
    else:
        tasks = [vary.changes(book, value) for value in values]
    built, interrupted = solve_many(engine, tasks, jobs, progress, scheduler)
    rows_out, totals = [], []
    for value, units_built in zip(values, built, strict=False):
        per_sector = index.kpis(units_built)
        for i, sector in enumerate(index.sectors):
            rows_out.append(
                (
                    value,
                    sector,
                    per_sector["lost_value"][i],
                    per_sector["value_service_level"][i],
                )
            )
        totals.append(
            (
                value,
                float(per_sector["lost_value"].sum()),
                metrics.value_service_level(index.units, units_built, index.values),
            )
        )
    curve = pd.DataFrame(rows_out, columns=["value", "sector", "lost_value", "value_service_level"])
    total = pd.DataFrame(totals, columns=["value", "lost_value", "value_service_level"])
    return SweepResult(curve, total, interrupted)


# ----------------------------------------------------------------------- stress
STRESS_SECTOR_COLUMNS = [
    "sector",
    "draws",
    "lost_value_base",
    "lost_value_mean",
    "lost_value_p50",
    "lost_value_p90",
    "lost_value_p95",
    "lost_value_worst",
    "lost_value_best",
    "value_service_level_mean",
    "value_service_level_p50",
    "value_service_level_p5",
    "value_service_level_worst",
    "probability_below_min_service",
    "shortfall_at_risk",
]


@dataclass
class StressResult:
    sectors: pd.DataFrame  # per sector: distribution of lost value and service level
    draws: pd.DataFrame  # per draw: the drawn rates and the total lost value
    seed: int
    completed: int
    interrupted: bool
    # per licence and period: approval_low, approval_rate (the mode), approval_high, mean
    distribution: pd.DataFrame = field(default_factory=pd.DataFrame)
    base_lost_value: float = float("nan")  # the base case: every approval at approval_rate
    persistence: dict[str, float] = field(default_factory=dict)  # regime -> chance kept


def triangular_quantile(u: np.ndarray, low: float, mode: float, high: float) -> np.ndarray:
    """Inverse CDF of the triangular distribution (low, mode, high) at probabilities `u`."""
    if high <= low:
        return np.full_like(u, mode)
    split = (mode - low) / (high - low)
    left = low + np.sqrt(u * (high - low) * (mode - low))
    right = high - np.sqrt((1 - u) * (high - low) * (high - mode))
    return np.where(u < split, left, right)


def _or_default(value: Any, default: float) -> float:
    return default if value is None or pd.isna(value) else float(value)


def regime_persistence(book: RawWorkbook) -> dict[str, float]:
    """`persistence` of each regime of `book`'s typed regimes table (blank: 0, independent
    periods). Stress itself reads `AllocationData.persistence` of the tables it solves."""
    return persistence_of(regime_table(book))


def stress_uniforms(
    groups: list[tuple[str, str]],
    periods: list[str],
    persistence: dict[str, float],
    draws: int,
    seed: int,
) -> dict[tuple[str, str], np.ndarray]:
    """One uniform number per draw for each (regime, period): the quantile of its rates.

    Fresh numbers come from one seeded stream, in the order of the sorted groups (so
    a workbook without persistence draws exactly what it drew before). A regime with
    persistence p then keeps, with probability p, the previous period's number in a
    draw (the same quantile: policy stays as tight or as loose), decided by a second
    seeded stream; 0 means independent periods.
    """
    generator = np.random.default_rng(seed)
    fresh = {group: generator.random(draws) for group in groups}
    if not persistence:
        return fresh
    keeps = np.random.default_rng([seed, 1])
    order = {p: i for i, p in enumerate(periods)}
    uniforms = dict(fresh)
    for regime in sorted({r for r, _ in groups}):
        chance = persistence.get(regime, 0.0)
        own = sorted((t for r, t in groups if r == regime), key=lambda t: order.get(t, 0))
        for before, period in itertools.pairwise(own):
            keep = keeps.random(draws) < chance
            uniforms[regime, period] = np.where(
                keep, uniforms[regime, before], fresh[regime, period]
            )
    return uniforms


def stress_rates(
    data: AllocationData, draws: int, seed: int, persistence: dict[str, float] | None = None
) -> tuple[list[dict[tuple[int, str], float]], pd.DataFrame]:
    """Approval rates per draw: one uniform draw per regime and period, shared by its materials.

    Each licence's rate is its triangular quantile (low, rate, high of the licence
    table) at that shared draw, so licence policy moves together; a regime's
    `persistence` links its periods (`stress_uniforms`).
    """
    licences = data.licences
    groups = sorted({(r, t) for r, t in zip(licences["regime"], licences["period"], strict=True)})
    uniforms = stress_uniforms(groups, data.periods, persistence or {}, draws, seed)
    per_draw: list[dict[tuple[int, str], float]] = [{} for _ in range(draws)]
    columns = {}
    for record in licences.itertuples():
        mode = float(record.rate)
        low = _or_default(record.low, mode)
        high = _or_default(record.high, mode)
        rates = triangular_quantile(uniforms[record.regime, record.period], low, mode, high)
        key = (int(record.licence_row), record.period)
        lane = " ".join(str(v) for v in (record.end_use, record.market) if _named(v))
        name = f"{record.regime} {record.material} {lane} {record.period}".replace("  ", " ")
        columns[name] = rates
        for i in range(draws):
            per_draw[i][key] = float(rates[i])
    return per_draw, pd.DataFrame(columns, index=pd.RangeIndex(draws))


def _named(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def stress_distribution(data: AllocationData) -> pd.DataFrame:
    """The triangular distribution each licence's rate is drawn from, with its mean.

    A blank low or high is the rate itself (no spread that side).
    """
    rows = []
    for record in data.licences.itertuples():
        mode = float(record.rate)
        low = _or_default(record.low, mode)
        high = _or_default(record.high, mode)
        rows.append((record.regime, record.material, record.period, low, mode, high))
    columns = ["regime", "material", "period", "approval_low", "approval_rate", "approval_high"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["approval_mean"] = (
        frame["approval_low"] + frame["approval_rate"] + frame["approval_high"]
    ) / 3
    return frame


def run_stress(
    book: RawWorkbook,
    path: Path,
    draws: int,
    seed: int,
    objective: ObjectiveMode = "priority",
    jobs: int | None = None,
    progress: Progress | None = None,
    time_limit: float | None = None,
    scheduler: str | None = None,
    engine: Engine | None = None,
) -> StressResult:
    """Monte Carlo over approval rates; per sector the distribution of outcomes."""
    engine = engine or Engine(book, objective, time_limit)
    index = SectorIndex.of(engine.base)
    persistence = engine.base.persistence
    rates, rate_table = stress_rates(engine.base, draws, seed, persistence)
    tasks: list[Task] = [licence_rate_changes(r) for r in rates]
    built, interrupted = solve_many(engine, tasks, jobs, progress, scheduler)
    # The base case (every rate at approval_rate), to say where it lies among the draws.
    base_lost = index.kpis(engine.solve(Changes(())).built)["lost_value"]
    done = len(built)
    lost = np.zeros((done, len(index.sectors)))
    service = np.zeros_like(lost)
    below = np.zeros_like(lost, dtype=bool)
    for i, units_built in enumerate(built):
        kpis = index.kpis(units_built)
        lost[i], service[i], below[i] = (
            kpis["lost_value"],
            kpis["value_service_level"],
            kpis["below_min_service"],
        )
    rows = []
    for j, sector in enumerate(index.sectors):
        values = lost[:, j] if done else np.array([np.nan])
        levels = service[:, j] if done else np.array([np.nan])
        rows.append(
            {
                "sector": sector,
                "draws": done,
                "lost_value_base": float(base_lost[j]),
                "lost_value_mean": float(np.mean(values)),
                "lost_value_p50": float(np.percentile(values, 50)),
                "lost_value_p90": float(np.percentile(values, 90)),
                "lost_value_p95": float(np.percentile(values, 95)),
                "lost_value_worst": float(np.max(values)),
                "lost_value_best": float(np.min(values)),
                "value_service_level_mean": float(np.mean(levels)),
                "value_service_level_p50": float(np.percentile(levels, 50)),
                "value_service_level_p5": float(np.percentile(levels, 5)),
                "value_service_level_worst": float(np.min(levels)),
                "probability_below_min_service": float(np.mean(below[:, j])) if done else np.nan,
                "shortfall_at_risk": float(np.percentile(values, 95)),
            }
        )
    draws_table = rate_table.iloc[:done].copy()
    draws_table.insert(0, "draw", np.arange(1, done + 1))
    draws_table["lost_value"] = lost.sum(axis=1)
    return StressResult(
        pd.DataFrame(rows, columns=STRESS_SECTOR_COLUMNS),
        draws_table,
        seed,
        done,
        interrupted,
        distribution=stress_distribution(engine.base),
        base_lost_value=float(base_lost.sum()),
        persistence=persistence,
    )


# Edits, the licence map and the change engine live in `exposure.whatif.changes`; these names
# stay importable from here.
__all__ = [
    "Edit",
    "LimitMap",
    "apply_edits",
    "run_stress",
    "run_sweep",
    "run_whatif",
    "scenario_edits",
    "stress_rates",
]
