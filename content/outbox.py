"""The outbox: everything the station reports to the hub, queued durably until acknowledged.

Registrations, usage events, proof-of-play records and heartbeats are written to the
``outbox`` table of the station database in the same durable transaction as the record
they describe (``synchronous=FULL``), each with an idempotency key (a time-ordered UUID) made right
then. :class:`content.uplink.Sender` delivers them in batches and marks an entry sent only after the hub
answered 2xx for it; the hub keeps the key unique forever, so resending after any failure
(a cut, a crash, a kill) never duplicates. Offline, entries wait and the sender retries
with exponential backoff and jitter, for as long as it takes.

Personal data (a registration's person) is encrypted at rest with AES-GCM; the key is
``outbox.key`` (mode 0600) in the data folder. The ciphertext is bound to the entry's key.
It is purged as soon as the hub acknowledges the entry, and after
``privacy.retention_days`` in any case.

Convenience for the other parts (names are stable; ``target`` is the station's Outbox, its
Database, or anything with ``db_path`` and ``data_dir``):
``record_usage(target, event, **fields)``,
``record_proof_of_play(target, item_kind, item_id, started_at, duration_s, **fields)``,
``record_heartbeat(target, devices=..., station_name=..., content_info=..., **fields)``.

The outbox owns the ``outbox`` table (:data:`TABLES`). It knows nothing of the tables whose
records it carries: the registrations table's owner purges its own rows (a trigger on the outbox).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.privacy import scrub
from content import credentials
from content.db import Database, TableOwner, durable

log = logging.getLogger(__name__)

KEY_FILE = "outbox.key"
# kind -> upload endpoint (relative to hub.upload_url); registrations go first.
ENDPOINTS = {
    "registration": "registrations",
    "event": "events",
    "proof_of_play": "proof-of-play",
    "heartbeat": "heartbeats",
}
BATCH_SIZE = 100
_CIPHER_VERSION = b"\x01"

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_ts REAL NOT NULL,
    personal INTEGER NOT NULL DEFAULT 0,
    payload BLOB,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at TEXT,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (state, kind, id);
"""
# state: queued -> sent (hub acknowledged) | rejected (hub refused the record) | expired
# (personal data purged at the retention limit before it could be sent).


class OutboxError(Exception):
    """The outbox cannot take or send an entry (bad kind, no key, bad settings)."""


# -- the key ------------------------------------------------------------------------------

def load_or_create_key(key_dir: str | Path) -> bytes:
    """The station's 256-bit data key: the systemd credential the service was handed when the
    box seals its secrets (:mod:`content.credentials`), else ``outbox.key`` (mode 0600) in
    ``key_dir``, made on first use. With the key sealed and not handed over, no new key is made
    (it would not open what is queued): the process is told how it must be started."""
    handed = credentials.credential(credentials.OUTBOX_KEY)
    if handed is not None:
        if len(handed) != 32:
            raise OutboxError("the outbox.key credential is not a 32-byte key")
        return handed
    path = Path(key_dir) / KEY_FILE
    if not path.exists() and credentials.is_sealed(credentials.OUTBOX_KEY):
        raise OutboxError("数据密钥已封存为 systemd 加密凭据，本进程没有拿到它：请通过 systemd 服务运行，"
                          "或以 root 运行 yizhan 命令（会先解开凭据再切换到服务用户）")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(AESGCM.generate_key(bit_length=256))
            f.flush()
            os.fsync(f.fileno())
    if path.stat().st_mode & 0o077:
        log.warning("%s was readable by others; set to mode 0600", path)
        os.chmod(path, 0o600)
    key = path.read_bytes()
    if len(key) != 32:
        raise OutboxError(f"{path} is not a 32-byte key; it may be damaged (personal data cannot be read)")
    return key


def encrypt(key: bytes, plaintext: bytes, bound_to: str) -> bytes:
    nonce = os.urandom(12)
    return _CIPHER_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, bound_to.encode())


def decrypt(key: bytes, blob: bytes, bound_to: str) -> bytes:
    if not blob or blob[:1] != _CIPHER_VERSION:
        raise OutboxError("encrypted data has an unknown format")
    return AESGCM(key).decrypt(blob[1:13], blob[13:], bound_to.encode())


# -- the queue ----------------------------------------------------------------------------

@dataclass(frozen=True)
class OutboxEntry:
    key: str
    kind: str
    created_at: str
    payload: dict[str, Any] = field(repr=False)
    personal: bool = False

    def wire(self) -> dict[str, Any]:
        return {"key": self.key, "created_at": self.created_at, "payload": self.payload}


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


