"""systemd's notify protocol: READY and WATCHDOG pings, and a stand-in supervisor for tests.

A unit with ``Type=notify`` and ``WatchdogSec=`` expects ``READY=1`` once the service is
up and ``WATCHDOG=1`` at least every ``WatchdogSec``; otherwise systemd kills it and
(``Restart=always``) starts it again. The protocol is one datagram on the unix socket named
by ``$NOTIFY_SOCKET`` (``@name`` = abstract namespace): a few lines, so no library.

The Kivy apps call :func:`ping` from their main loop (``Clock.schedule_interval``): a frozen
main loop stops the pings. :class:`SimulatedWatchdog` does what systemd does with them,
with time passed in, so a test can show that a UI which stops pinging is restarted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PING_INTERVAL_S = 5.0
_ready_sent = False


def notify(message: str, socket_path: str | None = None) -> bool:
    """Send one notify datagram; False when not running under a notify-aware supervisor."""
    path = socket_path or os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), address)
    except OSError:
        return False
    return True


def ping(*_args: object) -> bool:
    """Tell the supervisor this process is alive (and, the first time, ready).

    Takes and ignores any arguments so that it can be given to ``Clock.schedule_interval``.
    """
    global _ready_sent
    message = "WATCHDOG=1" if _ready_sent else "READY=1\nWATCHDOG=1"
    sent = notify(message)
    _ready_sent = _ready_sent or sent
    return sent


def attach(clock: Any) -> list[Any]:
    """Ping from a Kivy main loop: ``clock`` is ``kivy.clock.Clock`` (this module stays Kivy-free).

    The first ping (READY) goes out on the tick after the first frame was drawn, then one
    every :func:`watchdog_interval_s`. Returns the clock events, for the app to cancel.
    """
    interval = watchdog_interval_s()
    first = clock.schedule_once(lambda _dt: clock.schedule_once(ping, 0), 0)
    return [first, clock.schedule_interval(ping, interval)]


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog_interval_s(default: float = PING_INTERVAL_S) -> float:
    """How often to ping: half of ``$WATCHDOG_USEC`` when systemd sets it, else ``default``."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    return max(0.5, int(usec) / 2e6) if usec.isdigit() and int(usec) > 0 else default


@dataclass
class SimulatedWatchdog:
    """systemd's ``Type=notify`` + ``WatchdogSec`` + ``Restart=always`` for one command.

    Call :meth:`poll` with the current time (injected): it reads the pings that arrived and,
    when the last one is older than ``timeout_s``, kills the process and starts it again.
    """

    command: Sequence[str]
    timeout_s: float
    env: dict[str, str] = field(default_factory=dict)
    restarts: int = 0
    ready: bool = False
    last_ping: float | None = None
    messages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="yizhan-notify-")
        self.socket_path = str(Path(self._dir) / "notify")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.socket_path)
        self._sock.setblocking(False)
        self.process: subprocess.Popen | None = None
        self._started_at = 0.0

    def start(self, now: float) -> None:
        env = {**os.environ, **self.env, "NOTIFY_SOCKET": self.socket_path,
               "WATCHDOG_USEC": str(int(self.timeout_s * 1e6))}
        self.process = subprocess.Popen(list(self.command), env=env)
        self._started_at = now
        self.ready, self.last_ping = False, None

    def wait_message(self, timeout: float = 60.0) -> str | None:
        """Block until one datagram arrives (for tests: waiting for an event, not for time)."""
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(4096).decode()
        except (TimeoutError, BlockingIOError):
            return None
        finally:
            self._sock.setblocking(False)
        self.messages.append(data)
        return data

    def poll(self, now: float) -> bool:
        """Take in the pings; restart a process that stopped pinging. True if it restarted it."""
        while True:
            try:
                data = self._sock.recv(4096).decode()
            except BlockingIOError:
                break
            self.messages.append(data)
            if "READY=1" in data.split("\n"):
                self.ready = True
            if "WATCHDOG=1" in data.split("\n"):
                self.last_ping = now
        since = self.last_ping if self.last_ping is not None else self._started_at
        if self.process is not None and now - since > self.timeout_s:
            self.process.kill()  # systemd sends SIGABRT, then SIGKILL; the effect is the same
            self.process.wait()
            self.restarts += 1
            self.start(now)
            return True
        return False

    def note_ping(self, data: str, now: float) -> None:
        """Count a datagram read with :meth:`wait_message` as arriving at ``now``."""
        if "READY=1" in data.split("\n"):
            self.ready = True
        if "WATCHDOG=1" in data.split("\n"):
            self.last_ping = now

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._sock.close()
        Path(self.socket_path).unlink(missing_ok=True)
        os.rmdir(self._dir)
