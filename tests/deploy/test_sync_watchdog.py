"""`yizhan sync` pings systemd's watchdog while its loop is alive: waiting a day between rounds
(sync_interval_s may be 86400, WatchdogSec is 3600) is alive; a round stuck for an hour is not."""

from __future__ import annotations

import threading
import time

from config.station import Station


def test_waiting_between_rounds_is_alive_and_a_stuck_round_is_not(station) -> None:
    loop = Station(station.settings).sync_loop()
    now = [1000.0]
    loop.clock = lambda: now[0]
    gate = threading.Event()
    real = loop.client.sync_once
    # Both threads wait a day between rounds (no backoff rounds sneaking in while the test's
    # clock jumps); sync_now() wakes them.
    loop.next_wait_s = loop.next_delivery_wait_s = lambda: 86_400.0
    loop.start()
    try:
        status = loop.wait_rounds(0, 0, timeout=60)
        assert status.feed_rounds >= 1 and status.delivery_rounds >= 1
        _until(loop.idle)  # the feed round's heartbeat may still wake one more delivery round
        now[0] += 86_000  # most of a day-long interval later, still waiting for the next round
        assert loop.alive()

        loop.client.sync_once = lambda **kwargs: (gate.wait(120), real(**kwargs))[1]
        loop.sync_now()
        _until(lambda: loop._round_since["feed"] is not None)  # the feed thread is in its held round
        assert loop.alive()  # a round in progress is fine...
        now[0] += 4000
        assert not loop.alive()  # ...until it has hung longer than any round may take
    finally:
        gate.set()
        loop.stop(timeout=10)
    assert not loop.alive()  # stopped threads are not alive either


def _until(condition) -> None:  # type: ignore[no-untyped-def]
    """Wait for the loop's threads to reach a state (a bound against a hang, not a timing)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)
