"""The board's playlist and schedule rules, with an injected clock (no screen)."""

from __future__ import annotations

import datetime as dt

import pytest

from display.harness import FakeClock
from display.schedule import Playlist, ScheduleError, default_schedule, parse_schedule

MONDAY_10 = dt.datetime(2026, 3, 9, 10, 0)  # a Monday
ALL = {"jobs": 20, "policy": 3, "event": 2, "video": 2, "station": 1}


def play_through(playlist: Playlist, clock: FakeClock, available: dict[str, int], count: int,
                 urgent: tuple[str, ...] = ()) -> list[str]:
    """Start what the playlist wants, let it run out, ``count`` times; the kinds shown."""
    shown = []
    for _ in range(count):
        slot = playlist.wanted(available, urgent)
        playlist.start(slot)
        shown.append(slot.segment_id or slot.kind)
        clock.advance(max(slot.seconds, 1.0) + 0.01)
    return shown


def test_the_playlist_loops_in_order_and_each_segment_lasts_its_time() -> None:
    clock = FakeClock(MONDAY_10)
    schedule = parse_schedule({"segments": [{"id": "j", "kind": "jobs", "seconds": 30},
                                            {"id": "p", "kind": "policy", "seconds": 10},
                                            {"id": "e", "kind": "event", "seconds": 10}]})
    playlist = Playlist(schedule, clock)
    first = playlist.wanted(ALL)
    playlist.start(first)
    clock.advance(29)
    assert playlist.wanted(ALL) == first  # still within its 30 s
    assert playlist.remaining() == pytest.approx(1.0, abs=0.01)
    clock.advance(1.5)
    assert playlist.wanted(ALL).segment_id == "p"
    assert play_through(playlist, clock, ALL, 5) == ["p", "e", "j", "p", "e"]


def test_policy_event_and_video_items_take_turns() -> None:
    clock = FakeClock(MONDAY_10)
    playlist = Playlist(parse_schedule({"segments": [{"kind": "policy", "seconds": 5}]}), clock)
    items = []
    for _ in range(4):
        slot = playlist.wanted(ALL)
        playlist.start(slot)
        items.append(slot.item)
        clock.advance(6)
    assert items == [0, 1, 2, 0]


def test_a_segment_with_nothing_to_show_is_skipped_and_nothing_at_all_gives_the_station_card() -> None:
    clock = FakeClock(MONDAY_10)
    schedule = parse_schedule({"segments": [{"id": "j", "kind": "jobs", "seconds": 10},
                                            {"id": "v", "kind": "video", "seconds": 10},
                                            {"id": "p", "kind": "policy", "seconds": 10}]})
    playlist = Playlist(schedule, clock)
    no_videos = {**ALL, "video": 0}
    assert play_through(playlist, clock, no_videos, 4) == ["j", "p", "j", "p"]
    empty = Playlist(schedule, clock)
    slot = empty.wanted({"station": 1})
    assert (slot.kind, slot.segment_id) == ("station", "fallback")


def test_dayparting_plays_videos_only_inside_their_window() -> None:
    clock = FakeClock(MONDAY_10)
    schedule = parse_schedule({"segments": [
        {"id": "j", "kind": "jobs", "seconds": 60},
        {"id": "v", "kind": "video", "seconds": 60, "when": [{"from": "11:30", "to": "13:30"}]},
        {"id": "s", "kind": "station", "seconds": 60}]})
    playlist = Playlist(schedule, clock)
    morning = play_through(playlist, clock, ALL, 6)  # 10:00 - 10:06
    assert "v" not in morning
    clock.set(dt.datetime(2026, 3, 9, 12, 0))
    lunchtime = play_through(playlist, clock, ALL, 6)
    assert lunchtime.count("v") == 2
    clock.set(dt.datetime(2026, 3, 9, 13, 31))
    assert "v" not in play_through(playlist, clock, ALL, 6)


