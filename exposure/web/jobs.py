"""Jobs of the upload page: one folder each, one separate process each, state in a JSON file.

A job lives in `<work dir>/<random id>/` (the id is 128 random bits; no name
from the client is ever used for a path). Its `state.json` says where it is
(`queued`, `running`, then `done`, `invalid` or `failed`), so a page reload or
a restarted server shows it. The worker process writes the state while it
runs; once it has exited, the monitor thread here has the last word: a job
that died without a verdict (killed, crashed, out of memory, over its time
limit) gets a plain message. Finished jobs are deleted `expiry_seconds` after
they finished.
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


class JobStore:
    """Creates, runs, watches and expires jobs; counts those running against `max_jobs`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(settings.work_dir)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            self.root.chmod(0o700)
        self._lock = threading.Lock()
        self._reserved = 0
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._monitors: dict[str, threading.Thread] = {}
        self._stopping = False
        self.expired: set[str] = set()

    # ------------------------------------------------------------ slots
    def reserve(self) -> bool:
        """Take one of the `max_jobs` slots; False when all are taken (the server is busy)."""
        with self._lock:
            if self._stopping or self._reserved + len(self._processes) >= self.settings.max_jobs:
                return False
            self._reserved += 1
            return True

    def release(self) -> None:
        """Give back a reserved slot whose upload failed."""
        with self._lock:
            self._reserved = max(0, self._reserved - 1)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._processes)

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
        folder = self.path(job_id)
        return read_state(folder) if folder else None

    # ------------------------------------------------------------ running
    def start(self, job_id: str, folder: Path, options: dict[str, Any]) -> None:
        """Launch the worker on a reserved slot; the upload is `folder/input.xlsx`."""
        settings = self.settings
        now = time.time()
        job = {
            **options,
            "solver_time_limit": max(1.0, settings.job_time_limit * 0.8),
            "memory_limit_bytes": settings.memory_limit_bytes,
        }
        (folder / "job.json").write_text(json.dumps(job), encoding="utf-8")
        write_state(
            folder,
            {
                "id": job_id,
                "status": "queued",
                "stage": "starting",
                "created": now,
                "filename": options.get("filename", "workbook.xlsx"),
                "objective": options.get("objective", "priority"),
                "scenarios": bool(options.get("scenarios")),
            },
        )
        env = {k: v for k, v in os.environ.items() if k != "EXPOSURE_TOKEN"}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[variable] = "1"
        log = (folder / LOG_FILE).open("wb")
        try:
            process = subprocess.Popen(
                [*settings.worker_command, str(folder)],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a whole
            )
        except OSError:
            log.close()
            self.release()
            update_state(
                folder,
                status="failed",
                finished=time.time(),
                message="The server could not start the calculation. Try again later.",
            )
            return
        monitor = threading.Thread(
            target=self._watch, args=(job_id, folder, process, log), daemon=True
        )
        with self._lock:
            self._reserved = max(0, self._reserved - 1)
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
                update_state(folder, status="failed", finished=time.time(), message=message)
            elif "finished" not in state:
                update_state(folder, finished=time.time())
        except OSError:  # the folder vanished (expired, deleted by hand): nothing to report
            pass
        finally:
            with self._lock:
                self._processes.pop(job_id, None)

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()

    def shutdown(self) -> None:
        """Stop every running job and wait for the monitors to record it."""
        with self._lock:
            self._stopping = True
            processes = list(self._processes.values())
            monitors = list(self._monitors.values())
        for process in processes:
            self._kill(process)
        for monitor in monitors:
            monitor.join(timeout=10)

    def recover(self) -> None:
        """At start-up: jobs left unfinished by an earlier server process are marked failed."""
        for folder in self._folders():
            state = read_state(folder)
            if state is not None and state.get("status") not in FINAL:
                update_state(
                    folder,
                    status="failed",
                    finished=time.time(),
                    message="The server restarted while this job ran. Upload it again.",
                )

    # ------------------------------------------------------------ expiry
    def _folders(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_dir() and is_job_id(p.name)]
        except OSError:
            return []

    def sweep(self, now: float | None = None) -> int:
        """Delete the folders of jobs finished more than `expiry_seconds` ago; returns how many."""
        now = time.time() if now is None else now
        expiry = self.settings.expiry_seconds
        with self._lock:
            active = set(self._processes)
        removed = 0
        for folder in self._folders():
            if folder.name in active:
                continue
            state = read_state(folder)
            if state is None:  # an upload in progress or abandoned: judge by the folder's age
                with contextlib.suppress(OSError):
                    if now - folder.stat().st_mtime > max(expiry, 600):
                        self.discard(folder)
                continue
            if state.get("status") not in FINAL:
                continue
            finished = float(state.get("finished") or state.get("created") or 0)
            if now - finished > expiry:
                self.discard(folder)
                if len(self.expired) > 10_000:  # only for a kinder message; keep it bounded
                    self.expired.clear()
                self.expired.add(folder.name)
                removed += 1
        return removed
