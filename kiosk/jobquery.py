"""The job search a resident builds with taps: pinyin letters, filter chips, and how hits read.

:class:`JobFilter` is the state behind the jobs screen (letters typed on the big keyboard,
the category/distance/kind/salary chips) and turns into the keyword arguments of
``Store.search_jobs``. The helpers below format a hit the same way on every screen.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass, replace
from typing import Any

from common.geo import distance_text  # one formatter for kiosk, board and slips
from protocol.jobfilter import when_text
from protocol.model import JOB_CATEGORIES, JOB_KINDS

MAX_LETTERS = 12
MAX_HANZI = 8
ALL = "全部"

# (value, chip label). Distances in km; None = no limit.
DISTANCES: tuple[tuple[float | None, str], ...] = ((3.0, "3公里内"), (15.0, "15公里内"), (None, "不限距离"))
KINDS: tuple[tuple[str | None, str], ...] = ((None, "全部类型"), *((k, k) for k in JOB_KINDS))
SALARIES: tuple[tuple[int | None, str], ...] = ((None, "工资不限"), (3000, "3000元以上"), (5000, "5000元以上"),
                                                 (8000, "8000元以上"))
CATEGORIES: tuple[tuple[str | None, str], ...] = ((None, "全部工种"), *((c, c) for c in JOB_CATEGORIES))


@dataclass(frozen=True)
class JobFilter:
    letters: str = ""
    category: str | None = None
    radius_km: float | None = 3.0
    kind: str | None = None
    min_salary: int | None = None
    when: str | None = None  # "today" for 今日零工

    @property
    def written(self) -> bool:
        """The query is hanzi written on the handwriting pad (not pinyin initials)."""
        return bool(self.letters) and not self.letters.isascii()

    def type_letter(self, letter: str) -> JobFilter:
        letter = letter.lower()
        typed = "" if self.written else self.letters  # pinyin after hanzi starts a new query
        if letter not in string.ascii_lowercase or len(letter) != 1 or len(typed) >= MAX_LETTERS:
            return self
        return replace(self, letters=typed + letter)

    def add_character(self, char: str) -> JobFilter:
        """A hanzi chosen from the handwriting pad's candidates (pinyin letters give way to it)."""
        written = self.letters if self.written else ""
        if len(char) != 1 or not is_hanzi(char) or len(written) >= MAX_HANZI:
            return self
        return replace(self, letters=written + char)

    def erase(self) -> JobFilter:
        return replace(self, letters=self.letters[:-1])

    def clear_letters(self) -> JobFilter:
        return replace(self, letters="")

    def with_(self, **changes: Any) -> JobFilter:
        return replace(self, **changes)

    def search_kwargs(self, *, today: dt.date | None = None, age: int | None = None,
                      gender: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``Store.search_jobs`` / ``count_jobs``."""
        kwargs: dict[str, Any] = {
            "radius_km": self.radius_km, "category": self.category, "kind": self.kind,
            "when": self.when, "min_salary": self.min_salary,
        }
        if today is not None:
            kwargs["today"] = today
        if age is not None:
            kwargs["age"] = age
        if gender is not None:
            kwargs["gender"] = gender
        return kwargs

    def describe(self) -> str:
        """The active filters in words, for the results line and for reading aloud."""
        parts = []
        if self.written:
            parts.append(f"“{self.letters}”")
        elif self.letters:
            parts.append(f"拼音“{self.letters.upper()}”")
        if self.category:
            parts.append(self.category)
        if self.kind:
            parts.append(self.kind)
        if self.when == "today":
            parts.append("今天")
        parts.append("不限距离" if self.radius_km is None else f"{self.radius_km:g}公里内")
        if self.min_salary:
            parts.append(f"{self.min_salary}元以上")
        return "，".join(parts)


def is_hanzi(char: str) -> bool:
    """A CJK unified ideograph (the basic block and extension A)."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def job_when_text(job: Any, today: dt.date) -> str:
    """For a 零工: ``今天`` / ``明天`` / ``11月25日``; empty for other jobs."""
    return when_text(job, today)


def job_speech(job: Any, distance_km: float | None = None) -> str:
    """What 朗读 says for a job."""
    parts = [job.title, f"单位：{job.employer}", f"工资：{job.salary_text()}"]
    if distance_km is not None:
        parts.append(f"离这里{distance_text(distance_km)}")
    if job.address:
        parts.append(f"地址：{job.address}")
    parts.append(f"要求：{job.age_text()}，性别{job.gender}，学历{job.education}")
    if job.requirements:
        parts.append(job.requirements)
    if job.contact_phone:
        parts.append(f"联系电话：{job.contact_phone}")
    return "。".join(parts)


def job_qr_text(job: Any, station_name: str) -> str:
    """What the job's QR code carries: its web page if any, else the facts to keep on a phone."""
    if job.url:
        return job.url
    lines = [job.title, job.employer, job.salary_text()]
    if job.address:
        lines.append(f"地址：{job.address}")
    if job.contact_phone:
        lines.append(f"电话：{job.contact_phone}")
    lines.append(f"来自：{station_name}")
    return "\n".join(lines)
