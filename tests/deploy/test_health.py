"""Every heartbeat carries the station's health, and one broken field does not stop it."""

from __future__ import annotations

import email.utils
import json
import sqlite3
import time

from config.station import Station
from deploy.upgrade import _write_state
from printer.queue import PrintQueue


def _last_heartbeat(db_path) -> dict:
    conn = sqlite3.connect(db_path)
    try:
        row = conn.execute("SELECT payload FROM outbox WHERE kind = 'heartbeat' ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return json.loads(row[0])


def test_the_sync_loops_heartbeat_carries_every_health_field(station) -> None:
    settings = station.settings
    queue = PrintQueue(settings.db_path)
    queue.submit("job", b"\x1b@slip", "岗位推荐单")
    queue.close()
    _write_state(settings.data_dir / "upgrade", {"state": "idle", "last": {
        "version": "0.1.2", "result": "rolled_back", "detail": "selfcheck failed"}})
    loop = Station(settings).sync_loop()
    try:
        loop.run_round()
    finally:
        loop.client.close()
        loop.sender.close()
    beat = _last_heartbeat(settings.db_path)
    assert beat["software_version"] and beat["software_version"] != "unknown"
    assert beat["print_queue"]["waiting"] == 1 and beat["print_queue"]["oldest_age_s"] >= 0
    assert beat["last_upgrade"] == {"version": "0.1.2", "result": "rolled_back", "detail": "selfcheck failed"}
    assert beat["free_disk_mb"] > 0 and beat["uptime_s"] > 0
    assert beat["failed_media"] == 0 and beat["content_age_s"] is None  # no content applied yet
    assert beat["clock_offset_s"] is None  # no hub configured
    assert "printer" in beat["devices"]  # what the doctor finds, with no kiosk to ask
    assert "outbox_depth" in beat and "oldest_age_s" in beat


def test_clock_offset_against_the_hubs_date(station) -> None:
    settings = station.write('[hub]\nfeed_url = "http://127.0.0.1:9/feeds/x/"\n')
    hub_says = email.utils.formatdate(time.time() - 120, usegmt=True)  # our clock is 2 min ahead
    health = Station(settings).health({"printer": {"ok": True}}, fetch_date=lambda url: hub_says)
    assert 119 <= health["clock_offset_s"] <= 122
    assert health["devices"] == {"printer": {"ok": True}}  # a live view wins


def test_a_broken_field_is_none_and_the_rest_still_come(station) -> None:
    settings = station.write('[hub]\nfeed_url = "http://127.0.0.1:9/feeds/x/"\n')

    def unreachable(url: str) -> str:
        raise ConnectionError("hub down")

    health = Station(settings).health(fetch_date=unreachable)
    assert health["clock_offset_s"] is None and health["software_version"]
