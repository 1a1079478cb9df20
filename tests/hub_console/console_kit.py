"""What the console tests share besides fixtures: the test password and feed, an injected
clock, the logged-in client's helpers (CSRF token, login, post). Test modules import these
from here, never from conftest (two test folders' conftest modules share one name)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

HUB_DATABASES = ("sqlite", "postgresql")
PASSWORD = "Passw0rd-test"
FEED = "gy-test"
TOKEN_RE = re.compile(rb'name="csrf_token" value="([^"]+)"')


class Clock:
    """The console's clock, moved by tests instead of sleeping."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Console:
    home: Path
    app: Flask
    clock: Clock
    database_url: str

    @property
    def engine(self) -> Any:
        return self.app.extensions["console"].engine

    @property
    def store(self) -> Any:
        return self.app.extensions["hub_store"]

    def client(self, username: str | None = None, password: str = PASSWORD) -> FlaskClient:
        client = self.app.test_client()
        if username:
            response = login(client, username, password)
            assert response.status_code == 302, response.data.decode()[:500]
        return client


def csrf_token(client: FlaskClient, path: str = "/console/login") -> str:
    page = client.get(path)
    match = TOKEN_RE.search(page.data)
    assert match, f"no CSRF token on {path}"
    return match.group(1).decode()


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client)
    return client.post("/console/login", data={"username": username, "password": password, "csrf_token": token})


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    """A form POST with the CSRF token of the logged-in session."""
    token = csrf_token(client, "/console/password")
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)
