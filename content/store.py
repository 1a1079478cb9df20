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

This module holds the :class:`Store` (connections, applying a content set, reads); the tables and
their migrations are in :mod:`content.store_schema`, the rows an apply writes in
:mod:`content.store_records`, and how a search becomes SQL in :mod:`content.search_plan`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

from common.geo import distance_km
from content import search as textsearch
from content import store_schema
from content.db import Database, TableOwner, connect, transaction
from content.search_plan import (
    DEFAULT_RADIUS,
    JOB_SETS_VERSION,
    Radius,
    _Default,
    _Filters,
    _Found,
    _JobSets,
    _open_params,
    _open_sql,
    _Plan,
    first_bits,
    matched_terms,
)
from content.store_records import (
    _check_unique_ids,
    _load_job,
    _matched_field,
    _prepare_jobs,
    _PreparedJobs,
    _record_rows,
)
from content.store_schema import (
    _NEXT,
    _OLD,
    _RECORD_TABLES,
    _ROW_KEYS,
    _SHADOWED,
    SCHEMA_VERSION,  # noqa: F401 - part of this module's API (tests, upgrade checks)
    StoreError,
    _index_name,
    _shadow_ddl,
    migrate,
)
from protocol.model import (
    JOB_CATEGORIES,
    Announcement,
    ContentSet,
    Course,
    Event,
    Job,
    Policy,
)

# Jobs kept built between searches, per content set (see Store._hits): a few pages' worth of many searches.
_SHOWN_JOBS = 4096
# Exactly-on-the-circle jobs count as inside: float rounding must not drop a job at 3.000 km.
RADIUS_SLACK_KM = 1e-9


class JobHit(NamedTuple):
    """A job found by a search, its distance from the station and the field the query matched.

    A named tuple: immutable, and a page of 50 is built in a third of a frozen dataclass's time.
    """

    job: Job
    distance_km: float
    matched_field: str = ""


class _ReadTransaction:
    """``with`` it: one read transaction on ``conn`` (a class, not a generator: a search is short
    enough that the generator's cost showed)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN")
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("COMMIT")


@dataclass
class _ContentMeta:
    """The content set's meta that searches read (see Store._content_meta)."""

    index_gen: int
    total: int
    generation: str
    category_jobs: dict[str, int]
    prefix_jobs: dict[str, dict[str, int]]
    job_sets: int
    last_within: dict[float, int] = field(default_factory=dict)  # radius -> last job number within it


@dataclass(frozen=True)
class ContentInfo:
    """What content the store holds: which feed and version, when it was applied, how much."""

    feed_id: str = ""
    version: int = 0
    applied_at: dt.datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)



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
# the store


