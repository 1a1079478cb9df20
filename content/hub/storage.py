"""The hub's own SQLite database: stations with their tokens, and every upload received.

``uploads.key`` has a permanent UNIQUE constraint: the idempotency key a station made when
the record was created. A second delivery of the same key stores nothing and answers with
the receipt of the first, so a station may resend after any failure without duplicating.
Tokens are kept only as SHA-256 hashes. Registration payloads (residents' personal data)
are sealed by ``content.hub.vault`` before they are written; the file is mode 0600.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from content.db import connect, durable
from content.hub.vault import Vault

UPLOAD_KINDS = {
    "registrations": "registration",
    "events": "event",
    "proof-of-play": "proof_of_play",
    "heartbeats": "heartbeat",
}
REGISTRATION_KINDS = ("求职", "培训需求", "返乡", "零工", "失业")
KEY_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
STATION_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_BATCH = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS stations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_seen_at TEXT,
    last_heartbeat_at TEXT,
    heartbeat_created_at TEXT,
    heartbeat TEXT
);
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    station_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_station ON uploads (station_id, kind);
"""


class HubError(Exception):
    """A hub administration request that cannot be done."""


@dataclass
class Station:
    id: str
    name: str
    created_at: str
    last_seen_at: str | None
    last_heartbeat_at: str | None
    heartbeat: dict[str, Any]
    counts: dict[str, int]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class HubStore:
    """The hub database (one connection per call: waitress serves from several threads)."""

    def __init__(self, db_path: str | Path, vault: Vault | None = None) -> None:
        self.db_path = Path(db_path)
        if not self.db_path.exists():
            os.close(os.open(self.db_path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.vault = vault or Vault.for_home(self.db_path.parent)
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> _Closing:
        return _Closing(connect(self.db_path))

    # -- stations -----------------------------------------------------------------------
    def add_station(self, station_id: str, name: str = "", *, token: str | None = None) -> str:
        """Register a station and return its new token (shown once; only its hash is kept)."""
        if not STATION_RE.match(station_id):
            raise HubError(f"station id {station_id!r}: letters, digits, '.', '_' or '-' only (1-64)")
        token = token or secrets.token_urlsafe(32)
        with self._conn() as conn:
            try:
                with durable(conn):
                    conn.execute("INSERT INTO stations (id, name, token_sha256, created_at) VALUES (?, ?, ?, ?)",
                                 (station_id, name, token_hash(token), _now()))
            except sqlite3.IntegrityError:
                raise HubError(f"station {station_id!r} already exists (remove it first to give a new token)") from None
        return token

    def remove_station(self, station_id: str) -> None:
        with self._conn() as conn, durable(conn):
            if conn.execute("DELETE FROM stations WHERE id = ?", (station_id,)).rowcount == 0:
                raise HubError(f"no station {station_id!r}")

    def station_for_token(self, token: str) -> str | None:
        with self._conn() as conn:
            row = conn.execute("SELECT id FROM stations WHERE token_sha256 = ?", (token_hash(token),)).fetchone()
        return row["id"] if row else None

    def stations(self) -> list[Station]:
        with self._conn() as conn:
            rows = conn.execute("SELECT * FROM stations ORDER BY id").fetchall()
            counts: dict[str, dict[str, int]] = {}
            for r in conn.execute("SELECT station_id, kind, COUNT(*) AS n FROM uploads GROUP BY station_id, kind"):
                counts.setdefault(r["station_id"], {})[r["kind"]] = r["n"]
        return [Station(id=r["id"], name=r["name"], created_at=r["created_at"], last_seen_at=r["last_seen_at"],
                        last_heartbeat_at=r["last_heartbeat_at"], heartbeat=json.loads(r["heartbeat"] or "{}"),
                        counts=counts.get(r["id"], {})) for r in rows]

    # -- uploads ------------------------------------------------------------------------
    def ingest(self, station_id: str, kind: str, items: list[Any]) -> list[dict[str, Any]]:
        """Store a batch; one result per item, in order. Runs in one durable transaction."""
        results: list[dict[str, Any]] = []
        received = _now()
        with self._conn() as conn, durable(conn):
            for item in items:
                problem = _check_item(kind, item) or _other_station(item, station_id)
                if problem:
                    key = item.get("key") if isinstance(item, dict) else None
                    results.append({"key": key if isinstance(key, str) else None, "status": "rejected",
                                    "reason": problem})
                    continue
                key = item["key"]
                cur = conn.execute(
                    "INSERT INTO uploads (key, kind, station_id, created_at, received_at, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                    (key, kind, station_id, item["created_at"], received, self._stored(kind, item["payload"])))
                if cur.rowcount == 1:
                    results.append({"key": key, "status": "created",
                                    "receipt": {"id": cur.lastrowid, "received_at": received}})
                    if kind == "heartbeat":
                        self._note_heartbeat(conn, station_id, item, received)
                    continue
                row = conn.execute("SELECT id, kind, station_id, received_at FROM uploads WHERE key = ?",
                                   (key,)).fetchone()
                if row["station_id"] != station_id or row["kind"] != kind:
                    results.append({"key": key, "status": "rejected",
                                    "reason": "this key was already used for another record"})
                else:
                    results.append({"key": key, "status": "duplicate",
                                    "receipt": {"id": row["id"], "received_at": row["received_at"]}})
            conn.execute("UPDATE stations SET last_seen_at = ? WHERE id = ?", (received, station_id))
        return results

    @staticmethod
    def _note_heartbeat(conn: sqlite3.Connection, station_id: str, item: dict[str, Any], received: str) -> None:
        # "Last heartbeat" is when the hub heard from the station (the station's clock may be
        # wrong); the state shown is the newest the station made, since after an outage
        # queued heartbeats arrive together, possibly out of order.
        conn.execute("UPDATE stations SET last_heartbeat_at = ? WHERE id = ?", (received, station_id))
        created = dt.datetime.fromisoformat(item["created_at"]).astimezone(dt.UTC).isoformat()
        conn.execute(
            "UPDATE stations SET heartbeat_created_at = ?, heartbeat = ? WHERE id = ? "
            "AND (heartbeat_created_at IS NULL OR heartbeat_created_at <= ?)",
            (created, json.dumps(item["payload"], ensure_ascii=False), station_id, created))

    def uploads(self, kind: str | None = None, station_id: str | None = None) -> list[dict[str, Any]]:
        """Stored uploads, oldest first (for the status page, tests and exports)."""
        sql = "SELECT * FROM uploads WHERE 1=1"
        args: list[Any] = []
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        if station_id:
            sql += " AND station_id = ?"
            args.append(station_id)
        with self._conn() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        return [{**dict(r), "payload": self._loaded(r["kind"], r["payload"])} for r in rows]

    # -- the vault hook: registrations are sealed at rest -------------------------------
    def _stored(self, kind: str, payload: dict[str, Any]) -> str:
        if kind == "registration":
            return self.vault.seal(payload)
        return json.dumps(payload, ensure_ascii=False)

    def _loaded(self, kind: str, stored: str) -> dict[str, Any]:
        return self.vault.unseal(stored) if kind == "registration" else json.loads(stored)

    def count(self, kind: str | None = None) -> int:
        with self._conn() as conn:
            if kind:
                return conn.execute("SELECT COUNT(*) FROM uploads WHERE kind = ?", (kind,)).fetchone()[0]
            return conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0]


def _check_item(kind: str, item: Any) -> str | None:
    """Why an upload item cannot be stored, or None. Reasons never quote personal data."""
    if not isinstance(item, dict):
        return "each item must be an object with key, created_at and payload"
    key = item.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        return "key must be 8-64 letters, digits or '-' (a UUID)"
    created = item.get("created_at")
    if not isinstance(created, str):
        return "created_at must be an ISO 8601 time"
    try:
        dt.datetime.fromisoformat(created)
    except ValueError:
        return "created_at must be an ISO 8601 time"
    payload = item.get("payload")
    if not isinstance(payload, dict):
        return "payload must be an object"
    if kind == "registration":
        if payload.get("kind") not in REGISTRATION_KINDS:
            return f"payload.kind must be one of {', '.join(REGISTRATION_KINDS)}"
        if not isinstance(payload.get("code"), str) or not isinstance(payload.get("person"), dict):
            return "a registration needs payload.code and payload.person"
    elif kind == "event":
        if not isinstance(payload.get("event"), str):
            return "a usage event needs payload.event"
    elif kind == "proof_of_play":
        if not all(k in payload for k in ("item_kind", "item_id", "started_at", "duration_s")):
            return "proof of play needs item_kind, item_id, started_at and duration_s"
    return None


def _other_station(item: dict[str, Any], station_id: str) -> str | None:
    """The station is the token's: a record naming another station is refused, not stored."""
    named = item["payload"].get("station_id")
    if named is not None and named != station_id:
        return "payload.station_id is not the station of this token"
    return None


class _Closing:
    """``with`` that closes a connection at the end (sqlite3's own context manager does not)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
