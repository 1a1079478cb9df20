"""The board schedule (大屏节目单) as staff fill it in: one row per segment (节目, 标题, 时长,
时段), the board's 开机时段, and a preview of a day's running order; read from and written to
the feed's ``board_schedule`` document (its shape: display/SCHEDULE.md). Free of Flask.

Time windows are written as people write them: ``11:30-13:30``, several with 、 or ，, full-width
digits and ``：`` accepted, ``工作日`` (Monday to Friday), ``周末`` or ``周一至周五`` before a range;
an empty 时段 is all day. Durations: ``30``, ``30秒``, ``2分钟``, ``1分30秒``. The bounds are the
board's own (display/schedule.py): 3 s to 60 min per segment, 1 to 100 segments, 40 characters
of title.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

KINDS = {"jobs": "岗位信息", "policy": "政策信息", "event": "招聘会与培训", "video": "培训视频", "station": "驿站介绍"}
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
MIN_S, MAX_S, MAX_SEGMENTS, MAX_TITLE = 3, 3600, 100, 40
DURATION_RULE = "3 秒到 60 分钟，如 30、30秒、2分钟、1分30秒"
WINDOW_RULE = "不填为全天；如 11:30-13:30，多段用顿号隔开，可在前面写 工作日、周末 或 周一至周五"
_DAY_NAMES = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}
_RANGE = re.compile(r"^(?:(?P<days>工作日|周末|每天|(?:周|星期)[一二三四五六日天](?:(?:至|到|-)(?:周|星期)?[一二三四五六日天])?)\s*)?"
                    r"(?P<start>\d{1,2}:\d{2})\s*(?:-|~|至|到)\s*(?P<end>\d{1,2}:\d{2})$")


class BoardFormError(ValueError):
    """Rows that cannot make a schedule; ``errors`` maps a field ("row-2-seconds", "on_hours") to a sentence."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("；".join(errors.values()))
        self.errors = errors


@dataclass
class Row:
    kind: str = ""
    title: str = ""
    seconds: str = ""
    when: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # what the form does not show (id, page_s …), kept


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).strip()


def parse_seconds(text: str) -> int:
    """``1分30秒`` is 90; :class:`ValueError` with the rule otherwise."""
    value = _plain(text).replace(" ", "")
    match = re.fullmatch(r"(?:(\d+)(?:分钟|分))?(?:(\d+)秒?)?", value)
    if not value or not match or not any(match.groups()):
        raise ValueError(f"须为时长，{DURATION_RULE}")
    seconds = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
    if not MIN_S <= seconds <= MAX_S:
        raise ValueError(f"须在 {DURATION_RULE.split('，')[0]}之间，现在是 {seconds} 秒")
    return seconds


def _days(text: str | None) -> list[int]:
    if not text or text == "每天":
        return [1, 2, 3, 4, 5, 6, 7]
    if text == "工作日":
        return [1, 2, 3, 4, 5]
    if text == "周末":
        return [6, 7]
    names = [_DAY_NAMES[c] for c in re.findall(r"[一二三四五六日天]", text)]
    if len(names) == 1:
        return names
    first, last = names
    return list(range(first, last + 1)) if first <= last else list(range(first, 8)) + list(range(1, last + 1))


def _time(text: str) -> str:
    hour, minute = (int(part) for part in text.split(":"))
    if not (0 <= hour <= 23 and 0 <= minute <= 59) and (hour, minute) != (24, 0):
        raise ValueError(f"{text} 不是一天中的时间（00:00 到 24:00）")
    return f"{hour:02d}:{minute:02d}"


def parse_windows(text: str) -> list[dict[str, Any]]:
    """``工作日 11:30-13:30、18:00-20:00`` as the schedule's windows; [] for all day."""
    value = _plain(text)
    if not value or value in ("全天", "每天"):
        return []
    windows = []
    for part in filter(None, (p.strip() for p in re.split(r"[、,;；]", value))):
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"看不懂“{part[:30]}”；{WINDOW_RULE}")
        start, end = _time(match.group("start")), _time(match.group("end"))
        if start == end:
            raise ValueError(f"“{part[:30]}”开始和结束是同一时间")
        window: dict[str, Any] = {"from": start, "to": end}
        days = _days(match.group("days"))
        if days != [1, 2, 3, 4, 5, 6, 7]:
            window["days"] = days
        windows.append(window)
    return windows


def windows_text(windows: list[dict[str, Any]] | tuple[Any, ...]) -> str:
    """The schedule's windows as the form shows them (the inverse of :func:`parse_windows`)."""
    parts: list[str] = []
    for w in windows or ():
        days = list(w.get("days") or [1, 2, 3, 4, 5, 6, 7])
        prefix = ""
        if days == [1, 2, 3, 4, 5]:
            prefix = "工作日 "
        elif days == [6, 7]:
            prefix = "周末 "
        elif len(days) == 1:
            prefix = WEEKDAYS[days[0] - 1] + " "
        elif days != [1, 2, 3, 4, 5, 6, 7] and days == list(range(days[0], days[-1] + 1)):
            prefix = f"{WEEKDAYS[days[0] - 1]}至{WEEKDAYS[days[-1] - 1]} "
        elif days != [1, 2, 3, 4, 5, 6, 7]:  # days that are not one range: a window per day
            parts.extend(f"{WEEKDAYS[d - 1]} {w['from']}-{w['to']}" for d in days)
            continue
        parts.append(f"{prefix}{w['from']}-{w['to']}")
    return "、".join(parts)


