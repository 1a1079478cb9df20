"""The console as people who zoom, use only a keyboard or a screen reader meet it, checked from
outside in Debian's Chromium: axe-core (WCAG 2.0/2.1 A and AA) on every page and state,
including forms with errors, at an office screen's width and at 320 px (400 % zoom) where the
menu folds behind a button; the editor's whole flow by keyboard alone with the focused element
always in view; and the stylesheet served under a busy database without one HTTP 500."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from axe_kit import Audit, focus
from console_kit import PASSWORD, Clock

from hub.app import HubServer, create_app
from hub.console.auth import create_user
from hub.console.browser import PAGES, chromium, login
from hub.console.items import save_items, validate
from hub.console.publishing import save_group

FEED = "gy-test"
USERS = {"editor": ("bianji", ["editor", "registrar"], "张编辑"),
         "reviewer": ("shenhe", ["reviewer", "publisher", "operator", "admin"], "李审核")}
NARROW = 320


@dataclass
class Hub:
    base: str
    app: Any
    clock: Clock
    db_path: Path
    registration: int


def _seed(app: Any, clock: Clock) -> int:
    """A station that sent a heartbeat and a registration, a pending job, an employer: every page has rows."""
    engine = app.extensions["console"].engine
    store = app.extensions["hub_store"]
    with engine.begin() as conn:
        save_group(conn, FEED, "云岩区各驿站", ["520100"], [], "2026-11-01T00:00:00+00:00")
    today = clock.now.astimezone().date()
    record, errors = validate("job", {
        "id": "a11y-1", "title": "小区保洁员", "employer": "云岩物业服务有限公司", "category": "保洁", "kind": "全职",
        "salary_min": 2300, "salary_max": 2800, "salary_unit": "月", "latitude": 26.58, "longitude": 106.71,
        "published": today.isoformat(), "valid_until": (today + dt.timedelta(days=60)).isoformat()}, today=today)
    assert record is not None, errors
    with engine.begin() as conn:
        save_items(conn, "job", [record], FEED, USERS["editor"][0], clock.now.isoformat())
    store.add_station("s-1", "城东社区人社便民服务站")
    t = "2026-11-19T09:00:00+08:00"
    store.ingest("s-1", "heartbeat", [{"key": "hb-key-000001", "created_at": t, "payload": {
        "content_version": 1, "outbox_depth": 0, "disk_free_mb": 5120,
        "devices": {"printer": "ok", "reader": "ok"}, "notes": ["开机自检通过"] * 30}}])
    store.ingest("s-1", "event", [{"key": f"ev-key-{i:06d}", "created_at": t, "payload": {"event": e}}
                                   for i, e in enumerate(["card_read", "print_job", "job_view", "video_play"])])
    store.ingest("s-1", "registration", [{"key": "reg-key-000001", "created_at": t, "payload": {
        "code": "AB2345", "kind": "求职", "station_id": "s-1", "created_at": t,
        "person": {"name": "孙小梅", "id_number": "520103199002140027", "gender": "女", "birth_date": "1990-02-14",
                   "phone": "13698761234", "address": "贵州省贵阳市云岩区中华北路108号"},
        "answers": {"意向岗位": "保洁"}}}])
    return int(store.uploads("registration")[0]["id"])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    from argon2 import PasswordHasher

    from hub.console import auth
    from hub.publish import write_keypair

    logging.getLogger("waitress").setLevel(logging.ERROR)
    home = tmp_path_factory.mktemp("a11y") / "hub"
    write_keypair(home)
    clock = Clock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    app = create_app(home, console_clock=clock)
    engine = app.extensions["console"].engine
    with pytest.MonkeyPatch.context() as mp:
        # Small argon2 costs (as the suite's quick_argon2): logins verify with the hash's own costs.
        mp.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        for username, roles, name in USERS.values():
            create_user(engine, username, PASSWORD, roles, name)
    registration = _seed(app, clock)
    with HubServer(app) as server:
        yield Hub(base=server.url, app=app, clock=clock, db_path=home / "hub.db", registration=registration)
    app.extensions["hub_store"].close()


@pytest.fixture(scope="module")
def driver(hub: Hub) -> Iterator[Any]:
    with chromium() as d:
        yield d


def _next_page(driver: Any, action: Any) -> None:
    """Do ``action`` (a click, a key) and wait until the page it leads to has loaded."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__leaving = true")
    action()
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "return !window.__leaving && document.readyState === 'complete'"))


