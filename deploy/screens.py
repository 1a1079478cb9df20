"""Screens off at night: the board's TV to standby over HDMI-CEC (or DPMS), the kiosk
screen off with DPMS, and both on again when the station opens.

Commands go out only at the schedule's edges (and once at start, to reach a known state),
so a TV that someone switched on by hand at night is not fought every minute. Out of
hours the kiosk's DPMS timeout stays armed: a touch wakes the screen (the X server does
that on input) and it goes dark again after ``kiosk_wake_s`` without touches. While the
clock is not plausible (no NTP yet after a power cut) the screens stay on: a dark screen
in opening hours is worse than a lit one at night.

Both use Debian's tools: ``cec-client`` (cec-utils) and ``xset`` (x11-xserver-utils).
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Runner = Callable[[list[str], str | None], None]


@dataclass(frozen=True)
class Hours:
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> Hours:
        a, b = text.split("-")
        end = dt.time(23, 59, 59, 999999) if b == "24:00" else dt.time.fromisoformat(b)
        return cls(dt.time.fromisoformat(a), end)

    def covers(self, moment: dt.time) -> bool:
        return self.start <= moment < self.end


@dataclass
class Screen:
    name: str  # board | kiosk
    hours: Hours
    method: str  # cec | dpms | none
    display: str = ":0"
    cec_port: str = ""
    wake_s: int = 300
    state: bool | None = None  # what we last set


def _run(command: list[str], stdin: str | None) -> None:
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("screens: %s did not run: %s", command[0], exc)
        return
    if done.returncode != 0:
        log.warning("screens: %s exited %s: %s", command[0], done.returncode, (done.stderr or "").strip()[-200:])


@dataclass
class ScreenSchedule:
    """When each screen is on (``config.station.screen_schedule`` builds it from ``[screens]``)."""

    screens: list[Screen]
    days: set[int] = field(default_factory=lambda: set(range(1, 8)))
    run: Runner = _run

    def wanted(self, screen: Screen, now: dt.datetime) -> bool:
        if now.year < 2024:
            return True  # the clock is not set: never go dark by mistake
        return now.isoweekday() in self.days and screen.hours.covers(now.time())

    def apply(self, now: dt.datetime) -> list[str]:
        """Switch each screen whose wanted state differs from what was last set; say what was done."""
        done = []
        for screen in self.screens:
            on = self.wanted(screen, now)
            if screen.state == on or screen.method == "none":
                continue
            self.switch(screen, on)
            screen.state = on
            done.append(f"{screen.name} {'on' if on else 'off'}")
        return done

    def switch(self, screen: Screen, on: bool) -> None:
        log.info("screens: %s %s (%s)", screen.name, "on" if on else "off", screen.method)
        if screen.method == "cec":
            command = ["cec-client", "-s", "-d", "1"] + ([screen.cec_port] if screen.cec_port else [])
            # "on 0" wakes the TV (logical address 0), "as" makes us its active source so it
            # shows our input; "standby 0" puts it to standby.
            self.run(command, "on 0\nas\n" if on else "standby 0\n")
        elif screen.method == "dpms":
            xset = ["xset", "-display", screen.display]
            if on:
                self.run([*xset, "-dpms"], None)
                self.run([*xset, "dpms", "force", "on"], None)
            else:
                # Armed DPMS with a timeout: a touch wakes the screen, idleness darkens it again.
                self.run([*xset, "+dpms"], None)
                self.run([*xset, "dpms", "0", "0", str(screen.wake_s)], None)
                self.run([*xset, "dpms", "force", "off"], None)

    def next_edge(self, now: dt.datetime) -> dt.datetime:
        """The next minute at which some screen's wanted state changes (at most a day ahead)."""
        current = {s.name: self.wanted(s, now) for s in self.screens}
        t = now.replace(second=0, microsecond=0)
        for _ in range(24 * 60 + 1):
            t += dt.timedelta(minutes=1)
            if any(self.wanted(s, t) != current[s.name] for s in self.screens):
                return t
        return t

    def run_forever(self, now: Callable[[], dt.datetime] = dt.datetime.now,
                    wait: Callable[[float], bool] | None = None, check_s: float = 30.0) -> None:
        """Apply at start and then every ``check_s`` (catches clock jumps and edges alike)."""
        import threading

        wait = wait or threading.Event().wait
        while True:
            self.apply(now())
            if wait(check_s):
                return
