"""The signed feed format: the manifest, its Ed25519 signature, and the item files.

A feed is a directory any static web server can serve (see ``content/PROTOCOL.md``)::

    manifest.json          what this version holds (this module's :class:`Manifest`)
    manifest.sig           base64 of the Ed25519 signature of the exact bytes of manifest.json
    items/<sha256>.json    content, split into small files so a small change re-fetches little
    media/<sha256>.<ext>   videos and pictures, addressed by their SHA-256

Records of one kind are split into shards by a hash of their id (``job-0017`` holds every
job whose id hashes to bucket 17). A changed job changes one shard, so a station re-fetches
one small file instead of the whole list. Item files are named by their own SHA-256: a
station keeps the ones it has verified and fetches only names it has not seen.

This module only encodes, decodes, signs and verifies; building a feed directory is
``hub.publish`` and fetching one is ``content.feed_client``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from protocol.model import RECORD_TYPES, ContentSet, MediaRef, Rejection, validate_records

FORMAT: Final = "yizhan-feed/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
KEYS_NAME = "keys.json"
KEYS_FORMAT = "yizhan-keys/1"
MAX_KEYS_BYTES = 256 * 1024
# A manifest without "expires" (an older or third-party server) is trusted this long after
# it was generated, so that a frozen feed is noticed even then.
DEFAULT_VALIDITY = dt.timedelta(days=7)

# Item kinds and the ContentSet attribute each fills. "document" items carry named JSON.
RECORD_KINDS: dict[str, str] = {
    "job": "jobs",
    "policy": "policies",
    "event": "events",
    "course": "courses",
    "announcement": "announcements",
}
ITEM_KINDS = (*RECORD_KINDS, "document")
DEFAULT_SHARD_TARGET = 8  # records per shard; bench/sync.py measures the trade-off
DOCUMENT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

_SHA256 = r"^[0-9a-f]{64}$"
_SAFE_PATH = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$"


class FeedError(Exception):
    """A feed could not be used. ``code`` says why in one word (also used in logs and tests)."""

    code = "feed_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class ManifestError(FeedError):
    """The manifest does not parse or breaks a rule of the format."""

    code = "unparsable"


class SignatureError(FeedError):
    """The signature is missing, malformed or does not match the manifest and the station's key."""

    code = "bad_signature"


class _FeedModel(BaseModel):
    # Unknown keys are ignored so that a newer hub can add fields without breaking stations;
    # the signature still covers them.
    model_config = ConfigDict(extra="ignore", frozen=True)


ItemKind = Literal["job", "policy", "event", "course", "announcement", "document"]


