"""The station store: the content the kiosk, the board and the printer show, in the station database.

One SQLite file (WAL, :func:`content.db.connect`) holds the last content set applied. Its
tables are prefixed ``content_`` so they sit beside the other parts' tables. A new set
replaces the old one whole: it is written beside the old one in short transactions and swapped
in by one, so a reader sees the old set or the new one, never a mix, a failure (or a power cut)
half-way leaves the old set in place, and other parts' writes keep going meanwhile.

Jobs are numbered in ranking order when they are stored: nearest to the station first,
then newest. Search then walks matches in that order and stops at the page it needs, and
a radius becomes a range of those numbers. If the station's coordinates change, the jobs
are renumbered on the next use. See :mod:`content.search` for how text is matched.

This module holds the :class:`Store`'s facade (connections, what is stored, policies, events,
courses, notices, documents); its parts are applying a content set (:mod:`content.store_apply`)
and job search (:mod:`content.store_search`). The tables and their migrations are in
:mod:`content.store_schema`, the rows an apply writes in :mod:`content.store_records`, and how a
search becomes SQL in :mod:`content.search_plan`.
"""


from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from content import store_schema
from content.db import Database, TableOwner, connect
from content.search_plan import DEFAULT_RADIUS  # noqa: F401 - part of this module's API
from content.store_apply import (  # noqa: F401 - APPLY_* and _pause_after: part of this module's API
    _BUSY_DELAYS_MS,
    APPLY_BATCH_S,
    APPLY_MAX_ROWS,
    APPLY_MERGE_PAGES,
    APPLY_MIN_MERGE_PAGES,
    APPLY_MIN_PAUSE_S,
    APPLY_MIN_ROWS,
    VersionApply,
    _pause_after,
)
from content.store_records import _load_job, _matched_field  # noqa: F401 - used by bench/search.py
from content.store_schema import (
    _RECORD_TABLES,
    SCHEMA_VERSION,  # noqa: F401 - part of this module's API (tests, upgrade checks)
    StoreError,
    migrate,
)
from content.store_search import (  # noqa: F401 - JobHit, RADIUS_SLACK_KM: part of this module's API
    RADIUS_SLACK_KM,
    JobHit,
    JobSearch,
    _ReadTransaction,
)
from protocol.model import (
    Announcement,
    ContentSet,
    Course,
    Event,
    Policy,
)

_Record = TypeVar("_Record", Policy, Event, Course, Announcement)


@dataclass(frozen=True)
class ContentInfo:
    """What content the store holds: which feed and version, when it was applied, how much."""

    feed_id: str = ""
    version: int = 0
    applied_at: dt.datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)






