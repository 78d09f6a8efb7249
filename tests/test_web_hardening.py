"""Hardening of the upload page (issue 15): each test reproduces a problem a reviewer measured.

Where sockets matter (stalled bodies, SIGTERM) the app runs under a real
uvicorn on 127.0.0.1; elsewhere Starlette's TestClient. Time that must pass
(expiry, sessions, the sign-in limit) is moved by an injected clock, never slept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from exposure.web import jobs
from exposure.web.charts import SMALL_LABEL, SMALL_VALUE, SMALL_WIDTH, result_charts
from exposure.web.jobs import FINAL, read_state, write_state
from exposure.web.loopback import (
    LOOPBACK_HOST,
    fake_worker_command,
    free_port,
    read_status_line,
    running_server,
    slow_sender,
)
from exposure.web.server import create_app
from exposure.web.settings import Settings
from tests import workbooks

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SLEEPER = (sys.executable, "-c", "import time; time.sleep(60)")
ClientFactory = Callable[..., TestClient]


class FakeClock:
    """Wall-clock time that moves only when a test says so (`Settings.now`)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def workbook_bytes(tmp_path: Path) -> bytes:
    return workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx").read_bytes()


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    stack: list[TestClient] = []

    def make(client_address: str = "testclient", **overrides: object) -> TestClient:
        values: dict[str, object] = {
            "work_dir": tmp_path / "jobs",
            "sweep_interval": 3600,
            "shutdown_grace": 0,
            "worker_command": fake_worker_command(tmp_path),
        }
        values.update(overrides)
        app = create_app(Settings(**values))  # type: ignore[arg-type]
        client = TestClient(app, client=(client_address, 50000))
        client.__enter__()
        stack.append(client)
        return client

    yield make
    for client in reversed(stack):
        client.__exit__(None, None, None)


def job_folders(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.is_dir() and jobs.is_job_id(p.name)]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def wait_final(client: httpx.Client | TestClient, location: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"{location}/status").json()
        if state["status"] in FINAL:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{location} did not finish within {timeout} s")


# ---------------------------------------------------------------- stalled and slow bodies
def test_two_stalled_uploads_neither_block_uploads_nor_hold_slots(tmp_path, workbook_bytes):
    """The reviewer's case: two sockets declare 1 MB, send 4 bytes and wait.

    Before: both held the two job slots, every upload got 503 and /healthz said
    running 0. Now a slot is taken only for a complete body; the stalled ones get
    408 after the idle deadline and their partial files are removed.
    """
    work = tmp_path / "jobs"
    settings = Settings(
        work_dir=work,
        max_jobs=2,
        upload_idle_timeout=1.5,
        shutdown_grace=0,
        worker_command=fake_worker_command(tmp_path),
    )
    with running_server(create_app(settings)) as base:
        port = int(base.rsplit(":", 1)[1])
        stalled = [slow_sender(port) for _ in range(2)]
        try:
            wait_until(lambda: len(job_folders(work)) == 2, 5, "both stalled uploads arriving")
            with httpx.Client(base_url=base, timeout=20) as client:
                health = client.get("/healthz").json()
                assert health["running"] == 0 and health["queued"] == 0  # no slot is held
                for _ in range(3):
                    response = client.post(
                        "/jobs",
                        content=workbook_bytes,
                        headers={"accept": "application/json"},
                    )
                    assert response.status_code == 202, response.text
                    assert wait_final(client, response.json()["url"])["status"] == "done"
            for connection in stalled:
                assert read_status_line(connection, timeout=10).startswith(b"HTTP/1.1 408")
        finally:
            for connection in stalled:
                connection.close()
        wait_until(lambda: len(job_folders(work)) == 3, 5, "partial uploads being removed")
        for folder in job_folders(work):
            assert (read_state(folder) or {}).get("status") == "done"


def test_a_trickling_upload_meets_the_total_deadline(tmp_path):
    """One byte every 0.2 s never trips the idle limit, but the whole body has a deadline."""
    work = tmp_path / "jobs"
    settings = Settings(work_dir=work, upload_idle_timeout=5, upload_timeout=1.0, shutdown_grace=0)
    with running_server(create_app(settings)) as base:
        port = int(base.rsplit(":", 1)[1])
        connection = slow_sender(port, declared=1000)
        started = time.monotonic()
        try:
            connection.setblocking(True)
            answer = b""
            for _ in range(50):  # bounded: at most 10 s of trickling
                try:
                    connection.sendall(b"\0")
                except (BrokenPipeError, ConnectionResetError):
                    break
                connection.settimeout(0.2)
                try:
                    answer = connection.recv(4096)
                except TimeoutError:
                    continue
                break
            assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
            assert b"connection: close" in answer.lower()
            assert time.monotonic() - started < 5
        finally:
            connection.close()
        wait_until(lambda: job_folders(work) == [], 5, "the partial upload being removed")


