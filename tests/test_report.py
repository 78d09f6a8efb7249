"""Scheduled reports: dated workbooks, history, changes, alerts, locks, pruning."""

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from exposure.cli import main
from exposure.errors import InputError
from exposure.schedule.config import load_config
from exposure.schedule.history import History
from exposure.schedule.report import ReportBusyError, pick_input, report_lock, run_report
from tests import workbooks


def runs_of(url: str, name: str = "tiny"):
    history = History(url)
    try:
        return history.runs(name)
    finally:
        history.close()


def write_config(folder: Path, text: str) -> Path:
    path = folder / "report.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_text(input_path: str, extra: str = "") -> str:
    return f'name = "tiny"\ninput = "{input_path}"\noutput_dir = "out"\n{extra}'


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_two_runs_give_changes_and_two_history_rows(tmp_path: Path):
    source = workbooks.write(workbooks.tiny(), tmp_path / "in.xlsx")
    config = write_config(tmp_path, config_text("in.xlsx"))
    first = invoke("report", str(config), "-q")
    assert first.exit_code == 0, first.output
    # the planners raise the Chinese approval rate: 50% -> 5 t, P2 gets 5, loses 2500
    sheets = workbooks.tiny()
    sheets["Licences"][1][3] = 0.5
    workbooks.write(sheets, source)
    second = invoke("report", str(config), "-q")
    assert second.exit_code == 0, second.output
    # two runs can fall in one second: the newest report is the newest file
    reports = sorted((tmp_path / "out").glob("tiny-*.xlsx"), key=lambda p: p.stat().st_mtime_ns)
    assert len(reports) == 2
    changes = pd.read_excel(reports[-1], sheet_name="Changes")
    lost = changes[
        (changes["scenario"] == "base")
        & (changes["metric"] == "lost_value")
        & changes["sector"].isna()
    ].iloc[0]
    assert lost["previous"] == pytest.approx(3500)
    assert lost["current"] == pytest.approx(2500)
    assert lost["change"] == pytest.approx(-1000)
    hashes = changes[changes["metric"] == "input_sha256"].iloc[0]
    assert hashes["previous"] != hashes["current"]
    history = json.loads(invoke("history", str(config), "--json").output)
    assert [run["status"] for run in history] == ["ok", "ok"]
    assert history[0]["lost_value"] == pytest.approx(2500)
    assert history[1]["lost_value"] == pytest.approx(3500)


def test_a_breached_threshold_exits_4_with_an_alert(tmp_path: Path):
    workbooks.write(workbooks.tiny(), tmp_path / "in.xlsx")
    extra = (
        '[[thresholds]]\nmetric = "lost_value"\nsector = "S2"\nop = ">"\nvalue = 1000\n'
        '[[thresholds]]\nmetric = "service_level"\nproduct = "P1"\nop = "<"\nvalue = 0.5\n'
    )
    config = write_config(tmp_path, config_text("in.xlsx", extra))
    result = invoke("report", str(config))
    assert result.exit_code == 4, result.output
    report = next((tmp_path / "out").glob("tiny-*.xlsx"))
    alerts = pd.read_excel(report, sheet_name="Alerts")
    assert alerts["breached"].tolist() == [True, False]
    assert alerts["value"].tolist() == pytest.approx([3500, 1.0])
    runs = runs_of(load_config(config).history)
    assert runs[0].status == "breached" and runs[0].exit_code == 4


def test_the_folder_input_takes_the_newest_real_workbook(tmp_path: Path):
    folder = tmp_path / "drop"
    folder.mkdir()
    older = workbooks.write(workbooks.tiny(), folder / "older.xlsx")
    newer = workbooks.write(workbooks.tiny(), folder / "newer.xlsx")
    lock = folder / "~$newer.xlsx"
    lock.write_bytes(b"owner")
    partial = folder / "copying.xlsx"
    partial.write_bytes(newer.read_bytes()[:2000])  # a copy still in progress
    now = time.time()
    os.utime(older, (now - 300, now - 300))
    os.utime(newer, (now - 100, now - 100))
    os.utime(lock, (now, now))
    os.utime(partial, (now, now))
    assert pick_input(folder) == newer


def test_an_empty_folder_is_a_plain_error(tmp_path: Path):
    with pytest.raises(InputError, match=r"no \.xlsx workbook"):
        pick_input(tmp_path)


def test_the_lock_refuses_a_concurrent_run(tmp_path: Path):
    workbooks.write(workbooks.tiny(), tmp_path / "in.xlsx")
    config = write_config(tmp_path, config_text("in.xlsx"))
    settings = load_config(config)
    with report_lock(settings.output_dir, settings.name):
        with pytest.raises(ReportBusyError):
            run_report(settings)
        result = invoke("report", str(config))
        assert result.exit_code == 75
        assert "in progress" in result.output
    assert not list(settings.output_dir.glob("tiny-*.xlsx"))
    assert invoke("report", str(config), "-q").exit_code == 0


def test_keep_prunes_the_oldest_reports(tmp_path: Path):
    workbooks.write(workbooks.tiny(), tmp_path / "in.xlsx")
    config = write_config(tmp_path, config_text("in.xlsx", "keep = 2\n"))
    for _ in range(3):
        assert invoke("report", str(config), "-q").exit_code == 0
    reports = sorted((tmp_path / "out").glob("tiny-*.xlsx"))
    assert len(reports) == 2
    assert len(runs_of(load_config(config).history)) == 3


