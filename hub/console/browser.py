"""Driving the console in Debian's Chromium (Selenium 4 + chromium-driver): the demo's screenshots
of every page and the end-to-end tests share these helpers.

Chromium runs headless with a fresh profile in a temporary folder, no background traffic
(only 127.0.0.1 is contacted), at the size of a common office screen (1366x768).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
SCREEN = (1366, 768)


@contextmanager
def chromium(width: int = SCREEN[0], height: int = SCREEN[1], downloads: Path | None = None,
             extra_args: tuple[str, ...] = ()) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="yizhan-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--lang=zh-CN", "--accept-lang=zh-CN", f"--user-data-dir={profile}", f"--window-size={width},{height}", *extra_args):
            options.add_argument(arg)
        prefs: dict[str, Any] = {"intl.accept_languages": "zh-CN,zh"}
        if downloads is not None:
            prefs.update({"download.default_directory": str(downloads), "download.prompt_for_download": False})
        options.add_experimental_option("prefs", prefs)
        # Date and month fields follow the browser's locale, which Chromium takes from LANGUAGE.
        env = {**os.environ, "LANGUAGE": "zh_CN", "LC_ALL": "C.UTF-8"}
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=options)
        try:
            # --window-size sets the outer window; make the page area itself 1366x768.
            inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
            driver.set_window_size(width + (width - inner[0]), height + (height - inner[1]))
            yield driver
        finally:
            driver.quit()


def submit(driver: Any, element: Any, timeout_s: float = 60) -> None:
    """Click a submit button and wait until the next page has replaced this one.

    The page about to be left is marked with a token in its window; the wait ends when a
    document without that token has finished loading. (Watching the old <html> element go
    stale races with Chromium: while the old document is torn down its driver answers
    "Node with given id does not belong to the document" instead of "stale element".)
    """
    import secrets

    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    token = secrets.token_hex(8)
    driver.execute_script("window.__yizhanLeaving = arguments[0];", token)
    element.click()

    def arrived(d: Any) -> bool:
        try:
            return bool(d.execute_script(
                "return window.__yizhanLeaving !== arguments[0] && document.readyState === 'complete';", token))
        except WebDriverException:  # the old document is going away mid-call: not there yet
            return False

    WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(arrived)


def login(driver: Any, base: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "console/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    submit(driver, driver.find_element(By.ID, "login-submit"))


def logout(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    submit(driver, driver.find_element(By.CSS_SELECTOR, ".topbar form button"))


def accept_confirms(driver: Any) -> None:
    """Answer every confirm() dialog with OK (the page asks before publishing or purging)."""
    driver.execute_script("window.confirm = () => true;")


# Every page of the console, for screenshots: (file name, path, who sees it).
PAGES = [
    ("01-登录", "console/login", None),
    ("02-工作台", "console/", "editor"),
    ("03-岗位信息", "console/content/job", "editor"),
    ("04-新增岗位", "console/content/job/new", "editor"),
    ("05-政策信息", "console/content/policy", "editor"),
    ("06-招聘会与培训", "console/content/event", "editor"),
    ("07-培训视频", "console/content/course", "editor"),
    ("08-公告与紧急通知", "console/content/announcement/new", "editor"),
    ("09-批量导入", "console/import", "editor"),
    ("10-用人单位", "console/employers", "editor"),
    ("11-信息审核", "console/review", "reviewer"),
    ("12-统一发布", "console/publish", "reviewer"),
    ("13-大屏节目单", "console/board", "reviewer"),
    ("14-驿站运行监测", "console/stations", "reviewer"),
    ("15-驿站详情", "console/stations/{station}", "reviewer"),
    ("16-新增驿站", "console/stations/new", "reviewer"),
    ("17-登记跟进", "console/registrations", "editor"),
    ("18-登记详情", "console/registrations/{registration}", "editor"),
    ("19-交接与清除", "console/registrations/handoff", "editor"),
    ("20-服务台账", "console/reports/ledger", "reviewer"),
    ("21-服务成效表", "console/reports/results", "reviewer"),
    ("22-用户与角色", "console/admin/users", "reviewer"),
    ("23-操作日志", "console/admin/audit", "reviewer"),
    ("24-修改密码", "console/password", "editor"),
    ("25-版本分布", "console/stations/versions", "reviewer"),
]


def screenshot_pages(base: str, users: dict[str, tuple[str, str]], out_dir: Path, *,
                     fill: dict[str, str] | None = None, pages: list[tuple[str, str, str | None]] | None = None
                     ) -> list[Path]:
    """A PNG of every console page as the role that uses it sees it, at 1366x768."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fill = fill or {}
    written = []
    with chromium() as driver:
        current = None
        for name, path, who in pages or PAGES:
            if who != current:
                driver.delete_all_cookies()
                if who is not None:
                    login(driver, base, *users[who])
                current = who
            driver.get(base + path.format(**fill))
            target = out_dir / f"{name}.png"
            driver.save_screenshot(str(target))
            written.append(target)
    return written


