"""A real HTTP server on 127.0.0.1 that sends its bodies slowly or endlessly (test tooling).

Each path is served by a :class:`Body`: ``data`` sent ``step`` bytes at a time, before each
step waiting for a ``pace`` token. A test that injects time makes its fake clock give a token
on every reading (:meth:`TrickleServer.ticking_clock`): the server then sends exactly one step
per clock reading, and nothing depends on how fast the machine is. Without a test clock the
server paces itself (``interval_s`` between steps) until it is stopped.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Body:
    data: bytes
    step: int = 1
    declared_length: int | None = None  # Content-Length sent (None: the real length)
    endless: bool = False  # repeat ``data`` for ever (a never-ending file)
    paced: bool = True
    sent: int = 0
    started: threading.Event = field(default_factory=threading.Event)


class TrickleServer:
    def __init__(self, bodies: dict[str, Body], *, interval_s: float = 0.5) -> None:
        self.bodies = bodies
        self.interval_s = interval_s
        self.tokens = threading.Semaphore(0)
        self.self_paced = True
        self.stopped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                body = server.bodies.get(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                length = body.declared_length if body.declared_length is not None else len(body.data)
                if not body.endless or body.declared_length is not None:
                    self.send_header("Content-Length", str(length))
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                body.started.set()
                with contextlib.suppress(OSError):  # the client gave up: what the tests expect
                    server._send(self, body)
                    if server.stopped.is_set():  # cut the connection: the client sees a short body at once
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a client that gave up is expected
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="trickle-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def start(self) -> TrickleServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        for _ in range(1000):
            self.tokens.release()
        self.httpd.shutdown()
        self.httpd.server_close()

    def ticking_clock(self, step_s: float = 1.0) -> Callable[[], float]:
        """A fake monotonic clock: every reading moves it ``step_s`` on and lets the server
        send one more step."""
        self.self_paced = False
        now = [0.0]

        def clock() -> float:
            self.tokens.release()
            now[0] += step_s
            return now[0]

        return clock

    def _wait_turn(self) -> bool:
        if self.self_paced:
            return not self.stopped.wait(self.interval_s)
        return self.tokens.acquire(timeout=30) and not self.stopped.is_set()

    def _send(self, handler: BaseHTTPRequestHandler, body: Body) -> None:
        position = 0
        while not self.stopped.is_set():
            if position >= len(body.data):
                if not body.endless:
                    return
                position = 0
            if body.paced and not self._wait_turn():
                return
            chunk = body.data[position:position + body.step]
            handler.wfile.write(chunk)
            handler.wfile.flush()
            body.sent += len(chunk)
            position += len(chunk)
