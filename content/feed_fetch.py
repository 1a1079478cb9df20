"""Fetching and verifying the station's feed: the network half of a sync.

:class:`FeedFetcher` reads a feed folder over HTTP(S) and never writes the station database:

- every request has connect and read timeouts, a size cap and an overall deadline (a server
  that trickles bytes is cut off), and transient failures (connection refused or cut,
  timeouts, 5xx, 429) are retried with exponential backoff and jitter (tenacity);
- :meth:`FeedFetcher.verified_manifest` checks ``manifest.sig`` through the station's trust
  object (:mod:`protocol.trust`): a pair that does not verify is read once more (a publish may
  have landed in between), then ``keys.json`` is read and the key statements the station's
  root signed are followed (an online key rotated, a root rotated); the state that verified
  is handed back for the caller to keep;
- item files are fetched by a few workers at once (each with its own session), checked
  against their SHA-256 and size, and kept under ``items/`` by hash.

Applying what was fetched is :mod:`content.feed_apply`; the round itself is
:class:`content.feed_client.SyncClient`. :class:`UrgentCheck` is the cheap look between syncs
at the feed's unsigned ``urgent`` pointer (content/PROTOCOL.md §1.12): it only says when to
sync now; what is shown still comes from a verified manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from urllib.parse import urljoin

import requests
from tenacity import Retrying

from common.files import write_atomic
from common.netutil import FetchError, TooLarge, dialled_scheme, fetch_capped, is_loopback_url, log_url
from content.media import Transfer, TransientHTTPError, http_session
from protocol.feed import (
    KEYS_NAME,
    MANIFEST_NAME,
    MAX_KEYS_BYTES,
    MAX_MANIFEST_BYTES,
    SIGNATURE_NAME,
    Manifest,
    ManifestError,
    ManifestItem,
    SignatureError,
)
from protocol.trust import Followed, TrustState

log = logging.getLogger("content.feed_client")

MAX_SIGNATURE_BYTES = 4096  # manifest.sig: 89 bytes of base64 and a newline
URGENT_NAME = "urgent"  # the feed's unsigned pointer to its newest urgent version (PROTOCOL.md §1.12)
MAX_URGENT_BYTES = 1024  # {"feed_id": ..., "version": ..., "at": ...}: under 150 bytes
URGENT_DEADLINE_S = 15.0  # one check, whole; the next one comes a check interval later anyway
FETCH_DEADLINE_S = 120.0  # a 2 MB manifest of 100 000 jobs at 20 KB/s, with room to spare


class Refused(Exception):
    """The feed (or one of its files) is refused; ``code`` is the sync's one-word reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def safe_url(url: str) -> str:
    """A URL fit for logs: no user:password, no query string (read as the connection reads it)."""
    return log_url(url)


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    text = str(exc)
    if len(text) > 200:
        text = text[:200] + "…"
    return f"{type(exc).__name__}: {text}"


