"""The station's one SQLite database (WAL): its connections, its transactions, its migrations.

A station process opens the database once, as a :class:`Database`: it hands out one connection
per thread (made on first use, with the pragmas below) and, at start, brings every table owner's
tables up to date, once, in order. Each table has exactly one owning module, which declares its
tables and their ordered migrations as a :class:`TableOwner`; ``schema_versions`` records
(owner, version) for each. Writes that must survive power loss (registrations, the outbox, the
print queue) use :func:`durable` so that their commit is fsynced.

:func:`connect` opens a plain connection with the same pragmas, for tools that read one file once
(``yizhan doctor``, statistics) and for the parts' older path-based constructors.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

# A migration: an SQL script, or a function given the connection (inside the step's transaction).
Migration = str | Callable[[sqlite3.Connection], None]

VERSIONS_TABLE = "schema_versions"


class DatabaseError(Exception):
    """The station database cannot be opened or brought up to date (names the owner and versions)."""


def connect(path: str | Path, *, timeout: float = 10.0) -> sqlite3.Connection:
    """Open (creating if needed) the station database in WAL mode with a busy timeout."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL: a commit in WAL mode is safe against a crash of the program, and the durable
    # transactions below raise it to FULL (fsync at commit) for what must survive a power cut.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction; with ``durable`` the commit is fsynced (synchronous=FULL).

    SQLite refuses to change the safety level inside a transaction, so the level is raised before
    ``BEGIN`` and lowered after the transaction has ended (committed or rolled back), and a
    transaction is never started inside another on the same connection (a clear error instead).
    """
    if conn.in_transaction:
        raise DatabaseError("a transaction was started inside another on the same connection")
    if durable:
        conn.execute("PRAGMA synchronous=FULL")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # e.g. the disk is full: leave the connection usable, nothing half-written
                conn.execute("ROLLBACK")
            raise
    finally:
        if durable and not conn.in_transaction:
            conn.execute("PRAGMA synchronous=NORMAL")


def durable(conn: sqlite3.Connection) -> AbstractContextManager[sqlite3.Connection]:
    """Shorthand for ``transaction(conn, durable=True)``."""
    return transaction(conn, durable=True)


# -- table owners and their migrations -------------------------------------------------------------

@dataclass(frozen=True)
class TableOwner:
    """A module that owns some tables of the station database, and how to bring them up to date.

    ``migrations[n - 1]`` takes the tables from version n-1 to version n; each runs in its own
    transaction together with the record of the new version, so a power cut between two steps
    leaves a database the next start continues from. ``found`` tells the version of tables made
    before versions were recorded here (default 0: every step runs, so the first steps are
    ``CREATE ... IF NOT EXISTS`` and adopt a table the older code made). ``upgrade``, if given,
    replaces the steps for an owner that keeps its own version table and transactions (the
    content store's ``content_schema``); it is called outside any transaction.
    """

    name: str
    tables: tuple[str, ...]
    migrations: tuple[Migration, ...] = ()
    found: Callable[[sqlite3.Connection], int] | None = None
    upgrade: Callable[[sqlite3.Connection], object] | None = None
    version_count: int = 0  # with ``upgrade``: the version it brings the tables to

    @property
    def version(self) -> int:
        return self.version_count if self.upgrade is not None else len(self.migrations)


def recorded_versions(conn: sqlite3.Connection) -> dict[str, int]:
    """owner -> version recorded in ``schema_versions`` (empty for a database made before it)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                    (VERSIONS_TABLE,)).fetchone() is None:
        return {}
    return {row[0]: row[1] for row in conn.execute(f"SELECT owner, version FROM {VERSIONS_TABLE}")}


def _run(conn: sqlite3.Connection, migration: Migration) -> None:
    if callable(migration):
        migration(conn)
        return
    # executescript would COMMIT the open transaction first; run the statements one by one.
    for statement in _statements(migration):
        conn.execute(statement)


def _statements(script: str) -> list[str]:
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def _record(conn: sqlite3.Connection, owner: str, version: int) -> None:
    conn.execute(f"INSERT INTO {VERSIONS_TABLE} (owner, version) VALUES (?, ?) "
                 "ON CONFLICT(owner) DO UPDATE SET version = excluded.version", (owner, version))


