"""Registrations residents make at the kiosk (求职 / 培训需求 / 返乡 / 零工 / 失业登记).

A registration and its outbox entry are written in ONE durable transaction: either both
exist after a power cut or neither does, so the hub receives every registration the
resident was given a receipt for, exactly once (the outbox key is its idempotency key).
The person (name, ID number, gender, birth date, address, phone) and the answers are
encrypted at rest (AES-GCM, the station's ``outbox.key``), erased once the hub has
acknowledged the registration and after ``privacy.retention_days`` in any case. What
stays is what the station's statistics need: the receipt code, the kind and the time.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from common.privacy import mask_name
from content import outbox as outbox_tables
from content.db import Database, TableOwner, durable, opened
from content.outbox import Outbox, decrypt, encrypt, load_or_create_key, now_iso

REGISTRATION_KINDS = ("求职", "培训需求", "返乡", "零工", "失业")
RegistrationKind = Literal["求职", "培训需求", "返乡", "零工", "失业"]
PERSON_FIELDS = ("name", "id_number", "gender", "birth_date", "address", "phone")
JOB_FIELDS = ("id", "title", "employer")
# Receipt codes are digits only (S/5, O/0 and I/1 are easy to confuse, and elderly residents
# read digits out more easily than letters), shown in groups of four: 4827 1930.
CODE_ALPHABET = "0123456789"
CODE_LENGTH = 8


def grouped_code(code: str) -> str:
    """``4827 1930``: a receipt code as shown and printed, in groups of four."""
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))

SCHEMA = """
CREATE TABLE IF NOT EXISTS registrations (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    station_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_ts REAL NOT NULL,
    outbox_key TEXT NOT NULL UNIQUE,
    personal BLOB,
    purged_at TEXT
);
CREATE INDEX IF NOT EXISTS registrations_by_time ON registrations (created_ts);
"""
# Version 2: the person is erased in the same transaction as the outbox learns the hub has it
# (the entry marked sent) or erases its copy (the retention limit). A trigger, so that the
# outbox need not know this table: each table has one owner.
PURGE_WITH_OUTBOX = """
CREATE TRIGGER IF NOT EXISTS registrations_purge_with_outbox
AFTER UPDATE OF state, payload ON outbox
WHEN NEW.kind = 'registration' AND (NEW.state = 'sent' OR NEW.payload IS NULL)
BEGIN
    UPDATE registrations SET personal = NULL, purged_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '+00:00'
    WHERE outbox_key = NEW.key AND personal IS NOT NULL;
