"""Jobs of the upload page: one folder each, one separate process each, state in a JSON file.

A job lives in `<work dir>/<random id>/` (the id is 128 random bits; no name
from the client is ever used for a path). Its `state.json` says where it is
(`queued`, `running`, then `done`, `invalid` or `failed`), so a page reload or
a restarted server shows it. The worker process writes the state while it
runs; once it has exited, the monitor thread here has the last word: a job
that died without a verdict (killed, crashed, out of memory, over its time
limit) gets a plain message. Finished jobs are deleted `expiry_seconds` after
they finished, by a background sweep (never inside a request, so a request
costs the same however many finished jobs there are).

At most `max_jobs` run at once; a complete upload beyond that waits in a
bounded first-in, first-out queue and starts when a slot frees. The queue is
on disk too (a `queued` state with its input), so jobs still waiting when the
server stops start again when it comes back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from exposure.web.settings import MB, Settings

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
FINAL = frozenset({"done", "invalid", "failed"})
STATE_FILE = "state.json"
INPUT_FILE = "input.xlsx"
RESULTS_FILE = "results.xlsx"
ANNOTATED_FILE = "annotated.xlsx"
WHATIF_FILE = "whatif.xlsx"
LOG_FILE = "worker.log"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
MEMORY_WORDS = ("memory", "cannot allocate", "failed to map segment")


def is_job_id(text: str) -> bool:
    return bool(JOB_ID.fullmatch(text))


def write_state(job_dir: Path, state: dict[str, Any]) -> None:
    """Replace `state.json` atomically, so a reader never sees half a file."""
    temporary = job_dir / f".{STATE_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
    temporary.write_text(json.dumps(state, default=str), encoding="utf-8")
    os.replace(temporary, job_dir / STATE_FILE)


def read_state(job_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((job_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def update_state(job_dir: Path, **changes: Any) -> dict[str, Any]:
    state = read_state(job_dir) or {}
    state.update(changes)
    write_state(job_dir, state)
    return state


def exit_message(code: int, memory_limit: int, log_tail: str = "") -> str:
    """A planner-readable reason for a worker that exited without writing a verdict."""
    if any(word in log_tail.lower() for word in MEMORY_WORDS):
        return (
            f"The calculation needed more than the {memory_limit // MB} MB of memory allowed "
            "per job and was stopped. The server is fine: try a smaller workbook."
        )
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else ""
        return (
            f"The calculation was stopped ({name or f'signal {-code}'}) before it finished, "
            f"possibly because it needed more than the {memory_limit // MB} MB of memory "
            "allowed per job. The server is fine: try again, or try a smaller workbook."
        )
    return (
        f"The calculation stopped unexpectedly (exit code {code}) before it finished. "
        "The server is fine: try again; if it happens again, send the workbook to support."
    )


def log_tail(path: Path, size: int = 4096) -> str:
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, path.stat().st_size - size))
            return stream.read().decode("utf-8", "replace")
    except OSError:
        return ""


class QueueFullError(Exception):
    """Every slot is taken and the queue is full: the server is busy."""


class JobStore:
    """Creates, queues, runs, watches and expires jobs; at most `max_jobs` run at once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.now = settings.now
        self.root = Path(settings.work_dir)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            self.root.chmod(0o700)
        self._lock = threading.Lock()
        self._launching = 0  # slots taken by jobs whose process is being started
        self._queue: deque[tuple[str, Path]] = deque()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._monitors: dict[str, threading.Thread] = {}
        self._stopping = False
        self.expired: set[str] = set()

    # ------------------------------------------------------------ counts
    @property
    def running(self) -> int:
        with self._lock:
            return len(self._processes)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def queue_full(self) -> bool:
        """True when a new job could neither start nor wait (or the server is stopping)."""
        with self._lock:
            slots_taken = self._launching + len(self._processes) >= self.settings.max_jobs
            must_wait = slots_taken or bool(self._queue)
            return self._stopping or (must_wait and len(self._queue) >= self.settings.queue_size)

    def position(self, job_id: str) -> int | None:
        """1 for the next job to start, 2 for the one after it...; None if not waiting."""
        with self._lock:
            for index, (queued_id, _folder) in enumerate(self._queue):
                if queued_id == job_id:
                    return index + 1
        return None

    # ------------------------------------------------------------ folders
    def path(self, job_id: str) -> Path | None:
        """The folder of a well-formed, existing job id; None otherwise."""
        if not is_job_id(job_id):
            return None
        folder = self.root / job_id
        return folder if folder.is_dir() else None

    def new_folder(self) -> tuple[str, Path]:
        while True:
            job_id = secrets.token_hex(16)
            folder = self.root / job_id
            try:
                folder.mkdir(mode=0o700)
            except FileExistsError:  # pragma: no cover - 128 random bits
                continue
            return job_id, folder

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def state(self, job_id: str) -> dict[str, Any] | None:
        """The job's state; None if there is no such job or it has just expired.

        Only this one job is looked at: whether it is past its expiry is decided
        here too, so a page never shows results the sweep has not reached yet.
        """
        folder = self.path(job_id)
        if folder is None:
            return None
        state = read_state(folder)
        if state is not None and self._is_expired(state, self.now()):
            self._expire(folder)
            return None
        return state

    # ------------------------------------------------------------ queue and slots
    def submit(self, job_id: str, folder: Path, options: dict[str, Any]) -> int:
        """Queue a complete upload (`folder/input.xlsx`); start it at once if a slot is free.

        Returns the job's place in the queue (0: started). Raises QueueFullError
        when every slot is taken and `queue_size` jobs already wait.
        """
        settings = self.settings
        job = {
            **options,
            "solver_time_limit": max(1.0, settings.job_time_limit * 0.8),
            "memory_limit_bytes": settings.memory_limit_bytes,
        }
        if self.queue_full():
            raise QueueFullError
        (folder / "job.json").write_text(json.dumps(job), encoding="utf-8")
        write_state(
            folder,
            {
                "id": job_id,
                "status": "queued",
                "stage": "waiting for a free slot",
                "created": self.now(),
                "filename": options.get("filename", "workbook.xlsx"),
                "objective": options.get("objective", "priority"),
                "scenarios": bool(options.get("scenarios")),
            },
        )
        with self._lock:  # decided again: other uploads may have come in meanwhile
            if self._stopping:
                raise QueueFullError
            if self._launching + len(self._processes) < settings.max_jobs and not self._queue:
                self._launching += 1
                position = 0
            elif len(self._queue) < settings.queue_size:
                self._queue.append((job_id, folder))
                position = len(self._queue)
            else:
                raise QueueFullError
        if position == 0:
            self._launch(job_id, folder)
        return position

    def _start_next(self) -> None:
        """Start queued jobs while slots are free (called whenever a slot frees)."""
        while True:
            with self._lock:
                if (
                    self._stopping
                    or not self._queue
                    or self._launching + len(self._processes) >= self.settings.max_jobs
                ):
                    return
                job_id, folder = self._queue.popleft()
                self._launching += 1
            if folder.is_dir():
                self._launch(job_id, folder)
            else:  # deleted by hand while it waited
                with self._lock:
                    self._launching -= 1

    def _launch(self, job_id: str, folder: Path) -> None:
        """Start the worker on a slot already counted in `_launching`."""
        with contextlib.suppress(OSError):
            update_state(folder, stage="starting")
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXPOSURE_TOKEN")}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[variable] = "1"
        log = None
        try:
            log = (folder / LOG_FILE).open("wb")
            process = subprocess.Popen(
                [*self.settings.worker_command, str(folder)],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a whole
            )
        except OSError:  # no log file (folder gone) or no worker: the job fails, not the server
            if log is not None:
                log.close()
            with self._lock:
                self._launching -= 1
            with contextlib.suppress(OSError):
                update_state(
                    folder,
                    status="failed",
                    finished=self.now(),
                    message="The server could not start the calculation. Try again later.",
                )
            self._start_next()
            return
        monitor = threading.Thread(
            target=self._watch, args=(job_id, folder, process, log), daemon=True
        )
        with self._lock:
            self._launching -= 1
            self._processes[job_id] = process
            self._monitors[job_id] = monitor
        monitor.start()

    def _watch(self, job_id: str, folder: Path, process: subprocess.Popen[bytes], log: Any) -> None:
        limit = self.settings.job_time_limit
        timed_out = False
        try:
            try:
                code = process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                timed_out = True
                self._kill(process)
                code = process.wait()
            finally:
                log.close()
            state = read_state(folder) or {}
            if state.get("status") not in FINAL:
                if self._stopping:
                    message = "The server was stopped while this job ran. Upload it again."
                elif timed_out:
                    message = (
                        f"The calculation took longer than the {limit:g} seconds allowed per "
                        "job and was stopped. Try again when the server is quieter, or ask "
                        "for a longer time limit."
                    )
                else:
                    message = exit_message(
                        code, self.settings.memory_limit_bytes, log_tail(folder / LOG_FILE)
                    )
                update_state(folder, status="failed", finished=self.now(), message=message)
            elif "finished" not in state:
                update_state(folder, finished=self.now())
        except OSError:  # the folder vanished (expired, deleted by hand): nothing to report
            pass
        finally:
            with self._lock:
                self._processes.pop(job_id, None)
                self._monitors.pop(job_id, None)
            self._start_next()

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()

    def shutdown(self, grace: float | None = None) -> None:
        """Stop: no new job starts; running jobs get `grace` seconds to finish, then are
        killed and marked failed. Queued jobs stay queued on disk for the next start."""
        grace = self.settings.shutdown_grace if grace is None else grace
        with self._lock:
            self._stopping = True
            monitors = list(self._monitors.values())
        deadline = time.monotonic() + max(0.0, grace)
        for monitor in monitors:
            monitor.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            processes = list(self._processes.values())
            monitors = list(self._monitors.values())
        for process in processes:
            self._kill(process)
        for monitor in monitors:
            monitor.join(timeout=10)

    def recover(self) -> None:
        """At start-up: jobs an earlier server process left running are marked failed;
        jobs it left waiting in the queue (input complete, never started) are queued again."""
        waiting: list[tuple[float, str, Path]] = []
        for folder in self._folders():
            state = read_state(folder)
            if state is None or state.get("status") in FINAL:
                continue
            never_started = state.get("status") == "queued" and "started" not in state
            complete = (folder / INPUT_FILE).is_file() and (folder / "job.json").is_file()
            if never_started and complete:
                waiting.append((float(state.get("created") or 0), folder.name, folder))
                continue
            update_state(
                folder,
                status="failed",
                finished=self.now(),
                message="The server restarted while this job ran. Upload it again.",
            )
        with self._lock:
            for _created, job_id, folder in sorted(waiting):
                self._queue.append((job_id, folder))
        self._start_next()

    # ------------------------------------------------------------ expiry
    def _folders(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_dir() and is_job_id(p.name)]
        except OSError:
            return []

    def _is_expired(self, state: dict[str, Any], now: float) -> bool:
        if state.get("status") not in FINAL:
            return False
        finished = float(state.get("finished") or state.get("created") or 0)
        return now - finished > self.settings.expiry_seconds

    def _expire(self, folder: Path) -> None:
        self.discard(folder)
        with self._lock:
            if len(self.expired) > 10_000:  # only for a kinder message; keep it bounded
                self.expired.clear()
            self.expired.add(folder.name)

    def sweep(self, now: float | None = None) -> int:
        """Delete the folders of jobs finished more than `expiry_seconds` ago; returns how many.

        Reads every job's state, so it runs in the background (see the server's
        lifespan), never inside a request.
        """
        now = self.now() if now is None else now
        expiry = self.settings.expiry_seconds
        with self._lock:
            active = set(self._processes) | {job_id for job_id, _folder in self._queue}
        removed = 0
        for folder in self._folders():
            if folder.name in active:
                continue
            state = read_state(folder)
            if state is None:  # an upload in progress or abandoned: judge by the folder's age
                with contextlib.suppress(OSError):  # (file times are real time, not `now`)
                    if time.time() - folder.stat().st_mtime > max(expiry, 600):
                        self.discard(folder)
                continue
            if self._is_expired(state, now):
                self._expire(folder)
                removed += 1
        return removed
