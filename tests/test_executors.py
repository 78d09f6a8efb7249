"""The same what-if numbers whichever executor runs them: this process, local processes, Dask.

A real Dask `LocalCluster` (worker processes on loopback) stands in for a
cluster of machines; the CLI is pointed at its scheduler address as an
operator would point it at `dask scheduler`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from exposure.cli import main
from exposure.scenarios import Engine, LimitMap, Vary, run_stress, run_sweep, run_whatif
from exposure.whatif import executors
from exposure.workbook.validate import load_valid_workbook
from tests import workbooks

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.filterwarnings(
    # Dask's own start-up and shutdown chatter is not ours to fix.
    "ignore::DeprecationWarning",
    "ignore::ResourceWarning",
    "ignore::UserWarning:distributed",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)


def local_cluster() -> distributed.LocalCluster:
    """Two single-threaded worker processes on loopback, no dashboard."""
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )


@pytest.fixture(scope="module")
def cluster():
    with local_cluster() as local:
        yield local


@pytest.fixture(scope="module")
def scenario_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sheets = workbooks.tiny()
    sheets["Licences"][0].extend(["approval_low", "approval_high"])
    sheets["Licences"][1].extend([0.0, 0.9])
    sheets["Scenarios"] = [
        ["scenario", "sheet", "column", "match", "operation", "value"],
        ["CN_HALT", "Licences", "approval_rate", "regime=CN", "set", 0],
        ["AU_MORE", "Supply", "capacity", "source=AUS", "scale", 1.5],
        ["CN_FULL", "Licences", "approval_rate", "regime=CN", "set", 1],
    ]
    return workbooks.write(sheets, tmp_path_factory.mktemp("exec") / "scenarios.xlsx")


@pytest.fixture
def pool_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--jobs 2` starts the helpers even for work as small as a test's, and leaves them
    all but the first tasks (this process would otherwise finish small work first)."""
    monkeypatch.setattr(executors, "pool_pays", lambda *_: True)
    monkeypatch.setattr(executors, "SOLVE_HERE_WHILE_HELPED", False)


def test_stress_is_identical_serial_in_processes_and_on_dask(
    scenario_book: Path, cluster, pool_always: None
):
    book = load_valid_workbook(scenario_book)
    serial = run_stress(book, scenario_book, draws=25, seed=3, jobs=1)
    processes = run_stress(book, scenario_book, draws=25, seed=3, jobs=2)
    dask = run_stress(book, scenario_book, draws=25, seed=3, scheduler=cluster.scheduler_address)
    for other in (processes, dask):
        assert other.completed == serial.completed == 25
        pd.testing.assert_frame_equal(other.draws, serial.draws)
        pd.testing.assert_frame_equal(other.sectors, serial.sectors)
    # The draws really differ, so the comparison compares something.
    assert serial.draws["lost_value"].nunique() > 5


def test_sweep_and_whatif_are_identical_on_dask(scenario_book: Path, cluster):
    book = load_valid_workbook(scenario_book)
    vary = Vary.parse("Licences:approval_rate:regime=CN")
    values = list(np.linspace(0, 1, 11))
    serial = run_sweep(book, scenario_book, vary, values, jobs=1)
    dask = run_sweep(book, scenario_book, vary, values, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(dask.curve, serial.curve)
    assert serial.totals["lost_value"].is_monotonic_decreasing
    here = run_whatif(book)
    there = run_whatif(book, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(there.comparison, here.comparison)
    assert there.scenarios == ["CN_HALT", "AU_MORE", "CN_FULL"]


def test_cli_points_at_a_scheduler(scenario_book: Path, cluster, tmp_path: Path):
    runner = CliRunner()
    local = tmp_path / "local.xlsx"
    remote = tmp_path / "remote.xlsx"
    args = ["stress", str(scenario_book), "--draws", "12", "--seed", "5", "-q"]
    first = runner.invoke(main, [*args, "-o", str(local)])
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        main, [*args, "-o", str(remote), "--scheduler", cluster.scheduler_address]
    )
    assert second.exit_code == 0, second.output
    assert pd.read_excel(local, "Stress draws").equals(pd.read_excel(remote, "Stress draws"))


def test_an_unreachable_scheduler_is_a_clear_error(scenario_book: Path, tmp_path: Path):
    result = CliRunner().invoke(
        main,
        [
            "stress",
            str(scenario_book),
            "--draws",
            "3",
            "-q",
            "-o",
            str(tmp_path / "s.xlsx"),
            "--scheduler",
            "tcp://127.0.0.1:9",  # the discard port: nothing listens there
        ],
    )
    assert result.exit_code == 2, result.output
    assert "cannot reach the Dask scheduler" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "s.xlsx").exists()


