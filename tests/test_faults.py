"""Faults around writing: a kill mid-save, a full disk, a read-only folder, a lost history
database, the crash log. Whatever happens, a results file is the old one or the new one,
never half of either, and a failure says so plainly."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import stat
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from openpyxl import Workbook

from exposure import cli
from exposure.cli import main
from exposure.errors import EXIT_BUG
from exposure.report import excel
from exposure.report.excel import partial_files, save_atomically
from exposure.schedule.history import History
from tests import workbooks


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def marked_workbook(marker: str, rows: int = 0) -> Workbook:
    """A workbook whose A1 says `marker`, with `rows` more rows to make saving take a while."""
    book = Workbook()
    sheet = book.active
    sheet["A1"] = marker
    for number in range(rows):
        sheet.append([number, f"row {number}", number * 1.5, "text " * 4])
    return book


def marker_of(path: Path) -> str:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return book.active["A1"].value
    finally:
        book.close()


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


# --- SIGKILL during a save ---------------------------------------------------------


def _save_when_told(book: Workbook, target: Path, started: multiprocessing.Event) -> None:
    started.set()
    save_atomically(book, target)


def test_sigkill_at_any_point_of_a_save_leaves_the_old_or_the_new_file(tmp_path: Path):
    target = tmp_path / "results.xlsx"
    save_atomically(marked_workbook("old"), target)
    big = marked_workbook("new", rows=20_000)  # some tenths of a second to save
    context = multiprocessing.get_context("fork")  # the child inherits the built workbook

    clock = time.perf_counter()
    save_atomically(big, tmp_path / "timing.xlsx")
    save_seconds = time.perf_counter() - clock
    (tmp_path / "timing.xlsx").unlink()

    outcomes = []
    for share in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 3.0):  # of one save's duration
        started = context.Event()
        child = context.Process(target=_save_when_told, args=(big, target, started))
        child.start()
        assert started.wait(30)
        time.sleep(share * save_seconds)
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        marker = marker_of(target)  # always a whole workbook
        assert marker in ("old", "new")
        leftovers = partial_files(target)
        others = set(tmp_path.iterdir()) - {target, *leftovers}
        assert others == set(), f"unrecognisable files left: {others}"
        for leftover in leftovers:  # named for the file and the dead process
            assert leftover.name.startswith(f".results.xlsx.{child.pid}-")
            assert leftover.name.endswith(".partial")
        outcomes.append((marker, len(leftovers)))
        if marker == "new":  # start again from the old file
            save_atomically(marked_workbook("old"), target)
    assert ("old", 1) in outcomes, f"no kill landed mid-save: {outcomes}"
    assert outcomes[-1] == ("new", 0), outcomes

    # the next save of the same file removes what killed saves left behind
    save_atomically(marked_workbook("next"), target)
    assert partial_files(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.xlsx"]
    assert marker_of(target) == "next"


def test_a_partial_file_of_a_live_process_is_left_alone(tmp_path: Path):
    target = tmp_path / "results.xlsx"
    mine = tmp_path / f".results.xlsx.{os.getpid()}-abc.partial"  # a save under way
    mine.write_bytes(b"half")
    dead = tmp_path / ".results.xlsx.999999999-abc.partial"  # no such process
    dead.write_bytes(b"half")
    other = tmp_path / ".other.xlsx.999999999-abc.partial"  # another file's leftover
    other.write_bytes(b"half")
    save_atomically(marked_workbook("new"), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [mine.name, other.name, "results.xlsx"]
    )


# --- a full disk and a read-only folder ----------------------------------------------


def fail_after(calls: int, error: OSError, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the zip writer fail on its `calls`-th part: openpyxl adds parts from memory
    (`writestr`), xlsxwriter from its scratch files (`write`)."""
    count = {"n": 0}

    def failing(real: Callable[..., None]) -> Callable[..., None]:
        def add_part(self: zipfile.ZipFile, *args: object, **kwargs: object) -> None:
            count["n"] += 1
            if count["n"] >= calls:
                raise error
            real(self, *args, **kwargs)

        return add_part

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing(zipfile.ZipFile.writestr))
    monkeypatch.setattr(zipfile.ZipFile, "write", failing(zipfile.ZipFile.write))


