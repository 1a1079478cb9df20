"""The files in deploy/hub/ that a province's IT staff install: systemd units and the hub's settings."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hub.db import database_url

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "hub"


@pytest.mark.parametrize("unit", ["yizhan-hub.service", "yizhan-hub-forward.service"])
def test_systemd_units_verify(unit: str, tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing (Debian's systemd package)")
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    assert "/opt/yizhan/.venv/bin/yizhan hub " in text
    # The unit as installed, with the command pointing at this checkout's yizhan.
    local = tmp_path / unit
    local.write_text(text.replace("/opt/yizhan/.venv/bin/yizhan", str(Path(sys.executable).parent / "yizhan")))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_example_hub_toml_selects_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YIZHAN_HUB_DATABASE_URL", raising=False)
    shutil.copy(DEPLOY / "hub.toml.example", tmp_path / "hub.toml")
    assert database_url(tmp_path) == "postgresql://yizhan@127.0.0.1:5432/yizhan_hub"


def test_the_nginx_site_proxies_to_the_port_the_unit_serves_on() -> None:
    site = (DEPLOY / "nginx-site.conf").read_text(encoding="utf-8")
    unit = (DEPLOY / "yizhan-hub.service").read_text(encoding="utf-8")
    assert "server 127.0.0.1:8080;" in site and "--host 127.0.0.1 --port 8080" in unit
    # The hub keeps its home private (0700): nginx reads the feeds from a folder of their own.
    assert "root /srv/yizhan-www;" in site and "--feeds /srv/yizhan-www/feeds" in unit
    assert "/srv/yizhan-hub" not in site


def test_the_postgresql_setup_gives_the_hub_its_own_role_and_database() -> None:
    from hub.localservers import LocalPostgres
    from hub.storage import HubStore

    with LocalPostgres(superuser="postgres") as cluster, tempfile.TemporaryDirectory() as home:
        result = subprocess.run(["/usr/lib/postgresql/15/bin/psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                                 "-p", str(cluster.port), "-U", "postgres", "-f", str(DEPLOY / "postgresql-setup.sql")],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        store = HubStore(f"postgresql://yizhan@127.0.0.1:{cluster.port}/yizhan_hub", home=home)  # not a superuser
        store.add_station("gy-001")
        assert [s.id for s in store.stations()] == ["gy-001"]
        store.close()