# ---------------------------------------------------------------- queue
def test_queued_jobs_start_as_slots_free_and_none_is_lost(make_client, workbook_bytes):
    client = make_client(max_jobs=1, queue_size=10)
    locations = []
    for _ in range(5):
        response = client.post(
            "/jobs", content=workbook_bytes, headers={"accept": "application/json"}
        )
        assert response.status_code == 202
        assert response.json()["queue_position"] is not None
        locations.append(response.json()["url"])
    states = [wait_final(client, location) for location in locations]
    assert [s["status"] for s in states] == ["done"] * 5
    assert client.get("/healthz").json()["queued"] == 0


def test_waiting_page_shows_the_place_in_the_queue(make_client, workbook_bytes):
    client = make_client(max_jobs=1, queue_size=5, worker_command=SLEEPER)
    locations = [
        client.post("/jobs", content=workbook_bytes, follow_redirects=False).headers["location"]
        for _ in range(3)
    ]
    assert "Running" in client.get(locations[0]).text
    third = client.get(locations[2]).text
    assert "Waiting" in third and "position 2 (1 job(s) ahead of yours)" in third
    assert client.get(f"{locations[1]}/status").json()["queue_position"] == 1
    assert client.get(f"{locations[0]}/status").json()["queue_position"] is None


def test_a_worker_that_cannot_start_frees_its_slot_for_the_queue(make_client, workbook_bytes):
    client = make_client(max_jobs=1, queue_size=5, worker_command=("/nonexistent/worker",))
    locations = [
        client.post("/jobs", content=workbook_bytes, headers={"accept": "application/json"}).json()[
            "url"
        ]
        for _ in range(3)
    ]
    for location in locations:
        state = wait_final(client, location)
        assert state["status"] == "failed" and "could not start" in state["message"]
    assert client.get("/healthz").json()["running"] == 0
    assert client.get("/healthz").json()["queued"] == 0


def test_shutdown_lets_a_running_job_finish_within_the_grace_period(
    make_client, workbook_bytes, tmp_path, monkeypatch
):
    monkeypatch.setenv("FAKE_WORKER_SLOW_SECONDS", "1")  # the stand-in worker's "slow" sleep
    client = make_client(shutdown_grace=20)
    response = client.post(
        "/jobs",
        content=workbook_bytes,
        headers={"accept": "application/json", "x-filename": "slow.xlsx"},
    )
    job_id = response.json()["id"]
    wait_until(
        lambda: client.get(f"/jobs/{job_id}/status").json()["status"] == "running",
        15,
        "the job starting",
    )
    client.__exit__(None, None, None)  # lifespan shutdown: waits for the job, kills nothing
    state = read_state(tmp_path / "jobs" / job_id)
    assert state is not None and state["status"] == "done"


# ---------------------------------------------------------------- expiry off the request path
def _finished_jobs(root: Path, count: int, finished: float) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        folder = root / f"{number:032x}"
        folder.mkdir()
        write_state(folder, {"id": folder.name, "status": "done", "finished": finished})


def test_requests_read_no_job_state_however_many_finished_jobs(make_client, tmp_path, monkeypatch):
    """Before: every request swept every job's state.json (2,043 jobs -> /healthz 61 ms)."""
    _finished_jobs(tmp_path / "jobs", 2000, time.time())
    client = make_client()
    reads: list[Path] = []
    real_read_state = jobs.read_state

    def counting_read_state(folder: Path) -> dict | None:
        reads.append(folder)
        return real_read_state(folder)

    monkeypatch.setattr(jobs, "read_state", counting_read_state)
    for path in ("/healthz", "/", "/static/app.css", "/favicon.svg"):
        assert client.get(path).status_code == 200
    assert reads == []
    one = f"{7:032x}"
    assert client.get(f"/jobs/{one}/status").json()["status"] == "done"
    assert [folder.name for folder in reads] == [one]  # only the job asked about


def test_background_sweep_removes_expired_jobs(make_client, tmp_path):
    clock = FakeClock()
    _finished_jobs(tmp_path / "jobs", 20, time.time())
    client = make_client(expiry_seconds=600, sweep_interval=0.05, now=clock)
    time.sleep(0.3)  # several sweeps run; nothing is old enough yet
    assert len(job_folders(tmp_path / "jobs")) == 20
    clock.advance(601)
    wait_until(lambda: job_folders(tmp_path / "jobs") == [], 10, "the background sweep")
    assert client.get(f"/jobs/{3:032x}").status_code == 410


