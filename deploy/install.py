"""``yizhan install``: put a release bundle on a Debian 12 box and make it start by itself.

Every step checks what is there first and changes only what differs, so a second run
changes nothing (and says so). With ``root`` other than ``/`` everything goes below that
directory (tests, image building); paths written *into* files (units, launchers) are the
box's own absolute paths, except the launcher's, which must run where it is.

Layout on the box::

    /etc/yizhan/station.toml              root:yizhan 0640
    /var/lib/yizhan/                      yizhan:yizhan 0750 (store, media, outbox.key 0600)
    /opt/yizhan/envs/<lock digest>/       a virtualenv with the locked dependencies
    /opt/yizhan/releases/<version>/       lib/ (the project), bin/yizhan, MANIFEST.json
    /opt/yizhan/current -> releases/<version>
    /etc/systemd/system/yizhan*.{service,target,timer,slice}, /etc/udev/rules.d/70-yizhan.rules,
    /etc/X11/xorg.conf.d/50-yizhan-kiosk.conf, /etc/systemd/journald.conf.d/50-yizhan.conf

Releases that share a lock share one environment: an upgrade that changes only Yizhan's
own code installs one wheel, and a code-only bundle is enough.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from common import exitcodes
from common.files import fsync_dir, write_atomic
from content import credentials
from deploy.release import (
    Release,
    ReleaseError,
    file_sha256,
    read_manifest,
    unpack,
    verify_signature,
    version_key,
)
from protocol.feed import FeedError
from protocol.trust import TrustState

if TYPE_CHECKING:
    from config.settings import Settings

SERVICE_USER = "yizhan"
EXTRA_GROUPS = ("dialout", "video", "input", "render", "audio", "lp", "tty")
# Groups the units name in SupplementaryGroups= (a missing one stops the unit at step GROUP).
DEVICE_GROUPS = ("dialout", "video", "input", "render", "audio", "lp", "tty")
UNITS = ("yizhan.target", "yizhan-session.service", "yizhan-kiosk.service", "yizhan-board.service",
         "yizhan-sync.service", "yizhan-print.service", "yizhan-screens.service", "yizhan-upgrade.timer")
STATION_FILES = {  # source under deploy/station -> destination on the box, mode
    "udev/70-yizhan.rules": ("etc/udev/rules.d/70-yizhan.rules", 0o644),
    "xorg/50-yizhan-kiosk.conf": ("etc/X11/xorg.conf.d/50-yizhan-kiosk.conf", 0o644),
    "journald/50-yizhan.conf": ("etc/systemd/journald.conf.d/50-yizhan.conf", 0o644),
}


class InstallError(Exception):
    """The install cannot go on; the message says what to fix."""


@dataclass
class Layout:
    root: Path = Path("/")
    data_dir: Path = Path("/var/lib/yizhan")

    def on_box(self, path: str | Path) -> Path:
        return self.root / str(path).lstrip("/")

    @property
    def prefix(self) -> Path:
        return self.on_box("/opt/yizhan")

    @property
    def releases(self) -> Path:
        return self.prefix / "releases"

    @property
    def current(self) -> Path:
        return self.prefix / "current"

    @property
    def etc(self) -> Path:
        return self.on_box("/etc/yizhan")

    @property
    def data(self) -> Path:
        return self.on_box(self.data_dir)

    def env_for(self, lock_sha256: str) -> Path:
        return self.prefix / "envs" / lock_sha256[:16]

    def current_version(self) -> str | None:
        try:
            return os.readlink(self.current).rstrip("/").rsplit("/", 1)[-1]
        except OSError:
            return None


# What a station box needs from Debian besides Python 3.11 (the bundle brings the rest).
BOX_PACKAGES = {"Xorg": "xserver-xorg-core", "xinit": "xinit", "xset": "x11-xserver-utils",
                "xhost": "x11-xserver-utils", "cec-client": "cec-utils"}


@dataclass
class Report:
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.changes.append(what)


# -- small idempotent steps ------------------------------------------------------------------

def _ids(layout: Layout, user: str = SERVICE_USER) -> tuple[int, int]:
    for line in layout.on_box("/etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == user:
            return int(parts[2]), int(parts[3])
    raise InstallError(f"user {user} does not exist in {layout.on_box('/etc/passwd')}")


def _groups_of(layout: Layout) -> dict[str, list[str]]:
    result = {}
    for line in layout.on_box("/etc/group").read_text().splitlines():
        parts = line.split(":")
        if len(parts) >= 4:
            result[parts[0]] = [m for m in parts[3].split(",") if m]
    return result


def ensure_user(layout: Layout, report: Report) -> None:
    root = [] if layout.root == Path("/") else ["--root", str(layout.root)]
    passwd = layout.on_box("/etc/passwd")
    if not passwd.exists():
        raise InstallError(f"{passwd} is missing: is {layout.root} a Debian system?")
    if not any(line.startswith(SERVICE_USER + ":") for line in passwd.read_text().splitlines()):
        _run(["useradd", *root, "--system", "--user-group", "--home-dir", str(layout.data_dir), "--no-create-home",
              "--shell", "/usr/sbin/nologin", "--comment", "Yizhan station", SERVICE_USER])
        report.add(f"created the service user {SERVICE_USER}")
    groups = _groups_of(layout)
    for group in DEVICE_GROUPS:
        if group not in groups:
            # Debian's udev package makes these on a full install; a minimal box lacks them, and a
            # unit whose SupplementaryGroups= names a missing group fails at step GROUP, forever.
            _run(["groupadd", *root, "--system", group])
            report.add(f"created the system group {group}")
    groups = _groups_of(layout)
    wanted = [g for g in EXTRA_GROUPS if g in groups and SERVICE_USER not in groups[g]]
    if wanted:
        _run(["usermod", *root, "--append", "--groups", ",".join(wanted), SERVICE_USER])
        report.add(f"added {SERVICE_USER} to the groups {', '.join(wanted)}")


def ensure_dir(path: Path, mode: int, uid: int, gid: int, report: Report) -> None:
    if not path.is_dir():
        path.mkdir(parents=True)
        report.add(f"created {path} ({mode:04o}, uid {uid}, gid {gid})")
        report = Report()  # its owner and mode are part of "created"
    _ensure_owner_mode(path, mode, uid, gid, report)


def ensure_file(path: Path, data: bytes, mode: int, uid: int, gid: int, report: Report) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, mode=mode, owner=(uid, gid))
        report.add(f"wrote {path}")
        report = Report()
    _ensure_owner_mode(path, mode, uid, gid, report)


def _ensure_owner_mode(path: Path, mode: int, uid: int, gid: int, report: Report) -> None:
    st = path.stat()
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
        report.add(f"set the owner of {path}")
    if st.st_mode & 0o7777 != mode:
        os.chmod(path, mode)
        report.add(f"set the mode of {path} to {mode:04o}")


def ensure_link(link: Path, target: str, report: Report) -> None:
    """Point ``link`` at ``target`` atomically (a rename over the old link)."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    tmp = link.with_name(f".{link.name}.new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)
    report.add(f"{link} -> {target}")


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    run = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if run.returncode != 0:
        raise InstallError(f"{' '.join(command[:3])} … failed: {(run.stderr or run.stdout).strip()[-400:]}")
    return run