def test_weekday_windows_and_windows_across_midnight() -> None:
    doc = parse_schedule({"on_hours": [{"from": "22:00", "to": "06:00", "days": [5]}],
                          "segments": [{"kind": "jobs", "seconds": 10}]})
    window = doc.on_hours[0]
    friday_23 = dt.datetime(2026, 3, 13, 23, 0)
    assert window.contains(friday_23)
    assert window.contains(friday_23 + dt.timedelta(hours=4))  # Saturday 03:00 belongs to Friday night
    assert not window.contains(friday_23 - dt.timedelta(days=1))  # Thursday
    assert not window.contains(dt.datetime(2026, 3, 14, 7, 0))


def test_outside_on_hours_the_standby_card_shows_and_the_playlist_continues_in_the_morning() -> None:
    clock = FakeClock(dt.datetime(2026, 3, 9, 21, 59, 50))
    schedule = parse_schedule({"on_hours": [{"from": "07:00", "to": "22:00"}],
                               "segments": [{"id": "j", "kind": "jobs", "seconds": 60},
                                            {"id": "p", "kind": "policy", "seconds": 60}]})
    playlist = Playlist(schedule, clock)
    playlist.start(playlist.wanted(ALL))
    clock.advance(11)  # 22:00:01
    night = playlist.wanted(ALL)
    assert night.kind == "standby"
    playlist.start(night)
    clock.advance(3600)
    assert playlist.wanted(ALL) == night  # still night: the same showing, no flicker
    clock.set(dt.datetime(2026, 3, 10, 7, 0, 5))
    assert playlist.wanted(ALL).segment_id == "p"


def test_with_an_unset_clock_no_time_window_is_applied() -> None:
    clock = FakeClock(dt.datetime(1970, 1, 1, 0, 3))
    schedule = parse_schedule({"on_hours": [{"from": "07:00", "to": "22:00"}],
                               "segments": [{"id": "j", "kind": "jobs", "seconds": 10},
                                            {"id": "v", "kind": "video", "seconds": 10,
                                             "when": [{"from": "11:30", "to": "13:30"}]}]})
    playlist = Playlist(schedule, clock)
    assert play_through(playlist, clock, ALL, 4) == ["j", "v", "j", "v"]
    # an urgent notice cannot be timed either: it does not take the screen
    assert playlist.wanted(ALL, ("storm",)).kind in ("jobs", "video")


def test_an_urgent_notice_set_to_hold_interrupts_and_the_segment_resumes_with_its_time_left() -> None:
    clock = FakeClock(MONDAY_10)
    schedule = parse_schedule({"segments": [{"id": "j", "kind": "jobs", "seconds": 60},
                                            {"id": "p", "kind": "policy", "seconds": 20}],
                               "urgent": {"mode": "hold"}})
    playlist = Playlist(schedule, clock)
    jobs = playlist.wanted(ALL)
    playlist.start(jobs)
    clock.advance(25)
    urgent = playlist.wanted(ALL, ("storm",))
    assert urgent.kind == "urgent" and urgent.announcements == ("storm",)
    playlist.start(urgent)
    clock.advance(3600)  # the notice holds the screen for as long as its window lasts
    assert playlist.wanted(ALL, ("storm",)) == urgent
    resumed = playlist.wanted(ALL, ())
    assert resumed == jobs  # the very same showing, not the next segment
    playlist.start(resumed)
    assert playlist.remaining() == pytest.approx(35, abs=0.1)
    clock.advance(36)
    assert playlist.wanted(ALL).segment_id == "p"


def test_what_is_prepared_ahead_is_what_comes_next() -> None:
    clock = FakeClock(MONDAY_10)
    playlist = Playlist(default_schedule(), clock)
    for _ in range(8):
        playlist.start(playlist.wanted(ALL))
        upcoming = playlist.upcoming(ALL)
        clock.advance(playlist.remaining() + 0.01)
        assert playlist.wanted(ALL) == upcoming


