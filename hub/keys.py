"""The hub's keys and the statements that tie them together (PROTOCOL.md §1.9).

Two roles, as in The Update Framework:

- the **root key** (``HOME/root.key``, its public half ``HOME/root.pub`` is every station's
  ``hub.public_key``) signs only statements about keys. It is needed for ``hub keygen``,
  ``hub rotate-key`` and ``hub rotate-root``, and nothing else: keep it offline (a USB stick
  in the bureau's safe; ``--root-key FILE`` points at it) and off the machine that serves;
- the **online key** (``HOME/feed.key`` / ``feed.pub``) signs manifests (``hub publish``,
  the daily ``hub refresh``, the console's publishing) and release offers (``hub release``)
  and bundles (``make release KEY=…``). It stays on the hub.

The statements are kept in ``HOME/key-rotations.json`` and copied as ``keys.json`` into
every feed folder:

- ``rotate_key``: a new online key, authorised by the root (``OnlineKey``); every feed is
  re-signed with it, so each station's next sync (or upgrade round) fails with the old key,
  reads ``keys.json`` and follows the authorisation; the old online key is retired;
- ``rotate_root``: a new root, signed by the old root and countersigned by the new one
  (``KeyRotation``), and with it a new online key the new root authorises, so the change
  reaches every station the same way;
- ``split_key``: a hub made before roles (one ``feed.key`` that stations trust) turns that
  key into its root and authorises a first online key. Run it once every station runs a
  release that knows roles (older ones would refuse the online key).

A hub without roles keeps working as before: its one key signs everything and
``rotate_key`` is then a root rotation, as in the first release.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.files import write_atomic
from hub.publish import (
    DEFAULT_VALID_DAYS,
    KEY_NAME,
    PUBLIC_NAME,
    ROTATIONS_NAME,
    PublishError,
    load_key_file,
    read_manifest_file,
    resign,
)
from protocol.feed import (
    KeyRotation,
    OnlineKey,
    generate_private_key,
    keys_file_bytes,
    private_key_pem,
    public_key_b64,
    sign_online_key,
    sign_rotation,
)

ROOT_KEY_NAME = "root.key"
ROOT_PUBLIC_NAME = "root.pub"


@dataclass
class KeyResult:
    """What a key command made: the public keys (root for stations, online for the hub) and
    the feeds re-signed with the online key."""

    root_public: str
    online_public: str
    sequence: int = 0  # the authorisation or rotation number just made
    feeds: list[tuple[str, int]] = field(default_factory=list)
    root_path: Path | None = None
    online_path: Path | None = None

    @property
    def public_key(self) -> str:  # the first release's name: the key that signs now
        return self.online_public


def has_roles(home: str | Path) -> bool:
    """Whether the hub's root and online keys are separate (``HOME/root.pub`` exists)."""
    return (Path(home) / ROOT_PUBLIC_NAME).exists()


def read_statements(home: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The hub's root rotations and online-key authorisations (empty lists for a new hub)."""
    path = Path(home) / ROTATIONS_NAME
    if not path.exists():
        return [], []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data.get("rotations", [])), list(data.get("online", []))


def _save_key(path: Path, key: Ed25519PrivateKey) -> Path:
    return write_atomic(path, private_key_pem(key), mode=0o600)


def _write_public(path: Path, public: str) -> None:
    write_atomic(path, (public + "\n").encode("ascii"), mode=0o644)


def _root(home: Path, root_key: str | Path | None) -> Ed25519PrivateKey:
    path = Path(root_key) if root_key else home / ROOT_KEY_NAME
    if not path.exists():
        raise PublishError(f"{path}: no root key here. The root key is kept offline: give its file with "
                           "--root-key (e.g. on the USB stick it was saved to)")
    key = load_key_file(path)
    expected = (home / ROOT_PUBLIC_NAME).read_text(encoding="ascii").strip()
    if public_key_b64(key) != expected:
        raise PublishError(f"{path} is not this hub's root key (its public half is not {ROOT_PUBLIC_NAME})")
    return key


