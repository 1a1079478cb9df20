"""What the deploy tests share besides fixtures: the built bundle's and the installed box's
records, the station file they install, and running the installed `yizhan`. Test modules
import these from here, never from conftest (two test folders' conftest modules share one name)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from config.station_file import write_station_file
from deploy import lock as locks
from deploy import release

REPO = locks.ROOT
WHEELHOUSE = REPO / ".cache" / "wheelhouse"
def write_install_station(path: Path, *, feed_url: str, public_key: str) -> Path:
    """The station file an installer is given: the sample station, its data in /var/lib/yizhan."""
    return write_station_file(path, {"station.id": "test-station-01", "hub.feed_url": feed_url,
                                     "hub.public_key": public_key, "storage.data_dir": "/var/lib/yizhan"})


def seed_root(root: Path) -> None:
    """A temporary root that looks enough like a Debian box for useradd and systemctl --root."""
    (root / "etc").mkdir(parents=True, exist_ok=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if Path("/etc", name).exists():
            shutil.copy2(Path("/etc", name), root / "etc" / name)


def source_tree(dest: Path, version: str, *, broken: bool = False) -> Path:
    """A copy of this checkout's project files with another version (and, if asked, a defect)."""
    release.copy_source(REPO, dest)
    pyproject = dest / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('version = "', f'version = "{version}"  # was "', 1))
    if broken:
        # A release whose store module cannot be imported: the services would crash-loop.
        with (dest / "content" / "store.py").open("a") as f:
            f.write('\nraise RuntimeError("this build is broken on purpose")\n')
    return dest


@dataclass
class Built:
    key: object
    public_key: str
    full_bundle: Path
    version: str
    workdir: Path

    def code_bundle(self, version: str, *, broken: bool = False, key: object = None) -> Path:
        src = source_tree(self.workdir / f"src-{version}", version, broken=broken)
        wheel = release.build_project_wheel(src, self.workdir / f"wheel-{version}")
        return release.build_bundle(self.workdir / f"bundles-{version}", key=key or self.key, project_wheel=wheel,
                                    lock=REPO / locks.RUNTIME_LOCK, wheelhouse=None)


@dataclass
class InstalledStation:
    root: Path
    config: Path
    first_changes: list[str]


def run_yizhan(launcher: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(launcher), *args], capture_output=True, text=True, timeout=300)
