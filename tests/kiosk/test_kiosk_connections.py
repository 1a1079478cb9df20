"""One station database per process: a resident's whole visit at the kiosk (search, a printed
slip, a card, a registration, the rating) opens at most one SQLite connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter

import pytest

from config.kiosk_harness import KioskHarness

pytestmark = pytest.mark.display


def test_a_kiosk_session_opens_one_connection_per_thread(xvfb, station, monkeypatch) -> None:
    from test_kiosk_flows import fill_form, open_jobs, place_card

    harness = KioskHarness(station.settings, jobs=80)
    opened: Counter[str] = Counter()
    real = sqlite3.connect
    db_path = str(station.settings.db_path)

    def counting(database, *args, **kwargs):  # type: ignore[no-untyped-def]
        if db_path in str(database):
            opened[threading.current_thread().name] += 1
        return real(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", counting)
    harness.start()
    try:
        driver, app = harness.driver, harness.app
        jobs = open_jobs(driver)
        driver.type_letters("b")
        driver.tap(driver.find(cls="JobCard")[0])
        driver.tap(app.screen.ids.print_button)
        harness.printer.wait_for_printed(1, timeout=15)
        place_card(harness)
        driver.tap(app.screen.ids.register_button)
        driver.tap(driver.button("零工登记", exact=False))
        fill_form(driver, "零工")
        driver.tap(app.screen.ids.accept_button)
        assert app.screen_name == "done", app.screen.error
        driver.tap(app.screen.ids.finish_button)
        driver.tap(app.rating.ids.skip_rating_button)
        harness.printer.wait_for_printed(2, timeout=15)  # the receipt
        app.services.flush_usage()
        app.services.drain()
        assert jobs.found > 0 and app.services.outbox_depth()[0] >= 2  # the registration and the usage events
        threads = dict(opened)
        per_thread = harness.station.db.opened
    finally:
        harness.stop()
    # The UI thread: one for the harness filling the store before the kiosk starts (as a sync
    # would), one for the kiosk. Every other thread that touched the database (the printer's, the
    # background worker's) opened one, once, and the kiosk's Database made all of them.
    assert threads.pop("MainThread") == 2
    assert len(threads) >= 2 and all(n == 1 for n in threads.values()), threads
    assert per_thread == len(threads) + 1
