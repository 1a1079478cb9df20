"""What a station trusts of its hub: one I/O-free object for the feed and for releases.

:class:`TrustState` holds, as plain data, everything a station decides trust with:

- the key roles (PROTOCOL.md §1.9), as in The Update Framework: the *root* key, where the
  chain starts (``hub.public_key``, the ``anchor``) and where signed root rotations moved it
  since, signs only statements about keys and stays offline at the hub; the *online* key it
  authorised signs manifests, release offers and release bundles, so the hub's daily
  ``hub refresh`` and ``hub release`` never need the root. A hub without roles (one key, as
  first released) has no authorisation: its root signs everything (``online_key`` empty);
- the keys it retired on the way (replaced roots and online keys): a retired key signs
  nothing any more for this station, even if a copy of it leaked, and a statement that goes
  back to one (or to an older authorisation) is refused;
- the feed it is bound to (``pinned_feed_id``: ``hub.feed_id``, or the feed of its first
  successful sync) and the highest version of each feed it accepted (rollback);
- the freshness rule: a new version already past its signed expiry is refused.

Nothing here touches the network or a file. The feed client fetches the bytes and keeps
the state in the station database (:mod:`content.trust_store`), handing it back here with
:meth:`TrustState.restore`; the upgrader and the installer are handed the state the same
way. Every method returns a new state instead of changing this one, so a caller persists a
change only once it is sure.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from protocol.feed import (
    FeedError,
    KeyRotation,
    Manifest,
    OnlineKey,
    SignatureError,
    read_keys_file,
    signed_by,
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
class Followed:
    """What reading ``keys.json`` did: the new state, the root rotations and the online-key
    authorisation followed, and why other statements were refused (English, for logs)."""

    state: TrustState
    roots: list[KeyRotation] = field(default_factory=list)
    online: OnlineKey | None = None
    refused: list[str] = field(default_factory=list)

    @property
    def moved(self) -> bool:
        return bool(self.roots) or self.online is not None

    def explain(self) -> str:
        return "; ".join(self.refused)


@dataclass(frozen=True)
class TrustState:
    """The station's trust, as plain data (:meth:`to_dict` / :meth:`from_dict`).

    ``anchor``: ``hub.public_key``; ``root_key``: the root now (the anchor until a root
    rotation); ``online_key``: the key the root authorised to sign manifests and releases
    (empty: the root signs them, a hub without roles); ``online_sequence``: the number of
    that authorisation; ``rotations``: how many key changes the station followed."""

    anchor: str
    root_key: str = ""
    online_key: str = ""
    online_sequence: int = 0
    rotations: int = 0
    retired_keys: tuple[str, ...] = ()
    pinned_feed_id: str = ""
    high_water: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.root_key:
            object.__setattr__(self, "root_key", self.anchor)
        object.__setattr__(self, "retired_keys", tuple(self.retired_keys))
        object.__setattr__(self, "high_water", dict(self.high_water))

    @classmethod
    def start(cls, anchor: str, *, feed_id: str = "") -> TrustState:
        """A station that has followed no key statement and accepted no feed yet."""
        return cls(anchor=anchor, pinned_feed_id=feed_id)

    @classmethod
    def restore(cls, anchor: str, stored: Mapping[str, Any] | None, *, feed_id_setting: str = "") -> TrustState:
        """The state a station kept (:meth:`to_dict`'s form, as its database hands it back),
        for ``hub.public_key`` = ``anchor``. Kept state of another anchor (staff set the station
        up again with another hub key) starts over from the new one, keeping the feed's
        high-water marks (a rollback stays a rollback)."""
        if stored is None:
            return cls.start(anchor, feed_id=feed_id_setting)
        kept = cls.from_dict(stored)
        if kept.anchor != anchor:
            kept = cls(anchor=anchor, pinned_feed_id=kept.pinned_feed_id, high_water=kept.high_water)
        if feed_id_setting:
            kept = replace(kept, pinned_feed_id=feed_id_setting)
        return kept

    @property
    def signing_key(self) -> str:
        """The one key that signs manifests, release offers and bundles for this station now."""
        return self.online_key or self.root_key

    @property
    def current_key(self) -> str:  # the name of the first release: the signing key
        return self.signing_key

    # -- plain data ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"anchor": self.anchor, "root_key": self.root_key, "online_key": self.online_key,
                "online_sequence": self.online_sequence, "rotations": self.rotations,
                "retired_keys": list(self.retired_keys), "pinned_feed_id": self.pinned_feed_id,
                "high_water": dict(self.high_water)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustState:
        return cls(anchor=str(data["anchor"]), root_key=str(data.get("root_key") or ""),
                   online_key=str(data.get("online_key") or ""), online_sequence=int(data.get("online_sequence") or 0),
                   rotations=int(data.get("rotations") or 0), retired_keys=tuple(data.get("retired_keys") or ()),
                   pinned_feed_id=str(data.get("pinned_feed_id") or ""),
                   high_water={str(k): int(v) for k, v in dict(data.get("high_water") or {}).items()})

    # -- keys ---------------------------------------------------------------------------
    def verify(self, data: bytes, signature: bytes | str, *, what: str = "manifest.sig") -> None:
        """Raise :class:`SignatureError` unless ``signature`` signs ``data`` with the signing key.

        The message tells a retired key, the root key (which signs keys only, once the hub has
        an online key) and any other key apart."""
        try:
            verify_manifest(data, signature, self.signing_key)
            return
        except SignatureError as exc:
            if exc.code == "no_key":
                raise
        if any(signed_by(key, signature, data) for key in self.retired_keys):
            raise SignatureError(f"{what} is made with a retired key: the station moved on to a newer key "
                                 "after a key rotation")
        if self.online_key and signed_by(self.root_key, signature, data):
            raise SignatureError(f"{what} is made with the root key, which signs only key statements: "
                                 "manifests and releases are signed by the online key it authorised")
        raise SignatureError(f"{what} does not match the data and the key this station trusts "
                             "(made with a key its root never authorised, or the data was altered)")

    def follow(self, keys_file: bytes) -> Followed:
        """The state after following ``keys.json``: the root rotations the root signed (and
        countersigned by the new root, where the record carries a countersignature), in a
        chain, then the newest online-key authorisation the resulting root signed. Statements
        not signed by the root, going back to a retired key or older than the authorisation
        held are not followed; :attr:`Followed.refused` says why."""
        statements = read_keys_file(keys_file)
        root, retired, refused = self.root_key, list(self.retired_keys), []
        roots: list[KeyRotation] = []
        progress = True
        while progress:
            progress = False
            for rotation, signature, countersignature in statements.rotations:
                if rotation.previous_key != root or rotation in roots:
                    continue
                problem = _rotation_problem(rotation, signature, countersignature, retired)
                if problem:
                    refused.append(problem)
                    continue
                retired.append(root)
                root = rotation.new_key
                roots.append(rotation)
                progress = True
                break
        online, sequence = self.online_key, self.online_sequence
        valid: list[OnlineKey] = []
        for statement, signature in statements.online:
            problem = _authorisation_problem(statement, signature, root, sequence, online, retired)
            if problem:
                refused.append(problem)
            elif statement.sequence > sequence and statement.root_key == root:
                valid.append(statement)
        chosen = max(valid, key=lambda s: s.sequence) if valid else None
        if chosen is not None:
            # The key held and every key authorised before the newest are retired.
            retired += [k for k in (online, *(s.online_key for s in valid if s is not chosen)) if k]
            online, sequence = chosen.online_key, chosen.sequence
        if not roots and chosen is None:
            return Followed(self, refused=refused)
        state = replace(self, root_key=root, online_key=online, online_sequence=sequence,
                        rotations=self.rotations + len(roots) + (chosen is not None),
                        retired_keys=tuple(dict.fromkeys(k for k in retired if k not in (root, online))))
        return Followed(state, roots, chosen, refused)

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


def _rotation_problem(rotation: KeyRotation, signature: str, countersignature: str | None,
                      retired: list[str]) -> str:
    what = f"root rotation {rotation.sequence}"
    if not signed_by(rotation.previous_key, signature, rotation.signed_bytes()):
        return f"{what} is not signed by the station's root key"
    if countersignature is not None and not signed_by(rotation.new_key, countersignature, rotation.signed_bytes()):
        return f"{what} is not countersigned by the new root key it names"
    if rotation.new_key in retired or rotation.new_key == rotation.previous_key:
        return f"{what} goes back to a key the station retired"
    return ""


def _authorisation_problem(statement: OnlineKey, signature: str, root: str, sequence: int, online: str,
                           retired: list[str]) -> str:
    what = f"online key authorisation {statement.sequence}"
    if statement.root_key in retired:
        return ""  # made by a root the station has moved on from: history, not an attack
    if statement.root_key != root or not signed_by(root, signature, statement.signed_bytes()):
        return f"{what} is not signed by the station's root key"
    if statement.sequence < sequence:
        return ""  # an older authorisation: history (a manifest signed by its key is a retired key's)
    if statement.sequence == sequence and statement.online_key != online:
        return f"{what} names another key than the authorisation {sequence} the station follows"
    if statement.online_key in retired or statement.online_key == root:
        return f"{what} names a key the station retired (or its root key)"
    return ""


def _as_state(trust: TrustState | Mapping[str, Any]) -> TrustState:
    return trust if isinstance(trust, TrustState) else TrustState.from_dict(trust)


# -- releases ---------------------------------------------------------------------------------

def verify_release_offer(trust: TrustState | Mapping[str, Any], offer_bytes: bytes, sig_bytes: bytes) -> dict[str, Any]:
    """The release offer (``release.json``) as a dict, once its signature (``release.sig``) is
    verified with the station's signing key (the online key its
    root authorised) and its fields are checked; :class:`SignatureError`
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
    (its ``MANIFEST.json``) with the station's signing key. A retired key is refused."""
    _as_state(trust).verify(raw, sig, what="MANIFEST.sig")
