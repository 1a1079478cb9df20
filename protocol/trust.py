"""What a station trusts of its hub: one I/O-free object for the feed and for releases.

:class:`TrustState` holds, as plain data, everything a station decides trust with:

- the key chain: ``root_key`` (``hub.public_key``, where the chain starts), ``current_key``
  (the key it moved to by following signed rotations, ``keys.json``, PROTOCOL.md §1.9) and
  the keys it retired on the way. Only the current key signs anything for this station:
  manifests, release offers and release bundles alike. A retired key signs nothing any more,
  even if a copy of it leaked;
- the feed it is bound to (``pinned_feed_id``: ``hub.feed_id``, or the feed of its first
  successful sync) and the highest version of each feed it accepted (rollback);
- the freshness rule: a new version already past its signed expiry is refused.

Nothing here touches the network or a file: the feed client (:mod:`content.feed_client`)
fetches the bytes and keeps the state in the station database; the upgrader and the
installer fetch release offers and bundles and read the state with :func:`load_trust_state`
(the one function here that reads a file, outside the object). Every method returns a new
state instead of changing this one, so a caller persists a change only once it is sure.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from protocol.feed import (
    FeedError,
    KeyRotation,
    Manifest,
    SignatureError,
    follow_rotations,
    verify_manifest,
)

RELEASE_OFFER_FORMAT = "yizhan-release-offer/1"  # the hub's hub.releases.OFFER_FORMAT
MAX_OFFER_BYTES = 64 * 1024  # a real offer is well under 1 KB
MAX_OFFER_SIG_BYTES = 4096
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$")


class TrustError(FeedError):
    """A manifest or a release refused by the station's trust; ``code`` says why in one word
    (``wrong_feed``, ``rollback``, ``expired``, ``unparsable``, ``too_large``, ``trust_unreadable``)."""


@dataclass(frozen=True)
class TrustState:
    """The station's trust, as plain data (:meth:`to_dict` / :meth:`from_dict`)."""

    root_key: str
    current_key: str = ""
    rotations: int = 0
    retired_keys: tuple[str, ...] = ()
    pinned_feed_id: str = ""
    high_water: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.current_key:
            object.__setattr__(self, "current_key", self.root_key)
        object.__setattr__(self, "retired_keys", tuple(self.retired_keys))
        object.__setattr__(self, "high_water", dict(self.high_water))

    @classmethod
    def start(cls, root_key: str, *, feed_id: str = "") -> TrustState:
        """A station that has followed no rotation and accepted no feed yet."""
        return cls(root_key=root_key, pinned_feed_id=feed_id)

    # -- plain data ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"root_key": self.root_key, "current_key": self.current_key, "rotations": self.rotations,
                "retired_keys": list(self.retired_keys), "pinned_feed_id": self.pinned_feed_id,
                "high_water": dict(self.high_water)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustState:
        return cls(root_key=str(data["root_key"]), current_key=str(data.get("current_key") or ""),
                   rotations=int(data.get("rotations", 0)), retired_keys=tuple(data.get("retired_keys", ())),
                   pinned_feed_id=str(data.get("pinned_feed_id") or ""),
                   high_water={str(k): int(v) for k, v in dict(data.get("high_water") or {}).items()})

    # -- keys ---------------------------------------------------------------------------
    def verify(self, data: bytes, signature: bytes | str, *, what: str = "manifest.sig") -> None:
        """Raise :class:`SignatureError` unless ``signature`` signs ``data`` with the current key.

        A signature by a retired key is refused like any other, with a message that says so."""
        try:
            verify_manifest(data, signature, self.current_key)
        except SignatureError as exc:
            if exc.code == "no_key":
                raise
            for retired in self.retired_keys:
                try:
                    verify_manifest(data, signature, retired)
                except SignatureError:
                    continue
                raise SignatureError(f"{what} is made with a retired key: the station moved on to a newer key "
                                     "after a key rotation") from None
            raise SignatureError(f"{what} does not match the data and the station's current key") from None

    def follow(self, keys_file: bytes) -> tuple[TrustState, list[KeyRotation]]:
        """The state after following the rotations in ``keys_file`` that the current key signed
        (and the ones after them, in a chain); the same state and ``[]`` when there are none.
        A rotation back to a key this station retired is not followed."""
        _, chain = follow_rotations(self.current_key, keys_file)
        followed: list[KeyRotation] = []
        retired = list(self.retired_keys)
        for rotation in chain:
            if rotation.new_key in retired or rotation.new_key == rotation.previous_key:
                break
            retired.append(rotation.previous_key)
            followed.append(rotation)
        if not followed:
            return self, []
        return replace(self, current_key=followed[-1].new_key, rotations=self.rotations + len(followed),
                       retired_keys=tuple(retired)), followed

    # -- the feed -----------------------------------------------------------------------
    def pinned(self, setting: str = "") -> str:
        """The one feed this station accepts: ``hub.feed_id`` if set, else the one pinned."""
        return setting or self.pinned_feed_id

    def admit(self, manifest: Manifest, *, now: dt.datetime, held_feed_id: str = "", held_version: int = 0,
              feed_id_setting: str = "") -> Literal["same", "newer"]:
        """Whether a verified manifest may replace what the station holds: ``"same"`` (the
        version held again), ``"newer"``; :class:`TrustError` for another feed, an older
        version than the highest accepted (rollback) or a new version already expired."""
        pinned = self.pinned(feed_id_setting)
        if pinned and manifest.feed_id != pinned:
            raise TrustError(f"the manifest is for feed {manifest.feed_id}, this station shows feed {pinned} only",
                             "wrong_feed")
        held = max(self.high_water.get(manifest.feed_id, 0), held_version if held_feed_id == manifest.feed_id else 0)
        if manifest.version < held:
            raise TrustError(f"feed {manifest.feed_id} offers version {manifest.version}, the station holds {held}",
                             "rollback")
        if held_feed_id == manifest.feed_id and manifest.version == held_version:
            return "same"
        if manifest.expiry() < now:
            raise TrustError(f"feed {manifest.feed_id} version {manifest.version} expired at "
                             f"{manifest.expiry().isoformat()}", "expired")
        return "newer"

    def accepted(self, manifest: Manifest) -> TrustState:
        """The state once ``manifest`` is applied: its feed pinned, its version the high-water mark."""
        high = dict(self.high_water)
        high[manifest.feed_id] = max(high.get(manifest.feed_id, 0), manifest.version)
        return replace(self, pinned_feed_id=manifest.feed_id, high_water=high)