class ManifestItem(_FeedModel):
    id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,100}$")
    kind: ItemKind
    path: str = Field(pattern=_SAFE_PATH)
    sha256: str = Field(pattern=_SHA256)
    size: int = Field(ge=0, le=64 * 1024 * 1024)
    count: int = Field(default=0, ge=0, description="records in the item (0 for documents)")

    @field_validator("path")
    @classmethod
    def _no_parent(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise ValueError("must not contain '..'")
        return value


class ManifestMedia(_FeedModel):
    sha256: str = Field(pattern=_SHA256)
    size: int = Field(ge=0)
    type: str = Field(pattern=r"^[a-z]+/[a-z0-9.+-]+$")
    path: str = Field(pattern=r"^media/[0-9a-f]{64}\.[a-z0-9]{1,5}$")

    @model_validator(mode="after")
    def _path_is_hash(self) -> ManifestMedia:
        if not self.path.startswith(f"media/{self.sha256}."):
            raise ValueError(f"path {self.path!r} does not match sha256 {self.sha256[:12]}…")
        return self

    @property
    def ext(self) -> str:
        return self.path.rsplit(".", 1)[1]

    def ref(self) -> MediaRef:
        return MediaRef(sha256=self.sha256, size=self.size, type=self.type, ext=self.ext)

    @classmethod
    def from_ref(cls, ref: MediaRef) -> ManifestMedia:
        return cls(sha256=ref.sha256, size=ref.size, type=ref.type, path=f"media/{ref.filename}")


class Scope(_FeedModel):
    """Which stations a feed is for: GB/T 2260 region codes (``520000`` = the whole province,
    ``520100`` = a city, ``520103`` = a district; ``*`` = everywhere) and/or station ids."""

    regions: list[str] = Field(default_factory=list)
    stations: list[str] = Field(default_factory=list)

    @field_validator("regions")
    @classmethod
    def _codes(cls, values: list[str]) -> list[str]:
        for code in values:
            if code != "*" and not re.fullmatch(r"\d{6}", code):
                raise ValueError(f"region {code!r} is not a 6-digit GB/T 2260 code or '*'")
        return values

    @model_validator(mode="after")
    def _not_empty(self) -> Scope:
        if not self.regions and not self.stations:
            raise ValueError("scope names no region and no station (use regions ['*'] for all)")
        return self

    def covers(self, station_id: str, region: str) -> bool:
        if station_id in self.stations:
            return True
        for code in self.regions:
            if code == "*":
                return True
            prefix = code
            # 520100 covers 5201xx, 520000 covers 52xxxx: trailing "00" pairs are wildcards.
            while len(prefix) > 2 and prefix.endswith("00"):
                prefix = prefix[:-2]
            if region and region.startswith(prefix):
                return True
        return False

    def describe(self) -> str:
        parts = [*(f"region {r}" for r in self.regions), *(f"station {s}" for s in self.stations)]
        return ", ".join(parts)


class Manifest(_FeedModel):
    format: Literal["yizhan-feed/1"] = FORMAT
    feed_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    version: int = Field(ge=1, lt=2**53)
    generated_at: dt.datetime
    scope: Scope
    items: list[ManifestItem]
    media: list[ManifestMedia] = Field(default_factory=list)
    # Shards per record kind, so the next version can keep the same split.
    shards: dict[str, int] = Field(default_factory=dict)
    # Signed end of validity: a station whose newest verified manifest is past it knows its
    # feed is frozen (the hub stopped publishing, or someone replays an old version).
    expires: dt.datetime | None = None

    @field_validator("generated_at", "expires")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. 2025-03-01T08:00:00+08:00)")
        return value

    def expiry(self) -> dt.datetime:
        """When this manifest stops being fresh: ``expires``, or ``generated_at`` + 7 days."""
        return self.expires or self.generated_at + DEFAULT_VALIDITY

    @model_validator(mode="after")
    def _unique(self) -> Manifest:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} appears twice")
            seen.add(item.id)
        hashes = [m.sha256 for m in self.media]
        if len(hashes) != len(set(hashes)):
            raise ValueError("a media sha256 appears twice")
        return self

    # -- bytes ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The bytes to publish and sign: UTF-8 JSON, one item per line (readable, diffable)."""
        parts = []
        for key, value in self.model_dump(mode="json", exclude_none=True).items():
            if isinstance(value, list) and value:
                rows = ",\n".join("  " + _dumps(row) for row in value)
                parts.append(f" {json.dumps(key)}: [\n{rows}\n ]")
            else:
                parts.append(f" {json.dumps(key)}: {_dumps(value)}")
        return ("{\n" + ",\n".join(parts) + "\n}\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse and check a manifest; :class:`ManifestError` says what is wrong."""
        if len(data) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"manifest is {len(data)} bytes, more than the limit {MAX_MANIFEST_BYTES}")
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"manifest is not UTF-8 JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ManifestError("manifest is not a JSON object")
        fmt = raw.get("format")
        if fmt != FORMAT:
            raise ManifestError(f"manifest format {fmt!r} is not {FORMAT!r}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise ManifestError(f"manifest {loc}: {first['msg']}{more}") from None

    def media_refs(self) -> dict[str, MediaRef]:
        return {m.sha256: m.ref() for m in self.media}

    def total_bytes(self) -> int:
        return sum(i.size for i in self.items) + sum(m.size for m in self.media)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_json(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON: equal content gives equal bytes and equal hashes."""
    return _dumps(value).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- keys and signatures --------------------------------------------------------------

def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise FeedError(f"not a PEM private key: {exc}", "bad_key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise FeedError("the private key is not an Ed25519 key", "bad_key")
    return key


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The form stations put in ``hub.public_key``: base64 of the raw 32-byte public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign_manifest(manifest_bytes: bytes, key: Ed25519PrivateKey) -> bytes:
    """The contents of ``manifest.sig``: base64 of the 64-byte signature and a newline."""
    return base64.b64encode(key.sign(manifest_bytes)) + b"\n"


def _verifier(public_key: str) -> Ed25519PublicKey:
    if not public_key:
        raise SignatureError("no hub.public_key is set: the station cannot verify any feed", "no_key")
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
    except ValueError:
        raise SignatureError("hub.public_key is not a base64 Ed25519 public key", "no_key") from None


def _signature(text: bytes | str, what: str) -> bytes:
    try:
        signature = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise SignatureError(f"{what} is not base64") from None
    if len(signature) != 64:
        raise SignatureError(f"{what} holds {len(signature)} bytes, an Ed25519 signature has 64")
    return signature


def verify_manifest(manifest_bytes: bytes, signature_file: bytes | str, public_key: str) -> None:
    """Raise :class:`SignatureError` unless ``signature_file`` signs ``manifest_bytes`` with ``public_key``."""
    verifier = _verifier(public_key)
    signature = _signature(signature_file, "manifest.sig")
    try:
        verifier.verify(signature, manifest_bytes)
    except InvalidSignature:
        raise SignatureError("manifest.sig does not match manifest.json and the station's trusted key") from None


# -- key statements (``keys.json``) ---------------------------------------------------------
#
# Two roles, as in The Update Framework: the *root* key (``hub.public_key`` on every station,
# kept offline) signs only statements about keys; the *online* key (``feed.key`` on the hub)
# signs manifests, release offers and release bundles. ``keys.json`` beside the manifest
# lists every statement since the first one:
#
# - a root rotation (:class:`KeyRotation`), signed by the root it replaces and by the new root;
# - an online-key authorisation (:class:`OnlineKey`), signed by the root of its time.
#
# Only the checks live here (bytes, signatures); which statements a station follows is the
# trust object's (``protocol.trust``). A hub without roles has no authorisation: its root
# signs manifests itself, and its rotations are root rotations (the format of the first release).

ONLINE_KEY_FORMAT = "yizhan-online-key/1"


class KeyRotation(_FeedModel):
    """One change of the root key: ``previous_key`` hands trust to ``new_key``."""

    sequence: int = Field(ge=1)
    previous_key: str
    new_key: str
    made_at: dt.datetime

    def signed_bytes(self) -> bytes:
        return canonical_json({"format": KEYS_FORMAT, **self.model_dump(mode="json")})


class OnlineKey(_FeedModel):
    """The root's statement that ``online_key`` signs manifests and releases from now on.

    ``sequence`` counts authorisations over the hub's life (never reused, across root
    rotations too): a station follows only a higher one than it holds."""

    sequence: int = Field(ge=1)
    root_key: str
    online_key: str
    made_at: dt.datetime

    def signed_bytes(self) -> bytes:
        return canonical_json({"format": ONLINE_KEY_FORMAT, **self.model_dump(mode="json")})


def _sign_b64(key: Ed25519PrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data)).decode("ascii")


def sign_rotation(rotation: KeyRotation, previous: Ed25519PrivateKey,
                  new: Ed25519PrivateKey | None = None) -> dict[str, Any]:
    """The entry for ``keys.json``: the record, the previous root's signature of it and (given
    ``new``) the new root's countersignature, which shows the new key's holder has it."""
    if public_key_b64(previous) != rotation.previous_key:
        raise FeedError("a key rotation must be signed by the key it replaces", "bad_key")
    entry = {"rotation": rotation.model_dump(mode="json"), "signature": _sign_b64(previous, rotation.signed_bytes())}
    if new is not None:
        if public_key_b64(new) != rotation.new_key:
            raise FeedError("a key rotation is countersigned by the key it names", "bad_key")
        entry["new_key_signature"] = _sign_b64(new, rotation.signed_bytes())
    return entry


def sign_online_key(statement: OnlineKey, root: Ed25519PrivateKey) -> dict[str, Any]:
    """The entry for ``keys.json``'s ``online`` list: the authorisation and the root's signature."""
    if public_key_b64(root) != statement.root_key:
        raise FeedError("an online key is authorised by the root key it names", "bad_key")
    return {"authorisation": statement.model_dump(mode="json"), "signature": _sign_b64(root, statement.signed_bytes())}


def keys_file_bytes(entries: list[dict[str, Any]], online: list[dict[str, Any]] | None = None) -> bytes:
    """``keys.json``: root rotations (``entries``) and, for a hub with roles, online-key authorisations."""
    body: dict[str, Any] = {"format": KEYS_FORMAT, "rotations": entries}
    if online:
        body["online"] = online
    return (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode()


@dataclass(frozen=True)
class KeyStatements:
    """``keys.json`` parsed (signatures not checked yet): ``(record, signature, countersignature)``
    per root rotation, ``(authorisation, signature)`` per online key."""

    rotations: list[tuple[KeyRotation, str, str | None]]
    online: list[tuple[OnlineKey, str]]


def read_keys_file(keys_file: bytes) -> KeyStatements:
    """Parse ``keys.json``; :class:`SignatureError` when it is too large or not well formed."""
    if len(keys_file) > MAX_KEYS_BYTES:
        raise SignatureError(f"{KEYS_NAME} is larger than {MAX_KEYS_BYTES} bytes")
    try:
        raw = json.loads(keys_file.decode("utf-8"))
        if raw.get("format") != KEYS_FORMAT:
            raise ValueError(f"format is not {KEYS_FORMAT!r}")
        rotations = [(KeyRotation.model_validate(e["rotation"]), str(e["signature"]),
                      None if e.get("new_key_signature") is None else str(e["new_key_signature"]))
                     for e in raw["rotations"]]
        online = [(OnlineKey.model_validate(e["authorisation"]), str(e["signature"])) for e in raw.get("online") or []]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SignatureError(f"{KEYS_NAME} is not a well-formed key list: {str(exc)[:200]}") from None
    return KeyStatements(rotations, online)


def signed_by(public_key: str, signature: str | bytes, data: bytes) -> bool:
    """Whether ``signature`` (base64) signs ``data`` with ``public_key``; a malformed key or
    signature is simply not a match."""
    try:
        _verifier(public_key).verify(_signature(signature, "signature"), data)
    except (InvalidSignature, SignatureError):
        return False
    return True


# -- items ----------------------------------------------------------------------------

@dataclass(frozen=True)
class EncodedItem:
    """An item file's bytes and its manifest entry."""

    entry: ManifestItem
    data: bytes


