"""The reader's commands and a :class:`Reader` client over an open pyserial-like stream.

The stream needs ``write(bytes)``, ``read(n)`` honouring its ``timeout``,
``reset_input_buffer()`` and a ``timeout`` attribute: a ``serial.Serial`` on a real port
or on the simulator's pseudo-terminal. Before each command the input is flushed (a late
reply to an earlier command must never be taken for the answer to this one); each reply
must arrive within the reply timeout.

Request frames (checked against the reference table and a public driver's constants):

========================  ===============================
reset SAM                 AA AA AA 96 69 00 03 10 FF EC
SAM status                AA AA AA 96 69 00 03 11 FF ED
read SAM id               AA AA AA 96 69 00 03 12 FF EE
find card                 AA AA AA 96 69 00 03 20 01 22
select card               AA AA AA 96 69 00 03 20 02 21
read text + photo         AA AA AA 96 69 00 03 30 01 32
read text + photo + fp    AA AA AA 96 69 00 03 30 10 23
read newest address       AA AA AA 96 69 00 03 30 03 30
========================  ===============================
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from idcard import status as sw
from idcard.card import IdentityCard, decode_newest_address, parse_text
from idcard.clock import SYSTEM_CLOCK, Clock
from idcard.errors import (
    CardDataError,
    FrameError,
    ReplyTimeout,
    StatusError,
    TruncatedFrame,
    UnexpectedReply,
)
from idcard.frames import MIN_REPLY_LENGTH, FrameDecoder, Request, Response

log = logging.getLogger(__name__)

RESET_SAM = Request(0x10, 0xFF)
SAM_STATUS = Request(0x11, 0xFF)
READ_SAM_ID = Request(0x12, 0xFF)
FIND_CARD = Request(0x20, 0x01)
SELECT_CARD = Request(0x20, 0x02)
READ_TEXT_PHOTO = Request(0x30, 0x01)
READ_TEXT_PHOTO_FINGERPRINT = Request(0x30, 0x10)
READ_NEWEST_ADDRESS = Request(0x30, 0x03)

# Short names, used in logs, errors and the simulator's fault targeting.
COMMANDS: dict[str, Request] = {
    "reset_sam": RESET_SAM,
    "sam_status": SAM_STATUS,
    "sam_id": READ_SAM_ID,
    "find": FIND_CARD,
    "select": SELECT_CARD,
    "read": READ_TEXT_PHOTO,
    "read_fingerprint": READ_TEXT_PHOTO_FINGERPRINT,
    "newest_address": READ_NEWEST_ADDRESS,
}
COMMAND_NAMES: dict[tuple[int, int], str] = {(r.cmd, r.para): name for name, r in COMMANDS.items()}

SAM_ID_SIZE = 16


def command_name(request: Request) -> str:
    return COMMAND_NAMES.get((request.cmd, request.para), f"command {request.cmd:02X} {request.para:02X}")


class Stream(Protocol):
    """What :class:`Reader` needs from a port (``serial.Serial`` has all of it)."""

    timeout: float | None

    def write(self, data: bytes) -> int | None: ...

    def read(self, size: int = 1) -> bytes: ...

    def reset_input_buffer(self) -> None: ...


@dataclass(frozen=True)
class CardData:
    """The raw blocks of one read: 256 B text, 1024 B WLT photo, optional fingerprint data."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""


def format_sam_id(raw: bytes) -> str:
    """The SAM id as printed on modules: ``05.01-20240101-0000012345-1234567890`` (little-endian fields)."""
    if len(raw) != SAM_ID_SIZE:
        raise UnexpectedReply(f"a SAM id is {SAM_ID_SIZE} bytes, got {len(raw)}")
    head1, head2, part1, part2, part3 = struct.unpack("<HHIII", raw)
    return f"{head1:02d}.{head2:02d}-{part1:08d}-{part2:010d}-{part3:010d}"


