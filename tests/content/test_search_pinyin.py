"""Pinyin search: full syllables, initials, mixed, unfinished syllables, polyphones; same as a brute-force scan."""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from pathlib import Path

import pytest
from pypinyin import Style, pinyin

from common.geo import destination
from content import search as textsearch
from content.sample import sample_content
from content.store import Store
from protocol.model import ContentSet, Job

ORIGIN = (26.5830, 106.7135)
TODAY = dt.date(2024, 6, 3)


def job(job_id: str, title: str, *, employer: str = "城东人力资源中心", category: str = "其他",
        km: float = 1.0) -> Job:
    lat, lon = destination(*ORIGIN, 90.0, km)
    return Job(id=job_id, title=title, employer=employer, category=category, salary_min=3000, salary_max=4000,
               latitude=lat, longitude=lon, published=TODAY, valid_until=TODAY + dt.timedelta(days=30))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "station.db", ORIGIN)
    s.replace_content(ContentSet(jobs=[
        job("cleaner", "保洁员", category="保洁", km=0.4),
        job("bank", "银行大堂保安", category="保安", km=0.8),
        job("clerk", "行政文员", category="文员", km=1.5),
        job("docs", "单证员", category="文员", km=2.0),
        job("driver", "货车司机", employer="长运物流有限公司", category="物流", km=2.2),
        job("electric", "电工", category="技工", km=2.6),
        job("hourly", "钟点工", category="家政", km=2.8),
        job("cad", "CAD制图员", category="技工", km=2.9),
        job("xian", "西安路门店销售", category="销售", km=2.95),
    ]))
    yield s
    s.close()


def found(store: Store, query: str) -> list[str]:
    return [h.job.id for h in store.search_jobs(query, radius_km=None, today=TODAY)]


def test_initials(store: Store) -> None:
    assert found(store, "bjy") == ["cleaner"]
    assert found(store, "bj") == ["cleaner"]
    assert found(store, "yhdtba") == ["bank"]
    assert found(store, "hcsj") == ["driver"]
    assert found(store, "dg") == ["electric", "hourly"]  # 电工 and 钟(点工)


def test_full_pinyin_and_each_key_press(store: Store) -> None:
    assert found(store, "baojie") == ["cleaner"]
    assert found(store, "baojieyuan") == ["cleaner"]
    assert found(store, "diangong") == ["electric", "hourly"]
    # the kiosk searches on every key press: b, ba, bao, baoj, ... narrow down sensibly
    progress = {q: set(found(store, q)) for q in ("b", "ba", "bao", "baoj", "baoji", "baojie")}
    assert progress["b"] == {"cleaner", "bank"}
    assert progress["bao"] == {"cleaner", "bank"}  # 保洁, 保安
    assert progress["baoj"] == progress["baojie"] == {"cleaner"}
    assert all(progress[a] >= progress[b] for a, b in zip(list(progress), list(progress)[1:], strict=False))


def test_mixed_initials_and_syllables(store: Store) -> None:
    assert found(store, "baojy") == ["cleaner"]
    assert found(store, "bjie") == ["cleaner"]
    assert found(store, "bjyuan") == ["cleaner"]
    assert found(store, "dgong") == ["electric", "hourly"]


def test_polyphones_match_with_every_reading(store: Store) -> None:
    assert found(store, "yinhang") == ["bank"]  # 行 hang
    assert found(store, "xingzheng") == ["clerk"]  # 行 xing
    assert found(store, "xz") == ["clerk"]
    assert found(store, "hz") == ["clerk"]  # 行 read as hang
    assert found(store, "danzheng") == ["docs"]  # 单 dan
    assert found(store, "shanzheng") == ["docs"]  # 单 shan
    assert found(store, "changyun") == ["driver"]  # 长 chang, in the employer
    assert found(store, "zhangyun") == ["driver"]  # 长 zhang


def test_syllable_boundaries_are_kept(store: Store) -> None:
    assert "xian" in found(store, "xian")  # 西安 read xi'an
    assert "xian" in found(store, "xa")
    assert found(store, "xianl") == ["xian"]  # 西安路: xi an l(u)


