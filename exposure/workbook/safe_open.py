"""Open an untrusted .xlsx file without letting it exhaust memory or run XML tricks.

Checks, in order, before openpyxl inflates anything: the file's magic bytes
(empty, text, legacy .xls, encrypted), the zip directory (corrupt archive, zip
bombs by declared size and compression ratio, too many entries), then opens it
with openpyxl, whose XML parsing goes through defusedxml (entity expansion and
external entities are refused).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import openpyxl.xml
from openpyxl.workbook.workbook import Workbook

from exposure.errors import InputError
from exposure.issues import Issue

MAX_FILE_BYTES = 100 * 1024**2
MAX_UNCOMPRESSED_BYTES = 500 * 1024**2
MAX_ENTRY_RATIO = 200  # well above what real spreadsheets reach (10-30x)
RATIO_CHECK_ABOVE_BYTES = 10 * 1024**2
MAX_ZIP_ENTRIES = 2000

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# Encrypted Office files are OLE2 containers holding these streams.
ENCRYPTION_MARKERS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))


def _refuse(code: str, message: str, hint: str = "") -> InputError:
    return InputError([Issue(code=code, message=message, hint=hint)], summary=message)


def check_container(path: Path) -> None:
    """Raise InputError unless `path` looks like a well-formed, bounded .xlsx archive."""
    if not path.exists():
        raise _refuse("file-not-found", f"no file at {path}", "check the path")
    if path.is_dir():
        raise _refuse("not-a-file", f"{path} is a folder, not a workbook")
    size = path.stat().st_size
    if size == 0:
        raise _refuse("empty-file", f"{path.name} is empty", "save the workbook again from Excel")
    if size > MAX_FILE_BYTES:
        raise _refuse(
            "file-too-large",
            f"{path.name} is {size / 1024**2:.0f} MB; the limit is {MAX_FILE_BYTES // 1024**2} MB",
            "remove unused sheets or data",
        )
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    if head.startswith(OLE2_MAGIC):
        if any(marker in head for marker in ENCRYPTION_MARKERS):
            raise _refuse(
                "encrypted-workbook",
                f"{path.name} is password-protected",
                "remove the password (File > Info > Protect Workbook) and save again",
            )
        raise _refuse(
            "legacy-xls",
            f"{path.name} is an old-style .xls workbook",
            "open it in Excel and save as Excel Workbook (.xlsx)",
        )
    if not head.startswith(ZIP_MAGIC):
        raise _refuse(
            "not-xlsx",
            f"{path.name} is not an Excel .xlsx workbook",
            "save it from Excel as Excel Workbook (.xlsx); CSV and text files are not read",
        )
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refuse(
            "corrupt-file",
            f"{path.name} is damaged and cannot be opened ({exc})",
            "save it again from Excel",
        ) from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise _refuse("zip-bomb", f"{path.name} holds {len(entries)} parts; too many to be safe")
    total = 0
    for entry in entries:
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > RATIO_CHECK_ABOVE_BYTES and ratio > MAX_ENTRY_RATIO:
            raise _refuse(
                "zip-bomb",
                f"{path.name}: part {entry.filename} inflates {ratio:.0f}x; refused as unsafe",
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        raise _refuse(
            "zip-bomb",
            f"{path.name} would inflate to {total / 1024**2:.0f} MB; "
            f"the limit is {MAX_UNCOMPRESSED_BYTES // 1024**2} MB",
        )
    names = {e.filename for e in entries}
    if "xl/workbook.xml" not in names:
        raise _refuse(
            "not-xlsx",
            f"{path.name} is a zip archive but not an Excel workbook",
            "save it from Excel as Excel Workbook (.xlsx)",
        )


def has_formulas(path: Path) -> bool:
    """True if any worksheet stores a formula (`<f>` element); cheap, bounded by check_container."""
    with zipfile.ZipFile(path) as archive:
        for entry in archive.infolist():
            if entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(".xml"):
                with archive.open(entry) as stream:
                    while chunk := stream.read(1 << 20):
                        if b"<f>" in chunk or b"<f " in chunk or b":f>" in chunk or b":f " in chunk:
                            return True
    return False


def open_workbook(path: Path, *, data_only: bool = True, read_only: bool = False) -> Workbook:
    """Open a checked workbook with openpyxl, with XML parsing hardened by defusedxml."""
    if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - defusedxml is a hard dependency
        raise RuntimeError("defusedxml is not installed; refusing to parse untrusted XML")
    check_container(path)
    try:
        if read_only:  # sheets are read lazily from the archive, which must stay open
            return openpyxl.load_workbook(
                path, data_only=data_only, read_only=True, keep_links=False
            )
        # Our own handle: openpyxl leaves the file open when parsing fails.
        with path.open("rb") as stream:
            return openpyxl.load_workbook(stream, data_only=data_only, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for bad files
        name = type(exc).__name__
        # openpyxl wraps parse errors in a ValueError; look for defusedxml's along the chain.
        cause: BaseException | None = exc
        while cause is not None and "Forbidden" not in type(cause).__name__:
            cause = cause.__cause__ or cause.__context__
        if cause is not None:  # defusedxml.EntitiesForbidden, DTDForbidden, ...
            name = type(cause).__name__
            raise _refuse(
                "xml-forbidden",
                f"{path.name} contains XML constructs refused for safety ({name})",
                "save the workbook again from Excel",
            ) from exc
        raise _refuse(
            "corrupt-file",
            f"{path.name} cannot be read as a workbook ({name}: {exc})",
            "save it again from Excel as .xlsx",
        ) from exc
