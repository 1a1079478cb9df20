"""A virtual ID card reader on a pseudo-terminal, byte-exact and with wire timing.

pyserial opens the simulator's path like a real port. The path is a symlink (in a
temporary directory unless given) to the current pseudo-terminal, so that unplugging
really makes the device node vanish: the pseudo-terminal is closed (the open port gets
I/O errors, as with a pulled USB cable) and the symlink removed; plugging in again makes
a new pseudo-terminal and puts the symlink back.

Replies leave at the configured baud rate (10 bits per byte, 8N1): a reply starts once
the whole request would have arrived, and its bytes are released no faster than the
wire allows, so latency measured over the simulator is what a real port would give
(the card's own radio and SAM time are not modelled; ``slow_sam`` adds a delay).

Faults for tests and staff training: garbage before a reply, a corrupted checksum, a
truncated reply (by default these hit the next card-read reply; ``command=None`` hits
the next reply of any kind), slow SAM, SAM self-test failure (0x60) and read failure
(0x41). The same controls are available as text commands (:meth:`Simulator.handle_command`)
on stdin or on a TCP control port on 127.0.0.1 (:func:`control_client`).
"""

from __future__ import annotations

import collections
import fcntl
import json
import logging
import os
import select
import socket
import socketserver
import struct
import tempfile
import threading
import time
import tty
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idcard import status as sw
from idcard.card import PHOTO_SIZE, IdentityCard, build_text_block, encode_newest_address
from idcard.errors import ChecksumError, FrameError, IdCardError, OverlongFrame
from idcard.frames import HEADER_SIZE, FrameDecoder, Request, Response
from idcard.protocol import COMMAND_NAMES, COMMANDS
from idcard.samples import DESCRIPTIONS, SAMPLE_IDENTITIES, fake_bytes

log = logging.getLogger(__name__)

LINK_NAME = "ttyIDCARD"
DEFAULT_SAM_ID = struct.pack("<HHIII", 5, 1, 20240101, 12345, 1234567890)
# Line noise with near-misses of the preamble (two AAs, a wrong fifth byte) to exercise resync.
GARBAGE = bytes([0x00, 0xFF, 0x55, 0xAA, 0xAA, 0x96, 0x69, 0x13, 0xAA, 0xAA, 0xAA, 0x96, 0x00, 0x42, 0xAA, 0x7E])
READ_COMMANDS = ("read", "read_fingerprint")
FAULT_KINDS = ("garbage", "badsum", "truncate")
PACING_PERIOD = 0.004  # seconds of wire time released per write while pacing


def wire_time(size: int, baud: int) -> float:
    """Seconds a ``size``-byte frame takes on an 8N1 line (10 bits per byte)."""
    return size * 10 / baud


@dataclass
class _Pty:
    master: int
    slave: int
    device: str


@dataclass
class _Fault:
    kind: str
    command: str | None

    def matches(self, name: str | None) -> bool:
        if self.command is None:
            return True
        if self.command == "read":
            return name in READ_COMMANDS
        return self.command == name


class SimulatorError(IdCardError):
    """A control command that cannot be carried out (bad card number, unknown command...)."""


