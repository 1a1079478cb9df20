"""The feed client: fetch the station's signed feed, verify it, apply it whole; and the feed's health.

One :meth:`SyncClient.sync_once`:

1. conditional GET of ``manifest.json`` (If-None-Match / If-Modified-Since): a 304 ends
   the sync, nothing else is fetched;
2. ``manifest.sig`` is checked through the station's trust object (:mod:`protocol.trust`):
   with the online key its root (``hub.public_key``, or the root it moved to by signed root
   rotations) authorised in ``keys.json``, or the root itself for a hub without roles
   (fetching and verifying: :mod:`content.feed_fetch`); a manifest that does not
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

This module owns the ``sync_`` tables (:data:`TABLES`); writing them is :mod:`content.feed_apply`
and :mod:`content.trust_store`. The uplink (heartbeat and outbox
delivery) is :mod:`content.uplink`; the background loop that runs both is :mod:`content.sync_loop`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from common import exitcodes
from common.netutil import dialled_scheme, is_loopback_url
from content import feed_apply as apply
from content.db import Database, TableOwner, durable, migrate, reading
from content.feed_fetch import FETCH_DEADLINE_S, FeedFetcher, Refused, describe, safe_url
from content.media import TRANSIENT, MediaCache, MediaError, Transfer, http_session
from content.store import Store
from content.trust_store import add_role_columns, read_trust, save_trust
from protocol.feed import FeedError, Manifest, ManifestError, ManifestItem, decode_items
from protocol.model import ContentSet

__all__ = ["BANNER_TEXT", "TABLES", "FeedHealth", "SyncClient", "SyncProgress", "SyncResult", "ensure_sync_schema",
           "feed_health", "safe_url", "stale_notices"]

log = logging.getLogger(__name__)


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


def _now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _add_later_columns(conn: sqlite3.Connection) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(sync_state)")}
    for name, sql_type in _LATER_COLUMNS.items():
        if name not in have:  # an older program's table may have some of them already
            conn.execute(f"ALTER TABLE sync_state ADD COLUMN {name} {sql_type}")


# The sync tables' owner in the station database: version 1 as first released, version 2 adds
# the later columns (to tables made by an older program too), version 3 the key-role columns
# of sync_trust (content.trust_store).
TABLES = TableOwner("sync", ("sync_state", "sync_high_water", "sync_trust"),
                    (SCHEMA, _add_later_columns, add_role_columns))


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
    ``store``: the station's content store, which a changed feed replaces. The requests and
    the verification are :class:`content.feed_fetch.FeedFetcher`'s, the database side
    :mod:`content.feed_apply`'s; this class runs one round between them.
    """

    def __init__(self, *, feed_url: str, public_key: str, station_id: str, region: str, db: Database,
                 data_dir: str | Path, media: MediaCache, store: Store,
                 timeout_s: float = 10.0, attempts: int = 5, backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 session: requests.Session | None = None, item_workers: int = 4, feed_id: str = "",
                 allow_insecure_http: bool = False, ca_bundle: str = "", max_invalid_percent: float = 5.0,
                 clock: Callable[[], dt.datetime] = _utcnow, deadline_s: float = FETCH_DEADLINE_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.feed_url = feed_url if not feed_url or feed_url.endswith("/") else feed_url + "/"
        self.public_key = public_key  # hub.public_key: the root the station's key chain starts from
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
        self.session = session or http_session(ca_bundle)
        self.session.headers.setdefault("User-Agent", f"yizhan-station/{station_id}")
        self.retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=backoff_s, max=max_backoff_s),
            retry=retry_if_exception_type(TRANSIENT),
            before_sleep=lambda state: log.info("sync: retrying after %s", describe(state.outcome.exception())),
            reraise=True,
        )
        # Each manifest, signature, key list and item file must arrive whole within deadline_s,
        # however slowly a server trickles it (the read timeout alone lets a byte every few
        # seconds through). Pinned CA (hub.ca_bundle): the hub's certificate must chain to it.
        self.fetcher = FeedFetcher(self.feed_url, session=self.session, ca_bundle=ca_bundle, retrying=self.retrying,
                                   timeout=self.timeout, deadline_s=deadline_s, monotonic=monotonic,
                                   items_dir=self.items_dir, item_workers=item_workers)

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
        except Refused as exc:
            return SyncResult("failed", exc.code, REASONS.get(exc.code, REASONS["error"]), detail=exc.detail)
        except MediaError as exc:
            reason = REASONS.get(exc.code, REASONS["error"])
            if exc.code in ("quota", "disk_full") and exc.short_bytes > 0:
                reason = reason.replace("新内容未下载", f"新内容还需要 {_mb_text(exc.short_bytes)} 空间，未下载")
            return SyncResult("failed", exc.code, reason, detail=str(exc))
        except FeedError as exc:
            return SyncResult("failed", exc.code, REASONS.get(exc.code, REASONS["error"]), detail=str(exc))
        except (*TRANSIENT, requests.RequestException) as exc:
            return SyncResult("failed", "unavailable", REASONS["unavailable"], detail=describe(exc))
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
            try:
                conn = self.db.conn()
            except sqlite3.Error:
                return result
            error = None if result.status != "failed" else f"{result.reason}（{result.detail}）"
            apply.record_attempt(conn, finished_at=result.finished_at, status=result.status, code=result.code,
                                 error=error, received=result.bytes)
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
        response = self.fetcher.manifest(transfer, headers)
        if response.status_code == 304:
            return self._unchanged(conn, transfer, info.version)
        manifest_bytes = response.content
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        digest = hashlib.sha256(manifest_bytes).hexdigest()
        if state_matches and state["manifest_sha256"] == digest:
            apply.save_validators(conn, etag, modified)
            return self._unchanged(conn, transfer, info.version)
        # The station's trust (protocol.trust) as the sync tables keep it: the key chain from
        # hub.public_key (staff setting a different one starts over), the pinned feed, the
        # versions accepted. Key statements followed to verify are kept at once: they were
        # signed by the station's root, whatever becomes of this version.
        trust = read_trust(conn, self.public_key, feed_id_setting=self.feed_id)
        manifest, trust, followed = self.fetcher.verified_manifest(manifest_bytes, trust, transfer)
        if followed is not None and followed.moved:
            log.warning("sync: the hub changed its keys (%d root rotation(s)%s); now trusting the new key",
                        len(followed.roots), ", a new online key" if followed.online else "")
            save_trust(conn, trust)
        if not manifest.scope.covers(self.station_id, self.region):
            raise Refused("scope", f"feed {manifest.feed_id} is for {manifest.scope.describe()}, this station "
                                   f"is {self.station_id} in region {self.region or '(none)'}")
        # One station, one feed (another feed signed by the same key must not replace this
        # one, whatever its version), no rollback, no new version already expired.
        verdict = trust.admit(manifest, now=self.clock(), held_feed_id=info.feed_id, held_version=info.version,
                              feed_id_setting=self.feed_id)
        if verdict == "same":
            apply.save_state(conn, self.feed_url, manifest, manifest_bytes, etag, modified)
            return self._unchanged(conn, transfer, manifest.version)

        result = SyncResult("changed", "changed", REASONS["changed"], offered_version=manifest.version,
                            items_total=len(manifest.items), media_total=len(manifest.media))
        content = self._fetch_content(manifest, conn, transfer, progress, result)
        progress(SyncProgress("apply", result.items_total, result.items_total))
        store.replace_content(content, feed_id=manifest.feed_id, version=manifest.version)
        apply.save_state(conn, self.feed_url, manifest, manifest_bytes, etag, modified)
        self.fetcher.remove_items_except({f"{i.sha256}.json" for i in manifest.items})
        self.media.remove_unneeded(m.sha256 for m in manifest.media)
        return result

    def _unchanged(self, conn: sqlite3.Connection, transfer: Transfer, version: int) -> SyncResult:
        """Nothing new: but fetch again any media of the current version that went missing or
        was damaged (deleted by hand, a failing card), so what is listed can be played."""
        result = SyncResult("unchanged", "unchanged", REASONS["unchanged"], offered_version=version)
        manifest = apply.held_manifest(conn)
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
            self.media.download(self.session, self.fetcher.url(f"media/{ref.filename}"), ref,
                                timeout=self.timeout, retrying=self.retrying, transfer=transfer)
            result.media_fetched += 1
        result.reason = f"{REASONS['unchanged']}；已重新下载 {len(bad)} 个缺失或损坏的媒体文件"
        return result

    def _fetch_content(self, manifest: Manifest, conn: sqlite3.Connection, transfer: Transfer,
                       progress: Callable[[SyncProgress], None], result: SyncResult) -> ContentSet:
        missing = [i for i in manifest.items if not self.fetcher.have_item(i)]
        media_missing = [m.ref() for m in manifest.media if not self.media.has(m.ref())]
        total = sum(i.size for i in missing) + sum(r.size for r in media_missing)
        counted = [0]
        progress(SyncProgress("items", len(manifest.items) - len(missing), len(manifest.items), 0, total))

        def on_item(n: int, item: ManifestItem) -> None:
            result.items_fetched += 1
            counted[0] += item.size
            progress(SyncProgress("items", len(manifest.items) - len(missing) + n, len(manifest.items),
                                  counted[0], total))

        self.fetcher.fetch_items(missing, transfer, on_item)

        # Records are checked before any media is touched: a version this station refuses
        # must not cost it a single file of what it shows now.
        content, rejections = decode_items((item, self.fetcher.read_item(item, transfer)) for item in manifest.items)
        apply.check_invalid_share(conn, manifest, content, rejections, self.max_invalid_percent)

        # Media: room first (quota, floor), then each file, verified before it is renamed into place.
        self.media.make_room([m.ref() for m in manifest.media], current=apply.current_media(conn))

        def on_bytes(n: int) -> None:
            counted[0] += n
            progress(SyncProgress("media", len(manifest.items), len(manifest.items), counted[0], total))

        for ref in media_missing:
            self.media.download(self.session, self.fetcher.url(f"media/{ref.filename}"), ref,
                                timeout=self.timeout, retrying=self.retrying, transfer=transfer, on_bytes=on_bytes)
            result.media_fetched += 1
        result.rejected = apply.playable_courses(conn, manifest, content, rejections, self.media)
        return content


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
