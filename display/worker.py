"""The board's worker thread: store reads, text rendering, media checks and proof-of-play writes.

Anything that can take more than a frame runs here, so the screen keeps moving evenly: the
main (Kivy) thread hands over a job and gets the result back through ``deliver`` (which
the board points at ``Clock.schedule_once``). Jobs run one at a time, in order. A job
that fails is logged and its ``on_error`` called; the board keeps showing what it has.
No Kivy here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Deliver = Callable[[Callable[[], None]], None]


class Worker:
    """One background thread running submitted jobs in order."""

    def __init__(self, deliver: Deliver, *, name: str = "board-worker") -> None:
        self._deliver = deliver
        self._jobs: queue.Queue[tuple[Callable[..., Any], tuple, Callable[[Any], None] | None,
                                      Callable[[BaseException], None] | None, str] | None] = queue.Queue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._last_failure = ""
        self._last_failure_at = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None] | None = None,
               error: Callable[[BaseException], None] | None = None, tag: str = "") -> bool:
        """Run ``fn(*args)`` in the worker; ``done(result)`` runs on the main thread afterwards.

        With ``tag``, the job is dropped if one with the same tag is still waiting (polls).
        """
        with self._lock:
            if tag:
                if tag in self._pending:
                    return False
                self._pending.add(tag)
        self._jobs.put((fn, args, done, error, tag))
        return True

    def busy(self, tag: str) -> bool:
        with self._lock:
            return tag in self._pending

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, args, done, error, tag = job
            try:
                result = fn(*args)
            except Exception as exc:  # a failed job must not end the board's worker
                self._log_failure(fn, exc)
                self._finish(tag)
                if error is not None:
                    self._deliver(lambda exc=exc, error=error: error(exc))
                continue
            self._finish(tag)
            if done is not None:
                self._deliver(lambda result=result, done=done: done(result))

    def _log_failure(self, fn: Callable[..., Any], exc: Exception) -> None:
        # the same failure repeating every poll is logged once a minute (SD cards wear out)
        message = f"{getattr(fn, '__name__', fn)} failed: {exc}"
        now = time.monotonic()
        if message != self._last_failure or now - self._last_failure_at > 60:
            log.warning("board worker: %s", message)
            self._last_failure, self._last_failure_at = message, now

    def _finish(self, tag: str) -> None:
        if tag:
            with self._lock:
                self._pending.discard(tag)

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the jobs already queued (proof-of-play writes included), then end the thread."""
        self._jobs.put(None)
        self._thread.join(timeout)
