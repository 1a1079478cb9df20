"""Logging that can run for months on an SD card: repeated identical messages are rate-limited.

A station logs to journald (the units' stdout/stderr; capped by the journald drop-in in
``deploy/station/journald``). What journald cannot do is tell a useful line from the same
line a million times: a hub that is down for a week, a printer out of paper all weekend.
:class:`RateLimitFilter` lets the first ``burst`` records of a kind through per window, then
drops the rest, and the next record that gets through says how many were dropped. While a
kind keeps repeating its window doubles, up to ``max_window_s``, so a fault that lasts a
month costs a few lines an hour. A "kind" is the logger, the level, the message template
(before its arguments) and the exception type: "printer offline: %s" with a changing
detail is one kind.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Seen:
    window_start: float
    window_s: float
    passed: int = 0
    dropped: int = 0


class RateLimitFilter(logging.Filter):
    def __init__(self, *, burst: int = 3, window_s: float = 60.0, max_window_s: float = 3600.0,
                 max_kinds: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst, self.window_s, self.max_window_s = burst, window_s, max_window_s
        self.max_kinds = max_kinds
        self.clock = clock
        self._seen: OrderedDict[tuple, _Seen] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        kind = (record.name, record.levelno, str(record.msg), exc)
        now = self.clock()
        seen = self._seen.get(kind)
        if seen is None:
            self._seen[kind] = _Seen(now, self.window_s, passed=1)
            if len(self._seen) > self.max_kinds:
                self._seen.popitem(last=False)
            return True
        self._seen.move_to_end(kind)
        if now - seen.window_start >= seen.window_s:
            dropped = seen.dropped
            # Still repeating: the next window is longer. Quiet for a whole window: start over.
            seen.window_s = min(seen.window_s * 2, self.max_window_s) if dropped else self.window_s
            seen.window_start, seen.passed, seen.dropped = now, 1, 0
            if dropped:
                record.msg, record.args = f"{record.getMessage()} (the same message {dropped} more times before)", None
            return True
        if seen.passed < self.burst:
            seen.passed += 1
            return True
        seen.dropped += 1
        return False


# The handlers a station process writes through (stderr -> journald, or files). Others, e.g.
# a test runner's capture handlers, must see every record.
_OUTPUT_HANDLERS = (logging.StreamHandler, logging.FileHandler)


def install_log_limits(logger: logging.Logger | None = None, **options: object) -> None:
    """Attach one :class:`RateLimitFilter` to each output handler of ``logger`` (the root by default)."""
    import logging.handlers

    outputs = (*_OUTPUT_HANDLERS, logging.handlers.RotatingFileHandler, logging.handlers.WatchedFileHandler)
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if type(handler) not in outputs:
            continue
        if not any(isinstance(f, RateLimitFilter) for f in handler.filters):
            handler.addFilter(RateLimitFilter(**options))  # type: ignore[arg-type]
