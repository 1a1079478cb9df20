"""Static phone pages (H5) written beside a feed at each publication.

For a feed in ``feeds/<feed_id>/`` the pages of version N written on day D are in
``mobile/<N>-<YYYYMMDD>/`` (a job closes, a gig's day passes: ``yizhan hub refresh`` writes
them again each day, :func:`hub.publish.refresh_pages`) and ``m`` is turned to point at them
in one rename, so a phone never sees half a set; the
previous version's pages stay (a page open on a phone still finds its links) and older ones
are removed. They are served as the feed's files are (``/feeds/<feed_id>/m/…``, by nginx or
the hub), plain HTML and one stylesheet, no script, nothing fetched from elsewhere.

The stations come from the feed's ``stations`` document: a list of
``{"id", "name", "address", "latitude", "longitude", "opening_hours", "hotline"}``
(the public facts a resident needs to find a station). Per station, ``m/s/<id>/``:

- ``index.html``: the station (address, hours, phone) and its jobs near it, with the kiosk's
  filters as links (工种, 距离 3/15 公里/不限, 今日零工), each combination its own page
  ``c<category>-r<distance>-<a|t>.html`` (at most :data:`LIST_LIMIT` jobs, in the kiosk's order);
- ``job-<id>.html``: a job with 一键拨号 (a ``tel:`` link) and the station's address and hours;
- 进度查询: a form the hub answers (``/m/progress``, :mod:`hub.mobile.progress`).

Per feed, ``m/``: the list of stations, ``policies.html``, ``events.html``, ``videos.html``
(the training videos from the feed's own ``media/``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.geo import distance_text as _distance_text  # the kiosk's, the board's and the slip's
from protocol.jobfilter import JobRules, placed_jobs, when_text
from protocol.model import JOB_CATEGORIES, ContentSet, Event, Job, Line, Name, Phone
from protocol.phone import LINK_NAME, job_page_name, station_path

MOBILE_DIR = "mobile"
STATIONS_DOCUMENT = "stations"
LIST_LIMIT = 50  # the kiosk's page of results
PAGE_BUDGET = 100 * 1024  # a station's first page and its stylesheet, over 3G on a cheap phone
PROGRESS_PATH = "/m/progress"
STATIONS_INDEX = "stations.json"

# The kiosk's chips (kiosk.jobquery): every category, three distances, all days or 今日零工.
CATEGORY_CHIPS: tuple[tuple[str | None, str], ...] = ((None, "全部工种"), *((c, c) for c in JOB_CATEGORIES))
DISTANCE_CHIPS: tuple[tuple[float | None, str], ...] = ((3.0, "3公里内"), (15.0, "15公里内"), (None, "不限距离"))
WHEN_CHIPS: tuple[tuple[str | None, str, str], ...] = ((None, "a", "全部日期"), ("today", "t", "今日零工"))

_TEMPLATES = Path(__file__).parent / "templates"


class StationProfile(BaseModel):
    """A station as its phone page shows it (public facts only)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: Name = Field(min_length=1)
    address: Line = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    opening_hours: Line = ""
    hotline: Phone = ""


@dataclass
class MobileResult:
    folder: Path | None = None
    pages: int = 0
    bytes_written: int = 0
    stations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # Chinese, one line per station entry refused


def read_stations(document: Any) -> tuple[list[StationProfile], list[str]]:
    """The feed's ``stations`` document as profiles, and a Chinese line for each entry refused."""
    if document is None:
        return [], []
    if not isinstance(document, list):
        return [], ["站点资料（stations 文档）应是一个列表"]
    found: list[StationProfile] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(document, start=1):
        try:
            profile = StationProfile.model_validate(entry)
        except ValidationError as exc:
            fields = "、".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})) or "格式"
            problems.append(f"站点资料第 {index} 条不能用：{fields} 不对")
            continue
        if profile.id in seen:
            problems.append(f"站点资料第 {index} 条不能用：站点编号 {profile.id} 重复")
            continue
        seen.add(profile.id)
        found.append(profile)
    return found, problems


