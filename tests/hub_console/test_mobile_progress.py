"""进度查询 from the phone page: only the follow-up state and the station's phone, the same
answer for a wrong code and wrong digits, throttled after 10 wrong tries per address and per
code (counted in the database), logged without personal data, nothing for a purged registration."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
import sqlalchemy as sa
from console_kit import Console, post

from hub.app import create_app
from hub.console import handoff
from hub.console.schema import registrations
from hub.mobile import write_pages
from protocol.model import ContentSet

PERSON = {"name": "赵六", "id_number": "520103197812120018", "gender": "男", "birth_date": "1978-12-12",
          "address": "贵州省贵阳市云岩区中华北路108号3单元", "phone": "13698765432"}
SECRETS = ["赵六", "520103197812120018", "13698765432", "5432", "中华北路"]


def _register(console: Console, code: str = "K7Q2M9", key: str = "reg-key-1") -> None:
    if not any(s.id == "s-1" for s in console.store.stations()):
        console.store.add_station("s-1", "测试站")
    created = "2026-11-19T09:00:00+08:00"
    results = console.store.ingest("s-1", "registration", [{
        "key": key, "created_at": created,
        "payload": {"code": code, "kind": "求职", "station_id": "s-1", "created_at": created, "person": PERSON,
                    "answers": {"意向": "保洁"}}}])
    assert results[0]["status"] == "created"
    write_pages(ContentSet(documents={"stations": [
        {"id": "s-1", "name": "城东社区服务站", "latitude": 26.58, "longitude": 106.71, "hotline": "0851-12333"}]}),
        console.home / "feeds" / "gy", version=1, today=dt.date(2026, 11, 20), now=console.clock())


def _ask(client, code: str, phone4: str, address: str = "10.1.2.3"):
    return client.post("/m/progress", data={"code": code, "phone4": phone4}, environ_base={"REMOTE_ADDR": address})


def test_the_resident_sees_only_the_state_and_the_stations_phone(console: Console,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    _register(console)
    phone = console.app.test_client()
    caplog.set_level(logging.INFO, logger="yizhan.hub.progress")
    answer = _ask(phone, "k7q2-m9", "5432")  # typed as on the slip, in any case, with its dash
    text = answer.data.decode()
    assert answer.status_code == 200 and "已受理" in text and 'href="tel:085112333"' in text
    assert not any(secret in text for secret in SECRETS)
    assert answer.headers["Cache-Control"] == "no-store"
    # the registrar follows it up; the resident sees the new state
    registrar = console.client("registrar")
    with console.engine.connect() as conn:
        upload_id = conn.execute(sa.select(registrations.c.upload_id)).scalar_one()
    post(registrar, f"/console/registrations/{upload_id}/follow-up", {"status": "已推荐", "note": ""})
    assert "已推荐" in _ask(phone, "K7Q2M9", "5432").data.decode()
    post(registrar, f"/console/registrations/{upload_id}/follow-up", {"status": "已就业", "note": "已入职"})
    shown = _ask(phone, "K7Q2M9", "5432").data.decode()
    assert "已就业" in shown and "已入职" not in shown  # the registrar's note stays in the console
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "已就业" in logged and "K7Q2M9" not in logged.upper() and not any(s in logged for s in SECRETS)


def test_a_wrong_code_and_wrong_digits_get_the_same_answer_and_bad_input_is_named(console: Console) -> None:
    _register(console)
    phone = console.app.test_client()
    wrong_digits = _ask(phone, "K7Q2M9", "1111")
    wrong_code = _ask(phone, "ZZZZ99", "5432")
    assert wrong_digits.status_code == wrong_code.status_code == 404
    assert wrong_digits.data == wrong_code.data and "已受理" not in wrong_code.data.decode()
    assert "4 个数字" in _ask(phone, "K7Q2M9", "54a2").data.decode()
    assert "回执码" in _ask(phone, "<script>", "5432").data.decode()


def test_ten_wrong_tries_throttle_the_address_and_the_code(console: Console) -> None:
    _register(console)
    phone = console.app.test_client()
    for i in range(10):
        assert _ask(phone, "K7Q2M9", f"{i:04d}").status_code == 404
    refused = _ask(phone, "K7Q2M9", "5432")  # even the right digits are not looked at now
    assert refused.status_code == 429 and "已受理" not in refused.data.decode()
    assert int(refused.headers["Retry-After"]) > 0 and "分钟后再查" in refused.data.decode()
    # the same code from another address: still refused (counted per code)
    assert _ask(phone, "K7Q2M9", "5432", address="10.9.9.9").status_code == 429
    # the guessing address is refused for another code too (counted per address)
    assert _ask(phone, "ABCD12", "0000").status_code == 429
    # the count is in the database: another worker (another app on the same database) agrees
    other = create_app(console.home, database_url=console.database_url, console_clock=console.clock)
    try:
        assert _ask(other.test_client(), "K7Q2M9", "5432", address="10.5.5.5").status_code == 429
    finally:
        other.extensions["hub_store"].close()
    console.clock.advance(minutes=31)
    assert _ask(phone, "K7Q2M9", "5432", address="10.9.9.9").status_code == 200


def test_a_purged_registration_is_not_found(console: Console) -> None:
    _register(console)
    phone = console.app.test_client()
    assert _ask(phone, "K7Q2M9", "5432").status_code == 200
    console.clock.advance(days=400)
    handoff.purge_expired(console.engine, 30, "admin", console.clock(), vault=console.app.extensions["console"].vault)
    gone = _ask(phone, "K7Q2M9", "5432")
    assert gone.status_code == 404 and not re.search("已(受理|联系|推荐|就业)", gone.data.decode())