class Outbox:
    """The station's outbox table.

    ``db``: the station :class:`~content.db.Database` (each thread writes on its own connection),
    an open connection (the caller's; e.g. a registration adds its entry in its own transaction),
    or the database's path (opened here, closed by :meth:`close`).
    """

    def __init__(self, db: Database | sqlite3.Connection | str | Path, *, key_dir: str | Path | None = None
                 ) -> None:
        self._own: Database | None = None
        if isinstance(db, sqlite3.Connection):
            conn = db
            self._connection: Callable[[], sqlite3.Connection] = lambda: conn
            self.db_path: Path | None = None
            ensure_schema(conn)
        else:
            if not isinstance(db, Database):
                shared = Database.of_process(db)
                db = shared if shared is not None else Database(db, [TABLES])
                self._own = None if shared is not None else db
            self._connection = db.conn
            self.db_path = db.path
        self.key_dir = Path(key_dir) if key_dir else (self.db_path.parent if self.db_path else None)
        self._key: bytes | None = None
        self._lock = threading.RLock()

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._connection()

    def close(self) -> None:
        if self._own is not None:
            self._own.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def key(self) -> bytes:
        if self._key is None:
            if self.key_dir is None:
                raise OutboxError("personal data needs key_dir (the station's data folder)")
            self._key = load_or_create_key(self.key_dir)
        return self._key

    @contextmanager
    def _tx(self, conn: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
        if conn is not None:
            yield conn  # the caller's transaction: commit together with the record
            return
        with self._lock:
            conn = self._conn
            with durable(conn):
                yield conn

    # -- writing ----------------------------------------------------------------------------
    def add(self, kind: str, payload: dict[str, Any], *, conn: sqlite3.Connection | None = None,
            personal: bool = False, created_at: str | None = None) -> str:
        """Queue ``payload``; returns its idempotency key. With ``conn``, the row is written in
        the caller's open transaction (so it commits, or not, with the record it describes)."""
        if kind not in ENDPOINTS:
            raise OutboxError(f"unknown outbox kind {kind!r}; one of {', '.join(ENDPOINTS)}")
        if not isinstance(payload, dict):
            raise OutboxError("an outbox payload is a dict")
        key = new_key()
        data = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
        if personal:
            data = encrypt(self.key, data, key)
        with self._tx(conn) as c:
            c.execute("INSERT INTO outbox (key, kind, created_at, created_ts, personal, payload) VALUES (?,?,?,?,?,?)",
                      (key, kind, created_at or now_iso(), time.time(), int(personal), data))
        return key

    def add_many(self, kind: str, payloads: list[dict[str, Any]], *, created_at: list[str] | None = None) -> list[str]:
        """Queue several non-personal payloads of one kind in ONE transaction; returns their keys.

        For records that come in a steady stream (the board's proof of play): one commit per
        batch instead of one per record writes a fraction of the bytes to the SD card.
        """
        if kind not in ENDPOINTS:
            raise OutboxError(f"unknown outbox kind {kind!r}; one of {', '.join(ENDPOINTS)}")
        if created_at is not None and len(created_at) != len(payloads):
            raise OutboxError("created_at must give one time per payload")
        rows = []
        keys: list[str] = []
        for n, payload in enumerate(payloads):
            if not isinstance(payload, dict):
                raise OutboxError("an outbox payload is a dict")
            key = new_key()
            keys.append(key)
            rows.append((key, kind, created_at[n] if created_at else now_iso(), time.time(), 0,
                         json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")))
        if rows:
            with self._tx(None) as c:
                c.executemany("INSERT INTO outbox (key, kind, created_at, created_ts, personal, payload) "
                              "VALUES (?,?,?,?,?,?)", rows)
        return keys

    # -- reading ----------------------------------------------------------------------------
    def depth(self) -> int:
        """Entries waiting to be delivered."""
        with self._lock:
            depth: int = self._conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'queued'").fetchone()[0]
            return depth

    def oldest_age_s(self) -> float | None:
        """Age in seconds of the oldest entry waiting, or None when the queue is empty."""
        with self._lock:
            row = self._conn.execute("SELECT MIN(created_ts) FROM outbox WHERE state = 'queued'").fetchone()
        return None if row[0] is None else max(0.0, time.time() - row[0])

    def counts(self) -> dict[str, dict[str, int]]:
        """state -> kind -> entries (for ``yizhan sync --status`` and the staff screen)."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for row in self._conn.execute("SELECT state, kind, COUNT(*) FROM outbox GROUP BY state, kind"):
                out.setdefault(row[0], {})[row[1]] = row[2]
        return out

    def pending(self, kind: str, limit: int = BATCH_SIZE) -> list[OutboxEntry]:
        """The oldest queued entries of one kind, decrypted, ready to send."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, kind, created_at, personal, payload FROM outbox "
                "WHERE state = 'queued' AND kind = ? ORDER BY id LIMIT ?", (kind, limit)).fetchall()
        entries = []
        for row in rows:
            data = row["payload"]
            if row["personal"]:
                data = decrypt(self.key, data, row["key"])
            entries.append(OutboxEntry(row["key"], row["kind"], row["created_at"], json.loads(data),
                                       bool(row["personal"])))
        return entries

    def kinds_waiting(self) -> list[str]:
        with self._lock:
            kinds = {r[0] for r in self._conn.execute("SELECT DISTINCT kind FROM outbox WHERE state = 'queued'")}
        return [k for k in ENDPOINTS if k in kinds]

    # -- after delivery ---------------------------------------------------------------------
    def mark_sent(self, receipts: dict[str, dict[str, Any]]) -> None:
        """The hub acknowledged these keys: mark sent and drop personal data, in one transaction."""
        if not receipts:
            return
        at = now_iso()
        with self._tx(None) as c:
            c.executemany(
                "UPDATE outbox SET state = 'sent', sent_at = ?, receipt = ?, last_error = NULL, "
                "payload = CASE WHEN personal = 1 THEN NULL ELSE payload END "
                "WHERE key = ? AND state = 'queued'",
                [(at, json.dumps(r, ensure_ascii=False), k) for k, r in receipts.items()])

    def mark_rejected(self, key: str, reason: str) -> None:
        with self._tx(None) as c:
            c.execute("UPDATE outbox SET state = 'rejected', last_error = ? WHERE key = ?", (scrub(reason)[:500], key))

    def note_failure(self, keys: list[str], error: str) -> None:
        if not keys:
            return
        with self._tx(None) as c:
            c.executemany("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE key = ?",
                          [(scrub(error)[:500], k) for k in keys])

    def purge(self, retention_days: int, *, now: float | None = None) -> dict[str, int]:
        """Apply the retention limit: personal data older than it is erased even if unsent
        (state 'expired'), and delivered entries older than it are deleted."""
        cutoff = (now or time.time()) - retention_days * 86400
        with self._tx(None) as c:
            expired = c.execute(
                "UPDATE outbox SET payload = NULL, state = CASE WHEN state = 'queued' THEN 'expired' ELSE state END "
                "WHERE personal = 1 AND payload IS NOT NULL AND created_ts < ?", (cutoff,)).rowcount
            deleted = c.execute("DELETE FROM outbox WHERE state IN ('sent', 'expired', 'rejected') "
                                "AND created_ts < ?", (cutoff,)).rowcount
        if expired:
            log.warning("outbox: %d personal entries reached the %d-day retention limit unsent and were erased",
                        expired, retention_days)
        return {"expired": expired, "deleted": deleted}


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the outbox table on a plain connection (tools and tests that do without a Database)."""
    conn.executescript(SCHEMA)


# The outbox table's owner in the station database: version 1 is the table as first released
# (CREATE IF NOT EXISTS adopts the table an older program made).
TABLES = TableOwner("outbox", ("outbox",), (SCHEMA,))


# -- convenience for the kiosk, the board and the devices ----------------------------------

class StationFiles(Protocol):
    """Where a station keeps its database and its data key (config.settings.Settings is one)."""

    @property
    def db_path(self) -> Path: ...

    @property
    def data_dir(self) -> Path: ...


OutboxTarget = Outbox | Database | sqlite3.Connection | str | Path | StationFiles


@contextmanager
def open_outbox(target: OutboxTarget) -> Iterator[Outbox]:
    """The outbox of ``target``: an Outbox as it is, else one opened for the call."""
    if isinstance(target, Outbox):
        yield target
        return
    if isinstance(target, (Database, sqlite3.Connection, str, Path)):
        outbox = Outbox(target)
    else:
        outbox = Outbox(target.db_path, key_dir=target.data_dir)
    try:
        yield outbox
    finally:
        outbox.close()


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    # Usage records must carry no personal data; mask anything that looks like it anyway.
    return {k: scrub(v) if isinstance(v, str) else v for k, v in fields.items()}


def record_usage(target: OutboxTarget, event: str, **fields: Any) -> str:
    """Queue a usage event (e.g. ``record_usage(outbox, "search", query_len=2, results=14)``)."""
    with open_outbox(target) as outbox:
        return outbox.add("event", usage_payload(event, **fields))


def record_proof_of_play(target: OutboxTarget, item_kind: str, item_id: str, started_at: dt.datetime | str,
                         duration_s: float, **fields: Any) -> str:
    """Queue that the board showed ``item_kind``/``item_id`` from ``started_at`` for ``duration_s``."""
    with open_outbox(target) as outbox:
        return outbox.add("proof_of_play", proof_of_play_payload(item_kind, item_id, started_at, duration_s,
                                                                 **fields))


def proof_of_play_payload(item_kind: str, item_id: str, started_at: dt.datetime | str, duration_s: float,
                          **fields: Any) -> dict[str, Any]:
    """The outbox payload of one showing on the board (no personal data)."""
    started = started_at.isoformat() if isinstance(started_at, dt.datetime) else str(started_at)
    return {"item_kind": item_kind, "item_id": item_id, "started_at": started,
            "duration_s": round(float(duration_s), 3), **_clean(fields)}


def usage_payload(event: str, **fields: Any) -> dict[str, Any]:
    """The outbox payload of one usage event (personal data masked if any slipped in)."""
    return {"event": event, "at": now_iso(), **_clean(fields)}


def new_key(now_ns: int | None = None) -> str:
    """A new idempotency key: a UUID whose first 48 bits are the time in ms (the layout of UUIDv7).

    Keys made in order sort in order, so each new row lands at the end of the outbox's key
    index: a random uuid4 put every row of a batch on a different index page, and every page
    is a 4 KB write to the SD card (a busy station wrote ~20 MB a day more for that alone).
    The 74 random bits keep keys unique across stations.
    """
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    raw = bytearray(ms.to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70  # version 7
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(raw)))


class RecordBuffer:
    """Non-personal records of one kind written to the outbox in batches, not one by one.

    The kiosk's usage events and the board's proof of play arrive all day long; one commit
    each wrote ~13-16 KB to the SD card (three 4 KB pages and their checkpoint), most of a
    busy station's daily writes. A batch of ``max_records`` is one commit. ``add`` returns
    True when the buffer is due (full, or its oldest record ``max_age_s`` old on the
    injected ``monotonic`` clock); the owner then calls ``flush`` (from any thread) and
    flushes when its session or the program ends. A power cut loses at most one batch of
    counts, never a resident's data (registrations are never buffered). A failed write
    keeps the records for the next flush.
    """

    def __init__(self, target: OutboxTarget, kind: str, *, max_records: int = 30, max_age_s: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if kind not in ENDPOINTS or kind == "registration":
            raise OutboxError(f"kind {kind!r} cannot be buffered")
        self.target = target
        self.kind = kind
        self.max_records = max_records
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._waiting: list[dict[str, Any]] = []
        self._first_at: float | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def add_payload(self, payload: dict[str, Any]) -> bool:
        with self._lock:
            self._waiting.append(payload)
            if self._first_at is None:
                self._first_at = self._monotonic()
        return self.due()

    def due(self) -> bool:
        with self._lock:
            if not self._waiting:
                return False
            return (len(self._waiting) >= self.max_records
                    or self._monotonic() - (self._first_at or 0.0) >= self.max_age_s)

    def flush(self) -> int:
        """Write every waiting record in one transaction; returns how many were written."""
        with self._lock:
            batch, self._waiting, self._first_at = self._waiting, [], None
        if not batch:
            return 0
        try:
            with open_outbox(self.target) as outbox:
                outbox.add_many(self.kind, batch)
        except Exception:
            with self._lock:  # keep them for the next flush, oldest first
                self._waiting[:0] = batch
                if self._first_at is None:
                    self._first_at = self._monotonic()
            raise
        return len(batch)


def record_heartbeat(target: OutboxTarget, *, devices: dict[str, Any] | None = None, station_name: str = "",
                     content_info: Callable[[], Any] | None = None, **fields: Any) -> str:
    """Queue a heartbeat: content version, outbox depth and device health.

    ``devices`` maps a device name to ``{"ok": bool, "detail": "..."}`` (or a short text),
    e.g. ``{"printer": {"ok": False, "detail": "缺纸"}, "idcard": {"ok": True}}``.
    ``content_info`` (the store's ``content_info``) fills in the feed and content version.
    """
    with open_outbox(target) as outbox:
        payload: dict[str, Any] = {"at": now_iso(), "devices": devices or {},
                                   "outbox_depth": outbox.depth(), "oldest_age_s": outbox.oldest_age_s()}
        if station_name:
            payload["station_name"] = station_name
        if content_info is not None:
            try:
                info = content_info()
                payload.update(feed_id=info.feed_id, content_version=info.version)
            except Exception as exc:  # a heartbeat must go out even when the store is unwell
                payload["store_error"] = scrub(str(exc))[:200]
        payload.update(_clean(fields))
        return outbox.add("heartbeat", payload)