def _authorise(home: Path, root: Ed25519PrivateKey, online: str, now: dt.datetime,
               rotations: list[dict[str, Any]], online_entries: list[dict[str, Any]]) -> int:
    sequence = max((int(e["authorisation"]["sequence"]) for e in online_entries), default=0) + 1
    statement = OnlineKey(sequence=sequence, root_key=public_key_b64(root), online_key=online, made_at=now)
    online_entries.append(sign_online_key(statement, root))
    write_atomic(home / ROTATIONS_NAME, keys_file_bytes(rotations, online_entries))
    return sequence


def _new_online(home: Path, root: Ed25519PrivateKey, now: dt.datetime, rotations: list[dict[str, Any]],
                online_entries: list[dict[str, Any]]) -> tuple[Ed25519PrivateKey, int]:
    """A new online key, authorised, then put in place (the old one kept as ``feed.key.<n>``).

    The statement first, then the key: a crash in between leaves the old key signing and a
    statement stations may follow early; the hub then signs with the new key at once (it is
    saved beside as ``feed.key.next`` before the statement is written)."""
    new = generate_private_key()
    pending = home / f"{KEY_NAME}.next"
    _save_key(pending, new)
    sequence = _authorise(home, root, public_key_b64(new), now, rotations, online_entries)
    if (home / KEY_NAME).exists():
        old = load_key_file(home / KEY_NAME)
        _save_key(home / f"{KEY_NAME}.{sequence - 1}", old)
    pending.replace(home / KEY_NAME)
    _write_public(home / PUBLIC_NAME, public_key_b64(new))
    return new, sequence


def _resign_all(home: Path, key: Ed25519PrivateKey, valid_days: int, now: dt.datetime) -> list[tuple[str, int]]:
    feeds = []
    for folder in sorted((home / "feeds").glob("*/")) if (home / "feeds").is_dir() else []:
        if read_manifest_file(folder) is not None:
            manifest = resign(folder, key=key, home=home, valid_days=valid_days, now=now)
            feeds.append((manifest.feed_id, manifest.version))
    return feeds


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)


