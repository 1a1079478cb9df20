"""The app-wide exception handler: an unexpected error returns home with an apology.

Kivy hands every exception raised in its main loop (touch handlers, clock callbacks,
property events) to :class:`kivy.base.ExceptionManager`. This handler logs it without
personal data (the exception type and the code locations only; an exception's message and
local values may contain a resident's name or number, so they are never logged), resets
the visit and lets the loop continue. If errors come in a flood the app gives up and
exits so that the station's service manager restarts it cleanly.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

from kivy.base import ExceptionHandler, ExceptionManager

log = logging.getLogger("kiosk.errors")
FLOOD_COUNT = 20
FLOOD_WINDOW_S = 10.0


def describe(exc: BaseException) -> str:
    """``ValueError at kiosk/screens/jobs.py:120 in refresh <- ...``: type and where, no message."""
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    where = " <- ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in reversed(frames))
    return f"{type(exc).__name__} at {where}" if where else type(exc).__name__


def _short(filename: str) -> str:
    for marker in ("/kiosk/", "/content/", "/printer/", "/idcard/", "/config/", "/kivy/"):
        if marker in filename:
            return marker.strip("/") + "/" + filename.split(marker, 1)[1]
    return filename.rsplit("/", 1)[-1]


class KioskExceptionHandler(ExceptionHandler):
    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app
        self._times: list[float] = []

    def handle_exception(self, exception: BaseException) -> int:
        if isinstance(exception, (KeyboardInterrupt, SystemExit)):
            return ExceptionManager.RAISE
        now = time.monotonic()
        self._times = [t for t in self._times if now - t < FLOOD_WINDOW_S] + [now]
        screen = getattr(self.app, "screen_name", "?")
        log.error("unexpected error on screen %s: %s", screen, describe(exception))
        if len(self._times) >= FLOOD_COUNT:
            log.critical("%d errors in %.0f s; stopping so that the kiosk restarts clean",
                         len(self._times), FLOOD_WINDOW_S)
            return ExceptionManager.RAISE
        try:
            self.app.recover()
        except Exception as second:  # recovering must not raise into Kivy's loop
            log.error("recovering after the error failed: %s", describe(second))
        return ExceptionManager.PASS