# Status words that only one command can produce, and the data size of each success reply.
_OWN_STATUSES = {sw.FIND_CARD_SUCCESS: "find", sw.NO_CARD: "find", sw.SELECT_FAILED: "select",
                 sw.NO_CONTENT: "newest_address"}
_SUCCESS_SIZES = {"reset_sam": (0, 0), "sam_status": (0, 0), "sam_id": (SAM_ID_SIZE, SAM_ID_SIZE),
                  "select": (8, 8), "read": (4, 0xFFFF), "read_fingerprint": (6, 0xFFFF),
                  "newest_address": (16, 256)}


def reply_fits(name: str, reply: Response) -> bool:
    """Could ``reply`` answer command ``name``? Tells a late reply to an earlier command apart."""
    owner = _OWN_STATUSES.get(reply.sw3)
    if owner is not None:
        return owner == name
    if reply.sw3 != sw.SUCCESS:
        return True  # a failure status can answer any command
    low, high = _SUCCESS_SIZES.get(name, (0, 0xFFFF))
    return name != "find" and low <= len(reply.data) <= high


def parse_read_reply(data: bytes, *, fingerprint: bool) -> CardData:
    """Split the data of a read reply: lengths (2 B each, big-endian), then the blocks."""
    heads = 3 if fingerprint else 2
    if len(data) < 2 * heads:
        raise UnexpectedReply(f"read reply has {len(data)} data bytes, too few for its length fields")
    sizes = [int.from_bytes(data[2 * i : 2 * i + 2], "big") for i in range(heads)]
    expected = 2 * heads + sum(sizes)
    if len(data) != expected:
        described = " + ".join(str(size) for size in sizes)
        raise UnexpectedReply(f"read reply announces {described} bytes of card data but carries "
                              f"{len(data) - 2 * heads}")
    text_size, photo_size = sizes[0], sizes[1]
    start = 2 * heads
    text = data[start : start + text_size]
    photo = data[start + text_size : start + text_size + photo_size]
    finger = data[start + text_size + photo_size :] if fingerprint else b""
    return CardData(bytes(text), bytes(photo), bytes(finger))


