"""Key roles (PROTOCOL.md §1.9): an offline root that authorises an online key for manifests
and releases. The online key is rotated, the root is rotated, a one-key hub is split, and
stations follow each change through keys.json, against a real hub on loopback; statements not
signed by the root, releases by an unauthorised key and a rollback to an older key are refused
with a message that says so."""

from __future__ import annotations

import datetime as dt
import json
import stat

import pytest
from feed_support import Hub, assert_shows, client_for, hub_toml, make_content

from config.cli import main
from config.station import Station
from content.trust_store import load_trust_state
from hub.keys import ROOT_KEY_NAME, ROOT_PUBLIC_NAME, read_statements, rotate_key, rotate_root, split_key
from hub.publish import PublishError, load_key_file
from protocol.feed import (
    KeyRotation,
    OnlineKey,
    SignatureError,
    generate_private_key,
    keys_file_bytes,
    public_key_b64,
    sign_manifest,
    sign_online_key,
    sign_rotation,
)
from protocol.trust import TrustState, verify_release_manifest, verify_release_offer

NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
SHA = "cd" * 32
DATA = b"manifest bytes"


def authorise(root, online, sequence: int) -> dict:
    return sign_online_key(OnlineKey(sequence=sequence, root_key=public_key_b64(root), online_key=public_key_b64(online),
                                     made_at=NOW), root)


def offer_bytes(version: str = "0.9.0") -> bytes:
    return json.dumps({"format": "yizhan-release-offer/1", "version": version, "sha256": SHA, "size": 1000,
                       "path": f"releases/{SHA}.tar", "stations": [], "percent": 100}, sort_keys=True).encode()


# -- the trust object ---------------------------------------------------------------------------

def test_the_online_key_signs_and_the_root_signs_only_keys() -> None:
    root, first, second = generate_private_key(), generate_private_key(), generate_private_key()
    start = TrustState.start(public_key_b64(root))
    start.verify(DATA, sign_manifest(DATA, root))  # a hub without roles: the root signs
    followed = start.follow(keys_file_bytes([], [authorise(root, first, 1), authorise(root, second, 2)]))
    state = followed.state
    assert (state.online_key, state.online_sequence, state.root_key) == (public_key_b64(second), 2, public_key_b64(root))
    state.verify(DATA, sign_manifest(DATA, second))
    with pytest.raises(SignatureError, match="root key, which signs only key statements"):
        state.verify(DATA, sign_manifest(DATA, root))
    with pytest.raises(SignatureError, match="retired key"):
        state.verify(DATA, sign_manifest(DATA, first))
    assert TrustState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_an_authorisation_not_signed_by_the_root_is_refused_with_its_reason() -> None:
    root, thief = generate_private_key(), generate_private_key()
    forged = authorise(thief, thief, 1)
    forged["authorisation"]["root_key"] = public_key_b64(root)  # claims to come from the station's root
    start = TrustState.start(public_key_b64(root))
    followed = start.follow(keys_file_bytes([], [forged]))
    assert followed.state == start and not followed.moved
    assert followed.refused == ["online key authorisation 1 is not signed by the station's root key"]
    with pytest.raises(SignatureError, match="never authorised"):
        verify_release_offer(start, offer_bytes(), sign_manifest(offer_bytes(), thief))


def test_a_rollback_to_an_older_online_key_is_refused() -> None:
    root, first, second = generate_private_key(), generate_private_key(), generate_private_key()
    state = TrustState.start(public_key_b64(root)).follow(
        keys_file_bytes([], [authorise(root, first, 1), authorise(root, second, 2)])).state
    # A mirror serves the old key list (only the first authorisation): the station stays put.
    replay = state.follow(keys_file_bytes([], [authorise(root, first, 1)]))
    assert replay.state == state and not replay.moved
    with pytest.raises(SignatureError, match="retired key"):
        verify_release_manifest(replay.state, DATA, sign_manifest(DATA, first))


def test_a_root_rotation_needs_the_old_root_and_the_new_one() -> None:
    old, new, online = generate_private_key(), generate_private_key(), generate_private_key()
    record = KeyRotation(sequence=1, previous_key=public_key_b64(old), new_key=public_key_b64(new), made_at=NOW)
    bad_countersignature = sign_rotation(record, old, new) | {"new_key_signature": sign_rotation(record, old)["signature"]}
    start = TrustState.start(public_key_b64(old))
    refused = start.follow(keys_file_bytes([bad_countersignature], [authorise(new, online, 1)]))
    assert not refused.moved
    assert "root rotation 1 is not countersigned by the new root key it names" in refused.refused
    moved = start.follow(keys_file_bytes([sign_rotation(record, old, new)], [authorise(new, online, 1)])).state
    assert (moved.root_key, moved.online_key, moved.anchor) == (public_key_b64(new), public_key_b64(online),
                                                                public_key_b64(old))
    assert public_key_b64(old) in moved.retired_keys
    moved.verify(DATA, sign_manifest(DATA, online))