def test_match_field_and_title_first(store: Store) -> None:
    hits = store.search_jobs("wl", radius_km=None, today=TODAY)  # 物流: employer and category of driver
    assert [(h.job.id, h.matched_field) for h in hits] == [("driver", "employer")]
    hits = store.search_jobs("wy", radius_km=None, today=TODAY)  # 文员: clerk, docs titles...
    assert [h.matched_field for h in hits][:1] == ["title"]
    assert {h.job.id for h in hits} == {"clerk", "docs"}  # title 行政文员; 单证员 by its category 文员
    assert [h.matched_field for h in hits] == ["title", "category"]


def test_latin_letters_in_titles(store: Store) -> None:
    assert found(store, "cad") == ["cad"]
    assert found(store, "cadz") == ["cad"]
    assert found(store, "cadzhitu") == ["cad"]


def test_legal_form_of_employers_is_not_indexed(store: Store) -> None:
    assert found(store, "youxiangongsi") == []
    assert found(store, "yxgs") == []


def test_unknown_and_non_pinyin(store: Store) -> None:
    assert found(store, "qqqq") == []
    assert found(store, "iu") == []
    assert store.count_jobs("qqqq", radius_km=None, today=TODAY) == 0


# --- against a brute-force scan over sample content ------------------------------------------


@functools.cache
def reference_readings(text: str) -> tuple[tuple[str, ...], ...]:
    chars = []
    for ch in textsearch.pinyin_text(text):
        if ch.isascii() and ch.isalnum():
            chars.append((ch.lower(),))
        elif "\u4e00" <= ch <= "\u9fff":
            readings = [r for r in pinyin(ch, style=Style.NORMAL, heteronym=True)[0] if r.isalpha()]
            readings += [r.replace("v", "u") for r in readings if "v" in r]
            chars.append(tuple(readings))
    return tuple(chars)


def reference_match(text: str, query: str) -> bool:
    """The documented rule, checked character by character with pypinyin directly (no index)."""
    chars = reference_readings(text)
    segs = textsearch.segmentations(query)
    if any(s.all_full for s in segs):  # a query that reads as whole syllables is taken as such
        segs = [s for s in segs if s.all_full or s.all_initials]
    for seg in segs:
        for start in range(len(chars)):
            if start + len(seg.parts) > len(chars):
                break
            ok = True
            for i, part in enumerate(seg.parts):
                options = chars[start + i]
                last = i == len(seg.parts) - 1
                if last:
                    ok = any(r.startswith(part) for r in options)
                else:
                    ok = any(r == part or (len(part) == 1 and r[0] == part)
                             or (part in ("zh", "ch", "sh") and r.startswith(part)) for r in options)
                if not ok:
                    break
            if ok:
                return True
    return False


def test_same_jobs_as_a_brute_force_scan(tmp_path: Path) -> None:
    content = sample_content(origin=ORIGIN, jobs=2000, seed=5, today=TODAY)
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(content)
        for query in ("b", "x", "zh", "sh", "an", "bj", "pg", "kd", "dg", "sj", "ccsj", "yhdtba", "baojie", "baoj",
                      "diangong", "kuaidi", "siji", "zhang", "zha", "hang", "xian", "bjie", "baojy", "dgong",
                      "jiazheng", "jz", "ys", "yuesao", "chushi", "cs", "guiyang", "gy", "yunyan", "wuliu", "changshun",
                      "zhangshun", "cad", "qqq", "baojieyuan", "huoches", "gongyix"):
            expected = {j.id for j in content.jobs
                        if any(reference_match(t, query) for t in (j.title, j.employer, j.category))}
            hits = store.search_jobs(query, radius_km=None, today=TODAY, limit=5000)
            assert {h.job.id for h in hits} == expected, query
            assert store.count_jobs(query, radius_km=None, today=TODAY) == len(expected), query
            titles = [h.matched_field == "title" for h in hits]
            assert titles == sorted(titles, reverse=True), query
            assert all(h.matched_field in ("title", "employer", "category") for h in hits), query
            for h in hits[:50]:
                field_text = getattr(h.job, h.matched_field)
                assert reference_match(field_text, query), (query, h.job.id, h.matched_field)
            # with a radius and a category the same rule holds, within them
            near = store.search_jobs(query, radius_km=3, category="保洁", today=TODAY, limit=5000)
            assert {h.job.id for h in near} == {
                j.id for j in content.jobs if j.id in expected and j.category == "保洁"
                and store.job_distance_km(j) <= 3}, query


