"""The reader's clocks are the house's (:mod:`common.clock`): the system clock, and a manual one for tests.

The reader service and the in-process simulator take a clock instead of calling
:mod:`time`, so that tests advance time themselves and never sleep.
"""

from __future__ import annotations

from common.clock import SYSTEM_CLOCK, Clock, ManualClock, SystemClock

__all__ = ["SYSTEM_CLOCK", "Clock", "ManualClock", "SystemClock"]
