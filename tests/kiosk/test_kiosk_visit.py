"""The visit's rules without a screen (kiosk/visit.py): 好差评, the idle kiosk, the attract loop.

No Kivy is imported here; the attract loop reads a real station store filled with the sample content.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from config.station import open_store
from content.sample import sample_content
from kiosk.idle import Phase
from kiosk.visit import WELCOME, AttractReel, IdleStep, RatingAsk, Visit, at_rest, idle_step


def test_a_served_anonymous_visitor_is_asked_once_on_going_home() -> None:
    visit = Visit()
    visit.count("search")  # looking is not being served
    assert visit.home_tapped(resident_present=False) == []
    visit.count("print_job")
    visit.count("print_job")
    assert visit.home_tapped(resident_present=False) == ["print_job", "print_job"]
    assert visit.home_tapped(resident_present=False) == []  # asked once: the list starts again
    assert visit.counts == {"search": 1, "print_job": 2}  # today's counts stay for the staff screen


def test_a_resident_is_asked_at_the_end_of_the_visit_not_on_going_home() -> None:
    visit = Visit()
    visit.count("registration_求职")
    assert visit.home_tapped(resident_present=True) == []  # the visit goes on until 结束
    assert visit.end(resident_present=True) == ["registration_求职"]
    assert visit.end(resident_present=True) == ["visit"]  # served nothing, but was here with a card
    assert visit.end(resident_present=False) == []  # nobody was here: no question
    visit.count("print_event")
    visit.forget()  # an idle reset: the next visitor is not asked about this one's slip
    assert visit.end(resident_present=False) == []


def test_a_rating_records_only_the_level_its_score_and_the_services() -> None:
    ask = RatingAsk.about(["print_job", "registration_求职", "print_job"])
    assert ask.answer("满意") == ("rating", {"level": "满意", "score": 4, "services": "print_job,registration_求职"})
    assert ask.answer("非常不满意")[1]["score"] == 1
    with pytest.raises(ValueError, match="没有这个评价等级：很好"):
        ask.answer("很好")


@pytest.mark.parametrize(("phase", "at_home", "busy", "rating", "attract", "expected"), [
    (Phase.COUNTDOWN, True, False, False, False, IdleStep.ATTRACT),  # idle home: the loop takes over
    (Phase.EXPIRED, True, False, False, False, IdleStep.ATTRACT),
    (Phase.ACTIVE, True, False, False, False, IdleStep.REST),  # someone just touched it
    (Phase.COUNTDOWN, True, False, False, True, IdleStep.REST),  # already looping
    (Phase.COUNTDOWN, True, False, True, False, IdleStep.REST),  # 好差评 open: never hidden by the loop
    (Phase.ACTIVE, False, False, False, False, IdleStep.ACTIVE),
    (Phase.COUNTDOWN, False, False, False, False, IdleStep.COUNTDOWN),  # a screen away from home
    (Phase.COUNTDOWN, True, True, False, False, IdleStep.COUNTDOWN),  # home, but a resident's card is in
    (Phase.EXPIRED, False, False, False, False, IdleStep.RESET),
    (Phase.EXPIRED, True, True, False, False, IdleStep.RESET),
])
def test_the_idle_kiosk_counts_down_only_where_something_would_be_lost(phase, at_home, busy, rating, attract,
                                                                        expected) -> None:
    assert idle_step(phase, at_home=at_home, busy=busy, rating_shown=rating, attract_shown=attract) is expected


def test_a_visit_is_under_way_until_home_is_empty_and_no_rating_is_open() -> None:
    assert at_rest(at_home=True, busy=False, rating_shown=False)
    assert not at_rest(at_home=True, busy=False, rating_shown=True)
    assert not at_rest(at_home=True, busy=True, rating_shown=False)
    assert not at_rest(at_home=False, busy=False, rating_shown=False)


def test_the_attract_loop_goes_round_the_featured_jobs(station) -> None:
    settings = station.settings
    st = settings.station
    today = dt.date.today()
    with open_store(settings) as store:
        store.replace_content(sample_content(origin=(st.latitude, st.longitude), jobs=40, today=today),
                              feed_id="sample", version=1)
        hits = store.featured_jobs(3, today=today)
        reel = AttractReel.load(lambda: store.featured_jobs(3, today=today))
    cards = [reel.next_card() for _ in range(4)]
    assert [c.headline for c in cards] == ["推荐岗位 1/3", "推荐岗位 2/3", "推荐岗位 3/3", "推荐岗位 1/3"]
    assert [c.job_title for c in cards] == [h.job.title for h in hits] + [hits[0].job.title]
    first = cards[0].job_lines.split("\n")
    assert first[0] == hits[0].job.employer and first[-1].startswith(f"{hits[0].job.kind} · 离这里")


def test_without_jobs_or_with_a_broken_store_the_loop_welcomes(caplog) -> None:
    assert AttractReel().next_card() == WELCOME

    def broken() -> list:
        raise OSError("disk I/O error")

    reel = AttractReel.load(broken)
    assert reel.next_card() == WELCOME and reel.next_card() == WELCOME
    assert "featured jobs unavailable" in caplog.text


def test_the_visit_rules_need_no_screen() -> None:
    code = "import sys, kiosk.visit; sys.exit(any(m == 'kivy' or m.startswith('kivy.') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
