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
from typing import Any

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
    from kivy.clock import Clock

    errors: list[BaseException] = []
    state: dict[str, Any] = {"gen": None, "deadline": 0.0}

    def finish(exc: BaseException | None = None) -> None:
        if exc is not None:
            errors.append(exc)
        if app.running:
            app.stop()

    def step(_dt: float = 0.0) -> None:
        try:
            if state["gen"] is None:
                state["gen"] = script(app)
            command = next(state["gen"])
        except StopIteration:
            finish()
            return
        except BaseException as exc:  # the script's assertion: stop the board, raise after
            finish(exc)
            return
        if callable(command):
            state["until"] = time.monotonic() + timeout
            wait_for(command)
        else:
            Clock.schedule_once(step, float(command))

    def wait_for(predicate: Callable[[], bool]) -> None:
        try:
            ok = predicate()
        except BaseException as exc:
            finish(exc)
            return
        if ok:
            Clock.schedule_once(step, 0)
        elif time.monotonic() > state["until"]:
            finish(ScriptFailed(f"timed out waiting for {getattr(predicate, '__name__', predicate)}"))
        else:
            Clock.schedule_once(lambda _dt: wait_for(predicate), poll)

    def watchdog(_dt: float) -> None:
        finish(ScriptFailed(f"the script did not finish within {timeout * 3:.0f} s"))

    def started(*_args: Any) -> None:
        Clock.schedule_once(step, 0)
        state["watchdog"] = Clock.schedule_once(watchdog, timeout * 3)

    app.bind(on_start=started)
    try:
        app.run()
    finally:
        if state.get("watchdog") is not None:
            state["watchdog"].cancel()
    if errors:
        raise errors[0]
    return app


def fill_store(settings: Any, *, jobs: int = 60, today: dt.date | None = None, videos: bool = False,
               urgent: bool = False, schedule: dict | None = None, version: int = 1, seed: int = 7,
               store: Any = None) -> Any:
    """Put sample content into the station's store (as a feed would); returns the content set."""
    from content.sample import sample_content

    today = today or dt.date.today()
    content = sample_content(origin=(settings.station.latitude, settings.station.longitude), jobs=jobs,
                             seed=seed, today=today, media_dir=settings.media_dir if videos else None)
    if not urgent:
        content.announcements = [a for a in content.announcements if a.priority != "urgent"]
    if schedule is not None:
        content.documents["board_schedule"] = schedule
    if store is not None:
        store.replace_content(content, feed_id="test", version=version)
    else:
        from config.station import open_store

        with open_store(settings) as own:
            own.replace_content(content, feed_id="test", version=version)
    return content


def prepare_kivy(profile_name: str = "tv-1080p") -> None:
    """Kivy settings for a board test process (before its window opens; harmless after)."""
    from display.cli import configure_kivy
    from display.profiles import resolve_profile

    configure_kivy(resolve_profile(None, profile=profile_name))
