"""Applying a content set to the station store: written beside the old one, swapped in whole.

A new set is written into shadow tables in short transactions (batches sized to hold SQLite's
write lock about :data:`APPLY_BATCH_S`, each followed by a pause that lets a waiting writer in)
and swapped in by one durable transaction, so a reader sees the old set or the new one, never a
mix, and a failure (or a power cut) half-way leaves the old set in place. :class:`VersionApply`
is one of :class:`content.store.Store`'s parts; the rows it writes come from
:mod:`content.store_records`, the tables from :mod:`content.store_schema`.
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
from typing import TYPE_CHECKING, Any

from content.db import transaction
from content.search_plan import JOB_SETS_VERSION
from content.store_records import _check_unique_ids, _prepare_jobs, _PreparedJobs, _record_rows
from content.store_schema import _NEXT, _OLD, _ROW_KEYS, _SHADOWED, StoreError, _shadow_ddl
from protocol.model import ContentSet, Job

if TYPE_CHECKING:
    from content.store_search import _ReadTransaction

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


class VersionApply:
    """The store's writing part: replace the whole set, merge jobs, renumber after a move.

    Mixed into :class:`content.store.Store`, which sets the attributes below and gives the
    connections."""

    origin: tuple[float, float]
    apply_batch_rows: int
    pause_every_s: float
    apply_transactions: list[tuple[str, float, float]]
    _batch_sizes: dict[str, int]
    _apply_pause: Callable[[float], None]
    _held_since_pause: float
    _apply_lock: threading.Lock
    _held: list[tuple[str, float, float]]

    if TYPE_CHECKING:
        def _conn(self) -> sqlite3.Connection: ...
        def _read(self) -> _ReadTransaction: ...
        def _export(self, conn: sqlite3.Connection) -> ContentSet: ...
        def export_content(self) -> ContentSet: ...

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
                    def insert(chunk: list[Any], sql: str = sql) -> None:
                        conn.executemany(sql, chunk)

                    self._in_batches(conn, insert, rows, "insert " + sql.split()[2])
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

    def _in_batches(self, conn: sqlite3.Connection, write: Callable[[list[Any]], Any], rows: Sequence[Any],
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

            def delete(chunk: list[Any], table: str = table, key: str = key, where: str = where) -> None:
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


def _origin_text(origin: tuple[float, float]) -> str:
    return f"{origin[0]:.7f},{origin[1]:.7f}"
