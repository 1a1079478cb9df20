"""The board's director without a window: a manual clock, a stage of plain objects, no sleeps."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from display.director import PREPARE_AHEAD_S, Director
from display.proof import Play
from display.schedule import Slot, parse_schedule
from display.segments import Segment

MONDAY_10 = dt.datetime(2026, 3, 9, 10, 0)
ALL = {"jobs": 20, "policy": 2, "event": 1, "video": 1, "station": 1}


class ManualClock:
    """Time moves only when the test moves it."""

    def __init__(self, start: dt.datetime) -> None:
        self.wall = start
        self.mono = 1000.0

    def now(self) -> dt.datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += dt.timedelta(seconds=seconds)
        self.mono += seconds


class Piece:
    """What a segment shows: here only a record of what was done to it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.log: list[str] = []


class FakeVideo(Segment):
    def __init__(self, slot: Slot, *, length: float) -> None:
        super().__init__(slot, Piece("video"), item_kind="video", item_id=f"video-{slot.item}", title="课程")
        self.length = length
        self.played = 0.0

    def time_left(self) -> float | None:
        return max(0.0, self.length - self.played)


class Stage:
    """Makes a segment per slot; the screen is the one segment last attached."""

    def __init__(self) -> None:
        self.made: list[Segment] = []
        self.screen: Segment | None = None
        self.released: list[Segment] = []
        self.failures: list[Segment] = []
        self.not_ready: set[str] = set()  # kinds whose segments are not ready when made
        self.broken: set[str] = set()  # kinds whose segments fail

    def make(self, slot: Slot) -> Segment | None:
        if slot.kind == "video":
            segment: Segment = FakeVideo(slot, length=20)
        else:
            item_id = ",".join(slot.announcements) or f"{slot.kind}-{slot.item}"
            segment = Segment(slot, Piece(slot.kind), item_kind=slot.kind, item_id=item_id,
                              fullscreen=slot.kind in ("urgent", "station", "standby"))
        segment.ready = slot.kind not in self.not_ready
        if slot.kind in self.broken:
            segment.failed = "decode"
            segment.ready = False
        original = segment.release

        def release(segment: Segment = segment) -> None:
            self.released.append(segment)
            original()

        segment.release = release  # type: ignore[method-assign]
        self.made.append(segment)
        return segment

    def attach(self, segment: Segment) -> None:
        self.screen = segment

    def started(self, segment: Segment) -> None:
        assert self.screen is segment

    def failed(self, segment: Segment) -> None:
        self.failures.append(segment)


def director(schedule: dict, clock: ManualClock, stage: Stage | None = None) -> tuple[Director, Stage, list[Play]]:
    plays: list[Play] = []
    stage = stage or Stage()
    d = Director(stage, clock, record=plays.append, schedule=parse_schedule(schedule))
    return d, stage, plays


def run(d: Director, clock: ManualClock, seconds: float, available: dict[str, int] = ALL,
        urgent: tuple[str, ...] = (), step: float = 1.0) -> list[str]:
    """Tick once a second for ``seconds``; the segment ids that came on screen, in order."""
    shown: list[str] = []
    for _ in range(int(seconds / step)):
        before = d.switches
        d.tick(available, urgent)
        if d.switches != before:
            shown.append(d.showing.segment.slot.segment_id or d.showing.segment.slot.kind)
        clock.advance(step)
    return shown


LOOP = {"segments": [{"id": "jobs", "kind": "jobs", "seconds": 30},
                     {"id": "policy", "kind": "policy", "seconds": 10},
                     {"id": "lunch", "kind": "video", "seconds": 60, "when": [{"from": "12:00", "to": "13:00"}]},
                     {"id": "station", "kind": "station", "seconds": 10}]}


def test_the_station_card_shows_before_content_and_the_loop_plays_in_order_with_dayparting() -> None:
    clock = ManualClock(MONDAY_10)
    d, stage, plays = director(LOOP, clock)
    d.tick(None)
    assert d.showing.segment.slot.segment_id == "startup" and stage.screen.item_kind == "station"
    shown = run(d, clock, 85)
    assert shown == ["jobs", "policy", "station", "jobs", "policy"]  # no lunch video at ten
    clock.wall = dt.datetime(2026, 3, 9, 12, 0, 30)
    shown = run(d, clock, 40)
    assert "lunch" in shown


def test_every_showing_is_recorded_with_its_duration_from_the_clock() -> None:
    clock = ManualClock(MONDAY_10)
    d, _stage, plays = director(LOOP, clock)
    d.tick(None)
    clock.advance(2)
    run(d, clock, 45)
    d.stop()
    assert [(p.item_kind, p.status) for p in plays] == [("station", "played"), ("jobs", "played"),
                                                         ("policy", "played"), ("station", "played")]
    startup, jobs, policy, _ = plays
    assert startup.duration_s == pytest.approx(2.0) and startup.segment == "startup"
    assert jobs.duration_s == pytest.approx(30.0) and jobs.started_at == MONDAY_10 + dt.timedelta(seconds=2)
    assert policy.duration_s == pytest.approx(10.0) and policy.segment == "policy"


