"""Replacing the content set: all or nothing, readers never see a mix, even when the writer is killed."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from content.db import connect
from content.db import durable as durable_write
from content.sample import sample_content
from content.store import SCHEMA_VERSION, Store, StoreError
from protocol.model import Announcement, ContentSet, Event, Policy

ORIGIN = (26.5830, 106.7135)
TODAY = dt.date(2024, 6, 3)
NOW = dt.datetime(2024, 6, 3, 10, 0)
REPO = Path(__file__).resolve().parents[2]


def sample(seed: int, jobs: int) -> ContentSet:
    return sample_content(origin=ORIGIN, jobs=jobs, seed=seed, today=TODAY)


def test_content_info_and_every_kind_of_record(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", ORIGIN) as store:
        info = store.content_info()
        assert (info.feed_id, info.version, info.applied_at) == ("", 0, None)
        content = sample(1, 50)
        content.documents = {"board_schedule": {"slots": [{"kind": "jobs", "seconds": 30}]}}
        store.replace_content(content, feed_id="gy-yunyan", version=12)
        info = store.content_info()
        assert (info.feed_id, info.version) == ("gy-yunyan", 12)
        assert info.applied_at is not None and info.applied_at.tzinfo is not None
        assert info.counts == {"jobs": 50, "policies": 7, "events": 5, "courses": 0, "announcements": 5,
                               "documents": 1}
        assert store.document("board_schedule") == {"slots": [{"kind": "jobs", "seconds": 30}]}
        assert store.document("nothing") is None
        assert store.get_job(content.jobs[7].id) == content.jobs[7]
        assert store.get_job("no-such-job") is None
        assert store.export_content().jobs == sorted(
            content.jobs, key=lambda j: (store.job_distance_km(j), -j.published.toordinal(), j.id))


def test_policies_events_and_announcements_in_their_windows(tmp_path: Path) -> None:
    policies = [
        Policy(id="p1", title="吸纳就业补贴", category="就业补贴"),
        Policy(id="p2", title="创业担保贷款", category="创业扶持", effective_from=TODAY + dt.timedelta(days=1)),
        Policy(id="p3", title="培训补贴", category="培训补贴", effective_to=TODAY),
        Policy(id="p4", title="旧补贴", category="就业补贴", effective_to=TODAY - dt.timedelta(days=1)),
    ]
    events = [
        Event(id="e-later", title="招聘会", starts_at=NOW + dt.timedelta(days=2), ends_at=NOW + dt.timedelta(days=2, hours=3)),
        Event(id="e-now", title="零工对接", starts_at=NOW - dt.timedelta(hours=1), ends_at=NOW + dt.timedelta(hours=1)),
        Event(id="e-past", title="旧招聘会", starts_at=NOW - dt.timedelta(days=3), ends_at=NOW - dt.timedelta(days=3, hours=-2)),
    ]
    announcements = [
        Announcement(id="a-kiosk", text="培训报名", starts_at=NOW - dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=1),
                     target="kiosk"),
        Announcement(id="a-urgent", text="暴雨预警", priority="urgent", starts_at=NOW, ends_at=NOW + dt.timedelta(hours=5)),
        Announcement(id="a-board", text="招聘会通知", starts_at=NOW - dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=1),
                     target="board"),
        Announcement(id="a-old", text="旧通知", starts_at=NOW - dt.timedelta(days=9), ends_at=NOW - dt.timedelta(days=8)),
        Announcement(id="a-soon", text="明天的通知", starts_at=NOW + dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=2)),
    ]
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(ContentSet(policies=policies, events=events, announcements=announcements))
        assert [p.id for p in store.policies(today=TODAY)] == ["p1", "p3"]
        assert [p.id for p in store.policies(category="就业补贴", today=TODAY)] == ["p1"]
        assert store.get_policy("p2").title == "创业担保贷款"
        assert [e.id for e in store.events(now=NOW)] == ["e-now", "e-later"]
        assert [a.id for a in store.announcements("kiosk", now=NOW)] == ["a-urgent", "a-kiosk"]
        assert [a.id for a in store.announcements("board", now=NOW)] == ["a-urgent", "a-board"]
        aware = NOW.replace(tzinfo=dt.datetime.now().astimezone().tzinfo)
        assert [a.id for a in store.announcements("board", now=aware)] == ["a-urgent", "a-board"]
        with pytest.raises(StoreError):
            store.announcements("phone", now=NOW)


def test_an_error_inside_the_transaction_keeps_the_old_set(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", ORIGIN) as store:
        old = sample(1, 120)
        store.replace_content(old, feed_id="feed", version=1)
        bj_before = store.count_jobs("bj", radius_km=None, today=TODAY)
        new = sample(2, 300)
        new.documents = {"board_schedule": {"not json": {1, 2, 3}}}  # fails while writing, after the jobs
        with pytest.raises(TypeError):
            store.replace_content(new, feed_id="feed", version=2)
        info = store.content_info()
        assert info.version == 1 and info.counts["jobs"] == 120 and info.counts["documents"] == 0
        assert {h.job.id for h in store.search_jobs(radius_km=None, today=TODAY, limit=500)} == {
            j.id for j in old.jobs}
        assert store.count_jobs("bj", radius_km=None, today=TODAY) == bj_before > 0
        dup = sample(3, 10)
        dup.jobs.append(dup.jobs[0])
        with pytest.raises(StoreError, match="appears twice"):
            store.replace_content(dup, version=3)
        assert store.content_info().version == 1


def test_a_writer_killed_mid_replacement_leaves_the_old_set(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    marker = tmp_path / "inside-transaction"
    with Store(db, ORIGIN) as store:
        store.replace_content(sample(1, 200), feed_id="feed", version=1)
        before = [h.job.id for h in store.search_jobs("保洁", radius_km=None, today=TODAY, limit=500)]
    # The child replaces the set with another one and stops dead just before committing: its jobs,
    # texts and indexes are written (uncommitted) when it is killed.
    script = textwrap.dedent(f"""
        import datetime as dt, json, pathlib, time
        from content import store as st
        from content.sample import sample_content
        content = sample_content(origin={ORIGIN!r}, jobs=3000, seed=2, today=dt.date(2024, 6, 3))
        content.documents = {{"board_schedule": {{"last": True}}}}
        real_dumps = json.dumps
        def dumps(obj, *args, **kwargs):
            if obj == {{"last": True}}:
                pathlib.Path({str(marker)!r}).write_text("in")
                time.sleep(120)
            return real_dumps(obj, *args, **kwargs)
        st.json.dumps = dumps
        st.Store(pathlib.Path({str(db)!r}), {ORIGIN!r}).replace_content(content, feed_id="feed", version=2)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert child.poll() is None, "the writer ended before reaching its transaction"
            assert time.monotonic() < deadline, "the writer never reached its transaction"
            time.sleep(0.05)
        with Store(db, ORIGIN) as reader:  # meanwhile, readers still see the old set
            assert reader.content_info().version == 1
            assert [h.job.id for h in reader.search_jobs("保洁", radius_km=None, today=TODAY, limit=500)] == before
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    with Store(db, ORIGIN) as store:
        info = store.content_info()
        assert info.version == 1 and info.counts["jobs"] == 200 and info.counts["documents"] == 0
        assert [h.job.id for h in store.search_jobs("保洁", radius_km=None, today=TODAY, limit=500)] == before
        assert store.count_jobs("bj", radius_km=None, today=TODAY) == len(
            store.search_jobs("bj", radius_km=None, today=TODAY, limit=500))
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()


