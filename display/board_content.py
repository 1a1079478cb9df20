"""What the board has to show, read from the station store in one go (no Kivy).

:func:`load_board_content` turns the store's records into board-ready data: job rows with
their texts already formatted (salary, distance, headcount; today's 零工 marked and put
first), the policies, events and announcements in force, the training videos whose files
are present and intact, and the schedule (the feed's ``board_schedule`` document, or the
local default when the feed has none or a broken one; the reason is kept for the log).

Media files are checked once per file (size, then SHA-256 against the name the feed gave
it); a missing or damaged file is left out and reported, never played.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.geo import distance_text
from content.headline import job_counts
from display.schedule import ScheduleDoc, ScheduleError, clock_is_plausible, default_schedule, parse_schedule
from protocol.model import Announcement, Course, Event, Job, Policy

log = logging.getLogger(__name__)

BOARD_JOB_LIMIT = 200
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class JobRow:
    """One job as the board shows it."""

    id: str
    title: str
    employer: str
    salary: str
    distance: str
    headcount: str
    kind_note: str  # 兼职 / 零工 3月15日 / "" for full-time
    gig_today: bool

    @property
    def meta(self) -> str:
        parts = [p for p in (self.kind_note, self.distance, self.headcount) if p]
        return " · ".join(parts)


@dataclass(frozen=True)
class Video:
    course: Course
    path: Path

    @property
    def id(self) -> str:
        return self.course.id


@dataclass(frozen=True)
class MediaProblem:
    item_id: str
    filename: str
    reason: str  # missing | size | hash | decode
    detail: str


@dataclass
class BoardContent:
    """One consistent snapshot of everything the board shows."""

    feed_id: str = ""
    version: int = 0
    jobs: list[JobRow] = field(default_factory=list)
    job_total: int = 0
    counts: Any = None  # content.headline.JobCounts: the same numbers the kiosk shows
    policies: list[Policy] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)
    media_problems: list[MediaProblem] = field(default_factory=list)
    schedule: ScheduleDoc = field(default_factory=default_schedule)
    schedule_source: str = "local"  # "feed" or "local"
    schedule_error: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.feed_id, self.version)

    def available(self, *, videos: bool = True) -> dict[str, int]:
        """How many items of each segment kind there are (what the playlist may show)."""
        return {"jobs": len(self.jobs), "policy": len(self.policies), "event": len(self.events),
                "video": len(self.videos) if videos else 0, "station": 1}

    @property
    def empty(self) -> bool:
        return not (self.jobs or self.policies or self.events or self.videos)


_NUMBERED = re.compile(r"(?:^|\s*)(?:\d{1,2}[.．、)）]|[（(]\d{1,2}[)）]|[①-⑳])\s*")


def material_items(text: str) -> list[str]:
    """A policy's 所需材料 as a list, one item each: the lines given, else the numbered items
    (``1. 身份证2. 营业执照``), else the items between ``；`` or ``、``. Numbering is kept as given
    when each item is on its own line, and added (``1. ``) when the items were run together.
    """
    text = text.strip()
    if not text:
        return []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return lines
    numbered = [part.strip(" ；;，,。") for part in _NUMBERED.split(text)]
    items = [part for part in numbered if part]
    if len(items) < 2:
        for sep in ("；", ";", "、"):
            items = [part.strip(" 。") for part in text.split(sep) if part.strip(" 。")]
            if len(items) > 1:
                break
    if len(items) < 2:
        return [text]
    return [f"{n}. {item}" for n, item in enumerate(items, 1)]


def job_row(job: Job, distance_km: float, today: dt.date) -> JobRow:
    gig_today = job.kind == "零工" and job.work_date == today
    if job.kind == "零工":
        note = "今日零工" if gig_today else (f"零工 {job.work_date.month}月{job.work_date.day}日"
                                             if job.work_date else "零工")
    elif job.kind == "兼职":
        note = "兼职"
    else:
        note = ""
    return JobRow(id=job.id, title=job.title, employer=job.employer, salary=job.salary_text(),
                  distance=distance_text(distance_km), headcount=f"招{job.headcount}人",
                  kind_note="" if gig_today else note, gig_today=gig_today)


def board_rows(hits: list[Any], today: dt.date) -> list[JobRow]:
    """Job rows in board order: today's 零工 first (they are gone tomorrow), then as ranked."""
    rows = [job_row(hit.job, hit.distance_km, today) for hit in hits if hit.job.is_open(today)]
    return sorted(rows, key=lambda r: not r.gig_today)