# --- ü typed as v (every pinyin keyboard), as u, or as ü; tone marks from a full keyboard --------


@pytest.fixture
def v_store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "v.db", ORIGIN)
    s.replace_content(ContentSet(jobs=[
        job("green", "绿化养护工", category="其他", km=0.5),
        job("donkey", "驴肉馆服务员", category="餐饮", km=0.6),
        job("packer", "包装女工", category="普工", km=0.7),
        job("lawyer", "律师助理", category="文员", km=0.8),
        job("lueyang", "略阳店营业员", category="销售", km=0.9),
        job("cleaner", "保洁员", category="保洁", km=1.0),
    ]))
    yield s
    s.close()


@pytest.mark.parametrize(("query", "expected"), [
    ("lvhua", ["green"]), ("luhua", ["green"]), ("lvh", ["green"]), ("lvhyhg", ["green"]),
    ("lvrou", ["donkey"]), ("lvroug", ["donkey"]),
    ("nvgong", ["packer"]), ("nugong", ["packer"]), ("baozhuangnvgong", ["packer"]),
    ("lvshi", ["lawyer"]), ("lushi", ["lawyer"]), ("lvshizhuli", ["lawyer"]),
    ("lveyang", ["lueyang"]), ("lueyang", ["lueyang"]),
])
def test_v_for_u_umlaut_in_every_syllable(v_store: Store, query: str, expected: list[str]) -> None:
    assert found(v_store, query) == expected
    assert v_store.count_jobs(query, radius_km=None, today=TODAY) == len(expected)


@pytest.mark.parametrize(("query", "expected"), [
    ("lü", ["green", "donkey", "lawyer", "lueyang"]), ("lǜhuà", ["green"]), ("LǗHUA", ["green"]),
    ("nǚgōng", ["packer"]), ("bǎojié", ["cleaner"]), ("lüèyáng", ["lueyang"]),
])
def test_u_umlaut_and_tone_marks_typed_on_a_full_keyboard(v_store: Store, query: str, expected: list[str]) -> None:
    assert found(v_store, query) == expected


def test_a_very_long_query_finds_nothing_and_does_not_crash(v_store: Store) -> None:
    for query in ("a" * 1000, "lvhua" * 200, "baojieyuan" * 100 + "x", "保洁" * 500):
        assert found(v_store, query) == []
        assert v_store.count_jobs(query, radius_km=None, today=TODAY) == 0
    assert found(v_store, "保洁员" + "a" * 997) == []


# --- one-letter queries: answered from bitsets written at apply time ------------------------------


def test_one_letter_queries_same_page_as_the_row_walk(tmp_path: Path) -> None:
    """A one-letter query (the first key press) is answered from job bitsets; it must give the very
    page the row-by-row walk gives (which a store whose content has no bitsets still uses), closed jobs
    left out, title matches first, in ranking order, page by page."""
    content = sample_content(origin=ORIGIN, jobs=1500, seed=11, today=TODAY)
    closed = [job("future", "保洁员", km=0.1).model_copy(update={"published": TODAY + dt.timedelta(days=1)}),
              job("expired", "保安", km=0.2).model_copy(update={"valid_until": TODAY - dt.timedelta(days=1)})]
    content.jobs = content.jobs + closed
    filters = [dict(radius_km=None), dict(radius_km=3), dict(radius_km=None, category="保洁"),
               dict(radius_km=2, category="物流")]
    letters = "bxkzwsga"
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(content)
        fast = {(q, i): ([(h.job.id, h.matched_field, h.distance_km) for h in
                          store.search_jobs(q, today=TODAY, limit=3000, **kw)],
                         [h.job.id for h in store.search_jobs(q, today=TODAY, limit=50, offset=50, **kw)],
                         store.count_jobs(q, today=TODAY, **kw))
                for q in letters for i, kw in enumerate(filters)}
        conn = store._conn()
        assert conn.execute("SELECT count(*) FROM content_job_bits").fetchone()[0] > 0
        conn.execute("DELETE FROM content_job_bits")  # as content applied by an older version
    with Store(tmp_path / "s.db", ORIGIN) as walked:
        for q in letters:
            for i, kw in enumerate(filters):
                page, second, count = fast[(q, i)]
                assert [(h.job.id, h.matched_field, h.distance_km) for h in
                        walked.search_jobs(q, today=TODAY, limit=3000, **kw)] == page, (q, kw)
                assert [p[0] for p in page[50:100]] == second, (q, kw)
                assert walked.count_jobs(q, today=TODAY, **kw) == count == len(page), (q, kw)
                assert not {"future", "expired"} & {p[0] for p in page}
    assert fast[("b", 0)][2] > 0 and fast[("b", 3)][2] < fast[("b", 0)][2]


