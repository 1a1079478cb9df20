"""The board's playlist and schedule: which segment shows now, for how long, and what comes next.

Pure Python with an injectable clock, so every rule can be tested without a screen:

- the playlist is a loop of segments (jobs, policy, event, video, station), each with a
  duration; a segment may carry time windows (dayparting, e.g. videos only at lunchtime)
  and is skipped while it has nothing to show;
- outside the board's on-hours the standby card shows;
- an urgent announcement interrupts at once; after its first showing (``urgent.first_s``)
  the interrupted segment resumes with the time it had left, and from then on the notice
  takes turns with the loop (``urgent.turn_s`` after every ``urgent.every`` segments) until
  its window ends, so that a storm warning running for days does not hide the jobs for days.
  ``urgent.mode = "hold"`` keeps the old rule: the notice holds the screen until it ends;
- while the clock is implausible (year < 2024, an unset clock after a power cut) no time
  window is applied: every segment plays and the board stays on (info-beamer's rule).

The JSON shape is documented in display/SCHEDULE.md; :data:`DEFAULT_SCHEDULE` is the
station's own playlist, used when the feed carries none (or a broken one).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.clock import SystemClock

SegmentKind = Literal["jobs", "policy", "event", "video", "station"]
SEGMENT_KINDS: tuple[str, ...] = ("jobs", "policy", "event", "video", "station")
PLAUSIBLE_YEAR = 2024
DEFAULT_SCHEDULE_PATH = Path(__file__).with_name("default_schedule.json")


class ScheduleError(ValueError):
    """A schedule document is not valid; the message names the key and what is wrong."""


class Clock(Protocol):
    """Where the board gets the time: wall time for windows, a monotonic clock for durations."""

    def now(self) -> dt.datetime: ...

    def monotonic(self) -> float: ...


def clock_is_plausible(now: dt.datetime) -> bool:
    """False while the clock is obviously unset (before 2024): time windows cannot be trusted."""
    return now.year >= PLAUSIBLE_YEAR


# ---------------------------------------------------------------------------------------------
# the document


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be a time like \"07:30\", got {value!r}")
    if value == "24:00":
        return dt.time.max
    try:
        hour, minute = value.split(":")
        return dt.time(int(hour), int(minute))
    except ValueError:
        raise ValueError(f"must be a time like \"07:30\" (00:00-24:00), got {value!r}") from None


class Window(_Doc):
    """A daily time window, optionally on some weekdays only (1 = Monday ... 7 = Sunday).

    ``from`` later than ``to`` crosses midnight (e.g. 22:00-06:00).
    """

    start: dt.time = Field(alias="from")
    end: dt.time = Field(alias="to")
    days: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, value: Any) -> dt.time:
        return _hhmm(value)

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(d not in range(1, 8) for d in value):
            raise ValueError(f"must list weekdays 1 (Monday) to 7 (Sunday), got {list(value)}")
        return value

    def contains(self, now: dt.datetime) -> bool:
        t = now.time()
        if self.start <= self.end:
            return now.isoweekday() in self.days and self.start <= t < self.end
        # crossing midnight: the part after midnight belongs to the day the window started
        if t >= self.start:
            return now.isoweekday() in self.days
        if t < self.end:
            return (now - dt.timedelta(days=1)).isoweekday() in self.days
        return False


class SegmentSpec(_Doc):
    """One entry of the playlist."""

    kind: SegmentKind
    seconds: float = Field(ge=3, le=3600)
    id: str = Field(default="", max_length=64)
    title: str = Field(default="", max_length=40)
    when: tuple[Window, ...] = ()
    # jobs only: override the profile's paging / scrolling
    page_s: float | None = Field(default=None, ge=2, le=600)
    scroll_px_s: float | None = Field(default=None, ge=4, le=2000)


class UrgentRule(_Doc):
    """How an urgent announcement shares the board (see display/SCHEDULE.md)."""

    mode: Literal["turns", "hold"] = "turns"
    first_s: float = Field(default=60, ge=5, le=3600)  # the first showing, interrupting at once
    turn_s: float = Field(default=20, ge=5, le=600)  # each later turn
    every: int = Field(default=2, ge=1, le=20)  # playlist segments between two turns


class ScheduleDoc(_Doc):
    """The whole board schedule (JSON document ``board_schedule``)."""

    version: Literal[1] = 1
    on_hours: tuple[Window, ...] = ()
    segments: tuple[SegmentSpec, ...]
    urgent: UrgentRule = UrgentRule()

    @model_validator(mode="after")
    def _ids(self) -> ScheduleDoc:
        if not 1 <= len(self.segments) <= 100:
            raise ValueError(f"segments: needs 1 to 100 segments, got {len(self.segments)}")
        seen: set[str] = set()
        fixed = []
        for index, seg in enumerate(self.segments):
            sid = seg.id or f"{index + 1}-{seg.kind}"
            if sid in seen:
                raise ValueError(f"segment id {sid!r} appears twice")
            seen.add(sid)
            fixed.append(seg if seg.id else seg.model_copy(update={"id": sid}))
        object.__setattr__(self, "segments", tuple(fixed))
        return self


def _format(exc: ValidationError, name: str) -> str:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in error["loc"]).replace(".[", "[")
        msg = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        if error["type"] in ("extra_forbidden",):
            msg = "unknown key"
        elif got is not None and not isinstance(got, (dict, list, tuple)) and "got" not in msg:
            msg = f"{msg}, got {got!r}"
        lines.append(f"{name}: {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def parse_schedule(data: Any, *, name: str = "board_schedule") -> ScheduleDoc:
    """Validate a schedule document (a dict, or JSON text); :class:`ScheduleError` says what is wrong."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ScheduleError(f"{name}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ScheduleError(f"{name}: must be a JSON object, got {type(data).__name__}")
    try:
        return ScheduleDoc.model_validate(data)
    except ValidationError as exc:
        raise ScheduleError(_format(exc, name)) from None


