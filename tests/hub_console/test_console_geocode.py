"""Positions from addresses: an employer's sheet with only addresses imports through a local
stand-in of 天地图's geocoding API (its documented answers, including its error shapes); with
the service down every row is still imported, placed at a stand-in position and flagged
位置待核实; answers are cached; the form places a job typed with an address."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from console_kit import FEED, PASSWORD, Console, post

from hub.app import HubServer, create_app
from hub.console.auth import create_user
from hub.console.browser import chromium, login, submit
from hub.console.geocode import GeocodeError, Resolver, Tianditu
from hub.console.publishing import save_group
from hub.publish import write_keypair

KEY = "test-key-520100"
PLACES = {  # address -> (lon, lat, level) as the service answers
    "贵阳市云岩区中华北路108号": ("106.7105", "26.5862", "门址"),
    "贵阳市南明区花果园大街": ("106.6952", "26.5631", "道路"),
}


class StandIn:
    """天地图 geocoder on 127.0.0.1: answers for PLACES, status 101 for others, the gateway's
    key error for a wrong key; ``down`` makes it answer 503 with an HTML page."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.requests = 0
        self.down = False
        self.together: threading.Barrier | None = None  # addresses starting 同时 wait for each other
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                query = parse_qs(urlsplit(self.path).query)
                stand_in.requests += 1
                if stand_in.down:
                    return self._send(503, b"<html>Service Unavailable</html>", "text/html")
                if query.get("tk") != [KEY]:
                    return self._json({"msg": "权限类型错误", "resolve": "请检查 tk", "code": 1}, 403)
                address = json.loads(query["ds"][0])["keyWord"]
                stand_in.asked.append(address)
                if address.startswith("同时") and stand_in.together is not None:
                    stand_in.together.wait(timeout=20)  # broken (an error) unless all are in flight at once
                if address not in PLACES:
                    return self._json({"msg": "无结果", "status": "101", "searchVersion": "6.4.9V"})
                lon, lat, level = PLACES[address]
                self._json({"msg": "ok", "status": "0", "searchVersion": "6.4.9V",
                            "location": {"score": 100, "level": level, "lon": lon, "lat": lat, "keyWord": address}})

            def _json(self, data: dict[str, Any], code: int = 200) -> None:
                self._send(code, json.dumps(data, ensure_ascii=False).encode(), "application/json;charset=UTF-8")

            def _send(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                """Quiet: the test reads what it needs from the requests."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/geocoder"

    def __enter__(self) -> StandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tianditu() -> Iterator[StandIn]:
    with StandIn() as stand_in:
        yield stand_in


@pytest.fixture
def geo_console(console: Console, tianditu: StandIn) -> Console:
    tianditu.down = False
    console.app.extensions["console_geocoder"] = Tianditu(KEY, tianditu.url, timeout_s=5)
    return console


SHEET = ("职位名称,招聘单位,最低薪资,工作地址\n"
         "保洁员,云岩物业公司,2200元,贵阳市云岩区中华北路108号\n"
         "收银员,花果园超市,\"2,600\",贵阳市南明区花果园大街\n"
         "搬运工,云岩物业公司,3000,贵阳市某个没有的地址\n")


def _import(console: Console, sheet: str = SHEET) -> str:
    return post(console.client("editor"), "/console/import",
                {"kind": "job", "feed_id": FEED, "file": (io.BytesIO(sheet.encode("gb18030")), "企业岗位.csv")},
                content_type="multipart/form-data").get_data(as_text=True)


def _jobs(console: Console) -> dict[str, Any]:
    with console.engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT data, geo_precision, geo_flag FROM console_items WHERE kind = 'job'"))
        return {json.loads(d)["title"]: (json.loads(d), p, f) for d, p, f in rows}


def test_an_employer_sheet_with_only_addresses_imports(geo_console: Console, tianditu: StandIn) -> None:
    page = _import(geo_console)
    assert "新增 <b>3</b>" in page and 'id="refused-count">0<' in page
    jobs = _jobs(geo_console)
    job, precision, flag = jobs["保洁员"]
    assert (job["latitude"], job["longitude"], precision, flag) == (26.5862, 106.7105, "门址", "")
    assert jobs["收银员"][1] == "道路" and jobs["收银员"][0]["salary_min"] == 2600
    assert job["category"] == "其他" and job["id"].startswith("imp-") and job["salary_max"] == 2200
    # not found: placed where the same employer is known to be, flagged for the reviewer
    lost, precision, flag = jobs["搬运工"]
    assert (lost["latitude"], lost["longitude"]) == (26.5862, 106.7105) and precision == "用人单位已知位置"
    assert flag == "位置待核实：地址解析服务没有找到这个地址"
    assert 'id="flagged-count">1<' in page and "已自动补全" in page
    # every address was asked once; a second import of the same sheet asks nothing (cache)
    asked = len(tianditu.asked)
    _import(geo_console)
    assert len(tianditu.asked) == asked + 1  # only the address the service did not know


def test_with_the_service_down_nothing_is_lost(geo_console: Console, tianditu: StandIn) -> None:
    tianditu.down = True
    before = tianditu.requests
    page = _import(geo_console)
    assert "新增 <b>3</b>" in page and 'id="flagged-count">3<' in page
    for job, precision, flag in _jobs(geo_console).values():
        assert flag.startswith("位置待核实：地址解析服务暂时不可用（HTTP 503）")
        assert precision == "地区中心（贵阳市）" and (job["latitude"], job["longitude"]) == (26.647, 106.63)
    assert tianditu.requests == before + 1  # given up for the batch after the first failure


def test_the_gateways_key_error_is_named(tianditu: StandIn) -> None:
    tianditu.down = False
    with pytest.raises(GeocodeError, match="密钥无效"):
        Tianditu("wrong", tianditu.url).locate("贵阳市云岩区中华北路108号")


def test_the_form_places_a_job_typed_with_an_address(geo_console: Console) -> None:
    form = {"feed_id": FEED, "id": "addr-1", "title": "保洁员", "employer": "云岩物业公司", "category": "保洁",
            "kind": "全职", "salary_min": "2200", "salary_max": "2800", "salary_unit": "月",
            "address": "贵阳市云岩区中华北路108号", "published": "2026-11-01", "valid_until": "2026-12-31"}
    assert post(geo_console.client("editor"), "/console/content/job/new", form).status_code == 302
    job, precision, flag = _jobs(geo_console)["保洁员"]
    assert (job["latitude"], precision, flag) == (26.5862, "门址", "")
    missing = post(geo_console.client("editor"), "/console/content/job/new",
                   {**form, "id": "addr-2", "address": ""}).get_data(as_text=True)
    assert "请填写工作地点（保存时自动定位），或填写经纬度" in missing


def test_without_a_geocoder_the_hub_says_so(console: Console) -> None:
    assert console.app.extensions["console_geocoder"] is None  # no key in hub.toml
    page = _import(console)
    assert 'id="flagged-count">3<' in page and "没有配置地址解析服务" in page


def _form_of(job: dict[str, Any], **changes: str) -> dict[str, Any]:
    keys = ("title", "employer", "category", "kind", "salary_min", "salary_max", "salary_unit", "address",
            "latitude", "longitude", "published", "valid_until")
    return {"feed_id": FEED, **{k: str(job.get(k, "")) for k in keys}, **changes}


def test_a_flagged_position_stays_flagged_until_it_is_checked(geo_console: Console, tianditu: StandIn) -> None:
    tianditu.down = True
    _import(geo_console)
    tianditu.down = False
    with geo_console.engine.begin() as conn:
        item_id, data = conn.execute(sa.text(
            "SELECT id, data FROM console_items WHERE kind = 'job' AND title LIKE '保洁员%'")).one()
    editor = geo_console.client("editor")
    page = editor.get(f"/console/content/job/{item_id}/edit").get_data(as_text=True)
    assert 'id="geo-flag"' in page and "暂用的地区中心（贵阳市）" in page
    # a new title alone does not vouch for the stand-in position
    edit = f"/console/content/job/{item_id}/edit"
    assert post(editor, edit, _form_of(json.loads(data), title="小区保洁员")).status_code == 302
    job, precision, flag = _jobs(geo_console)["小区保洁员"]
    assert precision == "地区中心（贵阳市）" and flag.startswith("位置待核实")
    detail = editor.get(f"/console/content/job/{item_id}").get_data(as_text=True)
    assert "位置待核实" in detail and "地区中心（贵阳市）" in detail
    queue = geo_console.client("reviewer").get("/console/review").get_data(as_text=True)
    assert 'title="位置待核实' in queue  # the reviewer sees which waiting jobs to check
    # coordinates cleared: placed again from the address, now that the service answers
    assert post(editor, edit, _form_of(job, latitude="", longitude="")).status_code == 302
    job, precision, flag = _jobs(geo_console)["小区保洁员"]
    assert (job["latitude"], precision, flag) == (26.5862, "门址", "")
    # coordinates typed by the editor: the flag goes, the source says so
    assert post(editor, edit, _form_of(job, latitude="26.59", longitude="106.72")).status_code == 302
    assert _jobs(geo_console)["小区保洁员"][1:] == ("填写的坐标", "")


def test_a_blank_cell_in_a_column_the_sheet_has_is_refused_not_filled(geo_console: Console) -> None:
    sheet = ("职位名称,招聘单位,最低薪资,工作地址,有效期\n"
             "保洁员,云岩物业公司,2200元,贵阳市云岩区中华北路108号,\n")
    page = _import(geo_console, sheet)
    assert 'id="refused-count">1<' in page and "有效期至：必填" in page


SHOTS = os.environ.get("YIZHAN_CONSOLE_SHOTS")  # a folder to keep the screenshots in, for looking at them


@pytest.mark.slow
def test_an_employer_sheet_imports_in_chromium_with_the_service_up_then_down(tmp_path: Path,
                                                                             tianditu: StandIn) -> None:
    from selenium.webdriver.common.by import By

    logging.getLogger("waitress").setLevel(logging.ERROR)
    tianditu.down = False
    home = tmp_path / "hub"
    write_keypair(home)
    (home / "hub.toml").write_text(f'[geocoder]\nurl = "{tianditu.url}"\nkey = "{KEY}"\n', encoding="utf-8")
    app = create_app(home)
    engine = app.extensions["console"].engine
    create_user(engine, "bianji", PASSWORD, ["editor"], "张编辑")
    with engine.begin() as conn:
        save_group(conn, "gy-test", "云岩区各驿站", ["520100"], [], "2026-01-01T00:00:00+00:00")
    shots = Path(SHOTS) if SHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    first, second = tmp_path / "企业岗位.csv", tmp_path / "企业岗位-第二批.csv"
    first.write_bytes(SHEET.encode("gb18030"))
    second.write_bytes(("职位名称,招聘单位,最低薪资,工作地址\n"
                        "保安,南明保安服务公司,2800元,贵阳市南明区花果园大街\n"
                        "厨工,筑城餐饮有限公司,\"3,200\",贵阳市观山湖区长岭北路\n").encode("gb18030"))
    with HubServer(app) as hub, chromium() as driver:
        login(driver, hub.url, "bianji", PASSWORD)

        def import_sheet(path: Path) -> Any:
            driver.get(hub.url + "console/import")
            driver.find_element(By.ID, "import-file").send_keys(str(path))
            submit(driver, driver.find_element(By.ID, "import-submit"))
            return driver.find_element(By.ID, "import-report")

        report = import_sheet(first)
        assert driver.find_element(By.ID, "refused-count").text == "0" and "新增 3" in report.text
        flagged = driver.find_element(By.ID, "flagged-table").text
        assert driver.find_element(By.ID, "flagged-count").text == "1"
        assert "第 4 行 搬运工 用人单位已知位置 位置待核实：地址解析服务没有找到这个地址" in flagged
        assert "已自动补全" in driver.find_element(By.ID, "filled-note").text
        driver.save_screenshot(str(shots / "批量导入-按地址定位.png"))

        tianditu.down = True
        report = import_sheet(second)
        assert driver.find_element(By.ID, "refused-count").text == "0" and "新增 2" in report.text
        assert driver.find_element(By.ID, "flagged-count").text == "1"
        # the address the service answered before comes from the cache; the other waits for a check
        flagged = driver.find_element(By.ID, "flagged-table").text
        assert "保安" not in flagged and "厨工 地区中心（贵阳市）" in flagged and "HTTP 503" in flagged
        driver.save_screenshot(str(shots / "批量导入-地址服务停用.png"))

        with engine.begin() as conn:
            item_id = conn.execute(sa.text("SELECT id FROM console_items WHERE title = '厨工'")).scalar_one()
        driver.get(hub.url + f"console/content/job/{item_id}/edit")
        assert "暂用的地区中心（贵阳市）" in driver.find_element(By.ID, "geo-flag").text
        driver.save_screenshot(str(shots / "修改岗位-位置待核实.png"))
    assert len(_jobs_of(engine)) == 5  # nothing lost


def _jobs_of(engine: Any) -> list[str]:
    with engine.begin() as conn:
        return list(conn.execute(sa.text("SELECT title FROM console_items WHERE kind = 'job'")).scalars())


def test_an_employers_address_places_it_and_then_its_unplaceable_jobs(geo_console: Console, tianditu: StandIn) -> None:
    editor = geo_console.client("editor")
    added = post(editor, "/console/employers", {"name": "云岩物业公司", "uscc": "91110108551385082Q", "region": "520103",
                                                "address": "贵阳市南明区花果园大街"}, follow_redirects=True)
    assert "已添加用人单位：云岩物业公司（待核验）；位置：道路" in added.get_data(as_text=True)
    with geo_console.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT latitude, longitude, geo_precision, geo_flag FROM console_employers")).one() \
            == (26.5631, 106.6952, "道路", "")
    # the sheet's only row has an address the service does not know: the employer's position is offered
    page = _import(geo_console, "职位名称,招聘单位,最低薪资,工作地址\n搬运工,云岩物业公司,3000,贵阳市某个没有的地址\n")
    assert 'id="flagged-count">1<' in page
    job, precision, flag = _jobs(geo_console)["搬运工"]
    assert (job["latitude"], job["longitude"], precision) == (26.5631, 106.6952, "用人单位已知位置")
    assert flag == "位置待核实：地址解析服务没有找到这个地址"
    # with the service down an employer is still added, placed at its region's centre and flagged
    tianditu.down = True
    added = post(editor, "/console/employers", {"name": "花果园超市", "uscc": "91520103MA6DN7XK36", "region": "520103",
                                                "address": "贵阳市南明区某路"}, follow_redirects=True)
    text = added.get_data(as_text=True)
    assert "已暂用地区中心（贵阳市）" in text and "位置待核实" in text


def test_new_addresses_are_asked_several_at_a_time(geo_console: Console, tianditu: StandIn) -> None:
    tianditu.together = threading.Barrier(4)
    resolver = Resolver(geo_console.engine, geo_console.app.extensions["console_geocoder"], ["520100"], "now")
    try:
        found = resolver.prefetch(["贵阳市云岩区中华北路108号"] + [f"同时{i}" for i in range(4)], workers=4)
    finally:
        tianditu.together = None
    assert found == 1  # the four answer 无结果 once all four are asked together (else the barrier breaks)
    asked = len(tianditu.asked)
    place, flag = resolver.locate("同时0", "")
    assert flag == "位置待核实：地址解析服务没有找到这个地址" and len(tianditu.asked) == asked  # not asked again
    assert resolver.locate("贵阳市云岩区中华北路108号", "")[0].precision == "门址"


def test_an_import_does_not_wait_past_its_budget(geo_console: Console, tianditu: StandIn) -> None:
    ticks = iter([0.0, 0.0, 61.0])  # the deadline is set, the first address asked, then the budget is spent
    resolver = Resolver(geo_console.engine, geo_console.app.extensions["console_geocoder"], ["520100"], "now")
    addresses = ["贵阳市云岩区中华北路108号", "贵阳市南明区花果园大街"]
    assert resolver.prefetch(addresses, budget_s=60, clock=lambda: next(ticks)) == 1
    assert tianditu.asked[-1] == addresses[0]
    place, flag = resolver.locate(addresses[1], "")
    assert flag.startswith("位置待核实：地址解析服务没能在 60 秒内答完这批地址（已定位 1 个）")
    assert place.precision == "地区中心（贵阳市）" and tianditu.asked[-1] == addresses[0]  # nothing more asked


def test_a_job_without_an_address_is_placed_at_its_registered_employer(geo_console: Console) -> None:
    editor = geo_console.client("editor")
    post(editor, "/console/employers", {"name": "云岩物业公司", "uscc": "91110108551385082Q", "region": "520103",
                                         "address": "贵阳市云岩区中华北路108号"})
    form = {"feed_id": FEED, "id": "emp-1", "title": "保洁员", "employer": "云岩物业公司", "category": "保洁",
            "kind": "全职", "salary_min": "2200", "salary_max": "2800", "salary_unit": "月",
            "published": "2026-11-01", "valid_until": "2026-12-31"}
    assert post(editor, "/console/content/job/new", form).status_code == 302
    job, precision, flag = _jobs(geo_console)["保洁员"]
    assert (job["address"], job["latitude"], precision, flag) == ("贵阳市云岩区中华北路108号", 26.5862, "用人单位地址", "")
    # an employer's sheet without a 工作地址 column: the same; an unregistered employer's row asks for one
    page = _import(geo_console, "职位名称,招聘单位,最低薪资\n保安,云岩物业公司,2600\n收银员,花果园超市,2400\n")
    assert 'id="refused-count">1<' in page and "请填写工作地点（保存时自动定位），或填写经纬度" in page
    assert _jobs(geo_console)["保安"][0]["longitude"] == 106.7105


def test_flagged_jobs_are_placed_again_once_the_service_answers(geo_console: Console, tianditu: StandIn) -> None:
    tianditu.down = True
    _import(geo_console)
    tianditu.down = False
    editor = geo_console.client("editor")
    page = editor.get("/console/import").get_data(as_text=True)
    assert 'id="flagged-total">3<' in page and 'id="relocate-submit"' in page
    done = post(editor, "/console/import/relocate", {}, follow_redirects=True).get_data(as_text=True)
    assert "重新定位了 2 个岗位，已进入待审核；仍有 1 个位置待核实" in done and 'id="flagged-total">1<' in done
    jobs = _jobs(geo_console)
    assert jobs["保洁员"][1:] == ("门址", "") and (jobs["保洁员"][0]["latitude"], jobs["保洁员"][0]["longitude"]) == (
        26.5862, 106.7105)
    assert jobs["收银员"][1:] == ("道路", "") and jobs["搬运工"][2].startswith("位置待核实")
    with geo_console.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT state, version FROM console_items WHERE title = '保洁员'")).one() == (
            "pending", 2)


def test_without_a_geocoder_relocation_says_what_is_missing(console: Console) -> None:
    _import(console)
    editor = console.client("editor")
    assert 'id="relocate-submit"' not in editor.get("/console/import").get_data(as_text=True)
    done = post(editor, "/console/import/relocate", {}, follow_redirects=True).get_data(as_text=True)
    assert "没有配置地址解析服务（hub.toml 的 [geocoder]），无法重新定位" in done


class TileServer:
    """Map tiles on 127.0.0.1 (one grey 256 px PNG for any tile); records the tiles asked for."""

    def __init__(self) -> None:
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (256, 256), (200, 210, 220)).save(buf, "PNG")
        png = buf.getvalue()
        asked: list[str] = []
        self.asked = asked

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                asked.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(png)))
                self.end_headers()
                self.wfile.write(png)

            def log_message(self, *args: Any) -> None:
                """Quiet: the test reads what it needs from the requests."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _web_mercator_point(lat: float, lon: float, zoom: int, dx: float, dy: float) -> tuple[float, float]:
    """The point ``dx``, ``dy`` screen pixels from (lat, lon) at ``zoom``."""
    import math

    size = 256 * 2 ** zoom
    x = (lon + 180) / 360 * size + dx
    r = math.radians(lat)
    y = (1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * size + dy
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / size)))), x / size * 360 - 180