DISK_FULL = OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("previous", [True, False], ids=["over-a-file", "new-file"])
def test_full_disk_during_a_run_says_so_and_writes_nothing(
    tiny_workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, previous: bool
):
    out = tmp_path / "out" / "results.xlsx"
    out.parent.mkdir()
    if previous:
        out.write_bytes(b"previous results")
    fail_after(3, DISK_FULL, monkeypatch)
    result = invoke("run", str(tiny_workbook), "-o", str(out), "--overwrite")
    assert result.exit_code == EXIT_BUG
    assert (
        f"error: could not write {out}: No space left on device "
        "(the disk is full: free some space and run again)"
    ) in result.output
    assert "internal error" not in result.output
    expected = ["results.xlsx"] if previous else []
    assert sorted(p.name for p in out.parent.iterdir()) == expected
    if previous:
        assert out.read_bytes() == b"previous results"


def test_full_disk_during_a_whatif_says_so_and_writes_nothing(
    tiny_workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "out" / "whatif.xlsx"
    out.parent.mkdir()
    fail_after(2, DISK_FULL, monkeypatch)
    result = invoke("whatif", str(tiny_workbook), "-o", str(out), "-q")
    assert result.exit_code == EXIT_BUG
    assert "No space left on device (the disk is full" in result.output
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EROFS, "Read-only file system"),
        PermissionError(errno.EACCES, "Permission denied"),
    ],
    ids=["read-only-mount", "no-permission"],
)
def test_read_only_output_folder_says_so_and_writes_nothing(
    tiny_workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError
):
    """Simulated: tests run as root here, and root may write into a 0o555 folder."""
    folder = tmp_path / "locked"
    folder.mkdir()

    def refuse(*_args: object, **_kwargs: object) -> tuple[int, str]:
        raise error

    monkeypatch.setattr(excel.tempfile, "mkstemp", refuse)
    result = invoke("run", str(tiny_workbook), "-o", str(folder / "results.xlsx"))
    assert result.exit_code == EXIT_BUG
    assert (
        f"error: cannot write to {folder}: {error.strerror} (choose a folder you can write to)"
    ) in result.output
    assert list(folder.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_really_read_only_output_folder(tiny_workbook: Path, tmp_path: Path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = invoke("run", str(tiny_workbook), "-o", str(folder / "results.xlsx"))
    finally:
        folder.chmod(0o755)
    assert result.exit_code == EXIT_BUG
    assert "Permission denied (choose a folder you can write to)" in result.output
    assert list(folder.iterdir()) == []


# --- permissions of what is written ----------------------------------------------------


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_results_files_honour_the_umask(tmp_path: Path, mask: int, mode: int):
    target = tmp_path / "results.xlsx"
    with umask(mask):
        save_atomically(marked_workbook("new"), target)
        assert stat.S_IMODE(target.stat().st_mode) == mode
        save_atomically(marked_workbook("again"), target)  # replacing keeps to the umask
        assert stat.S_IMODE(target.stat().st_mode) == mode


def test_run_output_honours_the_umask(tiny_workbook: Path, tmp_path: Path):
    out = tmp_path / "results.xlsx"
    with umask(0o022):
        result = invoke("run", str(tiny_workbook), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


# --- the crash log ---------------------------------------------------------------------


def crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `exposure validate` hit a bug."""

    def broken(_path: object) -> None:
        raise ZeroDivisionError("planted bug")

    monkeypatch.setattr("exposure.workbook.validate.check_workbook", broken)


def test_crash_log_is_private_to_the_user(
    tiny_workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    crash(monkeypatch)
    with umask(0o000):  # even with a careless umask
        result = invoke("validate", str(tiny_workbook))
    assert result.exit_code == EXIT_BUG
    log = tmp_path / "state" / "exposure" / "crash.log"
    assert f"details are in {log}" in result.output
    assert "ZeroDivisionError: planted bug" in log.read_text(encoding="utf-8")
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_crash_log_defaults_to_the_users_state_folder(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", "/home/planner")
    monkeypatch.setattr(cli, "_private_folder", lambda folder: folder)
    assert cli.crash_log_path() == Path("/home/planner/.local/state/exposure/crash.log")


def test_crash_log_never_follows_a_planted_symlink(
    tiny_workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    state = tmp_path / "state" / "exposure"
    state.mkdir(parents=True, mode=0o700)
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me", encoding="utf-8")
    (state / "crash.log").symlink_to(precious)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    crash(monkeypatch)
    result = invoke("validate", str(tiny_workbook))
    assert result.exit_code == EXIT_BUG
    assert precious.read_text(encoding="utf-8") == "keep me"
    assert not (state / "crash.log").is_symlink()


def test_crash_log_falls_back_to_a_private_temporary_folder(
    tiny_workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the state folder would be", encoding="utf-8")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(cli.tempfile, "tempdir", None)  # re-read TMPDIR
    crash(monkeypatch)
    result = invoke("validate", str(tiny_workbook))
    assert result.exit_code == EXIT_BUG
    log = tmp_path / "tmp" / f"exposure-{os.getuid()}" / "crash.log"
    assert f"details are in {log}" in result.output
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_crash_log_folder_of_another_user_is_not_used(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    # our own folder, too open: it is closed, not trusted as it is
    assert cli._private_folder(shared) == shared
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700
    link = tmp_path / "link"
    link.symlink_to(shared)
    assert cli._private_folder(link) is None


# --- the history database ----------------------------------------------------------------


def report_config(folder: Path, history: str | None = None) -> Path:
    workbooks.write(workbooks.tiny(), folder / "in.xlsx")
    text = 'name = "tiny"\ninput = "in.xlsx"\noutput_dir = "out"\n'
    if history:
        text += f'history = "{history}"\n'
    path = folder / "report.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "url",
    ["sqlite:////nonexistent-folder/history.sqlite", "postgresql+psycopg://u@127.0.0.1:1/db"],
    ids=["sqlite-folder-missing", "postgres-server-down"],
)
def test_unreachable_history_fails_the_report_and_writes_no_report(tmp_path: Path, url: str):
    config = report_config(tmp_path, url)
    result = invoke("report", str(config), "-q")
    assert result.exit_code not in (0, 4)
    assert "cannot open the history database" in result.output
    assert "internal error" not in result.output
    assert list((tmp_path / "out").glob("tiny-*.xlsx")) == []


def lose_the_database_when(status: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database goes away just before a run is recorded with `status`."""
    real = History.finish

    def finish(self: History, run_id: int, *, status: str, **rest: object) -> None:
        if status == lost_on:
            self.engine = sa.create_engine("sqlite:////nonexistent-folder/history.sqlite")
        real(self, run_id, status=status, **rest)  # type: ignore[arg-type]

    lost_on = status
    monkeypatch.setattr(History, "finish", finish)


def test_history_lost_after_the_solve_removes_the_report_and_records_no_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    config = report_config(tmp_path)
    first = invoke("report", str(config), "-q")  # one good run to compare with
    assert first.exit_code == 0, first.output
    reports_before = sorted((tmp_path / "out").glob("tiny-*.xlsx"))

    lose_the_database_when("ok", monkeypatch)
    result = invoke("report", str(config), "-q")
    assert result.exit_code not in (0, 4)
    assert "the history database" in result.output
    assert "failed while recording a run as ok" in result.output
    assert "internal error" not in result.output
    # no report of the lost run is left to pass for a success
    assert sorted((tmp_path / "out").glob("tiny-*.xlsx")) == reports_before
    assert [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".partial")] == []
    monkeypatch.undo()
    history = json.loads(invoke("history", str(config), "--json").output)
    assert [run["status"] for run in history] == ["running", "ok"]


def test_history_lost_before_the_report_is_written_writes_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    config = report_config(tmp_path)
    real_start = History.start

    def start(self: History, name: str, started: object) -> int:
        run_id = real_start(self, name, started)  # type: ignore[arg-type]
        self.engine = sa.create_engine("sqlite:////nonexistent-folder/history.sqlite")
        return run_id

    monkeypatch.setattr(History, "start", start)
    result = invoke("report", str(config), "-q")
    assert result.exit_code not in (0, 4)
    assert "failed while looking up the last run" in result.output
    assert list((tmp_path / "out").glob("tiny-*.xlsx")) == []


def test_partial_files_of_a_name_with_glob_characters(tmp_path: Path):
    target = tmp_path / "results [v2].xlsx"
    leftover = tmp_path / ".results [v2].xlsx.999999999-abc.partial"
    leftover.write_bytes(b"half")
    assert partial_files(target) == [leftover]
    save_atomically(marked_workbook("new"), target)
    assert partial_files(target) == []
