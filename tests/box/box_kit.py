"""A throwaway systemd (``../shared/tools/systemd-box``) with a station installed in it.

The box is systemd 252 as PID 1 of its own namespaces over a tmpfs overlay of this machine:
the units, users and files the install makes land in the overlay and vanish with it. Its
network is its own loopback. Only the display server is swapped: a drop-in starts Xvfb where
the station starts Xorg through xinit; everything else is the shipped unit files.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO.parent / "shared" / "tools" / "systemd-box"
# The installer, bootstrapped from the bundle with Debian's own Python as the README says (the
# box has its own /tmp, and a checkout may live there: nothing of the checkout is used inside).
YIZHAN = "/root/y/bin/yizhan"
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


def install_station(box: Box, bundle_in_box: str, config: Path) -> subprocess.CompletedProcess:
    """The README's install, as root in the box, Xvfb in for Xorg."""
    box.write("/etc/systemd/system/yizhan-session.service.d/xvfb.conf", XVFB_DROPIN)
    station = box.cp(config, "/root")
    return box.run(YIZHAN, "install", "--bundle", bundle_in_box, "--config", station, check=False, timeout=900)
