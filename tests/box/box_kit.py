"""A throwaway systemd (``../shared/tools/systemd-box``) with a station installed in it.

The box is systemd 252 as PID 1 of its own namespaces over a tmpfs overlay of this machine:
the units, users and files the install makes land in the overlay and vanish with it. Its
network is its own loopback. Only the display server is swapped: a drop-in starts Xvfb where
the station starts Xorg through xinit; everything else is the shipped unit files.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config.cli import main
from config.station_file import write_station_file
from deploy import lock as locks
from deploy import release
from protocol.feed import generate_private_key, private_key_pem, public_key_b64

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO.parent / "shared" / "tools" / "systemd-box"
# The installer, bootstrapped from the bundle with Debian's own Python as the README says (the
# box has its own /tmp, and a checkout may live there: nothing of the checkout is used inside).
YIZHAN = "/root/y/bin/yizhan"
# The hub, installed in the box as an operator installs one: its own venv from requirements-hub.lock
# (the station's bundle has no Flask), used for ``hub serve`` and ``hub release``.
HUB_YIZHAN = "/root/hub-env/bin/yizhan"
STATION_ID = "box-station-01"
HUB_PORT = 8080  # the box has its own network namespace: no clash with the host's ports
FACES = ("yizhan-kiosk.service", "yizhan-board.service")
SERVICES = ("yizhan-session.service", *FACES, "yizhan-sync.service", "yizhan-print.service",
            "yizhan-screens.service")

XVFB_DROPIN = """[Service]
ExecStart=
ExecStart=/usr/bin/Xvfb :0 -screen 0 1920x1080x24 -nolisten tcp
PAMName=
TTYPath=
StandardInput=null
UtmpIdentifier=
"""


class BoxError(AssertionError):
    pass


class Box:
    def __init__(self) -> None:
        if not TOOL.exists():
            raise BoxError(f"{TOOL} is missing: the station-box tests need shared/tools/systemd-box beside the checkout")
        started = subprocess.run([str(TOOL), "start"], capture_output=True, text=True, timeout=120)
        if started.returncode != 0:
            raise BoxError(f"systemd-box did not start: {started.stderr.strip()}")
        self.pid = started.stdout.strip()
        # A booted Debian has / with shared mount propagation (systemd makes it so at boot); the
        # box boots on a private view, where systemd's credentials (LoadCredentialEncrypted=) are
        # set up in a namespace the service never sees: its $CREDENTIALS_DIRECTORY stays empty.
        self.run("mount", "--make-rshared", "/")

    def run(self, *command: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run([str(TOOL), "run", self.pid, *command], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise BoxError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def sh(self, script: str, **kwargs) -> subprocess.CompletedProcess:
        return self.run("bash", "-c", script, **kwargs)

    def cp(self, src: Path, dest_dir: str) -> str:
        subprocess.run([str(TOOL), "cp", self.pid, str(src), dest_dir], check=True, timeout=300)
        return f"{dest_dir.rstrip('/')}/{src.name}"

    def write(self, path: str, text: str) -> None:
        subprocess.run([str(TOOL), "run", self.pid, "bash", "-c", f"mkdir -p \"$(dirname '{path}')\" && cat > '{path}'"],
                       input=text, text=True, check=True, timeout=60)

    def show(self, unit: str) -> dict[str, str]:
        out = self.run("systemctl", "show", "-p", "ActiveState", "-p", "SubState", "-p", "NRestarts", "-p", "MainPID",
                       "-p", "ExecMainStatus", "-p", "Result", unit).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_for(self, condition: Callable[[], bool], *, timeout_s: float, what: str) -> float:
        """Poll the box until ``condition`` holds; the seconds it took. Polls, never asserts on a sleep."""
        start = time.monotonic()
        while not condition():
            if time.monotonic() - start > timeout_s:
                raise BoxError(f"not within {timeout_s:.0f} s: {what}\n{self.journal()}")
            time.sleep(0.25)
        return time.monotonic() - start

    def faces_up(self, old_pids: dict[str, str] | None = None) -> bool:
        """Kiosk and board active (READY=1: their first frame is drawn), with new PIDs if given."""
        for unit in FACES:
            info = self.show(unit)
            if info.get("ActiveState") != "active":
                return False
            if old_pids and info.get("MainPID") == old_pids.get(unit):
                return False
        return True

    def journal(self, lines: int = 40) -> str:
        return self.run("journalctl", "--no-pager", "-n", str(lines), "-u", "yizhan*", check=False).stdout

    def stop(self) -> None:
        subprocess.run([str(TOOL), "stop", self.pid], capture_output=True, timeout=120)


def bootstrap(box: Box, bundle: Path) -> str:
    """The README's offline bootstrap: the bundle's installer in a venv of Debian's /usr/bin/python3."""
    in_box = box.cp(bundle, "/root/bundles")
    top = bundle.name.removesuffix(".tar")
    box.sh(f"set -e; export PIP_CONFIG_FILE=/dev/null; mkdir -p /root/boot; tar -xf {in_box} -C /root/boot; "
           f"/usr/bin/python3 -m venv /root/y; "
           f"/root/y/bin/pip install -q --no-index --require-hashes --find-links /root/boot/{top}/wheels "
           f"-r /root/boot/{top}/requirements.lock; "
           f"/root/y/bin/pip install -q --no-index --no-deps /root/boot/{top}/*.whl", timeout=900)
    return in_box


