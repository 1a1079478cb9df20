"""The faults found attacking a station's feed, each reproduced against a real hub on loopback:
a routine format change, a refused version that deleted media, another feed signed by the
same key, a frozen (expired) feed, and a key rotation done without visiting the station."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from feed_support import Hub, assert_shows, client_for, hub_toml, make_content

from config.cli import main
from config.doctor import check_feed, check_media
from config.station import Station, media_cache, open_store
from content.feed_client import feed_health
from content.outbox import Outbox
from hub.keys import rotate_key
from hub.publish import load_key_file
from protocol.feed import (
    KeyRotation,
    Manifest,
    canonical_json,
    generate_private_key,
    keys_file_bytes,
    public_key_b64,
    sha256_hex,
    sign_manifest,
    sign_rotation,
)


@pytest.fixture
def settings(station, hub: Hub):
    return station.write(hub_toml(hub))


def shown(settings) -> tuple[int, int]:
    with open_store(settings) as store:
        info = store.content_info()
    return info.version, info.counts.get("jobs", 0)


def rewrite_feed(hub: Hub, change: Callable[[str, dict[str, Any]], dict[str, Any]], **manifest_update: Any) -> None:
    """Publish the current feed again as its next version with every record passed through
    ``change`` (as a newer or broken hub would), signed with the hub's key."""
    manifest = hub.manifest()
    items = []
    for entry in manifest.items:
        body = json.loads((hub.feed_dir / entry.path).read_bytes())
        if entry.kind != "document":
            body["records"] = [change(entry.kind, dict(r)) for r in body["records"]]
        data = canonical_json(body)
        path = f"items/{sha256_hex(data)}.json"
        (hub.feed_dir / path).write_bytes(data)
        items.append(entry.model_copy(update={"path": path, "sha256": sha256_hex(data), "size": len(data)}))
    update = {"items": items, "version": manifest.version + 1, **manifest_update}
    new = Manifest.model_validate({**manifest.model_dump(), **update})
    data = new.to_bytes()
    (hub.feed_dir / "manifest.sig").write_bytes(sign_manifest(data, load_key_file(hub.key_path)))
    (hub.feed_dir / "manifest.json").write_bytes(data)


# -- 1. a routine change must not blank the station --------------------------------------

def test_an_extra_field_on_every_record_is_ignored(settings, hub: Hub) -> None:
    content = make_content(hub, jobs=60)
    hub.publish(content)
    assert client_for(settings).sync_once().status == "changed"

    def newer_hub(kind: str, record: dict[str, Any]) -> dict[str, Any]:
        record["audit_note"] = "added by a newer hub"
        if kind == "course":
            record["media"] = {**record["media"], "codec": "h264"}
        return record

    rewrite_feed(hub, newer_hub)
    result = client_for(settings).sync_once()
    assert (result.status, result.rejected) == ("changed", 0), result.detail
    assert shown(settings) == (2, 60)
    assert_shows(settings, content, 2)


