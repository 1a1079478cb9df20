"""The main journey in a real browser (Debian's Chromium through Selenium 4 and chromium-driver)
against a real hub on loopback and a real station: log in, import a CSV with one bad row,
review as a second user, publish, the station's ``sync --once`` shows the job, the station
registers a resident and delivers it, the registration appears masked, export, purge."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import pytest
from console_kit import PASSWORD

from config.cli import main
from config.station import open_store
from content.registrations import submit_registration
from hub.app import HubServer, create_app
from hub.console.auth import create_user
from hub.console.browser import accept_confirms, chromium, login, logout, submit
from hub.console.publishing import save_group
from hub.publish import write_keypair

PERSON = {"name": "孙小梅", "id_number": "520103199002140027", "gender": "女", "birth_date": "1990-02-14",
          "address": "贵州省贵阳市云岩区中华北路108号3单元", "phone": "13698761234"}


def _csv(path: Path) -> Path:
    today = dt.date.today()
    start, end = (today - dt.timedelta(days=1)).isoformat(), (today + dt.timedelta(days=60)).isoformat()
    path.write_text(
        "岗位编号,岗位名称,用人单位,岗位类别,用工形式,薪资下限（元）,薪资上限（元）,薪资单位,纬度,经度,发布日期,有效期至\n"
        f"web-1,小区保洁员,云岩物业服务有限公司,保洁,全职,2300,2800,月,26.58,106.71,{start},{end}\n"
        f"web-2,仓库分拣员,筑城物流有限公司,物流,全职,abc,5200,月,26.57,106.70,{start},{end}\n"
        f"web-3,外卖骑手,同城配送有限公司,物流,兼职,3000,6000,月,26.57,106.70,{start},{end}\n", encoding="utf-8")
    return path


def _wait_for(predicate, what: str, timeout_s: float = 30):  # type: ignore[no-untyped-def]
    """Poll until the browser has done something asynchronous (a download); never a speed check."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_import_review_publish_sync_register_export_purge(tmp_path: Path, station) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    logging.getLogger("waitress").setLevel(logging.ERROR)
    home = tmp_path / "hub"
    _key, public = write_keypair(home)
    app = create_app(home)
    engine = app.extensions["console"].engine
    create_user(engine, "bianji", PASSWORD, ["editor", "registrar"], "张编辑")
    create_user(engine, "shenhe", PASSWORD, ["reviewer", "publisher", "operator"], "李审核")
    with engine.begin() as conn:
        save_group(conn, "gy-test", "云岩区各驿站", ["520100"], [], "2026-01-01T00:00:00+00:00")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    csv_path = _csv(tmp_path / "岗位导入.csv")

    with HubServer(app) as hub, chromium(downloads=downloads) as driver:
        base = hub.url
        login(driver, base, "bianji", PASSWORD)
        assert "工作台" in driver.title
        driver.get(base + "console/import")
        driver.find_element(By.ID, "import-file").send_keys(str(csv_path))
        submit(driver, driver.find_element(By.ID, "import-submit"))
        report = driver.find_element(By.ID, "import-report").text
        assert driver.find_element(By.ID, "refused-count").text == "1"
        assert "第 3 行" in report and "薪资下限（元）：须为数字；整数，单位元" in report
        # The editor may not review their own import.
        driver.get(base + "console/review")
        assert "没有权限" in driver.page_source
        logout(driver)

        login(driver, base, "shenhe", PASSWORD)
        driver.get(base + "console/review")
        rows = driver.find_elements(By.CSS_SELECTOR, "#review-table input[name=item]")
        assert len(rows) == 2
        driver.find_element(By.ID, "check-all").click()
        submit(driver, driver.find_element(By.ID, "approve-selected"))
        assert "通过 2 条" in driver.page_source, driver.find_element(By.TAG_NAME, "main").text[:300]
        driver.get(base + "console/publish")
        group = driver.find_element(By.ID, "group-gy-test")
        assert group.find_element(By.CLASS_NAME, "added").text == "2"
        accept_confirms(driver)
        submit(driver, group.find_element(By.CLASS_NAME, "publish-now"))
        assert "已发布 gy-test 第 1 版" in driver.page_source
        # The station is added in the console; its token is shown once.
        driver.get(base + "console/stations/new")
        driver.find_element(By.NAME, "station_id").send_keys("test-station-01")
        driver.find_element(By.NAME, "name").send_keys("城东社区人社便民服务站")
        Select(driver.find_element(By.ID, "station-feed")).select_by_visible_text("云岩区各驿站")
        submit(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        token = driver.find_element(By.ID, "station-token").text.split('"')[1]
        # The page offers the station's whole settings file: the installer's --config as it is.
        offered = driver.find_element(By.ID, "station-settings").text
        assert f'station_token = "{token}"' in offered and f'public_key = "{public}"' in offered
        assert f'feed_url = "{base}feeds/gy-test/"' in offered and 'id = "test-station-01"' in offered
        logout(driver)

        # the test station has its own [station] table: its [hub] table is the offered one
        settings = station.write(offered[offered.index("[hub]"):].replace("[hub]", "[hub]\ntimeout_s = 5", 1))
        config = str(station.config_path)
        assert main(["sync", "--once", "--no-progress", "--config", config]) == 0
        with open_store(settings) as store:
            jobs = {j.id: j for j in store.export_content().jobs}
        assert set(jobs) == {"web-1", "web-3"} and jobs["web-1"].title == "小区保洁员"

        receipt = submit_registration(settings.db_path, "求职", PERSON, {"意向岗位": "保洁"},
                                      station_id="test-station-01", key_dir=settings.data_dir)
        # Nothing new in the feed (exit 5, "unchanged"); the outbox is delivered all the same.
        assert main(["sync", "--once", "--no-progress", "--config", config]) == 5
        (upload,) = app.extensions["hub_store"].uploads("registration")
        assert upload["payload"]["code"] == receipt.code

        login(driver, base, "bianji", PASSWORD)
        driver.get(base + "console/registrations")
        table = driver.find_element(By.ID, "reg-table").text
        assert receipt.code in table and "孙*梅" in table and "5201**********0027" in table
        assert PERSON["name"] not in driver.page_source and PERSON["id_number"] not in driver.page_source

        driver.get(base + "console/registrations/handoff")
        assert driver.find_element(By.ID, "waiting-count").text == "1"
        driver.find_element(By.ID, "export-submit").click()
        exported = _wait_for(lambda: [p for p in downloads.glob("*.xlsx")], "the exported file")
        from openpyxl import load_workbook

        sheet = load_workbook(exported[0]).active
        assert sheet["A2"].value == receipt.code and sheet["F2"].value == PERSON["id_number"]
        driver.get(base + "console/registrations/handoff")
        accept_confirms(driver)
        submit(driver, driver.find_element(By.CSS_SELECTOR, ".ack-batch"))
        assert "清除了 1 条登记的个人信息" in driver.page_source
        assert "已确认并清除 1 条" in driver.find_element(By.ID, "handoff-table").text
        driver.get(base + "console/registrations")
        assert "个人信息已清除" in driver.find_element(By.ID, "reg-table").text

    (upload,) = app.extensions["hub_store"].uploads("registration")
    assert "person" not in upload["payload"] and upload["payload"]["code"] == receipt.code
