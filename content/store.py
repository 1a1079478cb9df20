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
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import sqlite3
import threading
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import sqlite_utils

from content import search as textsearch
from content.db import Database, TableOwner, connect, transaction
from content.geo import distance_km
from content.model import (
    JOB_CATEGORIES,
    Announcement,
    ContentSet,
    Course,
    Event,
    Job,
    Policy,
)

SCHEMA_VERSION = 2
# Exactly-on-the-circle jobs count as inside: float rounding must not drop a job at 3.000 km.
RADIUS_SLACK_KM = 1e-9
# Monthly equivalents for the minimum-salary filter (21.75 paid days a month, 8 hours a day).
MONTHLY_FACTOR = {"月": 1.0, "日": 21.75, "时": 21.75 * 8}


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT_RADIUS"


DEFAULT_RADIUS: Final = _Default()
"""Pass (or omit) for the station's own radius; pass ``None`` for every distance ("全部")."""

Radius = float | int | str | None | _Default


@dataclass(frozen=True)
class JobHit:
    """A job found by a search, its distance from the station and the field the query matched."""

    job: Job
    distance_km: float
    matched_field: str = ""


@dataclass(frozen=True)
class ContentInfo:
    """What content the store holds: which feed and version, when it was applied, how much."""

    feed_id: str = ""
    version: int = 0
    applied_at: dt.datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)


class StoreError(Exception):
    """The store cannot do what was asked (bad argument, unknown schema)."""


# How a content set is applied (see Store._apply): batches that hold the write lock about
# APPLY_BATCH_S, each followed by a pause that lets a writer waiting in SQLite's busy handler in
# (see _pause_after).
APPLY_BATCH_S = 0.015  # target time a batch holds the write lock
APPLY_MIN_PAUSE_S = 0.008  # shortest pause between batches (see _pause_after)
APPLY_MAX_ROWS = 4000  # rows per batch at most
APPLY_MIN_ROWS = 200
APPLY_MERGE_PAGES = 64  # FTS5 'merge' work per step (pages) at most
APPLY_MIN_MERGE_PAGES = 4


# SQLite's busy handler (sqliteDefaultBusyCallback): a writer that found the lock taken sleeps these
# steps (ms), starting when it first found it taken.
_BUSY_DELAYS_MS = (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100)


def _pause_after(held: float) -> float:
    """How long the apply leaves the lock free after a batch that held it ``held`` seconds.

    A writer that came when the batch began has slept in the busy handler's growing steps meanwhile
    and retries only at the end of its current step: a pause shorter than that step lets the next
    batch take the lock first, again and again (a batch stretched by the machine's load once left a
    writer waiting 200 ms while the apply held the lock for a quarter of it). So the pause outlasts
    the step such a writer is in (the longest step is 100 ms).
    """
    waited, step = 0.0, _BUSY_DELAYS_MS[-1]
    for delay in _BUSY_DELAYS_MS:
        if waited + delay > held * 1000:
            step = delay
            break
        waited += delay
    return max(APPLY_MIN_PAUSE_S, step / 1000 + 0.005)


# ---------------------------------------------------------------------------------------------
# schema

