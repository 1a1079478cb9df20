"""The station's background sync loop: feed syncs (each with a heartbeat) and outbox deliveries.

:class:`SyncLoop` runs the feed client (:mod:`content.feed_client`) and the uplink
(:mod:`content.uplink`) in two background threads for the kiosk, the board and ``yizhan sync``,
and reports its :class:`SyncStatus` through a callback; :func:`read_status` is what
``yizhan sync --status`` and the staff screen show. ``config.station.Station`` wires it.

The two never wait for each other: a feed server that trickles its manifest (until the
fetch's deadline) must not hold back a resident's registration or the heartbeats, and an
upload server that is down must not hold back new content.

A third thread (``yizhan-urgent``) reads the feed's tiny ``urgent`` pointer every
``urgent_interval_s`` (20 s) between syncs and wakes the feed thread when it names a newer
version than the one held (content/PROTOCOL.md §1.12): an urgent notice reaches the screens
within about a check interval of its publication, whatever ``hub.sync_interval_s`` is.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from content.db import Database
from content.feed_client import FeedHealth, SyncClient, SyncResult, safe_url
from content.feed_fetch import UrgentCheck
from content.media import http_session
from content.outbox import Outbox
from content.store import Store
from content.uplink import Sender

log = logging.getLogger(__name__)

URGENT_INTERVAL_S = 20.0  # between two looks at the feed's urgent pointer (0: never look)


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
    delivering: bool = False
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
    feed_rounds: int = 0  # rounds finished since start (the watchdog of ``yizhan sync`` counts them)
    delivery_rounds: int = 0


def _backoff_s(failures: int, interval_s: float) -> float:
    if failures == 0:
        return interval_s
    return min(interval_s, 5.0 * 2.0 ** (failures - 1)) * random.uniform(0.5, 1.0)


class SyncLoop:
    """Sync the feed and deliver the outbox every ``interval_s`` (``hub.sync_interval_s``), each
    in its own background thread (``yizhan-sync`` and ``yizhan-uplink``).

    ``on_status(status)`` is called from the thread that finished a round (feed or delivery);
    a Kivy app must hop to its own thread (``Clock.schedule_once``) before touching widgets.
    ``heartbeat(result, devices)`` queues a heartbeat after each feed round (the uplink is woken
    to send it); ``health`` (if given) returns the live device health it carries
    (``{"printer": {"ok": True}, ...}``). ``persisted()`` reads the last status kept in the
    database (shown until the first round ends). While the hub is unreachable each thread
    retries sooner (5 s, 10 s, 20 s … up to the interval, with jitter).
    ``config.station.Station.sync_loop`` builds it.
    """

    def __init__(self, client: SyncClient, sender: Sender, *, interval_s: float,
                 heartbeat: Callable[[SyncResult, dict[str, Any] | None], object] | None = None,
                 persisted: Callable[[], dict[str, Any]] | None = None,
                 on_status: Callable[[SyncStatus], None] | None = None,
                 health: Callable[[], dict[str, Any]] | None = None,
                 delivery_interval_s: float | None = None, urgent_interval_s: float = URGENT_INTERVAL_S,
                 urgent: UrgentCheck | None = None) -> None:
        self.on_status = on_status
        self.health = health
        self.heartbeat = heartbeat
        self.persisted = persisted
        self.client = client
        self.sender = sender
        self.interval_s = float(interval_s)
        self.delivery_interval_s = float(delivery_interval_s if delivery_interval_s is not None else interval_s)
        self._wake = threading.Event()
        self._deliver_wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._rounds = threading.Condition(self._lock)
        self._status = SyncStatus()
        self._failures = 0
        self._delivery_failures = 0
        self.clock: Callable[[], float] = time.monotonic
        self._round_since: dict[str, float | None] = {"feed": None, "delivery": None}
        self.urgent_interval_s = float(urgent_interval_s)
        self.urgent = urgent if urgent is not None else _urgent_check(client)
        self.urgent_wakes = 0  # feed rounds brought forward by the urgent pointer
        self._load_persisted()

    @property
    def status(self) -> SyncStatus:
        with self._lock:
            return self._copy()

    def _copy(self) -> SyncStatus:
        return SyncStatus(**{k: getattr(self._status, k) for k in SyncStatus.__dataclass_fields__})

    def start(self) -> SyncLoop:
        if not self._threads:
            self._stop.clear()
            self._threads = [threading.Thread(target=self._run_feed, name="yizhan-sync", daemon=True),
                             threading.Thread(target=self._run_delivery, name="yizhan-uplink", daemon=True)]
            if self.urgent is not None and self.urgent_interval_s > 0:
                self._threads.append(threading.Thread(target=self._run_urgent, name="yizhan-urgent", daemon=True))
            with self._lock:
                self._status.running = True
            for thread in self._threads:
                thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        self._deliver_wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        with self._lock:
            self._status.running = False
        self.client.close()
        self.sender.close()
        if self.urgent is not None:
            self.urgent.session.close()

    def sync_now(self) -> None:
        """Sync and deliver as soon as possible (the staff screen's 立即同步 button)."""
        self._wake.set()
        self._deliver_wake.set()

    def deliver_now(self) -> None:
        """Deliver the outbox as soon as possible (e.g. right after a registration)."""
        self._deliver_wake.set()

    def wait_rounds(self, feed_rounds: int, delivery_rounds: int, timeout: float) -> SyncStatus:
        """Wait until more feed rounds than ``feed_rounds`` and more delivery rounds than
        ``delivery_rounds`` have finished, or ``timeout``; returns the status then."""
        with self._rounds:
            self._rounds.wait_for(lambda: self._status.feed_rounds > feed_rounds
                                  and self._status.delivery_rounds > delivery_rounds, timeout)
            return self._copy()

    def run_round(self) -> SyncStatus:
        """One sync + heartbeat, then one delivery, in the caller's thread (``yizhan sync --once``
        style; the background threads run the two halves apart)."""
        self.run_feed_round(report=False)
        return self.run_delivery_round()

    def run_feed_round(self, *, report: bool = True) -> SyncStatus:
        """One feed sync and its heartbeat (then the uplink is woken to send the heartbeat)."""
        with self._lock:
            self._status.syncing = True
        try:
            result = self.client.sync_once()
        finally:
            with self._lock:
                self._status.syncing = False
        failed = result.status == "failed" and result.code not in ("not_configured", "busy")
        try:
            if self.heartbeat is not None:
                self.heartbeat(result, self.health() if self.health else None)
        except Exception:
            log.exception("sync loop: could not queue a heartbeat")
        self._deliver_wake.set()
        depth, oldest = self._outbox_depth()
        with self._rounds:
            s = self._status
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
            if depth is not None:
                s.outbox_depth, s.outbox_oldest_age_s = depth, oldest
            s.history = ([f"{result.finished_at} {result.status} {result.reason}"] + s.history)[:20]
            s.feed_rounds += 1
            self._rounds.notify_all()
        self._failures = self._failures + 1 if failed else 0
        return self._report() if report else self.status

    def run_delivery_round(self) -> SyncStatus:
        """One delivery of the outbox."""
        with self._lock:
            self._status.delivering = True
        try:
            delivery = self.sender.deliver_once()
            failed = delivery.status == "failed"
        except Exception:
            log.exception("sync loop: delivery failed")
            delivery, failed = None, True
        depth, oldest = self._outbox_depth()
        with self._rounds:
            s = self._status
            s.delivering = False
            s.last_delivery = delivery
            if depth is not None:
                s.outbox_depth, s.outbox_oldest_age_s = depth, oldest
            s.delivery_rounds += 1
            self._rounds.notify_all()
        self._delivery_failures = self._delivery_failures + 1 if failed else 0
        return self._report()

    def _outbox_depth(self) -> tuple[int | None, float | None]:
        try:
            return self.sender.outbox.depth(), self.sender.outbox.oldest_age_s()
        except Exception:
            log.exception("sync loop: cannot read the outbox depth")
            return None, None

    def _report(self) -> SyncStatus:
        status = self.status
        if self.on_status:
            try:
                self.on_status(status)
            except Exception:
                log.exception("sync loop: the status callback failed")
        return status

    def next_wait_s(self) -> float:
        """The wait before the next feed sync."""
        return _backoff_s(self._failures, self.interval_s)

    def next_delivery_wait_s(self) -> float:
        return _backoff_s(self._delivery_failures, self.delivery_interval_s)

    def idle(self) -> bool:
        """Both threads between rounds with no wake pending: nothing runs until the next interval."""
        return (all(since is None for since in self._round_since.values())
                and not self._wake.is_set() and not self._deliver_wake.is_set())

    def alive(self, max_round_s: float = 3000.0) -> bool:
        """Both threads running, and neither stuck in one round longer than ``max_round_s``.

        What ``yizhan sync`` pings systemd's watchdog on: waiting between rounds is alive too,
        so an interval longer than ``WatchdogSec`` (up to a day) is not taken for a hang.
        """
        if not self._threads or not all(t.is_alive() for t in self._threads):
            return False
        now = self.clock()
        return all(since is None or now - since <= max_round_s for since in self._round_since.values())

    def _run_feed(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a wake during it brings the next one at once
            self._round_since["feed"] = self.clock()
            try:
                self.run_feed_round()
            except Exception:
                log.exception("sync loop: round failed")
                self._failures += 1
            self._round_since["feed"] = None
            self._wake.wait(self.next_wait_s())

    def urgent_check(self) -> bool:
        """One look at the feed's urgent pointer; a newer version wakes the feed thread (True)."""
        if self.urgent is None:
            return False
        try:
            pending = self.urgent.pending()
        except Exception:
            log.exception("sync loop: the urgent check failed")
            return False
        if pending:
            self.urgent_wakes += 1
            self._wake.set()
        return pending

    def _run_urgent(self) -> None:
        while not self._stop.wait(self.urgent_interval_s):
            if self._round_since["feed"] is None:  # a round under way reads the manifest anyway
                self.urgent_check()

    def _run_delivery(self) -> None:
        while not self._stop.is_set():
            self._deliver_wake.clear()  # before the round: a heartbeat queued during it goes next
            self._round_since["delivery"] = self.clock()
            try:
                self.run_delivery_round()
            except Exception:
                log.exception("sync loop: delivery round failed")
                self._delivery_failures += 1
            self._round_since["delivery"] = None
            self._deliver_wake.wait(self.next_delivery_wait_s())

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


def _urgent_check(client: SyncClient) -> UrgentCheck | None:
    """The urgent pointer check for a station's feed client (its own session: it runs in its own thread)."""
    if not isinstance(client, SyncClient) or not client.feed_url:
        return None

    def held() -> tuple[str, int]:
        info = client.store.content_info()
        return info.feed_id, info.version

    return UrgentCheck(client.feed_url, held=held, session=http_session(client.fetcher.ca_bundle),
                       timeout=client.timeout, allow_insecure_http=client.allow_insecure_http)
