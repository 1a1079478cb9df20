"""The console's reading of the hub's own tables (``stations``, ``uploads``; owned by storage.py).

Everything the console needs from them goes through the small functions here, so the
owner can change how it stores things without touching the console. :func:`refresh` folds
new uploads into the console's own tables (registrations with follow-up state, daily
service counts per station) once, by upload id, so that pages never parse millions of
JSON payloads. :func:`read_payload` is the one place a stored payload is decoded.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.console.schema import registrations, service_counts, watermarks

stations_t = sa.table("stations", sa.column("id"), sa.column("name"), sa.column("created_at"),
                      sa.column("last_seen_at"), sa.column("last_heartbeat_at"), sa.column("heartbeat"))
uploads_t = sa.table("uploads", sa.column("id"), sa.column("key"), sa.column("kind"), sa.column("station_id"),
                     sa.column("created_at"), sa.column("received_at"), sa.column("payload"))

# Usage event names (kiosk) -> the report's metric.
EVENT_METRICS = {
    "job_view": "views", "policy_view": "views",
    "card_read": "card_reads",
    "search": "searches", "job_search": "searches",
    "print_job": "slips", "print_receipt": "slips", "print_event": "slips", "slip_printed": "slips",
    "video_play": "videos", "course_play": "videos",
}
REFRESH_BATCH = 20_000
ALL_STATIONS = "*"  # the service_counts row that holds the totals of every station
_refresh_lock = threading.Lock()


def read_payload(stored: str, vault: Any = None) -> dict[str, Any]:
    """A stored upload payload as a dict (the one place payloads are decoded). Registrations are
    sealed at rest by the hub's vault (``hub.vault``), which also reads plain JSON."""
    data = vault.unseal(stored) if vault is not None else json.loads(stored)
    return data if isinstance(data, dict) else {}


def station_rows(conn: Connection, *, ids: list[str] | None = None) -> list[Any]:
    q = sa.select(stations_t).order_by(stations_t.c.id)
    if ids is not None:
        q = q.where(stations_t.c.id.in_(ids))
    return list(conn.execute(q))


def station_row(conn: Connection, station_id: str) -> Any:
    return conn.execute(sa.select(stations_t).where(stations_t.c.id == station_id)).first()


def recent_uploads(conn: Connection, station_id: str, kinds: tuple[str, ...], limit: int = 20) -> list[Any]:
    return list(conn.execute(sa.select(uploads_t.c.id, uploads_t.c.kind, uploads_t.c.created_at,
                                       uploads_t.c.received_at, uploads_t.c.payload)
                             .where(uploads_t.c.station_id == station_id, uploads_t.c.kind.in_(kinds))
                             .order_by(uploads_t.c.id.desc()).limit(limit)))


def upload_payloads(conn: Connection, upload_ids: list[int], vault: Any = None) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(upload_ids), 500):
        chunk = upload_ids[start:start + 500]
        for row in conn.execute(sa.select(uploads_t.c.id, uploads_t.c.payload).where(uploads_t.c.id.in_(chunk))):
            out[row.id] = read_payload(row.payload, vault)
    return out


def replace_payload(conn: Connection, upload_id: int, stub: dict[str, Any]) -> None:
    """Overwrite a registration's payload with a stub without personal data (purge).

    The row and its idempotency key stay: a late resend must still be answered as a duplicate.
    """
    conn.execute(uploads_t.update().where(uploads_t.c.id == upload_id)
                 .values(payload=json.dumps(stub, ensure_ascii=False)))


def _month(iso_text: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso_text).astimezone().strftime("%Y-%m")
    except ValueError:
        return iso_text[:7]


def refresh(engine: Engine, vault: Any = None) -> int:
    """Fold uploads received since the last call into the console's tables; returns how many."""
    done = 0
    with _refresh_lock:
        while True:
            with engine.begin() as conn:
                upto = conn.execute(sa.select(watermarks.c.upto).where(watermarks.c.name == "uploads")).scalar_one()
                rows = list(conn.execute(
                    sa.select(uploads_t.c.id, uploads_t.c.kind, uploads_t.c.station_id, uploads_t.c.created_at,
                              uploads_t.c.received_at, uploads_t.c.payload)
                    .where(uploads_t.c.id > upto, uploads_t.c.kind != "heartbeat")
                    .order_by(uploads_t.c.id).limit(REFRESH_BATCH)))
                if not rows:
                    return done
                _fold(conn, rows, vault)
                # The watermark moves in the same transaction: a crash re-folds nothing twice.
                changed = conn.execute(watermarks.update().where(watermarks.c.name == "uploads",
                                                                 watermarks.c.upto == upto)
                                       .values(upto=rows[-1].id)).rowcount
                if changed != 1:  # another process folded meanwhile: roll back this batch
                    raise _Raced
                done += len(rows)


class _Raced(Exception):
    pass


def _fold(conn: Connection, rows: list[Any], vault: Any) -> None:
    counts: Counter[tuple[str, str, str]] = Counter()
    regs = []
    for row in rows:
        payload = read_payload(row.payload, vault if row.kind == "registration" else None)
        month = _month(row.created_at)
        if row.kind == "registration":
            kind = str(payload.get("kind", ""))[:16]
            regs.append({"upload_id": row.id, "station_id": row.station_id, "reg_kind": kind,
                         "code": str(payload.get("code", ""))[:16], "received_at": row.received_at})
            counts[(row.station_id, month, f"reg:{kind}")] += 1
        elif row.kind == "event":
            # Every use of the kiosk counts as a service given; some also count on their own line.
            counts[(row.station_id, month, "uses")] += 1
            metric = EVENT_METRICS.get(str(payload.get("event", "")))
            if metric:
                counts[(row.station_id, month, metric)] += 1
        elif row.kind == "proof_of_play" and payload.get("status") != "skipped":
            counts[(row.station_id, month, "board_plays")] += 1
    if regs:
        conn.execute(registrations.insert(), regs)
    if not counts:
        return
    for (_station, month, metric), n in list(counts.items()):
        counts[(ALL_STATIONS, month, metric)] += n
    # Add to the existing counts with two executemany statements, not one per key.
    months = sorted({month for _station, month, _metric in counts})
    existing = {(r.station_id, r.month, r.metric) for r in conn.execute(
        sa.select(service_counts.c.station_id, service_counts.c.month, service_counts.c.metric)
        .where(service_counts.c.month.in_(months)))}
    updates = [{"b_station": k[0], "b_month": k[1], "b_metric": k[2], "b_n": n} for k, n in counts.items() if k in existing]
    inserts = [{"station_id": k[0], "month": k[1], "metric": k[2], "n": n} for k, n in counts.items() if k not in existing]
    if updates:
        conn.execute(service_counts.update().where(
            service_counts.c.station_id == sa.bindparam("b_station"), service_counts.c.month == sa.bindparam("b_month"),
            service_counts.c.metric == sa.bindparam("b_metric")).values(n=service_counts.c.n + sa.bindparam("b_n")),
            updates)
    if inserts:
        conn.execute(service_counts.insert(), inserts)
