"""Station sync against the real hub: only what changed is fetched, and only verified content is applied."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from feed_support import Hub, assert_shows, change_jobs, client_for, hub_toml, make_content

from config.cli import main
from config.station import open_store
from hub.publish import load_key_file
from protocol.feed import Manifest, Scope, generate_private_key, sign_manifest


@pytest.fixture
def settings(station, hub: Hub):
    return station.write(hub_toml(hub))


def test_first_sync_then_nothing_but_a_304(settings, hub: Hub) -> None:
    content = make_content(hub)
    manifest = hub.publish(content).manifest
    first = client_for(settings).sync_once()
    assert (first.status, first.version, first.code) == ("changed", 1, "changed")
    assert first.items_fetched == len(manifest.items) and first.media_fetched == 2
    assert first.bytes >= manifest.total_bytes()
    assert_shows(settings, content, 1)

    hub.faults.reset_log()
    again = client_for(settings).sync_once()
    assert (again.status, again.version) == ("unchanged", 1)
    assert again.requests == 1 and again.bytes == 0
    assert [(s.path.rsplit("/", 1)[1], s.status) for s in hub.faults.log] == [("manifest.json", "304")]


def test_one_percent_changed_fetches_only_the_changed_items(settings, hub: Hub) -> None:
    content = make_content(hub, jobs=400)
    first_manifest = hub.publish(content).manifest
    full = client_for(settings).sync_once()
    changed = change_jobs(content, 0.01)  # 4 jobs
    manifest = hub.publish(changed).manifest
    hub.faults.reset_log()
    result = client_for(settings).sync_once()
    assert (result.status, result.version) == ("changed", 2)
    new_items = [i for i in manifest.items if i.sha256 not in {o.sha256 for o in first_manifest.items}]
    assert 1 <= len(new_items) <= 4
    assert result.items_fetched == len(new_items) and result.media_fetched == 0
    assert not hub.faults.requests_to("/media/")
    # exactly the manifest, its signature and the changed items: a small fraction of the full sync
    overhead = len(manifest.to_bytes()) + (hub.feed_dir / "manifest.sig").stat().st_size
    assert result.bytes == overhead + sum(i.size for i in new_items)
    assert result.bytes < 0.1 * full.bytes
    assert_shows(settings, changed, 2)
    # item files no longer in the feed are not kept
    kept = {p.name for p in (settings.data_dir / "feed" / "items").iterdir()}
    assert kept == {f"{i.sha256}.json" for i in manifest.items}


def test_rollback_to_an_older_signed_manifest_is_refused(settings, hub: Hub, tmp_path: Path) -> None:
    v1 = make_content(hub, jobs=40, seed=1)
    hub.publish(v1)
    saved = tmp_path / "v1"
    saved.mkdir()
    for name in ("manifest.json", "manifest.sig"):
        shutil.copy(hub.feed_dir / name, saved / name)
    assert client_for(settings).sync_once().version == 1
    v2 = make_content(hub, jobs=40, seed=2)
    hub.publish(v2)
    assert client_for(settings).sync_once().version == 2

    for name in ("manifest.json", "manifest.sig"):  # an attacker or a stale mirror replays version 1
        shutil.copy(saved / name, hub.feed_dir / name)
    result = client_for(settings).sync_once()
    assert (result.status, result.code, result.version) == ("failed", "rollback", 2)
    assert "旧" in result.reason and "offers version 1" in result.detail
    assert_shows(settings, v2, 2)


def test_a_replayed_equal_version_is_unchanged(settings, hub: Hub) -> None:
    hub.publish(make_content(hub, jobs=20))
    client_for(settings).sync_once()
    (hub.feed_dir / "manifest.json").touch()  # new validators, same bytes
    assert client_for(settings).sync_once().status == "unchanged"


def test_a_bad_signature_is_refused_and_the_content_stays(settings, hub: Hub) -> None:
    v1 = make_content(hub, jobs=30, seed=1)
    hub.publish(v1)
    client_for(settings).sync_once()
    hub.publish(make_content(hub, jobs=30, seed=2))
    data = (hub.feed_dir / "manifest.json").read_bytes()
    (hub.feed_dir / "manifest.sig").write_bytes(sign_manifest(data, generate_private_key()))
    hub.faults.reset_log()
    result = client_for(settings).sync_once()
    assert (result.status, result.code) == ("failed", "bad_signature")
    assert "签名" in result.reason
    assert not hub.faults.requests_to("/items/|/media/")  # nothing fetched on the strength of it
    assert_shows(settings, v1, 1)


def test_a_tampered_manifest_is_refused(settings, hub: Hub) -> None:
    v1 = make_content(hub, jobs=30)
    hub.publish(v1)
    client_for(settings).sync_once()
    path = hub.feed_dir / "manifest.json"
    hub.publish(make_content(hub, jobs=31))
    path.write_bytes(path.read_bytes().replace(b'"version": 2', b'"version": 3'))
    result = client_for(settings).sync_once()
    assert result.code == "bad_signature"
    assert_shows(settings, v1, 1)


def test_a_feed_for_another_region_is_refused(settings, hub: Hub) -> None:
    v1 = make_content(hub, jobs=30)
    hub.publish(v1)
    client_for(settings).sync_once()
    hub.publish(make_content(hub, jobs=35), scope=Scope(regions=["440100"]))
    result = client_for(settings).sync_once()
    assert (result.status, result.code) == ("failed", "scope")
    assert "440100" in result.detail and "520103" in result.detail
    assert_shows(settings, v1, 1)


def test_a_signed_manifest_that_does_not_parse_is_refused(settings, hub: Hub) -> None:
    v1 = make_content(hub, jobs=30)
    hub.publish(v1)
    client_for(settings).sync_once()
    garbage = b'{"format": "yizhan-feed/1", "feed_id": "gy-test", "version": "two"}'
    (hub.feed_dir / "manifest.json").write_bytes(garbage)
    (hub.feed_dir / "manifest.sig").write_bytes(sign_manifest(garbage, load_key_file(hub.key_path)))
    result = client_for(settings).sync_once()
    assert (result.status, result.code) == ("failed", "unparsable")
    assert_shows(settings, v1, 1)


def test_an_item_damaged_on_the_station_disk_is_fetched_again(settings, hub: Hub) -> None:
    v1 = make_content(hub, jobs=30, seed=1)
    hub.publish(v1)
    client_for(settings).sync_once()
    v2 = change_jobs(v1, 0.05)
    manifest = hub.publish(v2).manifest
    unchanged = next(i for i in manifest.items if i.kind == "policy")
    path = settings.data_dir / "feed" / "items" / f"{unchanged.sha256}.json"
    data = bytearray(path.read_bytes())
    data[10] ^= 0x20
    path.write_bytes(bytes(data))
    result = client_for(settings).sync_once()
    assert result.status == "changed"
    assert_shows(settings, v2, 2)


def test_media_no_longer_needed_is_evicted_first_when_the_quota_is_tight(station, hub: Hub) -> None:
    text = station.config_path.read_text(encoding="utf-8").replace("media_quota_mb = 64", "media_quota_mb = 16")
    station.config_path.write_text(text, encoding="utf-8")
    settings = station.write(hub_toml(hub))
    versions = [make_content(hub, jobs=10, media_sizes=(6_000_000,), media_seed=seed) for seed in (1, 2, 3)]
    for n, content in enumerate(versions, start=1):
        hub.publish(content)
        result = client_for(settings).sync_once()
        assert result.status == "changed", result.detail
        assert_shows(settings, content, n)
    # The quota (16 MB) holds two 6 MB videos: the current one and the new one. The first
    # version's video, needed by nobody, made room for the third's.
    cached = {p.name.split(".")[0] for p in settings.media_dir.iterdir()}
    assert cached == {versions[1].courses[0].media.sha256, versions[2].courses[0].media.sha256}


def test_a_quota_too_small_for_the_feed_stops_before_downloading(station, hub: Hub) -> None:
    text = station.config_path.read_text(encoding="utf-8").replace("media_quota_mb = 64", "media_quota_mb = 16")
    station.config_path.write_text(text, encoding="utf-8")
    settings = station.write(hub_toml(hub))
    hub.publish(make_content(hub, jobs=10, media_sizes=(10_000_000, 10_000_000)))
    result = client_for(settings).sync_once()
    assert (result.status, result.code) == ("failed", "quota")
    assert not hub.faults.requests_to("/media/")
    with open_store(settings) as store:
        assert store.content_info().version == 0


def test_cli_once_exit_codes_and_status(station, hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(station.config_path)
    assert main(["sync", "--once", "--config", config]) == 3  # no feed_url yet
    assert "hub.feed_url" in capsys.readouterr().out
    station.write(hub_toml(hub))
    content = make_content(hub, jobs=20)
    hub.publish(content)
    assert main(["sync", "--once", "--no-progress", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "已更新：gy-test 第 1 版" in out
    assert main(["sync", "--once", "--config", config]) == 5
    assert "无变化" in capsys.readouterr().out
    hub.publish(make_content(hub, jobs=21))
    (hub.feed_dir / "manifest.sig").write_text("AAAA\n", encoding="ascii")
    assert main(["sync", "--once", "--config", config]) == 1
    assert "签名" in capsys.readouterr().out
    assert main(["sync", "--status", "--json", "--config", config]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["version"] == 1 and status["feed_id"] == "gy-test"
    assert status["last_status"] == "failed" and "签名" in status["last_error"]
    assert status["last_success_at"] and status["outbox_depth"] == 0  # nothing registered, nothing waiting
    hub.server.stop()
    assert main(["sync", "--once", "--no-deliver", "--config", config]) == 4  # hub down
    assert "无法连接" in capsys.readouterr().out
    assert_shows(station.settings, content, 1)


def test_the_manifest_a_station_applied_is_the_signed_one(settings, hub: Hub) -> None:
    hub.publish(make_content(hub, jobs=10))
    client_for(settings).sync_once()
    import sqlite3

    conn = sqlite3.connect(settings.db_path)
    stored = conn.execute("SELECT manifest FROM sync_state").fetchone()[0]
    conn.close()
    assert stored == (hub.feed_dir / "manifest.json").read_bytes()
    assert Manifest.from_bytes(stored).version == 1
