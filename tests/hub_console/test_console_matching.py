"""人岗匹配 in the console: a registrar opens 推荐岗位 on a registration and 匹配人员 on a published
job, and marks 已推荐 in one click; names stay masked; other roles are refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import sqlalchemy as sa
from console_kit import FEED, Console, post

from common.geo import destination
from hub.console.publishing import publish_group
from hub.console.schema import registrations, service_counts
from hub.console.seed import seed_source

STATION = (26.58, 106.71)
PERSON = {"name": "钱七妹", "id_number": "52010319850304002X", "gender": "女", "birth_date": "1985-03-04",
          "address": "贵州省贵阳市南明区花果园2栋", "phone": "13512345678"}


def _job(job_id: str, category: str, km: float, pay: int, **extra: object) -> dict[str, object]:
    lat, lon = destination(*STATION, 90.0, km)
    return {"id": job_id, "title": f"{category}员", "employer": f"{job_id}公司", "category": category,
            "salary_min": pay - 500, "salary_max": pay, "latitude": lat, "longitude": lon,
            "published": "2026-11-01", "valid_until": "2027-03-31", **extra}


def _published(console: Console, tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "documents").mkdir(parents=True)
    jobs = [_job("bj-far", "保洁", 8, 5200), _job("bj-near", "保洁", 1, 3000), _job("bj-best", "保洁", 2, 4800),
            _job("pg-near", "普工", 1, 6000), _job("bj-men", "保洁", 1, 9000, gender="男"),
            _job("bj-gig", "保洁", 1, 200, kind="零工", work_date="2026-11-21", salary_unit="日"),
            _job("bj-new", "保洁", 2.8, 4000, published="2026-11-18"), _job("pg-new", "普工", 1, 4000, published="2026-11-19")]
    (source / "jobs.json").write_text(json.dumps(jobs, ensure_ascii=False), encoding="utf-8")
    (source / "documents" / "stations.json").write_text(json.dumps([
        {"id": "s-1", "name": "城东社区服务站", "latitude": STATION[0], "longitude": STATION[1]}], ensure_ascii=False),
        encoding="utf-8")
    seed_source(console.engine, console.home, source, feed_id=FEED, regions=["520100"], now=console.clock())
    publish_group(console.engine, console.home, console.home / "feeds", FEED, "publisher", console.clock())
    console.store.add_station("s-1", "城东社区服务站")
    created = "2026-11-19T09:00:00+08:00"
    for key, code, kind, answers in (
            ("reg-key-000001", "MQ7K2A", "求职", {"categories": ["保洁"], "salary": "面议", "available_from": "2026-11-20"}),
            ("reg-key-000002", "TR4N8B", "培训需求", {"trainings": ["电工"]})):
        answer = console.store.ingest("s-1", "registration", [{"key": key, "created_at": created, "payload": {
            "code": code, "kind": kind, "station_id": "s-1", "created_at": created, "person": PERSON,
            "answers": answers}}])
        assert answer[0]["status"] == "created"


def _upload_id(console: Console, code: str) -> int:
    with console.engine.connect() as conn:
        return conn.execute(sa.select(registrations.c.upload_id).where(registrations.c.code == code)).scalar_one()


def test_the_registrar_sees_recommended_jobs_and_marks_one_in_a_click(console: Console, tmp_path: Path) -> None:
    _published(console, tmp_path)
    registrar = console.client("registrar")
    registrar.get("/console/registrations")  # folds the uploads in
    reg = _upload_id(console, "MQ7K2A")
    detail = registrar.get(f"/console/registrations/{reg}").data.decode()
    assert f'href="/console/registrations/{reg}/jobs"' in detail
    page = registrar.get(f"/console/registrations/{reg}/jobs")
    listed = re.findall(r'data-job="([^"]+)"', page.data.decode())
    # 保洁 only, not the men-only job, not the gig; within 3 km first, the better paid first
    assert page.status_code == 200 and listed == ["bj-best", "bj-new", "bj-near", "bj-far"]
    answer = post(registrar, f"/console/registrations/{reg}/recommend", {"job": "bj-best"})
    assert answer.status_code == 302
    with console.engine.connect() as conn:
        row = conn.execute(sa.select(registrations).where(registrations.c.upload_id == reg)).one()
    assert row.status == "已推荐" and "推荐岗位：保洁员（bj-best公司）" in row.note and row.updated_by == "registrar"
    assert "已推荐" in registrar.get(f"/console/registrations/{reg}").data.decode()


def test_a_job_lists_the_people_it_fits_masked(console: Console, tmp_path: Path) -> None:
    _published(console, tmp_path)
    registrar = console.client("registrar")
    page = registrar.get("/console/jobs/bj-near/people").data.decode()
    assert 'data-registration="MQ7K2A"' in page and "TR4N8B" not in page  # a 培训需求 is not matched
    assert "钱七妹" not in page and "钱*妹" in page
    assert "13512345678" not in page and "52010319850304002X" not in page
    assert 'data-registration' not in registrar.get("/console/jobs/bj-men/people").data.decode()
    assert registrar.get("/console/jobs/no-such-job/people").status_code == 404
    post(registrar, f"/console/registrations/{_upload_id(console, 'MQ7K2A')}/recommend",
         {"job": "bj-near", "back": "/console/jobs/bj-near/people"})
    assert "已推荐" in registrar.get("/console/jobs/bj-near/people").data.decode()


def _counts(console: Console) -> dict[tuple[str, str], int]:
    with console.engine.connect() as conn:
        rows = conn.execute(sa.select(service_counts).where(service_counts.c.metric.in_(["recommended", "employed"])))
        return {(r.station_id, r.metric): r.n for r in rows}


def test_recommendations_and_jobs_found_feed_the_service_results(console: Console, tmp_path: Path) -> None:
    _published(console, tmp_path)
    registrar = console.client("registrar")
    registrar.get("/console/registrations")
    reg = _upload_id(console, "MQ7K2A")
    for job in ("bj-best", "bj-near", "bj-best"):  # the same job twice is one 推荐人次
        post(registrar, f"/console/registrations/{reg}/recommend", {"job": job})
    for _ in range(2):  # marked 已就业 twice: one person
        post(registrar, f"/console/registrations/{reg}/follow-up", {"status": "已就业", "note": "已入职保洁员"})
    assert _counts(console) == {("s-1", "recommended"): 2, ("*", "recommended"): 2, ("s-1", "employed"): 1,
                                ("*", "employed"): 1}
    results = registrar.get("/console/reports/results").data.decode()
    assert "推荐人次" in results and "就业人数" in results


def test_the_weeks_new_jobs_show_how_many_they_fit(console: Console, tmp_path: Path) -> None:
    _published(console, tmp_path)
    page = console.client("registrar").get("/console/matching").data.decode()
    # the two jobs published this week, the one that fits someone first; older jobs are not new
    assert re.findall(r'data-job="([^"]+)" data-people="(\d+)"', page) == [("bj-new", "1"), ("pg-new", "0")]
    assert console.client("editor").get("/console/matching").status_code == 403


def test_other_kinds_say_why_and_other_roles_are_refused(console: Console, tmp_path: Path) -> None:
    _published(console, tmp_path)
    registrar = console.client("registrar")
    registrar.get("/console/registrations")
    training = registrar.get(f"/console/registrations/{_upload_id(console, 'TR4N8B')}/jobs").data.decode()
    assert "培训需求登记不做人岗匹配" in training
    editor = console.client("editor")
    assert editor.get(f"/console/registrations/{_upload_id(console, 'MQ7K2A')}/jobs").status_code == 403
    assert editor.get("/console/jobs/bj-near/people").status_code == 403
