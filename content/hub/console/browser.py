"""Driving the console in Debian's Chromium (Selenium 4 + chromium-driver): the demo's screenshots
of every page and the end-to-end tests share these helpers.

Chromium runs headless with a fresh profile in a temporary folder, no background traffic
(only 127.0.0.1 is contacted), at the size of a common office screen (1366x768).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
SCREEN = (1366, 768)


@contextmanager
def chromium(width: int = SCREEN[0], height: int = SCREEN[1], downloads: Path | None = None) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="yizhan-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--lang=zh-CN", f"--user-data-dir={profile}", f"--window-size={width},{height}"):
            options.add_argument(arg)
        if downloads is not None:
            options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                      "download.prompt_for_download": False})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            # --window-size sets the outer window; make the page area itself 1366x768.
            inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
            driver.set_window_size(width + (width - inner[0]), height + (height - inner[1]))
            yield driver
        finally:
            driver.quit()


def submit(driver: Any, element: Any, timeout_s: float = 60) -> None:
    """Click a submit button and wait until the next page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, timeout_s).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, timeout_s).until(lambda d: d.execute_script("return document.readyState") == "complete")


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
