"""Load bench of the upload page (`exposure serve`), on 127.0.0.1 only.

Starts the app under uvicorn on a free loopback port in this process, with a
fresh temporary work folder, then:

1. uploads: N workbooks posted at once, with K stalled (slowloris) uploads
   open at the same time; reports how many were queued, refused or lost, how
   long they took to finish, and what the stalled connections got;
2. latency: the median and 95th percentile of GET /healthz and GET
   /jobs/<id>/status with a given number of finished jobs in the work folder
   (the cost of a request must not grow with the jobs kept).

By default jobs run a stand-in worker that finishes at once (the web layer's
own behaviour); `--real-worker` solves the workbook instead. Every loop is
bounded in count and time; nothing is sent anywhere but 127.0.0.1.

    python bench/load_upload.py                       # 30 uploads, 2 slowloris, 2 slots
    python bench/load_upload.py --uploads 60 --max-jobs 4 --queue-size 80
    python bench/load_upload.py --finished-jobs 10 10000 --skip-uploads
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx

from exposure.pipeline import REFERENCE_WORKBOOK
from exposure.web.jobs import FINAL, write_state
from exposure.web.loopback import (
    fake_worker_command,
    read_status_line,
    running_server,
    slow_sender,
)
from exposure.web.server import create_app
from exposure.web.settings import Settings


def upload_bench(args: argparse.Namespace, scratch: Path) -> bool:
    """N simultaneous uploads with K slowloris; True if none was refused or lost."""
    book = Path(args.workbook).read_bytes()
    settings = Settings(
        work_dir=scratch / "upload-jobs",
        max_jobs=args.max_jobs,
        queue_size=args.queue_size,
        upload_idle_timeout=args.idle_timeout,
        shutdown_grace=0,
        **({} if args.real_worker else {"worker_command": fake_worker_command(scratch)}),
    )
    give_up = time.monotonic() + args.timeout
    with running_server(create_app(settings)) as base:
        port = int(base.rsplit(":", 1)[1])
        stalled = [slow_sender(port) for _ in range(args.slow_connections)]
        barrier = threading.Barrier(args.uploads)

        def one(number: int) -> tuple[int, dict, float]:
            with httpx.Client(base_url=base, timeout=60) as client:
                barrier.wait(timeout=60)
                started = time.monotonic()
                response = client.post(
                    "/jobs",
                    content=book,
                    headers={"accept": "application/json", "x-filename": f"load-{number}.xlsx"},
                )
                return response.status_code, response.json(), time.monotonic() - started

        began = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=args.uploads) as pool:
                answers = list(pool.map(one, range(args.uploads)))
            accepted = [body for status, body, _ in answers if status == 202]
            refused = [status for status, _, _ in answers if status != 202]
            finish_times: dict[str, float] = {}
            final: dict[str, str] = {}
            with httpx.Client(base_url=base, timeout=30) as client:
                pending = {body["url"] for body in accepted}
                while pending and time.monotonic() < give_up:
                    for url in sorted(pending):
                        state = client.get(f"{url}/status").json()
                        if state["status"] in FINAL:
                            final[url] = state["status"]
                            finish_times[url] = time.monotonic() - began
                            pending.discard(url)
                    time.sleep(0.1)
            stalled_answers = [read_status_line(c, timeout=args.idle_timeout + 10) for c in stalled]
        finally:
            for connection in stalled:
                connection.close()
    positions = [body.get("queue_position") or 0 for body in accepted]
    upload_seconds = sorted(seconds for _, _, seconds in answers)
    print(
        f"uploads: {args.uploads} at once, {args.slow_connections} slowloris open, "
        f"{args.max_jobs} slot(s), queue of {args.queue_size}, "
        f"{'real' if args.real_worker else 'stand-in'} worker"
    )
    print(f"  accepted {len(accepted)}, refused {len(refused)} {sorted(set(refused)) or ''}")
    print(f"  queued on arrival: {sum(1 for p in positions if p)}; deepest place {max(positions)}")
    print(
        f"  upload answer time: median {statistics.median(upload_seconds) * 1000:.0f} ms, "
        f"max {upload_seconds[-1] * 1000:.0f} ms"
    )
    outcome = {status: list(final.values()).count(status) for status in sorted(set(final.values()))}
    lost = len(accepted) - len(final)
    print(f"  finished: {outcome}; not finished in {args.timeout:g} s: {lost}")
    if finish_times:
        print(f"  all finished after {max(finish_times.values()):.1f} s")
    for number, line in enumerate(stalled_answers, 1):
        print(f"  slowloris {number}: {line.decode(errors='replace') or '(closed, no answer)'}")
    return not refused and lost == 0


def latency_bench(finished_jobs: int, requests: int) -> tuple[float, float, float, float]:
    """Median and p95 (ms) of /healthz and of one job's /status with `finished_jobs` kept."""
    with tempfile.TemporaryDirectory(prefix="exposure-load-") as folder:
        work = Path(folder) / "jobs"
        work.mkdir()
        now = time.time()
        for number in range(finished_jobs):
            job = work / f"{number:032x}"
            job.mkdir()
            write_state(job, {"id": job.name, "status": "done", "finished": now})
        settings = Settings(work_dir=work, shutdown_grace=0)
        with running_server(create_app(settings)) as base, httpx.Client(base_url=base) as client:
            one = f"/jobs/{0:032x}/status"
            timings: dict[str, list[float]] = {"/healthz": [], one: []}
            for _ in range(requests):
                for path, seen in timings.items():
                    started = time.perf_counter()
                    client.get(path).raise_for_status()
                    seen.append((time.perf_counter() - started) * 1000)
    health, status = timings["/healthz"], timings[one]

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    return statistics.median(health), p95(health), statistics.median(status), p95(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=30, help="uploads sent at once")
    parser.add_argument("--slow-connections", type=int, default=2, help="slowloris uploads")
    parser.add_argument("--max-jobs", type=int, default=2, help="jobs solving at once")
    parser.add_argument("--queue-size", type=int, default=50, help="jobs allowed to wait")
    parser.add_argument("--idle-timeout", type=float, default=5.0, help="upload idle limit, s")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after, s")
    parser.add_argument("--workbook", default=str(REFERENCE_WORKBOOK), help="file to upload")
    parser.add_argument("--real-worker", action="store_true", help="solve, not a stand-in")
    parser.add_argument("--skip-uploads", action="store_true", help="only the latency bench")
    parser.add_argument(
        "--finished-jobs",
        type=int,
        nargs="*",
        default=[10, 10_000],
        help="numbers of finished jobs to measure request latency with",
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per latency run")
    args = parser.parse_args(argv)
    if not 1 <= args.uploads <= 500 or not 0 <= args.slow_connections <= 50:
        parser.error("keep it small: 1-500 uploads, 0-50 slow connections")
    if any(not 0 <= n <= 100_000 for n in args.finished_jobs) or not 1 <= args.requests <= 5000:
        parser.error("keep it small: at most 100,000 finished jobs and 5,000 requests")

    ok = True
    if not args.skip_uploads:
        with tempfile.TemporaryDirectory(prefix="exposure-load-") as scratch:
            ok = upload_bench(args, Path(scratch))
    for count in args.finished_jobs:
        health_median, health_p95, status_median, status_p95 = latency_bench(count, args.requests)
        print(
            f"latency with {count:>6} finished jobs: /healthz median {health_median:.2f} ms "
            f"(p95 {health_p95:.2f}); /jobs/<id>/status median {status_median:.2f} ms "
            f"(p95 {status_p95:.2f})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
