"""我想应聘 end to end on loopback: a job's page -> phone -> consent -> receipt, the outbox
delivered to a real hub (waitress on 127.0.0.1), and the registrar's inbox showing the job.

With the card read the consent shows the name masked and the registration carries the
person; without it the phone alone goes, marked 未核验 on the kiosk, the slip and the console.
"""

from __future__ import annotations

import re
import sqlite3

import pytest
from test_kiosk_flows import make_kiosk, place_card, take_card_back  # noqa: F401 - fixture
from test_kiosk_screens import shots_dir

from config.station import Station
from hub.app import HubServer, create_app
from hub.console.auth import create_user
from hub.publish import write_keypair

pytestmark = pytest.mark.display
PASSWORD = "登记-测试-口令-2026"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def hub(tmp_path, monkeypatch):
    from argon2 import PasswordHasher

    from hub.console import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    home = tmp_path / "hub"
    _key, public = write_keypair(home)
    app = create_app(home)
    create_user(app.extensions["console"].engine, "registrar", PASSWORD, ["registrar"], "登记员甲")
    server = HubServer(app).start()
    try:
        yield app, server, public
    finally:
        server.stop()
        app.extensions["hub_store"].close()


def apply_for(kiosk, job_id: str, phone: str) -> None:
    """From the job's page: 我想应聘, the phone on the keypad, 下一步."""
    driver, app = kiosk.driver, kiosk.app
    app.go("job", job_id=job_id)
    driver.pump(frames=2)
    driver.tap(app.screen.ids.apply_button)
    form = app.screen
    assert app.screen_name == "form" and form.progress == "第1步，共1步" and form.kind_of_step == "phone"
    for digit in phone:
        driver.tap(form.ids.keypad.key(digit), frames=0)
    driver.tap(form.ids.next_button)
    assert app.screen_name == "consent"


def test_apply_for_a_job_with_and_without_the_card_reaches_the_registrars_inbox(make_kiosk, station, hub,  # noqa: F811
                                                                                tmp_path):
    app_hub, server, public = hub
    token = app_hub.extensions["hub_store"].add_station(station.settings.station.id)
    station.write(f'[hub]\nfeed_url = "{server.url}feeds/main/"\npublic_key = "{public}"\n'
                  f'upload_url = "{server.url}api/v1/"\nstation_token = "{token}"\ntimeout_s = 5.0\n')
    kiosk = make_kiosk()
    driver, app = kiosk.driver, kiosk.app
    first, second = (hit.job for hit in app.store.featured_jobs(2))

    # with the card: the name is shown masked, the receipt names the job
    place_card(kiosk)
    take_card_back(kiosk)
    app.go("job", job_id=first.id)
    driver.pump(frames=2)
    driver.screenshot(shots_dir(tmp_path) / "apply-job.png")
    apply_for(kiosk, first.id, "13800138001")
    consent = app.screen
    driver.screenshot(shots_dir(tmp_path) / "apply-consent-card.png")
    lines = dict(consent.summary)
    assert lines["应聘岗位"] == f"{first.title}，{first.employer}" and lines["姓名"] == "张*试"
    driver.tap(consent.ids.accept_button)
    assert app.screen_name == "done" and app.screen.what == f"应聘“{first.title}”"
    printed = kiosk.printer.wait_for_printed(1, timeout=20)
    slip = " ".join(line.text for line in printed[-1].report.lines)
    assert first.title in slip and "未核验" not in slip and "13800138001" not in slip
    driver.tap(app.root.ids.end_visit_button)  # 结束并清除: the next resident has no card
    driver.tap(app.rating.ids.skip_rating_button)

    # without a card: the phone alone, 未核验
    assert app.session.resident is None
    apply_for(kiosk, second.id, "13900139002")
    assert dict(app.screen.summary)["身份"].startswith("未核验")
    driver.screenshot(shots_dir(tmp_path) / "apply-consent-no-card.png")
    driver.tap(app.screen.ids.accept_button)
    assert app.screen_name == "done"
    driver.screenshot(shots_dir(tmp_path) / "apply-done.png")
    printed = kiosk.printer.wait_for_printed(2, timeout=20)
    slip = " ".join(line.text for line in printed[-1].report.lines)
    assert second.title in slip and "未核验" in slip

    # the outbox to the hub, over loopback
    result = Station(station.settings).sender(batch_size=10).deliver_once()
    assert result.status == "delivered" and result.remaining == 0
    conn = sqlite3.connect(station.settings.db_path)
    assert conn.execute("SELECT COUNT(*) FROM registrations WHERE personal IS NOT NULL").fetchone()[0] == 0
    conn.close()

    # the registrar's inbox: 应聘：<岗位>，<用人单位>, the unverified one marked
    client = app_hub.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    client.post("/console/login", data={"username": "registrar", "password": PASSWORD,
                                        "csrf_token": TOKEN_RE.search(page).group(1)})
    inbox = client.get("/console/registrations").get_data(as_text=True)
    for job in (first, second):
        assert f"应聘：{job.title}，{job.employer}" in inbox
    assert inbox.count("未核验") == 1 and "13800138001" not in inbox and "13900139002" not in inbox
    uploads = {u["payload"]["job"]["id"]: u for u in app_hub.extensions["hub_store"].uploads("registration")}
    assert set(uploads) == {first.id, second.id}
    assert uploads[first.id]["payload"]["kind"] == uploads[second.id]["payload"]["kind"] == "求职"
    assert uploads[second.id]["payload"]["verified"] is False
    assert set(uploads[second.id]["payload"]["person"]) == {"phone"}
    detail_id = re.search(r'/console/registrations/(\d+)"', inbox).group(1)
    detail = client.get(f"/console/registrations/{detail_id}").get_data(as_text=True)
    assert "应聘：" in detail
