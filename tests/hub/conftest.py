"""Hub tests run against both databases: SQLite and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import pytest

HUB_DATABASES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hub_database" in metafunc.fixturenames:
        metafunc.parametrize("hub_database", HUB_DATABASES, indirect=True)