def station_index(feeds_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Every station the published phone pages know (id -> name, hotline, latitude, longitude),
    from each feed's ``m/stations.json`` (the first feed naming a station wins)."""
    found: dict[str, dict[str, Any]] = {}
    for index in sorted(Path(feeds_dir).glob(f"*/{LINK_NAME}/{STATIONS_INDEX}")):
        try:
            entries = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(entries, dict):
            for station_id, entry in entries.items():
                if isinstance(entry, dict):
                    found.setdefault(str(station_id), entry)
    return found


def station_page_path(feed_id: str, station_id: str) -> str:
    """The station's phone page under the hub's address (what the board's and slips' QR carry)."""
    return f"/feeds/{feed_id}/{station_path(station_id)}"


def list_page_name(category_index: int, distance_index: int, when_key: str) -> str:
    return f"c{category_index}-r{distance_index}-{when_key}.html"


def write_pages(content: ContentSet, feed_dir: str | Path, *, version: int, today: dt.date,
                now: dt.datetime, keep_previous: bool = True) -> MobileResult:
    """Write version ``version``'s phone pages for ``content`` beside the feed in ``feed_dir``
    and point ``m`` at them. ``now`` (local time) decides which events are still to come."""
    feed_dir = Path(feed_dir)
    result = MobileResult()
    stations, result.problems = read_stations(content.documents.get(STATIONS_DOCUMENT))
    name = pages_name(version, today)
    target = feed_dir / MOBILE_DIR / name
    staging = feed_dir / MOBILE_DIR / f".{name}.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    site = _Site(content, version, today, now, stations)

    def write(relative: str, text: str) -> None:
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        result.pages += 1
        result.bytes_written += len(data)

    write("style.css", (_TEMPLATES / "style.css").read_text(encoding="utf-8"))
    # The stations' public phone numbers, for the 进度查询 answer (hub.mobile.progress).
    write(STATIONS_INDEX, json.dumps({s.id: {"name": s.name, "hotline": s.hotline, "latitude": s.latitude,
                                             "longitude": s.longitude} for s in stations}, ensure_ascii=False))
    for relative, text in site.feed_pages():
        write(relative, text)
    for station in stations:
        for relative, text in site.station_pages(station):
            write(f"s/{station.id}/{relative}", text)
        result.stations.append(station.id)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    _point_link(feed_dir, name)
    _remove_old(feed_dir / MOBILE_DIR, name, keep_previous)
    result.folder = target
    return result


def pages_name(version: int, today: dt.date) -> str:
    """The folder of a version's pages as written on ``today`` (they change with the day too)."""
    return f"{version}-{today:%Y%m%d}"


def pages_are_current(feed_dir: str | Path, version: int, today: dt.date) -> bool:
    """Whether ``m`` shows ``version``'s pages written on ``today``."""
    link = Path(feed_dir) / LINK_NAME
    return link.is_symlink() and Path(os.readlink(link)).name == pages_name(version, today)


def _point_link(feed_dir: Path, name: str) -> None:
    link = feed_dir / LINK_NAME
    aside = feed_dir / f".{LINK_NAME}.{name}"
    aside.unlink(missing_ok=True)
    aside.symlink_to(f"{MOBILE_DIR}/{name}")
    os.replace(aside, link)


def _order(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split("-"))


def _remove_old(folder: Path, name: str, keep_previous: bool) -> None:
    names = sorted((p.name for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"\d+-\d{8}", p.name)), key=_order)
    older = [n for n in names if _order(n) < _order(name)]
    keep = {name, *(older[-1:] if keep_previous else [])}
    for other in names:
        if other not in keep:
            shutil.rmtree(folder / other, ignore_errors=True)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _multiline(text: str) -> str:
    return "<br>".join(_e(line) for line in text.split("\n"))


def _tel(phone: str, label: str, css: str = "") -> str:
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    if not digits:
        return ""
    klass = f' class="{css}"' if css else ""
    return f'<a{klass} href="tel:{_e(digits)}">{_e(label)}</a>'


