"""Whether a resident is using the kiosk right now, told to other processes through a lock.

The kiosk holds a shared ``flock`` on ``<data dir>/kiosk-visit.lock`` for as long as a visit
is open (a screen other than the idle home screen, a form, the 好差评 faces) and lets it go
when the visit ends. The upgrader asks just before it restarts the services: if it cannot
take the lock exclusively, someone is mid-visit and the restart waits for the next round.
A lock, not a timestamp in a file: it is live (nothing to flush), and it goes away by itself
when the kiosk dies, so a crashed kiosk never blocks an upgrade.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "kiosk-visit.lock"


class VisitLock:
    """The kiosk's side: ``hold(True)`` while a visit is open, ``hold(False)`` after."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def hold(self, in_use: bool) -> None:
        if in_use and self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
            except OSError:
                return  # a read-only or full disk: the kiosk goes on; an upgrade may then restart it
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._fd = fd
        elif not in_use and self._fd is not None:
            self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def visit_in_progress(path: Path) -> bool:
    """The upgrader's side: True while a kiosk holds the lock (a resident is mid-visit)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops our own lock if we took it
    return False
