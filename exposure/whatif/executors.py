"""Where what-if solves run: in this process, in local worker processes, or on Dask.

Every executor takes the same work: one warm model (a `ModelSpec`: the typed
tables, never a file path, so a worker never re-reads or re-validates a
workbook) and a list of tasks to solve it with (licensed-capacity vectors, or
whole changed tables for a what-if scenario). Each
worker builds the model once per spec and keeps it warm between its tasks.
Results come back in task order; on Ctrl-C the finished prefix is kept and
the rest dropped, so a sweep stays a contiguous curve. The numbers are the
same whichever executor runs them: every task is the same warm model, reset
to the base, with only its licensed capacities (or, for a what-if scenario,
the numbers of its changed tables) moved.

- `SerialExecutor`: this process (no start-up cost).
- `ProcessExecutor`: N local worker processes (spawned, so HiGHS and Pyomo
  state is never shared), each sent the spec once.
- `HelpedRun`: what `solve_tasks` does with `--jobs N`: this process solves
  in order and N - 1 helper processes join in from the back of the list,
  started only when `pool_pays`: small work stays in this process.
- `DaskExecutor`: `--scheduler ADDRESS`, an existing Dask distributed
  cluster; the spec is scattered to the workers once, tasks are chunks, and
  Dask re-runs the chunks of a lost worker (each result is stored by its
  chunk position, so nothing is reported twice).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    CancelledError,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, Protocol

import numpy as np

from exposure.errors import NotOptimalError, UsageError
from exposure.whatif.changes import FAST_CHANGES, Changes, LimitMap, apply_changes
from models.allocation import (
    AllocationModel,
    Bases,
    ObjectiveMode,
    QuickSolution,
    StructureChangedError,
    build_model,
)
from models.data import AllocationData

# The table columns the fast path moves (see `LimitMap`): what `_hold` must put back.
FAST_COLUMNS = frozenset(
    (table, column) for table, column, _ in FAST_CHANGES if table != "licences"
)
Limits = tuple[np.ndarray, np.ndarray]  # (supply_limit, plant_limit) [t], one per LP column
# A task is changes to the base tables (scenarios, sweep steps, stress draws), licensed
# capacities for the base tables, or whole changed tables (a scenario that only the
# workbook path can state), solved on the same warm model.
Task = Changes | Limits | AllocationData
Progress = Callable[[int], None]
CHUNK_SIZE = 10  # tasks per message: fewer round trips, still a smooth progress bar
CONNECT_TIMEOUT = "5s"  # a scheduler that does not answer by then is reported, not waited for


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to build the warm model: typed tables and settings."""

    data: AllocationData
    objective: ObjectiveMode
    time_limit: float | None = None
    key: str = field(default="", compare=False)
    # Sensitivities want a failed re-solve back as its status, and only the objective.
    raise_failures: bool = True
    read_built: bool = True
    # The optimal basis of each phase of the base (`AllocationModel.bases`): a worker
    # starts from it instead of solving cold. Same tables, so the same LP.
    bases: Bases | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(
        cls,
        data: AllocationData,
        objective: ObjectiveMode,
        time_limit: float | None = None,
        *,
        raise_failures: bool = True,
        read_built: bool = True,
        bases: Bases | None = None,
    ) -> ModelSpec:
        settings = (data, objective, time_limit, raise_failures, read_built, bases)
        digest = hashlib.sha256(pickle.dumps(settings)).hexdigest()[:16]
        return cls(data, objective, time_limit, digest, raise_failures, read_built, bases)


