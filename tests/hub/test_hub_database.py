"""The hub's store on SQLite and PostgreSQL: migrations, the idempotency constraint under races, configuration."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from config.cli import main
from hub.db import HubDatabaseError, database_url, make_engine, masked_url, migrate
from hub.storage import MIGRATIONS, HubError, HubStore


def registration(code: str) -> dict:
    return {"key": str(uuid.uuid4()), "created_at": "2026-03-01T09:30:00+08:00",
            "payload": {"code": code, "kind": "返乡", "person": {"name": "张三"}, "answers": {}}}


def test_migrations_run_once_and_are_recorded(hub_database: str, tmp_path: Path) -> None:
    store = HubStore(hub_database, home=tmp_path)
    assert migrate(store.engine, [MIGRATIONS]) == {"hub.storage": len(MIGRATIONS.steps)}
    with store.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version FROM schema_migrations WHERE owner = 'hub.storage'"
                                        " ORDER BY version")).scalars().all()
    assert versions == list(range(1, len(MIGRATIONS.steps) + 1))
    HubStore(hub_database, home=tmp_path).close()  # a second start changes nothing
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM schema_migrations")).scalar_one() == len(versions)
    store.close()


def test_the_unique_key_is_a_database_constraint(hub_database: str, tmp_path: Path) -> None:
    store = HubStore(hub_database, home=tmp_path)
    store.add_station("s1")
    first = store.ingest("s1", "registration", [registration("ABC234")])[0]
    copy = {"key": first["key"], "kind": "registration", "station_id": "s1", "created_at": "x",
            "received_at": "y", "payload": "{}"}
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO uploads (key, kind, station_id, created_at, received_at, payload)"
                             " VALUES (:key, :kind, :station_id, :created_at, :received_at, :payload)"), copy)
    assert store.count() == 1
    store.close()


def test_racing_resends_store_one_record_and_all_answer_the_first_receipt(hub_database: str, tmp_path: Path) -> None:
    store = HubStore(hub_database, home=tmp_path)
    store.add_station("s1")
    batch = [registration(f"RACE{i:02d}") for i in range(20)]
    answers: list[list[dict]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def send() -> None:
        try:
            start.wait()
            answers.append(store.ingest("s1", "registration", batch))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count("registration") == 20
    for i in range(20):
        statuses = sorted(a[i]["status"] for a in answers)
        assert statuses == ["created"] + ["duplicate"] * 5
        assert len({(a[i]["receipt"]["id"], a[i]["receipt"]["received_at"]) for a in answers}) == 1
    store.close()


def test_a_hub_db_made_before_migrations_is_adopted_with_its_records(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE stations (id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', token_sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL, last_seen_at TEXT, last_heartbeat_at TEXT, heartbeat_created_at TEXT,
            heartbeat TEXT);
        CREATE TABLE uploads (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
            station_id TEXT NOT NULL, created_at TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL);
        INSERT INTO stations VALUES ('old-1', '老站', 'ab', '2026-01-01', NULL, NULL, NULL, NULL);
        INSERT INTO uploads VALUES (1, 'key-00000001', 'event', 'old-1', '2026-01-01', '2026-01-01', '{"event": "x"}');
    """)
    conn.close()
    store = HubStore(path)
    assert [s.id for s in store.stations()] == ["old-1"]
    assert store.uploads()[0]["key"] == "key-00000001"
    assert store.ingest("old-1", "event", [{"key": "key-00000001", "created_at": "2026-01-01T00:00:00",
                                            "payload": {"event": "x"}}])[0]["status"] == "duplicate"
    store.close()


def test_database_url_comes_from_the_option_the_environment_or_hub_toml(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YIZHAN_HUB_DATABASE_URL", raising=False)
    assert database_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'hub.db'}"
    (tmp_path / "hub.toml").write_text('[hub]\ndatabase_url = "postgresql://hub@db.example/hub"\n')
    assert database_url(tmp_path) == "postgresql://hub@db.example/hub"
    monkeypatch.setenv("YIZHAN_HUB_DATABASE_URL", "postgresql://env@db/hub")
    assert database_url(tmp_path) == "postgresql://env@db/hub"
    assert database_url(tmp_path, "sqlite:///x.db") == "sqlite:///x.db"
    (tmp_path / "hub.toml").write_text("[hub\n")
    monkeypatch.delenv("YIZHAN_HUB_DATABASE_URL")
    with pytest.raises(HubDatabaseError, match="hub.toml: not valid TOML"):
        database_url(tmp_path)
    with pytest.raises(HubDatabaseError, match="must start with sqlite:/// or postgresql://"):
        make_engine("mysql://root@localhost/hub")
    assert masked_url("postgresql://hub:s3cret@db/hub") == "postgresql://hub:***@db/hub"


def test_cli_stations_on_the_chosen_database(hub_database: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    args = ["--home", home, "--database-url", hub_database]
    assert main(["hub", "station", "add", "gy-001", "--name", "城东", *args]) == 0
    assert main(["hub", "station", "add", "gy-001", *args]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["hub", "station", "list", *args]) == 0
    assert "gy-001" in capsys.readouterr().out
    store = HubStore(hub_database, home=tmp_path)
    assert [s.name for s in store.stations()] == ["城东"]
    with pytest.raises(HubError, match="no station"):
        store.remove_station("gy-404")
    store.close()
    assert main(["hub", "station", "list", "--home", home, "--database-url", "mysql://x/y"]) == 2
    assert "postgresql://" in capsys.readouterr().err
