"""Settings of the upload page: limits, where jobs live, the optional bearer token.

Every setting has a safe default and an `EXPOSURE_*` environment variable, so a
shared deployment is configured without code (`Settings.from_env()`).
"""

from __future__ import annotations

import os
import sys
import tempfile
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
    appended to it. Tests replace it to simulate crashes and hangs.
    """

    max_upload_bytes: int = 20 * MB
    job_time_limit: float = 300.0  # wall-clock seconds; the job is killed past it
    memory_limit_bytes: int = 2048 * MB  # address-space limit of each job process
    max_jobs: int = 2  # jobs solving at once; more get "busy, try again"
    expiry_seconds: float = 3600.0  # a finished job's files are deleted after this
    token: str | None = None  # bearer token required when set
    work_dir: Path = field(default_factory=default_work_dir)
    worker_command: tuple[str, ...] = field(default_factory=default_worker_command)
    sweep_interval: float = 30.0  # seconds between background expiry sweeps

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from `EXPOSURE_*` variables (sizes in MB, times in seconds), then overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        numbers = {
            "EXPOSURE_MAX_UPLOAD_MB": ("max_upload_bytes", lambda v: int(float(v) * MB)),
            "EXPOSURE_JOB_TIME_LIMIT": ("job_time_limit", float),
            "EXPOSURE_MEMORY_LIMIT_MB": ("memory_limit_bytes", lambda v: int(float(v) * MB)),
            "EXPOSURE_MAX_JOBS": ("max_jobs", int),
            "EXPOSURE_EXPIRY_SECONDS": ("expiry_seconds", float),
        }
        for variable, (name, convert) in numbers.items():
            if env.get(variable):
                try:
                    values[name] = convert(env[variable])
                except ValueError as exc:
                    raise ValueError(f"{variable}={env[variable]!r} is not a number") from exc
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
        if self.job_time_limit <= 0 or self.expiry_seconds <= 0:
            raise ValueError("job_time_limit and expiry_seconds must be positive")