def test_a_segment_shows_only_once_ready_and_the_current_one_stays_meanwhile() -> None:
    clock = ManualClock(MONDAY_10)
    schedule = {"segments": [{"id": "jobs", "kind": "jobs", "seconds": 30},
                             {"id": "video", "kind": "video", "seconds": 60}]}
    stage = Stage()
    stage.not_ready.add("video")
    d, stage, plays = director(schedule, clock, stage)
    run(d, clock, 5)
    assert d.showing.segment.item_kind == "jobs"
    # the video is prepared ahead only in the last seconds of the list (a decoder held for minutes costs memory)
    assert not any(s.item_kind == "video" for s in stage.made)
    clock.advance(30 - 5 - PREPARE_AHEAD_S + 1)
    d.tick(ALL)
    video = next(s for s in stage.made if s.item_kind == "video")
    clock.advance(PREPARE_AHEAD_S)
    d.tick(ALL)
    assert d.showing.segment.item_kind == "jobs"  # the video's first picture is not decoded: the list stays
    assert stage.screen.item_kind == "jobs"
    video.ready = True
    d.tick(ALL)
    assert d.showing.segment is video and stage.screen is video
    assert len([s for s in stage.made if s.item_kind == "video"]) == 1  # made once, shown when ready


def test_a_video_ending_by_itself_moves_the_loop_on() -> None:
    clock = ManualClock(MONDAY_10)
    schedule = {"segments": [{"id": "video", "kind": "video", "seconds": 600},
                             {"id": "policy", "kind": "policy", "seconds": 10}]}
    d, stage, plays = director(schedule, clock)
    d.tick(ALL)
    video = stage.made[0]
    assert d.showing.segment is video
    clock.advance(20)
    d.finished(video)
    d.tick(ALL)
    assert d.showing.segment.item_kind == "policy"
    assert plays[-1].item_kind == "video" and plays[-1].duration_s == pytest.approx(20.0)
    assert video in stage.released


def test_an_urgent_notice_interrupts_then_the_same_showing_resumes_and_the_notice_takes_turns() -> None:
    clock = ManualClock(MONDAY_10)
    schedule = {"segments": [{"id": "jobs", "kind": "jobs", "seconds": 30},
                             {"id": "policy", "kind": "policy", "seconds": 10}],
                "urgent": {"mode": "turns", "first_s": 60, "turn_s": 20, "every": 2}}
    d, stage, plays = director(schedule, clock)
    run(d, clock, 12)
    jobs = d.showing.segment
    assert jobs.item_kind == "jobs"
    storm = ("storm",)
    d.tick(ALL, storm)
    assert d.showing.segment.item_kind == "urgent"  # at once, mid-segment
    assert d.interrupted is jobs and jobs not in stage.released  # kept to come back
    assert plays[-1].item_kind == "jobs" and plays[-1].status == "interrupted"
    shown = run(d, clock, 60, urgent=storm)
    assert shown == []  # the first showing lasts first_s
    d.tick(ALL, storm)
    assert d.showing.segment is jobs and jobs.resuming  # the same showing, where it was
    assert d.playlist.remaining() == pytest.approx(30 - 12, abs=1.01)
    assert plays[-1].item_kind == "urgent" and plays[-1].duration_s == pytest.approx(60, abs=1.01)
    # from now on the notice takes turns with the loop: after every two segments, for 20 s
    shown = run(d, clock, 120, urgent=storm)
    assert shown[:4] == ["policy", "jobs", "urgent", "policy"]
    urgent_turns = [p for p in plays if p.item_kind == "urgent"]
    assert urgent_turns[1].duration_s == pytest.approx(20, abs=1.01)
    # the notice ends: no more turns
    shown = run(d, clock, 120)
    assert "urgent" not in shown and "jobs" in shown


def test_the_night_coming_during_a_notice_gives_up_the_interrupted_segment() -> None:
    clock = ManualClock(dt.datetime(2026, 3, 9, 21, 59))
    schedule = {"on_hours": [{"from": "07:00", "to": "22:00"}],
                "segments": [{"id": "jobs", "kind": "jobs", "seconds": 600}],
                "urgent": {"mode": "turns", "first_s": 120}}
    d, stage, plays = director(schedule, clock)
    run(d, clock, 5)
    jobs = d.showing.segment
    run(d, clock, 10, urgent=("storm",))
    assert d.interrupted is jobs
    run(d, clock, 200)  # the notice has ended, and it is past 22:00
    assert d.showing.segment.item_kind == "standby"
    assert d.interrupted is None and jobs in stage.released


def test_a_segment_that_cannot_get_ready_is_skipped_released_and_reported_once() -> None:
    clock = ManualClock(MONDAY_10)
    schedule = {"segments": [{"id": "video", "kind": "video", "seconds": 60},
                             {"id": "policy", "kind": "policy", "seconds": 10}]}
    stage = Stage()
    stage.broken.add("video")
    soon: list[bool] = []
    plays: list[Play] = []
    d = Director(stage, clock, record=plays.append, schedule=parse_schedule(schedule), soon=lambda: soon.append(True))
    d.tick(ALL)
    assert soon == [True]  # asks for another decision at once
    bad = stage.made[0]
    assert bad in stage.failures and bad in stage.released and d.showing is None
    d.tick({**ALL, "video": 0})  # the player no longer offers the bad video
    assert d.showing.segment.item_kind == "policy"
    d.report_media(bad.item_id, "decode", "again")
    skipped = [p for p in plays if p.status == "skipped"]
    assert [(p.item_kind, p.item_id, p.reason) for p in skipped] == [("video", bad.item_id, "decode")]


def test_stopping_records_what_shows_and_releases_what_was_prepared() -> None:
    clock = ManualClock(MONDAY_10)
    d, stage, plays = director(LOOP, clock)
    run(d, clock, 25)  # the policy card is prepared ahead of the list's end
    prepared = list(d.prepared.values())
    assert [s.item_kind for s in prepared] == ["policy"]
    d.stop()
    assert plays[-1].item_kind == "jobs" and plays[-1].duration_s == pytest.approx(25, abs=1.01)
    assert prepared[0] in stage.released and d.showing is None


def test_the_director_runs_without_kivy() -> None:
    code = ("import sys, display.director, display.schedule, display.segments, display.proof; "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'kivy'); "
            "print(loaded); sys.exit(1 if loaded else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
