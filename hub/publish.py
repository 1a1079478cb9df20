"""Building a signed feed directory from a source folder (``yizhan hub publish``).

Publishing is safe while the directory is being served: item and media files are named by
their hash and written before the manifest, the new ``manifest.sig`` and ``manifest.json``
each replace the old ones in one rename, and the files of the previous version are kept
(so a station half-way through syncing it can finish) while older ones are removed.

Every manifest carries a signed ``expires`` (``valid_days`` after publication): a hub that
publishes nothing new must still re-sign its feeds before then (``yizhan hub refresh``,
daily from cron or a systemd timer), so stations can tell a live hub from a frozen one; the
same run writes the feeds' phone pages again for the new day (:func:`refresh_pages`).
Manifests are signed with the online key (``HOME/feed.key``); the root key that authorises
it, and the key commands, are :mod:`hub.keys`. Each publication copies the hub's key
statements (``HOME/key-rotations.json``) beside the manifest as ``keys.json``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.files import write_atomic
from hub.mobile import write_pages
from hub.mobile.pages import MobileResult, pages_are_current
from hub.source import read_feed_info, read_source_folder
from hub.upstream import Upstream, merge
from protocol.feed import (
    DEFAULT_SHARD_TARGET,
    KEYS_NAME,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    FeedError,
    Manifest,
    ManifestError,
    ManifestMedia,
    Scope,
    course_media,
    decode_items,
    encode_items,
    generate_private_key,
    load_private_key,
    private_key_pem,
    public_key_b64,
    sign_manifest,
)
from protocol.model import ContentSet, Rejection
from protocol.phone import LINK_NAME as PHONE_LINK

KEY_NAME = "feed.key"
PUBLIC_NAME = "feed.pub"
ROTATIONS_NAME = "key-rotations.json"  # the hub's list of rotations, copied into each feed as keys.json
DEFAULT_VALID_DAYS = 7


class PublishError(Exception):
    """Nothing was published; the message says why."""


@dataclass
class PublishResult:
    manifest: Manifest
    out_dir: Path
    rejections: list[Rejection] = field(default_factory=list)
    items_written: int = 0
    media_written: int = 0
    bytes_written: int = 0
    removed: int = 0
    mobile: MobileResult | None = None  # the phone pages written beside the feed (hub.mobile)

    @property
    def refused(self) -> list[Rejection]:
        return [r for r in self.rejections if not r.clipped]


def write_keypair(directory: str | Path, *, force: bool = False) -> tuple[Path, str]:
    """Make one Ed25519 key pair in ``directory`` (``feed.key`` mode 0600, ``feed.pub``): a hub
    without roles, whose one key signs manifests and releases and is the stations' root.

    Returns the private key's path and the base64 public key for stations' ``hub.public_key``.
    An existing key is never overwritten unless ``force``: stations trust it. ``yizhan hub
    keygen`` makes a root and an online key instead (:func:`hub.keys.init_keys`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / KEY_NAME
    if key_path.exists() and not force:
        raise PublishError(f"{key_path} already exists; stations trust it (use --force to replace it)")
    key = generate_private_key()
    _write_key(key_path, key)
    public = public_key_b64(key)
    (directory / PUBLIC_NAME).write_text(public + "\n", encoding="ascii")
    return key_path, public


def _write_key(key_path: Path, key: Ed25519PrivateKey) -> None:
    write_atomic(key_path, private_key_pem(key), mode=0o600)


def resign(feed_dir: str | Path, *, key: Ed25519PrivateKey, home: str | Path | None = None,
           valid_days: int = DEFAULT_VALID_DAYS, now: dt.datetime | None = None) -> Manifest:
    """Publish the same content again as the next version with a fresh expiry (and the
    current key): what ``yizhan hub refresh`` and a key rotation do. Stations fetch only the
    new manifest; every item and media file stays."""
    feed_dir = Path(feed_dir)
    previous = read_manifest_file(feed_dir)
    if previous is None:
        raise PublishError(f"{feed_dir}: no manifest to re-sign")
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    manifest = previous.model_copy(update={"version": previous.version + 1, "generated_at": now,
                                           "expires": now + dt.timedelta(days=valid_days)})
    _copy_rotations(home, feed_dir)
    manifest_bytes = manifest.to_bytes()
    before = {name: _mtime_s(feed_dir / name) for name in (SIGNATURE_NAME, MANIFEST_NAME)}
    write_atomic(feed_dir / SIGNATURE_NAME, sign_manifest(manifest_bytes, key))
    write_atomic(feed_dir / MANIFEST_NAME, manifest_bytes)
    for name, old_mtime in before.items():
        _newer_than(feed_dir / name, old_mtime)
    return manifest


def refresh_feeds(home: str | Path, *, valid_days: int = DEFAULT_VALID_DAYS, within: dt.timedelta | None = None,
                  now: dt.datetime | None = None) -> list[tuple[str, int]]:
    """Re-sign every feed under ``HOME/feeds`` whose expiry is less than ``within`` away
    (default: half the validity), so stations keep seeing a fresh feed while nothing changes."""
    home = Path(home)
    now = now or dt.datetime.now(dt.UTC)
    within = within if within is not None else dt.timedelta(days=valid_days) / 2
    key = load_key_file(home / KEY_NAME)
    done = []
    for folder in sorted((home / "feeds").glob("*/")) if (home / "feeds").is_dir() else []:
        manifest = read_manifest_file(folder)
        if manifest is not None and manifest.expiry() - now < within:
            fresh = resign(folder, key=key, home=home, valid_days=valid_days, now=now)
            done.append((fresh.feed_id, fresh.version))
        refresh_pages(folder, now=now)
    return done


def refresh_pages(feed_dir: str | Path, *, now: dt.datetime | None = None) -> MobileResult | None:
    """Write the phone pages of the feed's current version again when they were written on an
    earlier day (jobs close and gigs' days pass while nothing is published); None: current."""
    feed_dir = Path(feed_dir)
    manifest = read_manifest_file(feed_dir)
    now = now or dt.datetime.now(dt.UTC)
    today = now.astimezone().date()
    if manifest is None or pages_are_current(feed_dir, manifest.version, today):
        return None
    content, _rejections = decode_items((item, (feed_dir / item.path).read_bytes()) for item in manifest.items)
    return write_pages(content, feed_dir, version=manifest.version, today=today, now=now)


def _copy_rotations(home: str | Path | None, feed_dir: Path) -> None:
    # A feed folder is usually HOME/feeds/<name>: its hub home is two levels up.
    source = Path(home if home is not None else feed_dir.resolve().parent.parent) / ROTATIONS_NAME
    if source.exists():
        write_atomic(feed_dir / KEYS_NAME, source.read_bytes())


def load_key_file(path: str | Path) -> Ed25519PrivateKey:
    path = Path(path)
    try:
        return load_private_key(path.read_bytes())
    except FileNotFoundError:
        raise PublishError(f"{path}: no such key file (make one with 'yizhan hub keygen')") from None
    except FeedError as exc:
        raise PublishError(f"{path}: {exc}") from None


def read_manifest_file(feed_dir: str | Path) -> Manifest | None:
    path = Path(feed_dir) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        return Manifest.from_bytes(path.read_bytes())
    except ManifestError as exc:
        raise PublishError(f"{path}: the current manifest is broken ({exc}); move the folder aside") from None


def publish(source_dir: str | Path, out_dir: str | Path, *, key: Ed25519PrivateKey,
            feed_id: str | None = None, scope: Scope | None = None, version: int | None = None,
            strict: bool = False, today: dt.date | None = None,
            shard_target: int = DEFAULT_SHARD_TARGET, valid_days: int = DEFAULT_VALID_DAYS,
            home: str | Path | None = None, include: Upstream | None = None) -> PublishResult:
    """Read a source folder and publish it as the next version of the feed in ``out_dir``.

    Refused records are left out and listed in the result; with ``strict`` any refused
    record stops the publication (nothing is written). ``include``: a verified provincial
    feed whose records are published too (``hub.upstream``).
    """
    today = today or dt.date.today()
    info_id, info_scope, _title = read_feed_info(source_dir)
    content, media_files, rejections = read_source_folder(source_dir, today=today)
    refused = [r for r in rejections if not r.clipped]
    if strict and refused:
        listing = "\n".join(f"  {r}" for r in refused[:50])
        more = f"\n  … and {len(refused) - 50} more" if len(refused) > 50 else ""
        raise PublishError(f"{len(refused)} record(s) refused, nothing published (--strict):\n{listing}{more}")
    if include is not None:
        content, _shadowed = merge(content, include.content)
        media_files = {**include.media_files, **media_files}
    if not len(content) and not content.documents:
        raise PublishError(f"{source_dir}: no valid record or document to publish")
    result = publish_content(content, media_files, out_dir, key=key, feed_id=feed_id or info_id,
                             scope=scope or info_scope, version=version, shard_target=shard_target,
                             valid_days=valid_days, home=home)
    result.rejections = rejections
    return result


def publish_content(content: ContentSet, media_files: dict[str, Path], out_dir: str | Path, *,
                    key: Ed25519PrivateKey, feed_id: str | None, scope: Scope | None,
                    version: int | None = None, shard_target: int = DEFAULT_SHARD_TARGET,
                    generated_at: dt.datetime | None = None, valid_days: int = DEFAULT_VALID_DAYS,
                    home: str | Path | None = None, phone_pages: bool = True) -> PublishResult:
    """Publish an already validated content set (``media_files``: sha256 -> file).

    The manifest expires ``valid_days`` after ``generated_at``. ``home`` (the hub home) is
    where the key rotations are read from, to be served beside the manifest. ``phone_pages``
    False keeps the phone pages of the version before (an urgent notice alone changes nothing
    they show, and writing them for every station would hold the notice up)."""
    out = Path(out_dir)
    previous = read_manifest_file(out)
    if previous is not None:
        if feed_id and feed_id != previous.feed_id:
            raise PublishError(f"{out} holds feed {previous.feed_id!r}, not {feed_id!r}; publish into another folder")
        feed_id = feed_id or previous.feed_id
        scope = scope or previous.scope
    if not feed_id:
        raise PublishError("no feed id: give --feed-id or put \"feed_id\" in the source folder's feed.json")
    if scope is None:
        raise PublishError("no scope: give --region/--station or put \"scope\" in the source folder's feed.json")
    old_version = previous.version if previous else 0
    if version is None:
        version = old_version + 1
    elif version <= old_version:
        raise PublishError(f"version {version} is not above the published version {old_version}")

    refs = course_media(content)
    missing = [r for r in refs if r.sha256 not in media_files]
    if missing:
        raise PublishError(f"{len(missing)} media file(s) used by courses are missing, e.g. {missing[0].filename}")
    try:
        items, shards = encode_items(content, target=shard_target,
                                     previous_shards=previous.shards if previous else None)
    except FeedError as exc:
        raise PublishError(str(exc)) from None
    generated_at = generated_at or dt.datetime.now(dt.UTC).replace(microsecond=0)
    manifest = Manifest(
        feed_id=feed_id, version=version, generated_at=generated_at,
        expires=generated_at + dt.timedelta(days=valid_days),
        scope=scope, items=[i.entry for i in items],
        media=[ManifestMedia.from_ref(r) for r in sorted(refs, key=lambda r: r.sha256)], shards=shards,
    )
    result = PublishResult(manifest=manifest, out_dir=out)
    (out / "items").mkdir(parents=True, exist_ok=True)
    (out / "media").mkdir(parents=True, exist_ok=True)
    for item in items:
        target = out / item.entry.path
        if not target.exists():
            write_atomic(target, item.data, durable=False)
            result.items_written += 1
            result.bytes_written += len(item.data)
    for entry in manifest.media:
        target = out / entry.path
        if not (target.exists() and target.stat().st_size == entry.size):
            source = media_files[entry.sha256]
            write_atomic(target, lambda aside, source=source: shutil.copyfile(source, aside), durable=False)
            result.media_written += 1
            result.bytes_written += entry.size
    _copy_rotations(home, out)
    # The phone pages of this version (they link to its media) before the manifest: a failure
    # here publishes nothing.
    if phone_pages or not (out / PHONE_LINK).is_symlink():
        result.mobile = write_pages(content, out, version=version, today=generated_at.astimezone().date(),
                                    now=generated_at)
    # Every item and media file reaches the disk before the manifest that names them.
    os.sync()
    manifest_bytes = manifest.to_bytes()
    # The signature first: a station that fetched the old manifest just before gets a
    # mismatch and retries, instead of trusting a pair that never existed.
    before = {name: _mtime_s(out / name) for name in (SIGNATURE_NAME, MANIFEST_NAME)}
    write_atomic(out / SIGNATURE_NAME, sign_manifest(manifest_bytes, key))
    write_atomic(out / MANIFEST_NAME, manifest_bytes)
    for name, old_mtime in before.items():
        _newer_than(out / name, old_mtime)
    result.removed = _remove_unreferenced(out, [manifest, previous])
    return result


def _mtime_s(path: Path) -> int | None:
    try:
        return int(path.stat().st_mtime)
    except FileNotFoundError:
        return None


def _newer_than(path: Path, old_mtime: int | None) -> None:
    """Give a new manifest a modification time in a later whole second than the one it replaced.

    nginx's ETag and every server's Last-Modified are made of whole seconds (and the size):
    two versions published within one second with the same length would otherwise look
    unchanged to a station's conditional GET (304) and the newer one would not be fetched.
    """
    if old_mtime is not None and int(path.stat().st_mtime) <= old_mtime:
        os.utime(path, (old_mtime + 1, old_mtime + 1))


def _remove_unreferenced(out: Path, manifests: list[Manifest | None]) -> int:
    keep = {out / i.path for m in manifests if m for i in m.items}
    keep |= {out / m.path for man in manifests if man for m in man.media}
    removed = 0
    for folder in (out / "items", out / "media"):
        for path in folder.iterdir():
            if path.is_file() and path not in keep:
                path.unlink()
                removed += 1
    return removed
