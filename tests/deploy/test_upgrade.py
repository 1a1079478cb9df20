"""Upgrades through the feed on loopback: v1 -> v2 succeeds, a broken v3 rolls back to v2 by
itself, and a kill at any point of the switch leaves a working release.

The hub is the real reference hub (waitress on 127.0.0.1) serving a real signed feed with
the release offer beside it. The station is the one the install tests put into a
temporary root. systemd is not running here, so the services are stood in for by running
the current release (``yizhan --version``); the health check's selfcheck is the real one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_kit import Built, InstalledStation, run_yizhan, source_tree

from config.cli import main
from deploy.install import Layout
from deploy.release import ReleaseError
from deploy.upgrade import Upgrader, kiosk_in_use, read_state
from hub.app import HubServer, create_app
from hub.releases import in_canary, publish_release
from protocol.feed import private_key_pem

pytestmark = pytest.mark.slow
STATION_ID = "test-station-01"


class RunningRelease:
    """Stands in for systemd: 'restarting' runs the current release; a release that cannot
    start is reported the way ``systemctl show`` would (not active)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.restarts = 0

    def restart(self) -> None:
        self.restarts += 1

    def problems(self) -> list[str]:
        run = run_yizhan(self.layout.current / "bin" / "yizhan", "--version")
        return [] if run.returncode == 0 else ["yizhan-kiosk.service failed"]


@dataclass
class Fleet:
    built: Built
    installed: InstalledStation
    feed_dir: Path
    feed_url: str
    runtime_config: Path
    layout: Layout

    def upgrader(self, **kwargs) -> Upgrader:
        ticks = iter(range(0, 10_000, 5))
        return Upgrader(self.layout, feed_url=self.feed_url, public_key=self.built.public_key, station_id=STATION_ID,
                        config=self.runtime_config, services=RunningRelease(self.layout), health_timeout_s=30, settle_s=10,
                        clock=lambda: float(next(ticks)), sleep=lambda s: None, **kwargs)

    def offer(self, version: str, *, broken: bool = False, **kwargs) -> None:
        publish_release(self.feed_dir, self.built.code_bundle(version, broken=broken), self.built.key, **kwargs)

    def running(self) -> str:
        run = run_yizhan(self.layout.current / "bin" / "yizhan", "--version")
        assert run.returncode == 0, run.stderr
        return run.stdout.split()[-1]


