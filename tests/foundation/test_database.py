"""The station database: one owner per table, versioned migrations run once, an older station's
database upgraded in place without losing a row, and one connection per thread."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from config.station import OWNERS, Station
from content.db import Database, DatabaseError, TableOwner, durable, transaction
from content.feed_client import TABLES as SYNC_TABLES
from content.outbox import Outbox
from content.registrations import recent_registrations
from content.store import SCHEMA_VERSION
from printer.queue import PrintQueue

DATA = Path(__file__).parent / "data"


def _older_station(tmp_path: Path) -> Path:
    """The database (and data key) a station made with the code before versioned migrations."""
    (tmp_path / "data").mkdir(exist_ok=True)
    db = tmp_path / "data" / "station.db"
    shutil.copy(DATA / "station_before_versions.db", db)
    shutil.copy(DATA / "outbox.key", tmp_path / "data" / "outbox.key")
    (tmp_path / "data" / "outbox.key").chmod(0o600)
    return db


def test_an_older_stations_database_is_upgraded_in_place_without_losing_a_row(tmp_path: Path) -> None:
    path = _older_station(tmp_path)
    plain = sqlite3.connect(path)
    before = {t: plain.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("content_jobs", "content_policies", "registrations", "outbox", "print_jobs", "sync_state")}
    plain.close()
    assert before["content_jobs"] == 20 and before["registrations"] == 3 and before["print_jobs"] == 1

    with Database(path, OWNERS) as db:
        # every owner brought to its newest version (the sync tables from the older program's 1)
        assert db.versions() == {"content": SCHEMA_VERSION, "outbox": 1, "registrations": 2,
                                 "sync": len(SYNC_TABLES.migrations), "print_queue": 1}
        assert len(SYNC_TABLES.migrations) >= 3
        conn = db.conn()
        for table, n in before.items():
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == n, table
        # the sync state kept its values, columns and all
        state = conn.execute("SELECT feed_id, version, pinned_feed_id FROM sync_state").fetchone()
        assert tuple(state) == ("gy", 7, "gy")
        # the registrations' people are still readable with the station's key, names masked
        assert [r.name_masked for r in recent_registrations(db)] == ["赵*"] * 3
        # and the new trigger works on the old rows: the hub acknowledges one, its person is erased
        outbox = Outbox(db, key_dir=path.parent)
        (entry, *_) = outbox.pending("registration")
        outbox.mark_sent({entry.key: {}})
        assert sum(r.purged for r in recent_registrations(db)) == 1
        assert PrintQueue(db).pending()[0].label == "岗位 1"

    # opening again runs nothing: the versions are recorded, nothing is written
    with Database(path, OWNERS) as db:
        assert all(found == now for found, now in db.migrations.values())


def test_a_database_from_a_newer_program_is_refused_naming_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    Database(path, OWNERS).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_versions SET version = 9 WHERE owner = 'outbox'")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="outbox tables of version 9"):
        Database(path, OWNERS)


def test_a_table_with_two_owners_is_refused(tmp_path: Path) -> None:
    twice = TableOwner("elsewhere", ("outbox",), ("CREATE TABLE IF NOT EXISTS outbox (id INTEGER)",))
    with pytest.raises(DatabaseError, match="table outbox has two owners"):
        Database(tmp_path / "station.db", [*OWNERS, twice])


def test_a_later_migration_runs_once_on_a_database_already_in_use(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    first = TableOwner("notes", ("notes",), ("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)",))
    with Database(path, [first]) as db, transaction(db.conn()):
        db.conn().execute("INSERT INTO notes (text) VALUES ('kept')")
    second = TableOwner("notes", ("notes",), (*first.migrations, "ALTER TABLE notes ADD COLUMN at TEXT"))
    for _ in range(2):  # the second open finds version 2 and runs nothing (an ALTER twice would fail)
        with Database(path, [second]) as db:
            assert db.versions() == {"notes": 2}
            assert tuple(db.conn().execute("SELECT text, at FROM notes").fetchone()) == ("kept", None)


def test_a_durable_transaction_inside_another_is_a_clear_error_and_leaves_the_connection_usable(tmp_path: Path
                                                                                                 ) -> None:
    with Database(tmp_path / "station.db", OWNERS) as db:
        conn = db.conn()
        with pytest.raises(DatabaseError, match="inside another"), transaction(conn), durable(conn):
            pass
        assert not conn.in_transaction
        with durable(conn):
            conn.execute("INSERT INTO content_meta (key, value) VALUES ('k', 'v')")
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # back to NORMAL after the fsynced commit


def test_one_connection_per_thread(tmp_path: Path, station) -> None:  # type: ignore[no-untyped-def]
    with Station(station.settings) as st:
        st.store.content_info()
        st.outbox.add("event", {"event": "a"})
        st.print_queue.submit("job", b"x", "slip")
        assert st.db.opened == 1  # the store, the outbox and the print queue share this thread's
        other = threading.Thread(target=lambda: (st.outbox.depth(), st.store.content_info()))
        other.start()
        other.join()
        assert st.db.opened == 2
