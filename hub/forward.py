"""Store-and-forward from a city hub to a provincial hub (多点联动: 市级归集, 省级汇总).

The city hub's own database is the store: every upload it accepted stays there, and
``forward_acks`` records, per target, which ones the province has answered for. The
forwarder sends the unanswered ones with their original idempotency keys and the station
they came from (``station``), to the province's ordinary upload API, authenticated as a
relay (``yizhan hub station add CITY --relay`` at the province). So:

- the province down: nothing is acknowledged, everything is sent again later;
- the forwarder or the city hub killed after the province stored a batch but before the
  acknowledgement was written: the batch is sent again and the province answers
  ``duplicate`` with the first receipt (its UNIQUE key), so nothing is doubled;
- a record the province refuses is acknowledged as ``rejected`` with the reason (shown to
  staff), so one bad record does not hold up the rest.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import sqlalchemy as sa

from common.clock import utc_iso
from hub.db import Migrations, migrate, register, writing
from hub.storage import UPLOAD_KINDS, HubStore, uploads_table

log = logging.getLogger(__name__)

ENDPOINTS = {kind: endpoint for endpoint, kind in UPLOAD_KINDS.items()}
DEFAULT_BATCH = 200

MIGRATIONS = register(Migrations("hub.forward", [
    """
    CREATE TABLE IF NOT EXISTS forward_acks (
        target VARCHAR(200) NOT NULL,
        upload_id BIGINT NOT NULL,
        status VARCHAR(20) NOT NULL,
        receipt TEXT,
        acked_at VARCHAR(40) NOT NULL,
        PRIMARY KEY (target, upload_id)
    )
    """,
]))

_meta = sa.MetaData()
acks_table = sa.Table(
    "forward_acks", _meta,
    sa.Column("target", sa.String(200), primary_key=True),
    sa.Column("upload_id", sa.BigInteger, primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("receipt", sa.Text),
    sa.Column("acked_at", sa.String(40), nullable=False),
)


class ForwardError(Exception):
    """The provincial hub could not take a batch now (it will be sent again)."""


@dataclass
class ForwardResult:
    sent: int = 0
    duplicates: int = 0
    rejected: int = 0
    pending: int = 0
    error: str | None = None
    rejections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


class Forwarder:
    """Sends a city hub's stored uploads on to a provincial hub's upload API."""

    def __init__(self, store: HubStore, upload_url: str, token: str, *, batch: int = DEFAULT_BATCH,
                 timeout_s: float = 10.0, kinds: list[str] | None = None,
                 session: requests.Session | None = None) -> None:
        if not token:
            raise ForwardError("no relay token for the provincial hub (yizhan hub station add CITY --relay there)")
        if not upload_url.startswith(("http://", "https://")):
            raise ForwardError(f"the provincial upload URL must start with http:// or https://, got {upload_url!r}")
        self.store = store
        self.upload_url = upload_url.rstrip("/") + "/"
        self.target = self.upload_url
        self.token = token
        self.batch = batch
        self.timeout_s = timeout_s
        unknown = [k for k in kinds or [] if k not in ENDPOINTS]
        if unknown:
            raise ForwardError(f"unknown upload kind(s) {', '.join(unknown)}; use {', '.join(ENDPOINTS)}")
        self.kinds = kinds or list(ENDPOINTS)
        self.session = session or requests.Session()
        migrate(store.engine, [MIGRATIONS])

    # -- what is waiting ------------------------------------------------------------------
    def pending(self, kind: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Uploads the target has not answered for, oldest first."""
        u, a = uploads_table, acks_table
        answered = sa.select(a.c.upload_id).where(a.c.target == self.target, a.c.upload_id == u.c.id)
        query = (sa.select(u).where(~sa.exists(answered)).where(u.c.kind.in_([kind] if kind else self.kinds))
                 .order_by(u.c.id))
        if limit:
            query = query.limit(limit)
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def pending_count(self) -> int:
        u, a = uploads_table, acks_table
        answered = sa.select(a.c.upload_id).where(a.c.target == self.target, a.c.upload_id == u.c.id)
        query = (sa.select(sa.func.count()).select_from(u).where(~sa.exists(answered))
                 .where(u.c.kind.in_(self.kinds)))
        with self.store.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # -- sending ----------------------------------------------------------------------------
    def forward_once(self) -> ForwardResult:
        """Send everything waiting, batch by batch; stop at the first batch the target cannot take."""
        result = ForwardResult()
        try:
            for kind in self.kinds:
                while True:
                    rows = self.pending(kind, self.batch)
                    if not rows:
                        break
                    self._send(kind, rows, result)
        except ForwardError as exc:
            result.error = str(exc)
        result.pending = self.pending_count()
        return result

    def _send(self, kind: str, rows: list[dict[str, Any]], result: ForwardResult) -> None:
        items = [{"key": r["key"], "created_at": r["created_at"], "payload": self.store._loaded(r["kind"], r["payload"]),
                  "station": r["origin_station"] or r["station_id"]} for r in rows]
        url = self.upload_url + ENDPOINTS[kind]
        try:
            response = self.session.post(url, json={"items": items}, timeout=self.timeout_s,
                                         headers={"Authorization": f"Bearer {self.token}"})
        except requests.RequestException as exc:
            raise ForwardError(f"provincial hub unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            try:
                detail = str(response.json().get("error", ""))[:200]
            except ValueError:
                detail = ""
            raise ForwardError(f"provincial hub answered {response.status_code} {detail}".strip())
        try:
            answers = response.json()["results"]
        except (ValueError, KeyError, TypeError):
            raise ForwardError("provincial hub answered 200 without a results list") from None
        if not isinstance(answers, list) or len(answers) != len(rows):
            raise ForwardError("provincial hub answered for a different number of records")
        now = utc_iso()
        acks = []
        for row, answer in zip(rows, answers, strict=True):
            status = answer.get("status") if isinstance(answer, dict) else None
            if status not in ("created", "duplicate", "rejected") or answer.get("key") != row["key"]:
                raise ForwardError("provincial hub answered out of order or with an unknown status")
            if status == "created":
                result.sent += 1
            elif status == "duplicate":
                result.duplicates += 1
            else:
                result.rejected += 1
                result.rejections.append({"key": row["key"], "reason": answer.get("reason", "")})
            detail = answer.get("receipt") if status != "rejected" else {"reason": answer.get("reason", "")}
            acks.append({"target": self.target, "upload_id": row["id"], "status": status,
                         "receipt": json.dumps(detail, ensure_ascii=False), "acked_at": now})
        with writing(self.store.engine) as conn:
            conn.execute(acks_table.insert(), acks)

    def rejected(self) -> list[dict[str, Any]]:
        """Records the provincial hub refused, with its reasons (for staff)."""
        a, u = acks_table, uploads_table
        query = (sa.select(u.c.key, u.c.kind, u.c.station_id, a.c.receipt, a.c.acked_at)
                 .join(u, u.c.id == a.c.upload_id).where(a.c.target == self.target, a.c.status == "rejected")
                 .order_by(a.c.upload_id))
        with self.store.engine.connect() as conn:
            return [{**dict(r), "reason": json.loads(r["receipt"] or "{}").get("reason", "")}
                    for r in conn.execute(query).mappings()]


class ForwardLoop:
    """Forward every ``interval_s`` until stopped (``yizhan hub forward`` runs it in the foreground)."""

    def __init__(self, forwarder: Forwarder, *, interval_s: float = 30.0,
                 on_result: Callable[[ForwardResult], None] | None = None) -> None:
        self.forwarder = forwarder
        self.interval_s = interval_s
        self.on_result = on_result
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            result = self.forwarder.forward_once()
            if self.on_result:
                self.on_result(result)
            if result.error:
                log.warning("forwarding paused: %s (%d waiting)", result.error, result.pending)
            self.stopped.wait(self.interval_s)

    def stop(self) -> None:
        self.stopped.set()
