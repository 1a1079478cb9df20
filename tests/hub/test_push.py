"""Job matches pushed by SMS to a local SMSC: only with consent, never after TD, never at
night, never over the weekly cap, never to a purged registration; a sender killed mid-batch
neither loses nor repeats a message."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.matching import match_publication, seeker_from
from hub.push import smpp
from hub.push.queue import CHINA, PushError, PushQueue, load_mac_key
from hub.push.senders import PushSettings, PushSettingsError, SmppSender
from hub.push.smsc import LocalSmsc, read_record
from hub.storage import HubStore
from protocol.model import Job

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 8)
STATION = ("s-1", "城东社区驿站")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=CHINA)


def job(number: int) -> Job:
    return Job(id=f"pg-{number:03d}", title=f"仓库普工{number}号", employer="城东物流有限公司", category="普工",
               salary_min=4000, salary_max=5000, latitude=26.6, longitude=106.7,
               published=dt.date(2026, 12, 1), valid_until=dt.date(2027, 1, 31))


def registration(number: int, phone: str, *, consent: bool) -> dict:
    payload = {"code": f"{number:08d}", "kind": "求职", "station_id": STATION[0], "created_at": "2026-12-07T09:00:00+08:00",
               "person": {"name": "张三", "phone": phone, "id_number": "520102199001011234"},
               "answers": {"categories": ["普工"], "salary": "3000-5000元"}}
    if consent:
        payload["sms_consent"] = True
    return {"key": f"reg-key-{number:06d}", "created_at": "2026-12-07T09:00:00+08:00", "payload": payload}


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[LocalSmsc]:
    server = LocalSmsc(record=tmp_path / "smsc.jsonl").start()
    yield server
    server.stop()


def _hub(database: str, home: Path, registrations: list[dict], *, cap: int = 2) -> tuple[HubStore, PushQueue]:
    store = HubStore(database, home=home)
    store.add_station(*STATION)
    assert all(r["status"] == "created" for r in store.ingest(STATION[0], "registration", registrations))
    return store, PushQueue(store, load_mac_key(home), weekly_cap=cap)


def _publish(store: HubStore, push: PushQueue, jobs: list[Job], now: dt.datetime) -> int:
    """What a publication does: hub.matching's lists for the new jobs, queued for the subscribed."""
    push.subscribe_new(now)
    seekers = [seeker_from(r["id"], r["payload"], today=now.date()) for r in store.uploads("registration")
               if r["payload"].get("person")]
    return push.enqueue(match_publication(jobs, seekers, now.date()), {j.id: j for j in jobs}, now)


def _sender(smsc: LocalSmsc) -> SmppSender:
    return SmppSender(PushSettings(port=smsc.port, source="10690001"))


def _by_number(smsc: LocalSmsc) -> Counter:
    return Counter(m["to"] for m in smsc.received)


