"""Settings of the upload page: limits, where jobs live, the optional bearer token.

Every setting has a safe default and an `EXPOSURE_*` environment variable, so a
shared deployment is configured without code (`Settings.from_env()`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

MB = 1024**2


def default_work_dir() -> Path:
    """A per-user folder under the system temporary folder (created 0700 on first use)."""
    user = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"exposure-web-{user}"


def default_worker_command() -> tuple[str, ...]:
    return (sys.executable, "-m", "exposure.web.worker")


@dataclass(frozen=True)
class Settings:
    """What the server allows and where it keeps its jobs.

    `worker_command` is the command that solves one job; the job folder is
    appended to it. Tests replace it to simulate crashes and hangs. `now` is the
    wall clock used for expiry, sessions and the login rate limit; tests replace
    it to move time forward instead of sleeping against a timer.
    """

    max_upload_bytes: int = 20 * MB
    job_time_limit: float = 300.0  # wall-clock seconds; the job is killed past it
    memory_limit_bytes: int = 2048 * MB  # address-space limit of each job process
    max_jobs: int = 2  # jobs solving at once; later ones wait in the queue
    queue_size: int = 50  # jobs waiting for a slot; past it uploads get "busy" (503)
    expiry_seconds: float = 3600.0  # a finished job's files are deleted after this
    token: str | None = None  # bearer token required when set
    work_dir: Path = field(default_factory=default_work_dir)
    worker_command: tuple[str, ...] = field(default_factory=default_worker_command)
    sweep_interval: float = 30.0  # seconds between background expiry sweeps
    # A body must keep arriving (no gap longer than the idle limit) and be complete
    # within the total limit, so a slow or stalled sender cannot hold the server.
    upload_idle_timeout: float = 20.0
    upload_timeout: float = 300.0
    shutdown_grace: float = 10.0  # seconds running jobs get to finish when the server stops
    session_seconds: float = 12 * 3600.0  # a browser sign-in lasts this long
    login_failures_allowed: int = 5  # failed sign-ins per address and window, then 429
    login_window_seconds: float = 60.0
    now: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from `EXPOSURE_*` variables (sizes in MB, times in seconds), then overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        numbers: dict[str, tuple[str, Callable[[str], object]]] = {
            "EXPOSURE_MAX_UPLOAD_MB": ("max_upload_bytes", lambda v: int(float(v) * MB)),
            "EXPOSURE_JOB_TIME_LIMIT": ("job_time_limit", float),
            "EXPOSURE_MEMORY_LIMIT_MB": ("memory_limit_bytes", lambda v: int(float(v) * MB)),
            "EXPOSURE_MAX_JOBS": ("max_jobs", int),
            "EXPOSURE_QUEUE_SIZE": ("queue_size", int),
            "EXPOSURE_UPLOAD_TIMEOUT": ("upload_timeout", float),
            "EXPOSURE_SESSION_HOURS": ("session_seconds", lambda v: float(v) * 3600),
            "EXPOSURE_EXPIRY_SECONDS": ("expiry_seconds", float),
        }
        for variable, (name, convert) in numbers.items():
            if env.get(variable):
                try:
                    values[name] = convert(env[variable])
                except ValueError as exc:
                    raise ValueError(f"{variable}={env[variable]!r} is not a number") from exc
        if env.get("EXPOSURE_TOKEN_FILE"):
            values["token"] = read_token_file(Path(env["EXPOSURE_TOKEN_FILE"]))
        if env.get("EXPOSURE_TOKEN"):
            values["token"] = env["EXPOSURE_TOKEN"]
        if env.get("EXPOSURE_WORK_DIR"):
            values["work_dir"] = Path(env["EXPOSURE_WORK_DIR"])
        known = {f.name for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if k in known and v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.max_upload_bytes <= 0 or self.max_jobs <= 0:
            raise ValueError("max_upload_bytes and max_jobs must be positive")
        if self.queue_size < 0:
            raise ValueError("queue_size must not be negative")
        if self.job_time_limit <= 0 or self.expiry_seconds <= 0:
            raise ValueError("job_time_limit and expiry_seconds must be positive")
        if self.upload_idle_timeout <= 0 or self.upload_timeout <= 0:
            raise ValueError("upload_idle_timeout and upload_timeout must be positive")


def read_token_file(path: Path) -> str:
    """The token in `path` (its first line, without spaces around it).

    A token in a file, unlike one on the command line, is not shown to other
    users by `ps`; the file should be readable by the server's user only.
    """
    try:
        token = path.read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read the token file {path}: {exc.strerror}") from exc
    if not token or not token[0].strip():
        raise ValueError(f"the token file {path} is empty")
    return token[0].strip()