def _as_state(trust: TrustState | Mapping[str, Any]) -> TrustState:
    return trust if isinstance(trust, TrustState) else TrustState.from_dict(trust)


# -- releases ---------------------------------------------------------------------------------

def verify_release_offer(trust: TrustState | Mapping[str, Any], offer_bytes: bytes, sig_bytes: bytes) -> dict[str, Any]:
    """The release offer (``release.json``) as a dict, once its signature (``release.sig``) is
    verified with the station's current key and its fields are checked; :class:`SignatureError`
    or :class:`TrustError` otherwise. A retired key is refused."""
    state = _as_state(trust)
    if len(offer_bytes) > MAX_OFFER_BYTES:
        raise TrustError(f"release.json is larger than {MAX_OFFER_BYTES} bytes", "too_large")
    if len(sig_bytes) > MAX_OFFER_SIG_BYTES:
        raise TrustError(f"release.sig is larger than {MAX_OFFER_SIG_BYTES} bytes", "too_large")
    state.verify(offer_bytes, sig_bytes, what="release.sig")
    try:
        offer = json.loads(offer_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TrustError("release.json is not UTF-8 JSON", "unparsable") from None
    if not isinstance(offer, dict) or offer.get("format") != RELEASE_OFFER_FORMAT:
        raise TrustError(f"release.json is not a {RELEASE_OFFER_FORMAT} offer", "unparsable")
    sha = offer.get("sha256")
    problems = []
    if not isinstance(offer.get("version"), str) or not _VERSION_RE.match(offer["version"]):
        problems.append("version")
    if not isinstance(sha, str) or not _SHA256_RE.match(sha):
        problems.append("sha256")
    size = offer.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        problems.append("size")
    if offer.get("path") != f"releases/{sha}.tar":
        problems.append("path")
    if problems:
        raise TrustError(f"release.json: {', '.join(problems)} missing or malformed", "unparsable")
    return offer


def verify_release_manifest(trust: TrustState | Mapping[str, Any], raw: bytes, sig: bytes) -> None:
    """Raise :class:`SignatureError` unless ``sig`` (a bundle's ``MANIFEST.sig``) signs ``raw``
    (its ``MANIFEST.json``) with the station's current key. A retired key is refused."""
    _as_state(trust).verify(raw, sig, what="MANIFEST.sig")


# -- the station's state, read from its database (the only I/O here) -------------------------

def trust_from_rows(root_key: str, *, trust_row: Mapping[str, Any] | None, pinned_feed_id: str | None,
                    high_water: Mapping[str, int], feed_id_setting: str = "") -> TrustState:
    """The state from what the feed client keeps (``sync_trust``, ``sync_state.pinned_feed_id``,
    ``sync_high_water``). A ``hub.public_key`` other than the one the chain started from starts
    over from the new setting (staff set up the station again)."""
    current, rotations, retired = root_key, 0, ()
    if trust_row is not None and trust_row["root_key"] == root_key:
        current, rotations = trust_row["trusted_key"], int(trust_row["rotations"] or 0)
        if current != root_key:
            retired = (root_key,)
    return TrustState(root_key=root_key, current_key=current, rotations=rotations, retired_keys=retired,
                      pinned_feed_id=feed_id_setting or pinned_feed_id or "", high_water=dict(high_water))


def read_trust(conn: sqlite3.Connection, root_key: str, *, feed_id_setting: str = "") -> TrustState:
    """The state kept in the station database (an open connection; tables not there yet = a new station)."""
    def rows(sql: str) -> list[Any]:
        try:
            return list(conn.execute(sql))
        except sqlite3.OperationalError as exc:
            if "no such" in str(exc):
                return []
            raise

    trust = rows("SELECT root_key, trusted_key, rotations FROM sync_trust WHERE id = 1")
    pinned = rows("SELECT pinned_feed_id FROM sync_state WHERE id = 1")
    high = rows("SELECT feed_id, version FROM sync_high_water")
    trust_row = dict(zip(("root_key", "trusted_key", "rotations"), tuple(trust[0]), strict=True)) if trust else None
    return trust_from_rows(root_key, trust_row=trust_row, pinned_feed_id=pinned[0][0] if pinned else None,
                           high_water={str(r[0]): int(r[1]) for r in high}, feed_id_setting=feed_id_setting)


def load_trust_state(db_path: str | Path, *, root_key: str, feed_id: str = "") -> TrustState:
    """The station's current trust, read-only from its database ``db_path`` (``settings.db_path``:
    ``<storage.data_dir>/station.db``), for the upgrader and the installer. ``root_key`` is
    ``hub.public_key`` and ``feed_id`` is ``hub.feed_id`` from the station's settings.

    No database yet (a new station) gives the state at the root key. A database that exists but
    cannot be read raises :class:`TrustError` (``trust_unreadable``): falling back to the root
    key would trust a key the station may have retired."""
    path = Path(db_path)
    if not path.exists():
        return TrustState.start(root_key, feed_id=feed_id)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return read_trust(conn, root_key, feed_id_setting=feed_id)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise TrustError(f"cannot read the station's trusted key from {path}: {exc}", "trust_unreadable") from None