class Store(VersionApply, JobSearch):
    """The station's content: replace it whole, search jobs, read policies, events, courses, notices.

    Safe to share between threads (the UI thread and the sync thread): each thread gets its own
    connection, and every search runs in one read transaction. Replacing the content writes the new
    set in short batches beside the old one and swaps it in at the end (:class:`VersionApply`,
    ``_apply``): other parts' writers (registrations, the print queue, the outbox) wait a few tens of
    ms at most. Job search is :class:`JobSearch`.
    """

    # The content_ tables' owner in the station database (declared with their schema).
    TABLES: ClassVar[TableOwner] = store_schema.TABLES

    def __init__(self, db: Database | Path | str, origin: tuple[float, float], default_radius_km: float = 3.0, *,
                 apply_batch_rows: int = APPLY_MAX_ROWS, apply_pause: Callable[[float], None] = time.sleep,
                 pause_every_s: float = APPLY_BATCH_S) -> None:
        # The station's Database (its migrations already run; connections are its), or a path:
        # then this store opens its own connections and brings its tables up to date itself.
        if not isinstance(db, Database):
            db = Database.of_process(db) or Path(db)  # the process's database if it opened one
        self._db = db if isinstance(db, Database) else None
        self.db_path = db.path if isinstance(db, Database) else Path(db)
        self.pause_every_s = pause_every_s  # lock time after which the apply leaves the lock free
        self.apply_batch_rows = max(APPLY_MIN_ROWS, int(apply_batch_rows))
        self._batch_sizes: dict[str, int] = {}  # rows per batch, learnt per kind of batch
        self._apply_pause = apply_pause  # how the apply waits between batches (tests pass their own)
        self._held_since_pause = 0.0  # lock time of the batches since the last pause
        self._apply_lock = threading.Lock()
        # (what, time.monotonic() at BEGIN, seconds the write lock was held) for each transaction of the
        # last apply, longest first: what the apply made other writers wait for
        self.apply_transactions: list[tuple[str, float, float]] = []
        self._held: list[tuple[str, float, float]] = []
        self.origin = (float(origin[0]), float(origin[1]))
        self.default_radius_km = float(default_radius_km)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        # (generation, its kept bitsets, shown jobs, job sets): replaced whole, never changed in place
        # for another content set, so a thread searching an older set keeps its own (see _kept)
        self._kept_set: tuple[str, dict[Any, Any]] = ("", {})
        if self._db is None:
            migrate(self._conn())
        self._reorder_if_moved()

    # -- connections ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        if self._db is not None:
            return self._db.conn()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.db_path)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _read(self) -> _ReadTransaction:
        """One read transaction: several SELECTs see the same content set."""
        return _ReadTransaction(self._conn())

    def close(self) -> None:
        """Close every connection this store opened (in any thread); the Database's stay open."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._closed = True
        for conn in conns:
            # A connection made in another thread that already ended: nothing to release.
            with contextlib.suppress(sqlite3.ProgrammingError):
                conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def export_content(self) -> ContentSet:
        """The whole stored content set, as records (for re-ranking, export and checks)."""
        with self._read() as conn:
            return self._export(conn)

    def _export(self, conn: sqlite3.Connection) -> ContentSet:
        return ContentSet(
            jobs=[_load_job(r[0]) for r in conn.execute(
                "SELECT data FROM content_job_data ORDER BY n")],
            policies=self._all(conn, "content_policies", Policy),
            events=self._all(conn, "content_events", Event),
            courses=self._all(conn, "content_courses", Course),
            announcements=self._all(conn, "content_announcements", Announcement),
            documents={r[0]: json.loads(r[1]) for r in conn.execute(
                "SELECT name, data FROM content_documents ORDER BY name")},
        )

    @staticmethod
    def _all(conn: sqlite3.Connection, table: str, cls: type[_Record]) -> list[_Record]:
        return [cls.model_validate_json(r[0])
                for r in conn.execute(f"SELECT data FROM {table} ORDER BY position")]  # noqa: S608

    # -- what is stored ------------------------------------------------------------------------

    def content_info(self) -> ContentInfo:
        with self._read() as conn:
            meta = dict(conn.execute("SELECT key, value FROM content_meta").fetchall())
            counts = {name: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                      for name, table in _RECORD_TABLES.items()}
        applied = meta.get("applied_at")
        return ContentInfo(
            feed_id=meta.get("feed_id", ""),
            version=int(meta.get("version", 0)),
            applied_at=dt.datetime.fromisoformat(applied) if applied else None,
            counts=counts,
        )

    def table_counts(self) -> dict[str, int]:
        """Rows in each table of the station database, every part's tables included (for stats)."""
        conn = self._conn()
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) != 'sqlite_' "
            "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'")]
        return {name: conn.execute('SELECT count(*) FROM "{}"'.format(name.replace('"', '""'))).fetchone()[0]
                for name in names}

    # -- other content -------------------------------------------------------------------------

    def policies(self, category: str | None = None, today: dt.date | None = None) -> list[Policy]:
        """Policies in force on ``today`` (all of a ``category`` if given), in feed order."""
        today = today or dt.date.today()
        sql = "SELECT data FROM content_policies"
        params: tuple[Any, ...] = ()
        if category:
            sql += " WHERE category = ?"
            params = (category,)
        rows = self._conn().execute(sql + " ORDER BY position", params).fetchall()
        found = (Policy.model_validate_json(r[0]) for r in rows)
        return [p for p in found if p.is_open(today)]

    def get_policy(self, policy_id: str) -> Policy | None:
        row = self._conn().execute("SELECT data FROM content_policies WHERE id = ?", (policy_id,)).fetchone()
        return Policy.model_validate_json(row[0]) if row else None

    def events(self, now: dt.datetime | None = None) -> list[Event]:
        """Events not yet over (upcoming or under way), soonest first."""
        rows = self._conn().execute("SELECT data FROM content_events ORDER BY starts_at, position").fetchall()
        found = [Event.model_validate_json(r[0]) for r in rows]
        return [e for e in found if e.is_open(_now_like(now, e.ends_at))]

    def get_event(self, event_id: str) -> Event | None:
        row = self._conn().execute("SELECT data FROM content_events WHERE id = ?", (event_id,)).fetchone()
        return Event.model_validate_json(row[0]) if row else None

    def courses(self) -> list[Course]:
        rows = self._conn().execute("SELECT data FROM content_courses ORDER BY position").fetchall()
        return [Course.model_validate_json(r[0]) for r in rows]

    def get_course(self, course_id: str) -> Course | None:
        row = self._conn().execute("SELECT data FROM content_courses WHERE id = ?", (course_id,)).fetchone()
        return Course.model_validate_json(row[0]) if row else None

    def announcements(self, surface: Literal["kiosk", "board"], now: dt.datetime | None = None
                      ) -> list[Announcement]:
        """Announcements for ``surface`` inside their time window, urgent ones first."""
        if surface not in ("kiosk", "board"):
            raise StoreError(f"surface must be 'kiosk' or 'board', not {surface!r}")
        rows = self._conn().execute(
            "SELECT data FROM content_announcements WHERE target IN (?, 'both') "
            "ORDER BY priority = 'urgent' DESC, position", (surface,)).fetchall()
        found = [Announcement.model_validate_json(r[0]) for r in rows]
        return [a for a in found if a.is_open(_now_like(now, a.starts_at))]

    def document(self, name: str) -> Any | None:
        """A named JSON document carried with the content (e.g. "board_schedule"), or None."""
        row = self._conn().execute("SELECT data FROM content_documents WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None



def _now_like(now: dt.datetime | None, ref: dt.datetime) -> dt.datetime:
    """``now`` (default: the current time) made comparable with ``ref`` (both naive or both aware)."""
    if now is None:
        now = dt.datetime.now(dt.UTC).astimezone()
    if ref.tzinfo is None and now.tzinfo is not None:
        return now.astimezone().replace(tzinfo=None)
    if ref.tzinfo is not None and now.tzinfo is None:
        return now.astimezone()
    return now
