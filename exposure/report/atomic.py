"""Atomic saves: a file is either the previous one or the new one, never part of either.

One home for every file the product writes into a planner's folder: results workbooks
(xlsxwriter), the template and annotated workbooks (openpyxl).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from exposure.errors import OutputError


class Saveable(Protocol):
    """What `save_atomically` needs of a workbook (openpyxl's has it)."""

    def save(self, filename: str) -> None: ...


PARTIAL_SUFFIX = ".partial"  # leftover temporary files: `.<name>.<pid>-<random>.partial`


def partial_files(path: Path) -> list[Path]:
    """Temporary files a save of `path` left behind (a killed process cannot clean up)."""
    name = glob.escape(Path(path).name)  # a name may hold [ ] * ?
    return sorted(Path(path).parent.glob(f".{name}.*{PARTIAL_SUFFIX}"))


def _remove_stale_partials(path: Path) -> None:
    """Delete leftovers of earlier saves of `path` whose process is gone."""
    for leftover in partial_files(path):
        pid_text = leftover.name[len(path.name) + 2 :].split("-", 1)[0]
        try:
            os.kill(int(pid_text), 0)  # signal 0: only asks whether the process exists
            continue  # a live process, maybe saving this very file: leave it alone
        except ProcessLookupError:
            pass
        except (ValueError, OSError):  # not our name pattern, or another user's process
            continue
        with contextlib.suppress(OSError):
            leftover.unlink()


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (threads may be saving)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_failure_hint(error: OSError, target_exists: bool) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return " (the disk is full: free some space and run again)"
    if error.errno in (errno.EACCES, errno.EPERM) and target_exists:
        return " (is it open in Excel? close it and run again)"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return " (choose a folder you can write to)"
    return ""


def save_atomically(book: Saveable, path: Path) -> None:
    """Save an openpyxl workbook atomically (see `write_atomically`)."""
    write_atomically(path, book.save)


def write_atomically(path: Path, write: Callable[[str], None]) -> None:
    """`write(temporary)` a file in the same folder, then rename it over `path`.

    A failure, or the process being killed, at any point leaves at `path` either the
    previous file or the new one, never a part of either. The temporary file is named
    `.<name>.<pid>-<random>.partial`: one left by a killed process is recognisable and
    is removed by the next save of the same file. The result gets the permissions of
    any new file (0o666 less the umask), not the 0o600 of a temporary file.
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(path)
        handle, temporary = tempfile.mkstemp(
            dir=folder, prefix=f".{path.name}.{os.getpid()}-", suffix=PARTIAL_SUFFIX
        )
    except OSError as exc:
        hint = _write_failure_hint(exc, target_exists=False)
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}{hint}") from exc
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        _fsync_folder(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        hint = _write_failure_hint(exc, target_exists=path.exists())
        raise OutputError(f"could not write {path}: {exc.strerror or exc}{hint}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it keeps the new file)."""
    with contextlib.suppress(OSError):  # some file systems cannot open a folder
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
