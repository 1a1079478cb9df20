"""systemd units pass `systemd-analyze verify`; udev rules name the devices by their ids."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

STATION = Path(__file__).resolve().parents[2] / "deploy" / "station"
UNITS = sorted(p for p in (STATION / "systemd").iterdir() if p.suffix in (".service", ".target", ".timer"))


def _verify_root(tmp_path: Path) -> Path:
    """A root with the system's own units and the binaries the units start."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for unit in UNITS:
        shutil.copy(unit, root / "usr/lib/systemd/system" / unit.name)
    for binary in ("opt/yizhan/current/bin/yizhan", "usr/bin/xinit", "bin/sh"):
        # Provided by the release (yizhan), Debian's xinit package and dash on the box.
        path = root / binary
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    return root


def _verify(root: Path, names: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                           *[str(root / "usr/lib/systemd/system" / n) for n in names]],
                          capture_output=True, text=True)


def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    root = _verify_root(tmp_path)
    run = _verify(root, [u.name for u in UNITS])
    ours = [line for line in (run.stdout + run.stderr).splitlines() if "yizhan" in line]
    assert run.returncode == 0 and not ours, "\n".join(ours)


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    root = _verify_root(tmp_path)
    unit = root / "usr/lib/systemd/system/yizhan-kiosk.service"
    unit.write_text(unit.read_text().replace("ExecStart=/opt/yizhan/current/bin/yizhan kiosk",
                                             "ExecStart=/opt/yizhan/current/bin/yizhan-missing kiosk"))
    run = _verify(root, ["yizhan-kiosk.service"])
    assert run.returncode != 0 and "yizhan-missing" in run.stderr


@pytest.mark.parametrize("name", ["yizhan-kiosk.service", "yizhan-board.service"])
def test_uis_are_restarted_by_the_watchdog_and_hardened(name: str) -> None:
    text = (STATION / "systemd" / name).read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=always", "ProtectSystem=strict", "PrivateTmp=yes",
                 "NoNewPrivileges=yes", "User=yizhan"):
        assert line in text.splitlines(), line


def test_the_print_worker_runs_without_the_kiosk() -> None:
    text = (STATION / "systemd" / "yizhan-print.service").read_text()
    assert "ExecStart=/opt/yizhan/current/bin/yizhan print serve" in text
    assert "yizhan-print.service" in (STATION / "systemd" / "yizhan.target").read_text()
    assert "Requires=yizhan-kiosk" not in text and "BindsTo" not in text
    # Switched off in the settings: exit 6 leaves it stopped, not restarted every 5 s.
    assert {"SuccessExitStatus=6", "RestartPreventExitStatus=6"} <= set(text.splitlines())


@pytest.mark.parametrize("name", ["yizhan-kiosk.service", "yizhan-board.service"])
def test_the_faces_come_back_after_the_display_server(name: str) -> None:
    """BindsTo= stopped them with the display server and nothing started them again."""
    lines = (STATION / "systemd" / name).read_text().splitlines()
    assert not any(line.startswith("BindsTo=") for line in lines)
    assert "Restart=always" in lines and "PartOf=yizhan-session.service" in lines
    assert any(line.startswith("ExecStartPre=") and "/tmp/.X11-unix/X0" in line for line in lines)


def test_udev_rules_give_stable_names_by_vendor_and_product() -> None:
    rules = [line for line in (STATION / "udev" / "70-yizhan.rules").read_text().splitlines()
             if line and not line.startswith("#")]
    ids = re.compile(r'ATTRS\{idVendor\}=="[0-9a-f]{4}", ATTRS\{idProduct\}=="[0-9a-f]{4}"')
    readers = [r for r in rules if 'SYMLINK+="yizhan-idcard"' in r]
    printers = [r for r in rules if 'SYMLINK+="yizhan-printer"' in r]
    # CH340, PL2303, CP210x and FTDI adapters; Winbond/STM/NXP-based Chinese printers and Epson.
    assert {"1a86", "067b", "10c4", "0403"} <= {re.search(r'idVendor\}=="(\w+)', r).group(1) for r in readers}
    assert len(printers) >= 5
    for rule in readers + printers:
        assert ids.search(rule) and 'GROUP="yizhan"' in rule and 'MODE="0660"' in rule
    for rule in rules:
        for key in re.findall(r'(\w+)(?:\{[^}]*\})?[+=!]=', rule):
            assert key in {"SUBSYSTEM", "ATTRS", "SYMLINK", "GROUP", "MODE", "KERNEL", "ENV"}, rule


def test_the_session_has_no_desktop_and_no_way_out() -> None:
    session = (STATION / "systemd" / "yizhan-session.service").read_text()
    assert "-nocursor" in session and "-novtswitch" in session and "PAMName=login" in session
    xinitrc = (STATION / "session" / "xinitrc").read_text()
    assert "xset s off" in xinitrc and "xset -dpms" in xinitrc
    assert not re.search(r"\b(startxfce4|gnome-session|openbox|xterm)\b", xinitrc)
    xorg = (STATION / "xorg" / "50-yizhan-kiosk.conf").read_text()
    assert '"DontVTSwitch" "true"' in xorg and '"DontZap" "true"' in xorg
