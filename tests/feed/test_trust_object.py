"""The one trust object for the feed and for releases (protocol.trust): the key chain a station
follows, retired keys refused, the pinned feed, rollback and expiry; and releases verified
with the key the station moved to after `yizhan hub rotate-key`, never with a retired one."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from feed_support import Hub, client_for, hub_toml, make_content

from content.trust_store import load_trust_state
from hub.keys import rotate_key
from hub.publish import load_key_file
from protocol.feed import (
    KeyRotation,
    Manifest,
    Scope,
    SignatureError,
    generate_private_key,
    keys_file_bytes,
    public_key_b64,
    sign_manifest,
    sign_rotation,
)
from protocol.trust import (
    TrustError,
    TrustState,
    verify_release_manifest,
    verify_release_offer,
)

NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
SHA = "ab" * 32


def rotation(old, new, sequence: int = 1) -> dict:
    record = KeyRotation(sequence=sequence, previous_key=public_key_b64(old), new_key=public_key_b64(new),
                         made_at=NOW)
    return sign_rotation(record, old)


def manifest(version: int, feed_id: str = "gy-test", *, expires: dt.datetime | None = None) -> Manifest:
    return Manifest(feed_id=feed_id, version=version, generated_at=NOW - dt.timedelta(hours=1),
                    scope=Scope(regions=["*"]), items=[], expires=expires or NOW + dt.timedelta(days=7))


def offer_bytes(version: str = "0.7.0") -> bytes:
    return json.dumps({"format": "yizhan-release-offer/1", "version": version, "sha256": SHA, "size": 1000,
                       "path": f"releases/{SHA}.tar", "stations": [], "percent": 100}, sort_keys=True).encode()


def test_the_chain_moves_to_the_newest_key_and_retires_the_others() -> None:
    a, b, c = generate_private_key(), generate_private_key(), generate_private_key()
    start = TrustState.start(public_key_b64(a))
    keys = keys_file_bytes([rotation(a, b, 1), rotation(b, c, 2)])
    followed = start.follow(keys)
    moved = followed.state
    assert [r.sequence for r in followed.roots] == [1, 2]
    assert (moved.current_key, moved.rotations) == (public_key_b64(c), 2)
    assert set(moved.retired_keys) == {public_key_b64(a), public_key_b64(b)}
    assert start.current_key == public_key_b64(a)  # the old state is untouched: nothing is saved half-way
    data = b"manifest bytes"
    moved.verify(data, sign_manifest(data, c))
    with pytest.raises(SignatureError, match="retired key"):
        moved.verify(data, sign_manifest(data, a))
    # Plain data in and out.
    assert TrustState.from_dict(json.loads(json.dumps(moved.to_dict()))) == moved


def test_a_rotation_back_to_a_retired_key_is_not_followed() -> None:
    a, b = generate_private_key(), generate_private_key()
    followed = TrustState.start(public_key_b64(a)).follow(keys_file_bytes([rotation(a, b, 1), rotation(b, a, 2)]))
    assert followed.state.current_key == public_key_b64(b) and followed.state.rotations == 1
    assert followed.refused == ["root rotation 2 goes back to a key the station retired"]


def test_a_rotation_signed_by_another_key_is_ignored() -> None:
    a, thief = generate_private_key(), generate_private_key()
    entry = rotation(thief, generate_private_key())
    entry["rotation"]["previous_key"] = public_key_b64(a)
    state = TrustState.start(public_key_b64(a))
    followed = state.follow(keys_file_bytes([entry]))
    assert followed.state == state and not followed.moved
    assert followed.refused == ["root rotation 1 is not signed by the station's root key"]


def test_pinned_feed_rollback_and_expiry() -> None:
    state = TrustState.start("k").accepted(manifest(5))
    assert state.pinned_feed_id == "gy-test" and state.high_water == {"gy-test": 5}
    assert state.admit(manifest(6), now=NOW, held_feed_id="gy-test", held_version=5) == "newer"
    assert state.admit(manifest(5), now=NOW, held_feed_id="gy-test", held_version=5) == "same"
    with pytest.raises(TrustError) as refused:
        state.admit(manifest(4), now=NOW, held_feed_id="gy-test", held_version=5)
    assert refused.value.code == "rollback"
    with pytest.raises(TrustError) as refused:
        state.admit(manifest(9, "other"), now=NOW)
    assert refused.value.code == "wrong_feed"
    with pytest.raises(TrustError) as refused:
        state.admit(manifest(7, expires=NOW - dt.timedelta(seconds=1)), now=NOW, held_feed_id="gy-test",
                    held_version=5)
    assert refused.value.code == "expired"
    # hub.feed_id in the settings wins over the feed pinned at the first sync.
    assert state.admit(manifest(1, "other"), now=NOW, feed_id_setting="other") == "newer"


def test_release_offers_are_checked_and_capped() -> None:
    key = generate_private_key()
    state = TrustState.start(public_key_b64(key))
    data = offer_bytes()
    assert verify_release_offer(state.to_dict(), data, sign_manifest(data, key))["version"] == "0.7.0"
    with pytest.raises(SignatureError):
        verify_release_offer(state, data, sign_manifest(data, generate_private_key()))
    bad = json.dumps({**json.loads(data), "path": "../../etc/passwd"}).encode()
    with pytest.raises(TrustError, match="path"):
        verify_release_offer(state, bad, sign_manifest(bad, key))
    huge = b" " * (600 * 1024) + data
    with pytest.raises(TrustError) as refused:
        verify_release_offer(state, huge, sign_manifest(huge, key))
    assert refused.value.code == "too_large"


def test_after_rotate_key_releases_follow_the_station_s_current_key(station, hub: Hub) -> None:
    """The finding: after `hub rotate-key` a release signed with the retired key was installed,
    and one signed with the new key refused. The upgrader reads the station's trust from its
    database and verifies with the key the feed client moved to."""
    settings = station.write(hub_toml(hub))
    hub.publish(make_content(hub, jobs=5))
    assert client_for(settings).sync_once().status == "changed"
    old_key = load_key_file(hub.key_path)
    rotate_key(hub.home)
    new_key = load_key_file(hub.key_path)
    assert client_for(settings).sync_once().status == "changed"  # the feed follows the rotation

    trust = load_trust_state(settings.db_path, root_key=settings.hub.public_key, feed_id=settings.hub.feed_id)
    assert trust.current_key == public_key_b64(new_key) != settings.hub.public_key
    assert trust.pinned_feed_id == "gy-test" and trust.high_water["gy-test"] == 2
    data = offer_bytes()
    assert verify_release_offer(trust, data, sign_manifest(data, new_key))["version"] == "0.7.0"
    with pytest.raises(SignatureError, match="retired key"):
        verify_release_offer(trust, data, sign_manifest(data, old_key))
    bundle_manifest = b'{"format": "yizhan-release/1", "version": "0.7.0"}'
    verify_release_manifest(trust, bundle_manifest, sign_manifest(bundle_manifest, new_key))
    with pytest.raises(SignatureError, match="retired key"):
        verify_release_manifest(trust, bundle_manifest, sign_manifest(bundle_manifest, old_key))


def test_a_new_station_trusts_its_configured_key_and_an_unreadable_database_is_refused(tmp_path) -> None:
    key = public_key_b64(generate_private_key())
    assert load_trust_state(tmp_path / "none.db", root_key=key) == TrustState.start(key)
    broken = tmp_path / "station.db"
    broken.write_bytes(b"not a database" * 100)
    with pytest.raises(TrustError) as refused:
        load_trust_state(broken, root_key=key)
    assert refused.value.code == "trust_unreadable"
