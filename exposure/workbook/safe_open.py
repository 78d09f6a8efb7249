"""Open an untrusted .xlsx file without letting it exhaust memory or run XML tricks.

Checks, in order, before openpyxl inflates anything: the file's magic bytes
(empty, text, legacy .xls, encrypted), the zip directory (corrupt archive, too
many entries, zip bombs by the inflated size of each part and of all parts and
by compression ratio), the prolog of every XML part (a DOCTYPE is refused: Excel
never writes one), then opens it with openpyxl, whose XML parsing goes through
defusedxml (entity expansion and external entities are refused).

The sizes checked are those the zip directory declares; Python's zipfile never
inflates a part beyond its declared size (it stops and reports a bad CRC), so
the declared sizes bound what openpyxl can be made to read.
"""

from __future__ import annotations

import codecs
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np
import openpyxl
import openpyxl.xml
from openpyxl.workbook.workbook import Workbook

from exposure.errors import InputError
from exposure.issues import Issue, issue_type

MAX_FILE_BYTES = 100 * 1024**2
# openpyxl holds about 15 bytes of memory per byte of sheet XML: 256 MiB of parts is
# already some 4 GB, and far beyond any real input (the reference workbook is 0.2 MiB).
MAX_UNCOMPRESSED_BYTES = 256 * 1024**2
MAX_PART_BYTES = 128 * 1024**2
MAX_ENTRY_RATIO = 200  # well above what real spreadsheets reach (10-30x)
RATIO_CHECK_ABOVE_BYTES = 10 * 1024**2
# The whole archive: many parts each just under the per-part threshold add up.
MAX_TOTAL_RATIO = 100
TOTAL_RATIO_CHECK_ABOVE_BYTES = 16 * 1024**2
MAX_ZIP_ENTRIES = 2000
# A prolog (XML declaration, comments, processing instructions) longer than this is
# not something any spreadsheet writer produces; stop looking and refuse.
MAX_PROLOG_CHARS = 1024**2

# What zipfile raises for a damaged archive: besides BadZipFile, NotImplementedError for
# a "version needed to extract" or compression method it does not know (found by fuzzing:
# a flipped byte in the central directory), EOFError and struct.error for cut-off records.
UNREADABLE_ZIP = (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, struct.error)

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# Encrypted Office files are OLE2 containers holding these streams.
ENCRYPTION_MARKERS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))


def _refuse(code: str, message: str, hint: str = "") -> InputError:
    hint = hint or issue_type(code).hint
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
    except (*UNREADABLE_ZIP, ValueError) as exc:  # ValueError: a name that is not UTF-8
        raise _refuse(
            "corrupt-file",
            f"{path.name} is damaged and cannot be opened ({exc})",
            "save it again from Excel",
        ) from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise _refuse("zip-bomb", f"{path.name} holds {len(entries)} parts; too many to be safe")
    _check_inflated_sizes(path, entries)
    names = {e.filename for e in entries}
    if "xl/workbook.xml" not in names:
        raise _refuse(
            "not-xlsx",
            f"{path.name} is a zip archive but not an Excel workbook",
            "save it from Excel as Excel Workbook (.xlsx)",
        )
    _check_no_doctype(path)


def _check_inflated_sizes(path: Path, entries: list[zipfile.ZipInfo]) -> None:
    """Refuse a zip bomb: a part, or all parts together, inflating too far or too much."""
    total = total_compressed = 0
    for entry in entries:
        total += entry.file_size
        total_compressed += entry.compress_size
        if entry.file_size > MAX_PART_BYTES:
            raise _refuse(
                "zip-bomb",
                f"{path.name}: part {entry.filename} would inflate to "
                f"{entry.file_size / 1024**2:.0f} MB; the limit is "
                f"{MAX_PART_BYTES // 1024**2} MB per part",
            )
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
    total_ratio = total / max(total_compressed, 1)
    if total > TOTAL_RATIO_CHECK_ABOVE_BYTES and total_ratio > MAX_TOTAL_RATIO:
        raise _refuse(
            "zip-bomb",
            f"{path.name}: its {len(entries)} parts inflate {total_ratio:.0f}x "
            f"to {total / 1024**2:.0f} MB; refused as unsafe",
        )


# The prolog of an XML document: declaration, comments, processing instructions, white space.
_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


