"""Fixtures every test reuses: a virtual X display, free ports, a temporary station."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Kivy must not parse pytest's command line, and must not write into the user's home.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="yizhan-kivy-home-"))

from common.netutil import free_port as _free_port  # noqa: E402
from config.settings import Settings, load_settings  # noqa: E402
from config.station_file import render, station_settings  # noqa: E402
from config.xvfb import start_xvfb  # noqa: E402

# The sample station (config/station_file.py) as a test station: its own id, a media quota, and
# 10 s for a printer's status reply (the virtual printer answers; a busy test machine may be slow).
STATION_TOML = render(station_settings({"station.id": "test-station-01", "storage.media_quota_mb": 64,
                                        "station.opening_hours": "周一至周五 9:00-17:30",
                                        "devices.printer.status_timeout_s": 10}))


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """One Xvfb for the whole test session; sets $DISPLAY and yields it."""
    vd = start_xvfb(1920, 1920)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = vd.display
    yield vd.display
    vd.stop()
    if old is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's own tmp folders are root's, mode 0700): for
    tests where a command drops from root to a station's service user."""
    path = Path(tempfile.mkdtemp(prefix="yizhan-open-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    return _free_port()


class Station:
    """A temporary station: a settings file and its data dir. ``write(extra)`` appends TOML."""

    def __init__(self, root: Path, text: str = STATION_TOML) -> None:
        self.root = root
        self.config_path = root / "station.toml"
        self.config_path.write_text(text, encoding="utf-8")

    def write(self, extra: str) -> Settings:
        self.config_path.write_text(self.config_path.read_text(encoding="utf-8") + "\n" + extra,
                                    encoding="utf-8")
        return self.settings

    @property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    @property
    def data_dir(self) -> Path:
        return self.settings.storage.data_dir


@pytest.fixture
def station(tmp_path: Path) -> Station:
    """A temporary station (settings file + data dir) with the printer set to the virtual one."""
    (tmp_path / "data").mkdir()
    return Station(tmp_path)


# -- the hub's database: SQLite or a throwaway PostgreSQL cluster ----------------------------
# Hub tests take ``hub_database`` (a URL maker); modules that must run on both databases are
# parametrized over it (see tests/feed/conftest.py and tests/hub/). Others use
# $YIZHAN_TEST_HUB_DATABASE (sqlite, the default, or postgresql) so that a whole folder can
# be run against PostgreSQL: YIZHAN_TEST_HUB_DATABASE=postgresql pytest tests/feed
HUB_DATABASES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[object]:
    """One PostgreSQL 15 cluster (Debian's package) for the session, on a free loopback port."""
    from hub.localservers import LocalPostgres

    with LocalPostgres() as cluster:
        yield cluster


@pytest.fixture
def hub_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty hub database: SQLite in tmp_path or a new PostgreSQL database."""
    kind = getattr(request, "param", None) or os.environ.get("YIZHAN_TEST_HUB_DATABASE", "sqlite")
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    if kind == "postgresql":
        return request.getfixturevalue("postgres_cluster").create_database()
    raise ValueError(f"hub_database: sqlite or postgresql, not {kind!r}")