def event_when(event: Event) -> str:
    """``3月15日（周六）9:00-12:00`` (or a range of days)."""
    start, end = event.starts_at, event.ends_at
    day = f"{start.month}月{start.day}日（周{WEEKDAYS[start.weekday()]}）"
    if start.date() == end.date():
        return f"{day}{_hm(start)}-{_hm(end)}"
    return f"{day}{_hm(start)} 至 {end.month}月{end.day}日 {_hm(end)}"


def _hm(moment: dt.datetime) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


class MediaChecker:
    """Checks media files once per (path, size, mtime): present, right size, right SHA-256."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, float], str] = {}

    def check(self, path: Path, *, sha256: str, size: int) -> tuple[str, str]:
        """("", "") when the file is good, else (reason, detail)."""
        try:
            st = path.stat()
        except OSError:
            return "missing", f"{path.name} is not in the media cache"
        if st.st_size != size:
            return "size", f"{path.name} has {st.st_size} bytes, the feed says {size}"
        key = (str(path), st.st_size, st.st_mtime)
        verdict = self._seen.get(key)
        if verdict is None:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            verdict = "" if digest.hexdigest() == sha256 else "hash"
            self._seen[key] = verdict
        if verdict:
            return "hash", f"{path.name} does not match its SHA-256 (damaged on disk)"
        return "", ""

    def forget(self, path: Path) -> None:
        for key in [k for k in self._seen if k[0] == str(path)]:
            del self._seen[key]


def playable_videos(courses: list[Course], media_dir: Path, checker: MediaChecker
                    ) -> tuple[list[Video], list[MediaProblem]]:
    videos: list[Video] = []
    problems: list[MediaProblem] = []
    for course in courses:
        ref = course.media
        if not ref.type.startswith("video/"):
            continue
        path = Path(media_dir) / ref.filename
        reason, detail = checker.check(path, sha256=ref.sha256, size=ref.size)
        if reason:
            problems.append(MediaProblem(course.id, ref.filename, reason, detail))
        else:
            videos.append(Video(course, path))
    return videos, problems


def load_schedule(document: Any) -> tuple[ScheduleDoc, str, str]:
    """The feed's schedule if it has a valid one, else the local default; (schedule, source, error)."""
    if document is None:
        return default_schedule(), "local", ""
    try:
        return parse_schedule(document), "feed", ""
    except ScheduleError as exc:
        return default_schedule(), "local", str(exc)


def board_today(now: dt.datetime, applied_at: dt.datetime | None) -> dt.date:
    """The date that decides which jobs and policies are current.

    With an unset clock (year < 2024) every dated record would look not yet published, and
    the board would go empty; the day the content was applied is the best guess then.
    """
    if clock_is_plausible(now) or applied_at is None:
        return now.date()
    return applied_at.astimezone().date() if applied_at.tzinfo else applied_at.date()


def load_board_content(store: Any, media_dir: Path, *, now: dt.datetime, checker: MediaChecker | None = None,
                       videos: bool = True, job_limit: int = BOARD_JOB_LIMIT) -> BoardContent:
    """Everything the board shows, from ``store`` (a content.store.Store) as of ``now``."""
    checker = checker or MediaChecker()
    info = store.content_info()
    today = board_today(now, info.applied_at)
    hits = store.search_jobs("", radius_km=None, limit=job_limit, today=today)
    schedule, source, error = load_schedule(store.document("board_schedule"))
    found_videos, problems = playable_videos(store.courses(), Path(media_dir), checker) if videos else ([], [])
    rows = board_rows(hits, today)
    return BoardContent(
        feed_id=info.feed_id, version=info.version, jobs=rows,
        job_total=store.count_jobs("", radius_km=None, today=today), counts=job_counts(store, today),
        policies=store.policies(today=today), events=store.events(now=now), videos=found_videos, media_problems=problems, schedule=schedule,
        schedule_source=source, schedule_error=error)


def board_announcements(store: Any, now: dt.datetime) -> tuple[list[Announcement], list[Announcement]]:
    """(urgent, normal) announcements for the board open at ``now``; none while the clock is unset.

    An announcement's window cannot be checked against a clock that is wrong, and an urgent
    one would otherwise hold the whole screen with no known end.
    """
    if not clock_is_plausible(now):
        return [], []
    found = store.announcements("board", now)
    return [a for a in found if a.priority == "urgent"], [a for a in found if a.priority != "urgent"]
