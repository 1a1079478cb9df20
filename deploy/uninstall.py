"""``yizhan uninstall``: take off the box what :mod:`deploy.install` put on it.

Stops and disables the units, removes them, the udev/Xorg/journald files and ``/opt/yizhan``
(releases, environments, the ``current`` link). The station's data (``/var/lib/yizhan``:
store, queued registrations) and its settings and sealed secrets (``/etc/yizhan``) stay unless
``purge``: a reinstall then picks up where the station left off. The service user stays
either way (files on a backup stick or elsewhere may still name it). With ``root`` other
than ``/`` everything happens below that directory and no unit is stopped (tests).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from deploy.install import CREDENTIALS_DROPIN, STATION_FILES, UNITS, Layout, Report

_UNIT_SUFFIXES = (".service", ".target", ".timer", ".slice")
# Files found in a data folder only a station makes: a purge removes no folder without one.
_STATION_MARKS = ("station.db", "outbox.key")

Runner = Callable[[list[str]], subprocess.CompletedProcess]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def our_units(layout: Layout) -> list[str]:
    """The unit files install wrote (the release's units are all named yizhan*)."""
    units_dir = layout.on_box("/etc/systemd/system")
    found = {p.name for p in units_dir.glob("yizhan*") if p.suffix in _UNIT_SUFFIXES and not p.is_dir()}
    return sorted(found | {u for u in UNITS if (units_dir / u).exists()})


def uninstall(layout: Layout, *, purge: bool = False, systemctl: bool = True, run: Runner = _run) -> Report:
    """Remove the installed station (and with ``purge`` its data and settings); what changed."""
    report = Report()
    live = layout.root == Path("/")
    units_dir = layout.on_box("/etc/systemd/system")
    units = our_units(layout)
    tool = shutil.which("systemctl") if systemctl else None
    if units and tool:
        # --now stops what runs (the kiosk, the board, an upgrade in progress) before its files go
        command = [tool, "disable", "--now", *units] if live else [tool, "--root", str(layout.root), "disable", *units]
        done = run(command)
        if done.returncode != 0:
            report.warnings.append(f"systemctl disable: {(done.stderr or done.stdout).strip()[-300:]}")
        else:
            report.add(f"stopped and disabled {len(units)} units" if live else f"disabled {len(units)} units")
    for link in sorted(units_dir.glob("*.wants/*")) + sorted(units_dir.glob("*.requires/*")):
        if link.is_symlink() and link.name in units:  # left by a failed or absent systemctl
            link.unlink()
            report.add(f"removed {link}")
    for name in units:
        (units_dir / name).unlink(missing_ok=True)
        report.add(f"removed {units_dir / name}")
    for dropin in sorted(units_dir.glob(f"yizhan*.service.d/{CREDENTIALS_DROPIN}")):
        # The sealed files themselves stay with /etc/yizhan (the kept data needs the key).
        dropin.unlink()
        report.add(f"removed {dropin}")
        if not any(dropin.parent.iterdir()):
            dropin.parent.rmdir()
    for dest, _mode in STATION_FILES.values():
        path = layout.on_box(dest)
        if path.exists() or path.is_symlink():
            path.unlink()
            report.add(f"removed {path}")
    if layout.prefix.exists():
        shutil.rmtree(layout.prefix)
        report.add(f"removed {layout.prefix}")
    if purge:
        _purge(layout, report)
    if live and report.changes:
        if tool:
            run([tool, "daemon-reload"])
        if shutil.which("udevadm"):
            run(["udevadm", "control", "--reload-rules"])
    return report


def _purge(layout: Layout, report: Report) -> None:
    data = layout.data
    if data.is_dir():
        if any((data / mark).exists() for mark in _STATION_MARKS) or not any(data.iterdir()):
            shutil.rmtree(data)
            report.add(f"removed {data}")
        else:
            report.warnings.append(f"{data} 里没有驿站数据（station.db、outbox.key），不像站点的数据目录：保留未删")
    if layout.etc.is_dir():
        shutil.rmtree(layout.etc)
        report.add(f"removed {layout.etc}")