# --- longer queries: title terms' own key tables and job bitsets -----------------------------------

MULTI = ("ba", "zh", "sh", "an", "bj", "pg", "cs", "bao", "kua", "zhan", "xing", "baoj", "baojie", "kuaidi", "jz", "jiazheng", "yinhang",
         "xingzheng", "hz", "zhangyun", "changyun", "bjie", "dgong", "wl", "wy", "lvhua", "nvgong", "cadz", "qqq")
FILTERS = (dict(radius_km=None), dict(radius_km=3), dict(radius_km=None, category="保洁"),
           dict(radius_km=2, category="物流"))


def pages(store: Store, queries: tuple[str, ...]) -> dict:
    """Every job each query finds (id, field, distance), its second page and its count, per filter."""
    return {(q, i): ([(h.job.id, h.matched_field, h.distance_km)
                      for h in store.search_jobs(q, today=TODAY, limit=5000, **kw)],
                     [h.job.id for h in store.search_jobs(q, today=TODAY, limit=50, offset=50, **kw)],
                     store.count_jobs(q, today=TODAY, **kw))
            for q in queries for i, kw in enumerate(FILTERS)}


def multi_content() -> ContentSet:
    content = sample_content(origin=ORIGIN, jobs=1500, seed=13, today=TODAY)
    content.jobs = content.jobs + [
        job("green", "绿化养护工", employer="包装女工之家", category="其他", km=0.5),
        job("bank", "银行大堂保安", employer="长运物流有限公司", category="保安", km=0.8),
        job("clerk", "行政文员", employer="单证服务中心", category="文员", km=1.5),
        job("future", "保洁员", km=0.1).model_copy(update={"published": TODAY + dt.timedelta(days=1)}),
        job("expired", "保安", km=0.2).model_copy(update={"valid_until": TODAY - dt.timedelta(days=1)})]
    return content


def test_longer_queries_same_jobs_by_bitsets_as_by_the_row_walk(tmp_path: Path) -> None:
    """Queries of two letters and more are answered from the title key tables and job bitsets; they must
    give the very jobs, fields, order, pages and counts the SQL row walk gives (which content applied
    without them still uses)."""
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(multi_content())
        conn = store._conn()
        assert tuple(conn.execute("SELECT value FROM content_meta WHERE key = 'job_sets'").fetchone()) == ("3",)
        assert conn.execute("SELECT count(*) FROM content_job_bits WHERE name = 'other:bao'").fetchone()[0] == 1
        titles = conn.execute("SELECT count(DISTINCT tid) FROM content_py_title_full").fetchone()[0]
        assert 0 < titles == conn.execute("SELECT count(DISTINCT title_tid) FROM content_jobs").fetchone()[0]
        fast = pages(store, MULTI)
        conn.execute("DELETE FROM content_meta WHERE key = 'job_sets'")  # as content applied without them
    with Store(tmp_path / "s.db", ORIGIN) as walked:
        assert pages(walked, MULTI) == fast
    found = {q: {p[0] for p in fast[(q, 0)][0]} for q in MULTI}
    assert {"green", "bank", "clerk"} <= found["bao"] | found["changyun"] | found["hz"]
    assert "green" in found["lvhua"] and "green" in found["nvgong"]  # ü as v, in the title and the employer
    assert not {"future", "expired"} & set().union(*found.values())
    assert fast[("bao", 0)][2] > fast[("bao", 3)][2] > 0 and fast[("qqq", 0)][2] == 0
    hits = fast[("changyun", 0)][0]
    assert ("bank", "employer") in [h[:2] for h in hits]  # 长运物流: found by the employer, so labelled


