"""The console speaks Chinese everywhere staff read: a crawl of every page each role can reach
(links followed from the dashboard, with content, a station, a registration and an import in
place) finds no English word, no raw key (``_薪资上限…``), no raw feed or station id where a
name belongs, and no raw ISO time; the console's own 404/403/500 pages; the CLI's role names."""

from __future__ import annotations

import html
import io
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from console_kit import FEED, Console, post

from hub.console.core import ROLES

# Latin words staff do meet on these pages: file formats, standards, units, the product's own
# technical words (a station's key fingerprint is hex), Chinese-standard abbreviations.
ALLOWED_WORDS = {
    "CSV", "XLSX", "csv", "xlsx", "json", "JSON", "UTF", "GB", "GB18030", "GB32100", "MP", "MP4", "H.264", "PNG",
    "PDF", "CSRF", "PIN", "ID", "URL", "HTTP", "HTTPS", "http", "https", "SHA", "OTA", "USB", "CPU", "MB", "KB",
    "TB", "ESC", "POS", "Excel", "IP", "WPS",
}
WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9.]*[A-Za-z]")
RAW_KEY_RE = re.compile(r"(?<![A-Za-z0-9])_[\u4e00-\u9fff]")
ISO_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
SKIP_PATHS = ("/console/logout", "/console/static/")
# Where an id is shown on purpose, beside the name: the station list and a station's page (its
# 编号 column), the ledger (驿站编号 column), users and the audit log (login names).
ALLOWED_IDS = {"/console/stations": ("s-1",), "/console/reports/ledger": ("s-1",), "/console/admin/users": ("ROLES",),
               "/console/admin/audit": ("ROLES", "s-1")}
# Examples of an id typed into an id field (a feed group's, a station's).
ALLOWED_ON = {"/console/publish": {"gy", "yunyan"}, "/console/stations/new": {"gy", "yunyan"}}
SKIP_SUFFIXES = (".xlsx", ".csv", ".json", ".zip", ".png", ".mp4", ".toml")


