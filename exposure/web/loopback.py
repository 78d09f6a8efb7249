"""Run the upload page on a free 127.0.0.1 port in this process: for tests and the load bench.

Also a stand-in worker that finishes at once (or, for a workbook named
`*slow*`, after a long sleep) without solving anything, so the web layer's own
behaviour (queue, deadlines, shutdown) can be measured apart from the solver.
Nothing here listens anywhere but on the loopback address.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from starlette.types import ASGIApp

LOOPBACK_HOST = "127.0.0.1"

FAKE_WORKER_SOURCE = '''
"""A stand-in for exposure.web.worker: marks the job running, then done with a tiny result."""
import json, os, pathlib, sys, time

folder = pathlib.Path(sys.argv[1])
job = json.loads((folder / "job.json").read_text())


def update(**changes):
    state = json.loads((folder / "state.json").read_text())
    state.update(changes)
    temporary = folder / ".fake-worker.tmp"
    temporary.write_text(json.dumps(state))
    os.replace(temporary, folder / "state.json")


update(status="running", stage="fake work", started=time.time())
if "slow" in job.get("filename", ""):
    time.sleep(float(os.environ.get("FAKE_WORKER_SLOW_SECONDS", "60")))
(folder / "results.xlsx").write_bytes(b"fake results")
update(
    status="done",
    stage="finished",
    finished=time.time(),
    kpis={"lost_value": 0.0, "value_service_level": 1.0},
    sentences=[],
    charts={"sectors": [], "origins": []},
    warnings=[],
)
'''


def fake_worker_command(folder: Path) -> tuple[str, ...]:
    """Write the stand-in worker into `folder`; the command that runs it (job folder appended)."""
    script = folder / "fake_worker.py"
    script.write_text(FAKE_WORKER_SOURCE, encoding="utf-8")
    return (sys.executable, str(script))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK_HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(app: ASGIApp, start_timeout: float = 15.0) -> Iterator[str]:
    """uvicorn serving `app` on 127.0.0.1 in a thread; yields its base URL, stops it after."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host=LOOPBACK_HOST, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{LOOPBACK_HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def slow_sender(port: int, declared: int = 1_000_000, sent: bytes = b"PK\x03\x04") -> socket.socket:
    """A slowloris upload: declares `declared` bytes, sends a few, then sends nothing more."""
    connection = socket.create_connection((LOOPBACK_HOST, port), timeout=30)
    connection.sendall(
        b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/octet-stream\r\n"
        + f"Content-Length: {declared}\r\n\r\n".encode()
        + sent
    )
    return connection


def read_status_line(connection: socket.socket, timeout: float) -> bytes:
    """The first line the server sends back on `connection` (b'' if it closed silently)."""
    connection.settimeout(timeout)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while b"\r\n" not in data:
            chunk = connection.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0]
