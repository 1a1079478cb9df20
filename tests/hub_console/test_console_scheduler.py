"""The console's scheduler when several processes poll one hub database (gunicorn workers, or a
second hub): a scheduled publication and the daily retention purge each run exactly once."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from console_kit import FEED, Console, post

from common.netutil import free_port, wait_for_port
from hub.app import create_app
from hub.console import run_scheduled
from hub.console.publishing import claim_schedule, run_due
from hub.console.schema import audit_log, publications, schedules

ROOT = Path(__file__).resolve().parents[2]
HEADER = "岗位编号,岗位名称,用人单位,岗位类别,用工形式,薪资下限（元）,薪资上限（元）,薪资单位,纬度,经度,发布日期,有效期至\n"
GOOD = "job-a,保洁员,云岩物业公司,保洁,全职,2200,2800,月,26.58,106.71,2026-11-01,2026-12-31\n"


def _approved_and_scheduled(console: Console, hours: int = 3) -> int:
    editor, reviewer, publisher = console.client("editor"), console.client("reviewer"), console.client("publisher")
    post(editor, "/console/import", {"kind": "job", "feed_id": FEED, "file": (io.BytesIO((HEADER + GOOD).encode()),
                                                                              "jobs.csv")},
         content_type="multipart/form-data")
    with console.engine.begin() as conn:
        pending = list(conn.execute(sa.text("SELECT id FROM console_items WHERE state = 'pending'")).scalars())
    post(reviewer, "/console/review", {"item": pending, "decision": "approve"})
    due = (console.clock() + dt.timedelta(hours=hours)).astimezone().strftime("%Y-%m-%dT%H:%M")
    post(publisher, f"/console/publish/{FEED}/schedule", {"due_at": due})
    with console.engine.begin() as conn:
        return conn.execute(sa.select(schedules.c.id).where(schedules.c.state == "waiting")).scalar_one()


def _audits(console: Console, action: str) -> int:
    with console.engine.begin() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(audit_log)
                            .where(audit_log.c.action == action)).scalar_one()


def test_a_schedule_claimed_by_another_worker_is_not_run_twice(console: Console, tmp_path: Path) -> None:
    schedule_id = _approved_and_scheduled(console)
    console.clock.advance(hours=3)
    # A second process on the same database (its own engine and pool) claims the schedule first.
    other = create_app(console.home, console_clock=console.clock, database_url=console.database_url)
    try:
        assert claim_schedule(other.extensions["console"].engine, schedule_id, console.clock())
        assert not claim_schedule(console.engine, schedule_id, console.clock())
        ctx = console.app.extensions["console"]
        assert run_due(ctx.engine, ctx.home, ctx.feeds_dir, console.clock()) == []
        assert not (console.home / "feeds" / FEED / "manifest.json").exists()
    finally:
        other.extensions["hub_store"].close()


def test_a_publication_whose_process_stopped_fails_with_a_reason_and_is_not_rerun(console: Console) -> None:
    """A worker claimed a due publication and was killed: the schedule must not say 执行中
    for ever. After RUNNING_LIMIT it fails with a reason staff can act on, once, audited."""
    from hub.console.publishing import INTERRUPTED_TEXT, RUNNING_LIMIT

    schedule_id = _approved_and_scheduled(console)
    console.clock.advance(hours=3)
    assert claim_schedule(console.engine, schedule_id, console.clock())  # ... and its process died
    ctx = console.app.extensions["console"]
    console.clock.advance(seconds=RUNNING_LIMIT.total_seconds() - 60)
    assert run_due(ctx.engine, ctx.home, ctx.feeds_dir, console.clock()) == []  # still within the limit
    assert _state(console, schedule_id) == "running"
    console.clock.advance(seconds=120)
    assert run_due(ctx.engine, ctx.home, ctx.feeds_dir, console.clock()) == [(schedule_id, INTERRUPTED_TEXT)]
    assert run_due(ctx.engine, ctx.home, ctx.feeds_dir, console.clock()) == []
    assert _state(console, schedule_id) == "failed"
    assert _audits(console, "定时发布") == 1
    assert not (console.home / "feeds" / FEED / "manifest.json").exists()  # not published behind staff's back
    page = console.client("publisher").get("/console/publish").get_data(as_text=True)
    assert "发布中断" in page


def test_a_hub_database_from_before_claim_times_upgrades_and_fails_its_running_schedules(tmp_path: Path) -> None:
    """A hub upgraded while a publication was running: the step that adds claim times keeps
    every schedule, and the one left running (its process is gone) fails on the next round."""
    from hub.console.publishing import INTERRUPTED_TEXT
    from hub.console.schema import MIGRATIONS
    from hub.db import Migrations, make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        old = Migrations("console", MIGRATIONS.steps[:3])
        assert migrate(engine, [old]) == {"console": 3}
        with engine.begin() as conn:
            # Step 1 is made from today's table definitions: take the column away, as it was.
            conn.execute(sa.text("ALTER TABLE console_schedules DROP COLUMN claimed_at"))
            conn.execute(sa.text("INSERT INTO console_schedules (feed_id, due_at, by_user, state) VALUES "
                                 "('gy-test', '2026-11-20T02:00:00+00:00', 'fabu', 'running'), "
                                 "('gy-test', '2026-12-20T02:00:00+00:00', 'fabu', 'waiting')"))
        assert migrate(engine, [MIGRATIONS]) == {"console": len(MIGRATIONS.steps)}
        now = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
        assert run_due(engine, tmp_path, tmp_path / "feeds", now) == [(1, INTERRUPTED_TEXT)]
        with engine.begin() as conn:
            states = dict(conn.execute(sa.select(schedules.c.id, schedules.c.state)).all())
        assert states == {1: "failed", 2: "waiting"}
    finally:
        engine.dispose()


def test_the_daily_purge_runs_once_a_day_whichever_process_polls(console: Console) -> None:
    other = create_app(console.home, console_clock=console.clock, database_url=console.database_url)
    try:
        contexts = [console.app.extensions["console"], other.extensions["console"]]
        for ctx in contexts * 2:
            run_scheduled(ctx)
        assert _audits(console, "到期清除登记") == 1
        console.clock.advance(days=1)
        for ctx in contexts:
            run_scheduled(ctx)
        assert _audits(console, "到期清除登记") == 2
    finally:
        other.extensions["hub_store"].close()


def test_gunicorn_workers_publish_a_scheduled_feed_once(console: Console) -> None:
    schedule_id = _approved_and_scheduled(console)
    # The workers use the real clock: make the schedule due long ago.
    with console.engine.begin() as conn:
        conn.execute(schedules.update().where(schedules.c.id == schedule_id).values(due_at="2000-01-01T00:00:00+00:00"))
    port = free_port()
    code = ("import sys; from hub.wsgi import HubGunicorn; "
            "HubGunicorn(sys.argv[1], database=sys.argv[2], port=int(sys.argv[3]), workers=3, threads=1, "
            "scheduler_interval_s=0.1).run()")
    process = subprocess.Popen([sys.executable, "-c", code, str(console.home), console.database_url, str(port)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, timeout=60)
        deadline = time.monotonic() + 60
        while _state(console, schedule_id) in ("waiting", "running") or _audits(console, "到期清除登记") == 0:
            assert time.monotonic() < deadline, "the workers' schedulers did not run the due jobs"
            assert process.poll() is None, process.stderr.read().decode()[-2000:] if process.stderr else ""
            time.sleep(0.1)
        # Let every worker poll a few more rounds: none may run the jobs again.
        time.sleep(1.0)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert _state(console, schedule_id) == "done"
    with console.engine.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(publications)).scalar_one() == 1
    assert _audits(console, "定时发布") == 1
    assert _audits(console, "到期清除登记") == 1
    assert (console.home / "feeds" / FEED / "manifest.json").exists()


def _state(console: Console, schedule_id: int) -> str:
    with console.engine.begin() as conn:
        return conn.execute(sa.select(schedules.c.state).where(schedules.c.id == schedule_id)).scalar_one()