def _check_no_doctype(path: Path) -> None:
    """Refuse any part whose XML prolog holds a DOCTYPE (Excel never writes one).

    Raises InputError: xml-forbidden, or corrupt-file for a part that cannot be inflated.

    defusedxml refuses entity declarations, but not a bare DOCTYPE naming an
    external DTD; refusing every DOCTYPE closes that door and all behind it.
    Every part is looked at, whatever its name: openpyxl follows the package's
    relationships, not file extensions. Only the prolog is read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            for entry in archive.infolist():
                if entry.is_dir():
                    continue
                with archive.open(entry) as stream:
                    problem = _prolog_problem(stream)
                if problem:
                    raise _refuse(
                        "xml-forbidden",
                        f"{path.name}: part {entry.filename} {problem}; refused for safety",
                        "save the workbook again from Excel",
                    )
    except (*UNREADABLE_ZIP, zlib.error) as exc:
        raise _refuse(
            "corrupt-file",
            f"{path.name} is damaged and cannot be opened ({type(exc).__name__}: {exc})",
            "save it again from Excel",
        ) from exc
    except RuntimeError as exc:  # zipfile: a part encrypted with a zip password
        raise _refuse(
            "corrupt-file",
            f"{path.name} cannot be read ({exc})",
            "remove the password and save it again from Excel",
        ) from exc


def _xml_encoding(head: bytes) -> str:
    """The encoding an XML parser would detect from the first bytes (XML 1.0, appendix F)."""
    if head.startswith((codecs.BOM_UTF16_LE, b"<\x00")):
        return "utf-16-le"
    if head.startswith((codecs.BOM_UTF16_BE, b"\x00<")):
        return "utf-16-be"
    return "utf-8"  # UTF-8 and every ASCII-compatible encoding spell '<!DOCTYPE' alike


def _prolog_problem(stream: IO[bytes]) -> str | None:
    """What is unsafe in the text before the first element, or None; reads only that far."""
    head = stream.read(4)
    decoder = codecs.getincrementaldecoder(_xml_encoding(head))(errors="replace")
    text = decoder.decode(head).removeprefix("\ufeff")
    while True:
        position = 0
        while match := _PROLOG_ITEM.match(text, position):
            position = match.end()
        rest = text[position:]
        if rest.startswith("<!DOCTYPE"):
            return "declares a DOCTYPE"
        # An element, text or binary data ends the prolog; an unfinished item needs more.
        unfinished = rest.startswith(("<?", "<!--")) or "<!DOCTYPE".startswith(rest)
        if not unfinished:
            return None
        if len(rest) > MAX_PROLOG_CHARS:
            return f"has an XML prolog over {MAX_PROLOG_CHARS // 1024**2} MB long"
        chunk = stream.read(64 * 1024)
        if not chunk:
            return None
        text = rest + decoder.decode(chunk)


FORMULA_MARKERS = (b"<f>", b"<f ", b":f>", b":f ")  # a formula element, with or without prefix


def has_formulas(path: Path) -> bool:
    """True if any worksheet stores a formula (`<f>` element); cheap, bounded by check_container.

    Every worksheet part is read, also those the workbook does not refer to (which
    openpyxl never opens): a damaged one is refused as corrupt-file, not raised.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            for entry in archive.infolist():
                if entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(".xml"):
                    with archive.open(entry) as stream:
                        carried = b""  # a marker may straddle two chunks
                        while chunk := stream.read(1 << 20):
                            if any(m in carried + chunk for m in FORMULA_MARKERS):
                                return True
                            carried = chunk[-2:]
    except (*UNREADABLE_ZIP, zlib.error) as exc:
        raise _refuse(
            "corrupt-file",
            f"{path.name} is damaged and cannot be opened ({type(exc).__name__}: {exc})",
            "save it again from Excel",
        ) from exc
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


# Calamine holds a sheet as a dense grid of (rows x columns) cells of 32 bytes: a lone
# value in XFD1048576 would make it 17 billion. 20 million cells (640 MB) is far beyond
# any real input (the 300k-column benchmark's biggest sheet is under 1 million).
MAX_DENSE_CELLS = 20_000_000


def calamine_refusal(path: Path, *, max_columns: int, max_rows: int) -> str | None:
    """Why python-calamine must not read this (checked) workbook, or None if it may."""
    return scan_for_calamine(path, max_columns=max_columns, max_rows=max_rows)[0]


