"""The search planner: how a job search (query and filters) becomes SQL over the store's tables.

A :class:`_Plan` holds a search's normalized query and filter SQL and runs it as a walk over
the jobs in ranking order, FTS5 lookups (text), pinyin key lookups (:func:`match_terms`) or a
LIKE scan, whichever is cheaper. A pinyin query with at most a radius and a category is
answered from job bitsets instead (:class:`_JobSets`, :class:`_Found`): the title terms it
matches (their own small key tables), then, only if the page is not full or to count, the
employers and categories. :mod:`content.search` holds the pure text functions it uses;
:class:`content.store.Store` builds plans inside its read transactions.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from content import search as textsearch
from content.store_schema import _category_token, _index_name


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT_RADIUS"


DEFAULT_RADIUS: Final = _Default()
"""Pass (or omit) for the station's own radius; pass ``None`` for every distance ("全部")."""

Radius = float | int | str | None | _Default


_MATCH = "temp.content_py_match"


def _open_sql() -> str:
    # Job.is_open: published, not past its valid-until date, and a 零工's work date not yet gone.
    return "j.published <= ? AND j.valid_until >= ? AND (j.work_date IS NULL OR j.work_date >= ?)"


def _open_params(today: dt.date) -> tuple[str, str, str]:
    return today.isoformat(), today.isoformat(), today.isoformat()


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
    job_sets: int = 0  # content_meta "job_sets": which job bitsets the content set has (JOB_SETS_VERSION)
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
        count: int = conn.execute(sql, params).fetchone()[0]
        return count

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
        return bool(found == len(tokens))

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
    _match(_TempMatch(conn), query, single=single)


def matched_terms(conn: sqlite3.Connection, query: str, *, single: bool = True,
                  titles: _TitleKeys | None = None) -> set[int]:
    """The ids of the terms :func:`match_terms` finds, as a set; with ``titles`` (the content set's
    title keys, in memory), of the terms used as a title only."""
    found: _SetMatch = _SetMatch(conn) if titles is None else _MemoryMatch(titles)
    _match(found, query, single=single, tables=_ALL_KEYS if titles is None else _TITLE_KEYS)
    return found.tids


_ALL_KEYS = ("content_py_initials", "content_py_full")
_TITLE_KEYS = ("content_py_title_initials", "content_py_title_full")


def _match(found: _TempMatch | _SetMatch, query: str, *, single: bool,
           tables: tuple[str, str] = _ALL_KEYS) -> None:
    for table, lookup, check, always_check in _lookups(query, single, tables):
        _lookup(found, table, lookup, check, always_check=always_check)


@lru_cache(maxsize=4096)
def _lookups(query: str, single: bool, tables: tuple[str, str]
             ) -> tuple[tuple[str, textsearch.KeyLookup, Callable[[list[tuple[str, ...]], int], bool], bool], ...]:
    """How ``query`` is looked up: (key table, its lookup, the check of a candidate, always check?).

    This is the query's parse, the same for any content (as ``re`` keeps a pattern compiled): a
    resident typing key by key, and the next resident, type the same few thousand prefixes. What
    the query matches is looked up in the content every time.
    """
    initials, full = tables
    out = []
    for seg, index in textsearch.readings_to_look_up(query, single=single):
        if index == "full":
            lookup = textsearch.key_lookup(seg.full_key, textsearch.FULL_LETTERS, textsearch.SYLLABLE_SEP)
            out.append((full, lookup, seg.matches_at, False))
        else:
            lookup = textsearch.key_lookup(seg.initials, textsearch.KEY_CHARS)
            out.append((initials, lookup, seg.matches_at, index == "mixed"))
    return tuple(out)


class _TempMatch:
    """Matched term ids collected in the connection's temp table (for the SQL plans)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.fetched: dict[tuple[str, str, str], list[Any]] = {}  # candidate rows, shared by the query's readings

    def add_range(self, table: str, lo: str, hi: str) -> None:
        self.conn.execute(f"INSERT OR IGNORE INTO {_MATCH} (tid) SELECT DISTINCT tid FROM {table} "
                          "WHERE key >= ? AND key < ?", (lo, hi))

    def add(self, tids: set[int]) -> None:
        if tids:
            self.conn.executemany(f"INSERT OR IGNORE INTO {_MATCH} (tid) VALUES (?)", [(t,) for t in tids])

    def candidates(self, table: str, how: str, key: str) -> list[Any]:
        """(tid, pos, readings) rows for keys starting with ``key`` ("range") or equal to it ("key")."""
        rows = self.fetched.get((table, how, key))
        if rows is None:
            cond = "k.key >= ? AND k.key < ?" if how == "range" else "k.key = ?"
            params = (key, key + "\x7f") if how == "range" else (key,)
            rows = self.fetched[(table, how, key)] = self.conn.execute(
                f"SELECT k.tid, k.pos, t.readings FROM {table} k JOIN content_py_term t ON t.tid = k.tid "
                f"WHERE {cond}", params).fetchall()
        return rows


class _SetMatch(_TempMatch):
    """Matched term ids collected in a Python set (for the job bitsets)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self.tids: set[int] = set()

    def add_range(self, table: str, lo: str, hi: str) -> None:
        self.tids.update(r[0] for r in self.conn.execute(
            f"SELECT tid FROM {table} WHERE key >= ? AND key < ?", (lo, hi)))

    def add(self, tids: set[int]) -> None:
        self.tids |= tids