# ---------------------------------------------------------------- refused uploads keep the choice
def test_refused_upload_shows_the_form_again_with_the_options_chosen(make_client):
    client = make_client()
    # The page's script copies the options into the address; the server refuses a CSV at
    # its first bytes, before the form's own fields would have been read.
    response = client.post(
        "/jobs?objective=fair&scenarios=1",
        files={"workbook": ("plan.csv", b"sector,units\nS1,10\n", "text/csv")},
    )
    assert response.status_code == 415
    page = response.text
    assert 'id="refusal"' in page and "not an Excel .xlsx workbook" in page
    assert 'value="fair" checked' in page and 'value="priority" checked' not in page
    assert 'name="scenarios" value="1" checked' in page
    assert "choose the workbook again" in page and "plan.csv" in page
    assert 'id="upload"' in page  # the form itself, ready to use
    # Without the script: the form's own fields, read when the refusal comes after them.
    response = client.post(
        "/jobs",
        data={"objective": "fair"},
        files={"workbook": ("empty.xlsx", b"", XLSX)},
    )
    assert response.status_code == 400
    assert 'value="fair" checked' in response.text
    assert 'name="scenarios" value="1" checked' not in response.text


# ---------------------------------------------------------------- token, sessions, sign-in limit
def test_token_from_a_file_or_the_environment_not_only_the_command_line(tmp_path, monkeypatch):
    from exposure import cli
    from exposure.web import server

    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n", encoding="utf-8")
    monkeypatch.delenv("EXPOSURE_TOKEN", raising=False)
    monkeypatch.setenv("EXPOSURE_TOKEN_FILE", str(token_file))
    assert Settings.from_env().token == "from-a-file"
    monkeypatch.delenv("EXPOSURE_TOKEN_FILE")

    calls: list[dict] = []
    monkeypatch.setattr(server, "serve", lambda **kwargs: calls.append(kwargs))
    runner = CliRunner()
    result = runner.invoke(cli.main, ["serve", "--token-file", str(token_file)])
    assert result.exit_code == 0, result.output
    assert calls[-1]["token"] == "from-a-file"
    result = runner.invoke(cli.main, ["serve"], env={"EXPOSURE_TOKEN": "from-env"})
    assert result.exit_code == 0 and calls[-1]["token"] == "from-env"
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    result = runner.invoke(cli.main, ["serve", "--token-file", str(empty)])
    assert result.exit_code == 2 and "empty" in result.output
    help_text = " ".join(runner.invoke(cli.main, ["serve", "--help"]).output.split())
    assert "Visible to other users" in help_text and "--token-file" in help_text


def test_failed_sign_ins_are_limited_per_address(make_client, tmp_path):
    clock = FakeClock()
    client = make_client(token="s3cret", now=clock)
    other = make_client(client_address="10.0.0.9", token="s3cret", now=clock)
    for _ in range(5):
        assert client.post("/login", data={"token": "guess"}).status_code == 401
    limited = client.post("/login", data={"token": "s3cret"}, follow_redirects=False)
    assert limited.status_code == 429  # even the right token: guessing stops here
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    bearer = client.get("/", headers={"authorization": "Bearer s3cret"})
    assert bearer.status_code == 429
    assert other.post("/login", data={"token": "s3cret"}, follow_redirects=False).status_code == 303
    clock.advance(61)
    assert (
        client.post("/login", data={"token": "s3cret"}, follow_redirects=False).status_code == 303
    )
    # wrong bearer tokens count as failed sign-ins too
    fresh = make_client(client_address="10.0.0.10", token="s3cret", now=clock)
    for _ in range(5):
        assert fresh.get("/", headers={"authorization": "Bearer nope"}).status_code == 401
    assert fresh.get("/", headers={"authorization": "Bearer s3cret"}).status_code == 429


def test_each_sign_in_gets_its_own_session_which_expires(make_client):
    clock = FakeClock()
    first = make_client(token="s3cret", now=clock, session_seconds=3600)
    app = first.app
    second = TestClient(app)  # a second browser on the same server

    def sign_in(client: TestClient) -> str:
        response = client.post("/login", data={"token": "s3cret"}, follow_redirects=False)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=3600" in cookie
        return response.cookies["exposure_session"]

    one, two = sign_in(first), sign_in(second)
    assert one != two and len(one) >= 40  # random per sign-in, not derived from the token
    assert first.get("/").status_code == 200 and second.get("/").status_code == 200
    forged = TestClient(app, cookies={"exposure_session": "0" * 43})
    assert forged.get("/").status_code == 401
    assert first.post("/logout", follow_redirects=False).status_code == 303
    assert TestClient(app, cookies={"exposure_session": one}).get("/").status_code == 401
    assert second.get("/").status_code == 200  # signing one browser out leaves the other
    clock.advance(3601)
    assert second.get("/").status_code == 401  # expired


