"""Time, in one place: the machine's clock and a manual one for tests, UTC stamps, and ages in words.

Code that waits or schedules takes a clock instead of calling :mod:`time`, so that tests
advance time themselves and never sleep. Stamps written to databases and state files are UTC
ISO 8601 to the second; ages are said in Chinese for staff and console users.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What waiting code needs: a monotonic reading and a way to let time pass."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: local wall time (naive), ``time.monotonic`` and ``time.sleep``."""

    def now(self) -> dt.datetime:
        return dt.datetime.now()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to: ``sleep`` and ``advance`` add to it at once."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()


def utc_now() -> dt.datetime:
    """Now, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def utc_iso(when: dt.datetime | None = None) -> str:
    """``2026-12-07T07:05:17+00:00``: UTC to the second (``when`` or now)."""
    return (when or utc_now()).astimezone(dt.UTC).isoformat(timespec="seconds")


def local_iso(when: dt.datetime | None = None) -> str:
    """Local time with its offset, to the second (``when`` or now)."""
    return (when or dt.datetime.now()).astimezone().isoformat(timespec="seconds")


def parse_utc(text: str | None) -> dt.datetime | None:
    """An ISO stamp as an aware time (a naive one is taken as UTC); None for empty or unreadable text."""
    if not text:
        return None
    try:
        then = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return then if then.tzinfo is not None else then.replace(tzinfo=dt.UTC)


def ago_text(seconds: float) -> str:
    """``12 秒前``, ``5 分钟前``, ``3 小时前``, ``2 天前``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} 秒前"
    if s < 3600:
        return f"{s // 60} 分钟前"
    if s < 86400:
        return f"{s // 3600} 小时前"
    return f"{s // 86400} 天前"


def age_of(iso_text: str | None, now: dt.datetime, *, never: str = "从未") -> tuple[str, dt.timedelta | None]:
    """How long ago a stored stamp was, in words and as a duration (None when never or unreadable).

    An unreadable stamp is shown as it is, so that staff see what the record holds."""
    if not iso_text:
        return never, None
    then = parse_utc(iso_text)
    if then is None:
        return iso_text, None
    age = max(dt.timedelta(0), now - then)
    return ago_text(age.total_seconds()), age


def duration_text(seconds: float) -> str:
    """A waiting time: ``45 秒``, ``12 分钟``, ``3.5 小时``, ``2.0 天``."""
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    if seconds < 7200:
        return f"{seconds / 60:.0f} 分钟"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86400:.1f} 天"
