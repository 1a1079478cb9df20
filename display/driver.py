"""The board's heartbeat: a frame callback that runs only while something moves.

A still board costs nothing in Kivy (an unchanged canvas is not redrawn), so the driver
schedules its per-frame callback only while a reel is moving: always for a continuous
scroll, for the length of a page transition when paged. Between page flips the only
scheduled events are the page timer and the header clock's minute tick.

The per-frame path computes each reel's offset from elapsed time and sets one translation;
it records its own duration into a preallocated ring (for the benchmark) and allocates no
lists, widgets or textures.
"""

from __future__ import annotations

import time
from array import array
from typing import Any

from kivy.clock import Clock
from kivy.config import Config

from display.motion import PagedMotion, ScrollMotion

RING = 4096


def set_loop_fps(fps: float) -> None:
    """Cap Kivy's event loop (and so the frames presented) at ``fps`` (0: uncapped) from now on.

    Kivy reads ``graphics.maxfps`` once, into its clock; the clock reads this value on every loop.
    """
    Clock._max_fps = float(fps)  # noqa: SLF001 - Kivy has no public setter for the running loop's cap


#: The sleep resolution Kivy's clock is held to while the loop is capped (see capped_loop_fps).
LOOP_RESOLUTION_S = 0.001


def capped_loop_fps(cap: float) -> float:
    """The loop rate to ask of Kivy so that frames never come faster than ``cap`` a second.

    Kivy's idle() ends a loop early, as soon as the time left is under 1.8 of its clock
    resolution (the resolution plus an ``undershoot`` of 0.8 of it). Left to itself that
    resolution is a third of the loop period, so the earliest a frame may follow the last is
    0.4 of the period: a machine whose frames take 20 ms never slept at all and drew 43 frames
    a second on a loop set under 30. :func:`hold_clock_resolution` fixes the resolution at
    :data:`LOOP_RESOLUTION_S`; asking for a period longer by 1.8 of it makes the earliest next
    frame exactly ``1 / cap`` after the last.
    """
    return 1.0 / (1.0 / cap + 1.8 * LOOP_RESOLUTION_S)


def hold_clock_resolution(held: bool) -> None:
    """Fix Kivy's clock resolution at :data:`LOOP_RESOLUTION_S` (``held``) or give it back to Kivy."""
    Clock.clock_resolution = LOOP_RESOLUTION_S if held else -1


def loop_fps() -> float:
    """The frame cap Kivy's event loop runs at now (0: none)."""
    return float(Clock._max_fps)  # noqa: SLF001


class MotionDriver:
    """Moves the active reels; flips paged reels together every ``page_s`` seconds."""

    def __init__(self, max_fps: int, page_s: float, *, scroll_fps: int | None = None) -> None:
        self.max_fps = max(1, int(max_fps))
        self.scroll_fps = max(1, int(scroll_fps or max_fps))
        self.page_s = float(page_s)
        self.reels: list[Any] = []
        self._frame_event: Any = None
        self._pager: Any = None
        self.frame_ms = array("d", [0.0] * RING)
        self.frames = 0
        self.flips = 0
        self.paused = False
        self._loop_lowered = False  # Kivy's loop runs at the scroll cap (see _kick)
        self.presenter: Any = None  # display/present.py: redraws only the reels when only they moved

    # -- what moves ------------------------------------------------------------------------

    def set_reels(self, reels: list[Any]) -> None:
        """Drive ``reels`` from now on (the reels of the segment on screen)."""
        now = time.perf_counter()
        for reel in self.reels:
            if reel not in reels:
                self._park(reel)
        self.reels = [r for r in reels if r.motion is not None]
        if self.presenter is not None:
            self.presenter.watch(self.reels)
        for reel in self.reels:
            if isinstance(reel.motion, ScrollMotion):
                reel.motion.start(now, max(0, reel._offset))
        self._restart_pager()
        self._stop_frames()  # the cap may differ (scrolling or paging)
        self._kick()

    def _park(self, reel: Any) -> None:
        if isinstance(reel.motion, PagedMotion) and reel.motion.moving:
            reel.motion.settle()
            reel.show_offset(reel.motion.offset(time.perf_counter()))

    def pause(self) -> None:
        """Hold everything still (the segment went off screen but may come back)."""
        self.paused = True
        self._stop_frames()
        if self._pager is not None:
            self._pager.cancel()
            self._pager = None
        for reel in self.reels:
            self._park(reel)

    def resume(self) -> None:
        self.paused = False
        self.set_reels(list(self.reels))

    def stop(self) -> None:
        self.pause()
        self.reels = []

    # -- timers ----------------------------------------------------------------------------

    def _restart_pager(self) -> None:
        if self._pager is not None:
            self._pager.cancel()
            self._pager = None
        if self.paused:
            return
        if any(isinstance(r.motion, PagedMotion) and r.motion.moves for r in self.reels):
            self._pager = Clock.schedule_interval(self._flip, self.page_s)

    def flip_now(self) -> bool:
        """Start the next page on every paged reel (also used by tests and the benchmark)."""
        now = time.perf_counter()
        started = False
        for reel in self.reels:
            if isinstance(reel.motion, PagedMotion):
                started = reel.motion.flip(now) or started
        if started:
            self.flips += 1
            self._kick()
        return started

    def _flip(self, _dt: float) -> None:
        self.flip_now()

    def _moving(self) -> bool:
        for reel in self.reels:
            motion = reel.motion
            if isinstance(motion, ScrollMotion):
                if motion.moves:
                    return True
            elif motion is not None and motion.moving:
                return True
        return False

    def _kick(self) -> None:
        if self.paused or self._frame_event is not None or not self._moving():
            return
        scrolling = any(isinstance(r.motion, ScrollMotion) and r.motion.moves for r in self.reels)
        fps = min(self.max_fps, self.scroll_fps) if scrolling else self.max_fps
        configured = Config.getint("graphics", "maxfps") or 1000
        # Every loop of Kivy's event loop in which anything on the window changed (the ticker, the
        # clock, a card) presents a frame: a callback every 1/30 s on a 60 fps loop still let ~36
        # frames a second through. So the loop itself runs at the cap while anything moves, with
        # Kivy's clock held (see capped_loop_fps): left to itself, a loop set to 60 let a page glide
        # through at ~80 frames a second once frames were cheap.
        loop_fps = min(fps, configured)
        if loop_fps < 1000:
            hold_clock_resolution(True)
            set_loop_fps(capped_loop_fps(loop_fps))
            self._loop_lowered = True
        # a little under the period, so the callback does not miss a loop tick by a hair
        interval = 0 if fps >= loop_fps else max(0.0, 1.0 / fps - 0.002)
        self._frame_event = Clock.schedule_interval(self._frame, interval)

    def _stop_frames(self) -> None:
        if self._frame_event is not None:
            self._frame_event.cancel()
            self._frame_event = None
        self._restore_loop()

    def _restore_loop(self) -> None:
        if self._loop_lowered:
            self._loop_lowered = False
            set_loop_fps(Config.getint("graphics", "maxfps") or 0)
            hold_clock_resolution(False)

    def _frame(self, _dt: float) -> bool | None:
        start = time.perf_counter()
        moving = False
        for reel in self.reels:
            reel.tick(start)
            motion = reel.motion
            if isinstance(motion, ScrollMotion):
                moving = moving or motion.moves
            else:
                moving = moving or motion.moving
        self.frame_ms[self.frames % RING] = (time.perf_counter() - start) * 1000.0
        self.frames += 1
        if not moving:
            self._frame_event = None
            self._restore_loop()
            return False
        return None