def test_store_upgraded_from_schema_2_searches_its_old_content_then_the_new(tmp_path: Path) -> None:
    """A station database written by the previous version (schema 2: no title key tables, no prefix
    bitsets) opens, is migrated, still finds every job until the next apply, and uses the new tables after it."""
    db = tmp_path / "s.db"
    content = multi_content()
    with Store(db, ORIGIN) as store:
        store.replace_content(content)
        expected = pages(store, MULTI[:12])
    # turn it into what schema 2 left: the tables of version 3 absent, no prefix bitsets, no meta key
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE content_py_title_initials")
    conn.execute("DROP TABLE content_py_title_full")
    conn.execute("DELETE FROM content_job_bits WHERE (name LIKE 'title:%' OR name LIKE 'other:%') "
                 "AND length(name) > 7")  # prefixes of two letters and more: version 3 only
    conn.execute("DELETE FROM content_meta WHERE key = 'job_sets'")
    conn.execute("UPDATE content_schema SET version = 2")
    conn.commit()
    conn.close()
    with Store(db, ORIGIN) as store:
        conn = store._conn()
        assert tuple(conn.execute("SELECT version FROM content_schema").fetchone()) == (3,)
        assert tuple(conn.execute("SELECT count(*) FROM content_py_title_full").fetchone()) == (0,)
        assert pages(store, MULTI[:12]) == expected
        store.replace_content(content)
        assert conn.execute("SELECT count(*) FROM content_py_title_full").fetchone()[0] > 0
        assert tuple(conn.execute("SELECT value FROM content_meta WHERE key = 'job_sets'").fetchone()) == ("3",)
        assert pages(store, MULTI[:12]) == expected


def test_first_bits_of_a_job_set() -> None:
    import random

    from content.search_plan import first_bits

    rng = random.Random(3)
    for _ in range(200):
        top = rng.randint(0, 20000)
        jobs = sorted(rng.sample(range(top + 1), rng.randint(0, min(top + 1, 300))))
        k = rng.randint(0, 400)
        assert first_bits(sum(1 << n for n in jobs), k) == jobs[:k]
    # sets as dense as a one-letter query's (read by bytes), as sparse as a rare title's, and both
    for share in (0.9, 0.5, 0.1, 0.02, 0.001):
        jobs = [n for n in range(30000) if rng.random() < share]
        jobs += [n for n in range(30000, 60000, 997)]
        for k in (1, 7, 50, 333, len(jobs), len(jobs) + 5):
            assert first_bits(sum(1 << n for n in jobs), k) == jobs[:k], (share, k)


def test_a_job_changed_by_an_apply_is_shown_as_it_now_is(tmp_path: Path) -> None:
    """Jobs once shown are kept built between searches: an apply that changes one must show the change."""
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(ContentSet(jobs=[job("a", "保洁员", employer="城东物业"), job("b", "保安", km=2)]))
        for query in ("bjy", "保洁", "", "baoj"):
            assert [(h.job.id, h.job.employer) for h in store.search_jobs(query, radius_km=None, today=TODAY)][:1] \
                == [("a", "城东物业")]
        store.replace_content(ContentSet(jobs=[job("a", "保洁员", employer="城西物业"), job("b", "保安", km=2)]))
        for query in ("bjy", "保洁", "", "baoj"):
            assert [(h.job.id, h.job.employer) for h in store.search_jobs(query, radius_km=None, today=TODAY)][:1] \
                == [("a", "城西物业")]


@pytest.mark.parametrize("shared", [False, True], ids=["another connection", "the same connection"])
def test_a_search_sees_content_applied_by_another_store(tmp_path: Path, shared: bool) -> None:
    """What every search reads of the content set (counts, generation, the radius bound) is kept
    between searches until something is committed: an apply by another store, on another
    connection (another process: SQLite's data_version) or on this thread's own connection of a
    shared Database (its change count), must be seen by the very next search."""
    from content.db import Database
    from content.store_schema import TABLES

    db = Database(tmp_path / "s.db", [TABLES]) if shared else tmp_path / "s.db"
    with Store(db, ORIGIN) as reader, Store(db, ORIGIN) as writer:
        writer.replace_content(ContentSet(jobs=[job("a", "保洁员", km=0.5), job("b", "保安", km=2)]))
        for query in ("bjy", "bao", "b", "保洁"):
            assert found(reader, query)[:1] == ["a"], query
        assert reader.count_jobs("b", radius_km=3, today=TODAY) == 2
        writer.replace_content(ContentSet(jobs=[job("c", "保洁员", km=4), job("d", "电工", km=1)]))
        for query in ("bjy", "bao", "b", "保洁"):
            assert found(reader, query) == ["c"], query
        assert reader.count_jobs("b", radius_km=3, today=TODAY) == 0  # c is 4 km away: the radius bound moved
        assert found(reader, "dg") == ["d"]
    if shared:
        db.close()