def test_only_consenting_residents_get_messages_within_the_rules(smsc: LocalSmsc, hub_database: str,
                                                                 tmp_path: Path) -> None:
    home = tmp_path / "hub"
    regs = [registration(1, "13800000001", consent=True), registration(2, "13800000002", consent=False),
            registration(3, "13800000003", consent=True), registration(4, "13800000004", consent=True),
            registration(5, "13800000005", consent=True)]
    store, push = _hub(hub_database, home, regs)
    ids = {r["payload"]["person"]["phone"]: r["id"] for r in store.uploads("registration")}
    clock = Clock(at(8, 10))

    # Monday 10:00, one new job: every consenting resident gets it, the one without consent nothing.
    assert _publish(store, push, [job(1)], clock()) == 4
    report = push.run(_sender(smsc), clock)
    assert report.sent == 4 and not report.error
    assert _by_number(smsc) == Counter({"13800000001": 1, "13800000003": 1, "13800000004": 1, "13800000005": 1})
    text = smsc.received[0]["text"]
    assert text.startswith("【城东社区驿站】") and text.endswith("回复TD退订") and "仓库普工1号" in text

    # 13800000003 answers TD at the SMSC and 13800000005 unsubscribes at the registrar's desk; two more
    # jobs are published at 22:00 (3's TD is not read yet, so it is queued too); then 13800000004's
    # registration is purged while its messages wait. Nothing goes at night.
    smsc.deliver("13800000003", "TD")
    assert push.stop_registration(ids["13800000005"], "registrar", clock()) == 0
    clock.now = at(8, 22)
    assert _publish(store, push, [job(2), job(3)], clock()) == 6
    from hub.console.hubdata import replace_payload

    with store.engine.begin() as conn:
        replace_payload(conn, ids["13800000004"], {"kind": "求职", "code": "00000004", "purged_at": "2026-12-08"})
    report = push.run(_sender(smsc), clock)
    assert report.night and report.sent == 0 and report.stopped_numbers == 1
    assert len(smsc.received) == 4

    # Tuesday 08:30: the morning sends what waited, within the cap of 2 a week.
    clock.now = at(9, 8, 30)
    report = push.run(_sender(smsc), clock)
    assert _by_number(smsc) == Counter({"13800000001": 2, "13800000003": 1, "13800000004": 1, "13800000005": 1})
    assert report.sent == 1 and report.dropped == {"登记已清除": 2, "本周已推送 2 条（上限 2）": 1}
    # The next week the cap is free again; a new job reaches 13800000001 only.
    clock.now = at(16, 9)
    assert _publish(store, push, [job(4)], clock()) == 1
    assert push.run(_sender(smsc), clock).sent == 1
    assert _by_number(smsc)["13800000001"] == 3 and len(smsc.received) == 6
    # The numbers never reach the hub's tables or its log in clear.
    with store.engine.connect() as conn:
        dump = " ".join(str(row) for table in ("push_subscriptions", "push_stops", "push_queue")
                        for row in conn.execute(sa.text(f"SELECT * FROM {table}")))
    assert "1380000000" not in dump
    store.close()


def test_a_resident_who_unsubscribed_at_the_kiosk_is_not_subscribed_again(smsc: LocalSmsc, tmp_path: Path) -> None:
    store, push = _hub(f"sqlite:///{tmp_path / 'hub' / 'hub.db'}", tmp_path / "hub",
                       [registration(1, "13900000001", consent=True)])
    clock = Clock(at(8, 10))
    push.subscribe_new(clock())
    push.stop_number("+86 139 0000 0001", "kiosk", clock())
    store.ingest(STATION[0], "registration", [registration(2, "13900000001", consent=True)])
    assert _publish(store, push, [job(1)], clock()) == 0
    assert push.run(_sender(smsc), clock).sent == 0 and smsc.received == []
    with pytest.raises(PushError, match="没有同意短信推送"):
        push.stop_registration(999, "registrar", clock())


def test_settings_refused_by_name() -> None:
    with pytest.raises(PushSettingsError, match="weekly_cap 须为 0 到 50 的整数"):
        PushSettings.from_table({"weekly_cap": "两条"})
    with pytest.raises(PushSettingsError, match="须填写网关地址 url"):
        PushSettings.from_table({"sender": "http"})
    with pytest.raises(PushSettingsError, match="没有这些设置：cap"):
        PushSettings.from_table({"cap": 3})


def test_the_smsc_speaks_smpp_3_4(smsc: LocalSmsc) -> None:
    client = smpp.SmppClient("127.0.0.1", smsc.port, "yizhan", "")
    client.bind(smpp.BIND_TRANSMITTER)
    client.enquire_link()
    long_text = "【城东社区驿站】" + "岗" * 100 + "回复TD退订"
    assert client.submit(smpp.ShortMessage("10690001", "13800000009", long_text, reference=7)) == "00000001"
    nack = client.call(smpp.Pdu(0x00000103))  # data_sm: not served here
    assert nack.command_id == smpp.GENERIC_NACK and nack.status == smpp.ESME_RINVCMDID
    client.unbind()
    assert smsc.received[0]["text"] == long_text and smsc.received[0]["ref"] == 7
    assert read_record(smsc.record)[0]["text"] == long_text
    wrong = smpp.SmppClient("127.0.0.1", smsc.port, "other", "")
    with pytest.raises(smpp.SmppError, match="拒绝登录"):
        wrong.bind()


