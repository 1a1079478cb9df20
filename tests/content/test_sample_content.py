"""Sample content: realistic, reproducible, around the station, with playable training videos."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import time
from pathlib import Path

from PIL import Image

from common.geo import distance_km
from content.sample import sample_content, sample_rows
from protocol.model import JOB_CATEGORIES, JOB_KINDS, POLICY_CATEGORIES, validate_records

ORIGIN = (26.5830, 106.7135)
TODAY = dt.date(2024, 6, 3)


def test_same_seed_same_content_other_seed_other_content() -> None:
    a = sample_content(origin=ORIGIN, jobs=200, seed=7, today=TODAY)
    b = sample_content(origin=ORIGIN, jobs=200, seed=7, today=TODAY)
    c = sample_content(origin=ORIGIN, jobs=200, seed=8, today=TODAY)
    assert a.jobs == b.jobs and a.policies == b.policies and a.events == b.events
    assert [j.title for j in a.jobs] != [j.title for j in c.jobs]


def test_jobs_cluster_around_the_station_across_categories_and_kinds() -> None:
    jobs = sample_content(origin=ORIGIN, jobs=300, seed=7, today=TODAY).jobs
    assert len({j.id for j in jobs}) == 300
    dists = [distance_km(*ORIGIN, j.latitude, j.longitude) for j in jobs]
    near = sum(d <= 3 for d in dists)
    assert 0.55 * 300 <= near <= 0.8 * 300
    assert any(3 < d <= 15 for d in dists) and any(d > 15 for d in dists)
    assert {j.category for j in jobs} == set(JOB_CATEGORIES)
    assert {j.kind for j in jobs} == set(JOB_KINDS)
    assert all(j.is_open(TODAY) for j in jobs)
    gigs = [j for j in jobs if j.kind == "零工"]
    assert all(TODAY <= j.work_date <= TODAY + dt.timedelta(days=6) for j in gigs)
    assert any(j.work_date == TODAY for j in gigs)
    assert all(j.salary_unit != "月" for j in gigs)
    titles = collections.Counter(j.title for j in jobs)
    assert {"保洁员", "普工", "叉车司机", "电工", "家政服务员", "快递分拣员"} <= set(titles)
    assert all(j.salary_min <= j.salary_max for j in jobs)
    assert all(j.url.endswith(j.id) for j in jobs)


def test_rows_are_the_record_format_and_scale() -> None:
    started = time.perf_counter()
    rows = sample_rows(origin=ORIGIN, jobs=20_000, seed=1, today=TODAY)
    elapsed = time.perf_counter() - started
    good, problems = validate_records("job", rows, today=TODAY)
    assert len(good) == 20_000 and problems == []
    assert elapsed < 10, f"20 000 rows took {elapsed:.1f}s"


def test_policies_events_and_announcements_read_like_real_ones() -> None:
    content = sample_content(origin=ORIGIN, jobs=10, today=TODAY)
    assert {p.category for p in content.policies} == set(POLICY_CATEGORIES)
    titles = {p.title for p in content.policies}
    assert {"创业担保贷款及贴息", "职业技能培训补贴", "返乡创业一次性补贴"} <= titles
    assert all(p.summary and p.who_qualifies and p.how_to_apply and p.hotline == "12333" for p in content.policies)
    assert all(p.is_open(TODAY) for p in content.policies)
    assert {e.event_kind for e in content.events} == {"招聘会", "培训班"}
    now = dt.datetime.combine(TODAY, dt.time(9, 0))
    assert sum(e.is_open(now) for e in content.events) == len(content.events) - 1  # one is over
    urgent = [a for a in content.announcements if a.priority == "urgent"]
    assert len(urgent) == 1
    assert content.documents == {}
    assert content.courses == []  # no media dir, no videos


def test_training_videos_play_and_are_named_by_their_hash(tmp_path: Path) -> None:
    from ffpyplayer.player import MediaPlayer

    content = sample_content(origin=ORIGIN, jobs=5, today=TODAY, media_dir=tmp_path / "media")
    assert len(content.courses) == 2
    files = sorted(p.name for p in (tmp_path / "media").iterdir())
    assert len(files) == 4
    for course in content.courses:
        for ref in (course.media, course.thumbnail):
            data = (tmp_path / "media" / ref.filename).read_bytes()
            assert hashlib.sha256(data).hexdigest() == ref.sha256 and len(data) == ref.size
        assert course.media.type == "video/mp4" and course.thumbnail.type == "image/png"
        assert course.subtitle and course.duration_s >= 1
        thumb = Image.open(tmp_path / "media" / course.thumbnail.filename).convert("L")
        assert thumb.size == (320, 240)
        low, high = thumb.crop((0, 0, 320, 48)).getextrema()
        assert low < 60 < high  # dark title text on the light band
        player = MediaPlayer(str(tmp_path / "media" / course.media.filename), ff_opts={"an": True, "paused": False})
        try:
            frame = None
            deadline = time.monotonic() + 10
            while frame is None and time.monotonic() < deadline:
                frame, _ = player.get_frame()
                time.sleep(0.02)
            assert frame is not None, "the video did not decode"
            assert frame[0].get_size() == (320, 240)
            assert abs(player.get_metadata()["duration"] - 3.0) < 0.5
        finally:
            player.close_player()
    again = sample_content(origin=ORIGIN, jobs=5, today=TODAY, media_dir=tmp_path / "again")
    assert [c.media.sha256 for c in again.courses] == [c.media.sha256 for c in content.courses]
