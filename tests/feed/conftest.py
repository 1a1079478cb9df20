"""Fixtures for the feed tests: a real hub (waitress on 127.0.0.1 behind fault injection)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from feed_faults import FaultInjector
from feed_support import Hub

from hub.app import HubServer, create_app
from hub.publish import write_keypair

HUB_DATABASES = ("sqlite", "postgresql")


# These modules run against SQLite and PostgreSQL; the rest use $YIZHAN_TEST_HUB_DATABASE.
BOTH_DATABASES = {"test_feed_hub", "test_feed_outbox"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hub_database" in metafunc.fixturenames and metafunc.module.__name__ in BOTH_DATABASES:
        metafunc.parametrize("hub_database", HUB_DATABASES, indirect=True)


@pytest.fixture
def hub(tmp_path: Path, hub_database: str) -> Iterator[Hub]:
    """The reference hub with a fresh key, served by waitress on 127.0.0.1 behind fault injection."""
    logging.getLogger("waitress").setLevel(logging.CRITICAL)  # injected cuts log tracebacks
    home = tmp_path / "hub"
    key_path, public = write_keypair(home)
    media_src = tmp_path / "media-src"
    media_src.mkdir()
    app = create_app(home, database_url=hub_database)
    faults = FaultInjector(app)
    server = HubServer(faults).start()
    hub = Hub(home, server, faults, public, key_path, media_src, hub_database)
    try:
        yield hub
    finally:
        server.stop()
        app.extensions["hub_store"].close()
        if "store" in hub.__dict__:
            hub.store.close()