def base_python() -> str:
    """The Python that release environments are made from (Debian's, else the running one's base)."""
    if Path("/usr/bin/python3.11").exists():
        return "/usr/bin/python3.11"
    return getattr(sys, "_base_executable", sys.executable)


# -- releases ----------------------------------------------------------------------------------

def install_release(layout: Layout, bundle: Path, *, public_key: str | None, report: Report,
                    python: str | None = None, fault: Callable[[str], None] | None = None,
                    trust: TrustState | None = None) -> str:
    """Unpack, verify and install a bundle beside the others; return its version. Does not switch.

    ``trust`` (the station's key chain, as the feed follows it) verifies the bundle with the
    online key its root authorised, refusing retired keys; ``public_key`` alone is the root
    key of a station that followed nothing yet (``hub.public_key``): the trust starts there.
    """
    manifest, raw, signature = read_manifest(bundle)
    if trust is None and public_key:
        trust = TrustState.start(public_key)  # the root alone: it signs, or nothing verifies
    if trust is not None:
        verify_bundle(bundle, raw, signature, trust)
    version = manifest["version"]
    release_dir = layout.releases / version
    marker = release_dir / ".installed"
    if marker.exists() and (release_dir / "MANIFEST.json").read_bytes() == raw:
        return version
    layout.releases.mkdir(parents=True, exist_ok=True)
    staging = layout.releases / f".staging-{version}"
    release = unpack(bundle, staging, public_key=None)  # verified above
    (staging / "MANIFEST.json").write_bytes(raw)
    env = ensure_env(layout, release, report, python=python)
    _install_project(env, release, staging / "lib")
    write_launcher(staging / "bin" / "yizhan", version, env.relative_to(layout.prefix))
    shutil.rmtree(staging / "wheels", ignore_errors=True)  # installed in the environment now
    if fault:
        fault("release-unpacked")
    (staging / ".installed").write_text(version + "\n")
    if release_dir.exists():
        shutil.rmtree(release_dir)
    staging.replace(release_dir)
    report.add(f"installed release {version}")
    return version