def scan_for_calamine(path: Path, *, max_columns: int, max_rows: int) -> tuple[str | None, bool]:
    """(why python-calamine must not read this checked workbook or None, has formulas).

    One pass over the parts serves both: inflating every sheet twice (here and in
    `has_formulas`) cost a tenth of the read at 100k LP columns.

    Calamine builds each sheet as a dense grid from its first to its last cell, and
    python-calamine reads an error cell (#N/A) as a blank. So every worksheet part is
    scanned, without an XML parser, for: cells or rows without a plain `r="C7"`
    reference (so positions are known), cells beyond `max_columns` or `max_rows` or a
    grid over MAX_DENSE_CELLS, error cells, and truncated parts. A workbook refused
    here is read with openpyxl, which handles all of these as before.
    """
    formulas = False
    try:
        with zipfile.ZipFile(path) as archive:
            for entry in archive.infolist():
                if entry.is_dir():
                    continue
                data = archive.read(entry)
                if b"<sheetData" not in data:
                    if b":sheetData" in data:
                        return f"{entry.filename}: namespace prefixes", formulas
                    continue
                reason = _grid_refusal(data, max_columns=max_columns, max_rows=max_rows)
                if reason is not None:
                    return f"{entry.filename}: {reason}", formulas
                formulas = formulas or b"<f>" in data or b"<f " in data
    # A part that cannot be inflated (bad CRC, zip password ...): openpyxl says how.
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError):
        return "a part cannot be inflated", formulas
    return None, formulas


def _grid_refusal(data: bytes, *, max_columns: int, max_rows: int) -> str | None:
    """Why calamine must not read this worksheet part, or None.

    Vectorised over the bytes with numpy (one pass finds every '<'); a regex match or
    a bytes.count per pattern took seconds at 300k LP columns.
    """
    if not data.rstrip().endswith(b"</worksheet>"):
        return "does not end with </worksheet>"
    if b'"e"' in data or b"'e'" in data:  # t="e" however spelt; or text that looks like it
        return "error cells"
    text = np.frombuffer(data + bytes(_WINDOW + 8), dtype=np.uint8)  # room to read past the end
    tags = np.flatnonzero(text[: len(data)] == ord("<"))
    # Every cell and row element carries a plain reference as its first attribute, as
    # Excel and openpyxl write them; then these references are the places calamine uses.
    cells = _references(text, _elements(text, tags, b"c"), letters=True)
    if cells is None:
        return "cells without a plain reference"
    rows = _references(text, _elements(text, tags, b"row"), letters=False)
    if rows is None:
        return "rows without a plain reference"
    width = int(cells[0].max(initial=0))
    height = int(max(cells[1].max(initial=0), rows[1].max(initial=0)))
    if width > max_columns:
        return f"a cell in column {width}"
    if height > max_rows:
        return f"a cell in row {height}"
    if width * height > MAX_DENSE_CELLS:
        return f"a grid of {width} x {height} cells"
    return None


_WINDOW = 12  # bytes read after `r="`: up to 3 letters, 7 digits and the closing quote
_NAME_ENDS = np.array([9, 10, 13, 32, 47, 62], dtype=np.uint8)  # white space, '/', '>'


def _elements(text: np.ndarray, tags: np.ndarray, name: bytes) -> np.ndarray:
    """Positions just after `<name` of every element of that (unprefixed) name."""
    keep = np.ones(len(tags), dtype=bool)
    for offset, byte in enumerate(name, start=1):
        keep &= text[tags + offset] == byte
    ends = tags[keep] + 1 + len(name)
    return ends[np.isin(text[ends], _NAME_ENDS)]


def _references(
    text: np.ndarray, ends: np.ndarray, *, letters: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """(columns, rows) of elements whose name ends at `ends` and which start ` r="C7"`,
    or None if one does not (cells: 1-3 capital letters; both: 1-7 digits)."""
    for offset, byte in enumerate(b' r="'):
        if (text[ends + offset] != byte).any():
            return None
    # One byte of every reference at a time: small arrays, a dozen steps.
    start = ends + 4
    columns = np.zeros(len(ends), dtype=np.int64)
    rows = np.zeros(len(ends), dtype=np.int64)
    n_letters = np.zeros(len(ends), dtype=np.int64)
    n_digits = np.zeros(len(ends), dtype=np.int64)
    reading_letters = np.full(len(ends), letters)
    reading_digits = np.full(len(ends), not letters)
    for offset in range(_WINDOW):
        byte = text[start + offset].astype(np.int64)
        if letters:
            reading_letters &= (byte >= ord("A")) & (byte <= ord("Z"))
            columns = np.where(reading_letters, columns * 26 + byte - 64, columns)
            n_letters += reading_letters
            reading_digits |= ~reading_letters & (n_digits == 0) & (offset == n_letters)
        reading_digits &= (byte >= ord("0")) & (byte <= ord("9"))
        rows = np.where(reading_digits, rows * 10 + byte - 48, rows)
        n_digits += reading_digits
    closing = text[start + n_letters + n_digits]
    bad_letters = ((n_letters < 1) | (n_letters > 3)) if letters else n_letters != 0
    if (bad_letters | (n_digits < 1) | (n_digits > 7) | (closing != ord('"'))).any():
        return None
    return columns, rows
