"""Where a moving list is at a given moment: paged (hold, then glide) or continuous scroll.

Positions are whole pixels computed from elapsed time, never advanced by a fixed step per
frame: a late frame lands where it should be, so the motion stays even (LEDMatrix #523).
Nothing here allocates per call beyond Python's own numbers, and nothing knows Kivy; the
reel widget (display/reel.py) asks for an offset each frame and moves one translation.

A :class:`Track` is the list laid out along one axis: item extents, their starts, the loop
length. The offset is the distance from the start of the loop to the window's leading edge.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence


def ease(u: float) -> float:
    """Smooth start and stop (smoothstep) for page transitions."""
    if u <= 0.0:
        return 0.0
    if u >= 1.0:
        return 1.0
    return u * u * (3.0 - 2.0 * u)


class Track:
    """Items of ``extents`` pixels laid end to end, seen through a window ``window`` pixels long.

    With ``paged``, the loop is cut into pages of whole items and the last page is padded to
    a full window, so a page never shows the end and the start of the list together.
    """

    def __init__(self, extents: Sequence[int], window: int, *, paged: bool = False) -> None:
        if window <= 0:
            raise ValueError("the window must be at least one pixel")
        self.extents = [max(1, int(e)) for e in extents]
        self.window = int(window)
        starts = []
        at = 0
        for extent in self.extents:
            starts.append(at)
            at += extent
        self.starts = starts
        self.content = at
        self.pages = self._pages() if paged else []
        if paged and self.pages:
            self.total = max(self.content, self.pages[-1] + self.window)
        else:
            self.total = max(1, self.content)
        self.moves = self.content > self.window

    def _pages(self) -> list[int]:
        pages: list[int] = []
        index = 0
        count = len(self.extents)
        while index < count:
            start = self.starts[index]
            pages.append(start)
            end = start + self.window
            nxt = index + 1
            while nxt < count and self.starts[nxt] + self.extents[nxt] <= end:
                nxt += 1
            index = nxt
        return pages

    def first_at(self, offset: int) -> int:
        """Index of the item under the window's leading edge at ``offset`` (0 <= offset < total)."""
        index = bisect_right(self.starts, offset) - 1
        return max(0, index)


class ScrollMotion:
    """Continuous scroll at ``speed`` pixels per second, looping."""

    def __init__(self, track: Track, speed: float) -> None:
        self.track = track
        self.speed = float(speed)
        self._origin = 0.0

    @property
    def moves(self) -> bool:
        return self.track.moves and self.speed > 0

    def start(self, t: float, offset: int = 0) -> None:
        """Continue from ``offset`` at time ``t`` (so pausing and resuming never jumps)."""
        self._origin = t - offset / self.speed if self.speed > 0 else t

    def offset(self, t: float) -> int:
        if not self.moves:
            return 0
        return int((t - self._origin) * self.speed) % self.track.total


class PagedMotion:
    """A page holds still; :meth:`flip` glides to the next one over ``transition_s`` seconds."""

    def __init__(self, track: Track, transition_s: float) -> None:
        self.track = track
        self.transition_s = max(0.05, float(transition_s))
        self.page = 0
        self._t0: float | None = None
        self._from = 0
        self._to = 0

    @property
    def moves(self) -> bool:
        return self.track.moves and len(self.track.pages) > 1

    @property
    def moving(self) -> bool:
        return self._t0 is not None

    @property
    def pages(self) -> int:
        return max(1, len(self.track.pages))

    def flip(self, t: float) -> bool:
        """Start the glide to the next page at time ``t``; False if there is nowhere to go."""
        if not self.moves or self._t0 is not None:
            return False
        pages = self.track.pages
        self._from = pages[self.page]
        nxt = (self.page + 1) % len(pages)
        self._to = pages[nxt] if nxt else self.track.total
        self._t0 = t
        return True

    def settle(self) -> None:
        """End a glide at once (used when the board leaves this list mid-move)."""
        if self._t0 is not None:
            self._t0 = None
            self.page = (self.page + 1) % len(self.track.pages)

    def show_page(self, page: int) -> None:
        self._t0 = None
        self.page = page % self.pages

    def offset(self, t: float) -> int:
        if not self.moves:
            return 0
        if self._t0 is None:
            return self.track.pages[self.page]
        u = (t - self._t0) / self.transition_s
        if u >= 1.0:
            self.settle()
            return self.track.pages[self.page]
        return (self._from + int(math.floor(ease(u) * (self._to - self._from) + 0.5))) % self.track.total
