"""Phone pages published with the feed: valid HTML, small, nothing fetched from elsewhere,
and the same jobs as the kiosk's search for the same chips."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from common.geo import destination
from content.sample import sample_content
from content.store import Store
from hub.mobile.pages import (
    CATEGORY_CHIPS,
    DISTANCE_CHIPS,
    LIST_LIMIT,
    PAGE_BUDGET,
    WHEN_CHIPS,
    list_page_name,
    read_stations,
)
from hub.publish import publish_content, refresh_pages
from protocol.feed import Scope, generate_private_key
from protocol.model import Course, MediaRef

ORIGIN = (26.5830, 106.7135)
FAR = destination(*ORIGIN, 60.0, 9.0)
GENERATED = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
TODAY = GENERATED.astimezone().date()
STATIONS = [
    {"id": "gy-001", "name": "城东社区人社便民服务站", "address": "贵阳市云岩区中华北路 108 号",
     "latitude": ORIGIN[0], "longitude": ORIGIN[1], "opening_hours": "周一至周五 9:00-17:30",
     "hotline": "0851-12333"},
    {"id": "gy-002", "name": "乌当区零工驿站", "address": "乌当区新添大道 1 号",
     "latitude": FAR[0], "longitude": FAR[1], "opening_hours": "每天 7:00-12:00", "hotline": "0851-86221234"},
]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class StrictPage(HTMLParser):
    """Fails on anything a browser would have to repair: unclosed or stray tags, a missing
    doctype, language or charset, a bare ampersand."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.doctype = False
        self.lang = ""
        self.charset = False
        self.urls: list[str] = []
        self.jobs: list[str] = []
        self.text: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang") or ""
        if tag == "meta" and values.get("charset") == "utf-8":
            self.charset = True
        for name in ("href", "src", "poster", "action"):
            if values.get(name):
                self.urls.append(values[name] or "")
        if values.get("data-job"):
            self.jobs.append(values["data-job"] or "")
        if len({name for name, _ in attrs}) != len(attrs):
            self.problems.append(f"duplicate attribute in <{tag}>")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if re.search(r"&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)", data):
            self.problems.append("bare &")

    def handle_entityref(self, name: str) -> None:
        if name not in ("amp", "lt", "gt", "quot", "nbsp"):
            self.problems.append(f"unknown entity &{name};")

    def check(self, text: str) -> StrictPage:
        self.feed(text)
        self.close()
        if self.open:
            self.problems.append(f"unclosed {self.open}")
        if not (self.doctype and self.lang == "zh-CN" and self.charset):
            self.problems.append("doctype, lang=zh-CN and charset utf-8 are required")
        return self


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("mobile")
    content = sample_content(origin=ORIGIN, jobs=600, seed=11, today=TODAY)
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200
    sha = hashlib.sha256(video).hexdigest()
    (work / f"{sha}.mp4").write_bytes(video)
    content.courses = [Course(id="course-1", title="电工安全操作", duration_s=300,
                              media=MediaRef(sha256=sha, size=len(video)))]
    content.documents = {"stations": STATIONS}
    feed = work / "feeds" / "gy"
    result = publish_content(content, {sha: work / f"{sha}.mp4"}, feed, key=generate_private_key(),
                             feed_id="gy", scope=Scope(regions=["520103"]), generated_at=GENERATED)
    store = Store(work / "station.db", ORIGIN)
    store.replace_content(content)
    return {"feed": feed, "result": result, "content": content, "store": store, "work": work}


def test_every_page_is_valid_html_with_nothing_from_elsewhere(published: dict[str, Any]) -> None:
    pages = sorted((published["feed"] / "m").rglob("*.html"))
    assert len(pages) > 2 * len(CATEGORY_CHIPS) * len(DISTANCE_CHIPS) * len(WHEN_CHIPS)
    for page in pages:
        parsed = StrictPage().check(page.read_text(encoding="utf-8"))
        assert parsed.problems == [], f"{page.name}: {parsed.problems[:3]}"
        outside = [u for u in parsed.urls if re.match(r"^([a-z]+:)?//", u, re.I)]
        assert outside == [], f"{page.name} links outside the hub: {outside}"
        assert all(not u.startswith(("javascript:", "data:")) for u in parsed.urls)
        assert _broken_links(published["feed"], page, parsed.urls) == [], page.name
    assert published["result"].mobile.stations == ["gy-001", "gy-002"]