def _same_kind(now: dt.datetime, other: dt.datetime) -> dt.datetime:
    """``now`` comparable with ``other`` (events may carry a time zone or not)."""
    if other.tzinfo is None:
        return now.astimezone().replace(tzinfo=None) if now.tzinfo else now
    return now if now.tzinfo else now.astimezone()


def _event_open(event: Event, now: dt.datetime) -> bool:
    return _same_kind(now, event.ends_at) <= event.ends_at


class _Site:
    def __init__(self, content: ContentSet, version: int, today: dt.date, now: dt.datetime,
                 stations: list[StationProfile]) -> None:
        self.content = content
        self.version = version
        self.today = today
        self.now = now
        self.stations = stations
        self.page = Template((_TEMPLATES / "page.html").read_text(encoding="utf-8"))

    def render(self, title: str, body: str, *, depth: int, home: str = "index.html", site: str = "就业服务") -> str:
        root = "../" * depth
        footer = f"信息更新于 {self.today.month}月{self.today.day}日 · 第 {self.version} 版"
        return self.page.substitute(title=_e(title), body=body, root=root, home=_e(home), site=_e(site),
                                    footer=_e(footer))

    # -- the feed's pages -------------------------------------------------------------------

    def feed_pages(self) -> Iterable[tuple[str, str]]:
        rows = "".join(
            f'<div class="card"><h3><a href="s/{_e(s.id)}/">{_e(s.name)}</a></h3>'
            f'<p class="muted">{_e(s.address)}</p></div>' for s in self.stations)
        body = _nav("") + "<h2>服务站点</h2>" + (rows or '<p class="muted">暂无站点资料。</p>')
        yield "index.html", self.render("就业服务", body, depth=0)
        yield "policies.html", self.render("就业政策", self.policies_body(), depth=0)
        yield "events.html", self.render("招聘会和培训", self.events_body(), depth=0)
        yield "videos.html", self.render("培训视频", self.videos_body(depth=0), depth=0)

    def policies_body(self) -> str:
        parts = []
        for policy in self.content.policies:
            if not policy.is_open(self.today):
                continue
            inner = [f"<p>{_multiline(policy.summary)}</p>" if policy.summary else ""]
            for label, text in (("谁可以申请", policy.who_qualifies), ("怎么申请", policy.how_to_apply),
                                ("需要材料", policy.materials), ("详细内容", policy.body)):
                if text:
                    inner.append(f"<h3>{label}</h3><p>{_multiline(text)}</p>")
            if policy.hotline:
                inner.append(f"<p>咨询电话：{_tel(policy.hotline, policy.hotline)}</p>")
            parts.append(f"<details><summary>{_e(policy.title)}（{_e(policy.category)}）</summary>"
                         f"{''.join(inner)}</details>")
        return "".join(parts) or '<p class="muted">暂无政策信息。</p>'

    def events_body(self) -> str:
        parts = []
        events = sorted((e for e in self.content.events if _event_open(e, self.now)), key=lambda e: e.starts_at)
        for event in events:
            start, end = event.starts_at, event.ends_at
            span = f"{start.month}月{start.day}日 {start:%H:%M}-" + (
                f"{end:%H:%M}" if end.date() == start.date() else f"{end.month}月{end.day}日 {end:%H:%M}")
            facts = [f"<p>{_e(event.event_kind)} · {_e(span)}</p>"]
            if event.place:
                facts.append(f"<p>地点：{_e(event.place)}</p>")
            if event.organiser:
                facts.append(f'<p class="muted">主办：{_e(event.organiser)}</p>')
            if event.employers or event.job_count:
                facts.append(f"<p>{event.employers} 家单位，{event.job_count} 个岗位</p>")
            if event.registration:
                facts.append(f"<p>{_multiline(event.registration)}</p>")
            parts.append(f'<div class="card"><h3>{_e(event.title)}</h3>{"".join(facts)}</div>')
        return "".join(parts) or '<p class="muted">近期没有招聘会或培训班。</p>'

    def videos_body(self, depth: int) -> str:
        media = "../" * (depth + 1) + "media/"  # m/ sits beside the feed's media/
        parts = []
        for course in self.content.courses:
            poster = f' poster="{media}{_e(course.thumbnail.filename)}"' if course.thumbnail else ""
            minutes = max(1, round(course.duration_s / 60))
            parts.append(
                f'<div class="card"><h3>{_e(course.title)}</h3><p class="muted">{_e(course.category)} · 约 {minutes} 分钟</p>'
                f'<video controls preload="none"{poster} src="{media}{_e(course.media.filename)}"></video></div>')
        return "".join(parts) or '<p class="muted">暂无培训视频。</p>'

    # -- a station's pages -------------------------------------------------------------------

    def station_pages(self, station: StationProfile) -> Iterable[tuple[str, str]]:
        lists = station_lists(self.content.jobs, (station.latitude, station.longitude), self.today)
        listed: dict[str, tuple[float, Job]] = {}
        for chosen, (total, kept) in lists.items():
            listed.update((job.id, (distance, job)) for distance, job in kept)
            body = self.list_body(station, total, kept, chosen)
            page = self.render(f"{station.name} · 附近岗位", body, depth=2, site=station.name)
            yield list_page_name(*chosen), page
            if chosen == (0, 0, "a"):
                yield "index.html", page
        for distance, job in listed.values():
            yield job_page_name(job.id), self.render(job.title, self.job_body(station, job, distance), depth=2,
                                                     site=station.name)

    def station_block(self, station: StationProfile) -> str:
        lines = [f"<h3>{_e(station.name)}</h3>"]
        if station.address:
            lines.append(f"<p>地址：{_e(station.address)}</p>")
        if station.opening_hours:
            lines.append(f"<p>开放时间：{_e(station.opening_hours)}</p>")
        if station.hotline:
            lines.append(f"<p>电话：{_tel(station.hotline, station.hotline)}</p>")
        return f'<div class="card station">{"".join(lines)}</div>'

    def list_body(self, station: StationProfile, total: int, shown: list[tuple[float, Job]],
                  chosen: tuple[int, int, str]) -> str:
        ci, ri, key = chosen

        def chips(options: list[tuple[str, str]], current: str, label: str) -> str:
            mark = ' aria-current="page"'
            links = "".join(f'<li><a href="./{_e(href)}"{mark if href == current else ""}>{_e(text)}</a></li>'
                            for href, text in options)
            return f'<nav aria-label="{label}"><ul class="chips">{links}</ul></nav>'

        current = list_page_name(ci, ri, key)
        when_opts = [(list_page_name(ci, ri, k), text) for _w, k, text in WHEN_CHIPS]
        dist_opts = [(list_page_name(ci, i, key), text) for i, (_r, text) in enumerate(DISTANCE_CHIPS)]
        cat_opts = [(list_page_name(i, ri, key), text) for i, (_c, text) in enumerate(CATEGORY_CHIPS)]
        head = [self.station_block(station), _nav("../../"), _progress_form(),
                "<h2>附近岗位</h2>", chips(when_opts, current, "日期"), chips(dist_opts, current, "距离"),
                chips(cat_opts, current, "工种")]
        summary = f"共 {total} 个岗位" + (f"，显示最近的 {LIST_LIMIT} 个" if total > LIST_LIMIT else "")
        head.append(f'<p class="muted" id="count">{summary}</p>')
        if not shown:
            head.append('<p>没有符合条件的岗位，试试放宽距离或工种。</p>')
        for distance, job in shown:
            when = when_text(job, self.today)
            facts = " · ".join(x for x in (job.employer, _distance_text(distance), when) if x)
            head.append(f'<div class="card job" data-job="{_e(job.id)}"><h3><a href="./{_e(job_page_name(job.id))}">'
                        f'{_e(job.title)}</a></h3><p class="pay">{_e(job.salary_text())}</p>'
                        f'<p class="muted">{_e(facts)}</p></div>')
        return "".join(head)

    def job_body(self, station: StationProfile, job: Job, distance: float) -> str:
        rows = [f'<p class="pay">{_e(job.salary_text())}</p>', f"<p>{_e(job.employer)}</p>"]
        kind = job.kind + (f"（{when_text(job, self.today)}）" if job.work_date else "")
        rows.append(f"<p>类型：{_e(kind)} · 招 {job.headcount} 人 · {_e(job.category)}</p>")
        if job.address:
            rows.append(f"<p>工作地点：{_e(job.address)}（离站点{_e(_distance_text(distance))}）</p>")
        rows.append(f"<p>要求：{_e(job.age_text())}，性别{_e(job.gender)}，学历{_e(job.education)}</p>")
        if job.requirements:
            rows.append(f"<h2>岗位要求</h2><p>{_multiline(job.requirements)}</p>")
        if job.benefits:
            rows.append(f"<h2>福利待遇</h2><p>{_multiline(job.benefits)}</p>")
        if job.contact_phone:
            who = f"（{job.contact_name}）" if job.contact_name else ""
            rows.append(_tel(job.contact_phone, f"一键拨号 {job.contact_phone}{who}", "call"))
        else:
            rows.append("<p>请到站点或拨打站点电话咨询。</p>")
        rows.append(f'<p class="muted">有效期至 {job.valid_until.month}月{job.valid_until.day}日</p>')
        rows.append("<h2>到站点咨询</h2>" + self.station_block(station))
        rows.append('<p><a href="./index.html">返回岗位列表</a></p>')
        return "".join(rows)


