"""``yizhan doctor`` checks for what :mod:`deploy.install` put on the box: units enabled and
running, the udev names present, the running release verified and its environment matching
its lock. A box that runs from a checkout (no ``/opt/yizhan/current``) skips them, saying so.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from deploy.install import UNITS, Layout

_VERSIONS = ("import importlib.metadata as m, json, sys; "
             "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")


def _check(name: str, status: str, detail: str) -> Any:
    from config.doctor import Check

    return Check(name, status, detail)


def check_units(settings: Any, root: Path = Path("/")) -> Any:
    layout = Layout(root=root, data_dir=settings.storage.data_dir)
    units_dir = layout.on_box("/etc/systemd/system")
    if not (units_dir / "yizhan.target").exists():
        return _check("services", "skip", "not installed as services ('yizhan install')")
    enabled = {p.name for p in units_dir.glob("*.wants/*") if p.is_symlink()}
    missing = [u for u in UNITS if u not in enabled]
    if missing:
        return _check("services", "fail", "not enabled: " + ", ".join(missing))
    if root != Path("/") or not Path("/run/systemd/system").is_dir():
        return _check("services", "ok", f"{len(UNITS)} units enabled (systemd not running here)")
    down = []
    for unit in UNITS:
        if unit.endswith(".service"):
            state = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True).stdout.strip()
            if state != "active":
                down.append(f"{unit} {state}")
    if down:
        return _check("services", "fail", "; ".join(down) + " (journalctl -u UNIT)")
    return _check("services", "ok", f"{len(UNITS)} units enabled and running")


def check_udev(settings: Any, root: Path = Path("/")) -> Any:
    layout = Layout(root=root, data_dir=settings.storage.data_dir)
    if not layout.on_box("/etc/udev/rules.d/70-yizhan.rules").exists():
        return _check("device names", "skip", "udev rules not installed ('yizhan install')")
    wanted = []
    if settings.devices.idcard.enabled and settings.devices.idcard.port.startswith("/dev/yizhan-"):
        wanted.append(settings.devices.idcard.port)
    printer = settings.devices.printer
    for path in (printer.serial_port, printer.file_path):
        if printer.enabled and path.startswith("/dev/yizhan-"):
            wanted.append(path)
    if not wanted:
        return _check("device names", "ok", "rules installed; settings use no /dev/yizhan-* name")
    absent = [p for p in wanted if not layout.on_box(p).exists()]
    if absent:
        return _check("device names", "fail", f"{', '.join(absent)} absent: device unplugged, or its USB ids are "
                                              "not in 70-yizhan.rules (lsusb shows them)")
    return _check("device names", "ok", ", ".join(wanted))


def check_release(settings: Any, root: Path = Path("/")) -> Any:
    from deploy.lock import normalize, read_pins
    from deploy.release import file_sha256, lock_hashes
    from protocol.feed import SignatureError, verify_manifest

    layout = Layout(root=root, data_dir=settings.storage.data_dir)
    version = layout.current_version()
    if version is None:
        return _check("release", "skip", "no installed release (running from a checkout)")
    release = layout.releases / version
    try:
        raw = (release / "MANIFEST.json").read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError) as exc:
        return _check("release", "fail", f"{version}: manifest unreadable ({exc})")
    if settings.hub.public_key:
        try:
            verify_manifest(raw, (release / "MANIFEST.sig").read_bytes(), settings.hub.public_key)
        except (OSError, SignatureError) as exc:
            return _check("release", "fail", f"{version}: signature not valid for hub.public_key ({exc})")
    for name in ("requirements.lock", manifest["project_wheel"]):
        path = release / name
        if not path.exists() or file_sha256(path) != manifest["files"][name]["sha256"]:
            return _check("release", "fail", f"{version}: {name} differs from the signed manifest")
    env = layout.env_for(manifest["lock_sha256"])
    try:
        run = subprocess.run([str(env / "bin" / "python"), "-c", _VERSIONS], capture_output=True, text=True, timeout=60)
        installed = {normalize(k): v for k, v in json.loads(run.stdout).items()}
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return _check("release", "fail", f"{version}: environment {env.name} unusable ({exc})")
    pins = read_pins(release / "requirements.lock")
    wrong = [f"{n} {installed.get(n, 'missing')} (lock {v})" for n, v in pins.items() if installed.get(n) != v]
    if wrong:
        return _check("release", "fail", f"{version}: environment does not match the lock: " + ", ".join(wrong[:5]))
    signed = "signed, " if settings.hub.public_key else ""
    return _check("release", "ok", f"{version} ({signed}{len(lock_hashes(release / 'requirements.lock'))} "
                                   "locked packages installed as pinned)")
