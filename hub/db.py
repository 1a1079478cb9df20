"""The hub's database: one SQLAlchemy Core engine per process, SQLite or PostgreSQL.

A county hub runs on one SQLite file in its home folder; a province sets
``database_url = "postgresql://…"`` (psycopg 3). Every hub module that owns tables
declares them as numbered migration steps and registers them here; :func:`migrate`
applies each owner's missing steps once, in order, in one transaction per step, and
records them in ``schema_migrations``. Steps are plain SQL that both SQLite and standard
PostgreSQL accept (so PostgreSQL-compatible databases such as openGauss or KingbaseES
are not excluded); where the two differ a step may be a callable taking the connection.
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

DEFAULT_DB_NAME = "hub.db"
CONFIG_NAME = "hub.toml"
URL_ENV = "YIZHAN_HUB_DATABASE_URL"

Step = str | Callable[[Connection], None]


class HubDatabaseError(Exception):
    """The hub database URL or its schema cannot be used."""


@dataclass(frozen=True)
class Migrations:
    """The ordered schema steps of one table owner (a module); step n is version n+1."""

    owner: str
    steps: Sequence[Step]


_REGISTRY: dict[str, Migrations] = {}


def register(migrations: Migrations) -> Migrations:
    """Declare an owner's steps (module import time). Owners are migrated in registration order."""
    _REGISTRY[migrations.owner] = migrations
    return migrations


def sqlite_url(home: str | Path, name: str = DEFAULT_DB_NAME) -> str:
    return f"sqlite:///{Path(home).resolve() / name}"


def database_url(home: str | Path, url: str | None = None) -> str:
    """The hub's database URL: ``url`` if given, else ``$YIZHAN_HUB_DATABASE_URL``, else
    ``database_url`` in the ``[hub]`` table of ``HOME/hub.toml``, else SQLite in the home."""
    if url:
        return url
    if os.environ.get(URL_ENV):
        return os.environ[URL_ENV]
    config = Path(home) / CONFIG_NAME
    if config.exists():
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise HubDatabaseError(f"{config}: not valid TOML ({exc})") from None
        value = data.get("hub", {}).get("database_url")
        if value is not None and not isinstance(value, str):
            raise HubDatabaseError(f"{config}: [hub] database_url must be a string")
        if value:
            return value
    return sqlite_url(home)


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql://…`` (driver: psycopg 3)."""
    if url.startswith("sqlite:"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # SQLAlchemy, not the sqlite3 module, decides where transactions begin (so that
            # SAVEPOINT and BEGIN IMMEDIATE work: the pysqlite recipe in SQLAlchemy's docs).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # Uploads are receipts the hub has promised to keep: fsync every commit.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Deleted and overwritten rows are zeroed in the file, not left in free space
            # (Debian's SQLite does this by default; other builds do not).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # A writer takes the write lock at BEGIN: a deferred transaction that reads and
            # then writes can fail at once with "database is locked" instead of waiting.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writing") else "BEGIN")

        # Writers of one process queue on a lock instead of in SQLite's busy handler, which
        # polls with sleeps of up to 100 ms and turns contention into long tail latency.
        engine.sqlite_write_lock = threading.Lock()  # type: ignore[attr-defined]
        return engine
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
        # No pre-ping (one more round trip per request): a connection broken by a database
        # restart fails one request (the station resends) and SQLAlchemy then replaces the pool.
        return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    raise HubDatabaseError(f"hub database_url must start with sqlite:/// or postgresql://, got {url.split(':', 1)[0]!r}")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction (on SQLite it holds the write lock from its start)."""
    lock = getattr(engine, "sqlite_write_lock", None) or nullcontext()
    with lock, engine.connect() as conn:
        conn.execution_options(writing=True)
        with conn.begin():
            yield conn


def scrub(engine: Engine, tables: Sequence[str] = ()) -> None:
    """After personal data was purged: leave no old copy of it in the database's files.

    SQLite (``secure_delete`` is on, so the main file holds zeros where the rows were): the
    WAL still holds the pages as they were before the purge until a checkpoint, so the WAL
    is checkpointed into the main file and truncated to nothing. PostgreSQL: ``VACUUM`` of
    ``tables`` prunes the dead row versions the purge left (see PROTOCOL.md on what it does
    not give).
    """
    if engine.dialect.name == "sqlite":
        lock = getattr(engine, "sqlite_write_lock", None) or nullcontext()
        with lock:
            raw = engine.raw_connection()
            try:
                # The DB-API connection itself: no transaction is open around the checkpoint.
                busy, _log, _done = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                raw.close()
        if busy:
            raise HubDatabaseError("the WAL could not be checkpointed (a reader held it for 30 s); run the purge again")
        return
    if engine.dialect.name == "postgresql" and tables:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables:
                conn.exec_driver_sql(f"VACUUM {conn.dialect.identifier_preparer.quote(table)}")


def masked_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("://", 1)[0] + "://…"


def migrate(engine: Engine, owners: Sequence[Migrations] | None = None) -> dict[str, int]:
    """Apply every missing step of every registered owner; return each owner's version.

    Safe when several processes start at once (gunicorn workers): each step is applied in
    one transaction that first re-reads the owner's version; a process that loses the race
    on PostgreSQL gets a constraint error, rolls back and finds the step done on retry.
    """
    owners = list(owners) if owners is not None else list(_REGISTRY.values())
    for attempt in range(3):
        try:
            return _migrate_once(engine, owners)
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _migrate_once(engine: Engine, owners: list[Migrations]) -> dict[str, int]:
    with writing(engine) as conn:
        conn.execute(sa.text(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " owner VARCHAR(100) NOT NULL, version INTEGER NOT NULL, applied_at VARCHAR(40) NOT NULL,"
            " PRIMARY KEY (owner, version))"))
    versions: dict[str, int] = {}
    for m in owners:
        for number, step in enumerate(m.steps, start=1):
            with writing(engine) as conn:
                done = conn.execute(sa.text("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
                                            " WHERE owner = :o"), {"o": m.owner}).scalar_one()
                if number <= done:
                    continue
                if callable(step):
                    step(conn)
                else:
                    for statement in _statements(step):
                        conn.execute(sa.text(statement))
                conn.execute(sa.text("INSERT INTO schema_migrations (owner, version, applied_at)"
                                     " VALUES (:o, :v, CURRENT_TIMESTAMP)"), {"o": m.owner, "v": number})
        versions[m.owner] = len(m.steps)
    return versions


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
