"""立即同步 on a box: the kiosk runs no sync loop of its own there, so the staff screen's button
and ``yizhan sync --now`` wake the running ``yizhan sync`` (another process) with a signal."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from feed_support import Hub, hub_toml, make_content

from config.station import open_store
from content.live import request_sync

ROOT = Path(__file__).resolve().parents[2]


def _yizhan(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "config.cli", "sync", *args, "--no-progress", "--config", str(config)]


def _version(settings) -> int:
    with open_store(settings) as store:
        return store.content_info().version


def _until(what, timeout: float = 120.0) -> None:  # another process's start and sync, on a busy machine
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_sync_now_wakes_the_sync_service_in_another_process(station, hub: Hub) -> None:
    store = hub.store
    try:
        token = store.add_station("test-station-01", "城东社区")
    finally:
        store.close()
    settings = station.write(hub_toml(hub, token=token).replace("[hub]\n", "[hub]\nsync_interval_s = 86400\n"))
    hub.publish(make_content(hub, jobs=5, media_sizes=(2000,)), valid_days=10)
    assert request_sync(settings.data_dir) is False  # nothing runs yet

    service = subprocess.Popen(_yizhan(station.config_path), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        _until(lambda: _version(settings) == 1 and (settings.data_dir / "live" / "sync.proc").exists())
        # A new version published: the service would see it only a day later without a wake.
        hub.publish(make_content(hub, jobs=7, seed=11, media_sizes=(2000,)), valid_days=10)
        now = subprocess.run(_yizhan(station.config_path, "--now"), cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
        assert now.returncode == 0, now.stderr
        assert "已通知同步服务立即同步" in now.stderr
        _until(lambda: _version(settings) == 2)
        assert service.poll() is None  # woken, not stopped
        # The staff screen's path (the kiosk's services without a loop of their own) is the same call.
        assert request_sync(settings.data_dir) is True
    finally:
        service.terminate()
        service.wait(timeout=30)
    assert request_sync(settings.data_dir) is False  # the announced process has ended
    # With no service running, --now syncs here once and says so.
    hub.publish(make_content(hub, jobs=9, seed=13, media_sizes=(2000,)), valid_days=10)
    here = subprocess.run(_yizhan(station.config_path, "--now"), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert here.returncode == 0, here.stderr
    assert "没有运行中的同步服务" in here.stderr
    assert _version(settings) == 3
