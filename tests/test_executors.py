"""The same what-if numbers whichever executor runs them: this process, local processes, Dask.

A real Dask `LocalCluster` (worker processes on loopback) stands in for a
cluster of machines; the CLI is pointed at its scheduler address as an
operator would point it at `dask scheduler`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from exposure.cli import main
from exposure.scenarios import Vary, run_stress, run_sweep, run_whatif
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


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
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


def test_stress_is_identical_serial_in_processes_and_on_dask(scenario_book: Path, cluster):
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
