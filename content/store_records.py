"""Job records on their way into the store and back: the rows an apply writes, and stored jobs loaded.

:func:`_prepare_jobs` turns a content set's jobs into the rows of every job table (ranking
order, pinyin keys, prefix masks, per-letter job bitsets); :func:`_load_job` rebuilds a stored
job for a search page.
"""

from __future__ import annotations

import datetime as dt
import json
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from common.geo import distance_km
from content import search as textsearch
from content.store_schema import StoreError, _category_token
from protocol.model import ContentSet, Job

# Monthly equivalents for the minimum-salary filter (21.75 paid days a month, 8 hours a day).
MONTHLY_FACTOR = {"月": 1.0, "日": 21.75, "时": 21.75 * 8}


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


@dataclass
class _PreparedJobs:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    data: list[tuple[Any, ...]] = field(default_factory=list)
    texts: list[tuple[Any, ...]] = field(default_factory=list)
    terms: list[tuple[Any, ...]] = field(default_factory=list)
    initials: list[tuple[Any, ...]] = field(default_factory=list)
    full: list[tuple[Any, ...]] = field(default_factory=list)
    category_jobs: dict[str, int] = field(default_factory=dict)
    title_grams: set[str] = field(default_factory=set)
    prefix_jobs: dict[str, dict[str, int]] = field(
        default_factory=lambda: {"title": {}, "other": {}})  # jobs with each mask prefix, by field
    bits: list[tuple[str, bytes]] = field(default_factory=list)  # rows of content_job_bits
    title_initials: list[tuple[Any, ...]] = field(default_factory=list)  # the rows of `initials` of title terms
    title_full: list[tuple[Any, ...]] = field(default_factory=list)  # the rows of `full` of title terms


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
    term_syllables: dict[int, frozenset[str]] = {}  # tid -> prefixes of 3 letters or more of its readings
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
            term_syllables[tid] = frozenset(r[:i] for options in readings for r in options
                                            for i in range(3, len(r) + 1))
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
    out.bits = _job_bits(out.rows) + _syllable_bits(out.rows, term_syllables)
    title_tids = {row[_ROW_TITLE_TID] for row in out.rows}
    out.title_initials = [r for r in out.initials if r[1] in title_tids]
    out.title_full = [r for r in out.full if r[1] in title_tids]
    for (where, masks), count in mask_counts.items():
        counts = out.prefix_jobs[where]
        for prefix in _mask_prefixes(masks):
            counts[prefix] = counts.get(prefix, 0) + count
    return out


# columns of a content_jobs row (see _prepare_jobs): category, title_tid, title masks, other masks
_ROW_CATEGORY, _ROW_TITLE_TID, _ROW_TITLE_M, _ROW_OTHER_M = 4, 16, 19, 21


def _job_bits(rows: list[tuple[Any, ...]]) -> list[tuple[str, bytes]]:
    """The rows of ``content_job_bits`` for the job rows of a content set (bit n = job n, little-endian):
    for every one- and two-letter syllable prefix (textsearch.MASK_PREFIXES), the jobs whose employer or
    category ("other:ba") has a character read with it, and for every letter, whose title ("title:b")
    (longer title queries look up the title terms' own key tables); each category's
    jobs ("category:保洁"); every job ("all")."""
    size = (len(rows) + 1 + 7) // 8  # bit 0 unused: jobs are numbered from 1
    sets: dict[str, bytearray] = {}
    by_mask: dict[tuple[str, Any], list[int]] = {}
    for row in rows:
        n = row[0]
        for where, col in (("title", _ROW_TITLE_M), ("other", _ROW_OTHER_M)):
            by_mask.setdefault((where, (row[col], row[col + 1])), []).append(n)
        by_mask.setdefault(("category", row[_ROW_CATEGORY]), []).append(n)
    for (where, value), jobs in by_mask.items():
        names = [f"category:{value}"] if where == "category" else \
            [f"{where}:{prefix}" for prefix in _mask_prefixes(value) if where == "other" or len(prefix) == 1]
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


def _syllable_bits(rows: list[tuple[Any, ...]], term_syllables: dict[int, frozenset[str]]) -> list[tuple[str, bytes]]:
    """More rows of ``content_job_bits``: for each syllable prefix of three letters or more (bao, kua,
    zhuan) found in the employer or category of many jobs, those jobs ("other:bao").

    A common syllable is in thousands of employer names: looking them up and gathering their jobs
    cost several ms a count on 100 000 jobs. Rarer prefixes are looked up (a bitset would be larger
    than the list of its jobs).
    """
    size = (len(rows) + 1 + 7) // 8
    by_terms: dict[tuple[int, int], list[int]] = {}
    for row in rows:
        by_terms.setdefault((row[_ROW_TITLE_TID + 1], row[_ROW_TITLE_TID + 2]), []).append(row[0])
    counts: dict[str, int] = {}
    groups = []
    for (employer, category), jobs in by_terms.items():
        prefixes = term_syllables.get(employer, frozenset()) | term_syllables.get(category, frozenset())
        groups.append((prefixes, jobs))
        for prefix in prefixes:
            counts[prefix] = counts.get(prefix, 0) + len(jobs)
    least = max(64, len(rows) // 32)
    sets = {prefix: bytearray(size) for prefix, count in counts.items() if count >= least}
    for prefixes, jobs in groups:
        for prefix in prefixes:
            bits = sets.get(prefix)
            if bits is not None:
                for n in jobs:
                    bits[n >> 3] |= 1 << (n & 7)
    return sorted((f"other:{prefix}", bytes(bits)) for prefix, bits in sets.items())


def _date_fields(model: type[BaseModel]) -> tuple[str, ...]:
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