def _broken_links(feed: Path, page: Path, urls: list[str]) -> list[str]:
    """Relative links followed as a browser does from the page's address under /feeds/gy/m/."""
    address = "/feeds/gy/m/" + page.relative_to(feed / "m").as_posix()
    broken = []
    for url in urls:
        if url.startswith(("tel:", "/m/progress")):
            continue
        target = urljoin(address, url).split("#")[0]
        assert target.startswith("/feeds/gy/"), (url, target)
        path = feed / target.removeprefix("/feeds/gy/")
        if target.endswith("/"):
            path = path / "index.html"
        if not path.is_file():
            broken.append(url)
    return broken


def test_a_stations_first_page_fits_the_budget(published: dict[str, Any]) -> None:
    m = published["feed"] / "m"
    css = (m / "style.css").stat().st_size
    for station in ("gy-001", "gy-002"):
        for page in (m / "s" / station).glob("*.html"):
            assert page.stat().st_size + css <= PAGE_BUDGET, page


def test_the_pages_list_the_jobs_the_kiosk_finds_for_the_same_chips(published: dict[str, Any]) -> None:
    store: Store = published["store"]
    m = published["feed"] / "m" / "s" / "gy-001"
    seen_today = seen_over_limit = 0
    for ci, (category, _) in enumerate(CATEGORY_CHIPS):
        for ri, (radius, _) in enumerate(DISTANCE_CHIPS):
            for when, key, _ in WHEN_CHIPS:
                parsed = StrictPage().check((m / list_page_name(ci, ri, key)).read_text(encoding="utf-8"))
                kiosk = store.search_jobs(radius_km=radius, category=category, when=when, today=TODAY,
                                          limit=LIST_LIMIT)
                total = store.count_jobs(radius_km=radius, category=category, when=when, today=TODAY)
                assert parsed.jobs == [hit.job.id for hit in kiosk], (category, radius, when)
                assert f"共 {total} 个岗位" in "".join(parsed.text)
                seen_today += bool(when and kiosk)
                seen_over_limit += total > LIST_LIMIT
    assert seen_today and seen_over_limit  # the sample has today's gigs and long lists


def test_a_job_page_dials_the_employer_and_names_the_station(published: dict[str, Any]) -> None:
    store: Store = published["store"]
    hit = next(h for h in store.search_jobs(radius_km=3.0, today=TODAY) if h.job.contact_phone)
    page = (published["feed"] / "m" / "s" / "gy-001" / f"job-{hit.job.id}.html").read_text(encoding="utf-8")
    digits = re.sub(r"[^0-9+]", "", hit.job.contact_phone)
    assert f'href="tel:{digits}"' in page and "一键拨号" in page
    assert "贵阳市云岩区中华北路 108 号" in page and "周一至周五 9:00-17:30" in page
    assert 'href="tel:0851-12333"'.replace("-", "") in page


def test_a_new_version_swaps_the_pages_whole_and_keeps_the_previous(published: dict[str, Any],
                                                                   tmp_path: Path) -> None:
    content = published["content"]
    feed = tmp_path / "gy"
    shutil.copytree(published["feed"], feed, symlinks=True)
    before = (feed / "m").resolve()
    fewer = content.__class__(jobs=content.jobs[:10], policies=content.policies, documents=content.documents)
    publish_content(fewer, {}, feed, key=generate_private_key(), feed_id="gy", scope=None,
                    generated_at=GENERATED + dt.timedelta(hours=1))
    after = (feed / "m").resolve()
    assert after != before and before.is_dir()
    assert sorted(p.name for p in (feed / "mobile").iterdir()) == sorted([before.name, after.name])
    index = (after / "s" / "gy-001" / list_page_name(0, 2, "a")).read_text(encoding="utf-8")
    assert len(StrictPage().check(index).jobs) == len([j for j in fewer.jobs if j.is_open(TODAY)])


def test_the_next_day_the_pages_are_written_again_for_that_day(published: dict[str, Any], tmp_path: Path) -> None:
    feed = tmp_path / "gy"
    shutil.copytree(published["feed"], feed, symlinks=True)
    assert refresh_pages(feed, now=GENERATED) is None  # written today already
    tomorrow = TODAY + dt.timedelta(days=1)
    assert refresh_pages(feed, now=GENERATED + dt.timedelta(days=1)) is not None
    assert (feed / "m").resolve().name == f"1-{tomorrow:%Y%m%d}"
    page = (feed / "m" / "s" / "gy-001" / list_page_name(0, 2, "t")).read_text(encoding="utf-8")
    kiosk = published["store"].search_jobs(radius_km=None, when="today", today=tomorrow, limit=LIST_LIMIT)
    assert StrictPage().check(page).jobs == [hit.job.id for hit in kiosk] and kiosk
    assert refresh_pages(feed, now=GENERATED + dt.timedelta(days=1, hours=2)) is None


