"""What a visit at the kiosk decides, without a screen: what the resident was served, when to ask
for 好差评 and what an answer records, what the idle kiosk does next, and the attract loop's cards.

:class:`~kiosk.app.KioskApp` draws and schedules; these classes hold the rules, so they are tested
without Kivy (tests/kiosk/test_kiosk_visit.py). Nothing here keeps anything about the person: a
visit holds only the kinds of service (``print_job``, ``registration_求职``), a rating only its
level and those kinds.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from common.geo import distance_text
from content.stats import RATING_EVENT, RATING_LEVELS
from kiosk.idle import Phase

log = logging.getLogger("kiosk.visit")

SERVED_PREFIXES = ("registration_", "print_")  # what counts as having been served (asks for 好差评)


@dataclass
class Visit:
    """Today's service counts (the staff screen) and what the current visit was served with."""

    counts: dict[str, int] = field(default_factory=dict)
    served: list[str] = field(default_factory=list)

    def count(self, what: str) -> None:
        """One more ``what`` today; a slip or a registration also serves this visit."""
        self.counts[what] = self.counts.get(what, 0) + 1
        if what.startswith(SERVED_PREFIXES):
            self.served.append(what)

    def home_tapped(self, *, resident_present: bool) -> list[str]:
        """首页 from the top bar: an anonymous visitor who was served is asked for 好差评 (what they
        were served, and the visit's list starts again); a resident's visit goes on until 结束."""
        if resident_present or not self.served:
            return []
        served, self.served = self.served, []
        return served

    def end(self, *, resident_present: bool) -> list[str]:
        """结束 or a reset: what to ask 好差评 for (a resident who was served nothing still had a
        ``visit``); nothing when nobody was served. The visit's list is emptied."""
        served = list(self.served) or (["visit"] if resident_present else [])
        self.served = []
        return served

    def forget(self) -> None:
        self.served = []


@dataclass(frozen=True)
class RatingAsk:
    """One 好差评 question: the services it is about, sorted and each once."""

    services: tuple[str, ...]

    @classmethod
    def about(cls, services: Sequence[str]) -> RatingAsk:
        return cls(tuple(sorted(set(services))))

    def answer(self, level: str) -> tuple[str, dict[str, Any]]:
        """The usage event an answer records: (event kind, fields). Anonymous: the level, its score
        and the services, nothing about who answered."""
        scores = dict(RATING_LEVELS)
        if level not in scores:
            raise ValueError(f"没有这个评价等级：{level}（可选：{'、'.join(scores)}）")
        return RATING_EVENT, {"level": level, "score": scores[level], "services": ",".join(self.services)}


class IdleStep(enum.Enum):
    """What the kiosk does on an idle tick."""

    REST = "rest"  # the home screen with nothing to lose: no countdown
    ATTRACT = "attract"  # ... and long untouched: the attract loop takes over
    ACTIVE = "active"  # someone is using it: no countdown
    COUNTDOWN = "countdown"  # untouched mid-visit: show the countdown with 继续使用
    RESET = "reset"  # the countdown ran out: forget the resident, back home


def idle_step(phase: Phase, *, at_home: bool, busy: bool, rating_shown: bool, attract_shown: bool) -> IdleStep:
    """The idle rule: a countdown only where something would be lost (a visit under way, a screen
    other than home); the attract loop only on an untouched, idle home screen with no 好差评 open."""
    if at_home and not busy:
        if phase is not Phase.ACTIVE and not attract_shown and not rating_shown:
            return IdleStep.ATTRACT
        return IdleStep.REST
    if phase is Phase.ACTIVE:
        return IdleStep.ACTIVE
    if phase is Phase.COUNTDOWN:
        return IdleStep.COUNTDOWN
    return IdleStep.RESET


def at_rest(*, at_home: bool, busy: bool, rating_shown: bool) -> bool:
    """No visit under way (an upgrade may restart the kiosk): home, nobody's data, no 好差评 open."""
    return at_home and not busy and not rating_shown


@dataclass(frozen=True)
class AttractCard:
    headline: str
    job_title: str
    job_lines: str


WELCOME = AttractCard("欢迎使用", "找工作、查政策、办登记", "点一下屏幕，按提示操作")


class AttractReel:
    """The idle home screen's loop over featured jobs, one card every few seconds; a welcome card
    when there are none (or the store cannot say: the loop is decoration and never fails the kiosk)."""

    def __init__(self, hits: Sequence[Any] = ()) -> None:
        self.hits = list(hits)
        self.index = 0

    @classmethod
    def load(cls, featured: Callable[[], Sequence[Any]]) -> AttractReel:
        try:
            return cls(featured())
        except Exception:
            log.exception("featured jobs unavailable")
            return cls()

    def next_card(self) -> AttractCard:
        """The next job's card (round and round), numbered ``推荐岗位 n/total``."""
        if not self.hits:
            return WELCOME
        position = self.index % len(self.hits)
        self.index += 1
        hit = self.hits[position]
        job = hit.job
        lines = [job.employer, job.salary_text(), f"{job.kind} · 离这里{distance_text(hit.distance_km)}"]
        return AttractCard(f"推荐岗位 {position + 1}/{len(self.hits)}", job.title, "\n".join(filter(None, lines)))
