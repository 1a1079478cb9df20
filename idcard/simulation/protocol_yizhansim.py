"""``yizhansim://NAME``: a :class:`ReaderModel` served in this process as a pyserial port.

Register a model with :func:`serve_in_process` (it returns the URL), then open the URL with
:func:`idcard.port.open_port` like any port. A write is answered at once into the read buffer
(frames in, frames out); no thread, no pseudo-terminal, no sleeping. Time is the model's
clock: a reply held back by ``slow_sam`` becomes readable when the clock reaches it, and a read
that finds nothing waits its ``timeout`` on that clock (a :class:`~idcard.clock.ManualClock`
just moves on). An unplugged model fails open ports and cannot be opened, like a pulled cable.
"""

from __future__ import annotations

import itertools
import threading
import urllib.parse
from typing import Any

from serial import PortNotOpenError, SerialBase, SerialException

from idcard.frames import FrameDecoder
from idcard.simulation.model import ReaderModel

SCHEME = "yizhansim"
_models: dict[str, ReaderModel] = {}
_names = itertools.count(1)
_lock = threading.Lock()


def serve_in_process(model: ReaderModel, name: str | None = None) -> str:
    """Make ``model`` openable as ``yizhansim://NAME``; return that URL."""
    with _lock:
        name = name or f"reader{next(_names)}"
        _models[name] = model
    return f"{SCHEME}://{name}"


def withdraw(url: str) -> None:
    """Forget a model served by :func:`serve_in_process`."""
    with _lock:
        _models.pop(urllib.parse.urlsplit(url).netloc, None)


class Serial(SerialBase):
    """The pyserial port class pyserial's ``serial_for_url`` finds for ``yizhansim://``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._model: ReaderModel | None = None
        self._decoder = FrameDecoder()
        self._pending: list[tuple[float, bytes]] = []  # (readable from, bytes), in order
        super().__init__(*args, **kwargs)

    def open(self) -> None:
        if self.is_open:
            raise SerialException("port already open")
        if self._port is None:
            raise SerialException("port must be configured before it can be used")
        parts = urllib.parse.urlsplit(self._port)
        if parts.scheme != SCHEME:
            raise SerialException(f"expected a URL of the form {SCHEME}://NAME, not {self._port!r}")
        with _lock:
            model = _models.get(parts.netloc)
        if model is None:
            raise SerialException(f"could not open port {self._port}: no simulated reader of that name")
        if not model.plugged:
            raise SerialException(f"could not open port {self._port}: [Errno 2] No such file or directory")
        self._model = model
        self._decoder.reset()
        self._pending.clear()
        self.is_open = True

    def _reconfigure_port(self) -> None:
        pass  # no line settings to apply

    def close(self) -> None:
        self.is_open = False
        self._model = None

    def _live(self) -> ReaderModel:
        if not self.is_open or self._model is None:
            raise PortNotOpenError()
        if not self._model.plugged:
            raise SerialException("read failed: [Errno 5] Input/output error (device disconnected)")
        return self._model

    def write(self, data: bytes) -> int:
        model = self._live()
        now = model.clock.monotonic()
        for item in self._decoder.feed(bytes(data)):
            answer = model.answer(item, now)
            if answer is not None:
                # One wire: a reply cannot overtake an earlier, slower one.
                ready_at = max([now + answer.delay] + [at for at, _ in self._pending[-1:]])
                self._pending.append((ready_at, answer.frame))
        return len(data)

    def _ready(self, now: float) -> bytearray:
        out = bytearray()
        while self._pending and self._pending[0][0] <= now:
            out += self._pending.pop(0)[1]
        return out

    def read(self, size: int = 1) -> bytes:
        model = self._live()
        clock = model.clock
        buffered = self._ready(clock.monotonic())
        if not buffered and self._pending and self._timeout is not None:
            # Nothing yet: wait on the model's clock, at most the timeout, for the next reply.
            wait = min(self._timeout, self._pending[0][0] - clock.monotonic())
            clock.sleep(wait)
            buffered = self._ready(clock.monotonic())
        elif not buffered and self._timeout:
            clock.sleep(self._timeout)
        data, rest = bytes(buffered[:size]), bytes(buffered[size:])
        if rest:
            self._pending.insert(0, (clock.monotonic(), rest))
        return data

    @property
    def in_waiting(self) -> int:
        return sum(len(b) for at, b in self._pending if at <= self._live().clock.monotonic())

    def reset_input_buffer(self) -> None:
        """Drop what has arrived; a late reply still on its way arrives afterwards, as on a wire."""
        self._ready(self._live().clock.monotonic())

    def reset_output_buffer(self) -> None:
        self._live()

    def cancel_read(self) -> None:
        pass  # reads never block on a real clock

    def cancel_write(self) -> None:
        pass
