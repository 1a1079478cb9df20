"""A UI that stops pinging is restarted (systemd's watchdog, simulated with injected time).

The child is a real process using :func:`deploy.watchdog.ping` exactly as the Kivy apps do
from their main loop; it freezes (stops pinging, stays alive) when told to.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from deploy.watchdog import SimulatedWatchdog, notify, ping, watchdog_interval_s

CHILD = """
import sys, time
from pathlib import Path
from deploy.watchdog import ping
freeze = Path(sys.argv[1])
while True:
    if freeze.exists():
        Path(sys.argv[1] + ".ack").touch()
        time.sleep(3600)   # a hung main loop: alive, silent
    ping()
    time.sleep(0.05)
"""


def test_a_ui_that_stops_pinging_is_restarted(tmp_path: Path) -> None:
    freeze = tmp_path / "freeze"
    dog = SimulatedWatchdog([sys.executable, "-c", CHILD, str(freeze)], timeout_s=30,
                            env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        dog.start(now=0)
        first = dog.wait_message()
        assert first == "READY=1\nWATCHDOG=1"  # the first ping also says the screen is up
        dog.note_ping(first, now=0)
        for now in (20, 40, 60):  # pinging: left alone, however long it runs
            message = dog.wait_message()
            assert message == "WATCHDOG=1"
            dog.note_ping(message, now)
            assert not dog.poll(now)
        pid = dog.process.pid
        freeze.touch()
        ack = Path(str(freeze) + ".ack")
        for _ in range(600):  # wait for the child to hang (an event, not a duration)
            if ack.exists():
                break
            time.sleep(0.05)
        assert not dog.poll(now=80)  # 20 s silent: still within WatchdogSec
        assert dog.poll(now=80 + 31)  # silent for longer than WatchdogSec: killed and started again
        assert dog.restarts == 1 and dog.process.pid != pid
        freeze.unlink()
        assert dog.wait_message() == "READY=1\nWATCHDOG=1"  # the new process comes up
    finally:
        dog.close()


def test_ping_is_silent_without_a_supervisor(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert ping() is False and notify("READY=1") is False


def test_ping_interval_follows_watchdog_usec(monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_interval_s() == 15.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval_s() == 5.0


@pytest.mark.display
def test_the_board_says_ready_once_it_has_drawn(xvfb: str, station) -> None:
    """The real board player under Xvfb, started the way systemd starts it (NOTIFY_SOCKET set)."""
    yizhan = str(Path(sys.executable).with_name("yizhan"))
    dog = SimulatedWatchdog([yizhan, "display", "--config", str(station.config_path), "--run-seconds", "60"],
                            timeout_s=30, env={"KIVY_NO_CONSOLELOG": "1"})
    try:
        dog.start(now=0)
        assert dog.wait_message(timeout=120) == "READY=1\nWATCHDOG=1"
        assert dog.process.poll() is None  # still running: it said READY from its main loop
    finally:
        dog.close()
