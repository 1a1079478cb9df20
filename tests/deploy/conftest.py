"""Fixtures for station operations: bundles built from this checkout, a station installed
into a temporary root (once per session: the full install makes a virtualenv from ~60 wheels)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_kit import REPO, WHEELHOUSE, Built, InstalledStation, seed_root, write_install_station

from deploy import lock as locks
from deploy import release
from deploy.install import install
from protocol.feed import generate_private_key, public_key_b64


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A full signed bundle of this checkout (project wheel + every locked wheel)."""
    if not WHEELHOUSE.is_dir():
        pytest.fail(f"{WHEELHOUSE} is missing: 'make setup' fills it from the lock")
    work = tmp_path_factory.mktemp("release")
    key = generate_private_key()
    wheel = release.build_project_wheel(REPO, work / "wheel")
    bundle = release.build_bundle(work / "dist", key=key, project_wheel=wheel, lock=REPO / locks.RUNTIME_LOCK,
                                  wheelhouse=WHEELHOUSE)
    version = wheel.name.split("-")[1]
    return Built(key, public_key_b64(key), bundle, version, work)


@pytest.fixture(scope="session")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledStation]:
    """The full bundle installed into a temporary root, units enabled with systemctl --root."""
    root = tmp_path_factory.mktemp("box")
    seed_root(root)
    # The installed release runs as its service user (root drops to the data folder's owner), who
    # must be able to walk down to it as on a box: pytest's temporary folders are 0700.
    for folder in (root, *root.parents):
        if folder == Path("/tmp"):
            break
        folder.chmod(folder.stat().st_mode | 0o055)
    config = root.parent / "station-install.toml"
    write_install_station(config, feed_url="http://127.0.0.1:9/feeds/x/", public_key=built.public_key)
    report = install(bundle=built.full_bundle, config=config, root=root)
    yield InstalledStation(root, config, report.changes)
