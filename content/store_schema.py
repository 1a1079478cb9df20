"""The station store's schema: the content tables, their versioned migrations, and the shadow tables an apply builds.

Owns every ``content_`` table's DDL (:data:`_MIGRATIONS`), the schema version and :func:`migrate`;
:mod:`content.store` runs it when a store opens, and rebuilds the job tables beside the live ones
from the same statements (:func:`_shadow_ddl`) on every apply.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Sequence

from content.db import TableOwner, transaction
from protocol.model import JOB_CATEGORIES

SCHEMA_VERSION = 3


class StoreError(Exception):
    """The store cannot do what was asked (bad argument, unknown schema)."""



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
    3: (
        # The pinyin keys of the terms used as a title, apart (a copy of their rows of the two key
        # indexes above). Titles are few and employers many: a query matched thousands of employer
        # names for a page that the titles alone fill, at about 1-6 ms a query on 100 000 jobs. The
        # title pass now looks up these small tables, and the employers only when it needs them.
        """CREATE TABLE IF NOT EXISTS content_py_title_initials (
            key TEXT NOT NULL, tid INTEGER NOT NULL, pos INTEGER NOT NULL,
            PRIMARY KEY (key, tid, pos)) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS content_py_title_full (
            key TEXT NOT NULL, tid INTEGER NOT NULL, pos INTEGER NOT NULL,
            PRIMARY KEY (key, tid, pos)) WITHOUT ROWID""",
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
             "content_py_full", "content_title_grams", "content_job_bits", "content_py_title_initials",
             "content_py_title_full")
_NEXT, _OLD = "_next", "_old"
_ROW_KEYS = {"content_py_initials": "key, tid, pos", "content_py_full": "key, tid, pos",
             "content_py_title_initials": "key, tid, pos", "content_py_title_full": "key, tid, pos",
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
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'content_schema'").fetchone() is None:
        return 0
    row = conn.execute("SELECT max(version) FROM content_schema").fetchone()
    found = row[0] if row and row[0] is not None else 0
    if found > SCHEMA_VERSION:
        raise StoreError(f"the station database has content schema {found}; "
                         f"this program knows up to {SCHEMA_VERSION} (upgrade Yizhan)")
    return found


def _category_token(category: str) -> str:
    """The FTS token standing for a category in column x (a code: categories are a fixed list)."""
    try:
        return f"cat{JOB_CATEGORIES.index(category)}"
    except ValueError:
        return "catnone"


# The content_ tables' owner in the station database (content.db). Their versions are kept in
# content_schema since the first release, so :func:`migrate` brings them up to date and the
# database's schema_versions records the version it reached.
TABLES = TableOwner(
    "content", ("content_schema", "content_meta", *_RECORD_TABLES.values(),
                *(t for t in _SHADOWED if t not in _RECORD_TABLES.values())),
    upgrade=migrate, version_count=SCHEMA_VERSION, found=_schema_version)
