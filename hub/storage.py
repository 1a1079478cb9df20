"""The hub's stations with their tokens, and every upload received (SQLAlchemy Core).

One schema on SQLite (a county hub, the demo, the tests) and PostgreSQL (a province),
created by this module's versioned migrations (``hub.db``). ``uploads.key`` has a
permanent UNIQUE constraint: the idempotency key a station made when the record was
created. A second delivery of the same key stores nothing and answers with the receipt of
the first, so a station may resend after any failure without duplicating; when two
deliveries race, the database constraint decides. Tokens are kept only as SHA-256 hashes.
Registration payloads (residents' personal data) are sealed by ``hub.vault``
before they are written; a SQLite file is created mode 0600.
Only portable SQL is used (no ``ON CONFLICT``), so PostgreSQL-compatible databases
(openGauss, KingbaseES) stay possible.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from common.clock import utc_iso
from hub.db import Migrations, make_engine, migrate, register, sqlite_url, writing
from hub.vault import Vault

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


def _create_uploads(conn: Connection) -> None:
    # The one difference between the two databases: how a row gets its number.
    ident = "INTEGER PRIMARY KEY" if conn.dialect.name == "sqlite" else "BIGSERIAL PRIMARY KEY"
    conn.execute(sa.text(f"""
        CREATE TABLE IF NOT EXISTS uploads (
            id {ident},
            key VARCHAR(64) NOT NULL UNIQUE,
            kind VARCHAR(20) NOT NULL,
            station_id VARCHAR(64) NOT NULL,
            created_at VARCHAR(40) NOT NULL,
            received_at VARCHAR(40) NOT NULL,
            payload TEXT NOT NULL
        )"""))
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS uploads_by_station ON uploads (station_id, kind)"))


# Step 1 is the schema the SQLite-only hub created (IF NOT EXISTS: an existing hub.db
# is adopted as version 1 as it is).
MIGRATIONS = register(Migrations("hub.storage", [
    """
    CREATE TABLE IF NOT EXISTS stations (
        id VARCHAR(64) PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        token_sha256 VARCHAR(64) NOT NULL UNIQUE,
        created_at VARCHAR(40) NOT NULL,
        last_seen_at VARCHAR(40),
        last_heartbeat_at VARCHAR(40),
        heartbeat_created_at VARCHAR(40),
        heartbeat TEXT
    )
    """,
    _create_uploads,
    # Federation: a city hub registered at the province as a relay forwards its stations'
    # records, each naming the station it came from.
    """
    ALTER TABLE stations ADD COLUMN relay SMALLINT NOT NULL DEFAULT 0;
    ALTER TABLE uploads ADD COLUMN origin_station VARCHAR(64)
    """,
]))

_meta = sa.MetaData()
stations_table = sa.Table(
    "stations", _meta,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("last_seen_at", sa.String(40)),
    sa.Column("last_heartbeat_at", sa.String(40)),
    sa.Column("heartbeat_created_at", sa.String(40)),
    sa.Column("heartbeat", sa.Text),
    sa.Column("relay", sa.SmallInteger, nullable=False, default=0),
)
uploads_table = sa.Table(
    "uploads", _meta,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("station_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("received_at", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("origin_station", sa.String(64)),
)


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


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class HubStore:
    """The hub database: a path to a SQLite file, a database URL, or an engine."""

    def __init__(self, db: str | Path | Engine, vault: Vault | None = None, *, home: str | Path | None = None) -> None:
        """``vault`` seals registrations; by default the one of ``home`` (for a SQLite file:
        the folder it is in). A PostgreSQL store needs one of the two."""
        if isinstance(db, Engine):
            self.engine = db
        else:
            text = str(db)
            url = text if "://" in text else _file_url(Path(text))
            if url.startswith("sqlite:///"):
                path = Path(url[len("sqlite:///"):])
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
                home = home or path.parent
            self.engine = make_engine(url)
        if vault is None and home is None:
            raise HubError("the hub store needs its home folder (the registrations' data key is kept there)")
        self.vault = vault or Vault.for_home(Path(home))  # type: ignore[arg-type]
        migrate(self.engine, [MIGRATIONS])

    @classmethod
    def for_home(cls, home: str | Path, database_url: str | None = None) -> HubStore:
        from hub.db import database_url as resolve

        return cls(resolve(home, database_url), home=home)

    # -- stations -----------------------------------------------------------------------
    def add_station(self, station_id: str, name: str = "", *, token: str | None = None, relay: bool = False) -> str:
        """Register a station and return its new token (shown once; only its hash is kept).

        A ``relay`` is a city hub that forwards other stations' records (``item["station"]``).
        """
        if not STATION_RE.match(station_id):
            raise HubError(f"station id {station_id!r}: letters, digits, '.', '_' or '-' only (1-64)")
        token = token or secrets.token_urlsafe(32)
        try:
            with writing(self.engine) as conn:
                conn.execute(stations_table.insert().values(id=station_id, name=name, token_sha256=token_hash(token),
                                                            created_at=utc_iso(), relay=1 if relay else 0))
        except sa.exc.IntegrityError:
            raise HubError(f"station {station_id!r} already exists (remove it first to give a new token)") from None
        return token

    def remove_station(self, station_id: str) -> None:
        with writing(self.engine) as conn:
            if conn.execute(stations_table.delete().where(stations_table.c.id == station_id)).rowcount == 0:
                raise HubError(f"no station {station_id!r}")

    def station_for_token(self, token: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(stations_table.c.id)
                                .where(stations_table.c.token_sha256 == token_hash(token))).scalar()

    def is_relay(self, station_id: str) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(sa.select(stations_table.c.relay)
                                     .where(stations_table.c.id == station_id)).scalar())

    def stations(self) -> list[Station]:
        u = uploads_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(stations_table).order_by(stations_table.c.id)).mappings().all()
            counts: dict[str, dict[str, int]] = {}
            for r in conn.execute(sa.select(u.c.station_id, u.c.kind, sa.func.count().label("n"))
                                  .group_by(u.c.station_id, u.c.kind)).mappings():
                counts.setdefault(r["station_id"], {})[r["kind"]] = r["n"]
        return [Station(id=r["id"], name=r["name"], created_at=r["created_at"], last_seen_at=r["last_seen_at"],
                        last_heartbeat_at=r["last_heartbeat_at"], heartbeat=json.loads(r["heartbeat"] or "{}"),
                        counts=counts.get(r["id"], {})) for r in rows]

    # -- uploads ------------------------------------------------------------------------
    def ingest(self, station_id: str, kind: str, items: list[Any]) -> list[dict[str, Any]]:
        """Store a batch; one result per item, in order. Runs in one durable transaction."""
        received = utc_iso()
        results: list[dict[str, Any] | None] = []
        fresh: list[tuple[int, dict[str, Any]]] = []
        relay: bool | None = None
        for item in items:
            problem = _check_item(kind, item)
            if not problem:
                problem = _other_station(item, item.get("station") or station_id)
            if not problem and "station" in item:
                relay = self.is_relay(station_id) if relay is None else relay
                if not relay:
                    problem = "only a relaying hub may send another station's records (station)"
                elif not isinstance(item["station"], str) or not STATION_RE.match(item["station"]):
                    problem = "station must be a station id (letters, digits, '.', '_' or '-')"
            if problem:
                key = item.get("key") if isinstance(item, dict) else None
                results.append({"key": key if isinstance(key, str) else None, "status": "rejected",
                                "reason": problem})
            else:
                fresh.append((len(results), item))
                results.append(None)
        # Optimistic first: one INSERT per new key, no savepoints. Only when another delivery
        # of a key committed in between (the UNIQUE constraint fails and the transaction is
        # void) is the batch done again with a savepoint around each insert.
        try:
            return self._store_batch(station_id, kind, items, fresh, list(results), received, guarded=False)
        except sa.exc.IntegrityError:
            return self._store_batch(station_id, kind, items, fresh, list(results), received, guarded=True)

    def _store_batch(self, station_id: str, kind: str, items: list[Any], fresh: list[tuple[int, dict[str, Any]]],
                     results: list[dict[str, Any] | None], received: str, *, guarded: bool) -> list[dict[str, Any]]:
        with writing(self.engine) as conn:
            known = self._receipts(conn, [item["key"] for _i, item in fresh])
            for index, item in fresh:
                key = item["key"]
                if key not in known:
                    receipt = self._insert(conn, station_id, kind, item, received, guarded=guarded, vault=self.vault)
                    if receipt is not None:
                        results[index] = {"key": key, "status": "created", "receipt": receipt}
                        known[key] = {"station_id": station_id, "kind": kind, **receipt}
                        if kind == "heartbeat" and "station" not in item:
                            self._note_heartbeat(conn, station_id, item, received)
                        continue
                    # Another delivery of this key won the race: the constraint kept one row.
                    known.update(self._receipts(conn, [key]))
                row = known[key]
                if row["station_id"] != station_id or row["kind"] != kind:
                    results[index] = {"key": key, "status": "rejected",
                                      "reason": "this key was already used for another record"}
                else:
                    results[index] = {"key": key, "status": "duplicate",
                                      "receipt": {"id": row["id"], "received_at": row["received_at"]}}
            heard = {"last_heartbeat_at": received} if kind == "heartbeat" and any(
                r and r["status"] == "created" and "station" not in items[i] for i, r in enumerate(results)) else {}
            conn.execute(stations_table.update().where(stations_table.c.id == station_id)
                         .values(last_seen_at=received, **heard))
        return [r for r in results if r is not None]

    @staticmethod
    def _receipts(conn: Connection, keys: list[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        u = uploads_table
        rows = conn.execute(sa.select(u.c.key, u.c.id, u.c.kind, u.c.station_id, u.c.received_at)
                            .where(u.c.key.in_(keys))).mappings()
        return {r["key"]: dict(r) for r in rows}

    @staticmethod
    def _insert(conn: Connection, station_id: str, kind: str, item: dict[str, Any],
                received: str, *, guarded: bool, vault: Vault) -> dict[str, Any] | None:
        """Insert one upload; ``guarded``: in a savepoint, None when the key's UNIQUE constraint refused it."""
        insert = uploads_table.insert().values(
            key=item["key"], kind=kind, station_id=station_id, created_at=item["created_at"],
            received_at=received, payload=_stored(vault, kind, item["payload"]),
            origin_station=item.get("station"))
        if not guarded or conn.dialect.name == "sqlite":
            # (SQLite: the transaction holds the write lock since it began and has read the
            # keys, so no other writer can have stored one since.)
            result = conn.execute(insert)
            return {"id": result.inserted_primary_key[0], "received_at": received}
        try:
            with conn.begin_nested():
                result = conn.execute(insert)
        except sa.exc.IntegrityError:
            return None
        return {"id": result.inserted_primary_key[0], "received_at": received}

    @staticmethod
    def _note_heartbeat(conn: Connection, station_id: str, item: dict[str, Any], received: str) -> None:
        # "Last heartbeat" is when the hub heard from the station (the station's clock may be
        # wrong); the state shown is the newest the station made, since after an outage
        # queued heartbeats arrive together, possibly out of order.
        s = stations_table
        created = dt.datetime.fromisoformat(item["created_at"]).astimezone(dt.UTC).isoformat()
        conn.execute(s.update().where(s.c.id == station_id,
                                      sa.or_(s.c.heartbeat_created_at.is_(None), s.c.heartbeat_created_at <= created))
                     .values(heartbeat_created_at=created, heartbeat=json.dumps(item["payload"], ensure_ascii=False)))

    def uploads(self, kind: str | None = None, station_id: str | None = None, *,
                after_id: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Stored uploads, oldest first (for the status page, tests, exports and forwarding)."""
        u = uploads_table
        query = sa.select(u).where(u.c.id > after_id).order_by(u.c.id)
        if kind:
            query = query.where(u.c.kind == kind)
        if station_id:
            query = query.where(u.c.station_id == station_id)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [{**dict(r), "payload": self._loaded(r["kind"], r["payload"])} for r in rows]

    # -- the vault hook: registrations are sealed at rest -------------------------------
    def _stored(self, kind: str, payload: dict[str, Any]) -> str:
        return _stored(self.vault, kind, payload)

    def _loaded(self, kind: str, stored: str) -> dict[str, Any]:
        return self.vault.unseal(stored) if kind == "registration" else json.loads(stored)

    def count(self, kind: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(uploads_table)
        if kind:
            query = query.where(uploads_table.c.kind == kind)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def close(self) -> None:
        self.engine.dispose()


def _stored(vault: Vault, kind: str, payload: dict[str, Any]) -> str:
    if kind == "registration":
        return vault.seal(payload)
    return json.dumps(payload, ensure_ascii=False)


def _other_station(item: dict[str, Any], station_id: str) -> str | None:
    """The station is the token's (or, from a relay, the one it names): a record naming
    another station is refused, not stored."""
    named = item["payload"].get("station_id")
    if named is not None and named != station_id:
        return "payload.station_id is not the station of this token"
    return None


def _file_url(path: Path) -> str:
    return sqlite_url(path.parent, path.name)


# What one record may hold, field by field (a station's records are far smaller): a batch
# within the byte limit must not smuggle in a 100 000-element array or a megabyte of text.
MAX_TEXT = 4000
MAX_ARRAY = 500
MAX_KEYS = 200
MAX_KEY_TEXT = 100
MAX_ANSWERS = 100
PERSON_FIELDS = {"name": 64, "id_number": 32, "gender": 8, "birth_date": 32, "phone": 32, "address": 200,
                 "nation": 32, "issuer": 100}


def _shape_problem(value: Any, path: str) -> str | None:
    """The first field of a payload that is too long or too many, named by its path, or None.
    (Depth is bounded before parsing: ``hub.limits.json_depth_ok``.)"""
    if isinstance(value, str):
        return f"{path}: at most {MAX_TEXT} characters (got {len(value)})" if len(value) > MAX_TEXT else None
    if isinstance(value, list):
        if len(value) > MAX_ARRAY:
            return f"{path}: at most {MAX_ARRAY} elements (got {len(value)})"
        for i, element in enumerate(value):
            problem = _shape_problem(element, f"{path}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        if len(value) > MAX_KEYS:
            return f"{path}: at most {MAX_KEYS} fields (got {len(value)})"
        for key, element in value.items():
            if len(key) > MAX_KEY_TEXT:
                return f"{path}: a field name longer than {MAX_KEY_TEXT} characters"
            problem = _shape_problem(element, f"{path}.{key}")
            if problem:
                return problem
        return None
    if value is None or isinstance(value, bool | int | float):
        return None
    return f"{path}: not a JSON value"


def _registration_problem(payload: dict[str, Any]) -> str | None:
    if payload.get("kind") not in REGISTRATION_KINDS:
        return f"payload.kind must be one of {', '.join(REGISTRATION_KINDS)}"
    if not isinstance(payload.get("code"), str) or not isinstance(payload.get("person"), dict):
        return "a registration needs payload.code and payload.person"
    if len(payload["code"]) > 32:
        return "payload.code: at most 32 characters"
    for name, limit in PERSON_FIELDS.items():
        value = payload["person"].get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return f"payload.person.{name}: text of at most {limit} characters"
    answers = payload.get("answers", {})
    if not isinstance(answers, dict) or len(answers) > MAX_ANSWERS:
        return f"payload.answers: an object of at most {MAX_ANSWERS} answers"
    job = payload.get("job")  # 我想应聘: the job applied for, as the kiosk showed it
    if job is not None and (not isinstance(job, dict) or set(job) != {"id", "title", "employer"} or not all(
            isinstance(v, str) and 0 < len(v) <= 200 for v in job.values())):
        return "payload.job: an object of id, title and employer, each text of 1 to 200 characters"
    if not isinstance(payload.get("verified", True), bool):
        return "payload.verified: true or false"
    if not isinstance(payload.get("sms_consent", False), bool):
        return "payload.sms_consent: true or false"
    return None


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
    problem = _shape_problem(payload, "payload")
    if problem:
        return problem
    if kind == "registration":
        return _registration_problem(payload)
    elif kind == "event":
        if not isinstance(payload.get("event"), str):
            return "a usage event needs payload.event"
    elif kind == "proof_of_play":
        if not all(k in payload for k in ("item_kind", "item_id", "started_at", "duration_s")):
            return "proof of play needs item_kind, item_id, started_at and duration_s"
    return None