def migrate(conn: sqlite3.Connection, owners: Sequence[TableOwner]) -> dict[str, tuple[int, int]]:
    """Bring every owner's tables up to date; returns owner -> (version found, version now).

    An up-to-date database is only read (opening never waits for a writer). Refuses, naming the
    owner, a database made by a newer program, and two owners claiming one table.
    """
    claimed: dict[str, str] = {}
    for owner in owners:
        for table in owner.tables:
            if table in claimed:
                raise DatabaseError(f"table {table} has two owners: {claimed[table]} and {owner.name}")
            claimed[table] = owner.name
    done: dict[str, tuple[int, int]] = {}
    recorded = recorded_versions(conn)
    if not recorded and owners:
        with transaction(conn):
            conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} "
                         "(owner TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for owner in owners:
        found = recorded.get(owner.name)
        if found is None:
            found = owner.found(conn) if owner.found else 0
        if found > owner.version:
            raise DatabaseError(f"the station database has {owner.name} tables of version {found}; this "
                                f"program knows up to {owner.version} (upgrade Yizhan)")
        if found == owner.version and recorded.get(owner.name) == found:
            done[owner.name] = (found, found)
            continue
        if owner.upgrade is not None:
            owner.upgrade(conn)
            with transaction(conn):
                _record(conn, owner.name, owner.version)
        else:
            for version in range(found + 1, owner.version + 1):
                with transaction(conn):
                    now = recorded_versions(conn).get(owner.name, 0)  # another process may have run it
                    if now >= version:
                        continue
                    _run(conn, owner.migrations[version - 1])
                    _record(conn, owner.name, version)
            if found == owner.version:  # adopted as it was: record it
                with transaction(conn):
                    _record(conn, owner.name, found)
        done[owner.name] = (found, owner.version)
    return done


# -- the database ----------------------------------------------------------------------------------

# the process's station database, by file, and the file's identity when it was opened (see Database(process=True))
_PROCESS: dict[Path, tuple[Database, tuple[int, int]]] = {}
_PROCESS_LOCK = threading.Lock()


class Database:
    """The station database, opened once per process: one connection per thread, migrated once.

    ``owners``: every table owner of the process, in the order their migrations run (an owner
    whose tables another's refer to comes after it). ``conn()`` gives the calling thread's
    connection; transactions on it are made with :func:`transaction` / :func:`durable`.

    With ``process=True`` (the station's ``config.station.Station``) it is the process's database
    for its file until closed: the parts' path-based forms (``Outbox(path)``, ``PrintQueue(path)``,
    the registrations' functions, the feed's health) then use its connections, instead of opening
    their own, through :meth:`of_process` / :func:`reading`.
    """

    def __init__(self, path: str | Path, owners: Sequence[TableOwner] = (), *, timeout: float = 10.0,
                 process: bool = False) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.owners = tuple(owners)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._closed = False
        self.opened = 0  # connections made so far (one per thread that used the database)
        self.migrations = migrate(self.conn(), self.owners)
        self._process = process
        if process:
            with _PROCESS_LOCK:
                _PROCESS[self.path.resolve()] = (self, _identity(self.path))

    @staticmethod
    def of_process(path: str | Path) -> Database | None:
        """The process's open station database for the file at ``path``, if the process opened one."""
        with _PROCESS_LOCK:
            found = _PROCESS.get(Path(path).resolve())
        # A file replaced since (a data folder restored from a copy) is another database.
        if found is None or found[0]._closed or _identity(path) != found[1]:
            return None
        return found[0]

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (made on first use)."""
        if self._closed:
            raise DatabaseError("the station database is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
                self.opened += 1
        return conn

    def transaction(self, *, durable: bool = False) -> AbstractContextManager[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction on this thread's connection (fsynced with ``durable``)."""
        return transaction(self.conn(), durable=durable)

    def versions(self) -> dict[str, int]:
        """owner -> version of its tables, as recorded."""
        return recorded_versions(self.conn())

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._closed = True
        if self._process:
            with _PROCESS_LOCK:
                if _PROCESS.get(self.path.resolve(), (None,))[0] is self:
                    del _PROCESS[self.path.resolve()]
        for conn in conns:
            # A connection made in a thread that already ended: nothing to release.
            with contextlib.suppress(sqlite3.ProgrammingError):
                conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _identity(path: str | Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_dev, st.st_ino)


@contextmanager
def opened(path: str | Path, owners: Sequence[TableOwner]) -> Iterator[Database]:
    """The process's station database for ``path`` if it has one, else one opened for the block
    (bringing ``owners``' tables up to date) and closed after it."""
    shared = Database.of_process(path)
    if shared is not None:
        yield shared
        return
    with Database(path, owners) as db:
        yield db


@contextmanager
def reading(path: str | Path) -> Iterator[sqlite3.Connection]:
    """A connection to read the station database at ``path``: this thread's connection of the
    process's database if it has one, else a read-only one for the block (never creates the file)."""
    shared = Database.of_process(path)
    if shared is not None:
        yield shared.conn()
        return
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()
