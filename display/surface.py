"""What a board draws on: the TV surface and the LED surface behind one interface.

The player (display/player.py) and the director (display/director.py) do not know what
kind of board they drive; a :class:`Surface` does. It builds the frame (header, body,
ticker on a TV; the LED's header line and zone), renders job rows for its kind of board,
makes the segments for cards, urgent notices and the station card, and says which reels
move while a segment shows. :func:`display.surfaces.surface_for` picks the surface of a profile.
"""

from __future__ import annotations

import abc
from typing import Any

from kivy.uix.widget import Widget

from display.art import ItemArt, Painter
from display.board_content import BoardContent
from display.layout import BoardGeometry
from display.profiles import Profile
from display.reel import ReelItem
from display.schedule import Slot
from display.segments import Segment
from display.textimg import FontBook
from protocol.model import Announcement, Event, Policy


class Surface(abc.ABC):
    """The parts every board has; subclasses draw them for a TV or an LED board."""

    def __init__(self, profile: Profile, geo: BoardGeometry, book: FontBook, station: Any, *, paged: bool) -> None:
        self.profile = profile
        self.geo = geo
        self.book = book
        self.station = station
        self.paged = paged
        self.frame: Any = None
        self.jobs_panel: Any = None
        self.station_card: Any = None
        self.standby_card: Any = None

    # -- job rows ------------------------------------------------------------------------

    @abc.abstractmethod
    def job_arts(self, painter: Painter, content: BoardContent) -> list[ItemArt]:
        """The job rows of ``content`` as reel items for this board (worker thread)."""
        raise NotImplementedError

    @abc.abstractmethod
    def apply_rows(self, items: list[ReelItem], *, key: Any, total: int, gigs: int, speed: float) -> None:
        """Put newly rendered job rows on the job reel (the list starts again from the top)."""
        raise NotImplementedError

    def jobs_segment(self, slot: Slot) -> Segment:
        return Segment(slot, self.jobs_panel, item_kind="jobs", item_id="jobs", persistent=True,
                       reels=[self.jobs_panel.reel], title=slot.spec.title if slot.spec else "")

    def show_jobs(self, segment: Segment, content: BoardContent | None) -> None:
        """The jobs segment starts a new play (not a resume after an urgent notice)."""
        segment.reels = [self.jobs_panel.reel]

    # -- other segments ------------------------------------------------------------------

    @abc.abstractmethod
    def card_segment(self, slot: Slot, item: Policy | Event) -> Segment:
        raise NotImplementedError

    @abc.abstractmethod
    def urgent_segment(self, slot: Slot, notices: list[Announcement]) -> Segment:
        raise NotImplementedError

    @abc.abstractmethod
    def station_segment(self, slot: Slot, notices: list[Announcement]) -> Segment:
        raise NotImplementedError

    # -- on screen -----------------------------------------------------------------------

    def set_ticker(self, texts: list[str]) -> bool:
        """Show the notices ``texts``; True when the moving reels changed."""
        return False

    def reels_for(self, segment: Segment) -> list[Any]:
        """The reels that move while ``segment`` shows."""
        return list(segment.reels)

    def attach(self, root: Widget, segment: Segment) -> None:
        """Make ``segment`` what ``root`` shows, in one frame (no blank frame between)."""
        keep = segment.widget if segment.fullscreen else self.frame
        for child in list(root.children):
            if child is not keep:
                root.remove_widget(child)
        if keep.parent is not root:
            if keep.parent is not None:
                keep.parent.remove_widget(keep)
            root.add_widget(keep)
        if not segment.fullscreen:
            self.frame.set_body(segment.widget)

    def set_clock(self, time_text: str, date_text: str) -> None:
        self.frame.time_text = time_text
        self.frame.date_text = date_text
