"""Upgrades through the feed: take an offered release, switch to it, check health, roll back.

One round (``yizhan upgrade run``, every 15 minutes from ``yizhan-upgrade.timer``):

1. finish a switch or a rollback that a kill or a power cut interrupted (``state.json`` says
   ``switching`` or ``rolling_back``);
2. fetch ``release.json`` + ``release.sig`` from the feed (size-capped, with a deadline) and
   verify them through the station's trust object (:mod:`protocol.trust`: the online key its
   root authorised, as the feed client keeps it; when that fails, the key statements in the
   feed's ``keys.json`` are followed for this round, so a key changed since the last sync
   does not hold an upgrade back; a retired or unauthorised key is refused);
3. skip it unless it is for this station (listed or in the canary share), newer than the
   running version and not one that already failed here;
4. download the bundle with the media cache's resumable, SHA-256-verified download;
5. install it beside the current release (:func:`deploy.install.install_release`); if a
   resident is mid-visit now (the kiosk's live visit lock), stop here: the next round switches;
6. write ``switching`` to the state, point ``current`` at it (one atomic rename), restart
   the services, and check health: the new release's ``yizhan upgrade selfcheck`` (it imports
   every part and reads the store), then every service active within ``health_timeout_s`` and
   staying so, without a restart, for ``settle_s``;
7. healthy: record ``ok`` and remove releases older than the previous one and the environments
   no kept release uses; not healthy: record the version as failed (``rolling_back``), point
   ``current`` back, restart, record ``rolled_back`` with the reason (the heartbeat carries it);
   that version is never tried again.

``yizhan upgrade --bundle FILE`` does 5-7 with a bundle from a file (a USB stick).

Never two at once (an exclusive ``flock`` on ``upgrade.lock``). Each state change is an
atomic file replace, so a kill at any point leaves ``current`` on a release that was
installed whole, and the next round finishes or undoes the switch.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests

from deploy.install import InstallError, Layout, Report, install_release, switch, switched_off, unit_info
from deploy.release import ReleaseError, version_key
from protocol.trust import Followed, TrustState

log = logging.getLogger(__name__)

STATE_NAME = "state.json"


class ServiceManager(Protocol):
    """What the upgrader needs from the init system (systemd on a box)."""

    def restart(self) -> None: ...

    def problems(self) -> list[str]:
        """Services not (yet) healthy, each as a short text; empty when all are up and pinging."""
        ...


class SystemdServices:
    """The station's units under systemd. A unit is healthy when it is active and has not
    been restarted since our restart (a crash loop or a watchdog kill counts up NRestarts)."""

    UNITS = ("yizhan-kiosk.service", "yizhan-board.service", "yizhan-sync.service", "yizhan-print.service")

    def __init__(self, units: tuple[str, ...] = UNITS) -> None:
        self.units = units
        self._restarts: dict[str, int] = {}

    def restart(self) -> None:
        subprocess.run(["systemctl", "restart", *self.units], capture_output=True)
        self._restarts = {u: int(unit_info(u).get("NRestarts", "0") or 0) for u in self.units}

    def problems(self) -> list[str]:
        problems = []
        for unit in self.units:
            info = unit_info(unit)
            if info.get("UnitFileState") in ("disabled", "masked"):
                continue
            if switched_off(info):
                continue  # its part is switched off in the settings (the print worker without a printer)
            if info.get("ActiveState") != "active":
                problems.append(f"{unit} {info.get('ActiveState', '?')}")
            elif int(info.get("NRestarts", "0") or 0) > self._restarts.get(unit, 0):
                problems.append(f"{unit} restarted")
        return problems


@dataclass
class UpgradeResult:
    status: str  # none | busy | deferred | skipped | ok | rolled_back | failed
    version: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status, "version": self.version, "detail": self.detail}


def read_state(state_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((state_dir / STATE_NAME).read_text())
    except (OSError, ValueError):
        return {}


def _write_state(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (STATE_NAME + ".new")
    with tmp.open("w") as f:
        json.dump(state, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    tmp.replace(state_dir / STATE_NAME)


class Upgrader:
    def __init__(self, layout: Layout, *, feed_url: str, public_key: str, station_id: str, config: Path,
                 services: ServiceManager, state_dir: Path | None = None,
                 resident_active: Callable[[], bool] = lambda: False, health_timeout_s: float = 180.0,
                 settle_s: float = 60.0, poll_s: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, session: requests.Session | None = None,
                 fault: Callable[[str], None] | None = None, python: str | None = None, timeout_s: float = 30.0,
                 trust: Callable[[], TrustState] | None = None, offer_deadline_s: float = 120.0) -> None:
        self.layout = layout
        self.feed_url = feed_url.rstrip("/") + "/"
        self.public_key = public_key
        self.station_id = station_id
        self.config = config
        self.services = services
        self.state_dir = state_dir or layout.data / "upgrade"
        self.resident_active = resident_active
        self.health_timeout_s = health_timeout_s
        self.settle_s = settle_s
        self.poll_s = poll_s
        self.clock, self.sleep = clock, sleep
        self.session = session or requests.Session()
        self.fault = fault or (lambda point: None)
        self.python = python
        self.timeout_s = timeout_s
        # The station's key chain, read fresh each round (the feed client may have followed a
        # rotation since): releases are verified with the key the feed moved to, never a retired one.
        self.trust = trust or (lambda: TrustState.start(public_key))
        # Key statements this round followed from the feed's keys.json (the feed client keeps
        # them at its next sync): the offer and the bundle are verified with the same state.
        self._followed: TrustState | None = None
        self.offer_deadline_s = offer_deadline_s

    # -- the round --------------------------------------------------------------------------
    def run(self) -> UpgradeResult:
        """One round with the feed's offer (what the timer starts)."""
        return self._exclusive(self._round)

    def run_bundle(self, bundle: Path) -> UpgradeResult:
        """``yizhan upgrade --bundle FILE``: the same checks, install, switch and health as an OTA,
        from a file (a USB stick at a station with no network)."""
        return self._exclusive(lambda: self._bundle_round(bundle))

    def _exclusive(self, round_: Callable[[], UpgradeResult]) -> UpgradeResult:
        """Never two at once; an interrupted switch or rollback is finished before anything new."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "upgrade.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return UpgradeResult("busy", detail="another upgrade is running")
            self._followed = None
            resumed = self.resume()
            return resumed if resumed is not None else round_()

    def _round(self) -> UpgradeResult:
        document = self.fetch_offer()
        if document is None:
            return UpgradeResult("none", detail="no release offered")
        from protocol.release_offer import offer_for

        # Several offers may be live (a canary beside the general one): the newest of ours.
        offer = offer_for(document, self.station_id, version_key)
        current = self.layout.current_version() or ""
        if offer is None:
            return UpgradeResult("none", document["version"], "this station is not in the release's stations or share")
        version = offer["version"]
        refused = self._refusal(version, current)
        return refused or self.install_and_switch(self.download(offer), version, previous=current)

    def install_and_switch(self, bundle: Path, version: str, *, previous: str) -> UpgradeResult:
        """Install beside the running release (a resident may use the kiosk meanwhile), then switch
        and restart, unless a visit is open at that moment: then the next round switches."""
        try:
            install_release(self.layout, bundle, public_key=self.public_key, report=Report(), python=self.python,
                            fault=self.fault, trust=self.current_trust())
        except (ReleaseError, InstallError) as exc:
            self._record(version, "failed", f"install: {exc}", failed=True)
            return UpgradeResult("failed", version, str(exc))
        except Exception as exc:  # recorded for the heartbeat, not a traceback every round
            log.exception("installing release %s failed", version)
            self._record(version, "failed", f"install: {type(exc).__name__}: {exc}", failed=True)
            return UpgradeResult("failed", version, f"{type(exc).__name__}: {exc}")
        if self.resident_active():
            return UpgradeResult("deferred", version, "installed; a resident is using the kiosk, the switch waits")
        return self.switch_to(version, previous=previous)

    def _bundle_round(self, bundle: Path) -> UpgradeResult:
        from deploy.install import verify_bundle
        from deploy.release import read_manifest

        manifest, raw, signature = read_manifest(bundle)
        verify_bundle(bundle, raw, signature, self.current_trust())
        version, current = manifest["version"], self.layout.current_version() or ""
        refused = self._refusal(version, current)
        return refused or self.install_and_switch(bundle, version, previous=current)

    def _refusal(self, version: str, current: str) -> UpgradeResult | None:
        """Why ``version`` is not taken (not newer, or failed here before); None when it is."""
        if current and version_key(version) <= version_key(current):
            return UpgradeResult("none", version, f"running {current} already")
        if version in read_state(self.state_dir).get("failed_versions", []):
            return UpgradeResult("skipped", version, "this version failed its health check here before")
        return None

    def switch_to(self, version: str, *, previous: str) -> UpgradeResult:
        state = read_state(self.state_dir)
        state.update(state="switching", to=version, previous=previous, since=_now())
        _write_state(self.state_dir, state)
        self.fault("before-switch")
        switch(self.layout, version, Report())
        self.fault("after-switch")
        return self._check_and_settle(version, previous)

    def resume(self) -> UpgradeResult | None:
        """Finish or undo a switch that a kill interrupted; None when there was none."""
        state = read_state(self.state_dir)
        if state.get("state") == "rolling_back":
            return self._roll_back(state["to"], state.get("previous", ""), state.get("reason", "interrupted"))
        if state.get("state") != "switching":
            return None
        version, previous = state["to"], state.get("previous", "")
        if self.layout.current_version() != version:
            state["state"] = "idle"
            _write_state(self.state_dir, state)
            log.warning("upgrade to %s was interrupted before the switch; %s still runs", version, previous)
            return UpgradeResult("failed", version, "interrupted before the switch")
        log.warning("upgrade to %s was interrupted after the switch; checking its health", version)
        return self._check_and_settle(version, previous)

    def _check_and_settle(self, version: str, previous: str) -> UpgradeResult:
        self.services.restart()
        problem = self.health_problem(version)
        if problem is None:
            self._record(version, "ok", f"from {previous or 'nothing'}")
            self.clean_old(keep={version, previous})
            return UpgradeResult("ok", version, f"from {previous or 'nothing'}")
        log.error("release %s failed its health check (%s); rolling back to %s", version, problem, previous)
        # The failure is written down first: a kill during the rollback must not leave the
        # broken version off the never-again list (the next round finishes the rollback).
        state = read_state(self.state_dir)
        state.update(state="rolling_back", to=version, previous=previous, reason=problem[:300])
        state["failed_versions"] = sorted(set(state.get("failed_versions", [])) | {version})
        _write_state(self.state_dir, state)
        self.fault("rolling-back")
        return self._roll_back(version, previous, problem)

    def _roll_back(self, version: str, previous: str, problem: str) -> UpgradeResult:
        if previous and (self.layout.releases / previous / ".installed").exists():
            switch(self.layout, previous, Report())
            self.fault("rolled-back-switched")
            self.services.restart()
            self._record(version, "rolled_back", problem, failed=True)
            return UpgradeResult("rolled_back", version, problem)
        self._record(version, "failed", problem, failed=True)
        return UpgradeResult("failed", version, problem)

    # -- health -----------------------------------------------------------------------------
    def health_problem(self, version: str) -> str | None:
        """None when the release is healthy; else what is wrong.

        Healthy means every service up and staying up: clean samples for ``settle_s`` in a row
        (a release whose sync dies 8 s after it starts is not passed on its first clean sample),
        within ``health_timeout_s`` for the services to come up. A restart during the settle
        time is a failure at once: a crash-looping service never settles.
        """
        check = self.selfcheck(version)
        if check is not None:
            return check
        start = self.clock()
        deadline = start + self.health_timeout_s
        clean_since: float | None = None
        while True:
            problems = self.services.problems()
            now = self.clock()
            if problems:
                if clean_since is not None or any(p.endswith(" restarted") for p in problems):
                    return "; ".join(problems) + f" ({now - start:.0f} s after the restart)"
                if now >= deadline:
                    return "; ".join(problems)
            else:
                clean_since = now if clean_since is None else clean_since
                if now - clean_since >= self.settle_s:
                    return None
            self.sleep(self.poll_s)

    def selfcheck(self, version: str) -> str | None:
        launcher = self.layout.current / "bin" / "yizhan"
        try:
            run = subprocess.run([str(launcher), "upgrade", "selfcheck", "--config", str(self.config)],
                                 capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"selfcheck could not run: {exc}"
        if run.returncode != 0:
            last = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"selfcheck failed: {last[0][:200]}"
        if version not in run.stdout:
            return f"selfcheck reports {run.stdout.strip()[:80]!r}, not {version}"
        return None

    # -- feed and download ------------------------------------------------------------------
    def fetch_offer(self) -> dict[str, Any] | None:
        """The signed offer, read within a size cap and an overall deadline (a 600 MB or a
        trickling ``release.json`` is cut off), verified with the station's current key."""
        from common.netutil import fetch_capped
        from protocol.feed import FeedError, SignatureError
        from protocol.release_offer import OFFER_NAME, OFFER_SIG_NAME
        from protocol.trust import MAX_OFFER_BYTES, MAX_OFFER_SIG_BYTES, verify_release_offer

        def get(name: str, cap: int) -> requests.Response:
            return fetch_capped(self.session, self.feed_url + name, max_bytes=cap, deadline_s=self.offer_deadline_s,
                                timeout=self.timeout_s)

        response = get(OFFER_NAME, MAX_OFFER_BYTES)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        sig = get(OFFER_SIG_NAME, MAX_OFFER_SIG_BYTES)
        sig.raise_for_status()
        trust = self.current_trust()
        try:
            try:
                return verify_release_offer(trust, response.content, sig.content)
            except SignatureError as exc:
                # The hub may have changed a key since the feed's last sync: follow keys.json.
                followed = self.follow_keys(trust, get)
                if followed is None or not followed.moved:
                    note = followed.explain() if followed is not None else ""
                    raise SignatureError(f"{exc}; keys.json: {note}" if note else str(exc)) from None
                offer = verify_release_offer(followed.state, response.content, sig.content)
                self._followed = followed.state
                return offer
        except FeedError as exc:
            raise UpgradeError(f"release offer refused: {exc}") from None

    def current_trust(self) -> TrustState:
        """The station's trust this round: as its database keeps it, or as this round moved it."""
        return self._followed or self.trust()

    @staticmethod
    def follow_keys(trust: TrustState, get: Callable[[str, int], requests.Response]) -> Followed | None:
        """``keys.json`` beside the offer followed from ``trust``; ``None`` when there is none."""
        from protocol.feed import KEYS_NAME, MAX_KEYS_BYTES

        response = get(KEYS_NAME, MAX_KEYS_BYTES)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        followed = trust.follow(response.content)
        for reason in followed.refused:
            log.warning("upgrade: %s: not followed", reason)
        return followed

    def download(self, offer: dict[str, Any]) -> Path:
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

        from content.media import TRANSIENT, MediaCache
        from protocol.model import MediaRef

        cache = MediaCache(self.state_dir / "downloads")
        ref = MediaRef(sha256=offer["sha256"], size=offer["size"], type="application/x-tar", ext="tar")
        cache.remove_unneeded({ref.sha256})
        retrying = Retrying(stop=stop_after_attempt(5), wait=wait_random_exponential(multiplier=1, max=30),
                            retry=retry_if_exception_type(TRANSIENT), reraise=True)
        return cache.download(self.session, self.feed_url + offer["path"], ref, timeout=(10, 60), retrying=retrying)

    # -- bookkeeping ------------------------------------------------------------------------
    def _record(self, version: str, result: str, detail: str, *, failed: bool = False) -> None:
        state = read_state(self.state_dir)
        state["state"] = "idle"
        state["last"] = {"version": version, "result": result, "detail": detail[:300], "at": _now()}
        if failed:
            state["failed_versions"] = sorted(set(state.get("failed_versions", [])) | {version})
        _write_state(self.state_dir, state)

    def clean_old(self, keep: set[str]) -> None:
        """Remove releases other than ``keep`` and the environments no kept release uses."""
        for release in self.layout.releases.iterdir():
            if release.name.startswith(".staging-") or (release.is_dir() and release.name not in keep):
                shutil.rmtree(release, ignore_errors=True)
        prune_envs(self.layout)


class UpgradeError(Exception):
    """The offer or the bundle cannot be used."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def prune_envs(layout: Layout) -> list[str]:
    """Remove the environments (~350 MB each) that no installed release's lock names."""
    envs = layout.prefix / "envs"
    if not envs.is_dir():
        return []
    used = set()
    for manifest in layout.releases.glob("*/MANIFEST.json"):
        try:
            used.add(layout.env_for(json.loads(manifest.read_bytes())["lock_sha256"]).name)
        except (OSError, ValueError, KeyError):
            return []  # a release we cannot read: keep every environment rather than break it
    removed = []
    for env in envs.iterdir():
        if env.is_dir() and env.name not in used:
            shutil.rmtree(env, ignore_errors=True)
            removed.append(env.name)
    return removed


def kiosk_in_use(data_dir: Path) -> bool:
    """Whether a resident is mid-visit at the kiosk right now (the kiosk's live visit lock)."""
    from content.visit_lock import LOCK_NAME, visit_in_progress

    return visit_in_progress(Path(data_dir) / LOCK_NAME)
