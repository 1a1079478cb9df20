"""The station-box suite: a release bundle of this checkout installed under a real systemd."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from box_kit import REPO, YIZHAN, Box, bootstrap, install_station

from config.cli import main
from config.station_file import write_station_file
from content.feed import generate_private_key, private_key_pem, public_key_b64
from deploy import lock as locks
from deploy import release

STATION_ID = "box-station-01"
HUB_PORT = 8080  # the box has its own network namespace: no clash with the host's ports


@dataclass
class StationBox:
    box: Box
    key: object
    version: str
    feed_name: str
    work: Path
    install: object

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
        self.box.run(YIZHAN, "hub", "release", in_box, "--feed", self.feed_name, "--home", "/root/hub",
                     "--stations", STATION_ID)

    def current(self) -> str:
        return self.box.run("readlink", "/opt/yizhan/current").stdout.strip().rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def station_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StationBox]:
    if os.geteuid() != 0:
        pytest.fail("the station-box suite runs as root (systemd-box needs it), as make test does on a station")
    work = tmp_path_factory.mktemp("box")
    key = generate_private_key()
    wheel = release.build_project_wheel(REPO, work / "wheel")
    bundle = release.build_bundle(work / "dist", key=key, project_wheel=wheel, lock=REPO / locks.RUNTIME_LOCK,
                                  wheelhouse=REPO / ".cache" / "wheelhouse")
    hub = work / "hub"
    hub.mkdir()
    (hub / "feed.key").write_bytes(private_key_pem(key))
    (hub / "feed.key").chmod(0o600)
    assert main(["hub", "example", str(work / "source"), "--jobs", "5"]) == 0
    assert main(["hub", "publish", str(work / "source"), "--home", str(hub)]) == 0
    feed_name = next((hub / "feeds").iterdir()).name
    config = write_station_file(work / "station.toml", {
        "station.id": STATION_ID, "hub.feed_url": f"http://127.0.0.1:{HUB_PORT}/feeds/{feed_name}/",
        "hub.public_key": public_key_b64(key), "hub.sync_interval_s": 30, "storage.data_dir": "/var/lib/yizhan",
        # No reader and no printer on this box: their parts must stay quiet, not crash-loop.
        "devices.idcard.enabled": False, "devices.printer.enabled": False})
    box = Box()
    try:
        in_box = bootstrap(box, bundle)
        box.cp(hub, "/root")
        box.run("systemd-run", "--unit=test-hub", YIZHAN, "hub", "serve", "--home", "/root/hub",
                "--port", str(HUB_PORT))
        installed = install_station(box, in_box, config)
        yield StationBox(box, key, wheel.name.split("-")[1], feed_name, work, installed)
    finally:
        box.stop()
