"""Job search in the station store: a query and the kiosk's filters answered from the stored set.

Jobs are numbered in ranking order when they are stored (nearest to the station first, then
newest), so a search walks matches in that order and stops at the page it needs, and a radius
becomes a range of those numbers; pinyin queries are answered from per-letter bitsets kept
between searches. :class:`JobSearch` is one of :class:`content.store.Store`'s parts; how a
search becomes SQL is in :mod:`content.search_plan`, how text is matched in :mod:`content.search`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from common.geo import distance_km
from content import search as textsearch
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
from content.store_records import _load_job, _matched_field
from content.store_schema import StoreError, _index_name
from protocol.model import JOB_CATEGORIES, Job

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



class JobSearch:
    """The store's job search: search, count, the categories' counts, featured jobs, one job.

    Mixed into :class:`content.store.Store`, which sets the attributes below and gives the
    connections."""

    origin: tuple[float, float]
    default_radius_km: float
    _kept_set: tuple[str, dict[Any, Any]]
    _local: threading.local

    if TYPE_CHECKING:
        def _conn(self) -> sqlite3.Connection: ...
        def _read(self) -> _ReadTransaction: ...

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

    def _hits(self, conn: sqlite3.Connection, rows: Sequence[tuple[int, float | None, str | None]], query: str,
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
        return kept

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
        bits: int | None = kept[name]
        return bits

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
            cached: _ContentMeta = kept[1]
            return cached
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


@lru_cache(maxsize=16)
def _json_meta(text: str) -> Any:
    """A JSON value of content_meta, parsed once per content set (every search reads them). Callers
    only read it."""
    return json.loads(text)
