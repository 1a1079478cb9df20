"""Proof of play is written in batches: few commits a day on the SD card, nothing lost on a failed write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from content.outbox import Outbox
from display.proof import Play, PlayBuffer

AT = dt.datetime(2026, 11, 30, 10, 0)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def plays_in(db: Path) -> list[dict]:
    with Outbox(db) as outbox:
        return [e.payload for e in outbox.pending("proof_of_play", limit=1000)]


def play(n: int) -> Play:
    return Play("jobs", f"page-{n}", AT + dt.timedelta(seconds=12 * n), 12.0, segment="jobs", extra={"jobs": 40})


def test_plays_wait_until_the_batch_is_full_then_land_together(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    clock = Monotonic()
    buffer = PlayBuffer(db, profile="tv-1080p", max_plays=5, max_age_s=300, monotonic=clock)
    due = [buffer.add(play(n), content_version=7) for n in range(5)]
    assert due == [False, False, False, False, True]
    assert not db.exists() or plays_in(db) == []  # nothing written yet
    assert buffer.flush() == 5
    records = plays_in(db)
    assert [r["item_id"] for r in records] == [f"page-{n}" for n in range(5)]
    assert records[0]["profile"] == "tv-1080p" and records[0]["content_version"] == 7
    assert records[0]["jobs"] == 40 and records[0]["started_at"].startswith("2026-11-30T10:00")
    assert len(buffer) == 0 and buffer.flush() == 0


def test_a_quiet_board_still_writes_its_plays_after_max_age(tmp_path: Path) -> None:
    clock = Monotonic()
    buffer = PlayBuffer(tmp_path / "station.db", max_plays=30, max_age_s=300, monotonic=clock)
    assert buffer.add(play(0)) is False
    clock.now += 299
    assert buffer.add(play(1)) is False
    clock.now += 1
    assert buffer.due() is True


def test_a_failed_write_keeps_the_plays_for_the_next_flush(tmp_path: Path) -> None:
    clock = Monotonic()
    not_a_db = tmp_path / "folder"
    not_a_db.mkdir()
    buffer = PlayBuffer(not_a_db, max_plays=2, monotonic=clock)
    buffer.add(play(0))
    buffer.add(play(1))
    with pytest.raises(Exception):  # noqa: B017 - whatever SQLite says about a folder
        buffer.flush()
    assert len(buffer) == 2
    buffer.add(play(2))
    buffer.target = tmp_path / "station.db"
    assert buffer.flush() == 3
    assert [r["item_id"] for r in plays_in(tmp_path / "station.db")] == ["page-0", "page-1", "page-2"]
