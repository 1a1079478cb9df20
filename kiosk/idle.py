"""When the kiosk counts a resident as gone: idle time, the visible countdown and the reset.

No touch for ``timeout_s`` starts a countdown of ``countdown_s`` that the screen shows with
a 继续 button; only when it runs out does the kiosk return home and forget the resident.
While something legitimately holds the screen without touches (a training video playing)
the clock is held. Time comes from a monotonic clock so that setting the wall clock never
resets a visit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Phase(Enum):
    ACTIVE = "active"
    COUNTDOWN = "countdown"
    EXPIRED = "expired"


@dataclass(frozen=True)
class IdleState:
    phase: Phase
    remaining_s: float  # seconds until the countdown starts (ACTIVE) or ends (COUNTDOWN)

    @property
    def seconds_shown(self) -> int:
        """The whole number the countdown shows (never 0 while still counting)."""
        return max(1, int(self.remaining_s + 0.999)) if self.phase is Phase.COUNTDOWN else 0


class IdleClock:
    """Pure idle arithmetic; the app calls :meth:`touch` on every input and :meth:`state` on a timer."""

    def __init__(self, timeout_s: float, countdown_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if timeout_s <= 0 or countdown_s <= 0:
            raise ValueError("idle timeout and countdown must be positive")
        self.timeout_s = float(timeout_s)
        self.countdown_s = float(countdown_s)
        self._clock = clock
        self._last = clock()
        self._holds: set[str] = set()

    def touch(self) -> None:
        """The resident did something: start counting again."""
        self._last = self._clock()

    def hold(self, reason: str) -> None:
        """Stop counting while ``reason`` lasts (e.g. a video playing)."""
        self._holds.add(reason)
        self.touch()

    def release(self, reason: str) -> None:
        if reason in self._holds:
            self._holds.discard(reason)
            self.touch()

    @property
    def held(self) -> bool:
        return bool(self._holds)

    def since_touch(self) -> float:
        """Seconds since the resident last did something."""
        return max(0.0, self._clock() - self._last)

    def state(self) -> IdleState:
        if self._holds:
            return IdleState(Phase.ACTIVE, self.timeout_s)
        idle = self._clock() - self._last
        if idle < self.timeout_s:
            return IdleState(Phase.ACTIVE, self.timeout_s - idle)
        left = self.timeout_s + self.countdown_s - idle
        if left > 0:
            return IdleState(Phase.COUNTDOWN, left)
        return IdleState(Phase.EXPIRED, 0.0)