def test_readers_in_other_threads_see_one_set_or_the_other(tmp_path: Path) -> None:
    sets = {1: sample(1, 400), 2: sample(2, 150)}
    prefixes = {1: "job-1-", 2: "job-2-"}
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(sets[1], version=1)
        stop = threading.Event()
        seen: list[set[str]] = []
        errors: list[BaseException] = []

        def read() -> None:
            try:
                while not stop.is_set():
                    for query in ("工", "bj", "", "保洁"):
                        hits = store.search_jobs(query, radius_km=None, today=TODAY, limit=1000)
                        seen.append({h.job.id[:6] for h in hits})
            except BaseException as exc:  # reported in the main thread
                errors.append(exc)

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        for i in range(6):
            store.replace_content(sets[2 - i % 2], version=i + 2)
        stop.set()
        for t in readers:
            t.join(timeout=60)
        assert not errors
        assert seen and all(len(s) <= 1 for s in seen)  # never a mix of two sets in one answer
        assert {p for s in seen for p in s} <= set(prefixes.values())


def test_jobs_are_reranked_when_the_station_moves(tmp_path: Path) -> None:
    content = sample(4, 300)
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(content, feed_id="f", version=3)
    elsewhere = (ORIGIN[0] + 0.05, ORIGIN[1] - 0.04)  # about 6.6 km away
    with Store(tmp_path / "s.db", elsewhere) as moved:
        hits = moved.search_jobs(radius_km=None, today=TODAY, limit=1000)
        assert [h.distance_km for h in hits] == sorted(h.distance_km for h in hits)
        assert {h.job.id for h in hits} == {j.id for j in content.jobs}
        near = {h.job.id for h in moved.search_jobs(today=TODAY, limit=1000)}
        assert near == {j.id for j in content.jobs if moved.job_distance_km(j) <= 3}
        assert moved.content_info().version == 3


