"""The feed client: fetch the station's signed feed, verify it, apply it whole; and the feed's health.

One :meth:`SyncClient.sync_once`:

1. conditional GET of ``manifest.json`` (If-None-Match / If-Modified-Since): a 304 ends
   the sync, nothing else is fetched;
2. ``manifest.sig`` is checked against the trusted key (``hub.public_key``, or the key it
   handed trust to through signed rotations in ``keys.json``); a manifest that does not
   parse, is for another station or region (scope), is another feed than the one this
   station is bound to (``hub.feed_id`` or pinned at the first sync), is older than the
   version held (rollback) or already past its signed expiry is refused, the current
   content stays and the reason is logged and kept;
3. item files the station does not already have (by SHA-256) are fetched and verified, and
   their records checked: too many failures of one kind refuse the whole version, before
   any media is touched;
4. media files are fetched into the media cache (resumable, verified, within quota and
   above the free-space floor, never evicting the media of the content on screen);
5. only then is the new content set applied, in one transaction (``Store.replace_content``).

When nothing changed, missing or damaged media of the current content is fetched again.
:func:`feed_health` tells staff (and the heartbeat) when the feed is past its expiry,
which records were refused and which media is missing; :func:`stale_notices` is the
"信息可能已过期" notice residents see after ``hub.expiry_grace_h``.

Killing the process at any moment leaves the old set or the new set: every file is
written under a temporary name and renamed once verified, and the database switch is one
transaction. Every request has a timeout; transient failures (connection refused or cut,
timeouts, 5xx) are retried with exponential backoff and jitter (tenacity).

This module owns the ``sync_`` tables (:data:`TABLES`). The uplink (heartbeat and outbox
delivery) is :mod:`content.uplink`; the background loop that runs both is :mod:`content.sync_loop`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urljoin

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from common import exitcodes
from common.netutil import TooLarge, dialled_scheme, fetch_capped, is_loopback_url, log_url
from content.db import Database, TableOwner, durable, migrate, reading
from content.media import TRANSIENT, MediaCache, MediaError, Transfer, TransientHTTPError, http_session
from content.store import Store
from protocol.feed import (
    KEYS_NAME,
    MANIFEST_NAME,
    MAX_KEYS_BYTES,
    MAX_MANIFEST_BYTES,
    SIGNATURE_NAME,
    FeedError,
    Manifest,
    ManifestError,
    ManifestItem,
    SignatureError,
    decode_items,
    invalid_shares,
)
from protocol.model import ContentSet
from protocol.trust import TrustState, read_trust

log = logging.getLogger(__name__)

MAX_SIGNATURE_BYTES = 4096  # manifest.sig: 89 bytes of base64 and a newline
FETCH_DEADLINE_S = 120.0  # a 2 MB manifest of 100 000 jobs at 20 KB/s, with room to spare


SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    feed_url TEXT,
    etag TEXT,
    last_modified TEXT,
    manifest BLOB,
    manifest_sha256 TEXT,
    feed_id TEXT,
    version INTEGER,
    last_attempt_at TEXT,
    last_success_at TEXT,
    last_change_at TEXT,
    last_status TEXT,
    last_code TEXT,
    last_error TEXT,
    last_bytes INTEGER
);
CREATE TABLE IF NOT EXISTS sync_high_water (
    feed_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_trust (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    root_key TEXT NOT NULL,      -- hub.public_key when trust was set up from it
    trusted_key TEXT NOT NULL,   -- the key manifests must be signed with now (after rotations)
    rotations INTEGER NOT NULL DEFAULT 0,
    changed_at TEXT
);
"""
# Columns added to sync_state after its first release (added in place on older stations).
_LATER_COLUMNS = {
    "pinned_feed_id": "TEXT",      # the one feed this station accepts (first sync, or hub.feed_id)
    "invalid_records": "TEXT",     # JSON: records of the newest version that failed the station's checks
    "media_checked_at": "TEXT",    # when every current media file was last hashed again
}
MEDIA_RECHECK = dt.timedelta(hours=24)