class FeedFetcher:
    """The requests of one station's syncs against the feed at ``feed_url`` (ending in ``/``)."""

    def __init__(self, feed_url: str, *, session: requests.Session, ca_bundle: str, retrying: Retrying,
                 timeout: tuple[float, float], deadline_s: float, monotonic: Callable[[], float],
                 items_dir: Path, item_workers: int) -> None:
        self.feed_url = feed_url
        self.session = session
        self.ca_bundle = ca_bundle
        self.retrying = retrying
        self.timeout = timeout
        self.deadline_s = deadline_s
        self.monotonic = monotonic
        self.items_dir = items_dir
        self.item_workers = max(1, item_workers)
        self._worker = threading.local()
        self._worker_sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def url(self, path: str) -> str:
        return urljoin(self.feed_url, path)

    # -- one request -------------------------------------------------------------------
    def get(self, url: str, transfer: Transfer, *, headers: dict[str, str] | None = None,
            limit: int, too_large: str = "unparsable", session: requests.Session | None = None) -> requests.Response:
        """GET with retries; the body is read here (so a cut body is retried too) up to ``limit`` bytes."""
        session = session or self.session

        def counted(n: int) -> None:
            transfer.bytes += n

        for attempt in self.retrying.copy():
            with attempt:
                transfer.requests += 1
                try:
                    # An error page is read within the same cap and deadline as the file.
                    response = fetch_capped(session, url, headers=headers, timeout=self.timeout, max_bytes=limit,
                                            deadline_s=self.deadline_s, clock=self.monotonic, on_bytes=counted)
                except TooLarge as exc:
                    raise Refused(too_large, f"{safe_url(url)} is larger than {limit} bytes") from exc
                if response.status_code >= 500 or response.status_code == 429:
                    raise TransientHTTPError(f"HTTP {response.status_code} for {safe_url(url)}")
                if response.status_code not in (200, 304):
                    raise Refused("http_error", f"HTTP {response.status_code} for {safe_url(url)}")
        return response

    def manifest(self, transfer: Transfer, headers: dict[str, str]) -> requests.Response:
        """The conditional GET of ``manifest.json`` (a 304 when the validators still match)."""
        return self.get(self.url(MANIFEST_NAME), transfer, headers=headers, limit=MAX_MANIFEST_BYTES)

    # -- verification ------------------------------------------------------------------
    def verified_manifest(self, manifest_bytes: bytes, trust: TrustState,
                          transfer: Transfer) -> tuple[Manifest, TrustState, Followed | None]:
        """The manifest once its signature verifies with the station's signing key, the trust
        it verified with, and the key statements followed on the way (``None``: none were
        read). :class:`SignatureError` when it does not verify even then."""
        signature = self.get(self.url(SIGNATURE_NAME), transfer, limit=MAX_SIGNATURE_BYTES).content
        followed = None
        try:
            trust.verify(manifest_bytes, signature)
        except SignatureError as exc:
            if exc.code == "no_key":
                raise
            # A publish may have landed between the two requests: read the pair once more.
            time.sleep(0.2)
            fresh = self.get(self.url(MANIFEST_NAME), transfer, limit=MAX_MANIFEST_BYTES).content
            signature = self.get(self.url(SIGNATURE_NAME), transfer, limit=MAX_SIGNATURE_BYTES).content
            try:
                trust.verify(fresh, signature)
            except SignatureError as again:
                # The hub may have rotated a key: follow the statements the station's root signed.
                followed = self.follow_keys(trust, transfer)
                if followed is None or not followed.moved:
                    note = followed.explain() if followed is not None else ""
                    raise SignatureError(f"{again}; keys.json: {note}" if note else str(again)) from None
                followed.state.verify(fresh, signature)
                trust = followed.state
            manifest_bytes = fresh
        try:
            return Manifest.from_bytes(manifest_bytes), trust, followed
        except ManifestError as exc:
            raise Refused("unparsable", str(exc)) from None

    def follow_keys(self, trust: TrustState, transfer: Transfer) -> Followed | None:
        """``keys.json`` read and followed from ``trust``; ``None`` when the feed has none (404)."""
        try:
            keys_file = self.get(self.url(KEYS_NAME), transfer, limit=MAX_KEYS_BYTES).content
        except Refused:
            return None  # no keys.json: the hub never changed a key
        followed = trust.follow(keys_file)
        for reason in followed.refused:
            log.warning("sync: %s: not followed", reason)
        return followed

    # -- item files --------------------------------------------------------------------
    def have_item(self, item: ManifestItem) -> bool:
        path = self.items_dir / f"{item.sha256}.json"
        return path.exists() and path.stat().st_size == item.size

    def fetch_items(self, missing: list[ManifestItem], transfer: Transfer,
                    on_item: Callable[[int, ManifestItem], None]) -> None:
        """Fetch ``missing`` item files, a few at once; ``on_item(n, item)`` after the n-th (in this thread)."""
        self.items_dir.mkdir(parents=True, exist_ok=True)
        # Item files are small: a few connections at once hide the round trips of a slow link.
        # Each worker has its own session and counters; progress is reported from this thread.
        with ThreadPoolExecutor(max_workers=self.item_workers, thread_name_prefix="yizhan-items") as pool:
            futures = {pool.submit(self._fetch_item_in_worker, item): item for item in missing}
            try:
                for n, future in enumerate(as_completed(futures), start=1):
                    requests_made, bytes_read = future.result()
                    transfer.requests += requests_made
                    transfer.bytes += bytes_read
                    on_item(n, futures[future])
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            finally:
                self._close_worker_sessions()

    def read_item(self, item: ManifestItem, transfer: Transfer) -> bytes:
        """A kept item file, fetched again if it was damaged on disk."""
        path = self.items_dir / f"{item.sha256}.json"
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != item.sha256:
            log.warning("sync: stored item %s was damaged on disk; fetching it again", item.id)
            path.unlink(missing_ok=True)
            self.fetch_item(item, transfer)
            data = path.read_bytes()
        return data

    def fetch_item(self, item: ManifestItem, transfer: Transfer, session: requests.Session | None = None) -> None:
        for attempt in range(2):
            data = self.get(self.url(item.path), transfer, limit=item.size, too_large="hash_mismatch",
                            session=session).content
            if len(data) == item.size and hashlib.sha256(data).hexdigest() == item.sha256:
                _write_atomic(self.items_dir / f"{item.sha256}.json", data)
                return
            log.warning("sync: item %s does not match its hash (attempt %d)", item.id, attempt + 1)
        raise Refused("hash_mismatch", f"item {item.id} ({item.path}) does not match its SHA-256")

    def _fetch_item_in_worker(self, item: ManifestItem) -> tuple[int, int]:
        session = getattr(self._worker, "session", None)
        if session is None:
            session = self._worker.session = http_session(self.ca_bundle)
            session.headers.update(self.session.headers)
            with self._sessions_lock:
                self._worker_sessions.append(session)
        transfer = Transfer()
        self.fetch_item(item, transfer, session)
        return transfer.requests, transfer.bytes

    def _close_worker_sessions(self) -> None:
        with self._sessions_lock:
            sessions, self._worker_sessions = self._worker_sessions, []
        for session in sessions:
            session.close()
        self._worker = threading.local()

    def remove_items_except(self, keep: set[str]) -> None:
        for path in self.items_dir.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    # No fsync: item files are a cache, verified again by hash whenever they are read, and
    # the content itself is applied to the database durably. A file lost or damaged by a
    # power cut is simply fetched again.
    write_atomic(path, data, durable=False)


