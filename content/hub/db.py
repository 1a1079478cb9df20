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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

DEFAULT_DB_NAME = "hub.db"

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


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql://…`` (driver: psycopg 3)."""
    if url.startswith("sqlite:"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # Uploads are receipts the hub has promised to keep: fsync every commit.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    raise HubDatabaseError(f"hub database_url must start with sqlite:/// or postgresql://, got {url.split(':', 1)[0]!r}")


def migrate(engine: Engine, owners: Sequence[Migrations] | None = None) -> dict[str, int]:
    """Apply every missing step of every registered owner; return each owner's version."""
    owners = list(owners) if owners is not None else list(_REGISTRY.values())
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " owner VARCHAR(100) NOT NULL, version INTEGER NOT NULL, applied_at VARCHAR(40) NOT NULL,"
            " PRIMARY KEY (owner, version))"))
    versions: dict[str, int] = {}
    for m in owners:
        with engine.begin() as conn:
            done = conn.execute(sa.text("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE owner = :o"),
                                {"o": m.owner}).scalar_one()
        for number, step in enumerate(m.steps, start=1):
            if number <= done:
                continue
            with engine.begin() as conn:
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