class Reader:
    """Request/reply client for one reader. Not thread-safe: one caller at a time.

    ``reply_timeout`` is how long the reader may take to answer; once a reply's length is
    known, its wire time at the stream's ``baudrate`` is added, so long replies at low
    speeds are not cut off.
    """

    def __init__(self, stream: Stream, reply_timeout: float = 1.0, clock: Clock = SYSTEM_CLOCK) -> None:
        self.stream = stream
        self.reply_timeout = reply_timeout
        self.clock = clock  # the deadlines; a port in process (yizhansim://) waits on the same clock
        if getattr(stream, "timeout", None) != reply_timeout:
            stream.timeout = reply_timeout

    # -- exchange ------------------------------------------------------------------------

    def transact(self, request: Request) -> Response:
        """Send one command and return its reply frame, whatever its status word."""
        self.stream.reset_input_buffer()
        self.stream.write(request.encode())
        return self._read_reply(command_name(request))

    def _read_reply(self, name: str) -> Response:
        decoder = FrameDecoder(min_length=MIN_REPLY_LENGTH)
        started = self.clock.monotonic()
        deadline = started + self.reply_timeout
        baud = getattr(self.stream, "baudrate", None)
        received = 0
        while True:
            # Each read waits only what is left of the deadline: a port's timeout counts per read,
            # so a reply that arrives after the deadline is not taken (nor half taken).
            remaining = max(0.0, deadline - self.clock.monotonic())
            if self.stream.timeout != remaining:
                self.stream.timeout = remaining
            chunk = self.stream.read(decoder.bytes_needed())
            received += len(chunk)
            size = decoder.expected_size() if chunk else None
            if size is not None and baud:
                # The timeout is for the reader to answer; a long reply also needs its wire time
                # (1295 bytes take 1.35 s at 9600 baud).
                deadline = max(deadline, started + self.reply_timeout + size * 10 / baud)
            for item in decoder.feed(chunk):
                if isinstance(item, FrameError):
                    raise item
                reply = Response.from_body(item)
                if not reply_fits(name, reply):
                    # A late answer to an earlier command (after a timeout): not ours, keep waiting.
                    log.debug("%s: discarded %r, which answers another command", name, reply)
                    continue
                if decoder.skipped:
                    log.debug("%s: skipped %d stray byte(s) before the reply", name, decoder.skipped)
                return reply
            # Past the deadline reads do not wait (timeout 0) but still take what has arrived, so
            # a frame whose bytes are all in hand is completed; noise that keeps coming is cut off.
            if not chunk or self.clock.monotonic() >= deadline + self.reply_timeout:
                break
        expected = decoder.expected_size()
        if expected is not None:
            raise TruncatedFrame(decoder.pending, expected)
        if received:
            raise ReplyTimeout(f"{received} byte(s) in {self.reply_timeout:g} s but no reply frame")
        raise ReplyTimeout(f"no reply within {self.reply_timeout:g} s")

    def command(self, request: Request, ok: tuple[int, ...] = (sw.SUCCESS,)) -> Response:
        """Send a command; raise :class:`StatusError` unless its SW3 is one of ``ok``."""
        reply = self.transact(request)
        if reply.sw3 not in ok:
            raise StatusError(reply.status, command_name(request))
        return reply

    # -- commands ------------------------------------------------------------------------

    def reset_sam(self) -> None:
        self.command(RESET_SAM)

    def sam_status(self) -> sw.Status:
        """The SAM's status (0x90 when healthy); does not raise for a failure status."""
        return self.transact(SAM_STATUS).status

    def sam_id(self) -> str:
        reply = self.command(READ_SAM_ID)
        return format_sam_id(reply.data)

    def find_card(self) -> bool:
        """True if a card is in the field (0x9F), False for the normal 'no card' (0x80)."""
        reply = self.command(FIND_CARD, ok=(sw.FIND_CARD_SUCCESS, sw.NO_CARD))
        return reply.sw3 == sw.FIND_CARD_SUCCESS

    def select_card(self) -> bytes:
        return self.command(SELECT_CARD).data

    def read_card_data(self, *, fingerprint: bool = False) -> CardData:
        request = READ_TEXT_PHOTO_FINGERPRINT if fingerprint else READ_TEXT_PHOTO
        reply = self.command(request)
        return parse_read_reply(reply.data, fingerprint=fingerprint)

    def read_newest_address(self) -> str:
        """The appended address, or ``""`` when the card has none (0x91)."""
        reply = self.command(READ_NEWEST_ADDRESS, ok=(sw.SUCCESS, sw.NO_CONTENT))
        if reply.sw3 == sw.NO_CONTENT:
            return ""
        return decode_newest_address(reply.data)

    def read_card(self, *, fingerprint: bool = False, newest_address: bool = True,
                  today: date | None = None) -> IdentityCard:
        """Select the card found by :meth:`find_card`, read it and parse it.

        The newest address is optional on a card: if reading it fails the card is still
        returned, without it. Port errors always propagate.
        """
        self.select_card()
        data = self.read_card_data(fingerprint=fingerprint)
        appended = ""
        if newest_address:
            try:
                appended = self.read_newest_address()
            except (StatusError, FrameError, ReplyTimeout, UnexpectedReply, CardDataError) as exc:
                log.warning("newest address not read: %s", exc)
        return parse_text(data.text, photo=data.photo, fingerprint=data.fingerprint,
                          newest_address=appended, today=today)

    def wait_for_card(self, timeout: float, poll_interval: float = 0.3, *, fingerprint: bool = False,
                      newest_address: bool = True) -> IdentityCard | None:
        """Poll until a card is found and read it; None if none is placed within ``timeout``."""
        deadline = self.clock.monotonic() + timeout
        while True:
            started = self.clock.monotonic()
            if self.find_card():
                return self.read_card(fingerprint=fingerprint, newest_address=newest_address)
            if started + poll_interval >= deadline:
                return None
            self.clock.sleep(max(0.0, poll_interval - (self.clock.monotonic() - started)))