class Simulator:
    """A GA/T 467 reader on a pseudo-terminal. Use as a context manager or ``start()``/``stop()``."""

    def __init__(self, identities: Sequence[IdentityCard] | None = None, baud: int = 115200,
                 honour_timing: bool = True, link: str | os.PathLike[str] | None = None,
                 sam_id: bytes = DEFAULT_SAM_ID) -> None:
        self.identities: list[IdentityCard] = list(identities if identities is not None else SAMPLE_IDENTITIES)
        self.baud = baud
        self.honour_timing = honour_timing
        self.sam_id_bytes = sam_id
        self.requests: collections.Counter[str] = collections.Counter()
        self.quit_requested = threading.Event()
        self._link_arg = Path(link) if link else None
        self._link: Path | None = None
        self._tmpdir: str | None = None
        self._lock = threading.RLock()
        self._pty: _Pty | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._ops: collections.deque[tuple[str, threading.Event]] = collections.deque()
        self._decoder = FrameDecoder()
        self._first_byte_at = 0.0
        self._control: _ControlServer | None = None
        # card and fault state, guarded by _lock
        self._placed: int | None = None
        self._gap = False
        self._selected = False
        self._read_done = False
        self._faults: list[_Fault] = []
        self._slow = 0.0
        self._sam_failed = False
        self._read_failures = 0
        self._timing: dict[str, float | None] = {"placed_at": None, "detected_at": None}

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> str:
        """Create the pseudo-terminal and the symlink, start answering; return the port path."""
        if self._thread is not None:
            return self.path
        if self._link_arg is not None:
            if self._link_arg.exists() and not self._link_arg.is_symlink():
                raise SimulatorError(f"{self._link_arg} exists and is not a symlink; choose another --link")
            self._link = self._link_arg
        else:
            self._tmpdir = tempfile.mkdtemp(prefix="yizhan-idcard-")
            self._link = Path(self._tmpdir) / LINK_NAME
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._plug_in()
        self._thread = threading.Thread(target=self._run, name="idcard-simulator", daemon=True)
        self._thread.start()
        log.info("simulated ID card reader at %s (%s, %d baud)", self.path, self.device, self.baud)
        return self.path

    def stop(self) -> None:
        """Stop answering, close the pseudo-terminal, remove the symlink and the control port."""
        if self._control is not None:
            self._control.shutdown()
            self._control.server_close()
            self._control = None
        if self._thread is not None:
            self._request_op("stop")
            self._thread.join(timeout=5)
            self._thread = None
        self._unplug_now()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        if self._tmpdir:
            try:
                os.rmdir(self._tmpdir)
            except OSError:
                pass
            self._tmpdir = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def path(self) -> str:
        """The stable port path to configure (a symlink to the current pseudo-terminal)."""
        if self._link is None:
            raise SimulatorError("the simulator is not started")
        return str(self._link)

    @property
    def device(self) -> str | None:
        """The current pseudo-terminal (``/dev/pts/N``), None while unplugged."""
        pty = self._pty
        return pty.device if pty else None

    @property
    def plugged(self) -> bool:
        return self._pty is not None

    # -- cards ---------------------------------------------------------------------------

    def place(self, index: int) -> IdentityCard:
        """Put sample card ``index`` on the reader (taking off any card that was there)."""
        if not 0 <= index < len(self.identities):
            raise SimulatorError(f"no card {index}: choose 0 to {len(self.identities) - 1} ('list' shows them)")
        with self._lock:
            # Swapping cards takes the old one out of the field: one poll must see no card.
            self._gap = self._placed is not None
            self._placed = index
            self._selected = self._read_done = False
            self._timing = {"placed_at": time.monotonic(), "detected_at": None}
        return self.identities[index]

    def remove(self) -> None:
        """Take the card off the reader."""
        with self._lock:
            self._placed = None
            self._gap = self._selected = self._read_done = False

    @property
    def placed(self) -> int | None:
        return self._placed

    def timing(self) -> dict[str, float | None]:
        """Monotonic times of the last placement and of the find-card request that first saw it."""
        with self._lock:
            return dict(self._timing)

    # -- faults --------------------------------------------------------------------------

    def unplug(self) -> None:
        """Pull the cable: the open port fails and the device node disappears."""
        self._request_op("unplug")

    def replug(self) -> None:
        """Plug the cable back in: a new pseudo-terminal behind the same path."""
        self._request_op("replug")

    def inject_garbage(self, command: str | None = "read") -> None:
        """Send line noise before the next reply to ``command`` (None: the next reply)."""
        self._add_fault("garbage", command)

    def corrupt_next_checksum(self, command: str | None = "read") -> None:
        """Corrupt the check byte of the next reply to ``command`` (None: the next reply)."""
        self._add_fault("badsum", command)

    def truncate_next_frame(self, command: str | None = "read") -> None:
        """Send only the first half of the next reply to ``command`` (None: the next reply)."""
        self._add_fault("truncate", command)

    def slow_sam(self, seconds: float) -> None:
        """Delay every reply by ``seconds`` (0 to stop)."""
        if seconds < 0:
            raise SimulatorError("a delay cannot be negative")
        with self._lock:
            self._slow = float(seconds)

    def sam_failure(self, on: bool = True) -> None:
        """Make the SAM fail its self-test: every command answers 0x60 until turned off."""
        with self._lock:
            self._sam_failed = on

    def read_failure(self, count: int = 1) -> None:
        """Make the next ``count`` card reads answer 0x41 (read failed)."""
        with self._lock:
            self._read_failures = max(0, int(count))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._slow = 0.0
            self._sam_failed = False
            self._read_failures = 0

    def _add_fault(self, kind: str, command: str | None) -> None:
        if command is not None and command not in COMMANDS:
            raise SimulatorError(f"unknown command {command!r}: use one of {', '.join(COMMANDS)} or any")
        with self._lock:
            self._faults.append(_Fault(kind, command))

    # -- replies -------------------------------------------------------------------------

    def reply_to(self, request: Request) -> Response:
        """The reader's answer to one request, from the current card and fault state."""
        name = COMMAND_NAMES.get((request.cmd, request.para))
        with self._lock:
            if name is None:
                return Response(0x21)
            if self._sam_failed:
                return Response(sw.SAM_SELF_TEST_FAILED)
            card = self.identities[self._placed] if self._placed is not None else None
            if name in ("reset_sam", "sam_status"):
                return Response(sw.SUCCESS)
            if name == "sam_id":
                return Response(sw.SUCCESS, self.sam_id_bytes)
            if name == "find":
                if card is not None and not self._gap:
                    return Response(sw.FIND_CARD_SUCCESS, bytes(4))
                self._gap = False
                return Response(sw.NO_CARD)
            if name == "select":
                if card is None or self._gap:
                    return Response(sw.SELECT_FAILED)
                self._selected = True
                return Response(sw.SUCCESS, bytes(8))
            if name in READ_COMMANDS:
                if card is None or not self._selected:
                    return Response(sw.READ_FAILED)
                if self._read_failures:
                    self._read_failures -= 1
                    return Response(sw.READ_FAILED)
                self._read_done = True
                return Response(sw.SUCCESS, read_reply_data(card, fingerprint=name == "read_fingerprint"))
            # newest address
            if card is None or not self._read_done:
                return Response(sw.READ_FAILED)
            if not card.newest_address:
                return Response(sw.NO_CONTENT)
            return Response(sw.SUCCESS, encode_newest_address(card.newest_address))

    def _reply_frame(self, name: str | None, frame: bytes) -> bytes:
        with self._lock:
            for kind in FAULT_KINDS:
                fault = next((f for f in self._faults if f.kind == kind and f.matches(name)), None)
                if fault is None:
                    continue
                self._faults.remove(fault)
                if kind == "badsum":
                    frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
                elif kind == "truncate":
                    frame = frame[: max(HEADER_SIZE, len(frame) // 2)]
                else:
                    frame = GARBAGE + frame
        return frame

    # -- the I/O thread ------------------------------------------------------------------

    def _request_op(self, op: str) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._do_op(op)
            return
        done = threading.Event()
        self._ops.append((op, done))
        self._wake()
        if not done.wait(timeout=5):
            raise SimulatorError(f"the simulator did not carry out {op!r}")

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except (BlockingIOError, OSError):
            pass

    def _do_op(self, op: str) -> bool:
        """Carry out a queued operation; True if the thread must stop."""
        if op == "unplug":
            self._unplug_now()
        elif op == "replug":
            if self._pty is None:
                self._plug_in()
        elif op == "stop":
            return True
        return False

    def _process_ops(self) -> bool:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        stop = False
        while self._ops:
            op, done = self._ops.popleft()
            stop = self._do_op(op) or stop
            done.set()
        return stop

    def _plug_in(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing, 8-bit clean until the client sets its own
        os.set_blocking(master, False)
        fcntl.fcntl(master, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        fcntl.fcntl(slave, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        pty = _Pty(master, slave, os.ttyname(slave))
        assert self._link is not None
        temporary = self._link.with_name(self._link.name + ".new")
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        os.symlink(pty.device, temporary)
        os.replace(temporary, self._link)
        self._decoder.reset()
        with self._lock:
            self._pty = pty
            self._selected = self._read_done = False

    def _unplug_now(self) -> None:
        with self._lock:
            pty, self._pty = self._pty, None
            self._selected = self._read_done = False
        if self._link is not None and self._link.is_symlink():
            self._link.unlink()
        if pty is not None:
            # The master first: the client's open port then reads EOF / gets EIO, like a pulled cable.
            os.close(pty.master)
            os.close(pty.slave)
        self._decoder.reset()

    def _run(self) -> None:
        while True:
            pty = self._pty
            fds = [self._wake_r] + ([pty.master] if pty else [])
            ready, _, _ = select.select(fds, [], [])
            if self._wake_r in ready:
                if self._process_ops():
                    return
                continue
            if pty is None or pty.master not in ready:
                continue
            try:
                data = os.read(pty.master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                time.sleep(0.01)  # no client side open right now
                continue
            now = time.monotonic()
            if self._decoder.pending == 0:
                self._first_byte_at = now
            for item in self._decoder.feed(data):
                if self._handle(pty, item):
                    return
                if self._pty is not pty:
                    break
                self._first_byte_at = now

    def _handle(self, pty: _Pty, item: bytes | FrameError) -> bool:
        """Answer one decoded request (or a bad one); True if a stop was requested meanwhile."""
        if isinstance(item, OverlongFrame):
            return False  # noise, not a request: a real module stays silent
        if isinstance(item, FrameError):
            name, size = None, HEADER_SIZE + 3
            reply = Response(0x10 if isinstance(item, ChecksumError) else 0x11)
        else:
            size = len(item) + HEADER_SIZE + 1
            request = Request.from_body(item)  # the decoder guarantees CMD and PARA
            name = COMMAND_NAMES.get((request.cmd, request.para))
            with self._lock:
                self.requests[name or "unknown"] += 1
            reply = self.reply_to(request)
            if name == "find" and reply.sw3 == sw.FIND_CARD_SUCCESS:
                with self._lock:
                    if self._timing["detected_at"] is None:
                        self._timing["detected_at"] = self._first_byte_at
        with self._lock:
            delay = self._slow
        frame = self._reply_frame(name, reply.encode())
        arrived = self._first_byte_at + (wire_time(size, self.baud) if self.honour_timing else 0.0)
        start_at = max(arrived, time.monotonic()) + delay
        return self._send(pty, frame, start_at)

    def _send(self, pty: _Pty, data: bytes, start_at: float) -> bool:
        byte_time = wire_time(1, self.baud) if self.honour_timing else 0.0
        sent = 0
        while sent < len(data):
            now = time.monotonic()
            if byte_time:
                due = min(len(data), int((now - start_at) / byte_time)) if now >= start_at else 0
            else:
                due = len(data) if now >= start_at else 0
            if due > sent:
                self._write(pty, data[sent:due])
                sent = due
                continue
            chunk = max(1, int(PACING_PERIOD / byte_time)) if byte_time else len(data)
            target = start_at + min(len(data), sent + chunk) * byte_time
            stop = self._sleep_until(target)
            if stop or self._pty is not pty:
                return stop
        return False

    def _write(self, pty: _Pty, data: bytes) -> None:
        try:
            os.write(pty.master, data)
        except BlockingIOError:
            log.debug("client is not reading; %d byte(s) dropped", len(data))
        except OSError as exc:
            log.debug("write to the pseudo-terminal failed: %s", exc)

    def _sleep_until(self, target: float) -> bool:
        """Wait until ``target`` unless woken for an operation; True if a stop was requested."""
        while True:
            remaining = target - time.monotonic()
            if remaining <= 0:
                return False
            ready, _, _ = select.select([self._wake_r], [], [], remaining)
            if ready:
                if self._process_ops():
                    return True
                return False

    # -- control commands ----------------------------------------------------------------

    def describe(self) -> list[str]:
        """One line per sample identity, masked."""
        lines = []
        for index, card in enumerate(self.identities):
            note = DESCRIPTIONS[index] if self.identities[index] is _sample(index) else ""
            lines.append(f"{index:>2}  {card}  {note}".rstrip())
        return lines

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "path": str(self._link) if self._link else None,
                "device": self.device,
                "plugged": self.plugged,
                "baud": self.baud,
                "placed": self._placed,
                "slow_sam_s": self._slow,
                "sam_failure": self._sam_failed,
                "read_failures": self._read_failures,
                "pending_faults": [f"{f.kind}:{f.command or 'any'}" for f in self._faults],
                "requests": dict(self.requests),
            }

    def handle_command(self, line: str) -> list[str]:
        """Carry out one text command; the last line of the answer starts with ``ok`` or ``error``."""
        words = line.split()
        if not words:
            return ["error empty command (try 'help')"]
        verb, args = words[0].lower(), words[1:]
        try:
            return self._command(verb, args)
        except SimulatorError as exc:
            return [f"error {exc}"]
        except (ValueError, IndexError):
            return [f"error bad arguments for {verb!r} (try 'help')"]

    def _command(self, verb: str, args: list[str]) -> list[str]:
        answer = self._card_command(verb, args)
        if answer is None:
            answer = self._fault_command(verb, args)
        if answer is None:
            raise SimulatorError(f"unknown command {verb!r} (try 'help')")
        return answer

    def _card_command(self, verb: str, args: list[str]) -> list[str] | None:
        """Commands about the card, the plug and the simulator itself; None if not one of them."""
        if verb == "help":
            return [*HELP.splitlines(), "ok"]
        if verb == "list":
            return [*self.describe(), f"ok {len(self.identities)} cards"]
        if verb == "place":
            card = self.place(int(args[0]))
            return [f"ok placed card {args[0]}: {card}"]
        if verb == "remove":
            self.remove()
            return ["ok card removed"]
        if verb == "unplug":
            self.unplug()
            return ["ok unplugged"]
        if verb == "replug":
            self.replug()
            return [f"ok plugged in: {self.path} -> {self.device}"]
        if verb == "status":
            return [f"ok {json.dumps(self.state(), ensure_ascii=False)}"]
        if verb == "timing":
            return [f"ok {json.dumps(self.timing())}"]
        if verb in ("quit", "exit"):
            self.quit_requested.set()
            return ["ok bye"]
        return None

    def _fault_command(self, verb: str, args: list[str]) -> list[str] | None:
        """Commands that arm a fault for later replies; None if not one of them."""
        target = _target(args)
        if verb == "garbage":
            self.inject_garbage(target)
            return [f"ok garbage before {_next_reply(target)}"]
        if verb == "badsum":
            self.corrupt_next_checksum(target)
            return [f"ok bad checksum on {_next_reply(target)}"]
        if verb == "truncate":
            self.truncate_next_frame(target)
            return [f"ok {_next_reply(target)} will be cut short"]
        if verb == "slow":
            self.slow_sam(float(args[0]) if args else 2.0)
            return [f"ok replies delayed by {self._slow:g} s"]
        if verb == "samfail":
            on = not args or args[0].lower() not in ("off", "0", "no")
            self.sam_failure(on)
            return [f"ok SAM self-test failure {'on' if on else 'off'}"]
        if verb == "readfail":
            count = int(args[0]) if args else 1
            self.read_failure(count)
            return [f"ok the next {count} read(s) will fail (0x41)"]
        if verb == "clear":
            self.clear_faults()
            return ["ok faults cleared"]
        return None

    def serve_control(self, port: int = 0) -> int:
        """Accept text commands on 127.0.0.1:``port`` (0: any free port); return the port."""
        if self._control is None:
            self._control = _ControlServer(("127.0.0.1", port), _ControlHandler, self)
            threading.Thread(target=self._control.serve_forever, name="idcard-simulator-control",
                             kwargs={"poll_interval": 0.2}, daemon=True).start()
        return self._control.server_address[1]


def _sample(index: int) -> IdentityCard | None:
    return SAMPLE_IDENTITIES[index] if index < len(SAMPLE_IDENTITIES) else None


def _next_reply(target: str | None) -> str:
    return "the next reply" if target is None else f"the next {target} reply"


def _target(args: list[str]) -> str | None:
    if not args:
        return "read"
    word = args[0].lower()
    return None if word == "any" else word


def read_reply_data(card: IdentityCard, *, fingerprint: bool) -> bytes:
    """The data of a read reply for ``card``: length fields, text, photo (and fingerprint)."""
    text = build_text_block(card)
    photo = card.photo_wlt if len(card.photo_wlt) == PHOTO_SIZE else fake_bytes(card.id_number, PHOTO_SIZE)
    sizes = [len(text), len(photo)]
    blocks = [text, photo]
    if fingerprint:
        sizes.append(len(card.fingerprint))
        blocks.append(card.fingerprint)
    return b"".join(size.to_bytes(2, "big") for size in sizes) + b"".join(blocks)


HELP = """\
commands (one per line):
  list                 the sample cards
  place N              put card N on the reader
  remove               take the card off
  unplug / replug      pull / reconnect the reader's cable
  garbage [CMD|any]    line noise before the next reply (default: the next card read)
  badsum [CMD|any]     corrupt the checksum of the next reply (default: the next card read)
  truncate [CMD|any]   cut the next reply short (default: the next card read)
  slow SECONDS         delay every reply (slow 0 to stop)
  samfail [off]        SAM self-test failure 0x60 on every command (until 'samfail off')
  readfail [N]         the next N card reads fail with 0x41
  clear                clear all faults
  status / timing      the simulator's state / the last placement's times (JSON)
  quit                 stop the simulator
CMD is one of: """ + ", ".join(COMMANDS)


class _ControlServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[socketserver.BaseRequestHandler],
                 simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, handler)


class _ControlHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        simulator: Simulator = self.server.simulator
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