@pytest.fixture(scope="module")
def fleet(built: Built, installed: InstalledStation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    home = tmp_path_factory.mktemp("hub")
    (home / "feed.key").write_bytes(private_key_pem(built.key))
    (home / "feed.key").chmod(0o600)
    assert main(["hub", "example", str(home / "source"), "--jobs", "5"]) == 0
    assert main(["hub", "publish", str(home / "source"), "--home", str(home)]) == 0
    feed_name = next((home / "feeds").iterdir()).name
    server = HubServer(create_app(home)).start()
    root = installed.root
    runtime = root.parent / "station-runtime.toml"  # the same station, its data dir inside the root
    runtime.write_text(installed.config.read_text().replace('data_dir = "/var/lib/yizhan"',
                                                            f'data_dir = "{root}/var/lib/yizhan"'))
    try:
        yield Fleet(built, installed, home / "feeds" / feed_name, f"{server.url}feeds/{feed_name}/", runtime,
                    Layout(root=root, data_dir=Path("/var/lib/yizhan")))
    finally:
        server.stop()


def test_no_offer_means_nothing_to_do(fleet: Fleet) -> None:
    assert fleet.upgrader().run().status == "none"


def test_v1_to_v2_succeeds(fleet: Fleet) -> None:
    assert fleet.running() == fleet.built.version
    fleet.offer("0.1.1", stations=[STATION_ID])
    result = fleet.upgrader().run()
    assert (result.status, result.version) == ("ok", "0.1.1"), result.detail
    assert fleet.running() == "0.1.1"
    assert os.readlink(fleet.layout.current) == "releases/0.1.1"
    state = read_state(fleet.layout.data / "upgrade")
    assert state["last"]["result"] == "ok" and state["state"] == "idle"
    assert fleet.upgrader().run().status == "none"  # already running it


def test_a_broken_v3_rolls_back_to_v2_by_itself(fleet: Fleet) -> None:
    fleet.offer("0.1.2", broken=True, stations=[STATION_ID])
    result = fleet.upgrader().run()
    assert (result.status, result.version) == ("rolled_back", "0.1.2")
    assert "broken on purpose" in result.detail
    assert fleet.running() == "0.1.1"
    state = read_state(fleet.layout.data / "upgrade")
    assert state["last"]["result"] == "rolled_back" and "0.1.2" in state["failed_versions"]
    assert fleet.upgrader().run().status == "skipped"  # never tried again


def test_a_station_outside_the_canary_share_waits(fleet: Fleet) -> None:
    version = next(f"0.1.{n}" for n in range(3, 99) if not in_canary(STATION_ID, f"0.1.{n}", 10))
    fleet.offer(version, percent=10)
    result = fleet.upgrader().run()
    assert result.status == "none" and "share" in result.detail
    assert fleet.running() == "0.1.1"


def test_no_restart_while_a_resident_uses_the_kiosk(fleet: Fleet, tmp_path: Path) -> None:
    """The check is made just before the restart, against the kiosk's live visit lock."""
    from content.visit_lock import VisitLock

    fleet.offer("0.1.20", stations=[STATION_ID])
    lock = VisitLock(tmp_path / "kiosk-visit.lock")
    lock.hold(True)  # a resident is mid-visit (another descriptor, as the kiosk process would have)
    in_use = fleet.upgrader(resident_active=lambda: kiosk_in_use(tmp_path))
    result = in_use.run()
    assert result.status == "deferred" and "installed" in result.detail
    assert fleet.running() == "0.1.1" and (fleet.layout.releases / "0.1.20" / ".installed").exists()
    lock.hold(False)  # the visit ends
    result = fleet.upgrader(resident_active=lambda: kiosk_in_use(tmp_path)).run()
    assert (result.status, result.version) == ("ok", "0.1.20"), result.detail
    assert fleet.running() == "0.1.20"


_KILLED = """
import json, os, sys
from pathlib import Path
sys.path[:0] = [{tests!r}]
from test_upgrade import RunningRelease
from deploy.install import Layout
from deploy.upgrade import Upgrader
a = json.loads(sys.argv[1])
layout = Layout(root=Path(a["root"]), data_dir=Path("/var/lib/yizhan"))
def fault(point):
    if point == a["point"]:
        os.kill(os.getpid(), 9)
Upgrader(layout, feed_url=a["feed_url"], public_key=a["key"], station_id=a["station"], config=Path(a["config"]),
         services=RunningRelease(layout), fault=fault, settle_s=0).run()
"""


@pytest.mark.parametrize("point", ["release-unpacked", "before-switch", "after-switch"])
def test_a_kill_during_the_switch_leaves_a_working_release(fleet: Fleet, point: str) -> None:
    version = {"release-unpacked": "0.1.21", "before-switch": "0.1.22", "after-switch": "0.1.23"}[point]
    fleet.offer(version, stations=[STATION_ID])
    before = fleet.running()
    args = {"root": str(fleet.layout.root), "feed_url": fleet.feed_url, "key": fleet.built.public_key,
            "station": STATION_ID, "config": str(fleet.runtime_config), "point": point}
    killed = subprocess.run([sys.executable, "-c", _KILLED.format(tests=str(Path(__file__).parent)), json.dumps(args)],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    # right after the kill: some whole release runs
    assert fleet.running() in (before, version)
    # the next rounds finish (or redo) the upgrade
    for _ in range(2):
        fleet.upgrader().run()
    assert fleet.running() == version
    assert read_state(fleet.layout.data / "upgrade")["state"] == "idle"
    assert not list(fleet.layout.releases.glob(".staging-*"))


_BROKEN_AFTER = """
from test_upgrade import RunningRelease
class BrokenAfterSwitch(RunningRelease):
    def problems(self):
        return ["yizhan-sync.service restarted"]
"""


@pytest.mark.parametrize("point", ["rolling-back", "rolled-back-switched"])
def test_a_kill_during_the_rollback_still_marks_the_version_failed(fleet: Fleet, point: str) -> None:
    """Killed after the health check failed, before the failure was recorded: the next round
    finishes the rollback, and the broken version is never installed and started again."""
    version = {"rolling-back": "0.1.40", "rolled-back-switched": "0.1.41"}[point]
    fleet.offer(version, stations=[STATION_ID])
    before = fleet.running()
    script = _KILLED.replace("RunningRelease(layout)", "BrokenAfterSwitch(layout)").replace(
        "from test_upgrade import RunningRelease", _BROKEN_AFTER.strip())
    args = {"root": str(fleet.layout.root), "feed_url": fleet.feed_url, "key": fleet.built.public_key,
            "station": STATION_ID, "config": str(fleet.runtime_config), "point": point}
    killed = subprocess.run([sys.executable, "-c", script.format(tests=str(Path(__file__).parent)), json.dumps(args)],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    result = fleet.upgrader().run()
    assert (result.status, result.version) == ("rolled_back", version), result.detail
    assert fleet.running() == before
    state = read_state(fleet.layout.data / "upgrade")
    assert version in state["failed_versions"] and state["state"] == "idle"
    assert fleet.upgrader().run().status == "skipped"


def test_a_usb_stick_bundle_upgrades_like_an_ota(fleet: Fleet) -> None:
    bundle = fleet.built.code_bundle("0.1.50")
    result = fleet.upgrader().run_bundle(bundle)
    assert (result.status, result.version) == ("ok", "0.1.50"), result.detail
    assert fleet.running() == "0.1.50"
    assert fleet.upgrader().run_bundle(bundle).status == "none"  # running it already


def test_a_usb_stick_bundle_signed_by_another_key_is_refused(fleet: Fleet) -> None:
    from deploy import lock as locks
    from deploy import release
    from protocol.feed import generate_private_key
    wheel = release.build_project_wheel(source_tree(fleet.built.workdir / "src-0.1.60", "0.1.60"),
                                        fleet.built.workdir / "wheel-0.1.60")
    forged = release.build_bundle(fleet.built.workdir / "forged", key=generate_private_key(), project_wheel=wheel,
                                  lock=locks.ROOT / locks.RUNTIME_LOCK, wheelhouse=None)
    before = fleet.running()
    with pytest.raises(ReleaseError, match="signature"):
        fleet.upgrader().run_bundle(forged)
    assert fleet.running() == before and not (fleet.layout.releases / "0.1.60").exists()


def test_a_canary_beside_the_general_offer_reaches_both_audiences(fleet: Fleet) -> None:
    """Two offers live at once: the general one for every station and a newer canary for one.
    Each audience takes its own; a station of an earlier release (it reads only the document's
    own fields) sees the general one; withdrawing is explicit and leaves the other offer."""
    from deploy.release import version_key
    from hub.releases import offer_applies, offer_for, offers_of

    home, feed = fleet.feed_dir.parent.parent, fleet.feed_dir.name

    def release(*args: str) -> None:
        assert main(["hub", "release", *args, "--feed", feed, "--home", str(home)]) == 0

    release(str(fleet.built.code_bundle("0.1.55")))
    release(str(fleet.built.code_bundle("0.1.56")), "--stations", STATION_ID, "--name", "canary")
    document = fleet.upgrader().fetch_offer()  # fetched over HTTP, signature verified
    assert document is not None
    assert {o["name"]: o["version"] for o in offers_of(document)} == {"general": "0.1.55", "canary": "0.1.56"}
    assert offer_for(document, "another-station", version_key)["version"] == "0.1.55"
    assert offer_for(document, STATION_ID, version_key)["version"] == "0.1.56"
    assert document["version"] == "0.1.55" and offer_applies(document, "another-station")
    result = fleet.upgrader().run()
    assert (result.status, result.version) == ("ok", "0.1.56"), result.detail

    release("--withdraw", "canary")
    document = fleet.upgrader().fetch_offer()
    assert [o["version"] for o in offers_of(document)] == ["0.1.55"]
    release("--withdraw", "0.1.55")
    assert fleet.upgrader().fetch_offer() is None and fleet.upgrader().run().status == "none"
    assert main(["hub", "release", "--withdraw", "0.1.55", "--feed", feed, "--home", str(home)]) != 0


def test_environments_no_release_uses_are_pruned(fleet: Fleet) -> None:
    from deploy.upgrade import prune_envs

    stale = fleet.layout.prefix / "envs" / "0123456789abcdef"
    (stale / "lib").mkdir(parents=True)
    used = {p.name for p in (fleet.layout.prefix / "envs").iterdir()} - {stale.name}
    assert prune_envs(fleet.layout) == [stale.name]
    assert {p.name for p in (fleet.layout.prefix / "envs").iterdir()} == used
    assert fleet.running()  # the running release's environment is kept



def test_releases_follow_the_feeds_key_rotation(fleet: Fleet) -> None:
    """After 'hub rotate-key' the station (having followed the rotation through its feed) refuses
    a release signed with the retired key and takes one signed with the new key."""
    from config.settings import load_settings
    from deploy.install import station_trust
    from deploy.upgrade import UpgradeError
    from protocol.feed import load_private_key

    home = fleet.feed_dir.parent.parent
    config = fleet.runtime_config.with_name("station-syncing.toml")  # the same station, its feed on the hub
    config.write_text(fleet.runtime_config.read_text().replace("http://127.0.0.1:9/feeds/x/", fleet.feed_url))

    def sync() -> None:  # as a station does it: its own process, as the service user
        run = run_yizhan(fleet.layout.current / "bin" / "yizhan", "sync", "--once", "--no-progress",
                         "--config", str(config))
        assert run.returncode in (0, 5), run.stderr[-2000:]

    sync()
    assert main(["hub", "rotate-key", "--home", str(home)]) == 0
    assert main(["hub", "publish", str(home / "source"), "--home", str(home)]) == 0
    sync()
    settings = load_settings(config)
    assert station_trust(settings).current_key != fleet.built.public_key  # the station moved on
    new_key = load_private_key((home / "feed.key").read_bytes())

    before = fleet.running()
    old = fleet.built.code_bundle("0.1.70")
    publish_release(fleet.feed_dir, old, fleet.built.key, stations=[STATION_ID])  # a leaked old key
    with pytest.raises(UpgradeError, match="refused"):
        fleet.upgrader(trust=lambda: station_trust(settings)).run()
    with pytest.raises(ReleaseError, match="signature"):  # nor from a USB stick
        fleet.upgrader(trust=lambda: station_trust(settings)).run_bundle(old)
    assert fleet.running() == before and not (fleet.layout.releases / "0.1.70").exists()

    publish_release(fleet.feed_dir, fleet.built.code_bundle("0.1.71", key=new_key), new_key, stations=[STATION_ID])
    result = fleet.upgrader(trust=lambda: station_trust(settings)).run()
    assert (result.status, result.version) == ("ok", "0.1.71"), result.detail
    assert fleet.running() == "0.1.71"


def test_upgrades_follow_the_online_key_and_the_root(fleet: Fleet) -> None:
    """Key roles: the one-key hub is split (its key becomes the root), the online key rotated,
    and the next upgrade round, with no feed sync in between, takes the offer signed by the new
    online key (it follows keys.json itself); a release by a key the root never authorised is
    refused, saying so; after 'hub rotate-root' the next offer is taken too."""
    from config.settings import load_settings
    from deploy.install import station_trust
    from deploy.upgrade import UpgradeError
    from protocol.feed import generate_private_key, load_private_key

    home = fleet.feed_dir.parent.parent
    config = fleet.runtime_config.with_name("station-syncing.toml")
    config.write_text(fleet.runtime_config.read_text().replace("http://127.0.0.1:9/feeds/x/", fleet.feed_url))
    settings = load_settings(config)

    def release(version: str) -> None:
        online = load_private_key((home / "feed.key").read_bytes())
        bundle = fleet.built.code_bundle(version, key=online)
        assert main(["hub", "release", str(bundle), "--feed", fleet.feed_dir.name, "--home", str(home),
                     "--stations", STATION_ID]) == 0

    def upgrade():  # as `yizhan upgrade run` does: the trust the station's database keeps
        return fleet.upgrader(trust=lambda: station_trust(settings)).run()

    assert main(["hub", "split-key", "--home", str(home)]) == 0
    assert main(["hub", "rotate-key", "--home", str(home)]) == 0
    release("0.1.80")
    result = upgrade()
    assert (result.status, result.version) == ("ok", "0.1.80"), result.detail
    assert fleet.running() == "0.1.80"

    thief = generate_private_key()
    publish_release(fleet.feed_dir, fleet.built.code_bundle("0.1.81", key=thief), thief, stations=[STATION_ID])
    with pytest.raises(UpgradeError, match="release offer refused: .*never authorised"):
        upgrade()

    assert main(["hub", "rotate-root", "--home", str(home)]) == 0
    release("0.1.82")
    result = upgrade()
    assert (result.status, result.version) == ("ok", "0.1.82"), result.detail
    assert fleet.running() == "0.1.82"
