"""人岗匹配 at the centre: the published jobs that fit each open 求职 / 零工 / 返乡 registration.

A registration is turned into a :class:`Seeker` (what the resident asked for at the kiosk,
their age and gender from the ID card, where they registered) and every job is judged by
the rules below, the same for the registrar's 推荐岗位 and for the 匹配人员 of a new job.

Which jobs fit (all must hold):

1. the job is open on the day (published on or before it, valid through it) and its age and
   gender limits admit the person (``Job.accepts``, the kiosk's eligibility rule; an unknown
   age or gender is not held against them);
2. it is within :data:`MAX_KM` of the station the resident registered at (as the crow flies;
   a station whose place the hub does not know does not limit the distance);
3. 求职 and 返乡 take 全职 and 兼职 jobs of a category they chose (none chosen, or 其他: any
   category); 零工 takes 零工 jobs whose category is one of their skills' (:data:`SKILL_CATEGORIES`),
   on a work date from the day on that their days allow (今天明天: today or tomorrow; 只有周末:
   a Saturday or Sunday; 每天都可以 / 随叫随到: any day);
4. pay: for 求职/返乡 the job's top rate as a month (``protocol.jobfilter.monthly_max``) is at
   least the bottom of the band they chose (3000-5000元: 3000; 3000元以下 and 面议: no floor); a
   piece rate passes; for 零工 the top day rate (an hour is an eighth of a day, a month 21.75
   days) is at least the amount they named less 20 元 ("150元左右" takes 130 and up);
5. the job is still open on the day they can start (求职: 可以上班; 返乡: 返乡时间).

How they are ranked:

- 求职 / 返乡: within 3 km first, then within 15 km, then the rest (the 三公里就业圈); in each
  band the best paid first (monthly top rate), then the nearer, then the newer, then by id;
- 零工: the soonest work date first, then the best day rate, then the nearer, then by id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.geo import distance_km
from protocol.jobfilter import monthly_max
from protocol.model import Job

MATCHED_KINDS = ("求职", "零工", "返乡")
MAX_KM = 30.0
BANDS_KM = (3.0, 15.0)
DAY_PAY_SLACK = 20
DAYS_PER_MONTH = 21.75
HOURS_PER_DAY = 8

SALARY_FLOOR = {"3000元以下": None, "面议": None, "3000-5000元": 3000, "5000-8000元": 5000, "8000元以上": 8000}
DAY_PAY = {"100元左右": 100, "150元左右": 150, "200元左右": 200, "250元以上": 250, "面议": None}
SKILL_CATEGORIES: dict[str, frozenset[str]] = {
    "搬运装卸": frozenset({"物流", "普工"}), "保洁": frozenset({"保洁"}), "家政": frozenset({"家政"}),
    "建筑小工": frozenset({"建筑"}), "装修": frozenset({"建筑"}), "农活": frozenset({"农业"}),
    "送货": frozenset({"物流"}), "餐饮帮工": frozenset({"餐饮"}), "看护陪护": frozenset({"家政", "医护"}),
}
ANY_CATEGORY = frozenset()


class MatchError(ValueError):
    """A registration that cannot be matched; the message says why (in Chinese)."""


@dataclass(frozen=True)
class Seeker:
    """What one registration asks for (no name, ID number, phone or address)."""

    key: Any  # the registration's id at the hub
    kind: str
    categories: frozenset[str] = ANY_CATEGORY  # empty = any category
    monthly_floor: int | None = None
    day_floor: int | None = None
    gig_days: str = ""
    start: dt.date | None = None
    origin: tuple[float, float] | None = None
    age: int | None = None
    gender: str | None = None


@dataclass
class Match:
    job: Job
    distance_km: float | None
    reasons: list[str] = field(default_factory=list)


def _age(birth: Any, today: dt.date) -> int | None:
    try:
        born = dt.date.fromisoformat(str(birth)[:10])
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def seeker_from(key: Any, payload: Mapping[str, Any], *, today: dt.date,
                origin: tuple[float, float] | None = None) -> Seeker:
    """The seeker of a registration's payload (as the kiosk sent it: kind, person, answers)."""
    kind = str(payload.get("kind", ""))
    if kind not in MATCHED_KINDS:
        raise MatchError(f"{kind or '未知'}登记不做人岗匹配（只匹配{'、'.join(MATCHED_KINDS)}登记）")
    person = payload.get("person") if isinstance(payload.get("person"), dict) else {}
    answers = payload.get("answers") if isinstance(payload.get("answers"), dict) else {}
    gender = str(person.get("gender", "")) or None
    common: dict[str, Any] = {"key": key, "kind": kind, "origin": origin, "age": _age(person.get("birth_date"), today),
                              "gender": gender if gender in ("男", "女") else None}
    if kind == "零工":
        skills = [str(s) for s in answers.get("skills") or []]
        categories = frozenset().union(*(SKILL_CATEGORIES.get(s, ANY_CATEGORY) for s in skills)) if skills else ANY_CATEGORY
        if "其他" in skills:
            categories = ANY_CATEGORY
        return Seeker(**common, categories=categories, day_floor=DAY_PAY.get(str(answers.get("day_pay", ""))),
                      gig_days=str(answers.get("days", "")))
    chosen = frozenset(str(c) for c in answers.get("categories") or [])
    start = _date(answers.get("available_from") if kind == "求职" else answers.get("return_date"))
    return Seeker(**common, categories=ANY_CATEGORY if "其他" in chosen else chosen,
                  monthly_floor=SALARY_FLOOR.get(str(answers.get("salary", ""))), start=start)