def init_keys(home: str | Path, *, force: bool = False, now: dt.datetime | None = None) -> KeyResult:
    """A new hub's keys: ``root.key`` / ``root.pub`` (offline root; ``root.pub`` is the
    stations' ``hub.public_key``), ``feed.key`` / ``feed.pub`` (online) and the root's
    authorisation of the online key. Existing keys are never replaced unless ``force``."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    for name in (ROOT_KEY_NAME, ROOT_PUBLIC_NAME, KEY_NAME):
        if (home / name).exists() and not force:
            raise PublishError(f"{home / name} already exists; stations trust this hub's keys "
                               "(use --force to start over: every station must then be set up again)")
    root = generate_private_key()
    _save_key(home / ROOT_KEY_NAME, root)
    _write_public(home / ROOT_PUBLIC_NAME, public_key_b64(root))
    (home / KEY_NAME).unlink(missing_ok=True)
    online, sequence = _new_online(home, root, _now(now), [], [])
    return KeyResult(public_key_b64(root), public_key_b64(online), sequence, root_path=home / ROOT_KEY_NAME,
                     online_path=home / KEY_NAME)


def split_key(home: str | Path, *, valid_days: int = DEFAULT_VALID_DAYS, now: dt.datetime | None = None) -> KeyResult:
    """Give a hub made before roles its two keys: the one ``feed.key`` stations trust becomes
    the root (``root.key`` / ``root.pub``) and a new online key is authorised by it; every
    feed is re-signed with the online key. Stations follow at their next sync."""
    home = Path(home)
    if has_roles(home):
        raise PublishError(f"{home} already has a root key ({ROOT_PUBLIC_NAME}); nothing to split")
    root = load_key_file(home / KEY_NAME)
    now = _now(now)
    _save_key(home / ROOT_KEY_NAME, root)
    rotations, online_entries = read_statements(home)
    online, sequence = _new_online(home, root, now, rotations, online_entries)
    _write_public(home / ROOT_PUBLIC_NAME, public_key_b64(root))
    return KeyResult(public_key_b64(root), public_key_b64(online), sequence, _resign_all(home, online, valid_days, now),
                     root_path=home / ROOT_KEY_NAME, online_path=home / KEY_NAME)


def rotate_key(home: str | Path, *, root_key: str | Path | None = None, valid_days: int = DEFAULT_VALID_DAYS,
               now: dt.datetime | None = None) -> KeyResult:
    """Replace the online key (``HOME/feed.key``) without visiting any station: the root
    (``root_key``, default ``HOME/root.key``) authorises a new one, and every feed is re-signed
    with it. On a hub without roles the one key is replaced by a root rotation it signs."""
    home = Path(home)
    now = _now(now)
    rotations, online_entries = read_statements(home)
    if not has_roles(home):
        return _rotate_single(home, rotations, online_entries, valid_days, now)
    root = _root(home, root_key)
    online, sequence = _new_online(home, root, now, rotations, online_entries)
    return KeyResult(public_key_b64(root), public_key_b64(online), sequence, _resign_all(home, online, valid_days, now))


def _rotate_single(home: Path, rotations: list[dict[str, Any]], online_entries: list[dict[str, Any]],
                   valid_days: int, now: dt.datetime) -> KeyResult:
    old = load_key_file(home / KEY_NAME)
    new = generate_private_key()
    rotation = KeyRotation(sequence=len(rotations) + 1, previous_key=public_key_b64(old), new_key=public_key_b64(new),
                           made_at=now)
    rotations.append(sign_rotation(rotation, old, new))
    # The record first, then the key: a crash in between leaves the old key in use and a
    # record stations may follow early, which is harmless (the new key signs nothing yet).
    write_atomic(home / ROTATIONS_NAME, keys_file_bytes(rotations, online_entries))
    _save_key(home / f"{KEY_NAME}.{rotation.sequence}", old)
    _save_key(home / KEY_NAME, new)
    _write_public(home / PUBLIC_NAME, rotation.new_key)
    return KeyResult(rotation.new_key, rotation.new_key, rotation.sequence, _resign_all(home, new, valid_days, now))


def rotate_root(home: str | Path, *, root_key: str | Path | None = None, valid_days: int = DEFAULT_VALID_DAYS,
                now: dt.datetime | None = None) -> KeyResult:
    """Replace the root key: the old root (``root_key``, default ``HOME/root.key``) signs a
    rotation naming a new root, which countersigns it; the new root authorises a new online
    key (so that every station's next sync or upgrade round fails with the old one, reads
    ``keys.json`` and follows both), and every feed is re-signed. The new root is written
    where the old one was read from; the old one is kept beside it as ``root.key.<n>`` for the
    operator to destroy."""
    home = Path(home)
    if not has_roles(home):
        raise PublishError("this hub has one key for everything: 'yizhan hub rotate-key' replaces it, or "
                           "'yizhan hub split-key' gives it a separate root first")
    old = _root(home, root_key)
    target = Path(root_key) if root_key else home / ROOT_KEY_NAME
    now = _now(now)
    rotations, online_entries = read_statements(home)
    new_root = generate_private_key()
    rotation = KeyRotation(sequence=len(rotations) + 1, previous_key=public_key_b64(old),
                           new_key=public_key_b64(new_root), made_at=now)
    # Both roots are on disk before any statement names the new one.
    _save_key(target.with_name(f"{ROOT_KEY_NAME}.{rotation.sequence}"), old)
    pending = _save_key(target.with_name(f"{ROOT_KEY_NAME}.next"), new_root)
    rotations.append(sign_rotation(rotation, old, new_root))
    online, _ = _new_online(home, new_root, now, rotations, online_entries)
    pending.replace(target)
    _write_public(home / ROOT_PUBLIC_NAME, rotation.new_key)
    return KeyResult(rotation.new_key, public_key_b64(online), rotation.sequence,
                     _resign_all(home, online, valid_days, now), root_path=target)