class WarmModel:
    """One built model of a spec, solved again and again from its base numbers."""

    def __init__(
        self,
        spec: ModelSpec,
        model: AllocationModel | None = None,
        limits: LimitMap | None = None,
    ) -> None:
        self.spec = spec
        # `model`: one already built of spec.data (a report's base run), to reuse warm.
        if model is None:
            model = build_model(spec.data, spec.objective)
            if spec.bases is not None:
                model.set_bases(spec.bases)
        self.model = model
        self.rebuilds = 0
        # Columns in which the held LP's numbers may differ from the base tables' (None:
        # not known, so the next update compares everything).
        self._moved: set[tuple[str, str]] | None = set()
        # `limits`: the caller's LimitMap of spec.data, if it has one (built once either way).
        self._limits = limits
        # What a new worker would pay before its first warm solve (see `pool_pays`).
        self.build_seconds = self.model.build_seconds + self.model.handoff_seconds
        self.first_solve_seconds: float | None = None

    @property
    def limits(self) -> LimitMap:
        if self._limits is None:
            self._limits = LimitMap.of(self.spec.data)
        return self._limits

    def _hold(self, data: AllocationData, changed: set[tuple[str, str]] | None = None) -> None:
        """Make the held LP that of `data`, which differs from the base in `changed`."""
        if self.model.data is data and self._moved == set():
            return
        moved = None if changed is None or self._moved is None else changed | self._moved
        try:
            self.model.update(data, moved)
        except StructureChangedError:
            # e.g. a scenario adds a min_service floor: new rows, so a new model
            self.model = build_model(data, self.spec.objective)
            self.rebuilds += 1
        self._moved = changed

    def solve(self, task: Task) -> QuickSolution:
        """Solve one task: changes to the base tables, licensed capacities, or changed tables."""
        started = time.perf_counter()
        if isinstance(task, Changes) and not LimitMap.handles(task):
            self._hold(*apply_changes(self.spec.data, task.items))
        elif isinstance(task, AllocationData):
            self._hold(task)
        else:
            # Rates, row approvals and capacities only: licensed capacities (capacity x
            # approval) and the capacities lanes share, nothing else.
            if self.model.data is not self.spec.data:
                self._hold(self.spec.data, set())
            if isinstance(task, Changes):
                self.model.set_capacities(*self.limits.numbers_for(task))
            else:
                self.model.set_licensed_capacity(*task)
            self._moved = set(FAST_COLUMNS)
        solution = self.model.solve_quick(self.spec.time_limit, read_built=self.spec.read_built)
        if self.first_solve_seconds is None:
            self.first_solve_seconds = time.perf_counter() - started
        if not solution.status.ok and self.spec.raise_failures:
            raise NotOptimalError(f"a scenario did not solve: {solution.status.explain()}")
        return solution


# One warm model per worker thread, keyed by the spec: a Dask worker may run tasks on
# several threads, and a HiGHS object must never be solved by two at once.
_LOCAL = threading.local()


def warm_model(spec: ModelSpec) -> WarmModel:
    held: dict[str, WarmModel] = getattr(_LOCAL, "models", {})
    model = held.get(spec.key)
    if model is None:
        # one spec at a time: a worker never holds two big models
        model = WarmModel(spec)
        _LOCAL.models = {spec.key: model}
    return model


def solve_chunk(spec: ModelSpec, chunk: Sequence[Task]) -> list[QuickSolution]:
    """Solve one chunk of tasks on this worker's warm model of `spec`."""
    model = warm_model(spec)
    return [model.solve(task) for task in chunk]


class Executor(Protocol):
    """Solves a list of tasks on a spec's warm model."""

    name: str

    def map(
        self, spec: ModelSpec, tasks: Sequence[Task], progress: Progress | None = None
    ) -> tuple[list[QuickSolution], bool]:
        """(one solution per task, in task order; interrupted)."""
        ...


def _finished_prefix(results: list[QuickSolution | None]) -> list[QuickSolution]:
    prefix = []
    for result in results:
        if result is None:
            break
        prefix.append(result)
    return prefix


