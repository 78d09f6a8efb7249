"""Who may use the upload page when a token is set: browser sessions and the sign-in limit.

A browser signs in once with the token and gets a random session id in an
HttpOnly, SameSite=Strict cookie. The server keeps only a hash of each id with
its expiry, in memory: a stolen cookie stops working when it expires or the
server restarts, and one login's cookie says nothing about another's.

Failed sign-ins (the form, or a wrong bearer token) are counted per client
address in a sliding window; past the allowance that address gets 429 with
Retry-After until the oldest failure leaves the window.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
from collections import deque
from collections.abc import Callable

MAX_SESSIONS = 10_000  # bounded memory: the oldest sessions go first past this
MAX_TRACKED_ADDRESSES = 10_000


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """Random session ids, each valid for `lifetime` seconds from sign-in."""

    def __init__(self, lifetime: float, now: Callable[[], float]) -> None:
        self.lifetime = lifetime
        self.now = now
        self._lock = threading.Lock()
        self._expires: dict[str, float] = {}  # sha256 of the id -> expiry time

    def create(self) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self.now()
        with self._lock:
            self._forget_expired(now)
            while len(self._expires) >= MAX_SESSIONS:  # dicts keep insertion order
                self._expires.pop(next(iter(self._expires)))
            self._expires[_digest(session_id)] = now + self.lifetime
        return session_id

    def valid(self, session_id: str) -> bool:
        if not session_id:
            return False
        key = _digest(session_id)  # a dict lookup by hash: no timing leak on the id
        with self._lock:
            expires = self._expires.get(key)
            if expires is None:
                return False
            if self.now() >= expires:
                del self._expires[key]
                return False
            return True

    def end(self, session_id: str) -> None:
        with self._lock:
            self._expires.pop(_digest(session_id), None)

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, expires in self._expires.items() if now >= expires]:
            del self._expires[key]


class LoginLimiter:
    """At most `allowed` failed sign-ins per client address within `window` seconds."""

    def __init__(self, allowed: int, window: float, now: Callable[[], float]) -> None:
        self.allowed = allowed
        self.window = window
        self.now = now
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int:
        """Seconds this address must wait before trying again; 0 if it may try now."""
        now = self.now()
        with self._lock:
            failures = self._recent(address, now)
            if len(failures) < self.allowed:
                return 0
            return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, address: str) -> None:
        now = self.now()
        with self._lock:
            if address not in self._failures and len(self._failures) >= MAX_TRACKED_ADDRESSES:
                for stale in [a for a in self._failures if not self._recent(a, now)]:
                    del self._failures[stale]
                if len(self._failures) >= MAX_TRACKED_ADDRESSES:
                    self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(address, deque()).append(now)
            self._recent(address, now)

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address, deque())
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        while len(failures) > self.allowed:  # only the last `allowed` matter
            failures.popleft()
        if not failures:
            self._failures.pop(address, None)
        return failures