def station_lists(jobs: Iterable[Job], origin: tuple[float, float], today: dt.date
                  ) -> dict[tuple[int, int, str], tuple[int, list[tuple[float, Job]]]]:
    """For every chip combination (category, distance, day) of a station's pages: how many jobs
    the kiosk's filters keep and the first :data:`LIST_LIMIT` of them, in one pass over the jobs
    in the station's order (the rules are :class:`protocol.jobfilter.JobRules`')."""
    combos = [(ci, ri, key) for ci in range(len(CATEGORY_CHIPS)) for ri in range(len(DISTANCE_CHIPS))
              for _w, key, _l in WHEN_CHIPS]
    lists: dict[tuple[int, int, str], tuple[int, list[tuple[float, Job]]]] = {c: (0, []) for c in combos}
    rules = {(ri, key): JobRules(radius_km=radius, when=when)
             for ri, (radius, _rl) in enumerate(DISTANCE_CHIPS) for when, key, _wl in WHEN_CHIPS}
    category_index = {c: i for i, (c, _l) in enumerate(CATEGORY_CHIPS) if c}
    for distance, job in placed_jobs(jobs, origin):
        for (ri, key), rule in rules.items():
            if not rule.admits(job, distance, today):
                continue
            for ci in (0, category_index[job.category]):
                total, kept = lists[(ci, ri, key)]
                if len(kept) < LIST_LIMIT:
                    kept.append((distance, job))
                lists[(ci, ri, key)] = (total + 1, kept)
    return lists


def _nav(prefix: str) -> str:
    return (f'<nav class="nav" aria-label="栏目"><a href="{prefix}policies.html">就业政策</a>'
            f'<a href="{prefix}events.html">招聘会和培训</a><a href="{prefix}videos.html">培训视频</a>'
            f'<a href="{prefix}index.html">全部站点</a></nav>')


def _progress_form() -> str:
    return (f'<details><summary>登记进度查询</summary><form class="ask" method="post" action="{PROGRESS_PATH}">'
            '<label for="code">回执码（登记回执上的号码）</label>'
            '<input id="code" name="code" autocomplete="off" maxlength="20" required>'
            '<label for="phone4">登记手机号后四位</label>'
            '<input id="phone4" name="phone4" inputmode="numeric" maxlength="4" autocomplete="off" required>'
            '<button type="submit">查询</button></form></details>')

