"""The durable push queue in the hub database, and the rules a message must pass to go.

- **Consent.** A registration is subscribed only when its payload carries
  ``sms_consent: true`` (the kiosk's separate, unticked 同意短信推送岗位信息) and a phone.
  The subscription keeps an HMAC of the number (``HOME/keys/push.key``), never the number:
  the number stays sealed in the registration (``hub.vault``) and is opened only to hand it
  to the sender.
- **退订.** TD from a number (the gateway's deliver_sm), at the kiosk or by the registrar
  stops every subscription of that number and drops what is queued for it, at once.
- **Purged** registrations (their payload reduced to kind and code) are never pushed.
- **Night.** Nothing goes between 21:00 and 08:00 China time: the batch stops and the
  queue waits for the morning.
- **Weekly cap.** At most ``weekly_cap`` messages a resident (a number) in any 7 days;
  a message over it is dropped, not saved for later (the job would be stale).
- **Exactly once.** A row is marked ``sending`` before its submit and ``sent`` after the
  gateway accepted it. A sender killed between the two leaves it in doubt: the next run
  asks the sender which of those the gateway has (SMPP: the delivery receipts the SMSC
  keeps for this account) and sends only the others again.

Every push is logged with the number masked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from common.privacy import mask_phone
from hub.db import Migrations, migrate, register
from hub.push.senders import Sender, SendError
from hub.storage import HubStore, stations_table, uploads_table
from protocol.model import Job

log = logging.getLogger("yizhan.hub.push")

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
NIGHT_FROM, NIGHT_TO = 21, 8
WEEK = dt.timedelta(days=7)
MAX_TEXT = 300
KEY_NAME = "push.key"
OPT_OUT_WORDS = ("TD", "T", "退订", "N", "0000", "STOP")

def _create(conn: Connection) -> None:
    ident = "INTEGER PRIMARY KEY" if conn.dialect.name == "sqlite" else "SERIAL PRIMARY KEY"
    for statement in (
        """CREATE TABLE IF NOT EXISTS push_subscriptions (
            upload_id BIGINT PRIMARY KEY,
            phone_mac VARCHAR(64) NOT NULL,
            station_id VARCHAR(64) NOT NULL,
            created_at VARCHAR(40) NOT NULL,
            stopped_at VARCHAR(40),
            stopped_via VARCHAR(20))""",
        "CREATE INDEX IF NOT EXISTS push_subscriptions_by_phone ON push_subscriptions (phone_mac)",
        """CREATE TABLE IF NOT EXISTS push_stops (
            phone_mac VARCHAR(64) PRIMARY KEY,
            stopped_at VARCHAR(40) NOT NULL,
            via VARCHAR(20) NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS push_queue (
            id {ident},
            upload_id BIGINT NOT NULL,
            job_id VARCHAR(100) NOT NULL,
            text TEXT NOT NULL,
            created_at VARCHAR(40) NOT NULL,
            state VARCHAR(12) NOT NULL,
            sent_at VARCHAR(40),
            message_id VARCHAR(65),
            reason TEXT,
            UNIQUE (upload_id, job_id))""",
        "CREATE INDEX IF NOT EXISTS push_queue_by_state ON push_queue (state, id)",
    ):
        conn.execute(sa.text(statement))


MIGRATIONS = register(Migrations("hub.push", [_create]))

_meta = sa.MetaData()
subscriptions = sa.Table(
    "push_subscriptions", _meta,
    sa.Column("upload_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("phone_mac", sa.String(64), nullable=False),
    sa.Column("station_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("stopped_at", sa.String(40)),
    sa.Column("stopped_via", sa.String(20)),
)
stops = sa.Table(
    "push_stops", _meta,
    sa.Column("phone_mac", sa.String(64), primary_key=True),
    sa.Column("stopped_at", sa.String(40), nullable=False),
    sa.Column("via", sa.String(20), nullable=False),
)
queue = sa.Table(
    "push_queue", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("upload_id", sa.BigInteger, nullable=False),
    sa.Column("job_id", sa.String(100), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("sent_at", sa.String(40)),
    sa.Column("message_id", sa.String(65)),
    sa.Column("reason", sa.Text),
)

VIA = {"sms": "短信回复TD", "kiosk": "驿站一体机", "registrar": "登记员"}


class PushError(Exception):
    """A push request that cannot be carried out; the message says why (in Chinese)."""


def consent_state(engine: Engine, upload_id: int, payload: Mapping[str, Any]) -> str:
    """What the registration's page says of SMS: 未同意, 已同意 or 已退订（how）."""
    if payload.get("sms_consent") is not True:
        return "未同意"
    if not sa.inspect(engine).has_table("push_subscriptions"):
        return "已同意"
    with engine.connect() as conn:
        row = conn.execute(sa.select(subscriptions.c.stopped_via).where(subscriptions.c.upload_id == upload_id)).first()
    if row is not None and row.stopped_via:
        return f"已退订（{VIA.get(row.stopped_via, row.stopped_via)}）"
    return "已同意"


def is_night(when: dt.datetime) -> bool:
    hour = when.astimezone(CHINA).hour
    return hour >= NIGHT_FROM or hour < NIGHT_TO


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def load_mac_key(home: str | Path) -> bytes:
    """The key of the numbers' HMAC, made on first use (HOME/keys/push.key, 0600)."""
    keys = Path(home) / "keys"
    keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = keys / KEY_NAME
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(32))
        finally:
            os.close(fd)
    key = path.read_bytes()
    if len(key) != 32:
        raise PushError(f"{path} 不是 32 字节的密钥")
    return key