def install_hub(box: Box, project_wheel: Path, work: Path) -> None:
    """deploy/hub/README.md's hub install: a venv of Debian's Python with requirements-hub.lock
    (--require-hashes, offline from the hub's wheels copied into the box), then the project wheel
    with --no-deps. One per box: ``hub serve`` and ``hub release`` run from it. pip's byte-compiling
    is skipped (43 s -> 16 s here): Python writes the caches of what the hub imports on first use."""
    kit = work / "hub-install"
    (kit / "wheels").mkdir(parents=True)
    for wheel in release.pick_wheels(REPO / locks.HUB_LOCK, REPO / ".cache" / "wheelhouse"):
        shutil.copy2(wheel, kit / "wheels" / wheel.name)
    shutil.copy2(REPO / locks.HUB_LOCK, kit / locks.HUB_LOCK)
    shutil.copy2(project_wheel, kit / project_wheel.name)
    box.cp(kit, "/root")
    pip = "/root/hub-env/bin/pip install -q --no-compile --no-index"
    box.sh(f"set -e; export PIP_CONFIG_FILE=/dev/null; cd /root/hub-install; /usr/bin/python3 -m venv /root/hub-env; "
           f"{pip} --require-hashes --find-links wheels -r {locks.HUB_LOCK}; {pip} --no-deps {project_wheel.name}",
           timeout=900)


def wait_for_hub(box: Box, feed_name: str) -> None:
    """Until the hub in the box serves the feed's manifest: a hub that never came up is named here,
    not later as a station that cannot sync."""
    fetch = (f"import urllib.request; urllib.request.urlopen("
             f"'http://127.0.0.1:{HUB_PORT}/feeds/{feed_name}/manifest.json', timeout=5).read()")
    try:
        box.wait_for(lambda: box.run("/usr/bin/python3", "-c", fetch, check=False).returncode == 0, timeout_s=60,
                     what="the hub serving the feed")
    except BoxError as exc:
        hub_log = box.run("journalctl", "--no-pager", "-n", "40", "-u", "station-hub", check=False).stdout
        raise BoxError(f"{exc}\n{hub_log}") from None