class UrgentCheck:
    """Between syncs, a station reads the feed's ``urgent`` pointer (a few bytes, mostly a 304)
    and syncs at once when it names a version above the one it holds.

    The pointer is not signed and is never shown: it only brings the next sync forward, and
    that sync verifies the manifest as always. A forged or replayed pointer costs one
    conditional manifest request per check; a missing one (404) means no urgent version.
    ``held()`` returns the feed id and version the station holds.
    """

    def __init__(self, feed_url: str, *, held: Callable[[], tuple[str, int]], session: requests.Session,
                 timeout: tuple[float, float], monotonic: Callable[[], float] = time.monotonic,
                 allow_insecure_http: bool = False) -> None:
        self.feed_url = feed_url if not feed_url or feed_url.endswith("/") else feed_url + "/"
        self.held = held
        self.session = session
        self.timeout = timeout
        self.monotonic = monotonic
        self.allow_insecure_http = allow_insecure_http
        self.etag = ""
        self.pointed = 0  # the version the pointer named when last read (kept across 304s)
        self.checks = 0
        self.last_status = 0  # the HTTP status of the last check (0: no answer)

    def pending(self) -> bool:
        """True when the pointer names a newer version of the station's feed than it holds."""
        if not self.feed_url or (dialled_scheme(self.feed_url) == "http" and not is_loopback_url(self.feed_url)
                                 and not self.allow_insecure_http):
            return False
        self.checks += 1
        try:
            response = fetch_capped(self.session, urljoin(self.feed_url, URGENT_NAME), max_bytes=MAX_URGENT_BYTES,
                                    deadline_s=URGENT_DEADLINE_S, clock=self.monotonic, timeout=self.timeout,
                                    headers={"If-None-Match": self.etag} if self.etag else None)
        except (requests.RequestException, FetchError) as exc:
            log.debug("urgent check: %s", describe(exc))
            return False
        self.last_status = response.status_code
        held_feed, held_version = self.held()
        if response.status_code == 200:
            self.etag = response.headers.get("ETag", "")
            self.pointed = _pointer_version(response.content, held_feed)
        elif response.status_code != 304:
            self.etag, self.pointed = "", 0
        return self.pointed > held_version


def _pointer_version(body: bytes, held_feed: str) -> int:
    """The version an ``urgent`` pointer names (0: none, malformed, or another feed's)."""
    try:
        pointer = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return 0
    if not isinstance(pointer, dict):
        return 0
    version, feed_id = pointer.get("version"), pointer.get("feed_id")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return 0
    if held_feed and isinstance(feed_id, str) and feed_id != held_feed:
        return 0
    return version