# -- the hub's commands ---------------------------------------------------------------------------

def test_keygen_keeps_the_root_apart_and_rotate_key_asks_for_it(tmp_path, capsys) -> None:
    home, stick = tmp_path / "hub", tmp_path / "usb"
    assert main(["hub", "keygen", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    root_public = (home / ROOT_PUBLIC_NAME).read_text().strip()
    assert root_public in out and "offline" in out
    assert (home / "feed.pub").read_text().strip() != root_public
    for name in (ROOT_KEY_NAME, "feed.key"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600
    stick.mkdir()
    (home / ROOT_KEY_NAME).rename(stick / ROOT_KEY_NAME)  # the operator moves the root offline
    assert main(["hub", "refresh", "--home", str(home)]) == 0  # the daily job needs no root
    assert main(["hub", "rotate-key", "--home", str(home)]) != 0
    assert "--root-key" in capsys.readouterr().err
    assert main(["hub", "rotate-key", "--home", str(home), "--root-key", str(home / "feed.key")]) != 0
    assert "is not this hub's root key" in capsys.readouterr().err
    assert main(["hub", "rotate-key", "--home", str(home), "--root-key", str(stick / ROOT_KEY_NAME)]) == 0
    assert not (home / ROOT_KEY_NAME).exists()
    _, online = read_statements(home)
    assert [e["authorisation"]["sequence"] for e in online] == [1, 2]


# -- stations following the hub ---------------------------------------------------------------------

@pytest.fixture
def settings(station, hub: Hub):
    return station.write(hub_toml(hub))


def test_a_one_key_hub_split_then_both_keys_rotated_reach_the_station(settings, hub: Hub) -> None:
    content = make_content(hub, jobs=12)
    hub.publish(content)
    assert client_for(settings).sync_once().status == "changed"

    split = split_key(hub.home)  # the key stations trust becomes the root
    assert split.root_public == settings.hub.public_key and (hub.home / ROOT_KEY_NAME).exists()
    result = client_for(settings).sync_once()
    assert (result.status, result.version) == ("changed", 2), result.detail

    online = rotate_key(hub.home)  # the online key, authorised by the root
    result = client_for(settings).sync_once()
    assert (result.status, result.version) == ("changed", 3), result.detail
    trust = load_trust_state(settings.db_path, root_key=settings.hub.public_key)
    assert (trust.online_key, trust.root_key) == (online.online_public, settings.hub.public_key)

    rooted = rotate_root(hub.home)  # the root itself, and a new online key with it
    result = client_for(settings).sync_once()
    assert (result.status, result.version) == ("changed", 4), result.detail
    assert_shows(settings, content, 4)
    trust = load_trust_state(settings.db_path, root_key=settings.hub.public_key)
    assert (trust.root_key, trust.online_key) == (rooted.root_public, rooted.online_public)
    assert settings.hub.public_key in trust.retired_keys and online.online_public in trust.retired_keys
    assert Station(settings).sync_status()["key_rotations"] == 4  # split, online, root + its online key

    # Releases follow the same trust: the online key now, nothing else.
    offer = offer_bytes()
    new_online = load_key_file(hub.key_path)
    assert verify_release_offer(trust, offer, sign_manifest(offer, new_online))["version"] == "0.9.0"
    with pytest.raises(SignatureError, match="root key, which signs only key statements"):
        verify_release_offer(trust, offer, sign_manifest(offer, load_key_file(hub.home / ROOT_KEY_NAME)))
    with pytest.raises(SignatureError, match="never authorised"):
        verify_release_offer(trust, offer, sign_manifest(offer, generate_private_key()))


def test_an_online_key_the_root_did_not_sign_is_refused_by_the_station(settings, hub: Hub) -> None:
    hub.publish(make_content(hub, jobs=8))
    split_key(hub.home)
    assert client_for(settings).sync_once().status == "changed"
    thief = generate_private_key()
    rotations, online = read_statements(hub.home)
    forged = sign_online_key(OnlineKey(sequence=9, root_key=public_key_b64(thief), online_key=public_key_b64(thief),
                                       made_at=NOW), thief)
    forged["authorisation"]["root_key"] = settings.hub.public_key
    (hub.feed_dir / "keys.json").write_bytes(keys_file_bytes(rotations, [*online, forged]))
    data = (hub.feed_dir / "manifest.json").read_bytes().replace(b'"version": 2', b'"version": 3')
    (hub.feed_dir / "manifest.sig").write_bytes(sign_manifest(data, thief))
    (hub.feed_dir / "manifest.json").write_bytes(data)
    result = client_for(settings).sync_once()
    assert (result.status, result.code, result.version) == ("failed", "bad_signature", 2)
    assert "online key authorisation 9 is not signed by the station's root key" in result.detail


def test_rotate_root_refuses_a_hub_without_roles(hub: Hub) -> None:
    with pytest.raises(PublishError, match="split-key"):
        rotate_root(hub.home)