SENDER = """
import datetime as dt, sys
from hub.storage import HubStore
from hub.push.queue import CHINA, PushQueue, load_mac_key
from hub.push.senders import PushSettings, SmppSender
home, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
store = HubStore(f"sqlite:///{home}/hub.db", home=home)
push = PushQueue(store, load_mac_key(home), weekly_cap=5)
report = push.run(SmppSender(PushSettings(port=int(port))), lambda: dt.datetime(2026, 12, 8, 10, tzinfo=CHINA),
                  in_doubt_wait_s=wait)
print(report.sent, report.confirmed, report.resent, report.error)
"""


def test_a_sender_killed_mid_batch_neither_loses_nor_repeats(smsc: LocalSmsc, tmp_path: Path) -> None:
    home = tmp_path / "hub"
    store, push = _hub(f"sqlite:///{home / 'hub.db'}", home,
                       [registration(n, f"137{n:08d}", consent=True) for n in range(1, 41)], cap=5)
    assert _publish(store, push, [job(1)], at(8, 10)) == 40
    run = [sys.executable, "-c", SENDER, str(home), str(smsc.port)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([*run, "30"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)

    # The SMSC has message 15 and the sender has not had its answer yet: SIGKILL.
    def kill_at_15(entry: dict) -> None:
        if len(smsc.received) == 15:
            os.kill(first.pid, signal.SIGKILL)

    smsc.on_submit = kill_at_15
    assert first.wait(timeout=60) == -signal.SIGKILL
    smsc.on_submit = None
    assert len(smsc.received) == 15
    with store.engine.begin() as conn:
        states = Counter(conn.execute(sa.text("SELECT state FROM push_queue")).scalars())
        assert states == Counter({"sent": 14, "sending": 1, "queued": 25})
        # and one more as a kill just after marking it, before its submit left, would leave it
        conn.execute(sa.text("UPDATE push_queue SET state = 'sending' WHERE id = 30"))

    second = subprocess.run([*run, "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    sent, confirmed, resent, _error = second.stdout.split(" ", 3)
    assert (int(sent), int(confirmed), int(resent)) == (25, 1, 1)
    refs = Counter(m["ref"] for m in read_record(smsc.record))
    assert refs == Counter({n: 1 for n in range(1, 41)})
    assert Counter(m["to"] for m in smsc.received) == Counter({f"137{n:08d}": 1 for n in range(1, 41)})
    assert push.counts() == {"sent": 40}
    store.close()


def test_the_http_gateway_gets_the_same_messages_as_json(tmp_path: Path) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    posted: list[dict] = []
    answers = [503, 200, 200]

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = answers.pop(0)
            if status == 200:
                posted.append(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"message_id": f"gw-{len(posted)}"}).encode())

        def log_message(self, *args: object) -> None:
            """Quiet: the test reads what it needs from the requests."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from hub.push.senders import HttpSender

        settings = PushSettings(sender="http", url=f"http://127.0.0.1:{server.server_address[1]}/sms")
        store, push = _hub(f"sqlite:///{tmp_path / 'hub' / 'hub.db'}", tmp_path / "hub",
                           [registration(1, "13600000001", consent=True), registration(2, "13600000002", consent=True)])
        clock = Clock(at(8, 10))
        assert _publish(store, push, [job(1)], clock()) == 2
        first = push.run(HttpSender(settings), clock)  # the gateway answers 503: the batch stops, nothing lost
        assert first.sent == 0 and "HTTP 503" in first.error and posted == []
        second = push.run(HttpSender(settings), clock)
        assert second.sent == 2 and second.resent == 1
        assert [(p["to"], p["ref"]) for p in posted] == [("13600000001", "1"), ("13600000002", "2")]
        assert posted[0]["text"].startswith("【城东社区驿站】") and posted[0]["text"].endswith("回复TD退订")
        assert push.counts() == {"sent": 2}
        store.close()
    finally:
        server.shutdown()
        server.server_close()
