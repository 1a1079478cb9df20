"""What the board can show, each as a :class:`Segment`: a prepared widget with a life cycle.

A segment is made (and made ready) before it is shown; :meth:`Segment.show` and
:meth:`Segment.hide` put it on and off screen (an interrupted one may come back);
:meth:`Segment.release` frees what it holds (a video player, textures). The player
(display/director.py) decides which segment shows; the segments only know how to show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from display.schedule import Slot

if TYPE_CHECKING:  # segments are Kivy-free, so the director and its tests run without a window
    from kivy.uix.widget import Widget


class Segment:
    """A widget ready to show for ``slot``.

    ``fullscreen``: it replaces the whole board (station card, urgent notice); otherwise it
    shows in the frame's body, under the header and above the ticker.
    """

    def __init__(self, slot: Slot, widget: Widget | Any, *, item_kind: str, item_id: str, fullscreen: bool = False,
                 reels: list[Any] | None = None, persistent: bool = False, title: str = "") -> None:
        self.slot = slot
        self.widget = widget
        self.item_kind = item_kind
        self.item_id = item_id
        self.fullscreen = fullscreen
        self.reels = reels or []
        self.persistent = persistent  # shared widget (jobs panel, station card): never released
        self.title = title
        self.ready = True
        self.failed = ""
        self.resuming = False  # shown again after an urgent notice
        self.extra: dict[str, Any] = {}
        self.on_show: Callable[[Segment], None] | None = None

    def show(self) -> None:
        if self.on_show is not None:
            self.on_show(self)

    def hide(self) -> None:
        """Off screen; may be shown again (after an urgent notice)."""

    def time_left(self) -> float | None:
        """Seconds until the segment ends by itself (a video), or None."""
        return None

    def release(self) -> None:
        """Off screen for good."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.item_kind}:{self.item_id} ready={self.ready} failed={self.failed!r}>"


class VideoSegment(Segment):
    """A training video; ready once its first picture is decoded."""

    def __init__(self, slot: Slot, panel: Any, *, item_id: str, title: str, duration_s: float) -> None:
        super().__init__(slot, panel, item_kind="video", item_id=item_id, title=title)
        self.panel = panel
        self.duration_s = duration_s
        self.ready = panel.ready
        self.failed = panel.failed

    def show(self) -> None:
        super().show()
        self.panel.play()

    def hide(self) -> None:
        self.panel.pause()

    def time_left(self) -> float | None:
        return max(0.0, self.duration_s - self.panel.seconds_played())

    def release(self) -> None:
        self.panel.release()
