"""The upgrade's health check: a release passes only when every service comes up and stays up
for the settle time; a service that dies seconds after a clean first sample fails it."""

from __future__ import annotations

from pathlib import Path

from deploy.install import Layout
from deploy.upgrade import Upgrader


class Timeline:
    """Services whose problems follow a script of (from second, problems); time is injected."""

    def __init__(self, script: list[tuple[float, list[str]]]) -> None:
        self.script = script
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def restart(self) -> None:
        pass

    def problems(self) -> list[str]:
        current: list[str] = []
        for start, problems in self.script:
            if self.now >= start:
                current = problems
        return current


def _upgrader(tmp_path: Path, services: Timeline, **kwargs) -> Upgrader:
    upgrader = Upgrader(Layout(root=tmp_path), feed_url="http://127.0.0.1:9/", public_key="", station_id="s",
                        config=tmp_path / "station.toml", services=services, clock=services.clock,
                        sleep=services.sleep, poll_s=2.0, health_timeout_s=180, settle_s=30, **kwargs)
    upgrader.selfcheck = lambda version: None  # the release's own selfcheck is tested with a real install
    return upgrader


def test_a_sync_that_dies_after_8_seconds_fails_the_check(tmp_path: Path) -> None:
    services = Timeline([(0, []), (8, ["yizhan-sync.service restarted"])])
    problem = _upgrader(tmp_path, services).health_problem("0.1.3")
    assert problem is not None and "yizhan-sync.service restarted" in problem


def test_a_service_that_stops_being_active_during_the_settle_time_fails(tmp_path: Path) -> None:
    services = Timeline([(0, []), (20, ["yizhan-sync.service activating"])])
    problem = _upgrader(tmp_path, services).health_problem("0.1.3")
    assert problem is not None and "activating" in problem


def test_services_that_come_up_late_and_stay_up_pass(tmp_path: Path) -> None:
    services = Timeline([(0, ["yizhan-kiosk.service activating"]), (40, [])])
    assert _upgrader(tmp_path, services).health_problem("0.1.3") is None
    assert services.now >= 40 + 30  # it watched them for the whole settle time


def test_services_that_never_come_up_fail_at_the_timeout(tmp_path: Path) -> None:
    services = Timeline([(0, ["yizhan-board.service failed"])])
    problem = _upgrader(tmp_path, services).health_problem("0.1.3")
    assert problem == "yizhan-board.service failed" and services.now >= 180