def test_a_finished_video_ends_its_segment_early() -> None:
    clock = FakeClock(MONDAY_10)
    playlist = Playlist(parse_schedule({"segments": [{"id": "v", "kind": "video", "seconds": 300},
                                                     {"id": "j", "kind": "jobs", "seconds": 60}]}), clock)
    playlist.start(playlist.wanted(ALL))
    clock.advance(12)
    playlist.finish()
    assert playlist.wanted(ALL).segment_id == "j"


@pytest.mark.parametrize(("doc", "message"), [
    ({"segments": [{"kind": "jobz", "seconds": 10}]}, "segments[0].kind"),
    ({"segments": [{"kind": "jobs", "seconds": 1}]}, "segments[0].seconds"),
    ({"segments": [{"kind": "jobs", "seconds": 10, "when": [{"from": "25:00", "to": "26:00"}]}]},
     "segments[0].when[0].from"),
    ({"segments": [{"kind": "jobs", "seconds": 10, "when": [{"from": "08:00", "to": "09:00", "days": [0]}]}]},
     "days"),
    ({"segments": []}, "needs 1 to 100 segments"),
    ({"segments": [{"kind": "jobs", "seconds": 10}], "colour": "red"}, "colour: unknown key"),
    ("[not json", "not valid JSON"),
])
def test_a_bad_schedule_is_refused_with_the_key_that_is_wrong(doc: object, message: str) -> None:
    with pytest.raises(ScheduleError, match="board_schedule") as info:
        parse_schedule(doc)
    assert message in str(info.value)


def test_the_local_default_schedule_is_valid_and_has_every_kind() -> None:
    doc = default_schedule()
    assert {seg.kind for seg in doc.segments} == {"jobs", "policy", "event", "video", "station"}
    assert len({seg.id for seg in doc.segments}) == len(doc.segments)


def test_an_urgent_notice_interrupts_then_takes_turns_with_the_loop_for_days() -> None:
    clock = FakeClock(MONDAY_10)
    schedule = parse_schedule({"segments": [{"id": "j", "kind": "jobs", "seconds": 60},
                                            {"id": "p", "kind": "policy", "seconds": 20}],
                               "urgent": {"first_s": 45, "turn_s": 15, "every": 2}})
    playlist = Playlist(schedule, clock)
    jobs = playlist.wanted(ALL)
    playlist.start(jobs)
    clock.advance(25)
    first = playlist.wanted(ALL, ("storm",))
    assert first.kind == "urgent" and first.seconds == 45  # interrupts at once
    playlist.start(first)
    clock.advance(44)
    assert playlist.wanted(ALL, ("storm",)) == first
    clock.advance(2)
    resumed = playlist.wanted(ALL, ("storm",))
    assert resumed == jobs  # the jobs come back with their time left
    playlist.start(resumed)
    assert playlist.remaining() == pytest.approx(35, abs=0.1)
    clock.advance(35.01)
    # Two days of a storm warning: jobs and policies keep playing, the warning every 2 segments.
    shown = play_through(playlist, clock, ALL, 12, urgent=("storm",))
    assert shown == ["p", "j", "urgent", "p", "j", "urgent", "p", "j", "urgent", "p", "j", "urgent"]
    clock.advance(48 * 3600)
    assert "j" in play_through(playlist, clock, ALL, 3, urgent=("storm",))
    # a new notice interrupts again at once
    clock.advance(5)
    fresh = playlist.wanted(ALL, ("storm", "water"))
    assert fresh.kind == "urgent" and fresh.seconds == 45


def test_an_urgent_rule_with_a_wrong_value_is_refused_naming_it() -> None:
    with pytest.raises(ScheduleError, match="urgent.every"):
        parse_schedule({"segments": [{"kind": "jobs", "seconds": 60}], "urgent": {"every": 0}})
