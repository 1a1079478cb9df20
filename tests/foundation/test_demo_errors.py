"""The demo fails on any 500 the hub answered: the lines Flask writes for a request it answered
with a server error are found in a hub log, and nothing else is taken for one."""

from __future__ import annotations

import logging
from pathlib import Path

from config.demo import server_errors
from hub.app import create_app
from hub.publish import write_keypair


def test_a_server_error_in_the_hubs_log_is_found(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    write_keypair(home)
    app = create_app(home)
    log = tmp_path / "hub.log"
    handler = logging.FileHandler(log, encoding="utf-8")
    app.logger.addHandler(handler)

    def broken() -> str:
        raise RuntimeError("database is locked")

    app.add_url_rule("/console/broken", "broken", broken, methods=["POST"])
    try:
        client = app.test_client()
        assert client.get("/console/login").status_code == 200
        assert client.get("/console/no-such-page").status_code == 404
        assert server_errors(log) == [], "a 404 is not a server error"
        assert client.post("/console/broken").status_code == 500
    finally:
        app.logger.removeHandler(handler)
        handler.close()
        app.extensions["hub_store"].close()
    assert server_errors(log) == ["POST /console/broken"]
    assert server_errors(tmp_path / "missing.log") == []
