"""Every heartbeat carries the station's health, and one broken field does not stop it."""

from __future__ import annotations

import email.utils
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from config.station import Station
from deploy.upgrade import _write_state
from printer.queue import PrintQueue

REPO = Path(__file__).resolve().parents[2]


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
    # No print service runs: the heartbeat says so instead of guessing from a TCP connect.
    assert beat["devices"]["printer"] == {"ok": False, "detail": "没有运行中的打印服务（yizhan print serve）报告状态"}
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



def _printer_port(station, port: int):
    text = station.config_path.read_text(encoding="utf-8")
    station.config_path.write_text(text.replace("[devices.printer]", f"[devices.printer]\nport = {port}", 1),
                                   encoding="utf-8")
    return station.settings


def test_the_heartbeat_carries_the_print_services_live_status(station, tmp_path) -> None:
    """The print service (its own process on a box) reports what the printer answered; the sync
    process's heartbeat carries it: 缺纸, though the printer takes TCP connections all the same."""
    from content.live import read as read_live
    from printer.virtual import VirtualPrinter

    with VirtualPrinter(tmp_path / "out") as printer:
        printer.set_state("paper_out")
        settings = _printer_port(station, printer.port)
        service = Station(settings).print_service(live=True)
        service.process_once()
        assert service.last_status is not None and service.last_status.state.value == "paper_out"
        printer_health = Station(settings).health()["devices"]["printer"]  # as the sync service builds it
        assert (printer_health["ok"], printer_health["detail"]) == (False, "打印机缺纸，请装纸")
        printer.set_state("ready")
        service.process_once()
        assert Station(settings).health()["devices"]["printer"]["ok"] is True

    # A state written by a process that has ended is not believed.
    script = ("import sys; from content.live import publish; "
              "publish(sys.argv[1], 'idcard', ok=True, detail='读卡器应答正常')")
    subprocess.run([sys.executable, "-c", script, str(settings.data_dir)], check=True, cwd=REPO)
    idcard = read_live(settings.data_dir)["idcard"]
    assert idcard["ok"] is False and "程序已停止" in idcard["detail"]


def test_the_kiosk_syncs_only_where_no_sync_service_is_installed(station, tmp_path) -> None:
    wants = tmp_path / "units" / "yizhan.target.wants"
    wants.mkdir(parents=True)
    with Station(station.settings) as s:
        assert s.kiosk_runs_sync(str(wants.parent)) is True  # the demo, a checkout
        (wants / "yizhan-sync.service").symlink_to("/lib/systemd/system/yizhan-sync.service")
        assert s.kiosk_runs_sync(str(wants.parent)) is False  # a box: the sync service sends the heartbeat
    with Station(station.write('[kiosk]\nsync_loop = "on"\n')) as s:
        assert s.kiosk_runs_sync(str(wants.parent)) is True  # asked for by name
