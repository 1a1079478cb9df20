"""Fixtures for the console tests: a hub home with a signing key, one feed group, a user per
role, and a Flask test client that logs in through the real login form (CSRF included)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_kit import FEED, HUB_DATABASES, PASSWORD, Clock, Console

from hub.app import create_app
from hub.console.auth import create_user
from hub.console.core import ROLES
from hub.console.publishing import save_group
from hub.publish import write_keypair


@pytest.fixture(autouse=True)
def quick_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with small costs: the same code path, without 64 MiB and 3 passes per test login."""
    from argon2 import PasswordHasher

    from hub.console import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


# Every console module runs on SQLite and PostgreSQL except the Chromium journey (suite time)
# the carving of purged records from SQLite's own files, and the hardening checks (headers,
# cookies, login throttling, parallel logins on SQLite's single writer).
SQLITE_ONLY = {"test_console_browser", "test_console_purge_disk", "test_console_hardening"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hub_database" in metafunc.fixturenames and metafunc.module.__name__ not in SQLITE_ONLY:
        metafunc.parametrize("hub_database", HUB_DATABASES, indirect=True)


@pytest.fixture(scope="session")
def console_template(postgres_cluster: Any) -> str:
    """A PostgreSQL database with the hub's and the console's schema, migrated once per session."""
    import hub.console.schema  # noqa: F401  (registers the console's migrations)
    import hub.storage  # noqa: F401
    from hub.db import make_engine, migrate

    url = postgres_cluster.create_database("console_template")
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()  # a template database must have no open connections
    return "console_template"


@pytest.fixture
def hub_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """As tests/conftest.py's, but a PostgreSQL database is copied from the migrated template
    (CREATE DATABASE ... TEMPLATE): quicker than migrating an empty one for every test."""
    kind = getattr(request, "param", None) or os.environ.get("YIZHAN_TEST_HUB_DATABASE", "sqlite")
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    if kind != "postgresql":
        raise ValueError(f"hub_database: sqlite or postgresql, not {kind!r}")
    import psycopg

    cluster = request.getfixturevalue("postgres_cluster")
    template = request.getfixturevalue("console_template")
    name = f"console_{uuid.uuid4().hex[:12]}"
    # FILE_COPY (PostgreSQL 15; the tests' cluster is Debian 12's) copies the files instead of
    # writing the whole database into the WAL: half the bytes to write and, at session end, to
    # delete (which dominated the PostgreSQL run's time on a disk mounted with discard).
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    return cluster.url_for(name)


@pytest.fixture
def console(tmp_path: Path, hub_database: str) -> Iterator[Console]:
    home = tmp_path / "hub"
    write_keypair(home)
    clock = Clock(dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC))
    app = create_app(home, console_clock=clock, database_url=hub_database)
    engine = app.extensions["console"].engine
    for role in ROLES:
        create_user(engine, role, PASSWORD, [role], f"{ROLES[role]}甲")
    create_user(engine, "reviewer2", PASSWORD, ["reviewer", "publisher"], "审核乙")
    with engine.begin() as conn:
        save_group(conn, FEED, "测试范围", ["520100"], [], "2026-11-20T02:00:00+00:00")
    try:
        yield Console(home=home, app=app, clock=clock, database_url=hub_database)
    finally:
        app.extensions["hub_store"].close()
