"""The station's one SQLite database (WAL): how every part opens it.

Each part (store, outbox, print queue, registrations) creates its own tables in the same
file. Connections are per thread. Writes that must survive power loss (registrations,
the outbox, the print queue) use :func:`durable` so that the commit is fsynced.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def connect(path: str | Path, *, timeout: float = 10.0) -> sqlite3.Connection:
    """Open (creating if needed) the station database in WAL mode with a busy timeout."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction; with ``durable`` the commit is fsynced (synchronous=FULL)."""
    if durable:
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
    finally:
        if durable:
            conn.execute("PRAGMA synchronous=NORMAL")


def durable(conn: sqlite3.Connection):
    """Shorthand for ``transaction(conn, durable=True)``."""
    return transaction(conn, durable=True)