# Staff-facing reasons (Simplified Chinese), by code.
REASONS = {
    "changed": "已更新到新内容",
    "unchanged": "内容已是最新",
    "not_configured": "未设置内容地址（hub.feed_url），不同步",
    "busy": "另一个同步正在进行",
    "unavailable": "无法连接内容服务器，继续显示现有内容",
    "http_error": "内容服务器返回错误，继续显示现有内容",
    "unparsable": "内容清单无法识别，已拒绝，继续显示现有内容",
    "bad_signature": "内容清单签名不正确，已拒绝，继续显示现有内容",
    "no_key": "未设置内容公钥（hub.public_key），无法验证内容",
    "scope": "收到的内容不属于本站范围，已拒绝",
    "rollback": "收到的内容版本比现有的旧，已拒绝",
    "hash_mismatch": "下载的文件校验不符，已拒绝，继续显示现有内容",
    "disk_full": "磁盘空间不足，新内容未下载，继续显示现有内容。请删除本机不用的文件，"
                 "或请技术人员更换更大的存储卡/硬盘",
    "quota": "媒体空间配额不足，新内容未下载，继续显示现有内容。请在设置中调大 storage.media_quota_mb，"
             "或请内容管理员精简视频",
    "invalid_items": "内容文件有误，已拒绝，继续显示现有内容",
    "too_many_invalid": "新内容中有较多记录未通过本机校验，整版已拒绝，继续显示现有内容；请联系内容管理员",
    "wrong_feed": "收到的是另一个内容源的清单，已拒绝，继续显示现有内容；请检查内容地址（hub.feed_url），"
                  "确需更换内容源时在设置中填写 hub.feed_id",
    "expired": "收到的内容清单已过有效期，已拒绝，继续显示现有内容；请联系内容管理员重新发布",
    "insecure": "内容地址不是 https://，已拒绝连接；请改用 https:// 地址",
    "error": "同步出错，继续显示现有内容",
}


@dataclass
class SyncResult:
    """What one sync did. ``reason`` is for staff (Chinese); ``code`` is one word for logs and tests."""

    status: Literal["changed", "unchanged", "failed"]
    code: str
    reason: str
    detail: str = ""
    feed_id: str = ""
    version: int = 0  # the version the station holds after this sync
    offered_version: int | None = None  # the version the hub offered, if a manifest was read
    bytes: int = 0
    requests: int = 0
    items_fetched: int = 0
    items_total: int = 0
    media_fetched: int = 0
    media_total: int = 0
    rejected: int = 0
    duration_s: float = 0.0
    finished_at: str = ""

    @property
    def exit_code(self) -> int:
        if self.status == "changed":
            return exitcodes.OK
        if self.status == "unchanged":
            return exitcodes.UNCHANGED
        if self.code == "unavailable":
            return exitcodes.UNAVAILABLE
        return exitcodes.CONFIG if self.code in ("not_configured", "no_key") else exitcodes.FAILURE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SyncProgress:
    """Progress of a running sync (``phase``: manifest, items, media, apply)."""

    phase: str
    items_done: int = 0
    items_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0


