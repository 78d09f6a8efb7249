"""Receive an uploaded workbook while the body streams: size limited, type checked by content.

The body is read chunk by chunk with a running byte count and written straight
to the job folder; past the limit the upload is refused (413) at once, never
buffered whole. Two forms are accepted: a browser's `multipart/form-data` (the
upload page; parsed by python-multipart's streaming parser) and a raw body
(`curl --data-binary @book.xlsx`, options in the query string). Whether the
file is an .xlsx workbook is judged by its bytes, never by its name or the
Content-Type the client claims.

Reading the body has a deadline: a sender that stalls for `idle_timeout`
seconds, or has not finished after `total_timeout`, is answered 408 (the
caller removes the partial file). No job slot is held while a body arrives.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls and password-protected workbooks
MULTIPART_SLACK = 64 * 1024  # boundaries, part headers and the small form fields
MAX_FIELD_BYTES = 1024
MAX_PARTS = 16
FILE_FIELD = "workbook"


class UploadRejectedError(Exception):
    """The upload is refused; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def too_large(limit: int) -> UploadRejectedError:
    return UploadRejectedError(
        413,
        "Workbook too large",
        f"The workbook is larger than the {limit / 1024**2:g} MB this server accepts. "
        "Remove unused sheets or data and upload it again.",
    )


def too_slow(idle_timeout: float, total_timeout: float) -> UploadRejectedError:
    return UploadRejectedError(
        408,
        "Upload too slow",
        f"The workbook did not arrive in time (nothing for {idle_timeout:g} seconds, or not "
        f"complete after {total_timeout:g} seconds), so the upload was dropped. "
        "Check the connection and upload it again.",
    )


def wrong_type() -> UploadRejectedError:
    return UploadRejectedError(
        415,
        "Not an Excel workbook",
        "That file is not an Excel .xlsx workbook. Open it in Excel and save it as "
        "Excel Workbook (.xlsx); CSV, PDF and other files are not read.",
    )


@dataclass
class Upload:
    """What was received: the file's size, its (display only) name and the form fields."""

    size: int = 0
    filename: str = ""
    fields: dict[str, str] = field(default_factory=dict)


class _FileSink:
    """Writes the workbook's bytes, counting them and checking the first ones."""

    def __init__(self, target: BinaryIO, limit: int) -> None:
        self.target = target
        self.limit = limit
        self.size = 0
        self.head = b""

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise too_large(self.limit)
        if len(self.head) < 8:
            self.head += data[: 8 - len(self.head)]
            if len(self.head) >= 4 and not (
                ZIP_MAGIC.startswith(self.head[:4]) or OLE2_MAGIC.startswith(self.head[:4])
            ):
                raise wrong_type()  # refuse early: no need to receive the rest
        self.target.write(data)


class _MultipartReceiver:
    """Feeds python-multipart's streaming parser; the `workbook` part goes to the sink."""

    def __init__(self, boundary: bytes, sink: _FileSink, upload: Upload) -> None:
        self.sink = sink
        self.upload = upload
        self.parts = 0
        self.files = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._value = b""
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadRejectedError(400, "Bad upload", "The upload has too many form fields.")
        self._headers = {}
        self._value = b""
        self._name = ""
        self._is_file = False

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        _kind, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = b"filename" in options and self._name == FILE_FIELD
        if self._is_file:
            self.files += 1
            if self.files > 1:
                raise UploadRejectedError(400, "Bad upload", "Upload one workbook at a time.")
            self.upload.filename = options[b"filename"].decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.sink.write(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise UploadRejectedError(400, "Bad upload", "A form field of the upload is too long.")

    def _part_end(self) -> None:
        if not self._is_file and self._name:
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace")

    def feed(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except MultipartParseError as exc:
            raise UploadRejectedError(400, "Bad upload", "The upload was malformed.") from exc

    def finish(self) -> None:
        self.parser.finalize()


def declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise UploadRejectedError(400, "Bad upload", "Invalid Content-Length header.") from exc


async def body_chunks(
    request: Request, idle_timeout: float, total_timeout: float
) -> AsyncIterator[bytes]:
    """The request body, chunk by chunk, with an idle and a total deadline (408 past them)."""
    deadline = time.monotonic() + total_timeout
    chunks = request.stream().__aiter__()
    while True:
        wait = min(idle_timeout, deadline - time.monotonic())
        if wait <= 0:
            raise too_slow(idle_timeout, total_timeout)
        try:
            with anyio.fail_after(wait):
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise too_slow(idle_timeout, total_timeout) from exc
        yield chunk


async def receive_upload(
    request: Request,
    target: Path,
    limit: int,
    *,
    idle_timeout: float = 20.0,
    total_timeout: float = 300.0,
    upload: Upload | None = None,
) -> Upload:
    """Stream the request body into `target`; raise UploadRejectedError on anything wrong.

    The file may hold at most `limit` bytes; a multipart body at most `limit`
    plus a little for the form around it. A Content-Length above that is
    refused before a byte is read. `upload` is filled in as the body is read
    (file name, form fields), so a caller still knows them when it is refused.
    """
    upload = Upload() if upload is None else upload
    kind, options = parse_options_header(request.headers.get("content-type"))
    multipart = kind == b"multipart/form-data"
    # Options may come in the query string: the only place for a raw body, and for a
    # form a copy the page's script adds, so a refusal before the form's own fields
    # have arrived can still show the options chosen. The form's fields win.
    upload.fields.update(request.query_params.items())
    body_limit = limit + MULTIPART_SLACK if multipart else limit
    length = declared_length(request)
    if length is not None and length > body_limit:
        raise too_large(limit)
    with target.open("wb") as stream:
        sink = _FileSink(stream, limit)
        receiver = None
        if multipart:
            boundary = options.get(b"boundary")
            if not boundary:
                raise UploadRejectedError(
                    400, "Bad upload", "The upload has no multipart boundary."
                )
            receiver = _MultipartReceiver(boundary, sink, upload)
        else:
            upload.filename = request.headers.get("x-filename", "")
        received = 0
        try:
            async for chunk in body_chunks(request, idle_timeout, total_timeout):
                received += len(chunk)
                if received > body_limit:
                    raise too_large(limit)
                if receiver is not None:
                    receiver.feed(chunk)
                else:
                    sink.write(chunk)
        except ClientDisconnect as exc:
            message = "The upload did not finish."
            raise UploadRejectedError(400, "Upload interrupted", message) from exc
        if receiver is not None:
            receiver.finish()
            if receiver.files == 0:
                raise UploadRejectedError(
                    400, "No workbook", "Choose a workbook (.xlsx) to upload, then press Run."
                )
    upload.size = sink.size
    if upload.size == 0:
        raise UploadRejectedError(400, "Empty file", "The uploaded file is empty.")
    return upload
