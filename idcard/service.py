"""The reader service: a thread that polls the reader and turns what happens into events.

Events (frozen dataclasses, each with ``kind`` and a monotonic ``at``):

- :class:`ReaderOnline` ``(sam_id)``: the reader answers (at start, and after any fault or unplug);
- :class:`ReaderOffline` ``(reason)``: the port cannot be opened or has gone away (cable pulled);
- :class:`CardRead` ``(card)``: exactly once per placement of a card;
- :class:`CardRemoved` ``()``: the card left the reader (or the reader went away with it on);
- :class:`ReaderError` ``(code, reason_en, message_zh, sw3)``: a failed read (once per placement)
  or a reader fault (once per fault; :class:`ReaderOnline` follows when it clears).

With ``on_event`` the callback is called from the service thread (a UI hops the event onto
its own loop, e.g. Kivy's ``Clock.schedule_once``); an exception in it is logged and never
stops the service. Without a callback, events are put on :attr:`ReaderService.events`.

Polling follows the module vendors' advice: find card every ``poll_interval`` (300 ms by
default, no faster), flush input before every command, a reply timeout on every reply,
and after a failed read ask for the card to be placed again rather than retry on it.
Some modules answer "no card" after a read while the card is still there; the service
then reports the removal early but never reads one placement twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import serial

from idcard import status as sw
from idcard.card import IdentityCard
from idcard.clock import SYSTEM_CLOCK, Clock
from idcard.errors import (
    CardDataError,
    FrameError,
    IdCardError,
    PhotoDecoderError,
    ReplyTimeout,
    StatusError,
    UnexpectedReply,
)
from idcard.photo import PhotoDecoder
from idcard.port import open_port
from idcard.protocol import Reader

log = logging.getLogger(__name__)

# What a vanished or broken port raises: pyserial's own error, OS errors, and termios
# errors (flushing a port whose device is gone raises termios.error, not OSError).
PORT_ERRORS = (serial.SerialException, OSError, termios.error)
TRANSPORT_ERRORS = (FrameError, ReplyTimeout, UnexpectedReply)
SELECT_ATTEMPTS = 3


@dataclass(frozen=True)
class ReaderEvent:
    kind: ClassVar[str] = "event"
    at: float = field(default_factory=time.monotonic, kw_only=True, compare=False)


@dataclass(frozen=True)
class CardRead(ReaderEvent):
    kind: ClassVar[str] = "card_read"
    card: IdentityCard


@dataclass(frozen=True)
class CardRemoved(ReaderEvent):
    kind: ClassVar[str] = "card_removed"


@dataclass(frozen=True)
class ReaderError(ReaderEvent):
    kind: ClassVar[str] = "reader_error"
    code: str
    reason_en: str
    message_zh: str
    sw3: int | None = None


@dataclass(frozen=True)
class ReaderOffline(ReaderEvent):
    kind: ClassVar[str] = "reader_offline"
    reason: str


@dataclass(frozen=True)
class ReaderOnline(ReaderEvent):
    kind: ClassVar[str] = "reader_online"
    sam_id: str


class ReaderService:
    """Polls one reader in its own thread. ``start()``, then events; ``stop()`` joins the thread.

    ``state`` is ``stopped``, ``starting``, ``offline`` (no port), ``online`` or ``error``
    (the port is open but the reader does not answer properly).
    """

    def __init__(self, port: str, baud: int = 115200, poll_interval: float = 0.3, reply_timeout: float = 1.0,
                 on_event: Callable[[ReaderEvent], None] | None = None, *,
                 reconnect_interval: float = 0.5, read_fingerprint: bool = False,
                 read_newest_address: bool = True, photo_decoder: PhotoDecoder | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.port = port
        self.baud = baud
        self.poll_interval = poll_interval
        self.reply_timeout = reply_timeout
        self.on_event = on_event
        self.reconnect_interval = reconnect_interval
        self.read_fingerprint = read_fingerprint
        self.read_newest_address = read_newest_address
        self.photo_decoder = photo_decoder
        self.clock = clock  # measures the poll interval; the waits between polls are on _stop
        self.events: queue.Queue[ReaderEvent] = queue.Queue()
        self.state = "stopped"
        self.sam_id: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._serial: serial.SerialBase | None = None
        self._reader: Reader | None = None
        self._card_present = False
        self._select_failures = 0
        self._fault: str | None = None

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.state = "starting"
        self._card_present = False
        self._select_failures = 0
        self._fault = None
        self._thread = threading.Thread(target=self._run, name="idcard-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling, close the port and wait for the thread to end."""
        self._stop.set()
        port = self._serial
        if port is not None:
            try:
                port.cancel_read()  # wake a read that is waiting for its reply timeout
            except (AttributeError, TypeError, *PORT_ERRORS):
                pass
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.reply_timeout + 2)
            self._thread = None
        self.state = "stopped"

    def __enter__(self) -> ReaderService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                wait = self.poll_once()
                if self._stop.is_set():
                    break
                self._stop.wait(wait)
        finally:
            self._close()
            self.state = "stopped"

    def poll_once(self) -> float:
        """One round of the service's loop: connect if needed, then poll the reader once.

        Returns the seconds to wait before the next round. The thread calls this in a loop;
        tests call it themselves (with an in-process port and a manual clock) instead of starting
        the thread, so they never sleep.
        """
        if self._serial is None and not self._connect():
            return self.reconnect_interval
        started = self.clock.monotonic()
        try:
            self._poll()
        except PORT_ERRORS as exc:
            if not self._stop.is_set():
                self._disconnect(port_error_reason(exc))
            return 0.0
        except Exception:
            # A bug must not end card reading for the day: drop the port and start over.
            log.exception("unexpected error in the ID card reader service")
            self._disconnect("internal error in the reader service")
            return self.reconnect_interval
        return max(0.0, self.poll_interval - (self.clock.monotonic() - started))

    def _emit(self, event: ReaderEvent) -> None:
        if self._stop.is_set():
            return  # what happens while stopping (a cancelled read) is not news
        log.debug("event %r", event)
        if self.on_event is None:
            self.events.put(event)
            return
        try:
            self.on_event(event)
        except Exception as exc:
            # The callback belongs to the caller; its failure must not stop card reading.
            log.error("ID card event handler failed on %s: %s", event.kind, type(exc).__name__)

    def _connect(self) -> bool:
        try:
            port = open_port(self.port, self.baud, self.reply_timeout)
        except (ValueError, *PORT_ERRORS) as exc:
            self._go_offline(f"cannot open {self.port}: {port_error_reason(exc)}")
            return False
        self._serial = port
        self._reader = Reader(port, self.reply_timeout, self.clock)
        self._fault = None
        self.state = "error"  # until the reader proves it answers
        try:
            self._check_sam()
        except PORT_ERRORS as exc:
            self._disconnect(port_error_reason(exc))
            return False
        return True

    def _check_sam(self) -> None:
        assert self._reader is not None
        try:
            status = self._reader.sam_status()
            if not status.ok:
                raise StatusError(status, "sam_status")
            self.sam_id = self._reader.sam_id()
        except StatusError as exc:
            self._set_fault(exc.status.name, str(exc), exc.status.zh, exc.status.code)
            return
        except TRANSPORT_ERRORS as exc:
            self._set_fault(exc.code, f"sam_status: {exc}", _transport_zh(exc.code))
            return
        self._set_healthy()

    def _set_healthy(self) -> None:
        if self.state != "online":
            self.state = "online"
            self._fault = None
            log.info("ID card reader online on %s (SAM %s)", self.port, self.sam_id)
            self._emit(ReaderOnline(self.sam_id or ""))

    def _set_fault(self, code: str, reason_en: str, message_zh: str, sw3: int | None = None) -> None:
        self.state = "error"
        if code != self._fault:
            self._fault = code
            log.warning("ID card reader fault: %s", reason_en)
            self._emit(ReaderError(code, reason_en, message_zh, sw3))

    def _go_offline(self, reason: str) -> None:
        if self._card_present:
            self._card_present = False
            self._emit(CardRemoved())
        if self.state == "offline":
            log.debug("ID card reader still offline: %s", reason)
            return
        self.state = "offline"
        self._fault = None
        log.warning("ID card reader offline: %s", reason)
        self._emit(ReaderOffline(reason))

    def _disconnect(self, reason: str) -> None:
        self._close()
        self._go_offline(reason)

    def _close(self) -> None:
        port, self._serial, self._reader = self._serial, None, None
        if port is not None:
            with contextlib.suppress(PORT_ERRORS):  # the port is being given up either way
                port.close()

    def _poll(self) -> None:
        reader = self._reader
        assert reader is not None
        if self.state == "error" and self.sam_id is None:
            self._check_sam()
            if self.state != "online":
                return
        try:
            found = reader.find_card()
        except StatusError as exc:
            self._set_fault(exc.status.name, str(exc), exc.status.zh, exc.status.code)
            return
        except TRANSPORT_ERRORS as exc:
            self._set_fault(exc.code, f"find card: {exc}", _transport_zh(exc.code))
            return
        if self.state != "online":
            self._check_sam()  # a fault just cleared: confirm the SAM and announce it
            if self.state != "online":
                return
        if found and not self._card_present:
            self._card_present = True
            self._read_card(reader)
        elif not found and self._card_present:
            self._card_present = False
            self._select_failures = 0
            self._emit(CardRemoved())

    def _read_card(self, reader: Reader) -> None:
        try:
            card = reader.read_card(fingerprint=self.read_fingerprint, newest_address=self.read_newest_address)
        except StatusError as exc:
            if exc.status.code == sw.SELECT_FAILED and self._select_failures + 1 < SELECT_ATTEMPTS:
                # The card was still moving into the field: try again on the next poll.
                self._select_failures += 1
                self._card_present = False
                log.debug("select failed, retrying on the next poll")
                return
            self._card_error(exc.status.name, str(exc), exc.status.zh, exc.status.code)
            return
        except TRANSPORT_ERRORS as exc:
            self._card_error(exc.code, f"read: {exc}", sw.ASK_TO_REPLACE)
            return
        except CardDataError as exc:
            self._card_error(exc.code, str(exc), sw.TRANSPORT_MESSAGES["card_data"][1])
            return
        self._select_failures = 0
        if self.photo_decoder is not None and card.photo_wlt:
            try:
                card = dataclasses.replace(card, photo_bmp=self.photo_decoder.decode(card.photo_wlt))
            except PhotoDecoderError as exc:
                log.warning("photo not decoded: %s", exc)
        log.info("card read: %r", card)
        self._emit(CardRead(card))

    def _card_error(self, code: str, reason_en: str, message_zh: str, sw3: int | None = None) -> None:
        self._select_failures = 0
        log.warning("card not read: %s", reason_en)
        self._emit(ReaderError(code, reason_en, message_zh, sw3))


def _transport_zh(code: str) -> str:
    return sw.TRANSPORT_MESSAGES.get(code, ("", "读卡器通信异常，正在重试"))[1]


def port_error_reason(exc: BaseException) -> str:
    """A short reason for a port failure: ``No such file or directory``, ``Input/output error``..."""
    for candidate in (exc.__context__, exc):
        if isinstance(candidate, OSError) and candidate.errno and candidate.strerror:
            if not isinstance(candidate, serial.SerialException):
                return candidate.strerror
    if isinstance(exc, termios.error) and len(exc.args) > 1:
        return str(exc.args[1])
    return str(exc) or type(exc).__name__


__all__ = [
    "CardRead",
    "CardRemoved",
    "IdCardError",
    "ReaderError",
    "ReaderEvent",
    "ReaderOffline",
    "ReaderOnline",
    "ReaderService",
    "port_error_reason",
]
