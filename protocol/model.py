"""The content model: typed records for jobs, policies, events, courses and announcements.

Records are validated when they enter the station (from the feed, a CSV/JSON import or
the sample generator). Text from outside is untrusted: control characters are removed and
lengths are bounded here, once, so that every screen and slip downstream can rely on it.
:func:`validate_records` checks a batch record by record and returns the good ones with a
reason for each one refused or clipped; it never fails the batch silently.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

JOB_CATEGORIES = ("普工", "技工", "服务", "餐饮", "保洁", "保安", "家政", "物流", "建筑", "农业",
                  "文员", "销售", "教育", "医护", "其他")
JOB_KINDS = ("全职", "兼职", "零工")
SALARY_UNITS = ("月", "日", "时", "件")
JOB_SOURCES = ("企业", "公益性岗位", "事业单位", "国企", "以工代赈项目")
POLICY_CATEGORIES = ("就业补贴", "创业扶持", "培训补贴", "社保", "返乡创业", "援助")
EVENT_KINDS = ("招聘会", "培训班")
GENDERS = ("不限", "男", "女")
EDUCATION_LEVELS = ("不限", "小学", "初中", "高中/中专", "大专", "本科及以上")

# Control characters (C0, DEL, C1) and other format/unassigned/private-use characters are
# removed; newlines and tabs in long text become plain line breaks / spaces.
_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0xFE00, 0xFE0F), (0x1F900, 0x1F9FF))


_EMOJI_RE = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _EMOJI_RANGES) + "]")


def _is_emoji(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _EMOJI_RANGES)


def clean_text(value: Any, *, multiline: bool = False) -> str:
    """Untrusted text -> safe text: no control characters, no emoji, normalised (NFC), trimmed."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    if text.isprintable() and not _EMOJI_RE.search(text):
        # the usual case, checked at C speed: no control, format, unassigned or emoji character
        # (isprintable() is False for all of those and for tabs, newlines and non-ASCII spaces)
        return _collapse(text, multiline)
    out = []
    for ch in text:
        if ch == "\n" and multiline:
            out.append(ch)
        elif ch in "\t\r\n":
            out.append(" ")
        elif unicodedata.category(ch) in _CONTROL_CATEGORIES or _is_emoji(ch):
            continue
        else:
            out.append(ch)
    return _collapse("".join(out), multiline)