def shard_of(record_id: str, shards: int) -> int:
    """The shard a record lives in: stable across versions as long as the shard count stays."""
    digest = hashlib.sha256(record_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % shards


def shard_count(records: int, target: int = DEFAULT_SHARD_TARGET, previous: int | None = None) -> int:
    """A power of two giving about ``target`` records per shard.

    The previous version's count is kept while it stays within a factor of four of the
    ideal, so that ordinary growth does not re-shard (and re-send) everything.
    """
    ideal = 1
    while ideal * target < records:
        ideal *= 2
    if previous and previous & (previous - 1) == 0 and previous // 4 <= ideal <= previous * 4:
        return previous
    return ideal


def encode_items(content: ContentSet, *, target: int = DEFAULT_SHARD_TARGET,
                 previous_shards: dict[str, int] | None = None
                 ) -> tuple[list[EncodedItem], dict[str, int]]:
    """Split a content set into item files (records sharded by id hash, one file per document).

    Returns the items and the shard count used for each record kind.
    """
    previous_shards = previous_shards or {}
    items: list[EncodedItem] = []
    used: dict[str, int] = {}
    for kind, attr in RECORD_KINDS.items():
        records = getattr(content, attr)
        if not records:
            continue
        shards = used[kind] = shard_count(len(records), target, previous_shards.get(kind))
        buckets: dict[int, list[dict[str, Any]]] = {}
        for record in records:
            buckets.setdefault(shard_of(record.id, shards), []).append(record.model_dump(mode="json"))
        for shard in sorted(buckets):
            rows = sorted(buckets[shard], key=lambda r: r["id"])
            data = canonical_json({"format": FORMAT, "kind": kind, "shards": shards, "records": rows})
            items.append(_encoded(f"{kind}-{shard:04d}", kind, data, len(rows)))
    for name in sorted(content.documents):
        if not DOCUMENT_NAME_RE.match(name):
            raise FeedError(f"document name {name!r} must be lowercase letters, digits, '_' or '-'",
                            "bad_document")
        data = canonical_json({"format": FORMAT, "kind": "document", "name": name,
                               "document": content.documents[name]})
        items.append(_encoded(f"document-{name}", "document", data, 0))
    return items, used


def _encoded(item_id: str, kind: str, data: bytes, count: int) -> EncodedItem:
    digest = sha256_hex(data)
    entry = ManifestItem(id=item_id, kind=cast(ItemKind, kind), path=f"items/{digest}.json", sha256=digest,
                         size=len(data), count=count)
    return EncodedItem(entry, data)


def decode_items(items: Iterable[tuple[ManifestItem, bytes]]) -> tuple[ContentSet, list[Rejection]]:
    """Item files -> one content set. Records are validated again (the model may be stricter
    than the hub's); a record that fails is left out with a reason, a broken file raises."""
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in RECORD_KINDS}
    documents: dict[str, Any] = {}
    for entry, data in items:
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"item {entry.id} is not UTF-8 JSON: {exc}") from None
        if not isinstance(body, dict) or body.get("kind") != entry.kind:
            raise ManifestError(f"item {entry.id} does not hold kind {entry.kind!r}")
        if entry.kind == "document":
            name = body.get("name")
            if not isinstance(name, str) or not DOCUMENT_NAME_RE.match(name) or "document" not in body:
                raise ManifestError(f"item {entry.id} is not a well-formed document")
            documents[name] = body["document"]
        else:
            records = body.get("records")
            if not isinstance(records, list):
                raise ManifestError(f"item {entry.id} has no records list")
            rows[entry.kind].extend(records)
    content = ContentSet(documents=documents)
    rejections: list[Rejection] = []
    for kind, attr in RECORD_KINDS.items():
        good, problems = validate_records(kind, [_known_fields(kind, row) for row in rows[kind]])
        setattr(content, attr, list(good))
        rejections.extend(p for p in problems if not p.clipped)
    return content, rejections


