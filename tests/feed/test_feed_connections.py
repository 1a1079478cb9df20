"""One station database per process: a sync round (feed, heartbeat, delivery) opens no SQLite
connection of its own beyond the one of the thread it runs in."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest
from feed_support import Hub, hub_toml, make_content

from config.station import Station
from content.store import Store


def count_station_connections(monkeypatch: pytest.MonkeyPatch, db_path: Path) -> Counter[str]:
    """Thread name -> SQLite connections opened on the station's database file from now on."""
    opened: Counter[str] = Counter()
    real = sqlite3.connect

    def counting(database, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(db_path) in str(database):
            opened[threading.current_thread().name] += 1
        return real(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", counting)
    return opened


def test_a_sync_round_opens_one_connection_per_thread(station, hub: Hub, monkeypatch) -> None:
    token = hub.store.add_station("test-station-01")
    settings = station.write(hub_toml(hub, token=token))
    hub.publish(make_content(hub, jobs=30, seed=1))
    opened = count_station_connections(monkeypatch, settings.db_path)
    with Station(settings) as st:
        assert opened == {"MainThread": 1}  # opened and migrated once, at start
        st.outbox.add("event", {"event": "search"})
        loop = st.sync_loop(interval_s=3600)
        rounds = []
        for name in ("round-1", "round-2"):  # a change, then nothing new
            thread = threading.Thread(target=lambda: rounds.append(loop.run_round()), name=name)
            thread.start()
            thread.join()
        loop.client.close()
        loop.sender.close()
        assert [r.last_result.status for r in rounds] == ["changed", "unchanged"]
        assert rounds[-1].outbox_depth == 0  # the event and both heartbeats were delivered
        assert st.store.content_info().version == 1
    # Before the one Database, a round opened eight (three stores, three outboxes, two plain).
    assert opened == {"MainThread": 1, "round-1": 1, "round-2": 1}
    assert hub.store.stations()[0].heartbeat["content_version"] == 1


def test_parts_opened_by_path_share_the_process_database(station, monkeypatch) -> None:
    settings = station.settings
    opened = count_station_connections(monkeypatch, settings.db_path)
    with Station(settings):
        from content.outbox import Outbox, record_usage
        from content.registrations import count_registrations
        from printer.queue import PrintQueue

        record_usage(settings, "home")  # the board and older callers still pass the settings
        with Outbox(settings.db_path) as outbox:
            assert outbox.depth() == 1
        PrintQueue(settings.db_path).submit("job", b"x", "slip")
        assert sum(count_registrations(settings.db_path).values()) == 0
        Store(settings.db_path, (26.5, 106.7)).content_info()
        assert opened == {"MainThread": 1}
    Outbox(settings.db_path).close()  # once the station is closed, a part opens its own again
    assert opened == {"MainThread": 2}