def seconds_text(seconds: float) -> str:
    seconds = int(seconds)
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest}秒"
    return f"{minutes}分钟" if not rest else f"{minutes}分{rest}秒"


def rows_of(document: dict[str, Any] | None) -> tuple[list[Row], str]:
    """A stored schedule as form rows and its 开机时段 text."""
    document = document or {}
    rows = []
    for seg in document.get("segments") or []:
        if not isinstance(seg, dict):
            continue
        extra = {k: v for k, v in seg.items() if k not in ("kind", "title", "seconds", "when")}
        rows.append(Row(str(seg.get("kind", "")), str(seg.get("title", "")), seconds_text(seg.get("seconds", 0)),
                        windows_text(seg.get("when") or []), extra))
    return rows, windows_text(document.get("on_hours") or [])


def _one_row(number: int, row: Row, errors: dict[str, str]) -> dict[str, Any]:
    segment: dict[str, Any] = {**row.extra, "kind": row.kind}
    name = f"第 {number} 行"
    if row.kind not in KINDS:
        errors[f"row-{number}-kind"] = f"{name} 节目：请从列表中选择"
    title = _plain(row.title)
    if len(title) > MAX_TITLE:
        errors[f"row-{number}-title"] = f"{name} 标题：最多 {MAX_TITLE} 字，现在有 {len(title)} 字"
    elif title:
        segment["title"] = title
    else:
        segment.pop("title", None)
    try:
        segment["seconds"] = parse_seconds(row.seconds)
    except ValueError as exc:
        errors[f"row-{number}-seconds"] = f"{name} 时长：{exc}"
    try:
        when = parse_windows(row.when)
    except ValueError as exc:
        errors[f"row-{number}-when"] = f"{name} 时段：{exc}"
    else:
        if when:
            segment["when"] = when
    if row.kind != "jobs":  # the jobs segment's own paging settings mean nothing to another kind
        segment.pop("page_s", None)
        segment.pop("scroll_px_s", None)
    return segment


def document_of(rows: list[Row], on_hours: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``board_schedule`` document for the rows (blank rows skipped; the urgent rule and
    anything else the form does not show are kept from ``previous``); :class:`BoardFormError`
    names every mistake by row and column."""
    errors: dict[str, str] = {}
    segments = []
    ids: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if not (row.kind or _plain(row.title) or _plain(row.seconds) or _plain(row.when)):
            continue
        segment = _one_row(number, row, errors)
        sid = str(segment.get("id", ""))
        if sid and sid in ids:
            segment.pop("id")  # a copied row: the board numbers it itself
        ids.add(sid)
        segments.append(segment)
    if not segments and not errors:
        errors["rows"] = "节目单至少要有一个节目"
    if len(segments) > MAX_SEGMENTS:
        errors["rows"] = f"节目单最多 {MAX_SEGMENTS} 个节目，现在有 {len(segments)} 个"
    document: dict[str, Any] = {k: v for k, v in (previous or {}).items() if k not in ("segments", "on_hours")}
    document["version"] = 1
    try:
        hours = parse_windows(on_hours)
    except ValueError as exc:
        errors["on_hours"] = f"开机时段：{exc}"
    else:
        if hours:
            document["on_hours"] = hours
    if errors:
        raise BoardFormError(errors)
    document["segments"] = segments
    return document


def _contains(window: dict[str, Any], weekday: int, minute: int) -> bool:
    start, end = (int(window[k][:2]) * 60 + int(window[k][3:]) for k in ("from", "to"))
    days = window.get("days") or [1, 2, 3, 4, 5, 6, 7]
    if start <= end:
        return weekday in days and start <= minute < end
    if minute >= start:
        return weekday in days
    return minute < end and (weekday - 2) % 7 + 1 in days


def day_preview(document: dict[str, Any], weekday: int) -> list[dict[str, Any]]:
    """A day's running order: each stretch of the day with the same segments, as
    {"from", "to", "segments": [(节目, 标题, 时长)], "loop": "一轮 …"}; the board shows its
    standby card where no segment (or no 开机时段) applies."""
    windows = [w for seg in document.get("segments", []) for w in seg.get("when", [])] + list(
        document.get("on_hours") or [])
    cuts = {0, 24 * 60}
    for w in windows:
        for key in ("from", "to"):
            cuts.add(min(int(w[key][:2]) * 60 + int(w[key][3:]), 24 * 60))
    bounds = sorted(cuts)
    out: list[dict[str, Any]] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        hours = document.get("on_hours") or []
        on = not hours or any(_contains(w, weekday, start) for w in hours)
        playing = [seg for seg in document.get("segments", [])
                   if on and (not seg.get("when") or any(_contains(w, weekday, start) for w in seg["when"]))]
        shown = [(KINDS.get(seg["kind"], seg["kind"]), seg.get("title", ""), seconds_text(seg["seconds"]))
                 for seg in playing]
        loop = f"一轮 {seconds_text(sum(seg['seconds'] for seg in playing))}" if playing else ""
        if out and out[-1]["segments"] == shown:
            out[-1]["to"] = _hhmm(end)
            continue
        out.append({"from": _hhmm(start), "to": _hhmm(end), "segments": shown, "loop": loop})
    return out


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