def default_schedule() -> ScheduleDoc:
    """The station's own playlist (display/default_schedule.json)."""
    return parse_schedule(DEFAULT_SCHEDULE_PATH.read_text(encoding="utf-8"), name=DEFAULT_SCHEDULE_PATH.name)


# ---------------------------------------------------------------------------------------------
# the player's decisions

SlotKind = Literal["jobs", "policy", "event", "video", "station", "standby", "urgent"]


@dataclass(frozen=True)
class Slot:
    """What the board should show: a playlist segment, the standby card or an urgent notice.

    Two slots are equal when they are the same showing: same segment, same play of it.
    """

    kind: SlotKind
    segment_id: str = ""
    position: int = -1  # index in the schedule's segments; -1 for standby / urgent / fallback
    play: int = 0  # how many segments started before this one (tells two plays apart)
    item: int = 0  # which policy / event / video (rotation index); 0 otherwise
    seconds: float = 0.0
    announcements: tuple[str, ...] = ()  # urgent: the announcement ids shown
    spec: SegmentSpec | None = field(default=None, compare=False)


@dataclass
class _Showing:
    slot: Slot
    started: float  # monotonic time it (last) went on screen
    done_before: float = 0.0  # seconds shown before an interruption
    finished: bool = False

    def elapsed(self, mono: float) -> float:
        return self.done_before + max(0.0, mono - self.started)


