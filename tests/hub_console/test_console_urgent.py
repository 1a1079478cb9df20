"""The urgent path, end to end on loopback with injected time: an editor writes a 紧急通知, a
reviewer approves it, the hub publishes it at once and alone and points its ``urgent`` file at
the new version; a station whose regular sync is an hour away sees the pointer at its next
check (every 20 s) and has the notice in its kiosk's and board's data within 60 s of the
notice's creation. The pointer is unsigned: a forged one only brings a sync forward, and that
sync still verifies the manifest before anything is shown."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from console_kit import FEED, Console, post

from config.station import Station
from content.sync_loop import URGENT_INTERVAL_S
from hub.app import HubServer
from hub.publish import load_key_file
from protocol.feed import public_key_b64

TARGET_S = 60.0


def _station(station: Any, console: Console, base: str) -> Station:
    public = public_key_b64(load_key_file(console.home / "feed.key"))
    settings = station.write(f'[hub]\nfeed_url = "{base}feeds/{FEED}/"\npublic_key = "{public}"\n'
                             f'upload_url = "{base}api/v1/"\nstation_token = ""\ntimeout_s = 5\n')
    return Station(settings)


def _approve_all(console: Console) -> None:
    with console.engine.begin() as conn:
        ids = list(conn.execute(sa.text("SELECT id FROM console_items WHERE state = 'pending'")).scalars())
    post(console.client("reviewer"), "/console/review", {"item": ids, "decision": "approve"})


def test_an_urgent_notice_reaches_a_stations_screens_within_a_minute(console: Console, station: Any) -> None:
    editor = console.client("editor")
    job = {"feed_id": FEED, "id": "job-1", "title": "保洁员", "employer": "云岩物业公司", "category": "保洁",
           "kind": "全职", "salary_min": "2200", "salary_max": "2800", "salary_unit": "月",
           "latitude": "26.58", "longitude": "106.71", "published": "2026-11-19", "valid_until": "2026-12-31"}
    assert post(editor, "/console/content/job/new", job).status_code == 302
    _approve_all(console)
    post(console.client("publisher"), f"/console/publish/{FEED}", {"confirm": "yes"})
    with HubServer(console.app) as hub, _station(station, console, hub.url) as st:
        # The station's regular sync is an hour apart; its clock is the hub's (injected).
        loop = st.sync_loop(client=st.sync_client(clock=console.clock), interval_s=3600)
        try:
            assert loop.run_feed_round().version == 1
            assert not loop.urgent_check(), "no urgent pointer yet"
            # An ordinary change published meanwhile does not wake the station.
            job2 = {**job, "id": "job-2", "title": "叉车司机"}
            assert post(editor, "/console/content/job/new", job2).status_code == 302
            _approve_all(console)

            created = console.clock()
            notice = {"feed_id": FEED, "id": "storm-1", "text": "暴雨红色预警：今日招聘会改期", "priority": "urgent",
                      "target": "both", "starts_at": "2026-11-19T08:00", "ends_at": "2026-11-21T20:00"}
            assert post(editor, "/console/content/announcement/new", notice).status_code == 302
            console.clock.advance(seconds=25)  # the reviewer reads it and approves it
            phone = console.home / "feeds" / FEED / "m"
            phone_pages = os.readlink(phone)
            _approve_all(console)
            approved = console.clock()
            # the phone pages show no notices: the urgent version keeps version 1's, nothing is rewritten
            assert os.readlink(phone) == phone_pages and phone_pages.endswith("/1-" + approved.astimezone().strftime("%Y%m%d"))
            pointer = json.loads((console.home / "feeds" / FEED / "urgent").read_text())
            assert (pointer["feed_id"], pointer["version"]) == (FEED, 2)
            assert dt.datetime.fromisoformat(pointer["at"]) == approved
            # The station's checks fall every URGENT_INTERVAL_S; the first one after approval sees it.
            console.clock.advance(seconds=URGENT_INTERVAL_S)
            assert loop.urgent_check() and loop.urgent_wakes == 1
            result = loop.run_feed_round()
            on_screen = console.clock()
            assert result.last_result.status == "changed" and result.version == 2
            now = on_screen.astimezone()
            assert [a.id for a in st.store.announcements("kiosk", now)] == ["storm-1"]
            assert [a.id for a in st.store.announcements("board", now)] == ["storm-1"]
            assert {j.id for j in st.store.export_content().jobs} == {"job-1"}, "published alone: job-2 waits"
            assert (on_screen - created).total_seconds() <= TARGET_S
            assert not loop.urgent_check(), "the station holds the pointed version: no more wake-ups"
        finally:
            loop.stop()


def test_a_forged_pointer_only_brings_a_verified_sync_forward(console: Console, station: Any) -> None:
    editor = console.client("editor")
    notice = {"feed_id": FEED, "id": "n-1", "text": "周五停电检修", "priority": "normal", "target": "both",
              "starts_at": "2026-11-19T08:00", "ends_at": "2026-11-21T20:00"}
    assert post(editor, "/console/content/announcement/new", notice).status_code == 302
    _approve_all(console)
    post(console.client("publisher"), f"/console/publish/{FEED}", {"confirm": "yes"})
    pointer: Path = console.home / "feeds" / FEED / "urgent"
    with HubServer(console.app) as hub, _station(station, console, hub.url) as st:
        loop = st.sync_loop(client=st.sync_client(clock=console.clock), interval_s=3600)
        try:
            loop.run_feed_round()
            for body in (b"not json", b'{"feed_id": "other-feed", "version": 99}', b'{"version": true}',
                         b'{"version": -3}', b"[1]"):
                pointer.write_bytes(body)
                assert not loop.urgent_check(), body
            pointer.write_text(json.dumps({"feed_id": FEED, "version": 99}))
            assert loop.urgent_check()
            result = loop.run_feed_round()
            assert result.last_result.status == "unchanged" and st.store.content_info().version == 1
            # Read again with If-None-Match (a 304): still above the version held, so at most one
            # verified, unchanged sync per check; the regular content stays on screen meanwhile.
            assert loop.urgent_check() and loop.urgent.last_status == 304
            assert [a.id for a in st.store.announcements("kiosk", dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))
                    ] == ["n-1"]
        finally:
            loop.stop()
