"""Placeholder until the web issue lands: `exposure serve` says so plainly."""

from __future__ import annotations

from exposure.errors import UsageError


def serve(host: str, port: int, token: str | None) -> None:
    raise UsageError("the upload page is not built yet; use `exposure run` meanwhile")