class _TitleKeys:
    """The title key tables of one content set, in memory (they are small: one row per key of each
    distinct title, about 1 200 rows for the 68 titles of 100 000 sample jobs), so that a query's
    title terms take a few dictionary lookups instead of a dozen SQL lookups: the terms with a key
    starting with each prefix of each key, the rows of each key, and the rows sorted by key for the
    keys to check."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.keys: dict[str, list[str]] = {}
        self.rows: dict[str, list[tuple[int, int, str]]] = {}
        self.starting: dict[str, dict[str, set[int]]] = {}
        self.exact: dict[str, dict[str, list[tuple[int, int, str]]]] = {}
        for table in _TITLE_KEYS:
            rows = sorted(tuple(r) for r in conn.execute(f"SELECT k.key, k.tid, k.pos, t.readings FROM {table} k "
                                                         "JOIN content_py_term t ON t.tid = k.tid"))
            self.keys[table] = [r[0] for r in rows]
            self.rows[table] = [(r[1], r[2], r[3]) for r in rows]
            exact: dict[str, list[tuple[int, int, str]]] = {}
            for key, tid, pos, readings in rows:
                exact.setdefault(key, []).append((tid, pos, readings))
            self.exact[table] = exact
            starting: dict[str, set[int]] = {}
            for key, tid, _, _ in rows:
                for end in range(1, len(key) + 1):
                    starting.setdefault(key[:end], set()).add(tid)
            self.starting[table] = starting

    def between(self, table: str, lo: str, hi: str) -> list[tuple[int, int, str]]:
        """(tid, pos, readings) of the keys in ``[lo, hi)``."""
        keys = self.keys[table]
        return self.rows[table][bisect.bisect_left(keys, lo):bisect.bisect_left(keys, hi)]


class _MemoryMatch(_SetMatch):
    """Matched title term ids, looked up in the content set's title keys in memory."""

    def __init__(self, titles: _TitleKeys) -> None:
        self.titles = titles
        self.tids = set()

    def add_range(self, table: str, lo: str, hi: str) -> None:
        if hi == lo + "\x7f":  # the keys starting with lo (every lookup's range)
            self.tids |= self.titles.starting[table].get(lo, _NONE)
        else:
            self.tids.update(r[0] for r in self.titles.between(table, lo, hi))

    def candidates(self, table: str, how: str, key: str) -> list[Any]:
        if how == "key":
            return self.titles.exact[table].get(key, _NO_ROWS)
        return self.titles.between(table, key, key + "\x7f")


_NONE: frozenset[int] = frozenset()
_NO_ROWS: list[tuple[int, int, str]] = []  # (never added to: _lookup adds rows to a list of its own)


def _lookup(found: _TempMatch, table: str, lookup: textsearch.KeyLookup,
            check: Callable[[list[tuple[str, ...]], int], bool], *, always_check: bool = False) -> None:
    """Add the texts found through one key index; candidates the key cannot decide are checked."""
    rows: list[Any] = []
    if lookup.exact and not always_check:
        found.add_range(table, lookup.lo, lookup.hi)
    else:
        rows += found.candidates(table, "range", lookup.lo)
    for key in lookup.cut:
        rows += found.candidates(table, "key", key)
    if rows:
        found.add({tid for tid, pos, encoded in rows if check(_decoded(encoded), pos)})


@lru_cache(maxsize=65536)
def _decoded(encoded: str) -> list[tuple[str, ...]]:
    return textsearch.decode_readings(encoded)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------------------------------------
# pinyin queries by job bitsets

# content_meta "job_sets": the content was applied with the title key tables and every one- and
# two-letter prefix's job bitsets (see content.store_records._job_bits); older content is searched
# by the SQL plans above until the next apply.
JOB_SETS_VERSION = 3


