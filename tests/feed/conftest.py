"""Fixtures for the feed tests: a real hub (waitress on 127.0.0.1 behind fault injection)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from feed_faults import FaultInjector
from feed_support import Hub

from content.hub.app import HubServer, create_app
from content.hub.publish import write_keypair


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """The reference hub with a fresh key, served by waitress on 127.0.0.1 behind fault injection."""
    logging.getLogger("waitress").setLevel(logging.CRITICAL)  # injected cuts log tracebacks
    home = tmp_path / "hub"
    key_path, public = write_keypair(home)
    media_src = tmp_path / "media-src"
    media_src.mkdir()
    faults = FaultInjector(create_app(home))
    server = HubServer(faults).start()
    try:
        yield Hub(home, server, faults, public, key_path, media_src)
    finally:
        server.stop()
