"""Everyday input in Chromium (zh-CN): the job form takes dates and amounts as people write them,
states each rule beside its field, answers a mistake with the server's Chinese sentence (never
the browser's own bubble) and shows back what it understood."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from console_kit import PASSWORD

from hub.app import HubServer, create_app
from hub.console.auth import create_user
from hub.console.browser import chromium, login, submit
from hub.console.publishing import save_group
from hub.publish import write_keypair

SHOTS = os.environ.get("YIZHAN_CONSOLE_SHOTS")  # a folder to keep the screenshots in, for looking at them


def _shot(driver, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"{name}.png"))


@pytest.mark.slow
def test_the_job_form_with_everyday_input(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    logging.getLogger("waitress").setLevel(logging.ERROR)
    home = tmp_path / "hub"
    write_keypair(home)
    app = create_app(home)
    engine = app.extensions["console"].engine
    create_user(engine, "bianji", PASSWORD, ["editor"], "张编辑")
    with engine.begin() as conn:
        save_group(conn, "gy-test", "云岩区各驿站", ["520100"], [], "2026-01-01T00:00:00+00:00")
    year = dt.date.today().year + 1
    with HubServer(app) as hub, chromium() as driver:
        login(driver, hub.url, "bianji", PASSWORD)
        driver.get(hub.url + "console/content/job/new")
        rule = driver.find_element(By.ID, "r-published").text
        assert rule == "日期写法：2026-12-07、2026/12/07 或 2026年12月7日"
        typed = {"id": "web-1", "title": "小区保洁员", "employer": "云岩物业服务有限公司", "salary_min": "2300元",
                 "salary_max": "2,800", "latitude": "106.71", "longitude": "26.58",
                 "published": f"{year}/1/5", "valid_until": f"{year}年3月31日"}
        for name, value in typed.items():
            driver.find_element(By.ID, f"f-{name}").send_keys(value)
        driver.find_element(By.CSS_SELECTOR, "#f-category option[value=保洁]").click()
        submit(driver, driver.find_element(By.ID, "item-save"))  # the server answered: no browser bubble stopped it
        error = driver.find_element(By.ID, "e-latitude").text
        assert error == "纬度和经度填反了：纬度在前（如 26.58），经度在后（如 106.71）"
        assert driver.find_element(By.ID, "f-published").get_attribute("value") == f"{year}-01-05"
        assert f"已理解为 {year}-03-31" in driver.find_element(By.ID, "f-valid_until").find_element(By.XPATH, "..").text
        _shot(driver, tmp_path, "新增岗位-填反经纬度")
        for name, value in (("latitude", "26.58"), ("longitude", "106.71")):
            box = driver.find_element(By.ID, f"f-{name}")
            box.clear()
            box.send_keys(value)
        submit(driver, driver.find_element(By.ID, "item-save"))
        assert "已保存，等待审核" in driver.page_source
    with engine.begin() as conn:
        data = conn.execute(sa.text("SELECT data FROM console_items WHERE record_id = 'web-1'")).scalar_one()
    assert f'"published":"{year}-01-05"' in data and '"salary_max":2800' in data and '"salary_min":2300' in data


@pytest.mark.slow
def test_the_file_field_and_the_error_pages_in_chinese(tmp_path: Path) -> None:
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
    sheet = tmp_path / "企业报送岗位.csv"
    year = dt.date.today().year
    sheet.write_text("岗位编号,岗位名称,用人单位,岗位类别,用工形式,最低薪资,最高薪资,薪资单位,纬度,经度,发布时间,有效期\n"
                     f'f-1,保洁员,云岩物业公司,保洁,全职,2200元,"2,800",月,26.58,106.71,{year}/1/2,{year + 1}年1月31日\n'
                     f"f-2,{'长' * 300},某公司,保洁,全职,2200,2800,月,26.58,106.71,{year}/1/2,{year + 1}/1/31\n",
                     encoding="utf-8")
    with HubServer(app) as hub, chromium() as driver:
        login(driver, hub.url, "bianji", PASSWORD)
        driver.get(hub.url + "console/import")
        assert driver.find_element(By.CSS_SELECTOR, "label.file-button[for=import-file]").text == "选择文件…"
        assert driver.find_element(By.ID, "import-file-name").text == "尚未选择文件"
        driver.find_element(By.ID, "import-file").send_keys(str(sheet))
        assert driver.find_element(By.ID, "import-file-name").text == "已选择：企业报送岗位.csv"
        _shot(driver, tmp_path, "批量导入-已选文件")
        submit(driver, driver.find_element(By.ID, "import-submit"))
        report = driver.find_element(By.ID, "import-report").text
        assert "第 3 行" in report and "岗位名称：最多 60 字，现有 300 字" in report
        _shot(driver, tmp_path, "批量导入-结果")
        driver.get(hub.url + "console/no-such-page")
        assert driver.find_element(By.TAG_NAME, "h1").text == "页面不存在" and "返回工作台" in driver.page_source
        _shot(driver, tmp_path, "页面不存在")
        driver.get(hub.url + "console/admin/users")
        assert driver.find_element(By.TAG_NAME, "h1").text == "没有权限"
        driver.get(hub.url + "console/content/job")
        cells = driver.find_element(By.CSS_SELECTOR, "table.data").text
        assert "云岩区各驿站" in cells and "张编辑" in cells and "gy-test" not in cells and "bianji" not in cells
        _shot(driver, tmp_path, "岗位信息-名称")
