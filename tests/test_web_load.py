"""A small, bounded load test of the upload page on 127.0.0.1 (bench/load_upload.py is the
larger, documented version).

30 uploads at once through a 2-slot server, with 2 stalled (slowloris) uploads
open at the same time: every upload is queued, none is refused or lost, every
job finishes, and the stalled ones get 408 without ever holding a slot.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from exposure.web.jobs import FINAL
from exposure.web.loopback import (
    LOOPBACK_HOST,
    fake_worker_command,
    read_status_line,
    running_server,
    slow_sender,
)
from exposure.web.server import create_app
from exposure.web.settings import Settings
from tests import workbooks

UPLOADS = 30
STALLED = 2
DEADLINE_SECONDS = 120  # the whole test; a healthy run takes a few seconds


@pytest.mark.slow
def test_thirty_simultaneous_uploads_are_all_queued_and_finished_despite_slowloris(
    tmp_path: Path,
) -> None:
    book = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx").read_bytes()
    settings = Settings(
        work_dir=tmp_path / "jobs",
        max_jobs=2,
        queue_size=40,
        upload_idle_timeout=3,
        shutdown_grace=0,
        worker_command=fake_worker_command(tmp_path),
    )
    give_up = time.monotonic() + DEADLINE_SECONDS
    with running_server(create_app(settings)) as base:
        port = int(base.rsplit(":", 1)[1])
        stalled = [slow_sender(port) for _ in range(STALLED)]
        # One more stalls inside its headers: the app never sees it (uvicorn holds it), so
        # it must not hold anything the uploads need either.
        in_headers = socket.create_connection((LOOPBACK_HOST, port), timeout=30)
        in_headers.sendall(b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        start_together = threading.Barrier(UPLOADS)

        def one_upload(number: int) -> httpx.Response:
            with httpx.Client(base_url=base, timeout=30) as client:
                start_together.wait(timeout=30)
                return client.post(
                    "/jobs",
                    content=book,
                    headers={"accept": "application/json", "x-filename": f"book-{number}.xlsx"},
                )

        try:
            with ThreadPoolExecutor(max_workers=UPLOADS) as pool:
                answers = list(pool.map(one_upload, range(UPLOADS)))
            assert [a.status_code for a in answers] == [202] * UPLOADS, [
                a.text for a in answers if a.status_code != 202
            ]
            urls = {a.json()["url"] for a in answers}
            assert len(urls) == UPLOADS
            assert max(a.json()["queue_position"] for a in answers) > 0  # the queue was used

            with httpx.Client(base_url=base, timeout=30) as client:
                pending = set(urls)
                while pending and time.monotonic() < give_up:
                    for url in sorted(pending):
                        if client.get(f"{url}/status").json()["status"] in FINAL:
                            pending.discard(url)
                    time.sleep(0.1)
                assert not pending, f"{len(pending)} job(s) did not finish"
                statuses = {client.get(f"{url}/status").json()["status"] for url in urls}
                assert statuses == {"done"}
                health = client.get("/healthz").json()
                assert health["running"] == 0 and health["queued"] == 0
            for connection in stalled:
                assert read_status_line(connection, timeout=15).startswith(b"HTTP/1.1 408")
        finally:
            for connection in [*stalled, in_headers]:
                connection.close()