def message_text(station_name: str, job: Job) -> str:
    """The SMS: the station's name first, the job, and 回复TD退订 last."""
    unit = {"月": "元/月", "日": "元/天", "时": "元/小时"}.get(job.salary_unit, f"元/{job.salary_unit}")
    pay = f"{job.salary_min}-{job.salary_max}{unit}" if job.salary_max else "面议"
    when = f"，{job.work_date.month}月{job.work_date.day}日" if job.work_date else ""
    body = f"【{station_name}】为您推荐：{job.title}（{job.employer}），{pay}{when}。详询本驿站。"
    tail = "回复TD退订"
    if len(body) + len(tail) > MAX_TEXT:
        body = body[:MAX_TEXT - len(tail) - 1] + "…"
    return body + tail


@dataclass
class BatchReport:
    sent: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    confirmed: int = 0
    resent: int = 0
    stopped_numbers: int = 0
    night: bool = False
    error: str = ""

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


class PushQueue:
    """The queue and the subscriptions of one hub (its :class:`HubStore`)."""

    def __init__(self, store: HubStore, mac_key: bytes, *, weekly_cap: int = 2) -> None:
        self.store = store
        self.engine: Engine = store.engine
        self.mac_key = mac_key
        self.weekly_cap = weekly_cap
        migrate(self.engine, [MIGRATIONS])

    def mac(self, phone: str) -> str:
        digits = "".join(ch for ch in phone if ch.isdigit())
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        return hmac.new(self.mac_key, digits.encode(), hashlib.sha256).hexdigest()

    # -- consent ------------------------------------------------------------------------
    def subscribe_new(self, now: dt.datetime) -> int:
        """Subscribe the registrations received since the last run that consented. Returns how many."""
        with self.engine.connect() as conn:
            after = conn.execute(sa.select(sa.func.max(subscriptions.c.upload_id))).scalar() or 0
        added = 0
        # a margin below the last one subscribed: ids are not committed in order under concurrent uploads
        for row in self.store.uploads("registration", after_id=max(0, int(after) - 500)):
            payload = row["payload"]
            phone = str((payload.get("person") or {}).get("phone", "")).strip()
            if payload.get("sms_consent") is not True or not phone or payload.get("purged_at"):
                continue
            with self.engine.begin() as conn:
                if conn.execute(sa.select(subscriptions.c.upload_id)
                                .where(subscriptions.c.upload_id == row["id"])).first():
                    continue
                mac = self.mac(phone)
                stopped = conn.execute(sa.select(stops).where(stops.c.phone_mac == mac)).first()
                conn.execute(subscriptions.insert().values(
                    upload_id=row["id"], phone_mac=mac, station_id=row["origin_station"] or row["station_id"],
                    created_at=_iso(now), stopped_at=stopped.stopped_at if stopped else None,
                    stopped_via=stopped.via if stopped else None))
            added += 1
        return added

    def subscribed(self, upload_id: int) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(subscriptions).where(subscriptions.c.upload_id == upload_id)).first()
        return row is not None and row.stopped_at is None

    # -- 退订 ----------------------------------------------------------------------------
    def stop_number(self, phone: str, via: str, now: dt.datetime) -> int:
        """TD from ``phone``: every subscription of the number stops, its queue is dropped."""
        return self._stop(self.mac(phone), via, now)

    def stop_registration(self, upload_id: int, via: str, now: dt.datetime) -> int:
        """The registrar's or the kiosk's 退订 for one registration: its number stops everywhere."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(subscriptions).where(subscriptions.c.upload_id == upload_id)).first()
        if row is None:
            raise PushError(f"登记 {upload_id} 没有同意短信推送，无需退订")
        return self._stop(row.phone_mac, via, now)

    def _stop(self, mac: str, via: str, now: dt.datetime) -> int:
        if via not in VIA:
            raise PushError(f"退订方式须为 {'、'.join(VIA)} 之一")
        stamp = _iso(now)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(stops.c.phone_mac).where(stops.c.phone_mac == mac)).first() is None:
                conn.execute(stops.insert().values(phone_mac=mac, stopped_at=stamp, via=via))
            conn.execute(subscriptions.update().where(subscriptions.c.phone_mac == mac,
                                                      subscriptions.c.stopped_at.is_(None))
                         .values(stopped_at=stamp, stopped_via=via))
            ids = sa.select(subscriptions.c.upload_id).where(subscriptions.c.phone_mac == mac)
            dropped = conn.execute(queue.update().where(queue.c.upload_id.in_(ids), queue.c.state == "queued")
                                   .values(state="dropped", reason="已退订")).rowcount
        log.info("退订（%s）：停止推送，撤下待发 %d 条", VIA[via], dropped)
        return dropped

    # -- what to push -------------------------------------------------------------------
    def enqueue(self, matches: Mapping[str, Iterable[Any]], jobs: Mapping[str, Job], now: dt.datetime) -> int:
        """Queue a message for each (job, registration) of ``matches`` (hub.matching's
        ``match_publication``: job id -> registration ids) whose registration is subscribed."""
        stamp = _iso(now)
        added = 0
        with self.engine.begin() as conn:
            active = {r.upload_id: r.station_id for r in conn.execute(
                sa.select(subscriptions.c.upload_id, subscriptions.c.station_id)
                .where(subscriptions.c.stopped_at.is_(None)))}
            names = {r.id: r.name or r.id for r in conn.execute(sa.select(stations_table.c.id, stations_table.c.name))}
            queued = {(r.upload_id, r.job_id) for r in conn.execute(sa.select(queue.c.upload_id, queue.c.job_id))}
            rows = []
            for job_id, keys in matches.items():
                job = jobs.get(job_id)
                if job is None:
                    continue
                for key in keys:
                    upload_id = int(key)
                    if upload_id not in active or (upload_id, job_id) in queued:
                        continue
                    station = names.get(active[upload_id], active[upload_id])
                    rows.append({"upload_id": upload_id, "job_id": job_id, "text": message_text(station, job),
                                 "created_at": stamp, "state": "queued"})
                    queued.add((upload_id, job_id))
            for start in range(0, len(rows), 500):
                conn.execute(queue.insert(), rows[start:start + 500])
            added = len(rows)
        return added

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {r.state: r.n for r in conn.execute(
                sa.select(queue.c.state, sa.func.count().label("n")).group_by(queue.c.state))}

    # -- sending ------------------------------------------------------------------------
    def run(self, sender: Sender, clock: Callable[[], dt.datetime], *, limit: int = 500,
            in_doubt_wait_s: float = 10.0) -> BatchReport:
        """Send what the queue holds, oldest first, by the rules; stops at night or when the link breaks."""
        report = BatchReport()
        self.forget_purged()
        try:
            sender.open()
            self._resolve(sender, report, in_doubt_wait_s)
            self._replies(sender, report, clock())
            with self.engine.connect() as conn:
                waiting = list(conn.execute(sa.select(queue.c.id).where(queue.c.state == "queued")
                                            .order_by(queue.c.id).limit(limit)).scalars())
            for row_id in waiting:
                now = clock()
                if is_night(now):
                    report.night = True
                    break
                self._one(sender, row_id, now, report)
                self._replies(sender, report, now)
        except SendError as exc:
            report.error = str(exc)
            log.warning("推送中断：%s", exc)
        finally:
            sender.close()
        self._replies(sender, report, clock())  # replies read while unbinding
        return report

    def _resolve(self, sender: Sender, report: BatchReport, wait_s: float) -> None:
        with self.engine.connect() as conn:
            doubtful = list(conn.execute(sa.select(queue.c.id, queue.c.upload_id).where(queue.c.state == "sending")))
        if not doubtful:
            return
        have = sender.confirmed([(r.id, self._phone(r.upload_id)) for r in doubtful], wait_s)
        with self.engine.begin() as conn:
            for r in doubtful:
                if r.id in have:
                    conn.execute(queue.update().where(queue.c.id == r.id)
                                 .values(state="sent", reason="网关回执确认"))
                    report.confirmed += 1
                else:
                    conn.execute(queue.update().where(queue.c.id == r.id).values(state="queued"))
                    report.resent += 1
        log.info("上次中断时在途 %d 条：网关已收 %d 条，重发 %d 条", len(doubtful), report.confirmed, report.resent)

    def forget_purged(self) -> int:
        """Purged registrations (the console's 清除) leave no subscription, no number's HMAC and no
        waiting message behind; a 退订 stays on the list of stopped numbers. Returns how many."""
        if not sa.inspect(self.engine).has_table("console_registrations"):
            return 0
        purged: Any = sa.select(sa.column("upload_id")).select_from(sa.table("console_registrations")).where(
            sa.column("purged_at").is_not(None))
        with self.engine.begin() as conn:
            conn.execute(queue.update().where(queue.c.upload_id.in_(purged), queue.c.state == "queued")
                         .values(state="dropped", reason="登记已清除"))
            return int(conn.execute(subscriptions.delete().where(subscriptions.c.upload_id.in_(purged))).rowcount)

    def _phone(self, upload_id: int) -> str:
        """The number of a registration, opened from the vault for the sender ("" once purged)."""
        with self.engine.connect() as conn:
            stored = conn.execute(sa.select(uploads_table.c.payload).where(uploads_table.c.id == upload_id)).scalar()
        payload = self.store.vault.unseal(stored) if stored else {}
        return str((payload.get("person") or {}).get("phone", "")).strip()

    def _replies(self, sender: Sender, report: BatchReport, now: dt.datetime) -> None:
        for number, text in sender.replies():
            if text.strip().upper() in OPT_OUT_WORDS:
                self.stop_number(number, "sms", now)
                report.stopped_numbers += 1
                log.info("%s 回复退订", mask_phone(number))

    def _drop(self, conn: Connection, row_id: int, reason: str, report: BatchReport) -> None:
        conn.execute(queue.update().where(queue.c.id == row_id).values(state="dropped", reason=reason))
        report.drop(reason)
        log.info("推送 #%d 不发：%s", row_id, reason)

    def _one(self, sender: Sender, row_id: int, now: dt.datetime, report: BatchReport) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(queue).where(queue.c.id == row_id, queue.c.state == "queued")).first()
            if row is None:
                return
            sub = conn.execute(sa.select(subscriptions).where(subscriptions.c.upload_id == row.upload_id)).first()
            if sub is None or sub.stopped_at is not None or conn.execute(
                    sa.select(stops.c.phone_mac).where(stops.c.phone_mac == sub.phone_mac)).first():
                self._drop(conn, row_id, "已退订", report)
                return
            stored = conn.execute(sa.select(uploads_table.c.payload)
                                  .where(uploads_table.c.id == row.upload_id)).scalar()
            payload = self.store.vault.unseal(stored) if stored else {}
            phone = str((payload.get("person") or {}).get("phone", "")).strip()
            if not phone or payload.get("purged_at"):
                self._drop(conn, row_id, "登记已清除", report)
                return
            if payload.get("sms_consent") is not True:
                self._drop(conn, row_id, "未同意短信推送", report)
                return
            week = conn.execute(sa.select(sa.func.count()).select_from(queue.join(
                subscriptions, queue.c.upload_id == subscriptions.c.upload_id)).where(
                subscriptions.c.phone_mac == sub.phone_mac, queue.c.state.in_(("sent", "sending")),
                queue.c.sent_at >= _iso(now - WEEK))).scalar_one()
            if week >= self.weekly_cap:
                self._drop(conn, row_id, f"本周已推送 {week} 条（上限 {self.weekly_cap}）", report)
                return
            conn.execute(queue.update().where(queue.c.id == row_id).values(state="sending", sent_at=_iso(now)))
        try:
            message_id = sender.send(phone, row.text, row_id)
        except SendError as exc:
            if exc.link:
                raise  # in doubt: the next run asks the gateway
            with self.engine.begin() as conn:
                conn.execute(queue.update().where(queue.c.id == row_id)
                             .values(state="failed", reason=str(exc)[:200]))
            report.drop("网关拒收")
            log.warning("推送 #%d 到 %s 被拒：%s", row_id, mask_phone(phone), exc)
            return
        with self.engine.begin() as conn:
            conn.execute(queue.update().where(queue.c.id == row_id)
                         .values(state="sent", message_id=message_id[:65]))
        report.sent += 1
        log.info("推送 #%d 到 %s 已发送", row_id, mask_phone(phone))