class _JobSets:
    """One content set's jobs by term, in memory: which jobs have each title, each employer, each
    category (bit n = job n). Read once per content set, on its first multi-letter pinyin query
    (one pass over the job rows: some tens of ms at 100 000 jobs); queries then take the union of
    their terms' jobs instead of testing every row against the matched terms."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        title: dict[int, list[int]] = {}
        employer: dict[int, list[int]] = {}
        self.category_names: dict[int, str] = {}  # category term id -> category (its bitset's name)
        rows = conn.execute("SELECT n, title_tid, employer_tid, category_tid, category FROM content_jobs").fetchall()
        last = max((r[0] for r in rows), default=0)
        self.size = (last + 1 + 7) // 8
        self.employer_of = [0] * (last + 1)
        self.category_of = [0] * (last + 1)
        for n, title_tid, employer_tid, category_tid, category in rows:
            title.setdefault(title_tid, []).append(n)
            employer.setdefault(employer_tid, []).append(n)
            self.employer_of[n] = employer_tid
            self.category_of[n] = category_tid
            self.category_names[category_tid] = category
        self.title_jobs = title
        self.employer_jobs = employer
        self.title_keys = _TitleKeys(conn)
        self._title_bits: dict[int, int] = {}
        self._prefixed: dict[tuple[int, str], bool] = {}

    def starts_with(self, conn: sqlite3.Connection, tid: int, prefix: str) -> bool:
        """Whether a character of term ``tid`` has a reading starting with ``prefix`` (what its bit says)."""
        key = (tid, prefix)
        found = self._prefixed.get(key)
        if found is None:
            row = conn.execute("SELECT readings FROM content_py_term WHERE tid = ?", (tid,)).fetchone()
            found = self._prefixed[key] = any(r.startswith(prefix) for options in _decoded(row[0] if row else "")
                                              for r in options)
        return found

    def titles(self, tids: set[int]) -> list[int]:
        """The jobs of each title of ``tids``, as bitsets (each title's kept: titles are few)."""
        found = []
        for tid in tids:
            bits = self._title_bits.get(tid)
            if bits is None:
                bits = self._title_bits[tid] = self.bits_of([self.title_jobs.get(tid, [])])
            found.append(bits)
        return found

    def others(self, tids: set[int], category_bits: Callable[[str], int]) -> int:
        """The jobs whose employer or category is one of ``tids``."""
        jobs = self.employer_jobs
        found = self.bits_of([jobs[t] for t in tids.intersection(jobs)])
        for tid in tids:
            name = self.category_names.get(tid)
            if name is not None:
                found |= category_bits(name)
        return found

    def bits_of(self, lists: list[list[int]]) -> int:
        bits = bytearray(self.size)
        for n in itertools.chain.from_iterable(lists):
            bits[n >> 3] |= _BIT[n & 7]
        return int.from_bytes(bits, "little")


@dataclass
class _Found:
    """A pinyin query's jobs within the filters, as bitsets: those found by title (the union of
    ``title_parts``, within ``keep``), and those found by employer or category only (computed when
    the title matches do not fill the page, or to count)."""

    title_parts: list[int]
    keep: int
    _other: Callable[[], int]
    label: Callable[[int], str | None] = lambda n: None  # the field an `other` job matched (None: work it out)
    _other_bits: int | None = None
    _title_bits: int | None = None

    @property
    def title(self) -> int:
        if self._title_bits is None:
            found = 0
            for part in self.title_parts:
                found |= part
            self._title_bits = found & self.keep
        return self._title_bits

    def first_titles(self, k: int) -> list[int]:
        """The first ``k`` jobs found by title. The union is taken over the lowest bits only, a window
        growing fourfold until it holds ``k`` (a page is mostly among the first few thousand jobs):
        the union of a query's 20 titles over 100 000 jobs cost more than the rest of its search."""
        if self._title_bits is not None or not self.title_parts:
            return first_bits(self.title, k)
        end = max(part.bit_length() for part in self.title_parts)
        size = _WINDOW
        while True:
            mask = (1 << size) - 1
            window = 0
            for part in self.title_parts:
                window |= part & mask
            window &= self.keep
            if size >= end or window.bit_count() >= k:
                return first_bits(window, k)
            size *= 4

    def other(self) -> int:
        if self._other_bits is None:
            self._other_bits = self._other() & ~self.title
        return self._other_bits

    def count(self) -> int:
        return self.title.bit_count() + self.other().bit_count()


_BIT = tuple(1 << i for i in range(8))


def first_bits(bits: int, k: int) -> list[int]:
    """The lowest ``k`` set bits of ``bits``, ascending.

    Taken a window at a time (a step on the whole set would copy all of it: 12 KB at 100 000 jobs),
    the window doubling up to 8 192 bits while it yields too few. A dense window is read a byte at
    a time: its bytes' positions come from a table, and its zero bytes are skipped at C speed; a
    sparse one by isolating its lowest bit, which costs less there.
    """
    out: list[int] = []
    offset, size = 0, _WINDOW
    while bits and len(out) < k:
        window = bits & ((1 << size) - 1)
        if not window:  # skip to the window of the lowest set bit
            skip = ((bits & -bits).bit_length() - 1) // 64 * 64
            bits >>= skip
            offset += skip
            continue
        if window.bit_count() * _DENSE >= size:
            data = window.to_bytes((window.bit_length() + 7) // 8, "little")
            for i in itertools.compress(itertools.count(), data):  # the bytes that are not zero
                base = offset + 8 * i
                for at in _POSITIONS[data[i]]:
                    out.append(base + at)
                if len(out) >= k:
                    del out[k:]
                    return out
        else:
            while window:
                low = window & -window
                out.append(offset + low.bit_length() - 1)
                if len(out) == k:
                    return out
                window ^= low
        bits >>= size
        offset += size
        size = min(size * 2, _WINDOW_MAX)
    return out


_POSITIONS = tuple(tuple(i for i in range(8) if byte >> i & 1) for byte in range(256))  # the set bits of a byte


_WINDOW = 2048  # bits of the first window
_WINDOW_MAX = 8192
_DENSE = 64  # a window with at least one bit in this many is read by bytes