def test_first_titles_of_a_union_taken_a_window_at_a_time() -> None:
    """A query's title matches are the union of its titles' job sets within the filters; the page is
    taken from a growing window of the lowest bits: it must be exactly the first jobs of the whole union."""
    import random

    from content.search_plan import _Found, first_bits

    rng = random.Random(5)
    for _ in range(300):
        top = rng.choice((100, 3000, 40000, 120000))
        parts = [sum(1 << n for n in rng.sample(range(top), rng.randint(0, min(top, 400))))
                 for _ in range(rng.randint(0, 6))]
        keep = rng.getrandbits(top) if rng.random() < 0.7 else (1 << top) - 1
        union = 0
        for part in parts:
            union |= part
        k = rng.randint(1, 120)
        found = _Found(parts, keep, lambda: 0)
        assert found.first_titles(k) == first_bits(union & keep, k)
        assert found.title == union & keep  # and the whole union, for a count


def test_the_readings_looked_up_are_those_the_rule_gives() -> None:
    """A query's readings are found without listing every segmentation (a long query has hundreds);
    they must be the very ones the rule picks from the full list: every reading of whole syllables
    and the one of initials, and the mixed ones (at most 16, in order) only when there is no reading of
    whole syllables."""
    import random

    rng = random.Random(11)
    syllables = sorted(textsearch.syllables())
    queries = ["kuai", "chachesiji", "bjie", "zhang", "ab", "aeo", "jzfwy", "baojieyuan", "x" * 30, "a" * 14,
               "zhangzhangzhangzhang", "bjbjbjbjbjbjbjbj", "nvgong", "lueyang"]
    queries += ["".join(rng.choice(syllables)[:rng.randint(1, 6)] for _ in range(rng.randint(1, 5))) for _ in range(300)]
    queries += ["".join(rng.choice("abcdefghjklmnopqrstwxyz") for _ in range(rng.randint(1, 10))) for _ in range(300)]
    for query in queries:
        segs = textsearch.segmentations(query)
        reads_whole = any(s.all_full for s in segs)
        for single in (True, False):
            expected = {(s.parts, "initials" if s.all_initials else "full") for s in segs
                        if (s.all_initials or s.all_full) and (single or len(s.parts) > 1)}
            if not reads_whole:
                mixed = [s for s in segs if not (s.all_initials or s.all_full) and (single or len(s.parts) > 1)]
                expected |= {(s.parts, "mixed") for s in mixed[:textsearch.MIXED_LIMIT]}
            got = [(s.parts, index) for s, index in textsearch.readings_to_look_up(query, single=single)]
            assert len(got) == len(set(got)) and set(got) == expected, (query, single)


def test_the_jobs_kept_by_the_filters_follow_the_day_the_radius_and_the_category(tmp_path: Path) -> None:
    """The jobs a pinyin search keeps (open that day, within the radius, of the category) are a bitset
    kept between searches: another day, radius or category must give its own."""
    near = job("near", "保洁员", category="保洁", km=1.0)
    far = job("far", "保洁员", category="保洁", km=5.0)
    ends = near.model_copy(update={"id": "ends", "valid_until": TODAY})
    other = job("guard", "保安员", category="保安", km=1.0)
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(ContentSet(jobs=[near, far, ends, other]))

        def ids(query: str, day: dt.date, **kw) -> list[str]:
            return sorted(h.job.id for h in store.search_jobs(query, today=day, **kw))

        tomorrow = TODAY + dt.timedelta(days=1)
        assert ids("bjy", TODAY, radius_km=3, category="保洁") == ["ends", "near"]
        assert ids("bjy", tomorrow, radius_km=3, category="保洁") == ["near"]
        assert ids("bjy", TODAY, radius_km=3, category="保洁") == ["ends", "near"]
        assert ids("bjy", tomorrow, radius_km=10, category="保洁") == ["far", "near"]
        assert ids("b", tomorrow, radius_km=3, category="保安") == ["guard"]
        assert ids("b", tomorrow, radius_km=3, category=None) == ["guard", "near"]
        assert store.count_jobs("bao", today=tomorrow, radius_km=10) == 3