def test_a_lost_worker_is_replaced_and_nothing_is_reported_twice(scenario_book: Path):
    """SIGKILL one worker of a real LocalCluster mid-map: its chunks run again elsewhere.

    The progress bar counts every draw exactly once, the draws come back complete and in
    order, and the numbers are those of a run in this process.
    """
    import os
    import signal

    book = load_valid_workbook(scenario_book)
    serial = run_stress(book, scenario_book, draws=300, seed=11, jobs=1)
    with local_cluster() as local:
        # One client only (the executor's): the scheduler and nannies run in this process,
        # so their state says which worker process to kill and what it holds.
        nanny = next(iter(local.workers.values()))
        address, victim = nanny.worker_address, nanny.process.pid
        counted: list[int] = []
        held: list[int] = []

        def progress(done: int) -> None:
            if not counted:  # the first chunk is back: the rest are queued or running
                held.append(len(local.scheduler.workers[address].processing))
                os.kill(victim, signal.SIGKILL)
            counted.append(done)

        dask = run_stress(
            book,
            scenario_book,
            draws=300,
            seed=11,
            progress=progress,
            scheduler=local.scheduler_address,
        )
        after = [n.process.pid for n in local.workers.values() if n.process is not None]
    assert victim not in after  # the worker really was lost (its nanny restarted it)
    assert held[0] > 0  # with chunks of draws still on it, which ran again elsewhere
    assert sum(counted) == 300
    assert dask.completed == serial.completed == 300
    assert not dask.interrupted
    pd.testing.assert_frame_equal(dask.draws, serial.draws)
    pd.testing.assert_frame_equal(dask.sectors, serial.sectors)


def test_small_work_stays_in_this_process_even_with_jobs(scenario_book: Path):
    """`--jobs 2` on draws that solve in milliseconds: starting workers would cost more."""
    book = load_valid_workbook(scenario_book)
    engine = Engine(book, "priority")
    licences = LimitMap.of(engine.base)
    tasks = [licences.limits_for_rates({}) for _ in range(20)]
    counted: list[int] = []
    solutions, interrupted, where = executors.solve_tasks(
        engine.warm, tasks, jobs=2, progress=counted.append
    )
    assert where == "serial"
    assert len(solutions) == sum(counted) == 20 and not interrupted


def test_helpers_joining_from_the_back_give_the_serial_answers_in_order(
    scenario_book: Path, monkeypatch: pytest.MonkeyPatch
):
    """With helpers started at once and this process solving on, the two meet in the
    middle (a chunk no helper has begun is taken back here): every task is answered once,
    in order, with the serial figures."""
    monkeypatch.setattr(executors, "pool_pays", lambda *_: True)
    book = load_valid_workbook(scenario_book)
    engine = Engine(book, "priority")
    licences = LimitMap.of(engine.base)
    supply_limit, plant_limit = licences.limits_for_rates({})
    tasks = [(supply_limit * f, plant_limit * f) for f in np.linspace(0.5, 1.5, 120)]
    counted: list[int] = []
    helped, interrupted, _ = executors.solve_tasks(
        engine.warm, tasks, jobs=2, progress=counted.append
    )
    serial, _, where = executors.solve_tasks(engine.warm, tasks, jobs=1)
    assert where == "serial" and not interrupted
    assert len(helped) == sum(counted) == len(tasks)
    assert [s.objective_value for s in helped] == pytest.approx(
        [s.objective_value for s in serial], rel=1e-9
    )