def verify_bundle(bundle: Path, raw: bytes, signature: bytes, trust: TrustState) -> None:
    """The bundle's manifest signed with the station's signing key (the online key its root authorised)."""
    verify_signature(bundle, raw, signature, trust)


def station_trust(settings: Settings, *, public_key: str | None = None) -> TrustState | None:
    """The key chain a station trusts releases by: what its feed client recorded (rotations
    followed, retired keys), from the configured root key; None with no key at all."""
    from content.trust_store import load_trust_state  # the state the feed client keeps

    root = public_key or settings.hub.public_key
    if not root:
        return None
    return load_trust_state(settings.db_path, root_key=root, feed_id=settings.hub.feed_id)


def write_launcher(launcher: Path, version: str, env: Path) -> None:
    """``bin/yizhan`` of a release: the locked environment plus the release's code.

    Paths are found from the launcher's own place (``<prefix>/releases/<v>/bin``), never written
    in: an image built with ``--root`` runs where it is copied to, and so does ``current``.
    """
    launcher.parent.mkdir(exist_ok=True)
    launcher.write_text(
        "#!/bin/sh\n"
        f"# Yizhan {version}: the locked environment plus this release's code (-P: never the working directory's).\n"
        'release=$(dirname "$(dirname "$(readlink -f "$0")")")\n'
        f'PYTHONPATH="$release/lib" exec "$release/../../{env}/bin/python" -P -m config.cli "$@"\n')
    launcher.chmod(0o755)


def ensure_env(layout: Layout, release: Release, report: Report, python: str | None = None) -> Path:
    env = layout.env_for(release.lock_sha256)
    if (env / ".complete").exists():
        return env
    if not release.has_wheels:
        raise InstallError(f"release {release.version} is code-only and this station has no environment for its "
                           f"lock ({release.lock_sha256[:16]}): install the full bundle")
    if env.exists():
        shutil.rmtree(env)  # a half-made environment from an interrupted install
    env.parent.mkdir(parents=True, exist_ok=True)
    _run([python or base_python(), "-m", "venv", str(env)])
    _run([str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--require-hashes",
          "--disable-pip-version-check", "--find-links", str(release.root / "wheels"), "-r", str(release.lock)],
         env=_clean_pip_env())
    (env / ".complete").write_text(release.lock_sha256 + "\n")
    report.add(f"made the environment {env.name} from {len(release.manifest['files']) - 2} wheels")
    return env


def _install_project(env: Path, release: Release, lib: Path) -> None:
    wheel = release.project_wheel
    requirement = release.root / "project.txt"
    requirement.write_text(f"yizhan @ {wheel.resolve().as_uri()} --hash=sha256:{file_sha256(wheel)}\n")
    _run([str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--require-hashes",
          "--disable-pip-version-check", "--no-compile", "--target", str(lib), "-r", str(requirement)],
         env=_clean_pip_env())
    requirement.unlink()


def _clean_pip_env() -> dict[str, str]:
    # The box's pip settings (an index, find-links) must not leak into an offline install.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def switch(layout: Layout, version: str, report: Report) -> None:
    if not (layout.releases / version / ".installed").exists():
        raise InstallError(f"release {version} is not installed")
    ensure_link(layout.current, f"releases/{version}", report)


# -- the whole install -----------------------------------------------------------------------