def chunk_size(tasks: int, workers: int, limit: int | None = CHUNK_SIZE) -> int:
    """Tasks per message: at most `limit` (None: no limit), and at least 4 chunks per worker.

    Big chunks save round trips, but the last ones decide when a run ends: 41 sweep steps
    in chunks of 10 are 5 chunks, 3 for one worker and 2 for the other, so the last 10
    steps run on one worker alone; 4 chunks per worker bound that tail to a quarter of a
    worker's share (41 steps on 2 workers: chunks of 6). With no progress bar to feed,
    chunks need no limit, and long ones keep neighbouring tasks together: those are often
    alike, so that the basis a worker holds after one answers the next without a run
    (`models.kept_basis`; in chunks of 10 on 2 workers, 35% of a sensitivity batch at
    100k columns were answered so, against 66% in one process).
    """
    size = -(-tasks // (4 * max(1, workers)))
    return max(1, size if limit is None else min(limit, size))


def _chunks(tasks: Sequence[Task], size: int = CHUNK_SIZE) -> list[tuple[int, Sequence[Task]]]:
    return [(start, tasks[start : start + size]) for start in range(0, len(tasks), size)]


class SerialExecutor:
    """In this process, on one warm model (the given one, if any)."""

    name = "serial"

    def __init__(self, model: WarmModel | None = None) -> None:
        self.model = model

    def map(
        self,
        spec: ModelSpec,
        tasks: Sequence[Task],
        progress: Progress | None = None,
        deadline: float | None = None,
    ) -> tuple[list[QuickSolution], bool]:
        """Solutions in task order and whether Ctrl-C stopped them; past `deadline`
        (`time.perf_counter()`), only those finished by then."""
        model = self.model if self.model is not None else warm_model(spec)
        results: list[QuickSolution] = []
        try:
            for task in tasks:
                if deadline is not None and time.perf_counter() > deadline:
                    break
                results.append(model.solve(task))
                if progress:
                    progress(1)
        except KeyboardInterrupt:
            return results, True
        return results, False


# The spec a pool worker was started with: sent once per worker (8 MB pickled at 100k
# columns, 0.2 s to pickle and unpickle), not once per chunk.
_POOL_SPEC: list[ModelSpec] = []


def _start_pool_worker(path: str) -> None:
    """A worker's start: the spec, read from the file that holds it pickled (sent that
    way, the parent need not wait while the worker imports what unpickling it needs)."""
    # Ctrl-C is handled once, by the parent, which keeps what finished.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with open(path, "rb") as held:
            spec = pickle.load(held)  # written by this process's parent, just now
    except FileNotFoundError:
        # The parent let the pool go before this worker started (a short or stopped run)
        # and removed the file: nothing will be asked of this worker.
        _POOL_SPEC[:] = []
        return
    _POOL_SPEC[:] = [spec]


def _warm_up_pool_worker() -> None:
    """Build this worker's model and solve it once, from the spec's bases."""
    if _POOL_SPEC:
        warm_model(_POOL_SPEC[0]).model.solve_quick(read_built=False)


def _spec_file(spec: ModelSpec) -> str:
    """`spec` pickled into a private temporary file (the caller removes it)."""
    handle, path = tempfile.mkstemp(prefix="exposure-spec-", suffix=".pickle")
    with os.fdopen(handle, "wb") as held:
        pickle.dump(spec, held, protocol=pickle.HIGHEST_PROTOCOL)
    return path


class Helpers:
    """`count` local worker processes (spawned, so HiGHS and Pyomo state is never
    shared) for the model of `spec`, each sent the spec once, as a file.

    With `warm_up`, they are started ahead of the work they will share: each builds the
    model and solves it once while this process does other things (a Resolver's licence
    rows, say), so that they help from a batch's first task (`HelpedRun`).
    """

    def __init__(self, spec: ModelSpec, count: int, *, warm_up: bool = True) -> None:
        self.count = count
        self._path = _spec_file(spec)
        self.pool = ProcessPoolExecutor(
            max_workers=count,
            mp_context=get_context("spawn"),
            initializer=_start_pool_worker,
            initargs=(self._path,),
        )
        self._ready = [
            self.pool.submit(_warm_up_pool_worker) for _ in range(count if warm_up else 0)
        ]

    @property
    def ready(self) -> bool:
        """Whether every helper has built its model and solved it once."""
        return all(future.done() for future in self._ready)

    def close(self, wait: bool = False) -> None:
        """Let the helpers go: what they have not begun is dropped; with `wait`, what
        they are solving is finished first."""
        self.pool.shutdown(wait=wait, cancel_futures=True)
        with contextlib.suppress(OSError):
            os.remove(self._path)


def _solve_pool_chunk(chunk: Sequence[Task]) -> list[QuickSolution]:
    return solve_chunk(_POOL_SPEC[0], chunk)


class ProcessExecutor:
    """`jobs` local worker processes, each with its own warm model."""

    name = "processes"

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def map(
        self,
        spec: ModelSpec,
        tasks: Sequence[Task],
        progress: Progress | None = None,
        deadline: float | None = None,
    ) -> tuple[list[QuickSolution], bool]:
        """Solutions in task order and whether Ctrl-C stopped them; past `deadline`
        (`time.perf_counter()`), the finished prefix only, and the workers are let go."""
        results: list[QuickSolution | None] = [None] * len(tasks)
        workers = Helpers(spec, self.jobs, warm_up=False)
        pool = workers.pool
        pending: dict[Future[list[QuickSolution]], tuple[int, int]] = {}
        interrupted = stopped = False
        try:
            limit = CHUNK_SIZE if progress else None
            for start, chunk in _chunks(tasks, chunk_size(len(tasks), self.jobs, limit)):
                pending[pool.submit(_solve_pool_chunk, list(chunk))] = (start, len(chunk))
            while pending:
                timeout = None if deadline is None else max(deadline - time.perf_counter(), 0)
                done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
                if not done:  # out of time: keep what finished, as after Ctrl-C
                    stopped = True
                    for future in pending:
                        future.cancel()
                    break
                for future in done:
                    start, size = pending.pop(future)
                    results[start : start + size] = future.result()
                    if progress:
                        progress(size)
        except KeyboardInterrupt:
            interrupted = True
            for future in pending:
                future.cancel()
        finally:
            workers.close(wait=not (interrupted or stopped))
        if interrupted or stopped:
            return _finished_prefix(results), interrupted
        return [r for r in results if r is not None], False


class DaskExecutor:
    """An existing Dask distributed cluster (`dask scheduler` + `dask worker`s), or a client."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, client: Any = None) -> None:
        if client is None:
            try:
                from distributed import Client
            except ImportError as exc:  # pragma: no cover - the test extra installs it
                raise UsageError(
                    "--scheduler needs Dask distributed: pip install 'exposure[dask]'"
                ) from exc
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except OSError as exc:
                raise UsageError(
                    f"cannot reach the Dask scheduler at {scheduler}: {exc}; "
                    "start it with `dask scheduler` and point --scheduler at its address"
                ) from exc
            self._owns_client = True
        else:
            self._owns_client = False
        self.client = client

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def map(
        self, spec: ModelSpec, tasks: Sequence[Task], progress: Progress | None = None
    ) -> tuple[list[QuickSolution], bool]:
        from distributed import as_completed

        results: list[QuickSolution | None] = [None] * len(tasks)
        # The tables go to every worker once; tasks carry only their capacity vectors.
        [shared] = self.client.scatter([spec], broadcast=True, hash=False)
        futures = {}
        # Keys unique to this map: a cluster that still holds an earlier run's chunk of the
        # same spec (a report's what-ifs, then its stress draws) must not hand that back.
        run = uuid.uuid4().hex[:8]
        workers = len(self.client.scheduler_info().get("workers", {})) or 1
        for start, chunk in _chunks(tasks, chunk_size(len(tasks), workers)):
            future = self.client.submit(
                solve_chunk,
                shared,
                list(chunk),
                pure=False,
                retries=2,
                key=f"{spec.key}-{run}-{start}",
            )
            futures[future] = (start, len(chunk))
        interrupted = False
        try:
            for future in as_completed(futures):
                start, size = futures[future]
                results[start : start + size] = future.result()
                if progress:
                    progress(size)
        except KeyboardInterrupt:
            interrupted = True
            self.client.cancel(list(futures))
        if interrupted:
            return _finished_prefix(results), True
        return [r for r in results if r is not None], False


# A local worker's start, before it builds the model: spawning Python and importing
# Pyomo, HiGHS and pandas. 1.3-1.4 s of CPU on the benchmark machine (bench/README.md,
# "Stress on Dask"); rounded up, since a loaded machine stretches it.
WORKER_START_SECONDS = 2.0
# Helpers must be predicted this much faster than this process alone before they are
# started: the estimate takes recent solve times as typical, and workers share the cores
# with whatever else runs.
POOL_MARGIN = 1.5
# Solved here first, timed (the first is cold): at least PROBE_TASKS before helpers are
# considered, then the pace is looked at again every PACE_CHECK_SECONDS, over the last
# PACE_WINDOW tasks. Tasks vary a lot: at 100k columns one that the basis held answers
# takes 2 ms, the next run of HiGHS 40 ms, and a sensitivity batch has its cheap ones
# first.
PROBE_TASKS = 2
PACE_WINDOW = 32
PACE_CHECK_SECONDS = 0.25
# Chunks per worker (this process counted) of the tasks left when helpers start, times 4.
HELPED_CHUNKS = 8
# Whether this process goes on solving once helpers start. Always, except in tests that
# must see the helpers do the work (small work would otherwise be done here first).
SOLVE_HERE_WHILE_HELPED = True


def pool_pays(tasks: int, workers: int, start_seconds: float, task_seconds: float) -> bool:
    """Whether `workers` processes (this one and helpers) finish `tasks` sooner than this
    process alone.

    This process alone: tasks x task_seconds (its model is built and warm). With helpers:
    this process goes on while each helper starts Python, builds the model and solves
    once (start_seconds), then all share what is left. Helpers are started only when
    predicted POOL_MARGIN times faster.
    """
    workers = min(workers, os.cpu_count() or 1, tasks)
    if workers < 2:
        return False
    here = tasks * task_seconds
    if here <= start_seconds:
        return False
    shared = start_seconds + (here - start_seconds) / workers
    return shared * POOL_MARGIN < here


@dataclass
class _Chunk:
    start: int
    size: int
    future: Future[list[QuickSolution]]


class HelpedRun:
    """Tasks solved in order here, while helper processes, once started, solve chunks
    from the back of the list; they meet in the middle (a chunk no helper has begun is
    taken back). The order of tasks here keeps neighbours together, as the kept basis
    likes (`models.kept_basis`), and this process never waits for helpers to start."""

    def __init__(
        self,
        warm: WarmModel,
        tasks: Sequence[Task],
        helpers: int,
        spec: Callable[[], ModelSpec],
        progress: Progress | None,
        deadline: float | None,
        started: Helpers | None = None,
    ) -> None:
        self.warm = warm
        self.tasks = tasks
        self.helpers = helpers if started is None else started.count
        self.started = started  # helpers started ahead (kept running after this run)
        self.own: Helpers | None = None  # helpers started by this run (let go after it)
        self.spec = spec
        self.progress = progress
        self.deadline = deadline
        self.results: list[QuickSolution | None] = [None] * len(tasks)
        self.pool: ProcessPoolExecutor | None = None
        self.chunks: list[_Chunk] = []  # helpers' chunks, by start (ascending)
        self.helped = False  # whether any helper's chunk came back
        self.solve_here = SOLVE_HERE_WHILE_HELPED

    def run(self) -> tuple[list[QuickSolution], bool, str]:
        """(solutions in task order, interrupted, where): "processes" if helpers solved
        any, else "serial". Past the deadline or on Ctrl-C, the finished prefix."""
        interrupted = stopped = False
        try:
            stopped = self._solve_here()
            if not stopped:
                stopped = self._collect()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if self.own is not None:
                self.own.close(wait=not (interrupted or stopped))
            for chunk in self.chunks:  # what is left of this run in a shared pool
                chunk.future.cancel()
        where = ProcessExecutor.name if self.helped else SerialExecutor.name
        if interrupted or stopped:
            return _finished_prefix(self.results), interrupted, where
        return [r for r in self.results if r is not None], False, where

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    def _solve_here(self) -> bool:
        """Solve from the front until the tasks left are the helpers'; True if the
        deadline stopped it."""
        timings: list[float] = []
        checked = time.perf_counter()
        front = 0
        while front < len(self.tasks):
            if self._out_of_time():
                return True
            if self.chunks and front == self.chunks[0].start:
                if not self.chunks[0].future.cancel():
                    return False  # a helper has it, and every chunk after it
                self.chunks.pop(0)
            started = time.perf_counter()
            self.results[front] = self.warm.solve(self.tasks[front])
            timings.append(time.perf_counter() - started)
            front += 1
            if self.progress:
                self.progress(1)
            if (
                self.pool is None
                and len(timings) >= PROBE_TASKS
                and (len(timings) == PROBE_TASKS or started - checked >= PACE_CHECK_SECONDS)
            ):
                checked = started
                recent = timings[1:][-PACE_WINDOW:]
                first = self.warm.first_solve_seconds or timings[0]
                start = WORKER_START_SECONDS + self.warm.build_seconds + first
                if self.started is not None and self.started.ready:
                    start = 0.0
                left = len(self.tasks) - front
                if pool_pays(left, self.helpers + 1, start, sum(recent) / len(recent)):
                    self._start_helpers(front)
                    if not self.solve_here:
                        return False
        return False

    def hand_out(self) -> None:
        """Give every task to the helpers now, from the back; `run` later solves here
        from the front whatever no helper has begun by then. Needs helpers started ahead."""
        if self.started is None:
            raise ValueError("hand_out needs helpers started ahead (Helpers)")
        self._start_helpers(0, keep_first=False)

    def _start_helpers(self, front: int, keep_first: bool = True) -> None:
        """Start the helpers on tasks [front, end), in chunks handed out from the back;
        with `keep_first`, the first chunk stays here (work while the helpers start)."""
        left = len(self.tasks) - front
        if left < 2:
            return
        # Small chunks: one a helper has begun (or has queued: a pool queues one more than
        # it has workers) cannot be taken back, and this process waits for it at the end.
        limit = CHUNK_SIZE if self.progress else None
        size = chunk_size(left, HELPED_CHUNKS * (self.helpers + 1), limit)
        helpers = self.started
        if helpers is None:
            helpers = self.own = Helpers(self.spec(), self.helpers, warm_up=False)
        self.pool = helpers.pool
        first = front + size if keep_first and self.solve_here else front
        starts = list(range(first, len(self.tasks), size))
        for start in reversed(starts):
            chunk = list(self.tasks[start : start + size])
            future = self.pool.submit(_solve_pool_chunk, chunk)
            self.chunks.append(_Chunk(start, len(chunk), future))
        self.chunks.sort(key=lambda chunk: chunk.start)

    def _collect(self) -> bool:
        """Wait for the helpers' chunks; True if the deadline stopped it."""
        pending = {chunk.future: chunk for chunk in self.chunks}
        while pending:
            timeout = None if self.deadline is None else self.deadline - time.perf_counter()
            if timeout is not None and timeout <= 0:
                return True
            done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            if not done:
                return True
            for future in done:
                chunk = pending.pop(future)
                try:
                    solved = future.result()
                    self.helped = True
                except (BrokenExecutor, CancelledError, OSError):
                    # A helper died (killed, out of memory) or its pool broke: its chunk is
                    # solved here, so nothing is lost and nothing reported twice.
                    tasks = self.tasks[chunk.start : chunk.start + chunk.size]
                    solved = [self.warm.solve(task) for task in tasks]
                self.results[chunk.start : chunk.start + chunk.size] = solved
                if self.progress:
                    self.progress(chunk.size)
        return False


def solve_tasks(
    warm: WarmModel,
    tasks: Sequence[Task],
    jobs: int | None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    deadline: float | None = None,
    helpers: Helpers | None = None,
) -> tuple[list[QuickSolution], bool, str]:
    """Solve tasks where `jobs` and `scheduler` say, in task order: (solutions, interrupted, where).

    With a scheduler, all of them on that Dask cluster. Otherwise here on `warm` (this
    process's model), in order; with `jobs` above 1, `jobs - 1` helper processes join in
    from the back of the list once `pool_pays` says, from the recent pace here, that
    they would finish the rest sooner (`HelpedRun`). So `--jobs N` never makes small work
    slower than `--jobs 1`. `helpers`: ones started ahead for `warm.spec` (`Helpers`), to
    use instead of starting new ones. `where` names the executor that ran any of them beyond this
    process ("serial", "processes" or "dask"). Past `deadline` (`time.perf_counter()`;
    local executors only) the solutions finished by then, in order.
    """

    def keyed() -> ModelSpec:  # hashing the tables costs 0.2 s at 100k columns: only to ship
        spec = warm.spec
        return ModelSpec.of(
            spec.data,
            spec.objective,
            spec.time_limit,
            raise_failures=spec.raise_failures,
            read_built=spec.read_built,
            bases=spec.bases,
        )

    if scheduler:
        dask = DaskExecutor(scheduler)
        try:
            solutions, interrupted = dask.map(keyed(), tasks, progress)
        finally:
            dask.close()
        return solutions, interrupted, dask.name
    count = min(jobs or 1, os.cpu_count() or 1) - 1
    if count < 1 and helpers is None:
        here = SerialExecutor(warm)
        return (*here.map(warm.spec, tasks, progress, deadline), here.name)
    return HelpedRun(warm, tasks, count, keyed, progress, deadline, helpers).run()


def executor_for(
    jobs: int | None, scheduler: str | None, model: WarmModel | None = None
) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    """The executor a command's `--jobs` and `--scheduler` ask for (serial by default).

    Serial is the default because a local process pool pays for starting Python, importing
    Pyomo and building the model again in every worker; `--jobs N` chooses it knowingly.
    """
    if scheduler:
        return DaskExecutor(scheduler)
    if jobs is not None and jobs > 1:
        return ProcessExecutor(jobs)
    return SerialExecutor(model)
