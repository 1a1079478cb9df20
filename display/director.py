"""The board's director: what plays when, and the record of what played (no Kivy here).

The playlist (display/schedule.py) says which slot should be on screen; the director turns
that into showings of real segments, with the rules that keep a board from ever going
blank or stuck:

- a segment is made (by the stage: the TV or LED surface) and shown only once it is
  ready (a video's first picture decoded); until then the current segment stays;
- what follows the current segment is prepared ahead, a video only in its last
  :data:`PREPARE_AHEAD_S` seconds (a decoder held for minutes costs memory);
- an urgent notice interrupts: the interrupted segment is kept, not released, and comes
  back with the time it had left, where it was (the playlist decides when: see its
  ``urgent`` rule); if the playlist moves on instead (the night came first) it is released;
- a segment that fails to get ready (a video that will not decode) is skipped, released
  and reported once as a skipped play;
- every showing that ends is recorded as proof of play: played, interrupted or skipped,
  with its duration from the injected clock.

Everything here runs with an injected clock and a stage of plain objects, so the tests
drive it without a window and without sleeping (tests/display/test_board_director.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from display.proof import Play
from display.schedule import Clock, Playlist, ScheduleDoc, Slot, default_schedule
from display.segments import Segment

log = logging.getLogger(__name__)

PREPARE_AHEAD_S = 10.0
STARTUP = Slot("station", "startup", -1, -1, 0, 0.0)  # before any content: outside the playlist


class Stage(Protocol):
    """Where segments come from and go to (the player, with its TV or LED surface)."""

    def make(self, slot: Slot) -> Segment | None:
        """A segment for ``slot``, or None when there is nothing to show for it (yet)."""

    def attach(self, segment: Segment) -> None:
        """Put ``segment`` on screen in place of what is there (before it is shown)."""

    def started(self, segment: Segment) -> None:
        """``segment`` is on screen and shown (start its motion, picture it...)."""

    def failed(self, segment: Segment) -> None:
        """``segment`` could not be made ready and is skipped (e.g. remember a bad video)."""


@dataclass
class Showing:
    segment: Segment
    started_wall: dt.datetime
    started_mono: float


class Director:
    """Decides and performs the board's segment changes; records proof of play.

    ``record`` receives every :class:`Play` (the player buffers them for the outbox);
    ``soon`` asks for another :meth:`tick` as soon as possible (after a skipped segment).
    """

    def __init__(self, stage: Stage, clock: Clock, *, record: Callable[[Play], None],
                 schedule: ScheduleDoc | None = None, soon: Callable[[], None] | None = None,
                 prepare_ahead_s: float = PREPARE_AHEAD_S) -> None:
        self.stage = stage
        self.clock = clock
        self.playlist = Playlist(schedule or default_schedule(), clock)
        self.record = record
        self.soon = soon or (lambda: None)
        self.prepare_ahead_s = prepare_ahead_s
        self.showing: Showing | None = None
        self.prepared: dict[Slot, Segment] = {}
        self.interrupted: Segment | None = None
        self.plays: deque[Play] = deque(maxlen=1000)  # the latest plays (all go to ``record``)
        self.switches = 0
        self.reported: set[tuple[str, str]] = set()

    # -- deciding ------------------------------------------------------------------------

    def tick(self, available: dict[str, int] | None, urgent: tuple[str, ...] = ()) -> None:
        """Decide what shows now; switch if it is ready; prepare what comes next.

        ``available``: how many items of each kind there are (None: no content loaded yet,
        the station card shows); ``urgent``: the ids of the urgent notices open now.
        """
        if available is None:
            if self.showing is None:
                segment = self.stage.make(STARTUP)
                if segment is not None:
                    self.switch(segment, start_playlist=False)
            return
        slot = self.playlist.wanted(available, urgent)
        current = self.showing.segment.slot if self.showing is not None else None
        if slot != current:
            segment = self._prepare(slot)
            if segment is not None and segment.failed:
                self._skip(segment)
                self.soon()
                return
            if segment is not None and segment.ready:
                self.switch(segment)
        upcoming: Slot | None = None
        if self.showing is not None and self.showing.segment.slot.kind not in ("urgent", "standby"):
            upcoming = self.playlist.upcoming(available)
            left = self.playlist.remaining()
            own = self.showing.segment.time_left()
            if own is not None:
                left = min(left, own)
            if upcoming != self.showing.segment.slot and (upcoming.kind != "video" or left <= self.prepare_ahead_s):
                self._prepare(upcoming)
        keep = {slot, upcoming}
        for stale in [s for s in self.prepared if s not in keep]:
            segment = self.prepared.pop(stale)
            if segment is not self.interrupted and not segment.persistent:
                segment.release()

    def finished(self, segment: Segment) -> None:
        """``segment`` ended by itself (a video reached its end): the playlist moves on."""
        if self.showing is not None and self.showing.segment is segment:
            self.playlist.finish()

    def in_use(self, item_kind: str) -> bool:
        """A segment of ``item_kind`` is on screen, or waits to resume after an urgent notice."""
        for segment in (self.showing.segment if self.showing else None, self.interrupted):
            if segment is not None and segment.item_kind == item_kind:
                return True
        return False

    def forget_prepared(self, slot_kind: str) -> None:
        """Drop prepared segments of ``slot_kind`` (made from what has changed since)."""
        for stale in [s for s, seg in self.prepared.items() if s.kind == slot_kind and not seg.persistent]:
            self.prepared.pop(stale).release()

    # -- preparing -----------------------------------------------------------------------

    def _prepare(self, slot: Slot) -> Segment | None:
        segment = self.prepared.get(slot)
        if segment is not None:
            return segment
        if self.interrupted is not None and self.interrupted.slot == slot:
            return self.interrupted
        segment = self.stage.make(slot)
        if segment is not None:
            self.prepared[slot] = segment
        return segment

    # -- switching -----------------------------------------------------------------------

    def switch(self, segment: Segment, *, start_playlist: bool = True) -> None:
        """Put ``segment`` on screen now, ending (or interrupting) what showed."""
        previous = self.showing
        if previous is not None:
            interrupting = segment.slot.kind == "urgent" and previous.segment.slot.kind not in ("urgent", "standby")
            self._record(previous, "interrupted" if interrupting else "played")
            previous.segment.hide()
            if interrupting:
                self.interrupted = previous.segment
            elif previous.segment is not segment and not previous.segment.persistent \
                    and previous.segment is not self.interrupted:
                previous.segment.release()
        resuming = segment is self.interrupted
        if resuming:
            self.interrupted = None
        elif self.interrupted is not None and segment.slot.kind != "urgent":
            # the playlist moved on (the night came first): the interrupted segment will not return
            if not self.interrupted.persistent:
                self.interrupted.release()
            self.interrupted = None
        self.prepared.pop(segment.slot, None)
        self.stage.attach(segment)
        segment.resuming = resuming
        segment.show()
        if start_playlist:
            self.playlist.start(segment.slot)
        self.showing = Showing(segment, self.clock.now(), self.clock.monotonic())
        self.switches += 1
        self.stage.started(segment)

    def stop(self) -> None:
        """The board stops: record what shows, release everything held."""
        if self.showing is not None:
            self._record(self.showing, "played")
            self.showing.segment.hide()
            if not self.showing.segment.persistent:
                self.showing.segment.release()
            self.showing = None
        for segment in list(self.prepared.values()):
            if not segment.persistent:
                segment.release()
        self.prepared = {}
        if self.interrupted is not None:
            self.interrupted.release()
            self.interrupted = None

    # -- reporting -----------------------------------------------------------------------

    def _record(self, showing: Showing, status: str) -> None:
        segment = showing.segment
        duration = max(0.0, self.clock.monotonic() - showing.started_mono)
        extra = dict(segment.extra)
        if segment.title:
            extra["title"] = segment.title
        self._play(Play(segment.item_kind, segment.item_id, showing.started_wall, duration,
                        segment=segment.slot.segment_id, status=status, extra=extra))

    def _play(self, play: Play) -> None:
        self.plays.append(play)
        self.record(play)

    def _skip(self, segment: Segment) -> None:
        self.prepared.pop(segment.slot, None)
        segment.release()
        self.stage.failed(segment)
        self.report_media(segment.item_id, segment.failed, f"{segment.item_kind} {segment.item_id} skipped",
                          kind=segment.item_kind)

    def report_media(self, item_id: str, reason: str, detail: str, *, kind: str = "video") -> None:
        """Record, once per item and reason, that an item was skipped."""
        if (item_id, reason) in self.reported:
            return
        self.reported.add((item_id, reason))
        log.warning("skipping %s %s: %s (%s)", kind, item_id, reason, detail)
        self._play(Play(kind, item_id, self.clock.now(), 0.0, status="skipped", reason=reason,
                        extra={"detail": detail}))
