"""Including a provincial feed in a city's feed (统一发布: the province's policies on every board).

``yizhan hub publish SOURCE --include-feed URL --include-key KEY`` fetches the provincial
feed the way a station would (manifest signature checked against the province's public
key, no rollback below the last version included, every item and media file checked
against its SHA-256), keeps a copy in ``HOME/upstream/`` (so a city can still publish
while the province is unreachable: the last verified copy is used, and the result says
so), and merges its records into the city's content. The city's own record wins when both
carry the same id, and so do its documents (its board schedule).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import requests

from common.files import write_atomic
from protocol.feed import (
    MANIFEST_NAME,
    RECORD_KINDS,
    SIGNATURE_NAME,
    FeedError,
    Manifest,
    decode_items,
    verify_manifest,
)
from protocol.model import ContentSet

MAX_MANIFEST_BYTES = 16 * 1024 * 1024


class UpstreamError(Exception):
    """The provincial feed could not be included; the message says why."""


@dataclass
class Upstream:
    """A verified provincial feed: its content and media files on disk (sha256 -> path)."""

    manifest: Manifest
    content: ContentSet
    media_files: dict[str, Path]
    stale: str | None = None  # why the last verified copy was used instead of a fresh one
    skipped: list[str] = field(default_factory=list)


def fetch_upstream(feed_url: str, public_key: str, cache_dir: str | Path, *,
                   session: requests.Session | None = None, timeout_s: float = 30.0) -> Upstream:
    """The provincial feed, fetched and verified now, or the last verified copy if it cannot be."""
    cache = Path(cache_dir)
    (cache / "items").mkdir(parents=True, exist_ok=True)
    (cache / "media").mkdir(parents=True, exist_ok=True)
    session = session or requests.Session()
    feed_url = feed_url if feed_url.endswith("/") else feed_url + "/"
    try:
        return _fetch(feed_url, public_key, cache, session, timeout_s)
    except (requests.RequestException, UpstreamError) as exc:
        reason = f"{type(exc).__name__}" if isinstance(exc, requests.RequestException) else str(exc)
        if isinstance(exc, UpstreamError) and exc.args and str(exc.args[0]).startswith("refused"):
            raise
        previous = _load_cached(cache, public_key)
        if previous is None:
            raise UpstreamError(f"provincial feed {feed_url} unavailable ({reason}) and no verified copy kept") from None
        previous.stale = reason
        return previous


def _get(session: requests.Session, url: str, timeout_s: float, limit: int) -> bytes:
    response = session.get(url, timeout=timeout_s)
    if response.status_code != 200:
        raise UpstreamError(f"HTTP {response.status_code} for {url}")
    if len(response.content) > limit:
        raise UpstreamError(f"{url} is larger than {limit} bytes")
    return response.content


def _fetch(feed_url: str, public_key: str, cache: Path, session: requests.Session, timeout_s: float) -> Upstream:
    manifest_bytes = _get(session, urljoin(feed_url, MANIFEST_NAME), timeout_s, MAX_MANIFEST_BYTES)
    signature = _get(session, urljoin(feed_url, SIGNATURE_NAME), timeout_s, 1024)
    try:
        verify_manifest(manifest_bytes, signature, public_key)
        manifest = Manifest.from_bytes(manifest_bytes)
    except FeedError as exc:
        raise UpstreamError(f"refused: provincial feed: {exc}") from None
    held = _held_manifest(cache)
    if held is not None and (held.feed_id != manifest.feed_id or manifest.version < held.version):
        raise UpstreamError(f"refused: provincial feed {manifest.feed_id} version {manifest.version} is older than "
                            f"the included version {held.version} of {held.feed_id} (rollback)")
    for entry in manifest.items:
        target = cache / "items" / f"{entry.sha256}.json"
        if _intact(target, entry.sha256):
            continue
        data = _get(session, urljoin(feed_url, entry.path), timeout_s, entry.size)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise UpstreamError(f"refused: provincial item {entry.id} does not match its SHA-256")
        write_atomic(target, data)
    for media in manifest.media:
        target = cache / "media" / f"{media.sha256}.{media.ext}"
        if _intact(target, media.sha256):
            continue
        data = _get(session, urljoin(feed_url, media.path), timeout_s, media.size)
        if hashlib.sha256(data).hexdigest() != media.sha256:
            raise UpstreamError(f"refused: provincial media {media.path} does not match its SHA-256")
        write_atomic(target, data)
    # The pair is kept only once everything it names is here and verified.
    write_atomic(cache / SIGNATURE_NAME, signature)
    write_atomic(cache / MANIFEST_NAME, manifest_bytes)
    return _open(cache, manifest)


def _load_cached(cache: Path, public_key: str) -> Upstream | None:
    try:
        manifest_bytes = (cache / MANIFEST_NAME).read_bytes()
        verify_manifest(manifest_bytes, (cache / SIGNATURE_NAME).read_bytes(), public_key)
        return _open(cache, Manifest.from_bytes(manifest_bytes))
    except (OSError, FeedError, UpstreamError):
        return None


def _held_manifest(cache: Path) -> Manifest | None:
    try:
        return Manifest.from_bytes((cache / MANIFEST_NAME).read_bytes())
    except (OSError, FeedError):
        return None


def _open(cache: Path, manifest: Manifest) -> Upstream:
    items = []
    for entry in manifest.items:
        data = (cache / "items" / f"{entry.sha256}.json").read_bytes()
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise UpstreamError(f"kept provincial item {entry.id} is damaged")
        items.append((entry, data))
    try:
        content, rejections = decode_items(items)
    except FeedError as exc:
        raise UpstreamError(f"refused: provincial feed: {exc}") from None
    media = {m.sha256: cache / "media" / f"{m.sha256}.{m.ext}" for m in manifest.media}
    return Upstream(manifest, content, media, skipped=[str(r) for r in rejections])


def _intact(path: Path, sha256: str) -> bool:
    return path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def merge(own: ContentSet, upstream: ContentSet) -> tuple[ContentSet, list[str]]:
    """The city's content plus the province's records; returns the ids the city's own replaced."""
    merged = ContentSet(documents=dict(own.documents))
    shadowed: list[str] = []
    for attr in RECORD_KINDS.values():
        mine = list(getattr(own, attr))
        ids = {r.id for r in mine}
        theirs = []
        for record in getattr(upstream, attr):
            if record.id in ids:
                shadowed.append(record.id)
            else:
                theirs.append(record)
        setattr(merged, attr, mine + theirs)
    for name, document in upstream.documents.items():
        merged.documents.setdefault(name, document)
    return merged, shadowed


def describe(upstream: Upstream) -> str:
    m = upstream.manifest
    text = f"included {m.feed_id} version {m.version} ({sum(i.count for i in m.items)} records)"
    if upstream.stale:
        text += f" from the last verified copy (province unreachable: {upstream.stale})"
    return text