def test_bad_station_entries_are_named_in_chinese() -> None:
    good, problems = read_stations([STATIONS[0], {"id": "x y", "name": "", "latitude": 200}, STATIONS[0]])
    assert [s.id for s in good] == ["gy-001"]
    assert problems[0].startswith("站点资料第 2 条不能用：") and "latitude" in problems[0]
    assert "重复" in problems[1]
    assert read_stations({"not": "a list"})[1] == ["站点资料（stations 文档）应是一个列表"]


AXE = Path(__file__).resolve().parents[1] / "hub_console" / "axe" / "axe.min.js"
AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                   resultTypes: ['violations']})
  .then(r => done(r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))),
        e => done(['axe-error: ' + e]));
"""


def _axe(driver: Any, found: list[str]) -> None:
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page shown, named by page."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(60)
    page = driver.current_url.rsplit("/", 1)[-1] or "index"
    found.extend(f"{page}: {v}" for v in driver.execute_async_script(AXE_RUN))


# Every request but to the loopback server fails: names do not resolve and anything else goes
# to a proxy on a closed port (Chromium never sends loopback through a proxy).
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9")


def test_a_phone_reaches_the_jobs_with_nothing_fetched_from_elsewhere(published: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    from hub.app import HubServer, create_app
    from hub.console.browser import chromium

    app = create_app(published["work"] / "hub", feeds_dir=published["feed"].parent)
    store: Store = published["store"]
    try:
        with HubServer(app) as server, chromium(360, 640, extra_args=OFFLINE) as driver:
            driver.get(server.url + "feeds/gy/m/s/gy-001/")
            accessible: list[str] = []
            _axe(driver, accessible)
            bar = driver.find_element(By.CSS_SELECTOR, "header.bar")
            assert bar.value_of_css_property("background-color") == "rgba(11, 83, 148, 1)"  # the stylesheet came
            driver.find_element(By.LINK_TEXT, "今日零工").click()
            shown = [e.get_attribute("data-job") for e in driver.find_elements(By.CSS_SELECTOR, "[data-job]")]
            kiosk = store.search_jobs(radius_km=3.0, when="today", today=TODAY, limit=LIST_LIMIT)
            assert shown == [hit.job.id for hit in kiosk] and shown
            driver.find_element(By.LINK_TEXT, "不限距离").click()
            driver.find_elements(By.CSS_SELECTOR, "[data-job] a")[0].click()
            _axe(driver, accessible)
            call = driver.find_element(By.CSS_SELECTOR, "a.call")
            assert call.get_attribute("href").startswith("tel:") and "一键拨号" in call.text
            driver.back()
            driver.find_element(By.LINK_TEXT, "培训视频").click()
            assert driver.find_element(By.TAG_NAME, "video").get_attribute("src").startswith(server.url + "feeds/gy/media/")
            _axe(driver, accessible)
            fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
            assert fetched and all(url.startswith("http://127.0.0.1:") for url in fetched), fetched
            # and the block holds: the wider network cannot be reached from this browser
            outside = driver.execute_async_script(
                "const done = arguments[0]; fetch('http://example.com/', {mode: 'no-cors'})"
                ".then(() => done('reached'), () => done('blocked'))")
            assert outside == "blocked"
            # 进度查询 from the station's page, answered by the hub
            hub_store = app.extensions["hub_store"]
            hub_store.add_station("gy-001", "城东")
            receipts = hub_store.ingest("gy-001", "registration", [{
                "key": "reg-key-000001", "created_at": "2026-12-07T09:00:00+08:00",
                "payload": {"code": "K7Q2M9", "kind": "零工", "station_id": "gy-001",
                            "created_at": "2026-12-07T09:00:00+08:00", "person": {"name": "赵六", "phone": "13698765432"}}}])
            assert receipts[0]["status"] == "created"
            driver.get(server.url + "feeds/gy/m/s/gy-001/")
            driver.find_element(By.TAG_NAME, "summary").click()
            driver.find_element(By.ID, "code").send_keys("K7Q2M9")
            driver.find_element(By.ID, "phone4").send_keys("5432")
            driver.find_element(By.CSS_SELECTOR, "form.ask button").click()
            state = driver.find_element(By.CSS_SELECTOR, ".state").text
            assert state == "已受理" and "0851-12333" in driver.find_element(By.TAG_NAME, "main").text
            assert "赵六" not in driver.page_source and "13698765432" not in driver.page_source
            _axe(driver, accessible)
            assert accessible == []
    finally:
        app.extensions["hub_store"].close()