# ---------------------------------------------------------------- charts and icon
def test_charts_scale_and_supply_by_origin_is_drawn_per_material():
    charts = {
        "sectors": [{"sector": "EV", "value_service_level": 0.5, "lost_value": 10.0}],
        "origins": [
            {"country": "CN", "material": "NdFeB magnet", "tonnes": 1000.0},
            {"country": "JP", "material": "NdFeB magnet", "tonnes": 500.0},
            {"country": "CN", "material": "Dy oxide", "tonnes": 2.0},
            {"country": "AU", "material": "Dy oxide", "tonnes": 1.0},
        ],
    }
    rendered = dict(result_charts(charts))
    html = "".join(rendered.values())
    assert 'width="680"' not in html and 'height="' not in html.split("<rect")[0]
    assert html.count('width="100%"') == html.count("<svg") == 2 + 2  # two per-material panels
    origins = rendered["Supply by origin, per material"]
    dysprosium = origins.split('data-material="Dy oxide"')[1].split("</figure>")[0]
    span = SMALL_WIDTH - SMALL_LABEL - SMALL_VALUE
    # Dy's largest origin fills its own panel: it does not vanish next to 1,500 t of magnets.
    assert f'width="{span:.1f}" height="18" fill=' in dysprosium
    assert "2.0 t · 67%" in dysprosium and "1.0 t · 33%" in dysprosium


def test_favicon_is_served_from_the_app(make_client):
    client = make_client(token="s3cret")
    for path in ("/favicon.svg", "/favicon.ico"):
        response = client.get(path)  # public: a browser asks for it before signing in
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.text.startswith("<svg")
    page = client.get("/", headers={"authorization": "Bearer s3cret"}).text
    assert '<link rel="icon" href="/favicon.svg"' in page


# ---------------------------------------------------------------- graceful shutdown
SERVER_SCRIPT = """
import sys, uvicorn
from pathlib import Path
from exposure.web.server import create_app
from exposure.web.settings import Settings
from exposure.web.loopback import fake_worker_command
work, port, scratch = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
settings = Settings(work_dir=work, max_jobs=1, shutdown_grace=0.5,
                    worker_command=fake_worker_command(scratch))
uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
            timeout_graceful_shutdown=2)
"""


def _start_server(work: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with (scratch / "server.log").open("ab") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT, str(work), str(port), str(scratch)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://{LOOPBACK_HOST}:{port}"

    def up() -> bool:
        try:
            return httpx.get(base + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 30, "the server starting")
    return process, base


@pytest.mark.slow
def test_sigterm_keeps_finished_results_and_restarts_queued_jobs(tmp_path, workbook_bytes):
    work = tmp_path / "jobs"
    process, base = _start_server(work, tmp_path)
    try:
        with httpx.Client(base_url=base, timeout=20) as client:

            def submit(name: str) -> str:
                response = client.post(
                    "/jobs",
                    content=workbook_bytes,
                    headers={"accept": "application/json", "x-filename": name},
                )
                assert response.status_code == 202, response.text
                return response.json()["url"]

            finished = submit("quick.xlsx")
            assert wait_final(client, finished)["status"] == "done"
            running = submit("slow.xlsx")
            wait_until(
                lambda: client.get(f"{running}/status").json()["status"] == "running",
                15,
                "the slow job starting",
            )
            waiting = submit("later.xlsx")
            assert client.get(f"{waiting}/status").json()["queue_position"] == 1
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: -SIGTERM is its normal exit
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    ids = {
        name: url.rsplit("/", 1)[1]
        for name, url in (("finished", finished), ("running", running), ("waiting", waiting))
    }
    assert (read_state(work / ids["finished"]) or {})["status"] == "done"
    interrupted = read_state(work / ids["running"]) or {}
    assert interrupted["status"] == "failed" and "server was stopped" in interrupted["message"]
    assert (read_state(work / ids["waiting"]) or {})["status"] == "queued"

    process, base = _start_server(work, tmp_path)  # the same work folder, a new process
    try:
        with httpx.Client(base_url=base, timeout=20) as client:
            assert client.get(finished).status_code == 200
            assert client.get(f"{finished}/results.xlsx").content == b"fake results"
            assert wait_final(client, waiting)["status"] == "done"  # restarted from the queue
            assert client.get(f"{running}/status").json()["status"] == "failed"
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: -SIGTERM is its normal exit
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert json.loads((work / ids["waiting"] / "state.json").read_text())["status"] == "done"