class _Refused(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def safe_url(url: str) -> str:
    """A URL fit for logs: no user:password, no query string (read as the connection reads it)."""
    return log_url(url)


def _now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _add_later_columns(conn: sqlite3.Connection) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(sync_state)")}
    for name, sql_type in _LATER_COLUMNS.items():
        if name not in have:  # an older program's table may have some of them already
            conn.execute(f"ALTER TABLE sync_state ADD COLUMN {name} {sql_type}")


# The sync tables' owner in the station database: version 1 as first released, version 2 adds
# the later columns (to tables made by an older program too).
TABLES = TableOwner("sync", ("sync_state", "sync_high_water", "sync_trust"), (SCHEMA, _add_later_columns))


def ensure_sync_schema(conn: sqlite3.Connection) -> None:
    """Bring the sync tables up to date on a plain connection (read-only tools)."""
    migrate(conn, [TABLES])


def _mb_text(n: int) -> str:
    return f"{max(n, 0) / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{max(n, 0) / (1024 * 1024):.1f} MB"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SyncClient:
    """Syncs one station with its feed. The station's ``config.station.Station.sync_client`` builds it.

    ``db``: the station database (the sync tables' owner is this module, :data:`TABLES`);
    ``store``: the station's content store, which a changed feed replaces.
    """

    def __init__(self, *, feed_url: str, public_key: str, station_id: str, region: str, db: Database,
                 data_dir: str | Path, media: MediaCache, store: Store,
                 timeout_s: float = 10.0, attempts: int = 5, backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 session: requests.Session | None = None, item_workers: int = 4, feed_id: str = "",
                 allow_insecure_http: bool = False, ca_bundle: str = "", max_invalid_percent: float = 5.0,
                 clock: Callable[[], dt.datetime] = _utcnow, deadline_s: float = FETCH_DEADLINE_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.feed_url = feed_url if not feed_url or feed_url.endswith("/") else feed_url + "/"
        self.public_key = public_key
        self.feed_id = feed_id
        self.allow_insecure_http = allow_insecure_http
        self.max_invalid_percent = max_invalid_percent
        self.clock = clock
        # Hash every current media file at the next unchanged sync (``yizhan sync --once``
        # does; the loop does it once a day).
        self.recheck_media = False
        self.station_id = station_id
        self.region = region
        self.db = db
        self.db_path = db.path
        self.data_dir = Path(data_dir)
        self.items_dir = self.data_dir / "feed" / "items"
        self.media = media
        self.store = store
        self.timeout = (timeout_s, timeout_s)
        # Each manifest, signature, key list and item file must arrive whole within this, however
        # slowly a server trickles it (the read timeout alone lets a byte every few seconds through).
        self.deadline_s = deadline_s
        self.monotonic = monotonic
        # Pinned CA (hub.ca_bundle): the hub's certificate must chain to it, not to the system's CAs.
        self.ca_bundle = ca_bundle
        self.session = session or http_session(ca_bundle)
        self.session.headers.setdefault("User-Agent", f"yizhan-station/{station_id}")
        self.item_workers = max(1, item_workers)
        self._worker = threading.local()
        self._worker_sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self.retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=backoff_s, max=max_backoff_s),
            retry=retry_if_exception_type(TRANSIENT),
            before_sleep=lambda state: log.info("sync: retrying after %s", _describe(state.outcome.exception())),
            reraise=True,
        )

    def close(self) -> None:
        self.session.close()

    # -- one sync -------------------------------------------------------------------------
    def sync_once(self, progress: Callable[[SyncProgress], None] | None = None) -> SyncResult:
        """Fetch, verify and apply the feed once. Never raises for network or feed problems."""
        started = time.monotonic()
        transfer = Transfer()
        if not self.feed_url:
            result = SyncResult("failed", "not_configured", REASONS["not_configured"])
            return self._finish(self._with_held(result), started, transfer, record=False)
        if (dialled_scheme(self.feed_url) == "http" and not is_loopback_url(self.feed_url)
                and not self.allow_insecure_http):
            result = SyncResult("failed", "insecure", REASONS["insecure"], detail=safe_url(self.feed_url))
            return self._finish(self._with_held(result), started, transfer)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock_path = self.data_dir / "feed" / "sync.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                result = SyncResult("failed", "busy", REASONS["busy"])
                return self._finish(self._with_held(result), started, transfer, record=False)
            result = self._sync_locked(transfer, progress or (lambda p: None))
            return self._finish(self._with_held(result), started, transfer)

    def _sync_locked(self, transfer: Transfer, progress: Callable[[SyncProgress], None]) -> SyncResult:
        try:
            return self._sync(self.store, transfer, progress)
        except _Refused as exc:
            return SyncResult("failed", exc.code, REASONS.get(exc.code, REASONS["error"]), detail=exc.detail)
        except MediaError as exc:
            reason = REASONS.get(exc.code, REASONS["error"])
            if exc.code in ("quota", "disk_full") and exc.short_bytes > 0:
                reason = reason.replace("新内容未下载", f"新内容还需要 {_mb_text(exc.short_bytes)} 空间，未下载")
            return SyncResult("failed", exc.code, reason, detail=str(exc))
        except FeedError as exc:
            return SyncResult("failed", exc.code, REASONS.get(exc.code, REASONS["error"]), detail=str(exc))
        except (*TRANSIENT, requests.RequestException) as exc:
            return SyncResult("failed", "unavailable", REASONS["unavailable"], detail=_describe(exc))
        except Exception as exc:  # the sync must never take the kiosk down; keep content, log, go on
            log.exception("sync: unexpected failure")
            return SyncResult("failed", "error", REASONS["error"], detail=f"{type(exc).__name__}: {exc}")

    def _with_held(self, result: SyncResult) -> SyncResult:
        """Fill in the feed and version the station holds now (whatever happened)."""
        try:
            info = self.store.content_info()
            result.feed_id, result.version = info.feed_id, info.version
        except Exception:
            log.exception("sync: cannot read the version held")
        return result

    def _finish(self, result: SyncResult, started: float, transfer: Transfer, *, record: bool = True) -> SyncResult:
        result.duration_s = round(time.monotonic() - started, 3)
        result.bytes, result.requests = transfer.bytes, transfer.requests
        result.finished_at = _now_iso()
        if result.status == "failed":
            log.warning("sync: %s (%s) %s", result.code, result.reason, result.detail)
        else:
            log.info("sync: %s, version %s, %d bytes in %d requests, %.2f s", result.status, result.version,
                     result.bytes, result.requests, result.duration_s)
        if record:
            self._record_attempt(result)
        return result

    def _sync(self, store: Store, transfer: Transfer, progress: Callable[[SyncProgress], None]) -> SyncResult:
        conn = self.db.conn()
        state = conn.execute("SELECT * FROM sync_state WHERE id = 1").fetchone()
        info = store.content_info()
        state_matches = (state is not None and state["feed_url"] == self.feed_url
                         and state["feed_id"] == info.feed_id and state["version"] == info.version)
        progress(SyncProgress("manifest"))
        headers = {}
        if state_matches and state["etag"]:
            headers["If-None-Match"] = state["etag"]
        if state_matches and state["last_modified"]:
            headers["If-Modified-Since"] = state["last_modified"]
        response = self._get(urljoin(self.feed_url, MANIFEST_NAME), transfer, headers=headers,
                             limit=MAX_MANIFEST_BYTES)
        if response.status_code == 304:
            return self._unchanged(conn, transfer, info.version)
        manifest_bytes = response.content
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        digest = hashlib.sha256(manifest_bytes).hexdigest()
        if state_matches and state["manifest_sha256"] == digest:
            self._save_validators(conn, etag, modified)
            return self._unchanged(conn, transfer, info.version)
        manifest, trust = self._verified_manifest(manifest_bytes, transfer, conn)
        if not manifest.scope.covers(self.station_id, self.region):
            raise _Refused("scope", f"feed {manifest.feed_id} is for {manifest.scope.describe()}, this station "
                                    f"is {self.station_id} in region {self.region or '(none)'}")
        # One station, one feed (another feed signed by the same key must not replace this
        # one, whatever its version), no rollback, no new version already expired.
        verdict = trust.admit(manifest, now=self.clock(), held_feed_id=info.feed_id, held_version=info.version,
                              feed_id_setting=self.feed_id)
        if verdict == "same":
            self._save_state(conn, manifest, manifest_bytes, etag, modified)
            return self._unchanged(conn, transfer, manifest.version)

        result = SyncResult("changed", "changed", REASONS["changed"], offered_version=manifest.version,
                            items_total=len(manifest.items), media_total=len(manifest.media))
        content = self._fetch_content(manifest, conn, transfer, progress, result)
        progress(SyncProgress("apply", result.items_total, result.items_total))
        store.replace_content(content, feed_id=manifest.feed_id, version=manifest.version)
        self._save_state(conn, manifest, manifest_bytes, etag, modified)
        self._collect_garbage(manifest)
        return result

    def _unchanged(self, conn: sqlite3.Connection, transfer: Transfer, version: int) -> SyncResult:
        """Nothing new: but fetch again any media of the current version that went missing or
        was damaged (deleted by hand, a failing card), so what is listed can be played."""
        result = SyncResult("unchanged", "unchanged", REASONS["unchanged"], offered_version=version)
        manifest = self._held_manifest(conn)
        if manifest is None:
            return result
        row = conn.execute("SELECT media_checked_at FROM sync_state WHERE id = 1").fetchone()
        now = self.clock()
        rehash = True
        if row is not None and row[0] and not self.recheck_media:
            with contextlib.suppress(ValueError):  # an unreadable check time: check the media again
                rehash = now - dt.datetime.fromisoformat(row[0]) >= MEDIA_RECHECK
        refs = [m.ref() for m in manifest.media]
        bad = []
        for ref in refs:
            if not self.media.has(ref) or (rehash and not self.media.verify(ref)):
                if self.media.path(ref).exists():
                    log.warning("sync: media %s is damaged; fetching it again", ref.filename)
                    self.media.path(ref).unlink(missing_ok=True)
                bad.append(ref)
        if rehash:
            with durable(conn):
                conn.execute("UPDATE sync_state SET media_checked_at = ? WHERE id = 1", (now.isoformat(),))
        if not bad:
            return result
        result.media_total = len(refs)
        self.media.make_room(bad, current={r.sha256 for r in refs})
        for ref in bad:
            self.media.download(self.session, urljoin(self.feed_url, f"media/{ref.filename}"), ref,
                                timeout=self.timeout, retrying=self.retrying, transfer=transfer)
            result.media_fetched += 1
        result.reason = f"{REASONS['unchanged']}；已重新下载 {len(bad)} 个缺失或损坏的媒体文件"
        return result

    def _held_manifest(self, conn: sqlite3.Connection) -> Manifest | None:
        row = conn.execute("SELECT manifest FROM sync_state WHERE id = 1").fetchone()
        if row is None or row[0] is None:
            return None
        try:
            return Manifest.from_bytes(row[0])
        except ManifestError:
            return None

    def _trust(self, conn: sqlite3.Connection) -> TrustState:
        """The station's trust (:mod:`protocol.trust`) as the sync tables keep it: the key chain
        from hub.public_key (staff setting a different hub.public_key starts over), the pinned
        feed and the versions accepted."""
        return read_trust(conn, self.public_key, feed_id_setting=self.feed_id)

    def _verified_manifest(self, manifest_bytes: bytes, transfer: Transfer,
                           conn: sqlite3.Connection) -> tuple[Manifest, TrustState]:
        trust = self._trust(conn)
        signature = self._get(urljoin(self.feed_url, SIGNATURE_NAME), transfer, limit=MAX_SIGNATURE_BYTES).content
        try:
            trust.verify(manifest_bytes, signature)
        except SignatureError as exc:
            if exc.code == "no_key":
                raise
            # A publish may have landed between the two requests: read the pair once more.
            time.sleep(0.2)
            fresh = self._get(urljoin(self.feed_url, MANIFEST_NAME), transfer, limit=MAX_MANIFEST_BYTES).content
            signature = self._get(urljoin(self.feed_url, SIGNATURE_NAME), transfer,
                                  limit=MAX_SIGNATURE_BYTES).content
            try:
                trust.verify(fresh, signature)
            except SignatureError:
                # The hub may have rotated its key: follow the rotations the trusted key signed.
                moved = self._follow_rotations(trust, transfer, conn)
                if moved is trust:
                    raise
                moved.verify(fresh, signature)
                trust = moved
            manifest_bytes = fresh
        try:
            return Manifest.from_bytes(manifest_bytes), trust
        except ManifestError as exc:
            raise _Refused("unparsable", str(exc)) from None

    def _follow_rotations(self, trust: TrustState, transfer: Transfer, conn: sqlite3.Connection) -> TrustState:
        try:
            keys_file = self._get(urljoin(self.feed_url, KEYS_NAME), transfer, limit=MAX_KEYS_BYTES).content
        except _Refused:
            return trust  # no keys.json (404): the hub never rotated
        moved, followed = trust.follow(keys_file)
        if followed:
            log.warning("sync: the feed signing key was rotated %d time(s); now trusting the new key", len(followed))
            with durable(conn):
                conn.execute(
                    "INSERT INTO sync_trust (id, root_key, trusted_key, rotations, changed_at) VALUES (1, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET root_key = excluded.root_key, trusted_key = excluded.trusted_key,"
                    " rotations = excluded.rotations, changed_at = excluded.changed_at",
                    (moved.root_key, moved.current_key, moved.rotations, _now_iso()))
        return moved

    def _fetch_content(self, manifest: Manifest, conn: sqlite3.Connection, transfer: Transfer,
                       progress: Callable[[SyncProgress], None], result: SyncResult) -> ContentSet:
        self.items_dir.mkdir(parents=True, exist_ok=True)
        missing = [i for i in manifest.items if not self._have_item(i)]
        media_missing = [m.ref() for m in manifest.media if not self.media.has(m.ref())]
        total = sum(i.size for i in missing) + sum(r.size for r in media_missing)
        done = 0
        progress(SyncProgress("items", len(manifest.items) - len(missing), len(manifest.items), 0, total))
        # Item files are small: a few connections at once hide the round trips of a slow link.
        # Each worker has its own session and counters; progress is reported from this thread.
        with ThreadPoolExecutor(max_workers=self.item_workers, thread_name_prefix="yizhan-items") as pool:
            futures = {pool.submit(self._fetch_item_in_worker, item): item for item in missing}
            try:
                for n, future in enumerate(as_completed(futures), start=1):
                    requests_made, bytes_read = future.result()
                    transfer.requests += requests_made
                    transfer.bytes += bytes_read
                    result.items_fetched += 1
                    done += futures[future].size
                    progress(SyncProgress("items", len(manifest.items) - len(missing) + n, len(manifest.items),
                                          done, total))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            finally:
                self._close_worker_sessions()

        # Records are checked before any media is touched: a version this station refuses
        # must not cost it a single file of what it shows now.
        content, rejections = decode_items((item, self._read_item(item, transfer)) for item in manifest.items)
        self._check_invalid_share(conn, manifest, content, rejections)

        # Media: room first (quota, floor), then each file, verified before it is renamed into place.
        current = self._current_media(conn)
        self.media.make_room([m.ref() for m in manifest.media], current=current)
        counted = [done]

        def on_bytes(n: int) -> None:
            counted[0] += n
            progress(SyncProgress("media", len(manifest.items), len(manifest.items), counted[0], total))

        for ref in media_missing:
            self.media.download(self.session, urljoin(self.feed_url, f"media/{ref.filename}"), ref,
                                timeout=self.timeout, retrying=self.retrying, transfer=transfer, on_bytes=on_bytes)
            result.media_fetched += 1

        offered = manifest.media_refs()
        kept = []
        problems = [{"kind": r.kind, "id": r.id, "reason": r.reason[:200]} for r in rejections if not r.clipped]
        for course in content.courses:
            refs = [r for r in (course.media, course.thumbnail) if r is not None]
            if all(r.sha256 in offered and self.media.has(r) for r in refs):
                kept.append(course)
            else:
                log.warning("sync: course %s refers to media the manifest does not list; left out", course.id)
                problems.append({"kind": "course", "id": course.id, "reason": "media not listed in the manifest"})
        result.rejected = len(problems)
        content.courses = kept
        self._note_invalid(conn, manifest, problems, applied=True)
        if result.rejected:
            log.warning("sync: %d record(s) of feed %s v%d did not validate on this station and were left out",
                        len(problems), manifest.feed_id, manifest.version)
        return content

    def _check_invalid_share(self, conn: sqlite3.Connection, manifest: Manifest, content: ContentSet,
                             rejections: list[Any]) -> None:
        """Refuse the whole version when too many records of one kind fail here: that is a
        systematic problem (a newer format, a bug at the hub), not a few bad records, and
        applying it would blank the station."""
        too_many = {kind: (bad, total) for kind, (bad, total) in invalid_shares(content, rejections).items()
                    if bad * 100 > total * self.max_invalid_percent}
        if not too_many:
            return
        problems = [{"kind": r.kind, "id": r.id, "reason": r.reason[:200]} for r in rejections if not r.clipped]
        self._note_invalid(conn, manifest, problems, applied=False)
        shares = ", ".join(f"{kind} {bad}/{total}" for kind, (bad, total) in too_many.items())
        first = problems[0]
        raise _Refused("too_many_invalid", f"version {manifest.version}: records failing this station's checks: "
                                           f"{shares} (over {self.max_invalid_percent:g}%); e.g. {first['kind']} "
                                           f"{first['id']}: {first['reason'][:120]}")

    def _note_invalid(self, conn: sqlite3.Connection, manifest: Manifest, problems: list[dict[str, str]], *,
                      applied: bool) -> None:
        data = None if not problems else json.dumps(
            {"feed_id": manifest.feed_id, "version": manifest.version, "applied": applied, "count": len(problems),
             "records": problems[:200]}, ensure_ascii=False)
        with durable(conn):
            conn.execute("INSERT OR IGNORE INTO sync_state (id) VALUES (1)")
            if data is not None or applied:
                conn.execute("UPDATE sync_state SET invalid_records = ? WHERE id = 1", (data,))

    def _have_item(self, item: ManifestItem) -> bool:
        path = self.items_dir / f"{item.sha256}.json"
        return path.exists() and path.stat().st_size == item.size

    def _fetch_item_in_worker(self, item: ManifestItem) -> tuple[int, int]:
        session = getattr(self._worker, "session", None)
        if session is None:
            session = self._worker.session = http_session(self.ca_bundle)
            session.headers.update(self.session.headers)
            with self._sessions_lock:
                self._worker_sessions.append(session)
        transfer = Transfer()
        self._fetch_item(item, transfer, session)
        return transfer.requests, transfer.bytes

    def _close_worker_sessions(self) -> None:
        with self._sessions_lock:
            sessions, self._worker_sessions = self._worker_sessions, []
        for session in sessions:
            session.close()
        self._worker = threading.local()

    def _fetch_item(self, item: ManifestItem, transfer: Transfer, session: requests.Session | None = None) -> None:
        for attempt in range(2):
            data = self._get(urljoin(self.feed_url, item.path), transfer, limit=item.size,
                             too_large="hash_mismatch", session=session).content
            if len(data) == item.size and hashlib.sha256(data).hexdigest() == item.sha256:
                _write_atomic(self.items_dir / f"{item.sha256}.json", data)
                return
            log.warning("sync: item %s does not match its hash (attempt %d)", item.id, attempt + 1)
        raise _Refused("hash_mismatch", f"item {item.id} ({item.path}) does not match its SHA-256")

    def _read_item(self, item: ManifestItem, transfer: Transfer) -> bytes:
        path = self.items_dir / f"{item.sha256}.json"
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != item.sha256:
            log.warning("sync: stored item %s was damaged on disk; fetching it again", item.id)
            path.unlink(missing_ok=True)
            self._fetch_item(item, transfer)
            data = path.read_bytes()
        return data

    def _get(self, url: str, transfer: Transfer, *, headers: dict[str, str] | None = None,
             limit: int, too_large: str = "unparsable", session: requests.Session | None = None
             ) -> requests.Response:
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
                    raise _Refused(too_large, f"{safe_url(url)} is larger than {limit} bytes") from exc
                if response.status_code >= 500 or response.status_code == 429:
                    raise TransientHTTPError(f"HTTP {response.status_code} for {safe_url(url)}")
                if response.status_code not in (200, 304):
                    raise _Refused("http_error", f"HTTP {response.status_code} for {safe_url(url)}")
        return response

    # -- state ----------------------------------------------------------------------------
    def _current_media(self, conn: sqlite3.Connection) -> set[str]:
        manifest = self._held_manifest(conn)
        return set() if manifest is None else {m.sha256 for m in manifest.media}

    def _save_validators(self, conn: sqlite3.Connection, etag: str | None, modified: str | None) -> None:
        with durable(conn):
            conn.execute("UPDATE sync_state SET etag = ?, last_modified = ? WHERE id = 1", (etag, modified))

    def _save_state(self, conn: sqlite3.Connection, manifest: Manifest, manifest_bytes: bytes,
                    etag: str | None, modified: str | None) -> None:
        with durable(conn):
            conn.execute("INSERT OR IGNORE INTO sync_state (id) VALUES (1)")
            conn.execute(
                "UPDATE sync_state SET feed_url = ?, etag = ?, last_modified = ?, manifest = ?, manifest_sha256 = ?,"
                " feed_id = ?, version = ?, pinned_feed_id = ? WHERE id = 1",
                (self.feed_url, etag, modified, manifest_bytes, hashlib.sha256(manifest_bytes).hexdigest(),
                 manifest.feed_id, manifest.version, manifest.feed_id))
            conn.execute("INSERT INTO sync_high_water (feed_id, version) VALUES (?, ?) ON CONFLICT (feed_id) "
                         "DO UPDATE SET version = MAX(version, excluded.version)", (manifest.feed_id, manifest.version))

    def _record_attempt(self, result: SyncResult) -> None:
        try:
            conn = self.db.conn()
        except sqlite3.Error:
            return
        with durable(conn):
            conn.execute("INSERT OR IGNORE INTO sync_state (id) VALUES (1)")
            conn.execute("UPDATE sync_state SET last_attempt_at = ?, last_status = ?, last_code = ?, "
                         "last_error = ?, last_bytes = ? WHERE id = 1",
                         (result.finished_at, result.status, result.code,
                          None if result.status != "failed" else f"{result.reason}（{result.detail}）"[:500],
                          result.bytes))
            if result.status != "failed":
                conn.execute("UPDATE sync_state SET last_success_at = ? WHERE id = 1", (result.finished_at,))
            if result.status == "changed":
                conn.execute("UPDATE sync_state SET last_change_at = ? WHERE id = 1", (result.finished_at,))

    def _collect_garbage(self, manifest: Manifest) -> None:
        keep = {f"{i.sha256}.json" for i in manifest.items}
        for path in self.items_dir.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)
        self.media.remove_unneeded(m.sha256 for m in manifest.media)