def test_a_failing_run_leaves_no_report_and_is_recorded(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Supply"][1][3] = -5  # invalid input
    workbooks.write(sheets, tmp_path / "in.xlsx")
    config = write_config(tmp_path, config_text("in.xlsx"))
    result = invoke("report", str(config), "-q")
    assert result.exit_code == 2
    assert "Supply!D2" in result.output
    assert not list((tmp_path / "out").glob("*.xlsx"))
    assert not list((tmp_path / "out").glob("*.tmp"))
    (run,) = runs_of(load_config(config).history)
    assert run.status == "failed" and run.exit_code == 2
    assert "Supply!D2" in run.message


def test_bad_config_lists_every_problem(tmp_path: Path):
    config = write_config(
        tmp_path,
        'name = "bad name!"\noutput_dir = 3\nkeep = 0\nobjective = "cheap"\ncolour = "red"\n'
        '[[thresholds]]\nmetric = "mood"\nop = ">"\nvalue = 1\n',
    )
    result = invoke("report", str(config))
    assert result.exit_code == 2
    for text in (
        "input: is required",
        "keep:",
        "objective:",
        "colour: is not a known key",
        "metric 'mood'",
        "name:",
        "output_dir:",
    ):
        assert text in result.output


def test_dry_run_writes_nothing(tmp_path: Path):
    workbooks.write(workbooks.tiny(), tmp_path / "in.xlsx")
    config = write_config(tmp_path, config_text("in.xlsx"))
    result = invoke("report", str(config), "--dry-run")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out").exists()


def test_the_example_config_is_valid():
    config = load_config(Path(__file__).parent.parent / "inputs" / "report-example.toml")
    assert config.name == "weekly-exposure"
    assert config.input.name == "reference.xlsx"
    assert config.stress is not None and len(config.thresholds) == 2


def test_stress_and_licence_thresholds(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Licences"] = [
        ["regime", "material", "period", "approval_rate", "approval_low", "approval_high"],
        ["CN", "DY", None, 0.3, 0.0, 0.6],
    ]
    workbooks.write(sheets, tmp_path / "in.xlsx")
    extra = (
        "[stress]\ndraws = 20\nseed = 1\n"
        '[[thresholds]]\nmetric = "shortfall_at_risk"\nsector = "S2"\nop = ">"\n'
        "value = 6000\n"
        '[[thresholds]]\nmetric = "licence_dependency"\nsector = "S2"\nregime = "CN"\n'
        'op = ">="\nvalue = 0.99\n'
    )
    config = write_config(tmp_path, config_text("in.xlsx", extra))
    outcome = run_report(load_config(config))
    alerts = outcome.alerts.set_index("metric")
    # S2 loses at most 5000 (no CN at all): the P95 cannot exceed 6000
    assert not alerts.loc["shortfall_at_risk", "breached"]
    assert alerts.loc["shortfall_at_risk", "value"] <= 5000 + 1e-6
    # without CN, S2 builds nothing: dependency 100%
    assert alerts.loc["licence_dependency", "breached"]
    assert outcome.exit_code == 4


@pytest.mark.skipif(
    not os.environ.get("EXPOSURE_TEST_POSTGRES_URL"),
    reason="set EXPOSURE_TEST_POSTGRES_URL to test against a PostgreSQL server",
)
def test_history_works_against_postgresql(tmp_path: Path):
    url = os.environ["EXPOSURE_TEST_POSTGRES_URL"]
    workbooks.write(workbooks.tiny(), tmp_path / "in.xlsx")
    name = f"pg{os.getpid()}"
    config = write_config(
        tmp_path, f'name = "{name}"\ninput = "in.xlsx"\noutput_dir = "out"\nhistory = "{url}"\n'
    )
    assert invoke("report", str(config), "-q").exit_code == 0
    runs = runs_of(url, name)
    assert runs and runs[0].status == "ok"


def test_a_report_builds_one_model_for_base_whatif_and_stress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import exposure.pipeline
    import exposure.whatif.executors
    from models.allocation import build_model

    builds = []

    def counting_build(*args, **kwargs):
        builds.append(1)
        return build_model(*args, **kwargs)

    monkeypatch.setattr(exposure.pipeline, "build_model", counting_build)
    monkeypatch.setattr(exposure.whatif.executors, "build_model", counting_build)
    sheets = workbooks.tiny()
    sheets["Scenarios"] = [
        ["scenario", "sheet", "column", "match", "operation", "value"],
        ["CN_HALT", "Licences", "approval_rate", "regime=CN", "set", 0],
    ]
    workbooks.write(sheets, tmp_path / "in.xlsx")
    config = write_config(tmp_path, config_text("in.xlsx", "[stress]\ndraws = 5\nseed = 1\n"))
    result = invoke("report", str(config), "-q")
    assert result.exit_code == 0, result.output
    assert len(builds) == 1


def test_cluster_table_names_a_scheduler(tmp_path: Path):
    workbooks.write(workbooks.tiny(), tmp_path / "in.xlsx")
    good = write_config(
        tmp_path, config_text("in.xlsx", '[cluster]\nscheduler = "tcp://10.1.2.3:8786"\n')
    )
    assert load_config(good).scheduler == "tcp://10.1.2.3:8786"
    bad = write_config(tmp_path, config_text("in.xlsx", "[cluster]\nworkers = 4\n"))
    with pytest.raises(InputError) as problem:
        load_config(bad)
    assert "cluster" in str(problem.value.issues[0].message)
