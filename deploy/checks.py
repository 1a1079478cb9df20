"""``yizhan doctor`` checks for what :mod:`deploy.install` put on the box: units enabled and
running, the udev names present, the running release verified and its environment matching
its lock. A box that runs from a checkout (no ``/opt/yizhan/current``) skips them, saying so.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.install import UNITS, Layout

_VERSIONS = ("import importlib.metadata as m, json, sys; "
             "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")


@dataclass(frozen=True)
class BoxCheck:
    """One finding: ``status`` is ok, fail or skip; ``detail`` says what was found and what to do.
    ``yizhan doctor`` shows it under its own label (config.doctor reads only these fields)."""

    name: str
    status: str
    detail: str


def _check(name: str, status: str, detail: str) -> BoxCheck:
    return BoxCheck(name, status, detail)


def check_units(settings: Any, root: Path = Path("/")) -> BoxCheck:
    layout = Layout(root=root, data_dir=settings.storage.data_dir)
    units_dir = layout.on_box("/etc/systemd/system")
    if not (units_dir / "yizhan.target").exists():
        return _check("后台服务", "skip", "没有安装成后台服务（yizhan install）")
    enabled = {p.name for p in units_dir.glob("*.wants/*") if p.is_symlink()}
    missing = [u for u in UNITS if u not in enabled]
    if missing:
        return _check("后台服务", "fail", "没有启用：" + "、".join(missing) + "：请由技术人员以 root 运行 yizhan install")
    if root != Path("/") or not Path("/run/systemd/system").is_dir():
        return _check("后台服务", "ok", f"{len(UNITS)} 个服务已启用（这里没有运行 systemd）")
    down = []
    for unit in UNITS:
        if unit.endswith(".service"):
            state = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True).stdout.strip()
            if state != "active":
                down.append(f"{unit} {state}")
    if down:
        return _check("后台服务", "fail", "；".join(down) + "：请重启设备；仍不行请技术人员查看 journalctl -u 服务名")
    return _check("后台服务", "ok", f"{len(UNITS)} 个服务已启用并在运行")


def check_udev(settings: Any, root: Path = Path("/")) -> BoxCheck:
    layout = Layout(root=root, data_dir=settings.storage.data_dir)
    if not layout.on_box("/etc/udev/rules.d/70-yizhan.rules").exists():
        return _check("设备名称", "skip", "没有安装设备规则（yizhan install）")
    wanted = []
    if settings.devices.idcard.enabled and settings.devices.idcard.port.startswith("/dev/yizhan-"):
        wanted.append(settings.devices.idcard.port)
    printer = settings.devices.printer
    for path in (printer.serial_port, printer.file_path):
        if printer.enabled and path.startswith("/dev/yizhan-"):
            wanted.append(path)
    if not wanted:
        return _check("设备名称", "ok", "设备规则已安装；设置中没有用 /dev/yizhan-* 名称")
    absent = [p for p in wanted if not layout.on_box(p).exists()]
    if absent:
        return _check("设备名称", "fail", f"{'、'.join(absent)} 不存在：设备没插好，或它的 USB 编号不在 70-yizhan.rules "
                                       "中（请技术人员用 lsusb 查看）")
    return _check("设备名称", "ok", "、".join(wanted))


def check_release(settings: Any, root: Path = Path("/")) -> BoxCheck:
    from deploy.lock import normalize, read_pins
    from deploy.release import file_sha256, lock_hashes
    from protocol.feed import SignatureError, verify_manifest

    layout = Layout(root=root, data_dir=settings.storage.data_dir)
    version = layout.current_version()
    if version is None:
        return _check("安装版本", "skip", "没有安装的版本（从源码目录运行）")
    release = layout.releases / version
    try:
        raw = (release / "MANIFEST.json").read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError) as exc:
        return _check("安装版本", "fail", f"{version}：版本清单读不出来（{exc}）：请重新安装该版本")
    if settings.hub.public_key:
        try:
            verify_manifest(raw, (release / "MANIFEST.sig").read_bytes(), settings.hub.public_key)
        except (OSError, SignatureError) as exc:
            return _check("安装版本", "fail", f"{version}：签名与 hub.public_key 不符（{exc}）：请重新安装该版本")
    for name in ("requirements.lock", manifest["project_wheel"]):
        path = release / name
        if not path.exists() or file_sha256(path) != manifest["files"][name]["sha256"]:
            return _check("安装版本", "fail", f"{version}：{name} 与签名清单不一致：请重新安装该版本")
    env = layout.env_for(manifest["lock_sha256"])
    try:
        run = subprocess.run([str(env / "bin" / "python"), "-c", _VERSIONS], capture_output=True, text=True, timeout=60)
        installed = {normalize(k): v for k, v in json.loads(run.stdout).items()}
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return _check("安装版本", "fail", f"{version}：运行环境 {env.name} 不能用（{exc}）：请重新安装该版本")
    pins = read_pins(release / "requirements.lock")
    wrong = [f"{n} {installed.get(n, 'missing')} (lock {v})" for n, v in pins.items() if installed.get(n) != v]
    if wrong:
        return _check("安装版本", "fail", f"{version}：运行环境与锁定清单不符：" + "、".join(wrong[:5]) + "：请重新安装该版本")
    signed = "已核对签名，" if settings.hub.public_key else ""
    return _check("安装版本", "ok", f"{version}（{signed}{len(lock_hashes(release / 'requirements.lock'))} "
                                 "个锁定的软件包都按锁定版本安装）")