def _write_atomic(path: Path, data: bytes) -> None:
    # No fsync: item files are a cache, verified again by hash whenever they are read, and
    # the content itself is applied to the database durably. A file lost or damaged by a
    # power cut is simply fetched again.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    text = str(exc)
    if len(text) > 200:
        text = text[:200] + "…"
    return f"{type(exc).__name__}: {text}"


# -- status -----------------------------------------------------------------------------

@dataclass
class FeedHealth:
    """What staff (and the hub, through the heartbeat) must know about the feed held.

    ``expired``: the newest verified manifest is past its signed expiry (the hub stopped
    publishing, or an old version is being replayed): tell staff at once. ``show_banner``:
    expired for longer than ``hub.expiry_grace_h``: residents see "信息可能已过期".
    """

    feed_id: str = ""
    version: int = 0
    expires_at: str | None = None
    expired: bool = False
    show_banner: bool = False
    invalid_count: int = 0
    invalid_version: int | None = None
    invalid_applied: bool = True
    invalid_records: list[dict[str, str]] = field(default_factory=list)
    missing_media: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # Chinese, one line each, for staff

    @property
    def ok(self) -> bool:
        return not self.problems

    def heartbeat(self) -> dict[str, Any]:
        """The short form sent in the heartbeat (ids and reasons only: no personal data in feeds)."""
        return {"expires_at": self.expires_at, "expired": self.expired, "invalid_records": self.invalid_count,
                "invalid_version": self.invalid_version, "invalid_applied": self.invalid_applied,
                "invalid_ids": [f"{r['kind']}:{r['id']}" for r in self.invalid_records[:10]],
                "missing_media": len(self.missing_media), "problems": self.problems[:5]}


