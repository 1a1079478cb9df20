"""A 5 000-row import reviewed as one batch in Chromium (zh-CN), in under ten clicks: the
reviewer picks the batch, returns one row with its own reason and approves the rest whole."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from console_kit import PASSWORD

from hub.app import HubServer, create_app
from hub.console.auth import create_user
from hub.console.browser import accept_confirms, chromium, login, submit
from hub.console.publishing import save_group
from hub.publish import write_keypair

ROWS = 5000
SHOTS = os.environ.get("YIZHAN_CONSOLE_SHOTS")  # a folder to keep the screenshots in, for looking at them


def _csv(path: Path, rows: int, prefix: str) -> Path:
    today = dt.date.today()
    start, end = (today - dt.timedelta(days=1)).isoformat(), (today + dt.timedelta(days=60)).isoformat()
    lines = ["岗位编号,岗位名称,用人单位,岗位类别,用工形式,薪资下限（元）,薪资上限（元）,薪资单位,纬度,经度,发布日期,有效期至"]
    lines += [f"{prefix}-{i},分拣员{i}号,筑城物流有限公司,物流,全职,3000,4200,月,26.57,106.70,{start},{end}"
              for i in range(1, rows + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Clicks:
    """Every click the reviewer makes, counted."""

    def __init__(self) -> None:
        self.count = 0

    def click(self, element: Any) -> Any:
        self.count += 1
        return element

    def submit(self, driver: Any, element: Any) -> None:
        self.count += 1
        submit(driver, element, timeout_s=120)


@pytest.mark.slow
def test_a_5000_row_import_reviewed_as_one_batch_in_under_ten_clicks(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    logging.getLogger("waitress").setLevel(logging.ERROR)
    home = tmp_path / "hub"
    write_keypair(home)
    app = create_app(home)
    engine = app.extensions["console"].engine
    create_user(engine, "bianji", PASSWORD, ["editor"], "张编辑")
    create_user(engine, "shenhe", PASSWORD, ["reviewer"], "李审核")
    with engine.begin() as conn:
        save_group(conn, "gy-test", "云岩区各驿站", ["520100"], [], "2026-01-01T00:00:00+00:00")
    small = _csv(tmp_path / "另一批.csv", 3, "other")
    big = _csv(tmp_path / "全市岗位.csv", ROWS, "imp")
    with HubServer(app) as hub, chromium() as driver:
        login(driver, hub.url, "bianji", PASSWORD)
        for path in (small, big):
            driver.get(hub.url + "console/import")
            driver.find_element(By.ID, "import-file").send_keys(str(path))
            submit(driver, driver.find_element(By.ID, "import-submit"), timeout_s=120)
        with engine.begin() as conn:
            batch = conn.execute(sa.text("SELECT max(id) FROM console_import_batches")).scalar_one()
            pending = conn.execute(sa.text("SELECT count(*) FROM console_items WHERE state = 'pending'")).scalar_one()
        assert pending == ROWS + 3
        submit(driver, driver.find_element(By.CSS_SELECTOR, ".topbar form button"))

        login(driver, hub.url, "shenhe", PASSWORD)
        accept_confirms(driver)
        clicks = Clicks()
        clicks.submit(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "信息审核"))
        clicks.click(driver.find_element(By.ID, "flt-batch")).click()
        clicks.click(driver.find_element(By.CSS_SELECTOR, f"#flt-batch option[value='{batch}']")).click()
        clicks.submit(driver, driver.find_element(By.ID, "filter-submit"))
        assert driver.find_element(By.ID, "review-total").text == str(ROWS)
        accept_confirms(driver)
        # One row of the batch is wrong: it is returned with its own reason, the rest approved whole.
        with engine.begin() as conn:
            wrong = conn.execute(sa.text("SELECT id FROM console_items WHERE record_id = 'imp-7'")).scalar_one()
        reason = driver.find_element(By.ID, f"reason-{wrong}")
        clicks.click(reason).click()
        reason.send_keys("薪资与企业报送不符")
        _shot(driver, tmp_path, "信息审核-按批次")
        clicks.submit(driver, driver.find_element(By.ID, "approve-all"))
        message = driver.find_element(By.TAG_NAME, "main").text
        assert f"通过 {ROWS - 1} 条，退回 1 条" in message, message[:300]
        assert clicks.count < 10, clicks.count
        _shot(driver, tmp_path, "信息审核-整批通过后")
    with engine.begin() as conn:
        states = dict(conn.execute(sa.text("SELECT state, count(*) FROM console_items GROUP BY state")).all())
        returned = conn.execute(sa.text("SELECT reject_reason FROM console_items WHERE id = :i"), {"i": wrong}).scalar()
    assert states == {"approved": ROWS - 1, "rejected": 1, "pending": 3}
    assert returned == "薪资与企业报送不符"


def _shot(driver: Any, tmp_path: Path, name: str) -> None:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"{name}.png"))
