"""The simulated reader on a pseudo-terminal, for ``yizhan idcard simulate`` and real clients.

pyserial opens the port path like a real port. The path is a symlink (in a temporary
directory unless given) to the current pseudo-terminal, so that unplugging really makes the
device node vanish: the pseudo-terminal is closed (the open port gets I/O errors, as with a
pulled USB cable) and the symlink removed; plugging in again makes a new pseudo-terminal and
puts the symlink back.

Replies leave at the configured baud rate (10 bits per byte, 8N1): a reply starts once the
whole request would have arrived, and its bytes are released no faster than the wire allows,
so latency measured here is what a real port would give. This is real time on purpose (a
client in another process is on the other end); tests that need no wire use
``yizhansim://`` in process instead.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import logging
import os
import select
import tempfile
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from idcard.errors import FrameError
from idcard.frames import FrameDecoder
from idcard.simulation.model import ReaderModel, SimulatorError, wire_time

log = logging.getLogger(__name__)

LINK_NAME = "ttyIDCARD"
PACING_PERIOD = 0.004  # seconds of wire time released per write while pacing


@dataclass
class _Pty:
    master: int
    slave: int
    device: str


class PtyTransport:
    """Serves a :class:`ReaderModel` on a pseudo-terminal from its own thread."""

    def __init__(self, model: ReaderModel, honour_timing: bool = True,
                 link: str | os.PathLike[str] | None = None) -> None:
        self.model = model
        self.honour_timing = honour_timing
        self._link_arg = Path(link) if link else None
        self._link: Path | None = None
        self._tmpdir: str | None = None
        self._pty: _Pty | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._ops: collections.deque[tuple[str, threading.Event]] = collections.deque()
        self._decoder = FrameDecoder()
        self._first_byte_at = 0.0

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
        log.info("simulated ID card reader at %s (%s, %d baud)", self.path, self.device, self.model.baud)
        return self.path

    def stop(self) -> None:
        """Stop answering, close the pseudo-terminal, remove the symlink and the control port."""
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
            with contextlib.suppress(OSError):
                os.rmdir(self._tmpdir)
            self._tmpdir = None

    def __enter__(self) -> PtyTransport:
        self.start()
        return self

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

    def unplug(self) -> None:
        """Pull the cable: the open port fails and the device node disappears."""
        self._request_op("unplug")

    def replug(self) -> None:
        """Plug the cable back in: a new pseudo-terminal behind the same path."""
        self._request_op("replug")

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
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"!")

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
        self._pty = pty
        self.model.cable_reset()

    def _unplug_now(self) -> None:
        pty, self._pty = self._pty, None
        self.model.cable_reset()
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
        answer = self.model.answer(item, self._first_byte_at)
        if answer is None:
            return False
        wire = wire_time(answer.request_size, self.model.baud) if self.honour_timing else 0.0
        start_at = max(self._first_byte_at + wire, time.monotonic()) + answer.delay
        return self._send(pty, answer.frame, start_at)

    def _send(self, pty: _Pty, data: bytes, start_at: float) -> bool:
        byte_time = wire_time(1, self.model.baud) if self.honour_timing else 0.0
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
