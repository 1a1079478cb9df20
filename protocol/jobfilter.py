"""Which jobs a resident sees near a station, and in what order, without a search index.

The station's store answers the kiosk's filters in SQL (``content.store.Store.search_jobs``);
the hub's phone pages (``hub.mobile``) and its matching (``hub.matching``) need the very same
rules over a plain list of :class:`~protocol.model.Job`. They are written down once here:

- open: published on or before ``today`` and valid through it;
- 距离: within ``radius_km`` of the station as the crow flies (``None`` = any distance);
- 工种 / 类型: the category / kind is the one chosen;
- 今日零工 (``when="today"``): the gig's work date is ``today``; ``"week"``: within 7 days;
- 工资: the job's top rate as a monthly figure (a day is 21.75 working days, an hour 1/8 of a
  day; piece rates never qualify) at least ``min_salary``;
- age and gender: the job's limits admit the person (limits inclusive, 不限 admits everyone);
- order: nearest first, then newest, then by id (the station's ranking without a query).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from common.geo import distance_km
from protocol.model import Job

MONTHLY_FACTOR = {"月": 1.0, "日": 21.75, "时": 21.75 * 8}
RADIUS_SLACK_KM = 1e-9


def monthly_max(job: Job) -> float | None:
    """The job's top rate as a monthly amount, or None for a piece rate."""
    factor = MONTHLY_FACTOR.get(job.salary_unit)
    return None if factor is None else job.salary_max * factor


@dataclass(frozen=True)
class JobRules:
    """The filters of a job list, as the kiosk's chips set them."""

    radius_km: float | None = 3.0
    category: str | None = None
    kind: str | None = None
    when: str | None = None  # "today" (今日零工) or "week"
    min_salary: int | None = None
    age: int | None = None
    gender: str | None = None

    def __post_init__(self) -> None:
        if self.when not in (None, "today", "week"):
            raise ValueError(f"when 只能是 today 或 week，不是 {self.when!r}")
        if self.radius_km is not None and not self.radius_km >= 0:
            raise ValueError(f"距离必须是 0 公里或以上，不是 {self.radius_km!r}")

    def admits(self, job: Job, distance: float, today: dt.date) -> bool:
        """Whether ``job``, ``distance`` km from the station, is shown on ``today``."""
        if not job.is_open(today):
            return False
        if self.radius_km is not None and distance > self.radius_km + RADIUS_SLACK_KM:
            return False
        if self.category and job.category != self.category:
            return False
        if self.kind and job.kind != self.kind:
            return False
        if self.when == "today" and job.work_date != today:
            return False
        if self.when == "week" and not (job.work_date and today <= job.work_date <= today + dt.timedelta(days=6)):
            return False
        if self.min_salary is not None:
            top = monthly_max(job)
            if top is None or top < self.min_salary:
                return False
        return job.accepts(self.age, self.gender)


def placed_jobs(jobs: Iterable[Job], origin: tuple[float, float]) -> list[tuple[float, Job]]:
    """Every job with its distance from ``origin``, in the station's order (nearest, newest, id)."""
    placed = [(distance_km(origin[0], origin[1], job.latitude, job.longitude), job) for job in jobs]
    placed.sort(key=lambda p: (p[0], -p[1].published.toordinal(), p[1].id))
    return placed


def filter_jobs(placed: Iterable[tuple[float, Job]], rules: JobRules, today: dt.date,
                limit: int | None = None) -> list[tuple[float, Job]]:
    """The placed jobs ``rules`` keep on ``today``, in order, at most ``limit`` of them."""
    kept = []
    for distance, job in placed:
        if rules.admits(job, distance, today):
            kept.append((distance, job))
            if limit is not None and len(kept) >= limit:
                break
    return kept


def count_jobs(placed: Iterable[tuple[float, Job]], rules: JobRules, today: dt.date) -> int:
    return sum(1 for distance, job in placed if rules.admits(job, distance, today))


def when_text(job: Job, today: dt.date) -> str:
    """For a 零工: ``今天`` / ``明天`` / ``11月25日`` (kiosk, board and phone pages alike); empty for other jobs."""
    day = job.work_date
    if not day:
        return ""
    if day == today:
        return "今天"
    if day == today + dt.timedelta(days=1):
        return "明天"
    return f"{day.month}月{day.day}日"