def course_media(content: ContentSet) -> list[MediaRef]:
    """Every media file the courses of a content set refer to (videos and thumbnails), once each."""
    refs: dict[str, MediaRef] = {}
    for course in content.courses:
        for ref in (course.media, course.thumbnail):
            if ref is not None:
                refs.setdefault(ref.sha256, ref)
    return list(refs.values())


_MEDIA_FIELDS = frozenset(MediaRef.model_fields)


def _known_fields(kind: str, row: Any) -> Any:
    """A feed record without the fields this station does not know (PROTOCOL.md §1.2: a newer
    hub may add fields; they are ignored, not a reason to refuse the record). The station's
    own import paths stay strict: only the feed is read this way."""
    if not isinstance(row, dict):
        return row
    known = RECORD_TYPES[kind].model_fields
    out = {k: v for k, v in row.items() if k in known}
    for name in ("media", "thumbnail"):
        if kind == "course" and isinstance(out.get(name), dict):
            out[name] = {k: v for k, v in out[name].items() if k in _MEDIA_FIELDS}
    return out


def invalid_shares(content: ContentSet, rejections: list[Rejection]) -> dict[str, tuple[int, int]]:
    """Per record kind: (records refused, records offered), for kinds with a refusal."""
    out: dict[str, tuple[int, int]] = {}
    for kind, attr in RECORD_KINDS.items():
        bad = sum(1 for r in rejections if r.kind == kind and not r.clipped)
        if bad:
            out[kind] = (bad, bad + len(getattr(content, attr)))
    return out
