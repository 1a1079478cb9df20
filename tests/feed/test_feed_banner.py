"""A frozen feed seen from the station: the kiosk's home shows 信息可能已过期 to residents after
the grace, the staff screen names the problem at once (real Kivy window under Xvfb)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from config.kiosk_harness import KioskHarness
from content.db import connect, durable
from content.feed_client import BANNER_TEXT, ensure_sync_schema, stale_notices
from protocol.feed import Manifest, Scope


def hold_manifest(settings, *, expires: dt.datetime) -> None:
    """Record a verified manifest as the one the station holds (what a sync leaves behind)."""
    manifest = Manifest(feed_id="gy-test", version=3, generated_at=expires - dt.timedelta(days=7), expires=expires,
                        scope=Scope(regions=["520100"]), items=[])
    conn = connect(settings.db_path)
    try:
        ensure_sync_schema(conn)
        with durable(conn):
            conn.execute("INSERT OR REPLACE INTO sync_state (id, manifest, feed_id, version) VALUES (1, ?, ?, ?)",
                         (manifest.to_bytes(), manifest.feed_id, manifest.version))
    finally:
        conn.close()


def all_texts(driver) -> list[str]:
    out = []
    for widget in driver.app.sm.screens + [driver.app.root]:
        for w in driver.walk(widget):
            value = getattr(w, "text", None)
            if isinstance(value, str) and value:
                out.append(value)
    return out


@pytest.mark.parametrize("hours_past, banner", [(1, False), (30, True)])
def test_the_kiosk_tells_residents_only_after_the_grace(xvfb, station, tmp_path: Path, hours_past: int,
                                                        banner: bool) -> None:
    harness = KioskHarness(station.settings, jobs=20, reader=False, printer=False, media=False)
    harness.start(start_app=False)
    now = dt.datetime.now(dt.UTC)
    hold_manifest(harness.settings, expires=now - dt.timedelta(hours=hours_past))
    try:
        driver = harness.launch()
        driver.app.sm.get_screen("home").refresh()
        driver.pump(frames=5)
        shown = any(BANNER_TEXT in t for t in all_texts(driver))
        assert shown == banner
        if banner:
            driver.screenshot(tmp_path / "home-stale.png")
        staff = driver.app.sm.get_screen("staff")
        assert "内容问题：内容已过有效期" in staff._sync_text()  # staff know at once, banner or not
    finally:
        harness.stop()


def test_the_board_ticker_gets_the_notice_with_a_naive_board_clock(station) -> None:
    settings = station.settings
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    hold_manifest(settings, expires=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    notices = stale_notices(settings, dt.datetime.now())  # the board's clock is local, naive
    assert [n.text for n in notices] == [f"{BANNER_TEXT}，请以工作人员告知为准"]
    assert notices[0].shows_on("board") and notices[0].priority == "normal"
    hold_manifest(settings, expires=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    assert stale_notices(settings, dt.datetime.now()) == []