def install(*, bundle: Path, config: Path, root: Path = Path("/"), public_key: str | None = None,
            systemctl: bool = True, python: str | None = None) -> Report:
    """Install or re-install a station. Returns what changed (empty: nothing to do)."""
    from config.settings import load_settings

    settings = load_settings(config)
    if not settings.storage.data_dir.is_absolute():
        raise InstallError(f"{config}: storage.data_dir must be an absolute path on the box")
    public_key = public_key or settings.hub.public_key or None
    layout = Layout(root=root, data_dir=settings.storage.data_dir)
    report = Report()
    if root == Path("/"):
        report.warnings = missing_box_packages()
    ensure_user(layout, report)
    uid, gid = _ids(layout)
    ensure_dir(layout.etc, 0o750, 0, gid, report)
    seal = layout.root == Path("/") and credentials.available()
    text = seal_station_token(config.read_bytes(), settings.hub.station_token, report) if seal else config.read_bytes()
    ensure_file(layout.etc / "station.toml", text, 0o640, 0, gid, report)
    ensure_dir(layout.data, 0o750, uid, gid, report)
    for sub in ("media", "kivy", "upgrade"):
        ensure_dir(layout.data / sub, 0o750, uid, gid, report)
    _ensure_outbox_key(layout, uid, gid, report)
    if seal:
        seal_outbox_key(layout, report)
    ensure_dir(layout.prefix, 0o755, 0, 0, report)
    try:
        trust = station_trust(settings, public_key=public_key) if root == Path("/") else None
        version = install_release(layout, bundle, public_key=public_key, report=report, python=python, trust=trust)
    except (ReleaseError, FeedError) as exc:
        raise InstallError(str(exc)) from None
    running = layout.current_version()
    if running is None or version_key(version) > version_key(running):
        # A newer bundle moves `current` (with no health check: `yizhan upgrade --bundle` has one).
        switch(layout, version, report)
    elif version != running:
        report.warnings.append(f"the bundle's release {version} is older than the running {running}: "
                               f"installed beside it, not switched to")
    install_station_files(layout, layout.releases / (layout.current_version() or version), report)
    if systemctl:
        enable_units(layout, report)
    return report