def test_a_chunk_whose_helper_died_is_solved_here(scenario_book: Path):
    """A helper's pool that broke (a worker killed or out of memory) loses nothing: every
    chunk it held is solved in this process, once, in order."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    class BrokenPool:
        def submit(self, *_: object) -> Future:
            future: Future = Future()
            future.set_running_or_notify_cancel()  # begun: cannot be taken back
            future.set_exception(BrokenProcessPool("a worker died"))
            return future

    class Started:
        count = 1
        ready = True
        pool = BrokenPool()

    book = load_valid_workbook(scenario_book)
    engine = Engine(book, "priority")
    supply_limit, plant_limit = LimitMap.of(engine.base).limits_for_rates({})
    tasks = [(supply_limit * f, plant_limit * f) for f in np.linspace(0.5, 1.5, 40)]
    run = executors.HelpedRun(engine.warm, tasks, 1, lambda: engine.warm.spec, None, None)
    run.started = Started()  # type: ignore[assignment]
    run.hand_out()
    assert run.chunks  # all of them the broken pool's
    solutions, interrupted, where = run.run()
    serial, _, _ = executors.solve_tasks(engine.warm, tasks, jobs=1)
    assert not interrupted and where == "serial" and len(solutions) == len(tasks)
    assert [s.objective_value for s in solutions] == pytest.approx(
        [s.objective_value for s in serial], rel=1e-9
    )


def test_the_pool_is_started_only_when_it_is_predicted_faster(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(executors.os, "cpu_count", lambda: 2)
    # 100k columns, measured (bench/README.md): a worker needs about 16 s before its first
    # warm solve (start, build, cold solve); a warm solve takes about 0.5 s.
    # This process goes on while a helper starts, then they share: 16 + (here - 16) / 2.
    assert not executors.pool_pays(39, 2, 16.0, 0.5)  # the rest of a 41-step sweep
    assert not executors.pool_pays(90, 2, 16.0, 0.5)  # 30.5 s against 45 s: too close
    assert executors.pool_pays(100, 2, 16.0, 0.5)  # 33 s against 50 s
    assert executors.pool_pays(998, 2, 16.0, 0.5)  # 1,000 stress draws
    assert not executors.pool_pays(998, 1, 16.0, 0.5)  # one worker never pays
    monkeypatch.setattr(executors.os, "cpu_count", lambda: 1)
    assert not executors.pool_pays(998, 2, 16.0, 0.5)  # nor more workers than cores


@pytest.mark.parametrize("ahead", [False, True], ids=["helpers-on-demand", "helpers-ahead"])
def test_sensitivities_are_the_same_when_their_re_solves_run_in_worker_processes(
    pool_always: None, monkeypatch: pytest.MonkeyPatch, ahead: bool
):
    """`exposure run --jobs 2`: the Binding and Why short re-solves go to workers that start
    from the base's bases; every figure is the serial one (the starting basis of each
    re-solve may differ, so to the solver's round-off) and so is how it was measured."""
    from exposure import sensitivity
    from exposure.analytics import compute_exposure
    from exposure.tables import to_model_data
    from models import build_model

    if ahead:  # started with the Resolver, the Binding and Why short steps handed out early
        monkeypatch.setattr(sensitivity, "PRESTART_SOLVE_SECONDS", 0.0)
    data = to_model_data(load_valid_workbook(workbooks.REFERENCE))
    figures = {}
    for jobs in (1, 2):
        model = build_model(data)
        solution = model.solve()
        exposure = compute_exposure(solution, data, model, break_even=False, jobs=jobs)
        figures[jobs] = exposure
    serial, pooled = figures[1], figures[2]
    assert serial.resolves_ran == "serial" and pooled.resolves_ran == "processes"
    scale = max(1.0, abs(serial.kpis["objective_value"]))
    for table, column in (("binding", "value_of_relief"), ("licences", "value_of_1pp")):
        ours, theirs = getattr(pooled, table), getattr(serial, table)
        assert ours[column].to_numpy(float) == pytest.approx(
            theirs[column].to_numpy(float), rel=1e-9, abs=1e-9 * scale, nan_ok=True
        )
    assert serial.binding["value_of_relief"].gt(0).sum() > 5  # figures that say something
    why = ["product", "period", "value_of_relief"]
    pd.testing.assert_frame_equal(
        pooled.why_short[why],
        serial.why_short[why],
        check_exact=False,
        rtol=1e-9,
        atol=1e-9 * scale,
    )


def test_sensitivity_re_solves_in_workers_stop_at_the_budget(pool_always: None):
    """Past the Resolver's budget the workers are let go: the figures finished by then are
    kept, in order, and the rest are marked skipped, as in one process."""
    from exposure.sensitivity import DUAL_METHOD, RESOLVE_METHOD, Resolver
    from exposure.tables import to_model_data
    from models import build_model

    data = to_model_data(load_valid_workbook(workbooks.REFERENCE))
    model = build_model(data)
    base = model.solve()
    resolver = Resolver(model, base, budget_seconds=3600.0, jobs=2)
    steps = [
        resolver.capacity_step(np.array([row]), np.zeros(0, dtype=int), fraction=0.5 + row / 100)
        for row in range(len(data.supply))
    ]
    # Half a second left: the two probes here fit, and it runs out while the pool starts
    # (a worker spawns Python and imports pandas, Pyomo and HiGHS first: over a second).
    resolver.started = time.perf_counter() - resolver.budget_seconds + 0.5
    effects = resolver.measure_many(steps)
    # Steps the duals answer need no re-solve; of the others, a prefix is re-solved and
    # the rest skipped.
    re_solved = [
        (step, effect)
        for step, effect in dict(zip(steps, effects, strict=True)).items()
        if effect.method != DUAL_METHOD
    ]
    skipped = [effect.method.startswith("skipped") for _, effect in re_solved]
    assert any(skipped) and not all(skipped)
    first_skipped = skipped.index(True)
    assert all(skipped[first_skipped:])
    serial = Resolver(model, base)
    for step, effect in re_solved[:first_skipped]:
        assert effect.method == RESOLVE_METHOD
        assert effect.value == pytest.approx(serial.measure(step).value, rel=1e-9, abs=1e-3)