class Playlist:
    """Decides, from the schedule, the clock and what content there is, what the board shows.

    Two steps, so that nothing unprepared ever reaches the screen: :meth:`wanted` says what
    should show now (without changing anything); the player prepares it and calls
    :meth:`start` when it is really on screen. :meth:`upcoming` says what will follow the
    current segment, so the player can prepare it in advance.
    """

    def __init__(self, schedule: ScheduleDoc, clock: Clock | None = None) -> None:
        self.schedule = schedule
        self.clock = clock or SystemClock()
        self.current: _Showing | None = None
        self.interrupted: _Showing | None = None
        self.plays = 0
        self._rotation: dict[str, int] = {}
        self._position = -1  # index of the last playlist segment started
        self._urgent_shown: tuple[str, ...] = ()  # the urgent set that had its first showing
        self._since_urgent = 0  # playlist segments started since the urgent notice last showed

    # -- inputs ----------------------------------------------------------------------------

    def set_schedule(self, schedule: ScheduleDoc) -> None:
        """Use a new schedule from the next segment on (the current one plays to its end)."""
        if schedule == self.schedule:
            return
        self.schedule = schedule
        self._position = -1

    def finish(self) -> None:
        """The current segment ended by itself (a video reached its end)."""
        if self.current is not None:
            self.current.finished = True

    # -- decisions -------------------------------------------------------------------------

    def wanted(self, available: dict[str, int], urgent: tuple[str, ...] = ()) -> Slot:
        """What should be on screen now.

        ``available``: how many items of each kind there are to show (jobs, policy, event,
        video); ``urgent``: ids of the urgent announcements open now.
        """
        now = self.clock.now()
        mono = self.clock.monotonic()
        plausible = clock_is_plausible(now)
        urgent = tuple(urgent) if plausible else ()
        rule = self.schedule.urgent
        if urgent and rule.mode == "hold":
            current = self.current
            if current is not None and current.slot.kind == "urgent" and current.slot.announcements == urgent:
                return current.slot
            return Slot("urgent", play=self.plays, announcements=urgent)
        if urgent:
            current = self.current
            if current is not None and current.slot.kind == "urgent" and current.slot.announcements == urgent:
                if current.elapsed(mono) < current.slot.seconds:
                    return current.slot
                # its turn is over: back to the loop below
            elif urgent != self._urgent_shown:
                # new (or changed) notice: it interrupts at once, whatever is showing
                return Slot("urgent", play=self.plays, announcements=urgent, seconds=rule.first_s)
            elif self._turn_due(current, mono, rule.every):
                return Slot("urgent", play=self.plays, announcements=urgent, seconds=rule.turn_s)
        else:
            self._urgent_shown = ()
        if plausible and self.schedule.on_hours and not any(w.contains(now) for w in self.schedule.on_hours):
            current = self.current
            if current is not None and current.slot.kind == "standby":
                return current.slot
            return Slot("standby", play=self.plays)
        current = self.current
        if current is not None and current.slot.kind in ("urgent", "standby"):
            if self.interrupted is not None and current.slot.kind == "urgent":
                return self.interrupted.slot
            return self._next(available, now, plausible)
        if current is not None and not current.finished and current.elapsed(mono) < current.slot.seconds:
            if self._still_possible(current.slot, available):
                return current.slot
        return self._next(available, now, plausible)

    def _turn_due(self, current: _Showing | None, mono: float, every: int) -> bool:
        """The urgent notice's next turn: between segments, after ``every`` of them."""
        if self._since_urgent < every or current is None or current.slot.kind in ("urgent", "standby"):
            return False
        return current.finished or current.elapsed(mono) >= current.slot.seconds

    def upcoming(self, available: dict[str, int], at: dt.datetime | None = None) -> Slot:
        """What follows the current segment when it ends (``at``: when that will be)."""
        if at is None:
            at = self.clock.now()
            if self.current is not None:
                left = self.current.slot.seconds - self.current.elapsed(self.clock.monotonic())
                at += dt.timedelta(seconds=max(0.0, left))
        return self._next(available, at, clock_is_plausible(at))

    def remaining(self) -> float:
        """Seconds the current segment has left (0 when none, or it is open-ended)."""
        if self.current is None or self.current.slot.kind == "standby" or not self.current.slot.seconds:
            return 0.0
        return max(0.0, self.current.slot.seconds - self.current.elapsed(self.clock.monotonic()))

    def start(self, slot: Slot) -> None:
        """``slot`` is now on screen."""
        mono = self.clock.monotonic()
        current = self.current
        if current is not None and current.slot == slot:
            return
        if self.interrupted is not None and slot == self.interrupted.slot:
            resumed = self.interrupted
            self.interrupted = None
            resumed.started = mono
            self.current = resumed
            return
        if slot.kind == "urgent":
            self._urgent_shown = slot.announcements
            self._since_urgent = 0
        if (slot.kind == "urgent" and current is not None and current.slot.kind not in ("urgent", "standby")
                and not current.finished and current.elapsed(mono) < current.slot.seconds):
            current.done_before = current.elapsed(mono)
            self.interrupted = current
        elif slot.kind not in ("urgent",):
            self.interrupted = None  # the interrupted segment is given up (e.g. standby came first)
        self.current = _Showing(slot, mono)
        self.plays += 1
        if slot.position >= 0:
            self._since_urgent += 1
            self._position = slot.position
            self._rotation[slot.kind] = self._rotation.get(slot.kind, 0) + 1

    # -- helpers ---------------------------------------------------------------------------

    def _still_possible(self, slot: Slot, available: dict[str, int]) -> bool:
        return slot.kind == "station" or available.get(slot.kind, 0) > 0

    def _eligible(self, spec: SegmentSpec, available: dict[str, int], now: dt.datetime, plausible: bool) -> bool:
        if spec.kind != "station" and available.get(spec.kind, 0) <= 0:
            return False
        if spec.when and plausible:
            return any(w.contains(now) for w in spec.when)
        return True

    def _next(self, available: dict[str, int], now: dt.datetime, plausible: bool) -> Slot:
        segments = self.schedule.segments
        count = len(segments)
        for step in range(1, count + 1):
            position = (self._position + step) % count
            spec = segments[position]
            if self._eligible(spec, available, now, plausible):
                items = max(1, available.get(spec.kind, 1))
                item = self._rotation.get(spec.kind, 0) % items
                return Slot(spec.kind, spec.id, position, self.plays, item, spec.seconds, spec=spec)
        # nothing in the playlist can show: the station card, re-decided every minute
        return Slot("station", "fallback", -1, self.plays, 0, 60.0)