def install_station(box: Box, bundle_in_box: str, config: Path) -> subprocess.CompletedProcess:
    """The README's install, as root in the box, Xvfb in for Xorg."""
    box.write("/etc/systemd/system/yizhan-session.service.d/xvfb.conf", XVFB_DROPIN)
    station = box.cp(config, "/root")
    return box.run(YIZHAN, "install", "--bundle", bundle_in_box, "--config", station, check=False, timeout=900)


@dataclass
class StationBox:
    """A box with the installer bootstrapped, a hub (its own venv, as a hub is installed) serving
    a signed feed in it, and a station file for it; :meth:`install` puts the station on it."""

    box: Box
    key: object
    feed_name: str
    work: Path
    bundle_in_box: str
    config: Path
    installed: subprocess.CompletedProcess | None = None

    def install(self) -> subprocess.CompletedProcess:
        self.installed = install_station(self.box, self.bundle_in_box, self.config)
        return self.installed

    def code_bundle(self, version: str, *, patch: str = "") -> Path:
        """A code-only bundle of this checkout with another version, and ``patch`` appended to
        content/sync_cli.py (to make a release whose sync misbehaves)."""
        src = release.copy_source(REPO, self.work / f"src-{version}")
        pyproject = src / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace('version = "', f'version = "{version}"  # was "', 1))
        if patch:
            with (src / "content" / "sync_cli.py").open("a") as f:
                f.write("\n" + patch)
        wheel = release.build_project_wheel(src, self.work / f"wheel-{version}")
        return release.build_bundle(self.work / f"bundles-{version}", key=self.key, project_wheel=wheel,
                                    lock=REPO / locks.RUNTIME_LOCK, wheelhouse=None)

    def offer(self, bundle: Path) -> None:
        in_box = self.box.cp(bundle, "/root/bundles")
        self.box.run(HUB_YIZHAN, "hub", "release", in_box, "--feed", self.feed_name, "--home", "/root/hub",
                     "--stations", STATION_ID)

    def current(self) -> str:
        return self.box.run("readlink", "/opt/yizhan/current").stdout.strip().rsplit("/", 1)[-1]


def prepare_station_box(work: Path, **settings: object) -> StationBox:
    """A full signed bundle of this checkout, a hub home publishing a small feed signed with the
    same key, a station file (no reader, no printer: their parts must stay quiet), and a booted
    box with the installer bootstrapped from the bundle (which has no hub packages) and the hub,
    installed from its own lock, serving the feed on the box's loopback."""
    key = generate_private_key()
    wheel = release.build_project_wheel(REPO, work / "wheel")
    bundle = release.build_bundle(work / "dist", key=key, project_wheel=wheel, lock=REPO / locks.RUNTIME_LOCK,
                                  wheelhouse=REPO / ".cache" / "wheelhouse")
    hub = work / "hub"
    hub.mkdir()
    (hub / "feed.key").write_bytes(private_key_pem(key))
    (hub / "feed.key").chmod(0o600)
    if main(["hub", "example", str(work / "source"), "--jobs", "5"]) != 0 or \
            main(["hub", "publish", str(work / "source"), "--home", str(hub)]) != 0:
        raise BoxError("could not publish the example feed")
    feed_name = next((hub / "feeds").iterdir()).name
    config = write_station_file(work / "station.toml", {
        "station.id": STATION_ID, "hub.feed_url": f"http://127.0.0.1:{HUB_PORT}/feeds/{feed_name}/",
        "hub.public_key": public_key_b64(key), "storage.data_dir": "/var/lib/yizhan",
        "devices.idcard.enabled": False, "devices.printer.enabled": False, **settings})
    box = Box()
    try:
        in_box = bootstrap(box, bundle)
        install_hub(box, wheel, work)
        box.cp(hub, "/root")
        box.run("systemd-run", "--unit=station-hub", HUB_YIZHAN, "hub", "serve", "--home", "/root/hub",
                "--port", str(HUB_PORT))
        wait_for_hub(box, feed_name)
    except BaseException:
        box.stop()
        raise
    return StationBox(box, key, feed_name, work, in_box, config)
