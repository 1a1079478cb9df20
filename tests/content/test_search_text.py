"""Hanzi search: any substring of 1, 2 or 3+ characters, in every searchable field, same as a LIKE scan."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from common.geo import destination
from content.sample import sample_content
from content.store import Store
from protocol.model import ContentSet, Job

ORIGIN = (26.5830, 106.7135)
TODAY = dt.date(2024, 6, 3)


def job(job_id: str, title: str, *, employer: str = "城东人力资源服务有限公司", category: str = "其他",
        requirements: str = "", km: float = 1.0, published: dt.date = TODAY) -> Job:
    lat, lon = destination(*ORIGIN, 45.0, km)
    return Job(id=job_id, title=title, employer=employer, category=category, salary_min=3000, salary_max=4000,
               latitude=lat, longitude=lon, requirements=requirements, published=published,
               valid_until=TODAY + dt.timedelta(days=30))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "station.db", ORIGIN)
    s.replace_content(ContentSet(jobs=[
        job("cleaner", "保洁员", category="保洁", km=2.0),
        job("guard", "银行大堂保安", category="保安", km=0.5),
        job("forklift", "叉车司机", category="物流", requirements="持叉车证（N1）\n有保洁经验优先", km=0.2),
        job("mall", "商场保洁", employer="城东保洁服务有限公司", category="保洁", km=2.5),
        job("porter", "搬运工", employer="保利物流有限公司", category="普工", km=0.1),
        job("cad", "CAD制图员", category="技工", requirements="会用AutoCAD，持C1驾照", km=1.2),
    ]))
    yield s
    s.close()


def ids(hits) -> list[str]:
    return [h.job.id for h in hits]


def test_one_hanzi_finds_it_anywhere_titles_first(store: Store) -> None:
    hits = store.search_jobs("保", radius_km=None, today=TODAY)
    # titles containing 保 first (nearest first), then employer/requirements matches (nearest first)
    assert ids(hits) == ["guard", "cleaner", "mall", "porter", "forklift"]
    assert [h.matched_field for h in hits] == ["title", "title", "title", "employer", "requirements"]


def test_two_hanzi_the_common_case(store: Store) -> None:
    assert ids(store.search_jobs("保洁", radius_km=None, today=TODAY)) == ["cleaner", "mall", "forklift"]
    assert ids(store.search_jobs("司机", radius_km=None, today=TODAY)) == ["forklift"]
    assert ids(store.search_jobs("物流", radius_km=None, today=TODAY)) == ["porter", "forklift"]  # employer, category
    assert store.search_jobs("洁保", radius_km=None, today=TODAY) == []


def test_three_or_more_hanzi_must_be_contiguous(store: Store) -> None:
    assert ids(store.search_jobs("保洁员", radius_km=None, today=TODAY)) == ["cleaner"]
    assert ids(store.search_jobs("银行大堂保安", radius_km=None, today=TODAY)) == ["guard"]
    assert ids(store.search_jobs("叉车证", radius_km=None, today=TODAY)) == ["forklift"]
    assert store.search_jobs("银行保安", radius_km=None, today=TODAY) == []  # both words, not adjacent


def test_a_phrase_never_spans_punctuation_or_lines(store: Store) -> None:
    # "N1）\n有保洁" : 证（ and 1有 are not adjacent text
    assert store.search_jobs("1有", radius_km=None, today=TODAY) == []
    assert store.search_jobs("证N", radius_km=None, today=TODAY) == []
    assert ids(store.search_jobs("证（N1", radius_km=None, today=TODAY)) == ["forklift"]  # punctuation: scan


def test_letters_and_digits_in_text(store: Store) -> None:
    assert ids(store.search_jobs("C1驾照", radius_km=None, today=TODAY)) == ["cad"]
    assert ids(store.search_jobs("c1", radius_km=None, today=TODAY)) == ["cad"]
    assert ids(store.search_jobs("Ｃ１", radius_km=None, today=TODAY)) == ["cad"]  # full-width keyboard
    # letters alone are read as pinyin (title, employer, category), where latin letters stand for themselves
    assert ids(store.search_jobs("cad", radius_km=None, today=TODAY)) == ["cad"]
    assert store.search_jobs("autocad", radius_km=None, today=TODAY) == []


def test_query_spaces_are_ignored(store: Store) -> None:
    assert ids(store.search_jobs(" 保 洁 员 ", radius_km=None, today=TODAY)) == ["cleaner"]


def test_count_matches_the_search(store: Store) -> None:
    for q in ("保", "保洁", "保洁员", "c1", "叉车证", "nothing-here", ""):
        assert store.count_jobs(q, radius_km=None, today=TODAY) == len(
            store.search_jobs(q, radius_km=None, today=TODAY, limit=1000))


def test_same_jobs_as_a_like_scan_on_sample_content(tmp_path: Path) -> None:
    content = sample_content(origin=ORIGIN, jobs=1500, seed=11, today=TODAY)
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(content)
        scan = sqlite3.connect(":memory:")
        scan.execute("CREATE TABLE j (id, title, employer, category, requirements)")
        scan.executemany("INSERT INTO j VALUES (?, ?, ?, ?, ?)",
                         [(j.id, j.title, j.employer, j.category, j.requirements) for j in content.jobs])
        queries = ["工", "员", "保", "证", "贵", "保洁", "司机", "电工", "经验", "物业", "有限", "叉车证", "保洁员",
                   "优先", "健康证", "服务有限公司", "C1", "N1", "b2", "20公斤", "（N1）"]
        for q in queries:
            like = "%" + q + "%"
            expected = {r[0] for r in scan.execute(
                "SELECT id FROM j WHERE title LIKE ? OR employer LIKE ? OR category LIKE ? OR requirements LIKE ?",
                (like, like, like, like))}
            hits = store.search_jobs(q, radius_km=None, today=TODAY, limit=5000)
            assert {h.job.id for h in hits} == expected, q
            assert store.count_jobs(q, radius_km=None, today=TODAY) == len(expected), q
            # ranking: every title match before every other match; each group nearest first
            fields = [h.matched_field == "title" for h in hits]
            assert fields == sorted(fields, reverse=True), q
            for group in (True, False):
                dists = [h.distance_km for h in hits if (h.matched_field == "title") is group]
                assert dists == sorted(dists), q


def test_equal_distance_newest_first(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(ContentSet(jobs=[
            job("old", "保洁员", published=TODAY - dt.timedelta(days=9)),
            job("new", "保洁员", published=TODAY - dt.timedelta(days=1)),
            job("near", "保洁员", km=0.3, published=TODAY - dt.timedelta(days=20)),
        ]))
        assert ids(store.search_jobs("保洁", today=TODAY)) == ["near", "new", "old"]


def test_rare_hanzi_of_later_unicode_versions(tmp_path: Path) -> None:
    # 𬌗 (U+2C317, CJK extension E) is newer than the tokenizer's Unicode tables
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(ContentSet(jobs=[job("rare", "𬌗工", employer="𬌗记餐馆"),
                                               job("plain", "工", employer="记餐馆")]))
        assert ids(store.search_jobs("𬌗", radius_km=None, today=TODAY)) == ["rare"]
        assert ids(store.search_jobs("𬌗工", radius_km=None, today=TODAY)) == ["rare"]
        assert ids(store.search_jobs("𬌗记餐", radius_km=None, today=TODAY)) == ["rare"]


def test_a_title_that_is_also_a_category_or_employer_is_found_as_a_title(tmp_path: Path) -> None:
    """普工 is a category of the nearer job before it is the title of a farther one: titles still come first,
    as in a LIKE scan (the benchmark's two queries that differed from the scan)."""
    with Store(tmp_path / "s.db", ORIGIN) as s:
        s.replace_content(ContentSet(jobs=[
            job("inspector", "质检员", category="普工", km=0.1),
            job("agency", "包装工", employer="普工", category="其他", km=0.2),
            job("worker", "普工", category="普工", km=0.3),
        ]))
        assert ids(s.search_jobs("普工", radius_km=None, today=TODAY)) == ["worker", "inspector", "agency"]
        assert ids(s.search_jobs("普", radius_km=None, today=TODAY)) == ["worker", "inspector", "agency"]
        hits = s.search_jobs("普工", radius_km=None, today=TODAY)
        assert [h.matched_field for h in hits] == ["title", "category", "employer"]
