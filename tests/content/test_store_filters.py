"""Job filters and eligibility at their boundaries: radius, category, kind, gig day, salary, age, gender."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from common.geo import destination, distance_km
from content.store import DEFAULT_RADIUS, Store, StoreError
from protocol.model import JOB_CATEGORIES, ContentSet, Job

ORIGIN = (26.5830, 106.7135)
TODAY = dt.date(2024, 6, 3)  # a Monday


def job(job_id: str, *, km: float = 1.0, bearing: float = 0.0, **fields) -> Job:
    lat, lon = destination(*ORIGIN, bearing, km)
    base = dict(id=job_id, title="保洁员", employer="城东物业", category="保洁", salary_min=3000,
                salary_max=3500, latitude=lat, longitude=lon, published=TODAY - dt.timedelta(days=3),
                valid_until=TODAY + dt.timedelta(days=30))
    base.update(fields)
    return Job(**base)


def ids(hits) -> set[str]:
    return {h.job.id for h in hits}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "station.db", ORIGIN, default_radius_km=3.0)
    yield s
    s.close()


def test_radius_includes_a_job_exactly_on_the_circle(store: Store) -> None:
    store.replace_content(ContentSet(jobs=[
        job("on", km=3.0, bearing=33), job("inside", km=2.999), job("outside", km=3.001, bearing=200),
        job("far", km=40, bearing=90)]))
    on = store.get_job("on")
    assert abs(distance_km(*ORIGIN, on.latitude, on.longitude) - 3.0) < 1e-6
    assert ids(store.search_jobs(today=TODAY)) == {"on", "inside"}  # omitted: the station's 3 km
    assert ids(store.search_jobs(radius_km=DEFAULT_RADIUS, today=TODAY)) == {"on", "inside"}
    assert ids(store.search_jobs(radius_km=3, today=TODAY)) == {"on", "inside"}
    assert ids(store.search_jobs(radius_km=3.001, today=TODAY)) == {"on", "inside", "outside"}
    assert ids(store.search_jobs(radius_km=None, today=TODAY)) == {"on", "inside", "outside", "far"}
    assert ids(store.search_jobs(radius_km="all", today=TODAY)) == {"on", "inside", "outside", "far"}
    assert store.count_jobs(today=TODAY) == 2
    assert store.count_jobs("保洁", radius_km=None, today=TODAY) == 4
    hits = store.search_jobs(radius_km=None, today=TODAY)
    assert [h.job.id for h in hits] == ["inside", "on", "outside", "far"]  # nearest first
    assert hits[-1].distance_km == pytest.approx(40, abs=1e-6)
    with pytest.raises(StoreError):
        store.search_jobs(radius_km=-1, today=TODAY)
    with pytest.raises(StoreError):
        store.search_jobs(radius_km="near", today=TODAY)


def test_only_open_jobs_show(store: Store) -> None:
    store.replace_content(ContentSet(jobs=[
        job("ends-today", valid_until=TODAY), job("starts-today", published=TODAY),
        job("ended", published=TODAY - dt.timedelta(days=9), valid_until=TODAY - dt.timedelta(days=1)),
        job("future", published=TODAY + dt.timedelta(days=1), valid_until=TODAY + dt.timedelta(days=9))]))
    assert ids(store.search_jobs(today=TODAY)) == {"ends-today", "starts-today"}
    assert ids(store.search_jobs("保洁", today=TODAY)) == {"ends-today", "starts-today"}
    assert ids(store.search_jobs("bj", today=TODAY)) == {"ends-today", "starts-today"}
    assert ids(store.search_jobs(today=TODAY + dt.timedelta(days=1))) == {"starts-today", "future"}
    assert store.category_counts(TODAY)["保洁"] == 2
    assert store.get_job("ended") is not None  # still readable by id (a printed slip may refer to it)


def test_age_limits_are_inclusive_and_gender(store: Store) -> None:
    store.replace_content(ContentSet(jobs=[
        job("18-45", age_min=18, age_max=45), job("any-age"), job("from-50", age_min=50),
        job("men", gender="男", age_max=55), job("women", gender="女")]))
    assert ids(store.search_jobs(age=45, today=TODAY)) == {"18-45", "any-age", "men", "women"}
    assert ids(store.search_jobs(age=46, today=TODAY)) == {"any-age", "men", "women"}
    assert ids(store.search_jobs(age=17, today=TODAY)) == {"any-age", "men", "women"}
    assert ids(store.search_jobs(age=50, today=TODAY)) == {"any-age", "from-50", "men", "women"}
    assert ids(store.search_jobs(age=56, gender="男", today=TODAY)) == {"any-age", "from-50"}
    assert ids(store.search_jobs(age=30, gender="女", today=TODAY)) == {"18-45", "any-age", "women"}
    assert ids(store.jobs_for_person(55, "男", today=TODAY)) == {"any-age", "from-50", "men"}
    assert ids(store.jobs_for_person(55, "男", category="保安", today=TODAY)) == set()
    for hit in store.jobs_for_person(40, "女", today=TODAY):
        assert hit.job.accepts(40, "女")
    with pytest.raises(StoreError):
        store.search_jobs(gender="X", today=TODAY)


def test_category_kind_source_and_salary(store: Store) -> None:
    store.replace_content(ContentSet(jobs=[
        job("clean"), job("guard", title="保安员", category="保安", salary_min=3600, salary_max=4200),
        job("gig", title="搬运工", category="普工", kind="零工", work_date=TODAY, salary_min=200,
            salary_max=220, salary_unit="日"),
        job("hourly", title="钟点工", category="家政", kind="兼职", salary_min=25, salary_max=30, salary_unit="时"),
        job("piece", title="缝纫工", category="普工", salary_min=1, salary_max=3, salary_unit="件"),
        job("public", title="护路员", category="其他", source="公益性岗位", salary_min=1800, salary_max=2000)]))
    assert ids(store.search_jobs(category="保安", today=TODAY)) == {"guard"}
    assert ids(store.search_jobs(category="普工", today=TODAY)) == {"gig", "piece"}
    assert ids(store.search_jobs("工", category="普工", today=TODAY)) == {"gig", "piece"}
    assert ids(store.search_jobs("g", category="普工", today=TODAY)) == {"gig", "piece"}
    assert ids(store.search_jobs(kind="零工", today=TODAY)) == {"gig"}
    assert ids(store.search_jobs(source="公益性岗位", today=TODAY)) == {"public"}
    # monthly equivalents: 220/day x 21.75 = 4785; 30/hour x 174 = 5220; piece rates never qualify
    assert ids(store.search_jobs(min_salary=4200, today=TODAY)) == {"guard", "gig", "hourly"}
    assert ids(store.search_jobs(min_salary=4201, today=TODAY)) == {"gig", "hourly"}
    assert ids(store.search_jobs(min_salary=5220, today=TODAY)) == {"hourly"}
    assert ids(store.search_jobs(min_salary=5221, today=TODAY)) == set()
    counts = store.category_counts(TODAY)
    assert list(counts) == list(JOB_CATEGORIES)
    assert counts["普工"] == 2 and counts["保安"] == 1 and counts["餐饮"] == 0
    assert sum(counts.values()) == 6


def test_gigs_today_and_this_week(store: Store) -> None:
    def gig(job_id: str, day: int) -> Job:
        date = TODAY + dt.timedelta(days=day)
        return job(job_id, title="小工", category="建筑", kind="零工", work_date=date, valid_until=date,
                   salary_min=200, salary_max=200, salary_unit="日")

    store.replace_content(ContentSet(jobs=[gig("d0", 0), gig("d1", 1), gig("d6", 6), gig("d7", 7),
                                           job("fulltime")]))
    assert ids(store.search_jobs(when="today", today=TODAY)) == {"d0"}
    assert ids(store.search_jobs(when="week", today=TODAY)) == {"d0", "d1", "d6"}
    assert ids(store.search_jobs(kind="零工", today=TODAY)) == {"d0", "d1", "d6", "d7"}
    assert ids(store.search_jobs(when="today", today=TODAY + dt.timedelta(days=1))) == {"d1"}
    with pytest.raises(StoreError):
        store.search_jobs(when="month", today=TODAY)


def test_paging_and_featured(store: Store) -> None:
    jobs = [job(f"j{i:02d}", km=0.1 * i, published=TODAY - dt.timedelta(days=i % 5)) for i in range(1, 41)]
    store.replace_content(ContentSet(jobs=jobs))
    first = store.search_jobs(today=TODAY, limit=10)
    second = store.search_jobs(today=TODAY, limit=10, offset=10)
    everything = store.search_jobs(today=TODAY, limit=100)
    assert [h.job.id for h in first + second] == [h.job.id for h in everything[:20]]
    assert len(everything) == store.count_jobs(today=TODAY) == 30  # 0.1 .. 3.0 km
    featured = store.featured_jobs(limit=5, today=TODAY)
    assert len(featured) == 5
    assert all(h.job.published == TODAY and h.distance_km <= 3 for h in featured)  # newest, nearby
    assert store.search_jobs(today=TODAY, limit=0) == []