def test_schema_version_is_recorded_and_newer_schemas_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(db, ORIGIN).close()
    Store(db, ORIGIN).close()  # opening again migrates nothing and loses nothing
    conn = connect(db)
    assert [tuple(r) for r in conn.execute("SELECT version FROM content_schema")] == [(SCHEMA_VERSION,)]
    conn.execute("UPDATE content_schema SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(StoreError, match="upgrade"):
        Store(db, ORIGIN)


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", ORIGIN)
    store.close()
    with pytest.raises(StoreError):
        store.search_jobs()


def test_residents_writes_go_through_while_content_is_applied(tmp_path: Path) -> None:
    """A large apply is written in short batches, with the write lock free between them: a registration
    or a print job made meanwhile goes through at once (here: with no busy wait at all), readers keep
    seeing the old set until the new one is complete, and a failure part-way leaves nothing behind."""
    db = tmp_path / "s.db"
    resident = connect(db, timeout=0)  # a writer that would fail at once if the lock were held
    resident.execute("CREATE TABLE IF NOT EXISTS resident_writes (n INTEGER PRIMARY KEY, at TEXT)")
    pauses: list[tuple[int, int]] = []

    def between_batches(seconds: float) -> None:
        with durable_write(resident):
            resident.execute("INSERT INTO resident_writes (at) VALUES ('during apply')")
        with Store(db, ORIGIN) as reader:
            info = reader.content_info()
            pauses.append((info.version, info.counts["jobs"]))

    old, new = sample(1, 120), sample(2, 300)
    # pause_every_s=0: the lock is left free after every batch, however short (the default waits
    # until the batches since the last pause held it 15 ms: a small feed then costs no pauses)
    with Store(db, ORIGIN, apply_batch_rows=200, apply_pause=between_batches, pause_every_s=0) as store:
        store.replace_content(old, feed_id="feed", version=1)
        pauses.clear()
        store.replace_content(new, feed_id="feed", version=2)
        assert len(pauses) >= 5
        # readers saw the old set, whole, until the swap; then the new one (old tables are dropped after)
        assert set(pauses) == {(1, 120), (2, 300)} and pauses == sorted(pauses)
        assert pauses.count((1, 120)) >= 5
        assert resident.execute("SELECT count(*) FROM resident_writes").fetchone()[0] >= 5
        info = store.content_info()
        assert (info.version, info.counts["jobs"]) == (2, 300)
        assert {h.job.id for h in store.search_jobs(radius_km=None, today=TODAY, limit=1000)} == {
            j.id for j in new.jobs}
        assert store.count_jobs("bj", radius_km=None, today=TODAY) == len(
            store.search_jobs("bj", radius_km=None, today=TODAY, limit=1000))
        assert store.search_jobs("保洁", radius_km=3.0, category="保洁", today=TODAY, limit=5)

        def fail_half_way(seconds: float) -> None:
            between_batches(seconds)
            if len(pauses) == 4:
                raise RuntimeError("power cut")

        store._apply_pause = fail_half_way
        pauses.clear()
        with pytest.raises(RuntimeError, match="power cut"):
            store.replace_content(old, feed_id="feed", version=3)
        store._apply_pause = between_batches
        assert store.content_info().version == 2
        tables = {r[0] for r in resident.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not {t for t in tables if "_next" in t or "_old" in t}
        store.replace_content(old, feed_id="feed", version=4)
        assert store.content_info().counts["jobs"] == 120
    resident.close()
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()


@pytest.mark.parametrize("held_ms", [1, 5, 15, 40, 90, 150, 230, 250, 400])
def test_a_writer_waiting_in_the_busy_handler_gets_in_after_any_batch(held_ms: int) -> None:
    """SQLite's busy handler sleeps in growing steps (up to 100 ms); a writer that came when a batch
    of the apply began retries only at the end of its current step. The pause after the batch must
    last past that retry, or the next batch takes the lock again first (a writer then starves)."""
    from content.store import _BUSY_DELAYS_MS, _pause_after

    pause_ms = _pause_after(held_ms / 1000) * 1000
    waited = 0
    for delay in (*_BUSY_DELAYS_MS, *[_BUSY_DELAYS_MS[-1]] * 100):  # retries, in ms since it came
        waited += delay
        if waited > held_ms:
            break
    assert held_ms < waited < held_ms + pause_ms  # its first retry after the batch falls in the pause
    assert pause_ms < 106  # and the apply does not idle longer than the longest step


def test_a_small_feed_is_applied_without_idle_pauses(tmp_path: Path) -> None:
    """A village station's few hundred jobs hold the lock for a few ms per batch: the apply leaves the
    lock free only once the batches since the last pause have held it ``pause_every_s`` in all."""
    pauses: list[float] = []
    with Store(tmp_path / "s.db", ORIGIN, apply_pause=pauses.append, pause_every_s=3600) as store:
        store.replace_content(sample(1, 120), feed_id="feed", version=1)
        assert pauses == []  # never an hour of lock time: never a pause
        assert store.content_info().counts["jobs"] == 120
    with Store(tmp_path / "t.db", ORIGIN, apply_pause=pauses.append, pause_every_s=0) as store:
        store.replace_content(sample(1, 120), feed_id="feed", version=1)
        assert len(pauses) >= 3  # a pause after every batch