_MIGRATIONS: dict[int, Sequence[str]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS content_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        # n: the ranking order (distance from the station, then newest); also the FTS rowid.
        # Only what filters need is here, so that walking the jobs in order reads few pages.
        """CREATE TABLE IF NOT EXISTS content_jobs (
            n INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            employer TEXT NOT NULL,
            category TEXT NOT NULL,
            kind TEXT NOT NULL,
            work_date TEXT,
            salary_max INTEGER NOT NULL,
            monthly_max REAL,
            dist_km REAL NOT NULL,
            age_min INTEGER,
            age_max INTEGER,
            gender TEXT NOT NULL,
            source TEXT NOT NULL,
            published TEXT NOT NULL,
            valid_until TEXT NOT NULL,
            title_tid INTEGER NOT NULL,
            employer_tid INTEGER NOT NULL,
            category_tid INTEGER NOT NULL,
            title_m0 INTEGER NOT NULL,
            title_m1 INTEGER NOT NULL,
            other_m0 INTEGER NOT NULL,
            other_m1 INTEGER NOT NULL)""",
        # the whole record, read only for the jobs shown
        """CREATE TABLE IF NOT EXISTS content_job_data (n INTEGER PRIMARY KEY, data TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS content_jobs_dist ON content_jobs(dist_km)",
        "CREATE INDEX IF NOT EXISTS content_jobs_category ON content_jobs(category)",
        "CREATE INDEX IF NOT EXISTS content_jobs_title_tid ON content_jobs(title_tid)",
        "CREATE INDEX IF NOT EXISTS content_jobs_employer_tid ON content_jobs(employer_tid)",
        "CREATE INDEX IF NOT EXISTS content_jobs_category_tid ON content_jobs(category_tid)",
        "CREATE INDEX IF NOT EXISTS content_jobs_work_date ON content_jobs(work_date)",
        # Contentless: the index only (text lives in content_job_data). t/e/c/r: title, employer,
        # category, requirements as bigram streams; x: one token per category, so that a category
        # filter is an FTS5 AND rather than a row-by-row check. The tokenizer's Unicode tables are
        # old (6.1): characters it does not know (Cn, e.g. rare hanzi of later CJK extensions)
        # must stay inside tokens too.
        """CREATE VIRTUAL TABLE IF NOT EXISTS content_job_text USING fts5(
            t, e, c, r, x, content='', columnsize=0,
            tokenize="unicode61 remove_diacritics 0 categories 'L* N* Co Cn'")""",
        # distinct titles / employers / categories with their readings, and two pinyin indexes
        """CREATE TABLE IF NOT EXISTS content_py_term (
            tid INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE, readings TEXT NOT NULL,
            n_title INTEGER NOT NULL DEFAULT 0, n_other INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE IF NOT EXISTS content_py_initials (
            key TEXT NOT NULL, tid INTEGER NOT NULL, pos INTEGER NOT NULL,
            PRIMARY KEY (key, tid, pos)) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS content_py_full (
            key TEXT NOT NULL, tid INTEGER NOT NULL, pos INTEGER NOT NULL,
            PRIMARY KEY (key, tid, pos)) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS content_policies (
            id TEXT PRIMARY KEY, position INTEGER NOT NULL, category TEXT NOT NULL, data TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS content_events (
            id TEXT PRIMARY KEY, position INTEGER NOT NULL, starts_at TEXT NOT NULL, data TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS content_courses (
            id TEXT PRIMARY KEY, position INTEGER NOT NULL, data TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS content_announcements (
            id TEXT PRIMARY KEY, position INTEGER NOT NULL, priority TEXT NOT NULL, target TEXT NOT NULL,
            data TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS content_documents (name TEXT PRIMARY KEY, data TEXT NOT NULL)""",
        # every token of every title: a query with a token no title has skips the title pass
        """CREATE TABLE IF NOT EXISTS content_title_grams (gram TEXT PRIMARY KEY) WITHOUT ROWID""",
    ),
    2: (
        # Job sets as bitsets (bit n = job n), written once per content set: the jobs whose title /
        # employer or category has a character read with each letter ("title:b", "other:b"), and
        # each category's jobs ("category:保洁"). A one-letter query matches most jobs; counting
        # them is then a popcount rather than a walk over every row.
        """CREATE TABLE IF NOT EXISTS content_job_bits (name TEXT PRIMARY KEY, bits BLOB NOT NULL)""",
    ),
}

_RECORD_TABLES = {
    "jobs": "content_jobs",
    "policies": "content_policies",
    "events": "content_events",
    "courses": "content_courses",
    "announcements": "content_announcements",
    "documents": "content_documents",
}


# The job tables, rebuilt beside the live ones on every apply and renamed into place.
_SHADOWED = ("content_jobs", "content_job_data", "content_job_text", "content_py_term", "content_py_initials",
             "content_py_full", "content_title_grams", "content_job_bits")
_NEXT, _OLD = "_next", "_old"
_ROW_KEYS = {"content_py_initials": "key, tid, pos", "content_py_full": "key, tid, pos",
             "content_title_grams": "gram", "content_job_bits": "name"}  # WITHOUT ROWID tables: delete by primary key


def _index_name(base: str, gen: int) -> str:
    """Index names carry their generation (SQLite cannot rename an index; the planner names them)."""
    return base if gen == 0 else f"{base}_g{gen}"


def _shadow_ddl(gen: int) -> list[str]:
    """CREATE statements for the ``_next`` job tables and their indexes (named for generation ``gen``)."""
    out = []
    for statement in itertools.chain.from_iterable(_MIGRATIONS.values()):
        table = re.search(r"CREATE (?:VIRTUAL )?TABLE IF NOT EXISTS (\w+)", statement)
        if table and table.group(1) in _SHADOWED:
            out.append(statement.replace(f"EXISTS {table.group(1)}", f"{table.group(1)}{_NEXT}", 1)
                       .replace("IF NOT ", "", 1))
            continue
        index = re.search(r"CREATE INDEX IF NOT EXISTS (\w+) ON (\w+)\((.*)\)", statement)
        if index and index.group(2) in _SHADOWED:
            out.append(f"CREATE INDEX {_index_name(index.group(1), gen)} ON {index.group(2)}{_NEXT}"
                       f"({index.group(3)})")
    return out


def _record_rows(content: ContentSet) -> dict[str, tuple[str, list[tuple[Any, ...]]]]:
    """The small tables of a content set: INSERT statement and rows for each."""
    return {
        "content_policies": ("INSERT INTO content_policies (id, position, category, data) VALUES (?, ?, ?, ?)",
                             [(p.id, i, p.category, p.model_dump_json()) for i, p in enumerate(content.policies)]),
        "content_events": ("INSERT INTO content_events (id, position, starts_at, data) VALUES (?, ?, ?, ?)",
                           [(e.id, i, e.starts_at.isoformat(), e.model_dump_json())
                            for i, e in enumerate(content.events)]),
        "content_courses": ("INSERT INTO content_courses (id, position, data) VALUES (?, ?, ?)",
                            [(c.id, i, c.model_dump_json()) for i, c in enumerate(content.courses)]),
        "content_announcements": (
            "INSERT INTO content_announcements (id, position, priority, target, data) VALUES (?, ?, ?, ?, ?)",
            [(a.id, i, a.priority, a.target, a.model_dump_json()) for i, a in enumerate(content.announcements)]),
        "content_documents": ("INSERT INTO content_documents (name, data) VALUES (?, ?)",
                              [(str(name), json.dumps(doc, ensure_ascii=False))
                               for name, doc in content.documents.items()]),
    }


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the content tables up to :data:`SCHEMA_VERSION`; returns the version found before.

    An up-to-date database is only read: opening the store never waits for a writer (a sync
    replacing a large content set holds the write lock for a while).
    """
    found = _schema_version(conn)
    if found == SCHEMA_VERSION:
        return found
    with transaction(conn):
        found = _schema_version(conn)  # again, under the lock: another process may have migrated
        if found > SCHEMA_VERSION:
            raise StoreError(f"the station database has content schema {found}; "
                             f"this program knows up to {SCHEMA_VERSION} (upgrade Yizhan)")
        if found == 0:
            conn.execute("CREATE TABLE IF NOT EXISTS content_schema (version INTEGER NOT NULL)")
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[version]:
                conn.execute(statement)
        conn.execute("DELETE FROM content_schema")
        conn.execute("INSERT INTO content_schema (version) VALUES (?)", (SCHEMA_VERSION,))
    return found


def _schema_version(conn: sqlite3.Connection) -> int:
    if not sqlite_utils.Database(conn)["content_schema"].exists():
        return 0
    row = conn.execute("SELECT max(version) FROM content_schema").fetchone()
    found = row[0] if row and row[0] is not None else 0
    if found > SCHEMA_VERSION:
        raise StoreError(f"the station database has content schema {found}; "
                         f"this program knows up to {SCHEMA_VERSION} (upgrade Yizhan)")
    return found


# ---------------------------------------------------------------------------------------------
# the store


class Store:
    """The station's content: replace it whole, search jobs, read policies, events, courses, notices.

    Safe to share between threads (the UI thread and the sync thread): each thread gets its own
    connection, and every search runs in one read transaction. Replacing the content writes the new
    set in short batches beside the old one and swaps it in at the end (:meth:`_apply`): other
    parts' writers (registrations, the print queue, the outbox) wait a few tens of ms at most.
    """

    # The content_ tables' owner in the station database. Their versions are kept in content_schema
    # since the first release, so :func:`migrate` brings them up to date (schema_versions records it).
    TABLES: typing.ClassVar[TableOwner] = TableOwner(
        "content", ("content_schema", "content_meta", *_RECORD_TABLES.values(),
                    *(t for t in _SHADOWED if t not in _RECORD_TABLES.values())),
        upgrade=migrate, version_count=SCHEMA_VERSION, found=_schema_version)

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
        # job bitsets of the content set last searched (see _letter_bits), and its generation
        self._bits: dict[Any, int | None] = {}
        self._bits_generation = ""
        if self._db is None:
            migrate(self._conn())
        self._reorder_if_moved()

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        """The store of the station described by ``settings`` (config.settings.Settings)."""
        st = settings.station
        return cls(settings.db_path, (st.latitude, st.longitude), st.radius_km)

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

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: several SELECTs see the same content set."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this store opened (in any thread); the Database's stay open."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._closed = True
        for conn in conns:
            try:
                conn.close()
            except sqlite3.ProgrammingError:
                pass  # made in another thread that already ended; nothing to release

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def replace_content(self, content: ContentSet, *, feed_id: str = "local", version: int = 0) -> None:
        """Replace the whole content set (every kind of record and the documents).

        Readers see the old set or the new one, never a mix; if anything fails (or the power goes)
        before the final swap, the old set stays. The new set is written beside the old one in short
        batches (see :meth:`_apply`), so other parts' writes never wait long for the lock.
        """
        _check_unique_ids(content)
        prepared = _prepare_jobs(content.jobs, self.origin)
        self._apply(prepared, content, feed_id, version)

    def merge_jobs(self, jobs: Sequence[Job], *, replace_jobs: bool = False) -> tuple[int, int]:
        """Add ``jobs`` to the stored set, replacing stored jobs with the same id (all stored jobs with
        ``replace_jobs``); everything else stays. Applied whole, like a replace. Returns (added, updated)."""
        incoming = ContentSet(jobs=list(jobs))
        _check_unique_ids(incoming)
        with self._read() as conn:
            current = self._export(conn)
            meta = dict(conn.execute("SELECT key, value FROM content_meta").fetchall())
        known = {job.id for job in current.jobs}
        new_ids = {job.id for job in jobs}
        kept = [] if replace_jobs else [job for job in current.jobs if job.id not in new_ids]
        current.jobs = kept + list(jobs)
        prepared = _prepare_jobs(current.jobs, self.origin)
        self._apply(prepared, current, meta.get("feed_id", "local"), int(meta.get("version", 0)),
                    expect_applied_at=meta.get("applied_at", ""))
        updated = len(new_ids & known)
        return len(new_ids) - updated, updated

    def _write_meta(self, conn: sqlite3.Connection, prepared: _PreparedJobs, feed_id: str, version: int, *,
                    applied_at: str | None = None, index_gen: int = 0) -> None:
        meta = {
            "feed_id": feed_id,
            "version": str(int(version)),
            "applied_at": applied_at or dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "origin": _origin_text(self.origin),
            "job_count": str(len(prepared.rows)),
            "category_jobs": json.dumps(prepared.category_jobs, ensure_ascii=False),
            "prefix_jobs": json.dumps(prepared.prefix_jobs),  # {"title": {prefix: n}, "other": {...}}
            "index_gen": str(index_gen),  # which generation's index names the job tables carry
        }
        conn.executemany("INSERT OR REPLACE INTO content_meta (key, value) VALUES (?, ?)", meta.items())

    def _apply(self, prepared: _PreparedJobs, content: ContentSet, feed_id: str, version: int, *,
               applied_at: str | None = None, expect_applied_at: str | None = None) -> None:
        """Write a content set beside the live one, then swap it in; residents' writes keep flowing.

        Holding the write lock for the whole set (about 5 s at 100 000 jobs) made a registration or a
        print job submitted meanwhile wait that long. Instead the job tables are built as
        ``<table>_next`` in batches of a few milliseconds each, with a pause after each batch that
        is longer than SQLite's busy-wait steps (so a waiting writer always gets its turn); then one
        short durable transaction renames the new tables into place, rewrites the small tables and
        the meta; the old tables are emptied in batches and dropped. Readers see the old set until
        the swap commits, the new one after. A crash before the swap leaves ``_next`` tables that the
        next apply removes; the live set is untouched.
        """
        with self._apply_lock:  # one apply at a time in this process (the sync and a staff import)
            conn = self._conn()
            self._held = []
            self._drop_shadows(conn)
            gen = self._index_gen(conn) + 1
            try:
                with self._held_for("create tables", conn):
                    for statement in _shadow_ddl(gen):
                        conn.execute(statement)
                    # FTS5 merges segments inside the writing transaction once 4 (automerge) or 16
                    # (crisismerge) of a level exist: one batch's insert then held the lock for 150-200
                    # ms. No merging while building; _merge_text_index merges a few pages at a time.
                    for option, value in (("automerge", 0), ("crisismerge", 1999)):
                        conn.execute("INSERT INTO content_job_text_next (content_job_text_next, rank) "
                                     "VALUES (?, ?)", (option, value))
                for sql, rows in (
                    ("INSERT INTO content_py_term_next (tid, text, readings, n_title, n_other) "
                     "VALUES (?, ?, ?, ?, ?)", prepared.terms),
                    ("INSERT INTO content_py_initials_next (key, tid, pos) VALUES (?, ?, ?)", prepared.initials),
                    ("INSERT INTO content_py_full_next (key, tid, pos) VALUES (?, ?, ?)", prepared.full),
                    ("INSERT INTO content_jobs_next (n, id, title, employer, category, kind, work_date, salary_max,"
                     " monthly_max, dist_km, age_min, age_max, gender, source, published, valid_until, title_tid,"
                     " employer_tid, category_tid, title_m0, title_m1, other_m0, other_m1) VALUES"
                     " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", prepared.rows),
                    ("INSERT INTO content_job_data_next (n, data) VALUES (?, ?)", prepared.data),
                    ("INSERT INTO content_title_grams_next (gram) VALUES (?)",
                     [(g,) for g in sorted(prepared.title_grams)]),
                    ("INSERT INTO content_job_bits_next (name, bits) VALUES (?, ?)", prepared.bits),
                    ("INSERT INTO content_job_text_next (rowid, t, e, c, r, x) VALUES (?, ?, ?, ?, ?, ?)",
                     prepared.texts),
                ):
                    self._in_batches(conn, lambda chunk, sql=sql: conn.executemany(sql, chunk), rows,
                                     "insert " + sql.split()[2])
                self._merge_text_index(conn)
                records = _record_rows(content)  # serialized before the swap: a bad record fails here
                # The swap commits durably: its fsync would flush every page the batches wrote to the
                # WAL since the last checkpoint, under the lock. A checkpoint (not holding the write
                # lock) syncs them first.
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                # Renaming re-writes references in triggers and views (there are none) unless legacy.
                conn.execute("PRAGMA legacy_alter_table=ON")
                with self._held_for("swap", conn, durable=True):
                    if expect_applied_at is not None:
                        row = conn.execute("SELECT value FROM content_meta WHERE key = 'applied_at'").fetchone()
                        if (row[0] if row else "") != expect_applied_at:
                            raise StoreError("the content changed while the jobs were merged; try again")
                    for table in _SHADOWED:
                        conn.execute(f"ALTER TABLE {table} RENAME TO {table}{_OLD}")
                        conn.execute(f"ALTER TABLE {table}{_NEXT} RENAME TO {table}")
                    for table, (sql, rows) in records.items():
                        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
                        conn.executemany(sql, rows)
                    self._write_meta(conn, prepared, feed_id, version, applied_at=applied_at, index_gen=gen)
                conn.execute("PRAGMA legacy_alter_table=OFF")
            except BaseException:
                try:
                    self._drop_shadows(conn)
                except sqlite3.Error:
                    pass  # the next apply removes them
                raise
            finally:
                self.apply_transactions = sorted(self._held, key=lambda h: -h[2])
            self._drop_shadows(conn)
            self.apply_transactions = sorted(self._held, key=lambda h: -h[2])

    @contextmanager
    def _held_for(self, what: str, conn: sqlite3.Connection, *, durable: bool = False) -> Iterator[None]:
        """One write transaction of an apply, its time under the lock recorded (from the moment
        BEGIN IMMEDIATE returns to the end of COMMIT) in ``apply_transactions``."""
        with transaction(conn, durable=durable):
            started = time.monotonic()
            yield
        self._held.append((what, started, time.monotonic() - started))

    def _in_batches(self, conn: sqlite3.Connection, write: Callable[[list], Any], rows: Sequence[Any],
                    what: str = "batch") -> None:
        """Call ``write`` on slices of ``rows``, each in its own short transaction, pausing between them.

        The slice size follows the time each transaction held the lock (a busy box writes fewer rows
        per batch), between :data:`APPLY_MIN_ROWS` and ``apply_batch_rows``.
        """
        # Each table starts small: rows differ in cost (an FTS row or a row of a table with eight
        # indexes costs many times a key row), so a size learnt on one table overran on the next.
        size = self._batch_sizes.get(what, APPLY_MIN_ROWS)
        i = 0
        while i < len(rows):
            chunk = rows[i:i + size]
            started = time.perf_counter()
            with self._held_for(what, conn):
                write(list(chunk))
            held = time.perf_counter() - started
            i += len(chunk)
            if held > APPLY_BATCH_S:
                size = max(APPLY_MIN_ROWS, int(size * APPLY_BATCH_S / held * 0.8))
            elif held < APPLY_BATCH_S / 2:
                size = min(self.apply_batch_rows, size * 2)
            self._batch_sizes[what] = size
            self._maybe_pause(held)

    def _maybe_pause(self, held: float) -> None:
        """Leave the lock free once the batches since the last pause have held it APPLY_BATCH_S.

        A writer waiting since those batches began is in the busy handler's step for that
        time, so the pause is computed from their sum; tiny batches (a small feed: a village
        station's few hundred jobs) then cost no pause at all instead of one each.
        """
        self._held_since_pause += held
        if self._held_since_pause >= self.pause_every_s:
            self._apply_pause(_pause_after(self._held_since_pause))
            self._held_since_pause = 0.0

    def _merge_text_index(self, conn: sqlite3.Connection) -> None:
        """Merge the new text index's segments (one per batch) a little at a time, as one big merge
        ('optimize') would hold the lock for as long as the old single transaction did."""
        pages = APPLY_MIN_MERGE_PAGES
        while True:
            before = conn.total_changes
            started = time.perf_counter()
            with self._held_for("text index merge", conn):
                conn.execute("INSERT INTO content_job_text_next (content_job_text_next, rank) "
                             "VALUES ('merge', ?)", (pages,))
            held = time.perf_counter() - started
            # pages per step follow the time a step held the lock, as rows per batch do
            if held > APPLY_BATCH_S:
                pages = max(APPLY_MIN_MERGE_PAGES, int(pages * APPLY_BATCH_S / held * 0.8))
            elif held < APPLY_BATCH_S / 2:
                pages = min(APPLY_MERGE_PAGES, pages * 2)
            self._maybe_pause(held)
            if conn.total_changes - before < 2:  # FTS5: no more merge work to do
                return

    def _drop_shadows(self, conn: sqlite3.Connection) -> None:
        """Empty and drop ``_next`` (an unfinished apply) and ``_old`` (a replaced set) tables, in batches:
        dropping a table of 100 000 rows frees its pages in one go (0.1-0.2 s under the lock)."""
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for suffix in (_NEXT, _OLD):
            for table in _SHADOWED:
                name = table + suffix
                if name not in names:
                    continue
                if table == "content_job_text":
                    # A contentless FTS5 table: its index lives in the <name>_data shadow table. Rows 1
                    # (averages) and 10 (structure) must stay: dropping the table opens it first.
                    self._empty(conn, f"{name}_data", "rowid", "rowid > 10")
                else:
                    self._empty(conn, name, _ROW_KEYS.get(table, "rowid"))
                with self._held_for(f"drop {name}", conn):
                    conn.execute(f"DROP TABLE {name}")

    def _empty(self, conn: sqlite3.Connection, table: str, key: str, where: str = "1") -> None:
        """Delete the rows of ``table`` (those matching ``where``) in short batches."""
        while conn.execute(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1").fetchone() is not None:  # noqa: S608

            def delete(chunk: list, table: str = table, key: str = key, where: str = where) -> None:
                conn.execute(f"DELETE FROM {table} WHERE ({key}) IN "  # noqa: S608 - our own tables
                             f"(SELECT {key} FROM {table} WHERE {where} LIMIT ?)", (len(chunk),))

            self._in_batches(conn, delete, [None] * self.apply_batch_rows, f"empty {table}")

    @staticmethod
    def _index_gen(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM content_meta WHERE key = 'index_gen'").fetchone()
        return int(row[0]) if row else 0

    def _reorder_if_moved(self) -> None:
        """Renumber the jobs when the station's coordinates differ from those they were ranked for."""
        conn = self._conn()
        origin = _origin_text(self.origin)
        row = conn.execute("SELECT value FROM content_meta WHERE key = 'origin'").fetchone()
        if row is None or row[0] == origin:
            return
        with self._read() as conn:
            meta = dict(conn.execute("SELECT key, value FROM content_meta").fetchall())
            current = self._export(conn)
        if meta.get("origin") == origin:
            return  # another process did it meanwhile
        prepared = _prepare_jobs(current.jobs, self.origin)
        self._apply(prepared, current, meta.get("feed_id", "local"), int(meta.get("version", 0)),
                    applied_at=meta.get("applied_at"))

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
    def _all(conn: sqlite3.Connection, table: str, cls: type) -> list:
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
        db = sqlite_utils.Database(self._conn())
        return {name: db[name].count for name in db.table_names()
                if not name.startswith("sqlite_") and db[name].virtual_table_using is None}

    # -- jobs ----------------------------------------------------------------------------------

    def search_jobs(self, query: str = "", *, radius_km: Radius = DEFAULT_RADIUS, category: str | None = None,
                    kind: str | None = None, when: Literal["today", "week"] | None = None,
                    min_salary: int | None = None, age: int | None = None, gender: str | None = None,
                    source: str | None = None, today: dt.date | None = None, limit: int = 50,
                    offset: int = 0) -> list[JobHit]:
        """Open jobs matching ``query`` and the filters, best first.

        Title matches come before matches in other fields; within each, nearer jobs first, then newer.
        ``radius_km`` omitted = the station's radius, ``None`` = any distance. ``when`` keeps gigs whose
        work date is today, or within the 7 days from today ("week"). ``min_salary`` is monthly
        (day and hour rates are converted; piece rates do not qualify). ``age``/``gender`` keep the jobs
        such a person may take (age limits inclusive).
        """
        filters = _Filters(radius_km, category, kind, when, min_salary, age, gender, source, today)
        if limit <= 0 or offset < 0:
            return []
        with self._read() as conn:
            plan = self._plan(conn, query, filters)
            letter = self._letter_bits(conn, plan, filters)
            if letter is not None:
                rows = self._bit_rows(conn, letter, offset + limit)[offset:offset + limit]
            else:
                rows = plan.fetch(conn, offset + limit)[offset:offset + limit]
            return self._hits(conn, rows, plan.query)

    def count_jobs(self, query: str = "", *, radius_km: Radius = DEFAULT_RADIUS, category: str | None = None,
                   kind: str | None = None, when: Literal["today", "week"] | None = None,
                   min_salary: int | None = None, age: int | None = None, gender: str | None = None,
                   source: str | None = None, today: dt.date | None = None) -> int:
        """How many jobs :meth:`search_jobs` would find with the same arguments (for "N 个岗位")."""
        filters = _Filters(radius_km, category, kind, when, min_salary, age, gender, source, today)
        with self._read() as conn:
            plan = self._plan(conn, query, filters)
            letter = self._letter_bits(conn, plan, filters)
            if letter is not None:
                return (letter[0] | letter[1]).bit_count()
            return plan.count(conn)

    def jobs_for_person(self, age: int, gender: str, *, category: str | None = None,
                        radius_km: Radius = DEFAULT_RADIUS, today: dt.date | None = None,
                        limit: int = 50) -> list[JobHit]:
        """Open jobs a person of ``age`` and ``gender`` (from the ID card) may take, best first."""
        return self.search_jobs("", radius_km=radius_km, category=category, age=age, gender=gender,
                                today=today, limit=limit)

    def get_job(self, job_id: str) -> Job | None:
        row = self._conn().execute(
            "SELECT d.data FROM content_jobs j JOIN content_job_data d ON d.n = j.n WHERE j.id = ?",
            (job_id,)).fetchone()
        return _load_job(row[0]) if row else None

    def job_distance_km(self, job: Job) -> float:
        """How far ``job`` is from this station."""
        return distance_km(self.origin[0], self.origin[1], job.latitude, job.longitude)

    def category_counts(self, today: dt.date | None = None, *, radius_km: Radius = DEFAULT_RADIUS
                        ) -> dict[str, int]:
        """Open jobs per category (every category listed, zeros included), within the station's radius
        unless ``radius_km`` says otherwise (``None`` = any distance): the counts on the home tiles."""
        with self._read() as conn:
            plan = self._plan(conn, "", _Filters(radius_km=radius_km, today=today))
            found = dict(conn.execute(
                f"SELECT j.category, count(*) FROM content_jobs j WHERE {plan.where_sql} GROUP BY j.category",
                plan.where_params).fetchall())
        return {cat: found.get(cat, 0) for cat in JOB_CATEGORIES}

    def featured_jobs(self, limit: int = 10, today: dt.date | None = None) -> list[JobHit]:
        """Jobs for the attract loop: the newest open jobs within the station's radius, then farther ones."""
        with self._read() as conn:
            plan = self._plan(conn, "", _Filters(today=today))
            near_limit = plan.max_n if plan.max_n is not None else -1
            rows = conn.execute(
                f"SELECT j.n, j.dist_km, '' FROM content_jobs j WHERE {_open_sql()} "
                "ORDER BY (j.n > ?), j.published DESC, j.n LIMIT ?",
                (*_open_params(plan.today), near_limit, limit)).fetchall()
            return self._hits(conn, [tuple(r) for r in rows], "")

    def _hits(self, conn: sqlite3.Connection, rows: list[tuple[int, float, str | None]], query: str
              ) -> list[JobHit]:
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        data = dict(conn.execute(f"SELECT n, data FROM content_job_data WHERE n IN ({marks})",
                                 [r[0] for r in rows]).fetchall())
        hits = []
        for n, dist, matched in rows:
            job = _load_job(data[n])
            hits.append(JobHit(job, dist, matched if matched is not None else _matched_field(job, query)))
        return hits

    # -- one-letter queries, by bitsets -----------------------------------------------------------

    def _letter_bits(self, conn: sqlite3.Connection, plan: _Plan, f: _Filters) -> tuple[int, int] | None:
        """For a one-letter pinyin query with at most a radius and a category: the jobs it finds by
        title, and (apart) by employer or category only, as bitsets; None to leave it to SQL.

        A single letter matches most jobs, so walking the rows to count them cost tens of ms at
        100 000 jobs. Its job sets were written as bitsets when the content was applied; here they
        are intersected with the jobs open today, within the radius and of the category.
        """
        if len(plan.query) != 1 or not textsearch.is_pinyin_query(plan.query):
            return None
        if f.kind or f.when or f.min_salary is not None or f.age is not None or f.source \
                or f.gender not in (None, "", "不限"):
            return None
        every = self._bitset(conn, plan.generation, "all")
        if every is None:
            return None  # content applied by an older version: no bitsets stored
        keep = self._open_bits(conn, plan.generation, plan.today, every)
        if plan.max_n is not None:
            keep &= (1 << (plan.max_n + 1)) - 1
        if plan.category:
            keep &= self._bitset(conn, plan.generation, f"category:{plan.category}") or 0
        title = (self._bitset(conn, plan.generation, f"title:{plan.query}") or 0) & keep
        other = (self._bitset(conn, plan.generation, f"other:{plan.query}") or 0) & keep & ~title
        return title, other

    def _bitset(self, conn: sqlite3.Connection, generation: str, name: str) -> int | None:
        """A stored job bitset of the content set ``generation`` (kept in memory until the next apply)."""
        if generation != self._bits_generation:
            self._bits, self._bits_generation = {}, generation
        if name not in self._bits:
            row = conn.execute("SELECT bits FROM content_job_bits WHERE name = ?", (name,)).fetchone()
            self._bits[name] = int.from_bytes(row[0], "little") if row else None
        return self._bits[name]

    def _open_bits(self, conn: sqlite3.Connection, generation: str, today: dt.date, every: int) -> int:
        """The jobs open on ``today``: computed once per day and content set (one pass over the closed)."""
        key = ("open", today)
        found = self._bits.get(key) if generation == self._bits_generation else None
        if found is None:
            closed = bytearray((every.bit_length() + 7) // 8 or 1)
            for (n,) in conn.execute("SELECT n FROM content_jobs WHERE NOT (" + _open_sql().replace("j.", "")
                                     + ")", _open_params(today)):
                closed[n >> 3] |= 1 << (n & 7)
            found = every & ~int.from_bytes(closed, "little")
            self._bits[key] = found
        return found

    @staticmethod
    def _bit_rows(conn: sqlite3.Connection, letter: tuple[int, int], n: int) -> list[tuple[int, float, str | None]]:
        """The first ``n`` jobs of a one-letter query, title matches first, in ranking order."""
        picked: list[tuple[int, str | None]] = []
        for bits, label in ((letter[0], "title"), (letter[1], None)):
            while bits and len(picked) < n:
                low = bits & -bits
                picked.append((low.bit_length() - 1, label))
                bits ^= low
        if not picked:
            return []
        marks = ",".join("?" * len(picked))
        dist = dict(conn.execute(f"SELECT n, dist_km FROM content_jobs WHERE n IN ({marks})",  # noqa: S608
                                 [p[0] for p in picked]).fetchall())
        return [(job, dist[job], label) for job, label in picked]

    def _plan(self, conn: sqlite3.Connection, query: str, f: _Filters) -> _Plan:
        today = f.today or dt.date.today()
        radius = self._radius(f.radius_km)
        meta = dict(conn.execute(
            "SELECT key, value FROM content_meta WHERE key IN ('job_count', 'category_jobs', 'prefix_jobs',"
            " 'index_gen', 'applied_at')").fetchall())
        gen = int(meta.get("index_gen", 0))
        total = int(meta.get("job_count", 0))
        where = [_open_sql()]
        params: list[Any] = list(_open_params(today))
        max_n = None
        scope = total
        if radius is not None:
            # n follows the distance, so the last job within the radius (one index seek) bounds them all
            row = conn.execute(
                f"SELECT n FROM content_jobs INDEXED BY {_index_name('content_jobs_dist', gen)} WHERE dist_km <= ? "
                "ORDER BY dist_km DESC, n DESC LIMIT 1", (radius + RADIUS_SLACK_KM,)).fetchone()
            max_n = scope = row[0] if row and row[0] is not None else 0
            where.append("j.n <= ?")
            params.append(max_n)
        # rough share of jobs each filter keeps, to choose between walking in order and index lookups
        keep = 1.0
        if f.category:
            where.append("j.category = ?")
            params.append(f.category)
            per_category = _json_meta(meta.get("category_jobs", "{}"))
            keep *= per_category.get(f.category, 0) / max(1, total)
        if f.kind:
            where.append("j.kind = ?")
            params.append(f.kind)
            keep *= 0.4
        if f.when == "today":
            where.append("j.work_date = ?")
            params.append(today.isoformat())
            keep *= 0.05
        elif f.when == "week":
            where.append("j.work_date BETWEEN ? AND ?")
            params.extend([today.isoformat(), (today + dt.timedelta(days=6)).isoformat()])
            keep *= 0.2
        elif f.when is not None:
            raise StoreError(f"when must be 'today' or 'week', not {f.when!r}")
        if f.min_salary is not None:
            where.append("j.monthly_max >= ?")
            params.append(f.min_salary)
            keep *= 0.5
        if f.age is not None:
            where.append("(j.age_min IS NULL OR j.age_min <= ?) AND (j.age_max IS NULL OR j.age_max >= ?)")
            params.extend([f.age, f.age])
            keep *= 0.7
        if f.gender in ("男", "女"):
            where.append("j.gender IN ('不限', ?)")
            params.append(f.gender)
            keep *= 0.8
        elif f.gender not in (None, "", "不限"):
            raise StoreError(f"gender must be 男 or 女, not {f.gender!r}")
        if f.source:
            where.append("j.source = ?")
            params.append(f.source)
            keep *= 0.8 if f.source == "企业" else 0.1
        return _Plan(textsearch.normalize_query(query), textsearch.without_spaces(query), " AND ".join(where),
                     params, max_n, today,
                     f.category, total=total, scope=scope, keep=keep,
                     prefix_jobs=_json_meta(meta.get("prefix_jobs", "{}")), index_gen=gen,
                     generation=f"{gen}/{meta.get('applied_at', '')}")

    def _radius(self, radius_km: Radius) -> float | None:
        if isinstance(radius_km, _Default) or radius_km == "default":
            return self.default_radius_km
        if radius_km is None or radius_km in ("all", "全部"):
            return None
        try:
            value = float(radius_km)
        except (TypeError, ValueError):
            raise StoreError(f"radius must be a number of km, 'all' or omitted, not {radius_km!r}") from None
        if not value >= 0:
            raise StoreError(f"radius must be 0 km or more, not {radius_km!r}")
        return value

    # -- other content -------------------------------------------------------------------------

    def policies(self, category: str | None = None, today: dt.date | None = None) -> list[Policy]:
        """Policies in force on ``today`` (all of a ``category`` if given), in feed order."""
        today = today or dt.date.today()
        sql = "SELECT data FROM content_policies"
        params: tuple = ()
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


# ---------------------------------------------------------------------------------------------
# query plans


_MATCH = "temp.content_py_match"


def _open_sql() -> str:
    return "j.published <= ? AND j.valid_until >= ?"


def _open_params(today: dt.date) -> tuple[str, str]:
    return today.isoformat(), today.isoformat()


@dataclass
class _Filters:
    """The filters of a job search, as the caller gave them."""

    radius_km: Radius = DEFAULT_RADIUS
    category: str | None = None
    kind: str | None = None
    when: str | None = None
    min_salary: int | None = None
    age: int | None = None
    gender: str | None = None
    source: str | None = None
    today: dt.date | None = None


@dataclass
class _Plan:
    """A search's normalized query and SQL filter, and how to run it."""

    query: str
    typed: str  # the query as typed (less spaces), for the LIKE scan
    where_sql: str
    where_params: list[Any]
    max_n: int | None
    today: dt.date
    category: str | None = None
    total: int = 0  # jobs stored
    scope: int = 0  # jobs within the radius
    keep: float = 1.0  # rough share of those the other filters keep
    prefix_jobs: dict[str, dict[str, int]] = field(default_factory=dict)
    index_gen: int = 0  # the generation of the job tables' index names
    generation: str = ""  # which content set: changes with every apply
    _pinyin: _PinyinMatch | None = None

    @property
    def mode(self) -> str:
        if not self.query:
            return "all"
        if textsearch.is_pinyin_query(self.query):
            return "pinyin"
        if textsearch.text_match(self.query) is not None:
            return "text"
        return "like"

    # Each fetch returns rows (n, dist_km, matched_field or None) in ranking order.

    def fetch(self, conn: sqlite3.Connection, n: int) -> list[tuple[int, float, str | None]]:
        mode = self.mode
        if mode == "all":
            rows = conn.execute(
                f"SELECT j.n, j.dist_km, '' FROM {self._walk_source()} WHERE {self.where_sql} ORDER BY j.n LIMIT ?",
                (*self.where_params, n)).fetchall()
        elif mode == "text":
            phrase = textsearch.text_match(self.query)
            rows = self._fts(conn, f"{{t}} : {phrase}", n) if self._in_some_title(conn) else []
            if len(rows) < n:
                rows += self._fts(conn, f"{{e c r}} : {phrase} NOT {{t}} : {phrase}", n - len(rows))
        elif mode == "pinyin":
            pm = self._pinyin_match(conn)
            if not pm.found:
                return []
            rows = self._pinyin_rows(conn, pm, title=True, n=n)
            if len(rows) < n:
                rows += self._pinyin_rows(conn, pm, title=False, n=n - len(rows))
        else:
            rows = self._like(conn, n)
        return [tuple(r) for r in rows]

    def count(self, conn: sqlite3.Connection) -> int:
        mode = self.mode
        if mode == "all":
            sql, params = f"SELECT count(*) FROM content_jobs j WHERE {self.where_sql}", self.where_params
        elif mode == "text":
            sql, params = self._fts_sql(f"{{t e c r}} : {textsearch.text_match(self.query)}", "count(*)")
        elif mode == "pinyin":
            pm = self._pinyin_match(conn)
            if not pm.found:
                return 0
            walk = pm.mask is not None or pm.title_candidates + pm.other_candidates > self.scope // 4
            cond, params = pm.condition(("title", "employer", "category"), walk=walk)
            source = self._walk_source() if walk else "content_jobs j"
            sql = f"SELECT count(*) FROM {source} WHERE {cond} AND {self.where_sql}"
            params = [*params, *self.where_params]
        else:
            like = "%" + _escape_like(self.typed) + "%"
            sql = (f"SELECT count(*) FROM content_jobs j JOIN content_job_data d ON d.n = j.n "
                   f"WHERE {self.where_sql} AND (j.title LIKE ? ESCAPE '\\' OR j.employer LIKE ? ESCAPE '\\' "
                   "OR j.category LIKE ? ESCAPE '\\' OR json_extract(d.data, '$.requirements') LIKE ? ESCAPE '\\')")
            params = [*self.where_params, like, like, like, like]
        return conn.execute(sql, params).fetchone()[0]

    def _walk_source(self) -> str:
        """Jobs in ranking order: a category's own index is in that order too, and far shorter."""
        if self.category:
            return f"content_jobs j INDEXED BY {_index_name('content_jobs_category', self.index_gen)}"
        return "content_jobs j NOT INDEXED"

    # text (FTS5) -------------------------------------------------------------------------------

    def _in_some_title(self, conn: sqlite3.Connection) -> bool:
        """Whether every token of the query occurs in some title (if not, no title can match)."""
        tokens = set(textsearch.query_tokens(self.query))
        marks = ",".join("?" * len(tokens))
        found = conn.execute(f"SELECT count(*) FROM content_title_grams WHERE gram IN ({marks})",
                             list(tokens)).fetchone()[0]
        return found == len(tokens)

    def _fts_sql(self, match: str, columns: str) -> tuple[str, list[Any]]:
        if self.category:
            match = f"({match}) AND {{x}} : {_category_token(self.category)}"
        # CROSS JOIN keeps FTS5 as the outer loop: it yields rowids (= ranking order) ascending,
        # and the radius is a rowid bound it applies itself.
        sql = (f"SELECT {columns} FROM content_job_text f CROSS JOIN content_jobs j ON j.n = f.rowid "
               f"WHERE content_job_text MATCH ? AND {self.where_sql}")
        params: list[Any] = [match, *self.where_params]
        if self.max_n is not None:
            sql += " AND f.rowid <= ?"
            params.append(self.max_n)
        return sql, params

    def _fts(self, conn: sqlite3.Connection, match: str, n: int) -> list[sqlite3.Row]:
        sql, params = self._fts_sql(match, "j.n, j.dist_km, NULL")
        return conn.execute(sql + " ORDER BY f.rowid LIMIT ?", (*params, n)).fetchall()

    def _like(self, conn: sqlite3.Connection, n: int) -> list[sqlite3.Row]:
        like = "%" + _escape_like(self.typed) + "%"
        rows = conn.execute(
            f"SELECT j.n, j.dist_km, 'title' FROM content_jobs j WHERE {self.where_sql} "
            "AND j.title LIKE ? ESCAPE '\\' ORDER BY j.n LIMIT ?", (*self.where_params, like, n)).fetchall()
        if len(rows) < n:
            rows += conn.execute(
                f"SELECT j.n, j.dist_km, NULL FROM content_jobs j JOIN content_job_data d ON d.n = j.n "
                f"WHERE {self.where_sql} AND j.title NOT LIKE ? ESCAPE '\\' AND (j.employer LIKE ? ESCAPE '\\' "
                "OR j.category LIKE ? ESCAPE '\\' OR json_extract(d.data, '$.requirements') LIKE ? ESCAPE '\\') "
                "ORDER BY j.n LIMIT ?", (*self.where_params, like, like, like, like, n - len(rows))).fetchall()
        return rows

    # pinyin ------------------------------------------------------------------------------------

    def _pinyin_match(self, conn: sqlite3.Connection) -> _PinyinMatch:
        if self._pinyin is None:
            # A one- or two-letter prefix of a common syllable matches most texts: its bit in the job
            # row answers it; rarer prefixes are looked up like any other query.
            in_title = self.prefix_jobs.get("title", {}).get(self.query, 0)
            in_other = self.prefix_jobs.get("other", {}).get(self.query, 0)
            mask = self.query if in_title + in_other >= _MASK_MIN_JOBS else None
            match_terms(conn, self.query, single=mask is None)
            found, title, other = conn.execute(
                f"SELECT count(*), coalesce(sum(t.n_title), 0), coalesce(sum(t.n_other), 0) FROM {_MATCH} m "
                "JOIN content_py_term t ON t.tid = m.tid").fetchone()
            if mask is not None:
                title, other = title + in_title, other + in_other
            self._pinyin = _PinyinMatch(self.query, mask, found > 0 or mask is not None, title, other,
                                        self.index_gen)
        return self._pinyin

    def _walk_is_cheaper(self, pm: _PinyinMatch, candidates: int, n: int) -> bool:
        """Walk the jobs in ranking order (stopping at ``n`` hits) rather than look each candidate up?"""
        if pm.mask is not None:
            return True
        share = candidates / max(1, self.total) * self.keep
        walked = min(self.scope, n / share) if share > 0 else self.scope
        if self.category:
            walked = min(walked, self.keep * self.total)  # walking the category's index only
        return walked < 4 * candidates

    def _pinyin_rows(self, conn: sqlite3.Connection, pm: _PinyinMatch, *, title: bool, n: int
                     ) -> list[sqlite3.Row]:
        candidates = pm.title_candidates if title else pm.other_candidates
        if candidates == 0:
            return []
        walk = self._walk_is_cheaper(pm, candidates, n)
        if title:
            cond, params = pm.condition(("title",), walk=walk)
            label = "'title'"
        else:
            cond, params = pm.condition(("employer", "category"), walk=walk)
            not_title, more = pm.condition(("title",), walk=True)
            cond = f"{cond} AND NOT {not_title}"
            params += more
            label = f"CASE WHEN j.employer_tid IN {_MATCH} THEN 'employer' WHEN j.category_tid IN {_MATCH} " \
                    "THEN 'category' END"
        source = self._walk_source() if walk else "content_jobs j"
        return conn.execute(
            f"SELECT j.n, j.dist_km, {label} FROM {source} WHERE {cond} AND {self.where_sql} "
            "ORDER BY j.n LIMIT ?", (*params, *self.where_params, n)).fetchall()


_MASK_MIN_JOBS = 2000  # a prefix found in at least this many jobs is answered by its bit


@dataclass
class _PinyinMatch:
    """What a pinyin query matched: texts in the connection's match table, and maybe a prefix bit."""

    query: str
    mask: str | None
    found: bool
    title_candidates: int  # jobs whose title matched (estimate: by text and by prefix bit)
    other_candidates: int  # jobs whose employer or category matched (likewise)
    index_gen: int = 0

    def condition(self, fields: tuple[str, ...], *, walk: bool) -> tuple[str, list[Any]]:
        """SQL (on ``j``) true for a job whose ``fields`` match; by index lookups unless ``walk``."""
        params: list[Any] = []
        if walk:
            parts = [f"j.{f}_tid IN {_MATCH}" for f in fields]
        else:
            union = " UNION ".join(f"SELECT n FROM content_jobs INDEXED BY "
                                   f"{_index_name(f'content_jobs_{f}_tid', self.index_gen)} "
                                   f"WHERE {f}_tid IN {_MATCH}" for f in fields)
            parts = [f"j.n IN ({union})"]
        if self.mask is not None:
            # first: a job with the bit needs no look-up in the match table
            col, bit = textsearch.mask_slot(self.mask) or (0, 0)
            masks = sorted({f"j.title_m{col}" if f == "title" else f"j.other_m{col}" for f in fields})
            parts[:0] = [f"{m} & ?" for m in masks]
            params.extend([bit] * len(masks))
        return "(" + " OR ".join(parts) + ")", params


def match_terms(conn: sqlite3.Connection, query: str, *, single: bool = True) -> None:
    """Fill ``temp.content_py_match`` with the ids of the stored titles/employers/categories that
    ``query`` (lower-case letters) can be typed for: as initials (bj), as whole syllables with the
    last one cut short (baoj, xi'an), or mixed (bjie). With ``single`` False, readings of the whole
    query as one syllable prefix are left out (the caller answers those with the prefix bit)."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS content_py_match (tid INTEGER PRIMARY KEY)")
    conn.execute(f"DELETE FROM {_MATCH}")
    segs = textsearch.segmentations(query)
    # Mixed readings (bjie: an initial, then a syllable) only when the query does not read as whole
    # syllables: "zhang" is 张/长, not z+hang, as a pinyin keyboard would take it.
    allow_mixed = not any(seg.all_full for seg in segs)
    mixed = 0
    fetched: dict[tuple[str, str, str], list] = {}  # candidate rows, shared by the readings of the query
    for seg in segs:
        if len(seg.parts) == 1 and not single:
            continue
        if seg.all_initials:
            lookup = textsearch.key_lookup(seg.initials, textsearch.KEY_CHARS)
            _lookup(conn, "content_py_initials", lookup, seg.matches_at, fetched)
        elif seg.all_full:
            lookup = textsearch.key_lookup(seg.full_key, textsearch.FULL_LETTERS, textsearch.SYLLABLE_SEP)
            _lookup(conn, "content_py_full", lookup, seg.matches_at, fetched)
        elif allow_mixed and mixed < _MIXED_LIMIT:
            mixed += 1
            lookup = textsearch.key_lookup(seg.initials, textsearch.KEY_CHARS)
            _lookup(conn, "content_py_initials", lookup, seg.matches_at, fetched, always_check=True)


_MIXED_LIMIT = 16  # mixed readings (initials and syllables) looked up per query


def _lookup(conn: sqlite3.Connection, table: str, lookup: textsearch.KeyLookup,
            check: Callable[[list[tuple[str, ...]], int], bool], fetched: dict[tuple[str, str, str], list], *,
            always_check: bool = False) -> None:
    """Add the texts found through one key index; candidates the key cannot decide are checked."""
    rows: list = []
    if lookup.exact and not always_check:
        conn.execute(f"INSERT OR IGNORE INTO {_MATCH} (tid) SELECT DISTINCT tid FROM {table} "
                     "WHERE key >= ? AND key < ?", (lookup.lo, lookup.hi))
    else:
        rows += _candidates(conn, fetched, table, "range", lookup.lo)
    for key in lookup.cut:
        rows += _candidates(conn, fetched, table, "key", key)
    found = {(tid,) for tid, pos, encoded in rows if check(_decoded(encoded), pos)}
    if found:
        conn.executemany(f"INSERT OR IGNORE INTO {_MATCH} (tid) VALUES (?)", found)


def _candidates(conn: sqlite3.Connection, fetched: dict[tuple[str, str, str], list], table: str, how: str,
                key: str) -> list:
    """(tid, pos, readings) rows for keys starting with ``key`` ("range") or equal to it ("key")."""
    rows = fetched.get((table, how, key))
    if rows is None:
        cond = "k.key >= ? AND k.key < ?" if how == "range" else "k.key = ?"
        params = (key, key + "\x7f") if how == "range" else (key,)
        rows = fetched[(table, how, key)] = conn.execute(
            f"SELECT k.tid, k.pos, t.readings FROM {table} k JOIN content_py_term t ON t.tid = k.tid "
            f"WHERE {cond}", params).fetchall()
    return rows


@lru_cache(maxsize=65536)
def _decoded(encoded: str) -> list[tuple[str, ...]]:
    return textsearch.decode_readings(encoded)


def _category_token(category: str) -> str:
    """The FTS token standing for a category in column x (a code: categories are a fixed list)."""
    try:
        return f"cat{JOB_CATEGORIES.index(category)}"
    except ValueError:
        return "catnone"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------------------------------------
# preparing a content set


@dataclass
class _PreparedJobs:
    rows: list[tuple] = field(default_factory=list)
    data: list[tuple] = field(default_factory=list)
    texts: list[tuple] = field(default_factory=list)
    terms: list[tuple] = field(default_factory=list)
    initials: list[tuple] = field(default_factory=list)
    full: list[tuple] = field(default_factory=list)
    category_jobs: dict[str, int] = field(default_factory=dict)
    title_grams: set[str] = field(default_factory=set)
    prefix_jobs: dict[str, dict[str, int]] = field(
        default_factory=lambda: {"title": {}, "other": {}})  # jobs with each mask prefix, by field
    bits: list[tuple[str, bytes]] = field(default_factory=list)  # rows of content_job_bits


def _prepare_jobs(jobs: Iterable[Job], origin: tuple[float, float]) -> _PreparedJobs:
    """Rows for the job tables, in ranking order (nearest first, then newest, then by id)."""
    placed = []
    for job in jobs:
        if not isinstance(job, Job):
            raise StoreError(f"not a Job record: {type(job).__name__}")
        placed.append((distance_km(origin[0], origin[1], job.latitude, job.longitude), job))
    placed.sort(key=lambda p: (p[0], -p[1].published.toordinal(), p[1].id))
    out = _PreparedJobs()
    term_ids: dict[str, int] = {}
    term_masks: dict[int, tuple[int, int]] = {}
    term_jobs: dict[int, list[int]] = {}  # tid -> [jobs with it as title, as employer or category]
    index_cache: dict[str, str] = {}
    titles_seen: set[str] = set()
    mask_counts: dict[tuple[str, tuple[int, int]], int] = {}

    def tid_of(text: str) -> int:
        tid = term_ids.get(text)
        if tid is None:
            tid = term_ids[text] = len(term_ids) + 1
            readings = textsearch.term_readings(text)
            term_masks[tid] = textsearch.prefix_masks(readings)
            out.terms.append((tid, text, textsearch.encode_readings(readings)))
            out.initials.extend({(key, tid, pos) for key, pos in textsearch.initial_keys(readings)})
            out.full.extend({(key, tid, pos) for key, pos in textsearch.full_keys(readings)})
        return tid

    def indexed(text: str) -> str:
        # titles, employers and categories repeat across jobs: tokenize each distinct text once
        found = index_cache.get(text)
        if found is None:
            found = index_cache[text] = textsearch.index_text(text)
        return found

    for n, (dist, job) in enumerate(placed, start=1):
        tids = (tid_of(job.title), tid_of(job.employer), tid_of(job.category))
        out.category_jobs[job.category] = out.category_jobs.get(job.category, 0) + 1
        term_jobs.setdefault(tids[0], [0, 0])[0] += 1
        for tid in {tids[1], tids[2]}:
            term_jobs.setdefault(tid, [0, 0])[1] += 1
        factor = MONTHLY_FACTOR.get(job.salary_unit)
        other_masks = (term_masks[tids[1]][0] | term_masks[tids[2]][0],
                       term_masks[tids[1]][1] | term_masks[tids[2]][1])
        out.rows.append((
            n, job.id, job.title, job.employer, job.category, job.kind,
            job.work_date.isoformat() if job.work_date else None, job.salary_max,
            job.salary_max * factor if factor is not None else None, dist, job.age_min, job.age_max,
            job.gender, job.source, job.published.isoformat(), job.valid_until.isoformat(), *tids,
            *term_masks[tids[0]], *other_masks,
        ))
        for key in (("title", term_masks[tids[0]]), ("other", other_masks)):
            mask_counts[key] = mask_counts.get(key, 0) + 1
        out.data.append((n, job.model_dump_json()))
        if job.title not in titles_seen:  # (its tokens may be cached already as an employer or category)
            titles_seen.add(job.title)
            out.title_grams.update(indexed(job.title).split())
        out.texts.append((n, indexed(job.title), indexed(job.employer), indexed(job.category),
                          textsearch.index_text(job.requirements), _category_token(job.category)))
    out.terms = [(tid, text, readings, *term_jobs.get(tid, (0, 0))) for tid, text, readings in out.terms]
    # In key order, rows are appended to the indexes' B-trees; in text order each batch touched pages
    # all over them, more than the page cache holds, and one batch once held the lock 160 ms.
    out.initials.sort()
    out.full.sort()
    out.bits = _job_bits(out.rows)
    for (where, masks), count in mask_counts.items():
        counts = out.prefix_jobs[where]
        for prefix in _mask_prefixes(masks):
            counts[prefix] = counts.get(prefix, 0) + count
    return out


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# columns of a content_jobs row (see _prepare_jobs): category, title_m0, other_m0
_ROW_CATEGORY, _ROW_TITLE_M0, _ROW_OTHER_M0 = 4, 19, 21


def _job_bits(rows: list[tuple]) -> list[tuple[str, bytes]]:
    """The rows of ``content_job_bits`` for the job rows of a content set (bit n = job n, little-endian)."""
    size = (len(rows) + 1 + 7) // 8  # bit 0 unused: jobs are numbered from 1
    sets: dict[str, bytearray] = {}
    # one-letter prefixes are the first 26 mask bits of column 0 (textsearch.MASK_PREFIXES)
    letter_bits = [(letter, textsearch.mask_slot(letter)[1]) for letter in _LETTERS]  # type: ignore[index]
    by_mask: dict[tuple[str, int], list[int]] = {}
    for row in rows:
        n = row[0]
        for where, col in (("title", _ROW_TITLE_M0), ("other", _ROW_OTHER_M0)):
            by_mask.setdefault((where, row[col] & 0x3FFFFFF), []).append(n)
        by_mask.setdefault(("category", row[_ROW_CATEGORY]), []).append(n)  # type: ignore[arg-type]
    for (where, value), jobs in by_mask.items():
        names = [f"category:{value}"] if where == "category" else \
            [f"{where}:{letter}" for letter, bit in letter_bits if value & bit]  # type: ignore[operator]
        for name in names:
            bits = sets.get(name)
            if bits is None:
                bits = sets[name] = bytearray(size)
            for n in jobs:
                bits[n >> 3] |= 1 << (n & 7)
    every = sets["all"] = bytearray(size)
    for row in rows:
        every[row[0] >> 3] |= 1 << (row[0] & 7)
    return sorted((name, bytes(bits)) for name, bits in sets.items())


def _date_fields(model: type) -> tuple[str, ...]:
    return tuple(name for name, info in model.model_fields.items()
                 if info.annotation is dt.date or dt.date in typing.get_args(info.annotation))


_JOB_DATES = _date_fields(Job)


@lru_cache(maxsize=4096)
def _load_job(data: str) -> Job:
    """A stored job, rebuilt without validating again: it was validated (and its text cleaned) on the way
    in, and validating 50 jobs again would cost more than finding them.

    Building the 50 jobs of a page was most of a pinyin search's time; a resident typing key by key
    and paging sees the same jobs again and again, and records are frozen, so the job for the same
    stored text is kept (keyed by the text itself: a changed job is a new entry).
    """
    values = json.loads(data)
    for name in _JOB_DATES:
        if values.get(name) is not None:
            values[name] = dt.date.fromisoformat(values[name])
    return Job.model_construct(**values)


def _matched_field(job: Job, query: str) -> str:
    """Which field a query was found in (for labels; title first, as ranked)."""
    if not query:
        return ""
    if textsearch.is_pinyin_query(query):
        # only reached for a job found by its prefix bit in the employer or the category
        for name in ("employer", "category"):
            if any(r.startswith(query) for options in textsearch.term_readings(getattr(job, name)) for r in options):
                return name
        return "employer"
    for name in ("title", "employer", "category", "requirements"):
        if query in textsearch.normalize_query(getattr(job, name)):
            return name
    return ""


def _mask_prefixes(masks: tuple[int, int]) -> list[str]:
    found = []
    for prefix in textsearch.MASK_PREFIXES:
        col, bit = textsearch.mask_slot(prefix) or (0, 0)
        if masks[col] & bit:
            found.append(prefix)
    return found


def _check_unique_ids(content: ContentSet) -> None:
    for name in ("jobs", "policies", "events", "courses", "announcements"):
        seen: set[str] = set()
        for record in getattr(content, name):
            if record.id in seen:
                raise StoreError(f"{name}: id {record.id!r} appears twice; nothing was changed")
            seen.add(record.id)


@lru_cache(maxsize=16)
def _json_meta(text: str) -> Any:
    """A JSON value of content_meta, parsed once per content set (every search reads them). Callers
    only read it."""
    return json.loads(text)


def _origin_text(origin: tuple[float, float]) -> str:
    return f"{origin[0]:.7f},{origin[1]:.7f}"


def _now_like(now: dt.datetime | None, ref: dt.datetime) -> dt.datetime:
    """``now`` (default: the current time) made comparable with ``ref`` (both naive or both aware)."""
    if now is None:
        now = dt.datetime.now(dt.UTC).astimezone()
    if ref.tzinfo is None and now.tzinfo is not None:
        return now.astimezone().replace(tzinfo=None)
    if ref.tzinfo is not None and now.tzinfo is None:
        return now.astimezone()
    return now