def test_a_version_where_many_records_fail_is_refused_whole(settings, hub: Hub,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    hub.publish(make_content(hub, jobs=60))
    assert client_for(settings).sync_once().status == "changed"
    broken = set()

    def systematic(kind: str, record: dict[str, Any]) -> dict[str, Any]:
        if kind == "job" and len(broken) < 6:  # 10% of the jobs
            broken.add(record["id"])
            record["category"] = "新工种"
        return record

    rewrite_feed(hub, systematic)
    result = client_for(settings).sync_once()
    assert (result.status, result.code, result.version) == ("failed", "too_many_invalid", 1)
    assert "job 6/60" in result.detail
    assert shown(settings) == (1, 60)  # the old content stays, whole
    feed = Station(settings).sync_status()["feed"]
    assert {r["id"] for r in feed["invalid_records"]} == broken
    assert all("category" in r["reason"] for r in feed["invalid_records"])
    assert not feed["invalid_applied"]
    assert main(["sync", "--status", "--config", str(settings.source)]) == 0
    out = capsys.readouterr().out
    assert "整版被拒绝" in out and sorted(broken)[0] in out
    check = check_feed(settings)
    assert check.status == "fail" and "整版被拒绝" in check.detail


def test_a_few_bad_records_are_left_out_and_reported_by_id(settings, hub: Hub) -> None:
    hub.publish(make_content(hub, jobs=60))
    client_for(settings).sync_once()
    bad_id = []

    def one_bad(kind: str, record: dict[str, Any]) -> dict[str, Any]:
        if kind == "job" and not bad_id:
            bad_id.append(record["id"])
            record["latitude"] = 123.0
        return record

    rewrite_feed(hub, one_bad)
    result = client_for(settings).sync_once()
    assert (result.status, result.rejected) == ("changed", 1)
    assert shown(settings) == (2, 59)
    health = feed_health(settings)
    assert [(r["kind"], r["id"]) for r in health.invalid_records] == [("job", bad_id[0])]
    assert "latitude" in health.invalid_records[0]["reason"]
    assert check_feed(settings).status == "fail"


# -- 2. a refused version must not cost the station what it shows -------------------------

def test_a_version_too_big_for_the_quota_keeps_the_current_media_byte_for_byte(station, hub: Hub) -> None:
    text = station.config_path.read_text(encoding="utf-8").replace("media_quota_mb = 64", "media_quota_mb = 16")
    station.config_path.write_text(text, encoding="utf-8")
    settings = station.write(hub_toml(hub))
    v1 = make_content(hub, jobs=10, media_sizes=(6_000_000, 300_000), media_seed=1)
    hub.publish(v1)
    assert client_for(settings).sync_once().status == "changed"
    before = {p.name: p.read_bytes() for p in settings.media_dir.iterdir()}
    hub.publish(make_content(hub, jobs=10, media_sizes=(11_000_000,), media_seed=2))
    for _ in range(2):  # the hub keeps serving it: refused again, nothing fetched back or lost
        result = client_for(settings).sync_once()
        assert (result.status, result.code, result.version) == ("failed", "quota", 1)
        assert "storage.media_quota_mb" in result.reason and "还需要" in result.reason
        assert {p.name: p.read_bytes() for p in settings.media_dir.iterdir()} == before
        assert_shows(settings, v1, 1)
    assert check_media(settings).status == "ok"


def test_missing_or_damaged_current_media_is_fetched_again_while_unchanged(settings, hub: Hub) -> None:
    content = make_content(hub, jobs=10, media_sizes=(200_000, 50_000))
    hub.publish(content)
    assert client_for(settings).sync_once().status == "changed"
    cache = media_cache(settings)
    gone, damaged = (c.media for c in content.courses)
    cache.path(gone).unlink()
    with cache.path(damaged).open("r+b") as f:  # same size, one byte flipped
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    check = check_media(settings)
    assert check.status == "fail" and "缺 1 个" in check.detail and "损坏 1 个" in check.detail
    assert feed_health(settings).missing_media == [f"media/{gone.filename}"]
    client = client_for(settings)
    client.recheck_media = True
    result = client.sync_once()
    assert (result.status, result.media_fetched) == ("unchanged", 2)
    assert check_media(settings).status == "ok"
    assert_shows(settings, content, 1)


# -- 4. one station, one feed --------------------------------------------------------------

def test_another_feed_signed_by_the_same_key_is_refused(settings, hub: Hub) -> None:
    for jobs in (300, 301, 302):
        hub.publish(make_content(hub, jobs=jobs))
    assert client_for(settings).sync_once().status == "changed"
    assert shown(settings) == (3, 302)
    # An old manifest of another feed (version 5 > 3), same key, in scope, at this URL.
    other = hub.home / "feeds" / "other"
    for _ in range(5):
        hub.publish(make_content(hub, jobs=5), feed_dir=other, feed_id="old-test-feed")
    shutil.rmtree(hub.feed_dir)
    shutil.copytree(other, hub.feed_dir)
    result = client_for(settings).sync_once()
    assert (result.status, result.code) == ("failed", "wrong_feed")
    assert "old-test-feed" in result.detail and "gy-test" in result.detail
    assert shown(settings) == (3, 302)
    assert Station(settings).sync_status()["pinned_feed_id"] == "gy-test"
    # Changing the feed on purpose is a setting, not something a server can do.
    settings = station_with_feed(settings, "old-test-feed")
    result = client_for(settings).sync_once()
    assert (result.status, result.feed_id, result.version) == ("changed", "old-test-feed", 5)
    assert Station(settings).sync_status()["pinned_feed_id"] == "old-test-feed"


def station_with_feed(settings, feed_id: str):
    path = settings.source
    path.write_text(path.read_text(encoding="utf-8").replace("[hub]\n", f'[hub]\nfeed_id = "{feed_id}"\n'),
                    encoding="utf-8")
    from config.settings import load_settings

    return load_settings(path)


def test_the_feed_id_in_the_settings_is_the_only_one_accepted_from_the_first_sync(station, hub: Hub) -> None:
    settings = station.write(hub_toml(hub) + 'feed_id = "gy-real"\n')
    hub.publish(make_content(hub, jobs=5))  # feed id gy-test
    result = client_for(settings).sync_once()
    assert (result.status, result.code) == ("failed", "wrong_feed")
    assert shown(settings) == (0, 0)


# -- 8. a frozen feed is noticed -----------------------------------------------------------

def test_an_expired_manifest_is_refused_and_a_frozen_feed_is_reported(settings, hub: Hub) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    generated = now - dt.timedelta(days=8)
    content = make_content(hub, jobs=20)
    hub.publish(content, generated_at=generated, valid_days=7)  # expired a day ago
    # A station that met it while it was fresh applied it...
    assert client_for(settings, clock=lambda: generated + dt.timedelta(hours=1)).sync_once().status == "changed"
    # ...a newer version signed long ago and already past its expiry is refused.
    hub.publish(make_content(hub, jobs=21), generated_at=generated, valid_days=7)
    result = client_for(settings).sync_once()
    assert (result.status, result.code, result.version) == ("failed", "expired", 1)
    assert_shows(settings, content, 1)

    expiry = generated + dt.timedelta(days=7)
    assert not feed_health(settings, now=expiry - dt.timedelta(minutes=1)).expired
    early = feed_health(settings, now=expiry + dt.timedelta(hours=1))
    assert early.expired and not early.show_banner  # staff know at once
    assert "过有效期" in early.problems[0]
    late = feed_health(settings, now=expiry + dt.timedelta(hours=settings.hub.expiry_grace_h, minutes=1))
    assert late.show_banner  # residents see 信息可能已过期 after the grace
    check = check_feed(settings, now=expiry + dt.timedelta(hours=1))
    assert check.status == "fail" and "过有效期" in check.detail

    # The heartbeat tells the hub.
    loop = Station(settings).sync_loop(client=client_for(settings))
    try:
        loop.run_round()
    finally:
        loop.client.close()
        loop.sender.close()
    with Outbox(settings.db_path, key_dir=settings.data_dir) as outbox:
        beats = outbox.pending("heartbeat")
    assert beats and beats[-1].payload["feed"]["expired"] is True


def test_hub_refresh_keeps_a_quiet_feed_fresh(settings, hub: Hub) -> None:
    from hub.publish import refresh_feeds

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hub.publish(make_content(hub, jobs=10), generated_at=now - dt.timedelta(days=6), valid_days=7)
    assert client_for(settings).sync_once().status == "changed"
    assert refresh_feeds(hub.home, now=now) == [("gy-test", 2)]
    assert refresh_feeds(hub.home, now=now) == []  # fresh now: nothing to do
    result = client_for(settings).sync_once()
    assert (result.status, result.version, result.items_fetched) == ("changed", 2, 0)
    assert not feed_health(settings, now=now + dt.timedelta(days=6)).expired


# -- key rotation without a visit ------------------------------------------------------------

def test_a_key_rotation_reaches_the_station_and_retires_the_old_key(settings, hub: Hub) -> None:
    content = make_content(hub, jobs=20)
    hub.publish(content)
    assert client_for(settings).sync_once().status == "changed"
    old_key = load_key_file(hub.key_path)
    rotation = rotate_key(hub.home)
    assert rotation.feeds == [("gy-test", 2)]
    assert rotation.public_key != settings.hub.public_key  # the station's setting still names the old key

    result = client_for(settings).sync_once()
    assert (result.status, result.version) == ("changed", 2), result.detail
    assert Station(settings).sync_status()["key_rotations"] == 1
    assert_shows(settings, content, 2)

    # The retired key can no longer sign for this station (e.g. a copy of it leaked).
    hub.publish(make_content(hub, jobs=3))  # v3, signed with the new key, then re-signed with the old one
    data = (hub.feed_dir / "manifest.json").read_bytes()
    (hub.feed_dir / "manifest.sig").write_bytes(sign_manifest(data, old_key))
    result = client_for(settings).sync_once()
    assert (result.status, result.code, result.version) == ("failed", "bad_signature", 2)


def test_a_rotation_not_signed_by_the_trusted_key_is_not_followed(settings, hub: Hub) -> None:
    hub.publish(make_content(hub, jobs=10))
    assert client_for(settings).sync_once().status == "changed"
    thief, stranger = generate_private_key(), generate_private_key()
    forged = KeyRotation(sequence=1, previous_key=public_key_b64(stranger), new_key=public_key_b64(thief),
                         made_at=dt.datetime.now(dt.UTC).replace(microsecond=0))
    entry = sign_rotation(forged, stranger)
    entry["rotation"]["previous_key"] = settings.hub.public_key  # claims to come from the trusted key
    (hub.feed_dir / "keys.json").write_bytes(keys_file_bytes([entry]))
    hub.publish(make_content(hub, jobs=3))
    data = (hub.feed_dir / "manifest.json").read_bytes()
    (hub.feed_dir / "manifest.sig").write_bytes(sign_manifest(data, thief))
    result = client_for(settings).sync_once()
    assert (result.status, result.code, result.version) == ("failed", "bad_signature", 1)
    assert Station(settings).sync_status()["key_rotations"] == 0
