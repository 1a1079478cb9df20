"""同意短信推送岗位信息 end to end: the station's registration carries it through its outbox to the
hub, the registration's page says it, and the registrar's 退订 stops the number's pushes."""

from __future__ import annotations

import sqlalchemy as sa
from console_kit import Console, post

from content.outbox import Outbox
from content.registrations import submit_registration
from hub.console.schema import registrations
from hub.push.queue import PushQueue, load_mac_key

PERSON = {"name": "钱七妹", "phone": "13512345678", "gender": "女", "birth_date": "1985-03-04"}
ANSWERS = {"categories": ["普工"], "salary": "3000-5000元"}


def test_the_consent_travels_to_the_console_and_the_registrar_can_stop_it(console: Console, station) -> None:
    db = station.settings.db_path
    yes = submit_registration(db, "求职", PERSON, ANSWERS, station_id="s-1", sms_consent=True)
    no = submit_registration(db, "求职", {**PERSON, "phone": "13512345679"}, ANSWERS, station_id="s-1")
    with Outbox(db) as outbox:
        entries = outbox.pending("registration")
    assert [e.payload["sms_consent"] for e in entries] == [True, False]
    console.store.add_station("s-1", "城东社区服务站")
    assert all(r["status"] == "created" for r in console.store.ingest("s-1", "registration",
                                                                       [e.wire() for e in entries]))
    registrar = console.client("registrar")
    registrar.get("/console/registrations")  # folds the uploads in
    with console.engine.connect() as conn:
        ids = dict(conn.execute(sa.select(registrations.c.code, registrations.c.upload_id)).all())

    page = registrar.get(f"/console/registrations/{ids[yes.code]}").data.decode()
    assert "短信推送岗位信息：" in page and ">已同意</span>" in page and ">退订</button>" in page
    page = registrar.get(f"/console/registrations/{ids[no.code]}").data.decode()
    assert ">未同意</span>" in page and ">退订</button>" not in page

    answer = post(registrar, f"/console/registrations/{ids[yes.code]}/sms-stop", {})
    assert answer.status_code == 302
    page = registrar.get(f"/console/registrations/{ids[yes.code]}").data.decode()
    assert ">已退订（登记员）</span>" in page and ">退订</button>" not in page
    push = PushQueue(console.store, load_mac_key(console.home))
    assert not push.subscribed(ids[yes.code])
    # the number stays stopped for a later registration of the same resident
    later = submit_registration(db, "零工", PERSON, {"skills": ["保洁"]}, station_id="s-1", sms_consent=True)
    with Outbox(db) as outbox:
        entry = next(e for e in outbox.pending("registration") if e.payload["code"] == later.code)
    console.store.ingest("s-1", "registration", [entry.wire()])
    push.subscribe_new(console.clock())
    registrar.get("/console/registrations")
    with console.engine.connect() as conn:
        later_id = conn.execute(sa.select(registrations.c.upload_id)
                                .where(registrations.c.code == later.code)).scalar_one()
    assert not push.subscribed(later_id)


def test_the_hub_refuses_a_consent_that_is_not_true_or_false(console: Console) -> None:
    console.store.add_station("s-1", "城东社区服务站")
    answer = console.store.ingest("s-1", "registration", [{
        "key": "reg-key-000009", "created_at": "2026-11-19T09:00:00+08:00",
        "payload": {"code": "48271930", "kind": "求职", "station_id": "s-1", "person": PERSON, "answers": ANSWERS,
                    "sms_consent": "yes"}}])
    assert answer[0]["status"] == "rejected" and answer[0]["reason"] == "payload.sms_consent: true or false"


def test_a_purged_registration_leaves_no_subscription_and_gets_nothing(console: Console, station) -> None:
    import datetime as dt

    from hub.console import handoff
    from hub.push.queue import CHINA, subscriptions
    from hub.push.senders import PushSettings, SmppSender
    from hub.push.smsc import LocalSmsc
    from protocol.model import Job

    submit_registration(station.settings.db_path, "求职", PERSON, ANSWERS, station_id="s-1", sms_consent=True)
    with Outbox(station.settings.db_path) as outbox:
        console.store.add_station("s-1", "城东社区服务站")
        console.store.ingest("s-1", "registration", [e.wire() for e in outbox.pending("registration")])
    push = PushQueue(console.store, load_mac_key(console.home))
    now = dt.datetime(2026, 12, 8, 10, tzinfo=CHINA)
    push.subscribe_new(now)
    with console.engine.connect() as conn:
        upload_id = conn.execute(sa.select(subscriptions.c.upload_id)).scalar_one()
    job = Job(id="pg-1", title="包装普工", employer="城东物流有限公司", category="普工", salary_min=4000, salary_max=4500,
              latitude=26.58, longitude=106.71, published=dt.date(2026, 12, 7), valid_until=dt.date(2027, 1, 31))
    assert push.enqueue({"pg-1": [upload_id]}, {"pg-1": job}, now) == 1
    # the retention purge runs while the message waits
    assert handoff.purge_expired(console.engine, 1, "admin", now + dt.timedelta(days=30), vault=console.store.vault) == 1
    smsc = LocalSmsc().start()
    try:
        report = push.run(SmppSender(PushSettings(port=smsc.port)), lambda: now)
    finally:
        smsc.stop()
    assert report.sent == 0 and smsc.received == [] and push.counts() == {"dropped": 1}
    with console.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(subscriptions)).scalar_one() == 0