@pytest.mark.slow
def test_the_map_picker_sets_the_point_clicked(tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    logging.getLogger("waitress").setLevel(logging.ERROR)
    tiles = TileServer()
    home = tmp_path / "hub"
    write_keypair(home)
    (home / "hub.toml").write_text(f'[geocoder]\ntiles_url = "{tiles.origin}/{{z}}/{{x}}/{{y}}.png"\n', encoding="utf-8")
    app = create_app(home)
    engine = app.extensions["console"].engine
    create_user(engine, "bianji", PASSWORD, ["editor"], "张编辑")
    with engine.begin() as conn:
        save_group(conn, "gy-test", "云岩区各驿站", ["520100"], [], "2026-01-01T00:00:00+00:00")
    try:
        with HubServer(app) as hub, chromium() as driver:
            login(driver, hub.url, "bianji", PASSWORD)
            driver.get(hub.url + "console/content/job/new")
            view = driver.find_element(By.CSS_SELECTOR, "#map-picker .map-view")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", view)
            # the page's own policy lets these tiles in (a blocked image never gets its width)
            WebDriverWait(driver, 20).until(lambda d: d.execute_script(
                "const t = [...document.querySelectorAll('.map-tile')];"
                "return t.length > 0 && t.every(i => i.complete && i.naturalWidth === 256)"))
            assert any(path.startswith("/12/") for path in tiles.asked)
            ActionChains(driver).move_to_element_with_offset(view, 40, -30).click().perform()
            lat, lon = (float(driver.find_element(By.ID, f"f-{n}").get_attribute("value"))
                        for n in ("latitude", "longitude"))
            want = _web_mercator_point(26.647, 106.63, 12, 40, -30)  # the region's centre, zoom 12
            assert abs(lat - want[0]) < 1e-3 and abs(lon - want[1]) < 1e-3, (lat, lon, want)
            assert "已选：纬度" in driver.find_element(By.ID, "map-picker-status").text
            shots = Path(SHOTS) if SHOTS else tmp_path
            shots.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(shots / "新增岗位-地图选点.png"))
    finally:
        tiles.close()


def test_no_tiles_no_picker_and_the_page_policy_is_unchanged(console: Console) -> None:
    page = console.client("editor").get("/console/content/job/new")
    assert 'id="map-picker"' not in page.get_data(as_text=True)
    assert page.headers["Content-Security-Policy"].count("img-src 'self' data: blob:;") == 1
