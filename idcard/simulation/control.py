"""The simulator's text control port on 127.0.0.1: a server for ``yizhan idcard simulate`` and a client.

Each line is one command of :meth:`ReaderModel.handle_command`; the answer's last line starts
with ``ok`` or ``error``.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from typing import Any

from idcard.simulation.model import ReaderModel, SimulatorError


def serve_control(model: ReaderModel, port: int = 0) -> ControlServer:
    """Accept text commands on 127.0.0.1:``port`` (0: any free port) in a thread."""
    server = ControlServer(("127.0.0.1", port), _ControlHandler, model)
    threading.Thread(target=server.serve_forever, name="idcard-simulator-control",
                     kwargs={"poll_interval": 0.2}, daemon=True).start()
    return server


class ControlServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[socketserver.BaseRequestHandler],
                 simulator: ReaderModel) -> None:
        self.simulator = simulator
        super().__init__(address, handler)


class _ControlHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        simulator: ReaderModel = self.server.simulator
        for raw in self.rfile:
            lines = simulator.handle_command(raw.decode("utf-8", "replace"))
            self.wfile.write(("\n".join(lines) + "\n").encode("utf-8"))
            self.wfile.flush()


class ControlClient:
    """Drives a simulator's TCP control port: ``client.place(0)``, ``client.command("remove")``."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self._sock.makefile("rwb")
        self.last_lines: list[str] = []

    def command(self, line: str) -> str:
        """Send one command; return its final line without ``ok``; raise SimulatorError on ``error``."""
        self._file.write((line.strip() + "\n").encode("utf-8"))
        self._file.flush()
        lines = []
        while True:
            raw = self._file.readline()
            if not raw:
                raise SimulatorError("the simulator closed the control connection")
            text = raw.decode("utf-8").rstrip("\n")
            lines.append(text)
            if text == "ok" or text.startswith(("ok ", "error ")):
                break
        self.last_lines = lines
        if text.startswith("error"):
            raise SimulatorError(text[len("error "):])
        return text[3:]

    def place(self, index: int) -> str:
        return self.command(f"place {index}")

    def remove(self) -> str:
        return self.command("remove")

    def unplug(self) -> str:
        return self.command("unplug")

    def replug(self) -> str:
        return self.command("replug")

    def timing(self) -> dict[str, float | None]:
        return json.loads(self.command("timing"))

    def state(self) -> dict[str, Any]:
        return json.loads(self.command("status"))

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def control_client(port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> ControlClient:
    """A connected :class:`ControlClient` for a simulator's control port."""
    return ControlClient(port, host, timeout)
