"""A virtual ESC/POS network printer on loopback: receives jobs, renders each to a PNG.

It listens like a real network printer (raw TCP, port 9100 by default, any port here),
answers ``DLE EOT 1..4`` in real time from its current state, and cuts the stream into
jobs: a job ends at a cut (``GS V``) or when the connection closes. Each job becomes
``slip-0001.png`` (the rendering), ``slip-0001.bin`` (the bytes) and ``slip-0001.json``
(what the renderer reported) in the output folder.

States are switched from Python (:meth:`VirtualPrinter.set_state`) or over a second TCP
port with a text line protocol (``state paper_out``, ``state``, ``status``, ``help``).
Like a real printer, while it is out of paper, open, offline or in error it keeps the
jobs it receives in its buffer without printing them, and prints them in order once it
is back to ``ready`` or ``paper_near_end``. ``paper N`` (or :attr:`paper_left`) makes the roll
run out during the job after the next N: that job is held and the state turns to
``paper_out``, as when a real roll ends in the middle of a slip. Two extra states stand for faulty printers:
``silent`` prints but never answers status requests, ``garbled`` prints but answers
with bytes that break the status format.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common.files import write_atomic
from printer.preview import Renderer, RenderReport, Tokenizer
from printer.status import PRINTABLE, PrinterState, encode

log = logging.getLogger(__name__)
FAULT_STATES = ("silent", "garbled")
STATES = tuple(s.value for s in PrinterState if s is not PrinterState.UNKNOWN) + FAULT_STATES
CONTROL_HELP = ("commands: state [NAME] | paper N|endless | status | jobs | help; states: " + " ".join(STATES))


@dataclass
class VirtualJob:
    number: int
    data: bytes
    received_at: float
    png: Path | None = None
    printed_at: float | None = None
    report: RenderReport | None = None
    queued: bool = field(default=False, repr=False)  # handed to the print head, not yet printed

    @property
    def printed(self) -> bool:
        return self.png is not None


@dataclass
class _Session:
    tokenizer: Tokenizer = field(default_factory=Tokenizer)
    job: bytearray = field(default_factory=bytearray)
    has_content: bool = False


class VirtualPrinter:
    """The printer; ``start()`` it, ``stop()`` it (or use ``with``)."""

    def __init__(self, out_dir: str | Path, *, host: str = "127.0.0.1", port: int = 0,
                 control_port: int | None = 0, dots: int = 576, chinese_default: bool = True,
                 font_path: Path | None = None, on_job: Callable[[VirtualJob], None] | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.host = host
        self.dots = dots
        self.chinese_default = chinese_default
        self.font_path = font_path
        self.on_job = on_job
        self._requested_port = port
        self._requested_control_port = control_port
        self._state = PrinterState.READY.value
        self._lock = threading.RLock()
        self._printed = threading.Condition(self._lock)
        self.jobs: list[VirtualJob] = []
        self._servers: list[socketserver.ThreadingTCPServer] = []
        self.port = 0
        self.control_port: int | None = None
        self.status_requests = 0
        self._next_number = 1
        # Jobs the roll still holds: None = endless; 0 = the paper runs out during the next job.
        self.paper_left: int | None = None
        # The print head: renders jobs in the order they are handed over, apart from the lock that
        # the status replies take (a real printer answers DLE EOT while it prints).
        self._to_print: queue.Queue[VirtualJob | None] = queue.Queue()
        self._head: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------------
    def start(self) -> VirtualPrinter:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._next_number = len(list(self.out_dir.glob("slip-*.bin"))) + 1
        printer = self

        class DataHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                printer._serve_data(self.request)

        class ControlHandler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                printer._serve_control(self.rfile, self.wfile)

        data_server = _Server((self.host, self._requested_port), DataHandler)
        self._servers.append(data_server)
        self.port = data_server.server_address[1]
        if self._requested_control_port is not None:
            control_server = _Server((self.host, self._requested_control_port), ControlHandler)
            self._servers.append(control_server)
            self.control_port = control_server.server_address[1]
        self._to_print = queue.Queue()
        self._head = threading.Thread(target=self._print_head, name=f"virtual-printer-head-{self.port}", daemon=True)
        self._head.start()
        for server in self._servers:
            threading.Thread(target=server.serve_forever, args=(0.05,), name=f"virtual-printer-{server.server_address[1]}",
                             daemon=True).start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []
        if self._head is not None:
            self._to_print.put(None)  # after the jobs handed over: they are printed first
            self._head.join()
            self._head = None

    def __enter__(self) -> VirtualPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str | PrinterState) -> None:
        """Switch state; back to a printable state prints every held job, in order."""
        name = state.value if isinstance(state, PrinterState) else str(state)
        if name not in STATES:
            raise ValueError(f"unknown printer state {name!r}; known: {', '.join(STATES)}")
        with self._lock:
            if self._state == PrinterState.PAPER_OUT.value and name != self._state:
                self.paper_left = None  # a fresh roll
            self._state = name
            log.info("virtual printer state: %s", name)
            if self._prints():
                for job in self.jobs:
                    if not job.printed and not job.queued:
                        self._hand_over(job)

    def _prints(self) -> bool:
        return self._state in FAULT_STATES or PrinterState(self._state) in PRINTABLE

    def _status_byte(self, n: int) -> bytes:
        if self._state == "silent":
            return b""
        if self._state == "garbled":
            return b"\x00"
        return bytes([encode(PrinterState(self._state))[n]])

    @property
    def held(self) -> list[VirtualJob]:
        with self._lock:
            return [job for job in self.jobs if not job.printed]

    @property
    def printed(self) -> list[VirtualJob]:
        with self._lock:
            return [job for job in self.jobs if job.printed]

    def wait_for_printed(self, count: int, timeout: float = 10.0) -> list[VirtualJob]:
        """Block until at least ``count`` jobs have printed; TimeoutError otherwise."""
        return self._wait(lambda: self.printed, count, timeout, "printed")

    def wait_for_received(self, count: int, timeout: float = 10.0) -> list[VirtualJob]:
        """Block until at least ``count`` jobs have arrived (printed or held); TimeoutError otherwise."""
        return self._wait(lambda: list(self.jobs), count, timeout, "received")

    def _wait(self, jobs: Callable[[], list[VirtualJob]], count: int, timeout: float, what: str
              ) -> list[VirtualJob]:
        deadline = time.monotonic() + timeout
        with self._printed:
            while len(jobs()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(jobs())} of {count} jobs {what} after {timeout} s")
                self._printed.wait(left)
            return jobs()

    # -- data port ---------------------------------------------------------------------
    def _serve_data(self, sock: socket.socket) -> None:
        session = _Session()
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                self._consume(sock, session, session.tokenizer.feed(chunk))
        except OSError as exc:
            log.debug("virtual printer connection: %s", exc)
        self._consume(None, session, session.tokenizer.close())
        if session.has_content:
            self._receive(bytes(session.job))

    def _consume(self, sock: socket.socket | None, session: _Session, commands: list) -> None:
        for cmd in commands:
            if cmd.name == "STATUS_REQUEST":
                with self._lock:
                    self.status_requests += 1
                    reply = self._status_byte(cmd.arg) if 1 <= cmd.arg <= 4 else b""
                if sock is not None and reply:
                    with contextlib.suppress(OSError):
                        sock.sendall(reply)
                continue
            session.job += cmd.data
            if cmd.name not in ("INIT", "CHINESE_ON", "CHINESE_OFF"):
                session.has_content = True
            if cmd.name == "CUT":
                self._receive(bytes(session.job))
                session.job = bytearray()
                session.has_content = False

    def _receive(self, data: bytes) -> None:
        with self._lock:
            job = VirtualJob(self._next_number, data, time.time())
            self._next_number += 1
            self.jobs.append(job)
            self._printed.notify_all()
            if self.paper_left is not None and self._prints():
                if self.paper_left <= 0:
                    self._state = PrinterState.PAPER_OUT.value
                    log.info("virtual printer ran out of paper during job %d", job.number)
                else:
                    self.paper_left -= 1
            if self._prints():
                self._hand_over(job)
            else:
                log.info("virtual printer %s: holding job %d", self._state, job.number)

    def _hand_over(self, job: VirtualJob) -> None:
        """Give ``job`` to the print head (called with the lock held, so jobs keep their order)."""
        job.queued = True
        self._to_print.put(job)

    def _print_head(self) -> None:
        while (job := self._to_print.get()) is not None:
            try:
                self._print(job)
            except Exception:  # one job that cannot be rendered must not stop the printer
                log.exception("virtual printer: job %d could not be rendered", job.number)

    def _print(self, job: VirtualJob) -> None:
        renderer = Renderer(self.dots, font_path=self.font_path, chinese_default=self.chinese_default)
        tokenizer = Tokenizer()
        renderer.feed(tokenizer.feed(job.data) + tokenizer.close())
        image = renderer.finish()
        stem = self.out_dir / f"slip-{job.number:04d}"
        # Each file appears whole (written aside, then renamed), the PNG last: whoever watches the
        # folder (staff, a test) takes a slip's PNG as the slip done, and never opens half of one.
        _write_whole(stem.with_suffix(".bin"), lambda path: path.write_bytes(job.data))
        report = renderer.report
        summary = json.dumps({
            "job": job.number, "bytes": len(job.data), "dots": self.dots, "problems": report.problems,
            "overflows": report.overflows, "qr_codes": [q.data for q in report.qr_codes],
            "cuts": len(report.cuts), "commands": dict(report.commands)}, ensure_ascii=False, indent=1)
        _write_whole(stem.with_suffix(".json"), lambda path: path.write_text(summary, encoding="utf-8"))
        png = stem.with_suffix(".png")
        _write_whole(png, lambda path: image.save(path, format="PNG"))
        with self._lock:
            job.report, job.printed_at, job.png = report, time.time(), png
            job.queued = False
            self._printed.notify_all()
        if self.on_job:
            self.on_job(job)

    # -- control port ------------------------------------------------------------------
    def _serve_control(self, rfile, wfile) -> None:
        for raw in rfile:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if line in ("quit", "exit"):
                return
            wfile.write((self.control(line) + "\n").encode("utf-8"))
            wfile.flush()

    def control(self, line: str) -> str:
        """Answer one control-protocol line (also what the TCP control port does)."""
        words = line.split()
        if not words:
            return "error empty command; " + CONTROL_HELP
        if words[0] == "state" and len(words) == 1:
            return f"state {self.state}"
        if words[0] == "state" and len(words) == 2:
            try:
                self.set_state(words[1])
            except ValueError as exc:
                return f"error {exc}"
            return f"ok {self.state}"
        if words[0] == "status":
            return json.dumps({"state": self.state, "printed": len(self.printed), "held": len(self.held),
                               "port": self.port, "dots": self.dots})
        if words[0] == "paper" and len(words) == 2:
            if words[1] == "endless":
                self.paper_left = None
            elif words[1].isdigit():
                self.paper_left = int(words[1])
            else:
                return "error paper takes a number of jobs or 'endless'"
            return f"ok paper {words[1]}"
        if words[0] == "jobs":
            return " ".join(str(job.png or f"held:{job.number}") for job in self.jobs) or "none"
        if words[0] == "help":
            return CONTROL_HELP
        return f"error unknown command {words[0]!r}; " + CONTROL_HELP


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def send_control(port: int, line: str, host: str = "127.0.0.1", timeout: float = 5.0) -> str:
    """Send one control line to a running virtual printer and return its answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(line.strip().encode("utf-8") + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode("utf-8").strip()


def _write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """``write(aside)`` to a file beside ``path``, then rename it to ``path``: it appears whole."""
    write_atomic(path, write, durable=False, aside=path.with_name(path.name + ".part"))