class Store:
    """The station's content: replace it whole, search jobs, read policies, events, courses, notices.

    Safe to share between threads (the UI thread and the sync thread): each thread gets its own
    connection, and every search runs in one read transaction. Replacing the content writes the new
    set in short batches beside the old one and swaps it in at the end (:meth:`_apply`): other
    parts' writers (registrations, the print queue, the outbox) wait a few tens of ms at most.
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
            # the title key tables and every prefix's job bitsets are written (content applied by an
            # older version has neither, and is searched row by row until the next apply)
            "job_sets": str(JOB_SETS_VERSION),
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
                    ("INSERT INTO content_py_title_initials_next (key, tid, pos) VALUES (?, ?, ?)",
                     prepared.title_initials),
                    ("INSERT INTO content_py_title_full_next (key, tid, pos) VALUES (?, ?, ?)", prepared.title_full),
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
                with contextlib.suppress(sqlite3.Error):  # the next apply removes them
                    self._drop_shadows(conn)
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
        conn = self._conn()
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) != 'sqlite_' "
            "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'")]
        return {name: conn.execute('SELECT count(*) FROM "{}"'.format(name.replace('"', '""'))).fetchone()[0]
                for name in names}

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
            found = self._found_by_bits(conn, plan, filters)
            if found is not None:
                return self._bit_hits(conn, found, plan, offset + limit)[offset:offset + limit]
            rows = plan.fetch(conn, offset + limit)[offset:offset + limit]
            return self._hits(conn, rows, plan.query, plan.generation)

    def count_jobs(self, query: str = "", *, radius_km: Radius = DEFAULT_RADIUS, category: str | None = None,
                   kind: str | None = None, when: Literal["today", "week"] | None = None,
                   min_salary: int | None = None, age: int | None = None, gender: str | None = None,
                   source: str | None = None, today: dt.date | None = None) -> int:
        """How many jobs :meth:`search_jobs` would find with the same arguments (for "N 个岗位")."""
        filters = _Filters(radius_km, category, kind, when, min_salary, age, gender, source, today)
        with self._read() as conn:
            plan = self._plan(conn, query, filters)
            found = self._found_by_bits(conn, plan, filters)
            if found is not None:
                return found.count()
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
            return self._hits(conn, [tuple(r) for r in rows], "", plan.generation)

    def _hits(self, conn: sqlite3.Connection, rows: list[tuple[int, float | None, str | None]], query: str,
              generation: str) -> list[JobHit]:
        """The jobs of ``rows`` (n, distance or None, field matched or None) as hits.

        The jobs shown are kept by their number for the content set (a resident typing key by key, or
        paging, sees the same jobs again), each as its hit by title (immutable): a page then needs
        no read of the records, whose lookup and building was most of a search's time, and its title
        matches need nothing built at all.
        """
        if not rows:
            return []
        kept = self._title_hits(conn, [r[0] for r in rows], generation)
        return [hit if dist is None and matched == "title" else
                JobHit(hit.job, hit.distance_km if dist is None else dist,
                       matched if matched is not None else _matched_field(hit.job, query))
                for (_, dist, matched), hit in zip(rows, kept, strict=True)]

    def _title_hits(self, conn: sqlite3.Connection, numbers: list[int], generation: str) -> list[JobHit]:
        """The jobs ``numbers`` as hits by title: those shown before as kept, the others read and kept."""
        shown = self._kept(generation).setdefault("shown", {})  # n -> the job as its hit by title
        # this page's jobs apart: another thread searching meanwhile may empty the shared ones
        kept = list(map(shown.get, numbers))
        if None in kept:
            missing = [n for n, hit in zip(numbers, kept, strict=True) if hit is None]
            if len(shown) + len(missing) > _SHOWN_JOBS:
                shown.clear()
            marks = ",".join("?" * len(missing))
            fetched = {}
            for n, dist, data in conn.execute(
                    f"SELECT j.n, j.dist_km, d.data FROM content_jobs j JOIN content_job_data d ON d.n = j.n "
                    f"WHERE j.n IN ({marks})", missing):  # noqa: S608
                fetched[n] = shown[n] = JobHit(_load_job(data), dist, "title")
            kept = [hit if hit is not None else fetched[n] for n, hit in zip(numbers, kept, strict=True)]
        return kept  # type: ignore[return-value]

    # -- pinyin queries, by bitsets ----------------------------------------------------------------

    def _found_by_bits(self, conn: sqlite3.Connection, plan: _Plan, f: _Filters) -> _Found | None:
        """A pinyin query with at most a radius and a category, answered from job bitsets; None to leave
        it to SQL (other filters, or content applied by an older version).

        A one-letter query matches most jobs: its job sets were written as bitsets when the content was
        applied. A longer one looks up the few title terms it matches (their own key tables) and
        takes the union of their jobs; the page is often full by then. Only when it is not, or to
        count, are the employers and categories matched (thousands of terms on 100 000 jobs) and
        their jobs added. Walking the rows against the matched terms cost tens of ms a count.
        """
        if not textsearch.is_pinyin_query(plan.query):
            return None
        if f.kind or f.when or f.min_salary is not None or f.age is not None or f.source \
                or f.gender not in (None, "", "不限"):
            return None
        keep = self._keep_bits(conn, plan)
        if keep is None:
            return None  # content applied by an older version: no bitsets stored
        gen, query = plan.generation, plan.query
        if len(query) == 1:
            title = self._bitset(conn, gen, f"title:{query}") or 0
            return _Found([title], keep, lambda: (self._bitset(conn, gen, f"other:{query}") or 0) & keep)
        if plan.job_sets != JOB_SETS_VERSION:
            return None
        sets = self._job_sets(conn, gen)
        titles = sets.titles(matched_terms(conn, query, titles=sets.title_keys))
        # A query that is a one- or two-letter syllable prefix (ba, zh), or a longer one common in
        # employer names (bao), has its own bitset; the rest of its readings (b+a+o as initials) are
        # looked up. Others are looked up whole.
        masked = textsearch.mask_slot(query) is not None or self._bitset(conn, gen, f"other:{query}") is not None
        matched: set[int] = set()

        def other() -> int:
            matched.update(matched_terms(conn, query, single=not masked))
            found = sets.others(matched, lambda name: self._bitset(conn, gen, f"category:{name}") or 0)
            if masked:
                found |= self._bitset(conn, gen, f"other:{query}") or 0
            return found & keep

        def label(n: int) -> str | None:
            # as the row walk labels them: the employer if it matches in any reading, else the category
            for name, tid in (("employer", sets.employer_of[n]), ("category", sets.category_of[n])):
                if tid in matched or masked and sets.starts_with(conn, tid, query):
                    return name
            return None

        return _Found(titles, keep, other, label)

    def _keep_bits(self, conn: sqlite3.Connection, plan: _Plan) -> int | None:
        """The jobs open today, within the radius and of the category, as a bitset (None: no bitsets)."""
        every = self._bitset(conn, plan.generation, "all")
        if every is None:
            return None
        key = ("keep", plan.today, plan.max_n, plan.category)  # kept with the bitsets of the content set
        kept = self._kept(plan.generation)
        keep = kept.get(key)
        if keep is None:
            for old in list(kept):  # (a snapshot: other threads add to it) another day's are done with
                if isinstance(old, tuple) and old[0] == "keep" and old[1] != plan.today:
                    kept.pop(old, None)
            keep = self._open_bits(conn, plan.generation, plan.today, every)
            if plan.max_n is not None:
                keep &= (1 << (plan.max_n + 1)) - 1
            if plan.category:
                keep &= self._bitset(conn, plan.generation, f"category:{plan.category}") or 0
            kept[key] = keep
        return keep

    def _job_sets(self, conn: sqlite3.Connection, generation: str) -> _JobSets:
        """The jobs by term of the content set ``generation`` (kept, like the bitsets, until the next apply)."""
        kept = self._kept(generation)
        sets = kept.get("terms")
        if not isinstance(sets, _JobSets):
            sets = kept["terms"] = _JobSets(conn)
        return sets

    def _bitset(self, conn: sqlite3.Connection, generation: str, name: str) -> int | None:
        """A stored job bitset of the content set ``generation`` (kept in memory until the next apply)."""
        kept = self._kept(generation)
        if name not in kept:
            row = conn.execute("SELECT bits FROM content_job_bits WHERE name = ?", (name,)).fetchone()
            kept[name] = int.from_bytes(row[0], "little") if row else None
        return kept[name]

    def _kept(self, generation: str) -> dict[Any, Any]:
        """What is kept for the content set ``generation``. A new set replaces the whole tuple, so a
        thread still searching the older set (in its own read transaction) gets a dict of its own,
        never the newer set's bitsets or jobs under the older set's numbers."""
        current = self._kept_set
        if current[0] != generation:
            current = (generation, {})
            self._kept_set = current
        return current[1]

    def _open_bits(self, conn: sqlite3.Connection, generation: str, today: dt.date, every: int) -> int:
        """The jobs open on ``today``: computed once per day and content set (one pass over the closed)."""
        key = ("open", today)
        kept = self._kept(generation)
        found = kept.get(key)
        if found is None:
            closed = bytearray((every.bit_length() + 7) // 8 or 1)
            for (n,) in conn.execute("SELECT n FROM content_jobs WHERE NOT (" + _open_sql().replace("j.", "")
                                     + ")", _open_params(today)):
                closed[n >> 3] |= 1 << (n & 7)
            found = every & ~int.from_bytes(closed, "little")
            kept[key] = found
        return found

    def _bit_hits(self, conn: sqlite3.Connection, found: _Found, plan: _Plan, n: int) -> list[JobHit]:
        """The first ``n`` jobs found by bitsets, title matches first, in ranking order."""
        hits = self._title_hits(conn, found.first_titles(n), plan.generation)
        if len(hits) < n:
            others = first_bits(found.other(), n - len(hits))
            hits += self._hits(conn, [(job, None, found.label(job)) for job in others], plan.query, plan.generation)
        return hits

    def _content_meta(self, conn: sqlite3.Connection) -> _ContentMeta:
        """What every search reads of the content set (job counts, index generation), kept per thread
        until anything is committed: ``PRAGMA data_version`` changes with another connection's
        commit, and this connection's own writes (an apply on this thread) count in its
        ``total_changes``. Reading the meta rows and the radius bound cost more than the rest of a
        pinyin search's plan."""
        seen = (conn, conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
        kept = getattr(self._local, "meta", None)
        if kept is not None and kept[0] == seen:
            return kept[1]
        meta = dict(conn.execute(
            "SELECT key, value FROM content_meta WHERE key IN ('job_count', 'category_jobs', 'prefix_jobs',"
            " 'index_gen', 'applied_at', 'job_sets')").fetchall())
        gen = int(meta.get("index_gen", 0))
        found = _ContentMeta(gen, int(meta.get("job_count", 0)), f"{gen}/{meta.get('applied_at', '')}",
                             _json_meta(meta.get("category_jobs", "{}")), _json_meta(meta.get("prefix_jobs", "{}")),
                             int(meta.get("job_sets", 0)))
        self._local.meta = (seen, found)
        return found

    def _last_within(self, conn: sqlite3.Connection, meta: _ContentMeta, radius: float) -> int:
        """The number of the last job within ``radius`` km (n follows the distance: one index seek)."""
        found = meta.last_within.get(radius)
        if found is None:
            row = conn.execute(
                f"SELECT n FROM content_jobs INDEXED BY {_index_name('content_jobs_dist', meta.index_gen)} "
                "WHERE dist_km <= ? ORDER BY dist_km DESC, n DESC LIMIT 1", (radius + RADIUS_SLACK_KM,)).fetchone()
            found = meta.last_within[radius] = row[0] if row and row[0] is not None else 0
        return found

    def _plan(self, conn: sqlite3.Connection, query: str, f: _Filters) -> _Plan:
        today = f.today or dt.date.today()
        radius = self._radius(f.radius_km)
        meta = self._content_meta(conn)
        total = meta.total
        where = [_open_sql()]
        params: list[Any] = list(_open_params(today))
        max_n = None
        scope = total
        if radius is not None:
            # n follows the distance, so the last job within the radius bounds them all
            max_n = scope = self._last_within(conn, meta, radius)
            where.append("j.n <= ?")
            params.append(max_n)
        # rough share of jobs each filter keeps, to choose between walking in order and index lookups
        keep = 1.0
        if f.category:
            where.append("j.category = ?")
            params.append(f.category)
            keep *= meta.category_jobs.get(f.category, 0) / max(1, total)
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
                     prefix_jobs=meta.prefix_jobs, index_gen=meta.index_gen, generation=meta.generation,
                     job_sets=meta.job_sets)

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