def _collapse(text: str, multiline: bool) -> str:
    if multiline:
        text = "\n".join(re.sub(r"[ \u3000]+", " ", line).strip() for line in text.split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = re.sub(r"[ \u3000]+", " ", text)
    return text.strip()


def _line(limit: int) -> BeforeValidator:
    return BeforeValidator(lambda v: clean_text(v)[:limit] if v is not None else v)


def _block(limit: int) -> BeforeValidator:
    return BeforeValidator(lambda v: clean_text(v, multiline=True)[:limit] if v is not None else v)


Line = Annotated[str, _line(200)]
Title = Annotated[str, _line(60), Field(min_length=1)]
Name = Annotated[str, _line(80)]
Text = Annotated[str, _block(4000)]
Phone = Annotated[str, _line(20), Field(pattern=r"^[0-9+\- ]*$")]


class Record(BaseModel):
    """Base of every content record: an id, a version, strict fields, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    kind_name: ClassVar[str] = "record"
    # Which text fields are clipped (a clipped value is kept, with a warning for the batch).
    clip_limits: ClassVar[dict[str, int]] = {}

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
    version: int = Field(default=1, ge=1)


class Job(Record):
    kind_name: ClassVar[str] = "job"
    clip_limits: ClassVar[dict[str, int]] = {"title": 60, "employer": 80, "requirements": 4000,
                                              "benefits": 4000, "address": 200}

    title: Title
    employer: Name = Field(min_length=1)
    category: Literal[JOB_CATEGORIES]  # type: ignore[valid-type]
    kind: Literal[JOB_KINDS] = "全职"  # type: ignore[valid-type]
    work_date: dt.date | None = None  # 零工: the day of the gig
    salary_min: int = Field(ge=0, le=1_000_000)
    salary_max: int = Field(ge=0, le=1_000_000)
    salary_unit: Literal[SALARY_UNITS] = "月"  # type: ignore[valid-type]
    headcount: int = Field(default=1, ge=1, le=100_000)
    address: Line = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    age_min: int | None = Field(default=None, ge=14, le=100)
    age_max: int | None = Field(default=None, ge=14, le=100)
    gender: Literal[GENDERS] = "不限"  # type: ignore[valid-type]
    education: Literal[EDUCATION_LEVELS] = "不限"  # type: ignore[valid-type]
    requirements: Text = ""
    benefits: Text = ""
    contact_name: Name = ""
    contact_phone: Phone = ""
    published: dt.date
    valid_until: dt.date
    source: Literal[JOB_SOURCES] = "企业"  # type: ignore[valid-type]
    url: Annotated[str, Field(max_length=500, pattern=r"^(https?://\S+)?$")] = ""

    @model_validator(mode="after")
    def _consistent(self) -> Job:
        if self.salary_max < self.salary_min:
            raise ValueError(f"salary_max ({self.salary_max}) is below salary_min ({self.salary_min})")
        if self.age_min is not None and self.age_max is not None and self.age_max < self.age_min:
            raise ValueError(f"age_max ({self.age_max}) is below age_min ({self.age_min})")
        if self.valid_until < self.published:
            raise ValueError(f"valid_until ({self.valid_until}) is before published ({self.published})")
        if self.kind == "零工" and self.work_date is None:
            raise ValueError("a 零工 job needs work_date")
        if not (math.isfinite(self.latitude) and math.isfinite(self.longitude)):
            raise ValueError("latitude/longitude must be finite numbers")
        return self

    def is_open(self, today: dt.date) -> bool:
        """Shown only from its publish date through its valid-until date; a 零工 no longer once its
        work date has gone (a day's work yesterday is no use to anyone today)."""
        return self.published <= today <= self.valid_until and (self.work_date is None or today <= self.work_date)

    def salary_text(self) -> str:
        """``4500-6000元/月``, or ``200元/日`` when min == max."""
        if self.salary_min == self.salary_max:
            return f"{self.salary_min}元/{self.salary_unit}"
        return f"{self.salary_min}-{self.salary_max}元/{self.salary_unit}"

    def age_text(self) -> str:
        if self.age_min is None and self.age_max is None:
            return "年龄不限"
        if self.age_max is None:
            return f"{self.age_min}岁以上"
        if self.age_min is None:
            return f"{self.age_max}岁以下"
        return f"{self.age_min}-{self.age_max}岁"

    def accepts(self, age: int | None, gender: str | None) -> bool:
        """Whether a person of ``age`` and ``gender`` (男/女) is eligible; None = unknown = not checked."""
        if age is not None:
            if self.age_min is not None and age < self.age_min:
                return False
            if self.age_max is not None and age > self.age_max:
                return False
        return not (gender in ("男", "女") and self.gender != "不限" and self.gender != gender)


class Policy(Record):
    kind_name: ClassVar[str] = "policy"
    clip_limits: ClassVar[dict[str, int]] = {"title": 60, "summary": 4000, "body": 4000}

    title: Title
    category: Literal[POLICY_CATEGORIES]  # type: ignore[valid-type]
    summary: Text = ""
    body: Text = ""
    who_qualifies: Text = ""
    how_to_apply: Text = ""
    materials: Text = ""
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    hotline: Phone = ""

    def is_open(self, today: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= today) and (
            self.effective_to is None or today <= self.effective_to)


class Event(Record):
    kind_name: ClassVar[str] = "event"
    clip_limits: ClassVar[dict[str, int]] = {"title": 60}

    title: Title
    event_kind: Literal[EVENT_KINDS] = "招聘会"  # type: ignore[valid-type]
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: Line = ""
    organiser: Line = ""
    employers: int = Field(default=0, ge=0, le=100_000)
    job_count: int = Field(default=0, ge=0, le=1_000_000)
    registration: Text = ""

    @model_validator(mode="after")
    def _consistent(self) -> Event:
        if self.ends_at < self.starts_at:
            raise ValueError(f"ends_at ({self.ends_at}) is before starts_at ({self.starts_at})")
        return self

    def is_open(self, now: dt.datetime) -> bool:
        return now <= self.ends_at


class MediaRef(BaseModel):
    """A media file addressed by its SHA-256 (``media/<sha256>.<ext>`` in the feed and the cache)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size: int = Field(ge=0)
    type: Annotated[str, Field(pattern=r"^[a-z]+/[a-z0-9.+-]+$")] = "video/mp4"
    ext: Annotated[str, Field(pattern=r"^[a-z0-9]{1,5}$")] = "mp4"

    @property
    def filename(self) -> str:
        return f"{self.sha256}.{self.ext}"


class Course(Record):
    kind_name: ClassVar[str] = "course"
    clip_limits: ClassVar[dict[str, int]] = {"title": 60}

    title: Title
    category: Line = "职业技能"
    duration_s: int = Field(ge=1, le=86_400)
    media: MediaRef
    thumbnail: MediaRef | None = None
    subtitle: Text = ""


class Announcement(Record):
    kind_name: ClassVar[str] = "announcement"
    clip_limits: ClassVar[dict[str, int]] = {"text": 300}

    text: Annotated[str, _line(300), Field(min_length=1)]
    priority: Literal["normal", "urgent"] = "normal"
    starts_at: dt.datetime
    ends_at: dt.datetime
    target: Literal["kiosk", "board", "both"] = "both"

    @model_validator(mode="after")
    def _consistent(self) -> Announcement:
        if self.ends_at < self.starts_at:
            raise ValueError(f"ends_at ({self.ends_at}) is before starts_at ({self.starts_at})")
        return self

    def is_open(self, now: dt.datetime) -> bool:
        return self.starts_at <= now <= self.ends_at

    def shows_on(self, surface: Literal["kiosk", "board"]) -> bool:
        return self.target in (surface, "both")


RECORD_TYPES: dict[str, type[Record]] = {
    cls.kind_name: cls for cls in (Job, Policy, Event, Course, Announcement)
}


@dataclass
class Rejection:
    """A record refused (``clipped`` False) or kept with a change (``clipped`` True), and why."""

    kind: str
    index: int
    id: str
    reason: str
    clipped: bool = False

    def __str__(self) -> str:
        verb = "clipped" if self.clipped else "rejected"
        return f"{self.kind} #{self.index} ({self.id or 'no id'}) {verb}: {self.reason}"


@dataclass
class ContentSet:
    """One whole, consistent set of content: what a feed version or an import carries."""

    jobs: list[Job] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    # Named JSON documents carried with the feed, e.g. "board_schedule" (the board's playlist).
    documents: dict[str, Any] = field(default_factory=dict)

    def all_records(self) -> list[Record]:
        return [*self.jobs, *self.policies, *self.events, *self.courses, *self.announcements]

    def __len__(self) -> int:
        return len(self.all_records())


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def validate_records(kind: str, rows: list[dict[str, Any]], *, today: dt.date | None = None
                     ) -> tuple[list[Record], list[Rejection]]:
    """Validate ``rows`` of one ``kind`` one by one.

    Returns the good records and a :class:`Rejection` for every row refused or clipped.
    Jobs already past ``valid_until`` on ``today`` are refused (they would never show).
    """
    cls = RECORD_TYPES[kind]
    good: list[Record] = []
    problems: list[Rejection] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        rid = str(row.get("id", "")) if isinstance(row, dict) else ""
        if not isinstance(row, dict):
            problems.append(Rejection(kind, index, "", f"not an object: {type(row).__name__}"))
            continue
        try:
            record = cls.model_validate(row)
        except ValidationError as exc:
            problems.append(Rejection(kind, index, rid[:64], _reason(exc)))
            continue
        if record.id in seen:
            problems.append(Rejection(kind, index, record.id, "duplicate id in this batch"))
            continue
        if today is not None and isinstance(record, Job) and record.valid_until < today:
            problems.append(Rejection(kind, index, record.id, f"expired: valid_until {record.valid_until}"))
            continue
        for name, limit in cls.clip_limits.items():
            raw = row.get(name)
            if isinstance(raw, str) and len(clean_text(raw, multiline=True)) > limit:
                problems.append(Rejection(kind, index, record.id, f"{name} clipped to {limit} characters",
                                          clipped=True))
        seen.add(record.id)
        good.append(record)
    return good, problems
