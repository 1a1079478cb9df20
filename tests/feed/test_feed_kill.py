"""The station process killed (SIGKILL) mid-sync and mid-upload, then restarted: it shows the old
set or the new set, never a mix or nothing, and every registration reaches the hub exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from feed_support import Hub, assert_shows, client_for, hub_toml, make_content

from config.station import open_store
from content.outbox import Outbox
from content.registrations import submit_registration

ROOT = Path(__file__).resolve().parents[2]
PERSON = {"name": "王五", "id_number": "52010319850505123X", "phone": "13912345678"}


def start_sync(config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "config.cli", "sync", "--once", "--no-progress",
                             "--config", str(config), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill(process: subprocess.Popen, *, may_have_ended: bool = False) -> None:
    """SIGKILL the sync. With ``may_have_ended`` it may have finished on its own just before
    (a fast machine): then it must have ended well."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    if may_have_ended and process.returncode != -signal.SIGKILL:
        assert process.returncode in (0, 5), process.stderr.read().decode() if process.stderr else ""
        return
    assert process.returncode == -signal.SIGKILL


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def shown(settings) -> int:
    with open_store(settings) as store:
        return store.content_info().version


@pytest.fixture
def settings(station, hub: Hub):
    token = hub.store.add_station("test-station-01")
    return station.write(hub_toml(hub, token=token))


def test_killed_while_downloading_media_then_restarted(settings, hub: Hub) -> None:
    v1 = make_content(hub, jobs=50, media_seed=1)
    hub.publish(v1)
    client_for(settings).sync_once()
    v2 = make_content(hub, jobs=60, media_sizes=(3_000_000,), media_seed=2)
    hub.publish(v2)
    hub.faults.add(r"/media/", "throttle", 1_000_000, times=1)  # 3 s for the video
    part = settings.media_dir / (v2.courses[0].media.filename + ".part")
    process = start_sync(settings.source, "--no-deliver")
    wait_for(lambda: part.exists() and part.stat().st_size > 500_000)
    kill(process)
    assert_shows(settings, v1, 1)  # the old set, whole

    hub.faults.reset_log()
    again = start_sync(settings.source, "--no-deliver")
    assert again.wait(timeout=60) == 0, again.stderr.read().decode()
    assert_shows(settings, v2, 2)
    (resumed,) = hub.faults.requests_to(r"/media/")
    assert resumed.range and resumed.range.startswith("bytes=") and resumed.status == "206"


def test_killed_at_many_moments_never_shows_a_mix(settings, hub: Hub, tmp_path: Path) -> None:
    v1 = make_content(hub, jobs=1500, seed=1, media_sizes=(200_000,), media_seed=1)
    hub.publish(v1)
    client_for(settings).sync_once()
    snapshot = tmp_path / "snapshot"
    shutil.copytree(settings.data_dir, snapshot)
    v2 = make_content(hub, jobs=1500, seed=2, media_sizes=(400_000,), media_seed=2)
    hub.publish(v2)
    hub.faults.add(r"/media/", "throttle", 1_000_000, times=None)

    def from_snapshot() -> subprocess.Popen:
        shutil.rmtree(settings.data_dir)
        shutil.copytree(snapshot, settings.data_dir)
        hub.faults.reset_log()
        return start_sync(settings.source, "--no-deliver")

    # One undisturbed run measures when the sync starts talking to the hub and when it ends ...
    started = time.monotonic()
    process = from_snapshot()
    assert process.wait(timeout=60) == 0
    first_request = hub.faults.log[0].at - started
    total = time.monotonic() - started
    # ... then the same sync is killed at moments spread over that span: fetching the
    # manifest, the items, the media, parsing and applying.
    for fraction in (0.1, 0.4, 0.7, 0.93):
        process = from_snapshot()
        time.sleep(first_request + fraction * (total - first_request))
        kill(process, may_have_ended=True)
        version = shown(settings)
        assert_shows(settings, v1 if version == 1 else v2, version)
    final = start_sync(settings.source, "--no-deliver")
    assert final.wait(timeout=60) in (0, 5)
    assert_shows(settings, v2, 2)


def test_killed_while_waiting_for_the_upload_answer_then_restarted(settings, hub: Hub) -> None:
    codes = [submit_registration(settings.db_path, kind, PERSON, {}, station_id=settings.station.id).code
             for kind in ("求职", "返乡", "零工")]
    # The hub stores the batch, then holds the answer back long enough for the kill.
    hub.faults.add(r"/api/v1/registrations", "delay_after", 4, times=1)
    process = start_sync(settings.source)
    wait_for(lambda: hub.store.count("registration") == 3)
    kill(process)
    with Outbox(settings.db_path) as outbox:
        assert outbox.depth() >= 3  # never marked sent without the hub's answer

    again = start_sync(settings.source)
    assert again.wait(timeout=60) in (0, 5, 1), again.stderr.read().decode()
    uploads = hub.store.uploads("registration")
    assert sorted(u["payload"]["code"] for u in uploads) == sorted(codes)  # each exactly once
    with Outbox(settings.db_path) as outbox:
        assert outbox.counts()["sent"]["registration"] == 3
        assert outbox.depth() == 0