class _Text(HTMLParser):
    """A page's visible text, its links, and the text of its form controls' visible values."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style", "code"):
            self._skip += 1  # <code>: an identifier shown on purpose (a feed group's 范围编号)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        for name in ("placeholder", "title", "aria-label", "alt"):
            if a.get(name):
                self.text.append(a[name] or "")
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.text.append(a["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _problems(text: str, raw_ids: set[str], path: str = "") -> list[str]:
    page = path.split("?")[0]
    allowed_ids = next((ids for prefix, ids in ALLOWED_IDS.items() if page.startswith(prefix)), ())
    if "ROLES" in allowed_ids:
        allowed_ids = (*allowed_ids, *ROLES)
    raw_ids = {i for i in raw_ids if i not in allowed_ids}
    for name in allowed_ids:
        text = text.replace(name, " ")
    allowed = ALLOWED_WORDS | ALLOWED_ON.get(page, set())
    found = []
    for word in WORD_RE.findall(text):
        if word not in allowed and not re.fullmatch(r"[0-9a-fA-F.]+", word) \
                and not any(word.startswith(a) for a in ("MP4", "H.264", "GB18030")):
            found.append(f"英文：{word}")
    found += [f"原始键：{m}" for m in RAW_KEY_RE.findall(text)]
    found += [f"原始时间：{m}" for m in ISO_TIME_RE.findall(text)]
    found += [f"原始编号：{i}" for i in raw_ids if re.search(rf"(?<![\w（(-]){re.escape(i)}(?![\w）)-])", text)]
    return found


def _fill(console: Console) -> None:
    """Content in every state, an import batch, a station with a name, a registration."""
    editor = console.client("editor")
    sheet = ("岗位编号,岗位名称,用人单位,岗位类别,用工形式,薪资下限（元）,薪资上限（元）,薪资单位,纬度,经度,发布日期,有效期至\n"
             "c-1,保洁员,云岩物业公司,保洁,全职,2200,2800,月,26.58,106.71,2026/11/07,2026/12/31\n"
             "c-2,店员,某超市,服务,全职,2800,2200,月,26.58,106.71,2026/11/07,2026/12/31\n"
             "c-3,厨师,某餐馆,餐饮,全职,3800,4200,月,26.58,106.71,2026/11/07,2026/12/31\n")
    post(editor, "/console/import", {"kind": "job", "feed_id": FEED, "file": (io.BytesIO(sheet.encode()), "岗位.csv")},
         content_type="multipart/form-data")
    post(editor, "/console/content/announcement/new",
         {"feed_id": FEED, "id": "n-1", "text": "暴雨预警", "priority": "urgent", "target": "both",
          "starts_at": "2026-11-20 09:00", "ends_at": "2026-11-21 09:00"})
    console.store.add_station("s-1", "城东社区驿站")
    created = "2026-11-19T09:00:00+08:00"
    console.store.ingest("s-1", "registration", [{
        "key": "reg-key-000001", "created_at": created,
        "payload": {"code": "70108956", "kind": "求职", "station_id": "s-1", "created_at": created,
                    "person": {"name": "赵六", "id_number": "520103197812120018", "gender": "男",
                               "birth_date": "1978-12-12", "address": "贵州省贵阳市云岩区中华北路108号",
                               "phone": "13698765432"}, "answers": {"意向": "保洁"}}}])


def _crawl(client, start: str, limit: int = 120) -> dict[str, str]:  # type: ignore[no-untyped-def]
    pages: dict[str, str] = {}
    queue = [start]
    while queue and len(pages) < limit:
        path = queue.pop(0)
        if path in pages:
            continue
        response = client.get(path)
        if response.status_code != 200 or not response.content_type.startswith("text/html"):
            pages[path] = "" if response.status_code in (200, 302, 403) else f"!{response.status_code}"
            continue
        parser = _Text()
        parser.feed(response.get_data(as_text=True))
        pages[path] = html.unescape(" ".join(parser.text))
        for href in parser.links:
            url = urlsplit(urljoin("http://localhost" + path, href))
            target = url.path + (f"?{url.query}" if url.query else "")
            if url.netloc == "localhost" and url.path.startswith("/console/") \
                    and not url.path.startswith(SKIP_PATHS) and not url.path.endswith(SKIP_SUFFIXES) \
                    and "page=" not in url.query and target not in pages:
                queue.append(target)
    return pages


def test_every_page_every_role_reads_chinese(console: Console) -> None:
    _fill(console)
    raw_ids = {FEED, "s-1"}
    report: dict[str, list[str]] = {}
    seen: set[str] = set()
    for role in ROLES:
        pages = _crawl(console.client(role), "/console/")
        for path, text in pages.items():
            if text.startswith("!"):
                report.setdefault(path, []).append(f"{role} 打开时出错 {text[1:]}")
            elif path not in seen:
                problems = _problems(text, raw_ids, path)
                if problems:
                    report[path] = sorted(set(problems))
        seen.update(pages)
    assert len(seen) > 25, sorted(seen)
    assert not report, "\n".join(f"{p}: {'，'.join(v)}" for p, v in sorted(report.items()))


@pytest.mark.parametrize(("path", "code", "title"), [
    ("/console/no-such-page", 404, "页面不存在"),
    ("/console/content/nothing", 404, "页面不存在"),
    ("/console/admin/users", 403, "没有权限"),
])
def test_the_consoles_own_error_pages(console: Console, path: str, code: int, title: str) -> None:
    response = console.client("editor").get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == code and response.content_type.startswith("text/html")
    assert f"<h1>{title}</h1>" in page and "返回工作台" in page
    assert not _problems(" ".join(re.findall(r">([^<]+)<", page.split("<main", 1)[1])), set())


def test_a_server_error_is_the_consoles_own_page(console: Console) -> None:
    from hub.console import views_content

    def broken(kind: str) -> object:
        raise RuntimeError("boom")

    app = console.app
    view = app.view_functions["console_content.item_list"]
    app.view_functions["console_content.item_list"] = lambda kind: broken(kind)
    try:
        response = console.client("editor").get("/console/content/job")
    finally:
        app.view_functions["console_content.item_list"] = view
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "<h1>系统错误</h1>" in page
    assert "Internal Server Error" not in page and "boom" not in page
    assert views_content.bp.name == "console_content"


def test_the_cli_takes_chinese_role_names(console: Console, capsys: pytest.CaptureFixture[str]) -> None:
    from hub.console.cli import role_of

    assert role_of("审核") == "reviewer" and role_of("reviewer") == "reviewer"
    assert role_of(ROLES["publisher"]) == "publisher"
    with pytest.raises(ValueError, match="角色只能是"):
        role_of("老板")
