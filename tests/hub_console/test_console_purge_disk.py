"""A purge leaves nothing on the hub's SQLite disk: after ``registrations ack`` (and the
retention purge), the bytes of ``hub.db`` and ``hub.db-wal``, carved with the hub's own data
key, hold none of the purged registrations (SQLite only: the file layout is SQLite's)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path

import sqlalchemy as sa
from console_kit import Console

from config.cli import main
from hub.console import handoff
from hub.vault import VaultError

PEOPLE = [{"name": f"冯{c}梅", "id_number": f"5201031990021400{n:02d}", "phone": f"136987612{n:02d}",
           "address": f"贵州省贵阳市云岩区中华北路{n}号"} for n, c in enumerate("甲乙丙丁戊", start=10)]
SECRETS = [v for p in PEOPLE for v in p.values()]
SEALED = re.compile(rb"yv1:[A-Za-z0-9+/]{16,}={0,2}")


def _ingest(console: Console) -> list[str]:
    """Five registrations; returns their sealed payloads as stored."""
    console.store.add_station("s-1", "测试站")
    t = "2026-11-19T09:00:00+08:00"
    items = [{"key": f"disk-key-{i:06d}", "created_at": t,
              "payload": {"code": f"D{i:05d}", "kind": "求职", "station_id": "s-1", "person": p,
                          "answers": {"意向": "保洁"}}} for i, p in enumerate(PEOPLE)]
    assert all(r["status"] == "created" for r in console.store.ingest("s-1", "registration", items))
    with console.engine.begin() as conn:
        return list(conn.execute(sa.text("SELECT payload FROM uploads WHERE kind = 'registration'")).scalars())


def _carve(console: Console) -> tuple[bytes, list[dict]]:
    """The raw bytes of the database files, and every sealed record in them that opens."""
    raw = b"".join(p.read_bytes() for p in (console.home / "hub.db", console.home / "hub.db-wal") if p.exists())
    vault = console.app.extensions["console"].vault
    opened = []
    for match in SEALED.finditer(raw):
        with contextlib.suppress(VaultError, ValueError):
            opened.append(vault.unseal(match.group().decode("ascii")))
    return raw, opened


def test_after_an_ack_the_database_files_hold_none_of_the_purged_registrations(console: Console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stored = _ingest(console)
    assert len(stored) == 5 and all(s.startswith("yv1:") for s in stored)
    raw, opened = _carve(console)
    assert len(opened) >= 5  # the carving finds them before the purge: the test can see what it looks for
    result = handoff.export(console.engine, "csv", "registrar", console.clock(), vault=console.app.extensions["console"].vault)
    assert result.count == 5

    monkeypatch.setenv("YIZHAN_HUB_DATABASE_URL", console.database_url)
    assert main(["hub", "registrations", "ack", "1", "--home", str(console.home)]) == 0

    raw, opened = _carve(console)
    assert opened == []
    found = [i for i, s in enumerate(stored) if s[4:60].encode() in raw]
    assert found == [], f"{len(found)} purged records still in hub.db or its WAL"
    text = raw.decode("utf-8", errors="replace")
    assert sum(s in text for s in SECRETS) == 0
    wal = console.home / "hub.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_the_retention_purge_leaves_nothing_either(console: Console) -> None:
    stored = _ingest(console)
    ctx = console.app.extensions["console"]
    with console.engine.begin() as conn:
        conn.execute(sa.text("UPDATE uploads SET received_at = '2026-10-01T00:00:00+00:00'"))
    now = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert handoff.purge_expired(console.engine, 30, "测试", now, vault=ctx.vault) == 5
    raw, opened = _carve(console)
    assert opened == [] and not any(s[4:60].encode() in raw for s in stored)


def test_the_hub_connections_delete_securely(console: Console) -> None:
    with console.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    assert Path(console.database_url[len("sqlite:///"):]).name == "hub.db"