def demo_screenshots(base: str, users: dict[str, tuple[str, str]], out_dir: Path, work: Path, *,
                     later: tuple[str, ...] = (), ready: Any = None) -> list[Path]:
    """What ``make demo`` shows of the console: an editor imports a sheet with one bad row and
    registers an employer, then every page is captured as the role that uses it sees it. The
    pages named in ``later`` are taken last, once ``ready`` (a ``threading.Event``) is set."""
    import datetime as dt

    from selenium.webdriver.common.by import By

    today = dt.date.today()
    start, end = (today - dt.timedelta(days=1)).isoformat(), (today + dt.timedelta(days=90)).isoformat()
    sheet = work / "企业报送岗位.csv"
    sheet.write_text(
        "岗位编号,岗位名称,用人单位,岗位类别,用工形式,薪资下限（元）,薪资上限（元）,薪资单位,招聘人数,纬度,经度,发布日期,有效期至\n"
        f"demo-new-1,商场保洁员,云岩区鸿福物业服务有限公司,保洁,全职,2300,2800,月,4,26.5801,106.7102,{start},{end}\n"
        f"demo-new-2,仓库分拣员,筑城物流有限公司,物流,全职,四千,5200,月,10,26.5712,106.7003,{start},{end}\n"
        f"demo-new-3,外卖骑手,同城配送有限公司,物流,兼职,3000,6000,月,20,26.5733,106.7061,{start},{end}\n"
        f"demo-new-4,中餐厨师,黔味餐饮管理有限公司,餐饮,全职,4500,6500,月,2,26.5821,106.7155,{start},{end}\n",
        encoding="utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def shot(driver: Any, name: str) -> None:
        target = out_dir / f"{name}.png"
        driver.save_screenshot(str(target))
        written.append(target)

    with chromium() as driver:
        driver.get(base + "console/login")
        shot(driver, "01-登录")
        login(driver, base, *users["editor"])
        driver.get(base + "console/import")
        driver.find_element(By.ID, "import-file").send_keys(str(sheet))
        submit(driver, driver.find_element(By.ID, "import-submit"))
        driver.execute_script("document.getElementById('import-report').scrollIntoView()")
        shot(driver, "09-批量导入结果")
        driver.get(base + "console/employers")
        form = driver.find_element(By.ID, "employer-form")
        form.find_element(By.NAME, "name").send_keys("云岩区鸿福物业服务有限公司")
        form.find_element(By.NAME, "uscc").send_keys("91520103MA6DN7XK36")
        form.find_element(By.NAME, "region").send_keys("520103")
        submit(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        current = "editor"
        first = [p for p in PAGES[1:] if not p[0].endswith(later)]
        last = [p for p in PAGES[1:] if p[0].endswith(later)]
        for name, path, who in first + last:
            if later and name.endswith(later) and ready is not None:
                ready.wait(timeout=180)
            if who != current:
                logout(driver)
                login(driver, base, *users[who])  # type: ignore[index]
                current = who
            _visit(driver, base, path)
            shot(driver, name)
    return written


def _visit(driver: Any, base: str, path: str) -> None:
    """Open a page; a station's or a registration's page is reached from the first row of its list."""
    from selenium.webdriver.common.by import By

    if "{station}" in path or "{registration}" in path:
        driver.get(base + ("console/stations" if "{station}" in path else "console/registrations"))
        links = driver.find_elements(By.CSS_SELECTOR, "table.data td a")
        if links:
            driver.get(links[0].get_attribute("href"))
        return
    driver.get(base + path)