BANNER_TEXT = "信息可能已过期"


class HubView(Protocol):
    @property
    def expiry_grace_h(self) -> float: ...


class FeedView(Protocol):
    """What the feed's health reads of the station's settings (config.settings.Settings is one)."""

    @property
    def db_path(self) -> Path: ...

    @property
    def media_dir(self) -> Path: ...

    @property
    def hub(self) -> HubView: ...


def feed_health(settings: FeedView, *, now: dt.datetime | None = None, check_media: bool = True) -> FeedHealth:
    """The feed's freshness, the records refused and the media missing, from the station's
    database and media folder (no network). Cheap enough for every staff screen refresh;
    ``check_media`` compares sizes only (``yizhan doctor`` hashes every file)."""
    now = now or _utcnow()
    health = FeedHealth()
    try:
        with reading(settings.db_path) as conn:
            row = conn.execute("SELECT manifest, invalid_records FROM sync_state WHERE id = 1").fetchone()
    except sqlite3.Error:  # no database yet, or no sync yet
        return health
    if row is None:
        return health
    manifest = None
    if row["manifest"] is not None:
        try:
            manifest = Manifest.from_bytes(row["manifest"])
        except ManifestError:
            manifest = None
    if manifest is not None:
        health.feed_id, health.version = manifest.feed_id, manifest.version
        expiry = manifest.expiry()
        health.expires_at = expiry.isoformat()
        if now > expiry:
            health.expired = True
            grace = dt.timedelta(hours=settings.hub.expiry_grace_h)
            health.show_banner = now > expiry + grace
            local = expiry.astimezone().strftime("%Y-%m-%d %H:%M")
            health.problems.append(f"内容已过有效期（{local}），内容服务器可能停止了发布或内容被冻结；"
                                   "继续显示现有内容，请联系上级确认")
        if check_media:
            cache = MediaCache(settings.media_dir)  # only asks what is there (no quota needed)
            health.missing_media = [m.path for m in manifest.media if not cache.has(m.ref())]
            if health.missing_media:
                health.problems.append(f"{len(health.missing_media)} 个视频/图片文件缺失，下次同步会重新下载")
    if row["invalid_records"]:
        try:
            data = json.loads(row["invalid_records"])
            health.invalid_count = int(data.get("count", 0))
            health.invalid_version = data.get("version")
            health.invalid_applied = bool(data.get("applied", True))
            health.invalid_records = list(data.get("records", []))
        except (ValueError, TypeError, AttributeError):
            pass
        if health.invalid_count and health.invalid_applied:
            health.problems.append(f"第 {health.invalid_version} 版有 {health.invalid_count} 条记录未通过本机校验，未显示")
        elif health.invalid_count and health.invalid_version != health.version:
            health.problems.append(f"第 {health.invalid_version} 版有 {health.invalid_count} 条记录未通过本机校验，"
                                   "整版被拒绝，继续显示现有内容")
    return health


def stale_notices(settings: FeedView, now: dt.datetime | None = None) -> list[Any]:
    """The "信息可能已过期" notice for residents (kiosk home, board ticker) once the feed is
    past its signed expiry and the grace: a list of zero or one Announcement, shown like the
    feed's own notices. Never raises: a screen must not fail over a banner."""
    from protocol.model import Announcement

    try:
        now = now.astimezone() if now is not None and now.tzinfo is None else now
        health = feed_health(settings, now=now, check_media=False)
        if not health.show_banner:
            return []
        moment = now or _utcnow()
        return [Announcement(id="yizhan-feed-stale", text=f"{BANNER_TEXT}，请以工作人员告知为准", priority="normal",
                             starts_at=moment, ends_at=moment + dt.timedelta(days=1), target="both")]
    except Exception:
        log.exception("sync: cannot tell whether the feed is stale")
        return []
