"""Fixtures for the console tests: a hub home with a signing key, one feed group, a user per
role, and a Flask test client that logs in through the real login form (CSRF included)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from content.hub.app import create_app
from content.hub.console.auth import create_user
from content.hub.console.core import ROLES
from content.hub.console.publishing import save_group
from content.hub.publish import write_keypair

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


@pytest.fixture(autouse=True)
def quick_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with small costs: the same code path, without 64 MiB and 3 passes per test login."""
    from argon2 import PasswordHasher

    from content.hub.console import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def console(tmp_path: Path) -> Console:
    home = tmp_path / "hub"
    write_keypair(home)
    clock = Clock(dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC))
    app = create_app(home, console_clock=clock)
    engine = app.extensions["console"].engine
    for role in ROLES:
        create_user(engine, role, PASSWORD, [role], f"{ROLES[role]}甲")
    create_user(engine, "reviewer2", PASSWORD, ["reviewer", "publisher"], "审核乙")
    with engine.begin() as conn:
        save_group(conn, FEED, "测试范围", ["520100"], [], "2026-11-20T02:00:00+00:00")
    return Console(home=home, app=app, clock=clock)