def day_rate(job: Job) -> float | None:
    """The job's top rate for a day's work, or None for a piece rate."""
    if job.salary_unit == "日":
        return float(job.salary_max)
    if job.salary_unit == "时":
        return float(job.salary_max * HOURS_PER_DAY)
    if job.salary_unit == "月":
        return job.salary_max / DAYS_PER_MONTH
    return None


def _gig_day_ok(days: str, work_date: dt.date, today: dt.date) -> bool:
    if work_date < today:
        return False
    if days == "今天明天":
        return work_date <= today + dt.timedelta(days=1)
    if days == "只有周末":
        return work_date.weekday() >= 5
    return True


def fits(seeker: Seeker, job: Job, today: dt.date) -> tuple[bool, float | None]:
    """Whether ``job`` fits ``seeker`` on ``today`` (rules 1-5), and its distance (None: unknown)."""
    if not job.is_open(today):
        return False, None
    distance = None
    if seeker.origin is not None:
        distance = distance_km(seeker.origin[0], seeker.origin[1], job.latitude, job.longitude)
        if distance > MAX_KM:
            return False, distance
    return _fits_near(seeker, job, today), distance


def _fits_near(seeker: Seeker, job: Job, today: dt.date) -> bool:
    """Rules 1 (but openness), 3, 4 and 5: what is left once the job is open and near enough."""
    if not job.accepts(seeker.age, seeker.gender):
        return False
    if seeker.categories and job.category not in seeker.categories:
        return False
    if seeker.kind == "零工":
        if job.kind != "零工" or job.work_date is None or not _gig_day_ok(seeker.gig_days, job.work_date, today):
            return False
        rate = day_rate(job)
        return seeker.day_floor is None or rate is None or rate >= seeker.day_floor - DAY_PAY_SLACK
    if job.kind == "零工":
        return False
    top = monthly_max(job)
    if seeker.monthly_floor is not None and top is not None and top < seeker.monthly_floor:
        return False
    return seeker.start is None or job.valid_until >= seeker.start


def _band(distance: float | None) -> int:
    if distance is None:
        return len(BANDS_KM)
    return next((i for i, limit in enumerate(BANDS_KM) if distance <= limit), len(BANDS_KM))


def rank_key(seeker: Seeker, job: Job, distance: float | None) -> tuple:
    near = distance if distance is not None else MAX_KM
    if seeker.kind == "零工":
        return (job.work_date, -(day_rate(job) or 0.0), near, job.id)
    return (_band(distance), -(monthly_max(job) or 0.0), near, -job.published.toordinal(), job.id)


def recommend(seeker: Seeker, jobs: Iterable[Job], today: dt.date, limit: int = 5) -> list[Match]:
    """The ``limit`` best jobs for ``seeker`` (推荐岗位), best first."""
    found = []
    for job in jobs:
        ok, distance = fits(seeker, job, today)
        if ok:
            found.append((rank_key(seeker, job, distance), Match(job, distance)))
    found.sort(key=lambda pair: pair[0])
    return [match for _key, match in found[:limit]]


def matching_people(job: Job, seekers: Iterable[Seeker], today: dt.date) -> list[tuple[Seeker, float | None]]:
    """Every seeker ``job`` fits (匹配人员), nearest first."""
    found = []
    for seeker in seekers:
        ok, distance = fits(seeker, job, today)
        if ok:
            found.append((seeker, distance))
    found.sort(key=lambda pair: (pair[1] if pair[1] is not None else MAX_KM, str(pair[0].key)))
    return found


def match_publication(new_jobs: Iterable[Job], seekers: Iterable[Seeker], today: dt.date
                      ) -> dict[str, list[Any]]:
    """For each new job of a publication, the keys of the registrations it fits (nearest first).

    Seekers are grouped by the category they take (or any), by whether they look for gigs and
    by the station they registered at: a job is judged only against the groups of its
    category and kind, and its distance is measured once per station, a far station's
    seekers dropped together."""
    groups: dict[tuple[str, bool], dict[tuple[float, float] | None, list[Seeker]]] = {}
    for seeker in seekers:
        gig = seeker.kind == "零工"
        for category in seeker.categories or ("",):
            groups.setdefault((category, gig), {}).setdefault(seeker.origin, []).append(seeker)
    out: dict[str, list[Any]] = {}
    for job in new_jobs:
        if not job.is_open(today):
            continue
        gig = job.kind == "零工"
        found: list[tuple[float, str, Any]] = []
        for category in (job.category, ""):
            for origin, group in groups.get((category, gig), {}).items():
                distance = None if origin is None else distance_km(origin[0], origin[1], job.latitude, job.longitude)
                if distance is not None and distance > MAX_KM:
                    continue
                near = distance if distance is not None else MAX_KM
                found.extend((near, str(s.key), s.key) for s in group if _fits_near(s, job, today))
        if found:
            found.sort()
            out[job.id] = [key for _near, _text, key in found]
    return out