END;
"""

# The registrations table's owner in the station database (after the outbox: the trigger reads it).
TABLES = TableOwner("registrations", ("registrations",), (SCHEMA, PURGE_WITH_OUTBOX))


class RegistrationError(ValueError):
    """A registration cannot be taken; the message names the field (never its value)."""


@dataclass(frozen=True)
class Receipt:
    """What the resident gets back: a short code to quote to staff, the kind and the time."""

    code: str
    kind: str
    created_at: str


@dataclass(frozen=True)
class RegistrationSummary:
    """A registration as the staff screen may show it: the name masked, never the ID number."""

    code: str
    kind: str
    created_at: str
    name_masked: str
    delivered: bool
    purged: bool


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _check_job(job: dict[str, Any] | None) -> dict[str, str] | None:
    """The job a registration applies for (我想应聘): its id, title and employer as shown."""
    if job is None:
        return None
    if not isinstance(job, dict) or set(job) != set(JOB_FIELDS):
        raise RegistrationError(f"job must have exactly the fields {', '.join(JOB_FIELDS)}")
    clean = {}
    for name in JOB_FIELDS:
        value = job[name]
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise RegistrationError(f"job.{name} must be text of 1 to 200 characters")
        clean[name] = value.strip()
    return clean


def _check(kind: str, person: dict[str, Any], answers: dict[str, Any], *, verified: bool = True
           ) -> dict[str, Any]:
    if kind not in REGISTRATION_KINDS:
        raise RegistrationError(f"kind must be one of {', '.join(REGISTRATION_KINDS)}, got {kind!r}")
    if not isinstance(person, dict):
        raise RegistrationError("person must be a dict")
    unknown = sorted(set(person) - set(PERSON_FIELDS))
    if unknown:
        raise RegistrationError(f"unknown person field(s) {unknown}; allowed: {', '.join(PERSON_FIELDS)}")
    clean: dict[str, Any] = {}
    for name, value in person.items():
        if value is None:
            continue
        if isinstance(value, dt.date):
            value = value.isoformat()
        if not isinstance(value, str):
            raise RegistrationError(f"person.{name} must be text")
        if len(value) > 200:
            raise RegistrationError(f"person.{name} is longer than 200 characters")
        clean[name] = value.strip()
    if verified and not clean.get("name"):
        raise RegistrationError("person.name is required")
    if not verified and (set(clean) - {"phone"} or not clean.get("phone")):
        raise RegistrationError("an unverified registration (no ID card read) carries person.phone only")
    if not isinstance(answers, dict):
        raise RegistrationError("answers must be a dict")
    try:
        json.dumps(answers, ensure_ascii=False)
    except (TypeError, ValueError):
        raise RegistrationError("answers must be plain JSON data (text, numbers, lists, dicts)") from None
    return clean


@contextmanager
def _database(db: Database | str | Path) -> Iterator[Database]:
    """The station Database as given, or one opened on the path for the call (with the tables it needs)."""
    if isinstance(db, Database):
        yield db
        return
    with opened(db, [outbox_tables.TABLES, TABLES]) as database:
        yield database


def submit_registration(db: Database | str | Path, kind: RegistrationKind, person: dict[str, Any],
                        answers: dict[str, Any], *, station_id: str, key_dir: str | Path | None = None,
                        job: dict[str, Any] | None = None, verified: bool = True,
                        sms_consent: bool = False) -> Receipt:
    """Store a registration and queue it for the hub, in one durable transaction.

    ``person``: name (required), id_number, gender, birth_date, address, phone. ``key_dir``
    holds ``outbox.key`` (default: the database's folder, i.e. the data dir). ``job``: the job
    applied for from its detail page (我想应聘), ``{"id", "title", "employer"}``. ``verified``
    False: no ID card was read, ``person`` is the phone alone (the registrar sees 未核验).
    ``sms_consent``: the resident ticked 同意短信推送岗位信息 (a separate consent, off unless ticked).
    """
    if not isinstance(sms_consent, bool):
        raise RegistrationError("sms_consent must be true or false")
    person = _check(kind, person, answers, verified=verified)
    job = _check_job(job)
    with _database(db) as database:
        key_dir = Path(key_dir) if key_dir else database.path.parent
        key = load_or_create_key(key_dir)
        conn = database.conn()
        outbox = Outbox(database, key_dir=key_dir)
        created_at = now_iso()
        for _ in range(20):
            code = new_code()
            try:
                with durable(conn):
                    payload = {"code": code, "kind": kind, "station_id": station_id, "created_at": created_at,
                               "person": person, "answers": answers}
                    if job is not None:
                        payload["job"] = job
                    if not verified:
                        payload["verified"] = False
                    payload["sms_consent"] = sms_consent
                    outbox_key = outbox.add("registration", payload, conn=conn, personal=True,
                                            created_at=created_at)
                    secret = json.dumps({"person": person, "answers": answers}, ensure_ascii=False).encode()
                    conn.execute(
                        "INSERT INTO registrations (code, kind, station_id, created_at, created_ts, outbox_key, "
                        "personal) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (code, kind, station_id, created_at, time.time(), outbox_key,
                         encrypt(key, secret, "registration:" + code)))
            except sqlite3.IntegrityError as exc:
                if "registrations.code" in str(exc):
                    continue  # the code was taken: draw another
                raise
            return Receipt(code=code, kind=kind, created_at=created_at)
        raise RegistrationError("could not find a free receipt code")


def count_registrations(db: Database | str | Path, since: dt.datetime | None = None) -> dict[str, int]:
    """Registrations per kind (all four kinds present), optionally only those made since ``since``."""
    counts = dict.fromkeys(REGISTRATION_KINDS, 0)
    with _database(db) as database:
        conn = database.conn()
        sql, args = "SELECT kind, COUNT(*) FROM registrations", []
        if since is not None:
            if since.tzinfo is None:
                since = since.astimezone()
            sql += " WHERE created_ts >= ?"
            args.append(since.timestamp())
        for kind, n in conn.execute(sql + " GROUP BY kind", args):
            counts[kind] = n
    return counts


def recent_registrations(db: Database | str | Path, *, key_dir: str | Path | None = None, limit: int = 20
                         ) -> list[RegistrationSummary]:
    """The newest registrations for the staff screen, names masked."""
    with _database(db) as database:
        rows = database.conn().execute(
            "SELECT r.code, r.kind, r.created_at, r.personal, o.state FROM registrations r "
            "LEFT JOIN outbox o ON o.key = r.outbox_key ORDER BY r.id DESC LIMIT ?", (limit,)).fetchall()
        db_dir = database.path.parent
    key = load_or_create_key(Path(key_dir) if key_dir else db_dir) if any(r["personal"] for r in rows) else b""
    out = []
    for row in rows:
        name = ""
        if row["personal"]:
            data = json.loads(decrypt(key, row["personal"], "registration:" + row["code"]))
            name = mask_name(data["person"].get("name", ""))
        out.append(RegistrationSummary(row["code"], row["kind"], row["created_at"], name,
                                       delivered=row["state"] == "sent", purged=row["personal"] is None))
    return out


def purge_registrations(db: Database | str | Path, retention_days: int, *, now: float | None = None) -> int:
    """Erase the personal data of acknowledged registrations and of all older than the limit.

    The trigger (:data:`PURGE_WITH_OUTBOX`) does it as the outbox changes; this is the sweep for
    whatever it could not see (rows made before the trigger existed, entries deleted by hand).
    """
    cutoff = (now or time.time()) - retention_days * 86400
    with _database(db) as database:
        conn = database.conn()
        with durable(conn):
            return conn.execute(
                "UPDATE registrations SET personal = NULL, purged_at = ? WHERE personal IS NOT NULL AND "
                "(created_ts < ? OR outbox_key IN (SELECT key FROM outbox WHERE state = 'sent'))",
                (now_iso(), cutoff)).rowcount