def missing_box_packages(which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """Debian packages the box lacks, as advice (the install itself needs none of them)."""
    missing = sorted({package for command, package in BOX_PACKAGES.items() if which(command) is None})
    if subprocess.run([base_python(), "-c", "import ensurepip"], capture_output=True).returncode != 0:
        missing.append("python3-venv")
    return [f"missing Debian package {p} (apt-get install {p})" for p in missing]


def _ensure_outbox_key(layout: Layout, uid: int, gid: int, report: Report) -> None:
    from content.outbox import KEY_FILE, load_or_create_key

    key = layout.data / KEY_FILE
    if not key.exists() and layout.root == Path("/") and credentials.is_sealed(credentials.OUTBOX_KEY):
        return  # sealed by an earlier install: the services get it from systemd
    if not key.exists():
        load_or_create_key(layout.data)
        report.add(f"made the outbox key {key}")
        report = Report()
    _ensure_owner_mode(key, 0o600, uid, gid, report)


# Units that get the sealed secrets (decrypted by systemd into their $CREDENTIALS_DIRECTORY).
CREDENTIAL_UNITS = ("yizhan-kiosk.service", "yizhan-board.service", "yizhan-sync.service")
CREDENTIALS_DROPIN = "50-yizhan-credentials.conf"


def seal_station_token(config: bytes, token: str, report: Report) -> bytes:
    """Seal the station token and return the settings file without it (an empty value and a
    comment saying where it went). Nothing changes when the file holds no token."""
    if not token:
        return config
    sealed = credentials.sealed(credentials.STATION_TOKEN)
    if not (sealed.exists() and credentials.unseal(credentials.STATION_TOKEN) == token.encode()):
        credentials.seal(credentials.STATION_TOKEN, token.encode())
        report.add(f"sealed the station token as {sealed}")
    text = re.sub(r'(?m)^(\s*station_token\s*=\s*)"[^"\n]*"[^\n]*$',
                  lambda m: m.group(1) + f'""  # 已封存为 systemd 加密凭据：{sealed}', config.decode("utf-8"))
    return text.encode("utf-8")


def seal_outbox_key(layout: Layout, report: Report) -> None:
    """Seal the outbox key and remove the plain file from the data folder (overwritten first)."""
    from content.outbox import KEY_FILE

    plain = layout.data / KEY_FILE
    if plain.exists():
        key = plain.read_bytes()
        credentials.seal(credentials.OUTBOX_KEY, key)
        with plain.open("r+b") as f:
            f.write(b"\0" * len(key))
            f.flush()
            os.fsync(f.fileno())
        plain.unlink()
        fsync_dir(plain.parent)
        report.add(f"sealed the outbox key as {credentials.sealed(credentials.OUTBOX_KEY)} "
                   f"({'TPM2' if credentials.has_tpm2() else 'host key'}); removed {plain}")
    lines = ["[Service]", "# Written by yizhan install: the station's secrets, decrypted by systemd for this unit only."]
    lines += [f"LoadCredentialEncrypted={name}:{credentials.sealed(name)}" for name in credentials.NAMES
              if credentials.is_sealed(name)]
    for unit in CREDENTIAL_UNITS:
        dropin = layout.on_box(f"/etc/systemd/system/{unit}.d/{CREDENTIALS_DROPIN}")
        ensure_file(dropin, ("\n".join(lines) + "\n").encode(), 0o644, 0, 0, report)


def install_station_files(layout: Layout, release_dir: Path, report: Report) -> None:
    """Units, udev rules, Xorg and journald drop-ins from the current release."""
    source = release_dir / "lib" / "deploy" / "station"
    if not source.is_dir():
        raise InstallError(f"{release_dir}: the release has no deploy/station files")
    units = layout.on_box("/etc/systemd/system")
    for unit in sorted((source / "systemd").iterdir()):
        ensure_file(units / unit.name, unit.read_bytes(), 0o644, 0, 0, report)
    for name, (dest, mode) in STATION_FILES.items():
        ensure_file(layout.on_box(dest), (source / name).read_bytes(), mode, 0, 0, report)


def enable_units(layout: Layout, report: Report) -> None:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        raise InstallError("systemctl not found: is this a systemd system?")
    live = layout.root == Path("/")
    wants = layout.on_box("/etc/systemd/system")
    before = sorted(str(p.relative_to(wants)) for p in wants.rglob("*") if p.is_symlink())
    _run([systemctl, *([] if live else ["--root", str(layout.root)]), "enable", *UNITS])
    after = sorted(str(p.relative_to(wants)) for p in wants.rglob("*") if p.is_symlink())
    if before != after:
        report.add(f"enabled {len(set(after) - set(before))} unit links")
    if live and report.changes:
        _run([systemctl, "daemon-reload"])
        if shutil.which("udevadm"):
            _run(["udevadm", "control", "--reload-rules"])
            _run(["udevadm", "trigger", "--subsystem-match=tty", "--subsystem-match=usbmisc", "--subsystem-match=usb"])
        _run([systemctl, "restart", "yizhan.target"])
        report.add("restarted yizhan.target")
        down = wait_units_up()
        if down:
            raise InstallError("安装已完成，但以下服务没有运行起来：" + "；".join(down)
                               + "。请用 journalctl -u <服务名> 查看原因")


def wait_units_up(timeout_s: float = 150.0, *, clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """The station's services that are not running (or keep restarting) once they had time to start.

    Empty when all are up. A unit restarting in a loop shows as ``activating``/``auto-restart``
    and is reported with its last result; a part switched off in the settings is not a fault.
    """
    units = [u for u in UNITS if u.endswith(".service")]
    deadline = clock() + timeout_s
    while True:
        down = []
        for unit in units:
            info = unit_info(unit)
            if info.get("ActiveState") == "active" or switched_off(info):
                continue
            down.append(f"{unit}（{info.get('ActiveState', '?')}/{info.get('SubState', '?')}，"
                        f"{info.get('Result', '?')}）")
        if not down or clock() >= deadline:
            return down
        sleep(2.0)


UNIT_PROPERTIES = ("ActiveState", "SubState", "Result", "ExecMainStatus", "NRestarts", "UnitFileState")


def unit_info(unit: str) -> dict[str, str]:
    """What ``systemctl show`` says of a unit (:data:`UNIT_PROPERTIES`)."""
    command = ["systemctl", "show", unit] + [arg for p in UNIT_PROPERTIES for arg in ("-p", p)]
    out = subprocess.run(command, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def switched_off(info: dict[str, str]) -> bool:
    """A service that exited 6: its part is switched off in the settings (not a fault)."""
    return info.get("ActiveState") == "inactive" and info.get("ExecMainStatus") == str(exitcodes.SWITCHED_OFF)
