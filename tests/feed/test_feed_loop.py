"""The background sync loop the kiosk and the board run: status for the staff screen, sync on demand."""

from __future__ import annotations

import queue
import threading

from feed_support import Hub, client_for, hub_toml, make_content

from config.station import Station
from content.sync_loop import SyncStatus


def test_loop_syncs_reports_and_backs_off_while_offline(station, hub: Hub) -> None:
    token = hub.store.add_station("test-station-01")
    settings = station.write(hub_toml(hub, token=token))
    hub.publish(make_content(hub, jobs=20, seed=1))
    statuses: queue.Queue[SyncStatus] = queue.Queue()
    threads: set[str] = set()

    def on_status(status: SyncStatus) -> None:
        threads.add(threading.current_thread().name)
        statuses.put(status)

    station_ = Station(settings)
    loop = station_.sync_loop(on_status=on_status, interval_s=3600,
                              health=lambda: {"printer": {"ok": False, "detail": "缺纸"}},
                              client=client_for(settings), sender=station_.sender(attempts=2, backoff_s=0.01))
    loop.start()
    try:
        # The feed and the uplink each have a thread; the heartbeat the feed round queued wakes
        # the uplink, which sends it.
        first = loop.wait_rounds(0, 1, timeout=20)
        for _ in range(5):  # the delivery round that sends the first heartbeat
            if not (first.outbox_depth or first.delivering):
                break
            first = loop.wait_rounds(first.feed_rounds - 1, first.delivery_rounds, timeout=20)
        assert first.feed_rounds >= 1, "no feed round came"
        assert first.version == 1 and first.last_error is None and first.last_success_at
        assert first.last_result.status == "changed" and first.outbox_depth == 0
        assert threads <= {"yizhan-sync", "yizhan-uplink"}  # a Kivy app must hop to its own thread with Clock
        beat = hub.store.stations()[0].heartbeat  # the heartbeat of the round reached the hub
        assert beat["devices"]["printer"]["detail"] == "缺纸" and beat["content_version"] == 1

        hub.publish(make_content(hub, jobs=20, seed=2))
        loop.sync_now()
        second = loop.wait_rounds(first.feed_rounds, 0, timeout=20)
        assert second.version == 2 and second.last_change_at >= first.last_change_at

        hub.server.stop()
        loop.sync_now()
        offline = loop.wait_rounds(second.feed_rounds, 0, timeout=30)
        assert offline.version == 2  # still showing what it had
        assert offline.last_error and "无法连接" in offline.last_error
        assert offline.outbox_depth >= 1  # this round's heartbeat waits
        assert loop.next_wait_s() <= 5.0  # retries soon, not after the hour-long interval
        assert loop.status.history[0].endswith(offline.last_error)
    finally:
        loop.stop(timeout=10)
    assert not loop.status.running

    # A restarted kiosk shows the last sync straight away, before its first round.
    fresh = Station(settings).sync_loop(interval_s=3600, client=client_for(settings))
    assert fresh.status.version == 2 and fresh.status.last_error and fresh.status.last_success_at
    fresh.client.close()
    fresh.sender.close()
