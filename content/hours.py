"""Opening hours have one source, the station's settings (``station.opening_hours``): every screen
shows that text. Feed content that states the station's hours too (an announcement such as
``服务站办公时间：周一至周五 9:00-17:30``) is compared with it here, for the doctor to warn
when the two disagree. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HOURS_WORDS = ("办公时间", "服务时间", "开放时间", "营业时间", "工作时间", "上班时间")
_TIME = r"(\d{1,2})\s*[:：点]\s*(\d{2})?"
_RANGE = re.compile(_TIME + r"\s*(?:-|－|—|–|~|～|至|到)\s*" + _TIME)


@dataclass(frozen=True)
class HoursMention:
    """A feed record that states opening hours other than the station's."""

    kind: str  # 通知 / 政策
    item_id: str
    says: str  # the ranges it gives, as ``9:00-17:30``


def time_ranges(text: str) -> tuple[str, ...]:
    """The clock ranges in ``text``, normalised (``9:00-12:00``), in order, each once."""
    found: list[str] = []
    for h1, m1, h2, m2 in _RANGE.findall(text):
        if int(h1) > 24 or int(h2) > 24:
            continue
        span = f"{int(h1)}:{m1 or '00'}-{int(h2)}:{m2 or '00'}"
        if span not in found:
            found.append(span)
    return tuple(found)


def stated_hours(text: str) -> tuple[str, ...]:
    """The ranges ``text`` gives as the station's hours (after one of :data:`HOURS_WORDS`); () if none."""
    for word in HOURS_WORDS:
        at = text.find(word)
        if at >= 0:
            return time_ranges(text[at:])
    return ()


def disagreements(opening_hours: str, records: list[tuple[str, str, str]]) -> list[HoursMention]:
    """The records (kind, id, text) whose stated hours are not the settings' ``opening_hours``."""
    own = set(time_ranges(opening_hours))
    out: list[HoursMention] = []
    for kind, item_id, text in records:
        stated = stated_hours(text)
        if stated and set(stated) != own:
            out.append(HoursMention(kind, item_id, "、".join(stated)))
    return out
