"""``yizhan uninstall`` on a small installed tree of its own (the session's full install is shared
and stays): units, station files and /opt/yizhan go; data and settings stay unless --purge."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from deploy_kit import REPO

from config.cli import main
from config.station_file import write_station_file
from deploy.install import CREDENTIALS_DROPIN, UNITS, Layout, Report, enable_units, install_station_files


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """What install leaves, made with install's own steps from this checkout's station files."""
    root = tmp_path / "box"
    layout = Layout(root=root)
    release = layout.releases / "0.1.0"
    shutil.copytree(REPO / "deploy" / "station", release / "lib" / "deploy" / "station")
    (release / ".installed").write_text("0.1.0\n")
    (layout.prefix / "envs" / "0123456789abcdef" / "bin").mkdir(parents=True)
    os.symlink("releases/0.1.0", layout.current)
    install_station_files(layout, release, Report())
    enable_units(layout, Report())
    write_station_file(layout.etc / "station.toml", {"storage.data_dir": "/var/lib/yizhan"})
    layout.data.mkdir(parents=True)
    (layout.data / "station.db").write_bytes(b"store")
    (layout.data / "outbox.key").write_bytes(b"k" * 32)
    units = root / "etc/systemd/system"
    (units / "other.service").write_text("[Service]\nExecStart=/bin/true\n")  # not ours: stays
    (units / "yizhan-kiosk.service.d").mkdir()  # install's sealed-secrets drop-in
    (units / "yizhan-kiosk.service.d" / CREDENTIALS_DROPIN).write_text("[Service]\n")
    (units / "multi-user.target.wants").mkdir(exist_ok=True)
    os.symlink("/etc/systemd/system/other.service", units / "multi-user.target.wants/other.service")
    return root


def _uninstall(root: Path, *more: str) -> int:
    return main(["uninstall", "--root", str(root), "--config", str(root / "etc/yizhan/station.toml"), *more])


def test_uninstall_removes_the_program_and_keeps_the_data(box: Path, capsys) -> None:
    units = box / "etc/systemd/system"
    assert (units / "multi-user.target.wants/yizhan.target").is_symlink()
    assert _uninstall(box) == 0
    out = capsys.readouterr().out
    assert "卸载完成" in out and "保留了站点数据" in out
    assert not (box / "opt/yizhan").exists()
    left = sorted(str(p.relative_to(units)) for p in units.rglob("*") if "yizhan" in p.name)
    assert left == [] and not any((units / u).exists() for u in UNITS)
    for gone in ("etc/udev/rules.d/70-yizhan.rules", "etc/X11/xorg.conf.d/50-yizhan-kiosk.conf",
                 "etc/systemd/journald.conf.d/50-yizhan.conf"):
        assert not (box / gone).exists()
    assert (units / "other.service").exists() and (units / "multi-user.target.wants/other.service").is_symlink()
    assert (box / "var/lib/yizhan/station.db").read_bytes() == b"store"
    assert (box / "etc/yizhan/station.toml").exists()
    # a second run finds nothing left to do
    assert _uninstall(box, "--json") == 0
    assert json.loads(capsys.readouterr().out)["changes"] == []


def test_purge_asks_for_yes_without_a_terminal_then_deletes_the_data(box: Path, capsys) -> None:
    assert _uninstall(box, "--purge") == 2
    err = capsys.readouterr().err
    assert "--yes" in err and "yizhan backup" in err
    assert (box / "opt/yizhan").exists() and (box / "var/lib/yizhan/outbox.key").exists()
    assert _uninstall(box, "--purge", "--yes") == 0
    assert "建议先备份" in capsys.readouterr().err
    assert not (box / "var/lib/yizhan").exists() and not (box / "etc/yizhan").exists()
    assert not (box / "opt/yizhan").exists()


def test_purge_keeps_a_folder_that_holds_no_station_data(box: Path, capsys) -> None:
    data = box / "var/lib/yizhan"
    for name in ("station.db", "outbox.key"):
        (data / name).unlink()
    (data / "someone-elses.txt").write_text("keep me")
    assert _uninstall(box, "--purge", "--yes", "--no-systemctl") == 0
    assert (data / "someone-elses.txt").exists() and "保留未删" in capsys.readouterr().err
