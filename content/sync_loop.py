"""The station's background sync loop: every round a feed sync, a heartbeat and an outbox delivery.

:class:`SyncLoop` runs the feed client (:mod:`content.feed_client`) and the uplink
(:mod:`content.uplink`) in a background thread for the kiosk, the board and ``yizhan sync``,
and reports its :class:`SyncStatus` through a callback; :func:`read_status` is what
``yizhan sync --status`` and the staff screen show. ``config.station.Station`` wires it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from content.db import Database
from content.feed_client import FeedHealth, SyncClient, SyncResult, safe_url
from content.outbox import Outbox
from content.store import Store
from content.uplink import Sender

log = logging.getLogger(__name__)


def read_status(db: Database, store: Store, outbox: Outbox, *, feed_url: str, pinned_feed_id: str,
                health: FeedHealth) -> dict[str, Any]:
    """Last sync, content held, and the outbox, for ``yizhan sync --status`` and the staff screen.

    ``pinned_feed_id``: ``hub.feed_id`` if set (else the feed pinned at the first sync is shown).
    """
    conn = db.conn()
    row = conn.execute("SELECT * FROM sync_state WHERE id = 1").fetchone()
    trust = conn.execute("SELECT rotations, changed_at FROM sync_trust WHERE id = 1").fetchone()
    state = dict(row) if row else {}
    info = store.content_info()
    depth, oldest, counts = outbox.depth(), outbox.oldest_age_s(), outbox.counts()
    return {
        "feed_url": safe_url(feed_url) if feed_url else "",
        "feed_id": info.feed_id,
        "version": info.version,
        "applied_at": info.applied_at.isoformat() if info.applied_at else None,
        "counts": info.counts,
        "last_attempt_at": state.get("last_attempt_at"),
        "last_success_at": state.get("last_success_at"),
        "last_change_at": state.get("last_change_at"),
        "last_status": state.get("last_status"),
        "last_error": state.get("last_error"),
        "outbox_depth": depth,
        "outbox_oldest_age_s": None if oldest is None else round(oldest, 1),
        "outbox": counts,
        "pinned_feed_id": pinned_feed_id or state.get("pinned_feed_id"),
        "key_rotations": trust["rotations"] if trust else 0,
        "feed": asdict(health),
    }


@dataclass
class SyncStatus:
    """What the staff screen shows. Times are ISO 8601 local time."""

    running: bool = False
    syncing: bool = False
    last_attempt_at: str | None = None
    last_success_at: str | None = None
    last_change_at: str | None = None
    feed_id: str = ""
    version: int = 0
    last_error: str | None = None
    last_result: SyncResult | None = None
    outbox_depth: int = 0
    outbox_oldest_age_s: float | None = None
    last_delivery: Any = None
    history: list[str] = field(default_factory=list)


class SyncLoop:
    """Sync and deliver the outbox every ``interval_s`` (``hub.sync_interval_s``) in a background thread.

    ``on_status(status)`` is called from the loop's thread after every round; a Kivy app must
    hop to its own thread (``Clock.schedule_once``) before touching widgets. ``heartbeat(result,
    devices)`` queues the round's heartbeat; ``health`` (if given) returns the live device health
    it carries (``{"printer": {"ok": True}, ...}``). ``persisted()`` reads the last status kept in
    the database (shown until the first round ends). While the hub is unreachable the loop
    retries sooner (5 s, 10 s, 20 s … up to the interval, with jitter).
    ``config.station.Station.sync_loop`` builds it.
    """

    def __init__(self, client: SyncClient, sender: Sender, *, interval_s: float,
                 heartbeat: Callable[[SyncResult, dict[str, Any] | None], object] | None = None,
                 persisted: Callable[[], dict[str, Any]] | None = None,
                 on_status: Callable[[SyncStatus], None] | None = None,
                 health: Callable[[], dict[str, Any]] | None = None) -> None:
        self.on_status = on_status
        self.health = health
        self.heartbeat = heartbeat
        self.persisted = persisted
        self.client = client
        self.sender = sender
        self.interval_s = float(interval_s)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = SyncStatus()
        self._failures = 0
        self._load_persisted()

    @property
    def status(self) -> SyncStatus:
        with self._lock:
            return SyncStatus(**{k: getattr(self._status, k) for k in SyncStatus.__dataclass_fields__})

    def start(self) -> SyncLoop:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="yizhan-sync", daemon=True)
            with self._lock:
                self._status.running = True
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            self._status.running = False
        self.client.close()
        self.sender.close()

    def sync_now(self) -> None:
        """Run a round as soon as possible (the staff screen's 立即同步 button)."""
        self._wake.set()

    def run_round(self) -> SyncStatus:
        """One sync + heartbeat + delivery, in the caller's thread (the loop calls this)."""
        with self._lock:
            self._status.syncing = True
        failed = False
        result = self.client.sync_once()
        if result.status == "failed" and result.code not in ("not_configured", "busy"):
            failed = True
        try:
            if self.heartbeat is not None:
                self.heartbeat(result, self.health() if self.health else None)
        except Exception:
            log.exception("sync loop: could not queue a heartbeat")
        try:
            delivery = self.sender.deliver_once()
            failed = failed or delivery.status == "failed"
        except Exception:
            log.exception("sync loop: delivery failed")
            delivery = None
            failed = True
        depth, oldest = self.sender.outbox.depth(), self.sender.outbox.oldest_age_s()
        with self._lock:
            s = self._status
            s.syncing = False
            s.last_result = result
            s.last_attempt_at = result.finished_at
            if result.status != "failed":
                s.last_success_at = result.finished_at
                s.last_error = None
            else:
                s.last_error = result.reason
            if result.status == "changed":
                s.last_change_at = result.finished_at
            s.feed_id, s.version = result.feed_id, result.version
            s.last_delivery = delivery
            s.outbox_depth, s.outbox_oldest_age_s = depth, oldest
            s.history = ([f"{result.finished_at} {result.status} {result.reason}"] + s.history)[:20]
        self._failures = self._failures + 1 if failed else 0
        status = self.status
        if self.on_status:
            try:
                self.on_status(status)
            except Exception:
                log.exception("sync loop: the status callback failed")
        return status

    def next_wait_s(self) -> float:
        if self._failures == 0:
            return self.interval_s
        return min(self.interval_s, 5.0 * 2 ** (self._failures - 1)) * random.uniform(0.5, 1.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_round()
            except Exception:
                log.exception("sync loop: round failed")
                self._failures += 1
            self._wake.wait(self.next_wait_s())
            self._wake.clear()

    def _load_persisted(self) -> None:
        if self.persisted is None:
            return
        try:
            data = self.persisted()
        except Exception:
            log.exception("sync loop: could not read the last status kept")
            return
        with self._lock:
            s = self._status
            s.last_attempt_at, s.last_success_at = data["last_attempt_at"], data["last_success_at"]
            s.last_change_at, s.last_error = data["last_change_at"], data["last_error"]
            s.feed_id, s.version = data["feed_id"], data["version"]
            s.outbox_depth, s.outbox_oldest_age_s = data["outbox_depth"], data["outbox_oldest_age_s"]