def submit(driver: Any, element: Any) -> None:
    _next_page(driver, element.click)


def _as(driver: Any, hub: Hub, who: str | None) -> None:
    driver.delete_all_cookies()
    if who is not None:
        login(driver, hub.base, USERS[who][0], PASSWORD)


def _narrow(driver: Any, width: int | None) -> None:
    """Emulate a window ``width`` CSS pixels wide (None: back to the office screen)."""
    if width is None:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    else:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": 640, "deviceScaleFactor": 1, "mobile": False})


def _no_sideways_scroll(driver: Any, state: str) -> None:
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    if wide > NARROW + 1:
        over = driver.execute_script(
            "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)"
            ".slice(0, 6).map(e => e.tagName.toLowerCase() + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))")
        raise AssertionError(f"{state}: the page is {wide} px wide at {NARROW} px (it must reflow): {over}")


@pytest.mark.slow
def test_every_page_and_state_passes_axe_core_wide_and_at_320_px(hub: Hub, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    audit = Audit()
    fill = {"station": "s-1", "registration": str(hub.registration)}
    current: str | None = "-"
    for name, path, who in PAGES:
        if who != current:
            _as(driver, hub, who)
            current = who
        driver.get(hub.base + path.format(**fill))
        assert "驿站就业服务管理平台" in driver.title, name
        audit.check(driver, name)
        if who is None:
            continue
        # Landmarks, the skip link and the menu's current page, as a screen reader finds them.
        assert driver.find_element(By.CSS_SELECTOR, "a.skip-link").get_attribute("href").endswith("#main")
        assert driver.find_elements(By.CSS_SELECTOR, "header.topbar") and driver.find_elements(By.ID, "main")
        current_links = driver.find_elements(By.CSS_SELECTOR, "nav[aria-label] a[aria-current=page]")
        if name[3:] in ("工作台", "岗位信息", "批量导入", "信息审核", "统一发布", "服务成效表", "操作日志"):
            assert [a.text for a in current_links] and current_links[0].text.startswith(name[3:]), name

    # States the pages reach: a failed login, forms sent back with errors, a page refused, a page not found.
    _as(driver, hub, None)
    driver.get(hub.base + "console/login")
    driver.find_element(By.ID, "username").send_keys(USERS["editor"][0])
    driver.find_element(By.ID, "password").send_keys("wrong-password-1")
    submit(driver, driver.find_element(By.ID, "login-submit"))
    error = driver.find_element(By.ID, "login-error")
    assert error.get_attribute("role") == "alert" and error.text == "用户名或密码错误"
    assert driver.find_element(By.ID, "password").get_attribute("aria-describedby") == "login-error"
    audit.check(driver, "登录失败")

    _as(driver, hub, "editor")
    driver.get(hub.base + "console/content/job/new")
    # What a browser without form validation (or a stale page) sends: the server's errors, made accessible.
    driver.execute_script("document.getElementById('item-form').noValidate = true")
    driver.find_element(By.ID, "f-salary_min").send_keys("面议")
    submit(driver, driver.find_element(By.ID, "item-save"))
    summary = driver.find_element(By.ID, "error-summary")
    assert summary.get_attribute("role") == "alert"
    assert driver.switch_to.active_element == summary, "the error summary takes the focus"
    field = driver.find_element(By.ID, "f-salary_min")
    assert field.get_attribute("aria-invalid") == "true"
    described = [driver.find_element(By.ID, i).text for i in field.get_attribute("aria-describedby").split()]
    assert any("整数" in text or "金额" in text for text in described), described

    assert driver.find_element(By.ID, "f-title").get_attribute("required") == "true"
    audit.check(driver, "新增岗位（有错误）")
    driver.get(hub.base + "console/employers")
    form = driver.find_element(By.ID, "employer-form")
    form.find_element(By.NAME, "name").send_keys("云岩区鸿福物业服务有限公司")
    form.find_element(By.NAME, "uscc").send_keys("91520103MA6DN7XK3X")
    submit(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert form_error_focused(driver), "the error message takes the focus"
    audit.check(driver, "用人单位（信用代码有误）")
    driver.get(hub.base + "console/password")
    for field_id, value in (("pw-old", "not-my-password-1"), ("pw-new", "Newpassw0rd"), ("pw-again", "Newpassw0rd")):
        driver.find_element(By.ID, field_id).send_keys(value)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert "原密码不正确" in driver.switch_to.active_element.text
    audit.check(driver, "修改密码（原密码有误）")
    driver.get(hub.base + "console/review")
    audit.check(driver, "无权访问")
    driver.get(hub.base + "console/content/job/999999")
    audit.check(driver, "页面不存在")

    # 400 % zoom on a 1280 px screen: 320 CSS px. Nothing scrolls sideways; the menu is a button.
    _narrow(driver, NARROW)
    try:
        for who, path in (("editor", "console/"), ("editor", "console/content/job/new"), ("reviewer", "console/review"),
                          ("reviewer", "console/reports/results"), ("reviewer", "console/stations/s-1"),
                          ("reviewer", "console/reports/ledger"), (None, "console/login")):
            _as(driver, hub, who)
            driver.get(hub.base + path)
            state = f"{path}（{NARROW}px）"
            _no_sideways_scroll(driver, state)
            if who is not None:
                toggle = driver.find_element(By.CSS_SELECTOR, ".menu-toggle")
                menu = driver.find_element(By.ID, "console-menu")
                assert toggle.is_displayed() and not menu.is_displayed(), state
                toggle.click()
                assert menu.is_displayed() and toggle.get_attribute("aria-expanded") == "true", state
                _no_sideways_scroll(driver, state + " 菜单展开")
            audit.check(driver, state)
    finally:
        _narrow(driver, None)
    audit.assert_clean()


def form_error_focused(driver: Any) -> bool:
    active = driver.switch_to.active_element
    return active.get_attribute("role") == "alert" and bool(active.text)


def _tab_until(driver: Any, wanted: Any, what: str, *, back: bool = False, typing: dict[str, str] | None = None,
               limit: int = 80) -> list[str]:
    """Press Tab (or Shift+Tab) until ``wanted(focus)`` holds; at every stop the focused element
    must be in view. Into a field named in ``typing`` the value is typed on the way."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    stops = []
    for _ in range(limit):
        chain = ActionChains(driver)
        if back:
            chain.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT)
        else:
            chain.send_keys(Keys.TAB)
        chain.perform()
        f = focus(driver)
        stops.append(f["name"])
        assert f["seen"], f"focus out of view at {f['name']} {f['text']!r}: {f['rect']} (top bar ends at {f['bar']})"
        if typing and f["name"].startswith("#") and f["name"][1:] in typing:
            ActionChains(driver).send_keys(typing.pop(f["name"][1:])).perform()
        if wanted(f):
            return stops
    raise AssertionError(f"{what}: not reached by keyboard after {limit} stops: {stops[-12:]}")


@pytest.mark.slow
def test_the_editor_adds_a_job_by_keyboard_alone_with_the_focus_always_in_view(hub: Hub, driver: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def keys(*sequence: str) -> None:
        ActionChains(driver).send_keys(*sequence).perform()

    def enter_and_wait() -> None:
        _next_page(driver, lambda: keys(Keys.ENTER))


    _as(driver, hub, None)
    driver.get(hub.base + "console/login")
    assert focus(driver)["name"] == "#username", "the login page opens with the cursor in 用户名"
    keys(USERS["editor"][0], Keys.TAB, PASSWORD)
    enter_and_wait()
    assert "工作台" in driver.title

    # The first Tab reaches the skip link; following it puts the next Tab inside the main area.
    stops = _tab_until(driver, lambda f: f["name"] == "a.skip-link", "跳到主要内容", limit=1)
    keys(Keys.ENTER)
    _tab_until(driver, lambda f: f["text"] == "去审核" or f["text"] == "查看" or f["name"].startswith("#main"),
               "the main area's first link", limit=3)
    # Back up through the menu to 岗位信息 (Shift+Tab: the sticky bar must not cover what is focused).
    _tab_until(driver, lambda f: f["text"] == "岗位信息", "岗位信息 in the menu", back=True, limit=30)
    enter_and_wait()
    assert driver.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]").text == "岗位信息"
    _tab_until(driver, lambda f: f["text"] == "新增岗位", "新增岗位", limit=60)

    enter_and_wait()

    today = hub.clock.now.astimezone().date()
    values = {"f-id": "kbd-1", "f-title": "仓库分拣员", "f-employer": "筑城物流有限公司", "f-salary_min": "面议",
              "f-salary_max": "5200", "f-latitude": "26.57", "f-longitude": "106.70",
              "f-published": today.isoformat(), "f-valid_until": (today + dt.timedelta(days=30)).isoformat()}
    stops = _tab_until(driver, lambda f: f["name"] == "#item-save", "提交审核", typing=dict(values))
    assert "#f-salary_max" in stops and "#f-valid_until" in stops
    # Tab backwards through the whole form: each field comes out from under the sticky top bar.
    _tab_until(driver, lambda f: f["name"] == "#f-feed_id", "发布范围", back=True)
    _tab_until(driver, lambda f: f["name"] == "#item-save", "提交审核")
    enter_and_wait()

    # The server refuses 面议: its summary has the focus, its link leads to the field.
    assert focus(driver)["name"] == "#error-summary"
    _tab_until(driver, lambda f: f["text"].startswith("薪资下限"), "the summary's link", limit=1)
    keys(Keys.ENTER)
    assert focus(driver)["name"] == "#f-salary_min"
    assert focus(driver)["seen"]
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys("4000").perform()

    enter_and_wait()
    assert "已保存，等待审核" in driver.find_element(By.ID, "main").text
    assert "仓库分拣员" in driver.find_element(By.ID, "item-table").text


def _session_cookie(hub: Hub, username: str) -> requests.Session:
    s = requests.Session()
    page = s.get(hub.base + "console/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = s.post(hub.base + "console/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
               allow_redirects=False, timeout=30)
    assert r.status_code == 302
    return s


def _last_seen(hub: Hub) -> list[str]:
    with sqlite3.connect(hub.db_path) as db:
        return sorted(r[0] for r in db.execute("SELECT last_seen_at FROM console_sessions WHERE ended_at IS NULL"))


def test_a_hundred_parallel_stylesheet_requests_under_a_busy_database_never_fail(hub: Hub) -> None:
    sessions = [_session_cookie(hub, USERS[who][0]) for who in USERS]
    css = hub.base + "console/static/console.css"
    # A minute later every session's last-seen time is due to be written.
    hub.clock.advance(minutes=2)
    seen = _last_seen(hub)

    def fetch(i: int) -> tuple[int, str]:
        r = sessions[i % len(sessions)].get(css, timeout=20)
        return r.status_code, r.headers.get("Content-Type", "")

    # Another hub process holds SQLite's write lock (a long import, a purge) the whole time.
    writer = sqlite3.connect(hub.db_path, timeout=1, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with ThreadPoolExecutor(max_workers=100) as pool:
            answers = list(pool.map(fetch, range(100)))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert [a for a in answers if a[0] != 200] == [], "every stylesheet request answered 200"
    assert all(a[1].startswith("text/css") for a in answers)
    assert _last_seen(hub) == seen, "static files never touch the session store"

    # Pages and stylesheets together, each page's last-seen write on SQLite's single writer: no 500.
    hub.clock.advance(minutes=2)
    pages = [hub.base + p for p in ("console/", "console/content/job", "console/reports/ledger")]
    errors: list[str] = []
    lock = threading.Lock()

    def mixed(i: int) -> None:
        url = pages[i % len(pages)] if i % 5 == 0 else css
        r = sessions[i % len(sessions)].get(url, timeout=60)
        if r.status_code != 200:
            with lock:
                errors.append(f"{url} -> {r.status_code}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(mixed, range(150)))
    assert errors == []
    assert _last_seen(hub) != seen, "the page requests wrote the sessions' last-seen time"
