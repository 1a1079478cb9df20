"""Driving a board in this process, for the tests and the benchmark.

:class:`FakeClock` is a board clock that can be set and moved forward (it also moves with
real time, so motion still runs). :func:`run_script` runs a :class:`BoardApp` while a
script steps through it: the script is a generator that yields a number (wait that many
real seconds) or a function (wait until it returns true); it may check anything between
steps. Errors in the script stop the board and are raised from :func:`run_script`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from content.store import Store

Step = float | int | Callable[[], bool]
Script = Callable[[Any], Generator[Step, None, None]]


class FakeClock:
    """Wall time starting at ``start``, plus real time elapsed, plus :meth:`advance` jumps."""

    def __init__(self, start: dt.datetime) -> None:
        self._wall0 = start
        self._real0 = time.monotonic()
        self._jump = 0.0

    def now(self) -> dt.datetime:
        return self._wall0 + dt.timedelta(seconds=self.monotonic() - self._real0)

    def monotonic(self) -> float:
        return time.monotonic() + self._jump

    def advance(self, seconds: float) -> None:
        self._jump += seconds

    def set(self, moment: dt.datetime) -> None:
        """Jump the wall clock to ``moment`` (the monotonic clock only ever moves forward)."""
        delta = (moment - self.now()).total_seconds()
        if delta >= 0:
            self._jump += delta
        else:
            self._wall0 += dt.timedelta(seconds=delta)


class ScriptFailed(AssertionError):
    pass


def run_script(app: Any, script: Script, *, timeout: float = 60.0, poll: float = 0.05) -> Any:
    """Run ``app`` (a BoardApp) with ``script`` stepping through it; returns the app."""
    runner = _ScriptRunner(app, script, timeout=timeout, poll=poll)
    app.bind(on_start=runner.started)
    try:
        app.run()
    finally:
        if runner.watchdog_event is not None:
            runner.watchdog_event.cancel()
    if runner.errors:
        raise runner.errors[0]
    return app


class _ScriptRunner:
    """Steps a script through a running board on Kivy's clock and collects what went wrong."""

    def __init__(self, app: Any, script: Script, *, timeout: float, poll: float) -> None:
        from kivy.clock import Clock

        self.clock = Clock
        self.app = app
        self.script = script
        self.timeout = timeout
        self.poll = poll
        self.errors: list[BaseException] = []
        self.gen: Generator[Step, None, None] | None = None
        self.until = 0.0
        self.watchdog_event: Any = None

    def finish(self, exc: BaseException | None = None) -> None:
        """Stop the board, keeping ``exc`` (if any) to raise once it has stopped."""
        if exc is not None:
            self.errors.append(exc)
        if self.app.running:
            self.app.stop()

    def step(self, _dt: float = 0.0) -> None:
        """Run the script to its next yield, then wait as it asks."""
        self._arm_watchdog()
        try:
            if self.gen is None:
                self.gen = self.script(self.app)
            command = next(self.gen)
        except StopIteration:
            self.finish()
            return
        except BaseException as exc:  # the script's assertion: stop the board, raise after
            self.finish(exc)
            return
        if callable(command):
            self.until = time.monotonic() + self.timeout
            self.wait_for(command)
        else:
            self.clock.schedule_once(self.step, float(command))

    def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Poll ``predicate`` until it holds (then step on) or the timeout passes (then fail)."""
        try:
            ok = predicate()
        except BaseException as exc:
            self.finish(exc)
            return
        if ok:
            self.clock.schedule_once(self.step, 0)
        elif time.monotonic() > self.until:
            self.finish(ScriptFailed(f"timed out waiting for {getattr(predicate, '__name__', predicate)}"))
        else:
            self.clock.schedule_once(lambda _dt: self.wait_for(predicate), self.poll)

    def watchdog(self, _dt: float) -> None:
        """Fail a script whose next step has not come long after any single wait should have ended.

        It is re-armed at every step: a long script that keeps stepping (many segments on a busy
        machine) is not failed for its length, only one that is stuck."""
        self.finish(ScriptFailed(f"the script made no step for {self.timeout * 3:.0f} s"))

    def _arm_watchdog(self) -> None:
        if self.watchdog_event is not None:
            self.watchdog_event.cancel()
        self.watchdog_event = self.clock.schedule_once(self.watchdog, self.timeout * 3)

    def started(self, *_args: Any) -> None:
        """On the board's start: take the first step (which arms the watchdog)."""
        self.clock.schedule_once(self.step, 0)


def fill_store(settings: Any, *, store: Store, jobs: int = 60, today: dt.date | None = None, videos: bool = False,
               urgent: bool = False, schedule: dict | None = None, version: int = 1, seed: int = 7) -> Any:
    """Put sample content into the station's ``store`` (as a feed would); returns the content set.
    ``settings`` gives the station's place and media folder."""
    from content.sample import sample_content

    today = today or dt.date.today()
    content = sample_content(origin=(settings.station.latitude, settings.station.longitude), jobs=jobs,
                             seed=seed, today=today, media_dir=settings.media_dir if videos else None)
    if not urgent:
        content.announcements = [a for a in content.announcements if a.priority != "urgent"]
    if schedule is not None:
        content.documents["board_schedule"] = schedule
    store.replace_content(content, feed_id="test", version=version)
    return content


def prepare_kivy(profile_name: str = "tv-1080p") -> None:
    """Kivy settings for a board test process (before its window opens; harmless after)."""
    from display.profiles import resolve_profile
    from display.window import configure_kivy

    configure_kivy(resolve_profile(None, profile=profile_name))
