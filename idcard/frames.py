"""GA/T 467 frames: encoding, strict decoding and a streaming decoder that resynchronises.

A frame is ``AA AA AA 96 69 | LEN_H LEN_L | body | CHK``. ``LEN`` (big-endian) counts the
body and the check byte; ``CHK`` is the XOR of the two length bytes and the body. In a
request the body is ``CMD PARA DATA...``; in a reply it is ``SW1 SW2 SW3 DATA...``.

:func:`decode` checks one complete frame and says exactly what is wrong with a bad one.
:class:`FrameDecoder` takes bytes as they arrive, skips stray bytes until the preamble,
reads the header, then the announced length, and reports bad frames as error items
instead of raising so that one bad frame never stops the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from idcard.errors import (
    ChecksumError,
    FrameError,
    LengthError,
    OverlongFrame,
    PreambleError,
    TruncatedFrame,
)
from idcard.status import Status, lookup

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_SIZE = len(PREAMBLE) + 2
# The longest reply the protocol defines is text + photo + fingerprint: LEN 0x090A (2321-byte
# frame). Anything announcing more than this limit is noise that happens to contain a preamble.
MAX_LENGTH = 0x0A00
MIN_REQUEST_LENGTH = 3  # CMD PARA CHK
MIN_REPLY_LENGTH = 4  # SW1 SW2 SW3 CHK


def checksum(data: bytes) -> int:
    """XOR of all bytes (the protocol's check byte over the length field and the body)."""
    return reduce(lambda acc, byte: acc ^ byte, data, 0)


def encode(body: bytes) -> bytes:
    """A whole frame around ``body`` (request ``CMD PARA DATA`` or reply ``SW1 SW2 SW3 DATA``)."""
    length = len(body) + 1
    if length > 0xFFFF:
        raise ValueError(f"a frame body holds at most 65534 bytes, got {len(body)}")
    length_bytes = length.to_bytes(2, "big")
    return PREAMBLE + length_bytes + body + bytes([checksum(length_bytes + body)])


def frame_size(length: int) -> int:
    """Whole frame size for a length-field value."""
    return length + HEADER_SIZE


def decode(frame: bytes, *, min_length: int = MIN_REQUEST_LENGTH, max_length: int = MAX_LENGTH) -> bytes:
    """The body of exactly one complete frame; :class:`~idcard.errors.FrameError` says what is wrong."""
    frame = bytes(frame)
    if not frame.startswith(PREAMBLE):
        if PREAMBLE.startswith(frame):
            raise TruncatedFrame(len(frame), HEADER_SIZE)
        raise PreambleError(f"frame does not start with the preamble {PREAMBLE.hex(' ').upper()}: "
                            f"it starts with {frame[:5].hex(' ').upper()}")
    if len(frame) < HEADER_SIZE:
        raise TruncatedFrame(len(frame), HEADER_SIZE)
    length = int.from_bytes(frame[5:7], "big")
    if length > max_length:
        raise OverlongFrame(length, max_length)
    if length < min_length:
        raise LengthError(f"length field {length} is shorter than the smallest frame ({min_length})")
    expected = frame_size(length)
    if len(frame) < expected:
        raise TruncatedFrame(len(frame), expected)
    if len(frame) > expected:
        raise LengthError(f"frame is {len(frame)} bytes but its length field {length} makes it {expected} bytes")
    computed = checksum(frame[5:-1])
    if computed != frame[-1]:
        raise ChecksumError(frame[-1], computed)
    return frame[7:-1]


@dataclass(frozen=True)
class Request:
    """A command to the reader: ``CMD PARA DATA``."""

    cmd: int
    para: int
    data: bytes = b""

    def encode(self) -> bytes:
        return encode(bytes([self.cmd, self.para]) + self.data)

    @classmethod
    def from_body(cls, body: bytes) -> Request:
        if len(body) < 2:
            raise LengthError(f"a request body has at least CMD and PARA, got {len(body)} byte(s)")
        return cls(body[0], body[1], bytes(body[2:]))

    def __repr__(self) -> str:
        extra = f" +{len(self.data)} B" if self.data else ""
        return f"Request({self.cmd:02X} {self.para:02X}{extra})"


@dataclass(frozen=True)
class Response:
    """A reply from the reader: status words and data. ``SW1`` and ``SW2`` are 0 in practice."""

    sw3: int
    data: bytes = b""
    sw1: int = 0
    sw2: int = 0

    @property
    def status(self) -> Status:
        return lookup(self.sw3)

    def encode(self) -> bytes:
        return encode(bytes([self.sw1, self.sw2, self.sw3]) + self.data)

    @classmethod
    def from_body(cls, body: bytes) -> Response:
        if len(body) < 3:
            raise LengthError(f"a reply body has at least SW1 SW2 SW3, got {len(body)} byte(s)")
        return cls(sw3=body[2], data=bytes(body[3:]), sw1=body[0], sw2=body[1])

    def __repr__(self) -> str:
        return f"Response(SW {self.sw1:02X} {self.sw2:02X} {self.sw3:02X}, {len(self.data)} B)"


def decode_response(frame: bytes) -> Response:
    """Strictly decode one whole reply frame."""
    return Response.from_body(decode(frame, min_length=MIN_REPLY_LENGTH))


def decode_request(frame: bytes) -> Request:
    """Strictly decode one whole request frame."""
    return Request.from_body(decode(frame, min_length=MIN_REQUEST_LENGTH))


class FrameDecoder:
    """Incremental decoder: ``feed(bytes)`` returns frame bodies and :class:`FrameError` items.

    Stray bytes before a preamble are skipped (counted in ``skipped``). After a bad frame
    (bad checksum, impossible length) only its first byte is dropped and the search for a
    preamble starts again, so a real frame hidden inside the bad one is still found.
    A frame that stops short is simply pending: the caller decides when to give up.
    """

    def __init__(self, *, min_length: int = MIN_REQUEST_LENGTH, max_length: int = MAX_LENGTH) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self.skipped = 0
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held that are not yet part of a decoded frame."""
        return len(self._buf)

    def expected_size(self) -> int | None:
        """Size of the frame being received, once its header is in; else None."""
        if len(self._buf) >= HEADER_SIZE and self._buf.startswith(PREAMBLE):
            return frame_size(int.from_bytes(self._buf[5:7], "big"))
        return None

    def bytes_needed(self) -> int:
        """The fewest bytes that could complete something: the header, then the frame."""
        size = self.expected_size()
        if size is not None:
            return max(1, size - len(self._buf))
        return max(1, HEADER_SIZE - len(self._buf))

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        self._buf += data
        out: list[bytes | FrameError] = []
        buf = self._buf
        while buf:
            start = buf.find(PREAMBLE)
            if start < 0:
                keep = _preamble_prefix_at_end(buf)
                self._drop(len(buf) - keep)
                break
            if start:
                self._drop(start)
            if len(buf) < HEADER_SIZE:
                break
            length = int.from_bytes(buf[5:7], "big")
            if length > self.max_length:
                out.append(OverlongFrame(length, self.max_length))
                self._drop(1)
                continue
            if length < self.min_length:
                out.append(LengthError(f"length field {length} is shorter than the smallest frame "
                                       f"({self.min_length})"))
                self._drop(1)
                continue
            size = frame_size(length)
            if len(buf) < size:
                break
            computed = checksum(buf[5 : size - 1])
            if computed != buf[size - 1]:
                out.append(ChecksumError(buf[size - 1], computed))
                self._drop(1)
                continue
            out.append(bytes(buf[HEADER_SIZE : size - 1]))
            del buf[:size]
        return out

    def _drop(self, count: int) -> None:
        del self._buf[:count]
        self.skipped += count


def _preamble_prefix_at_end(buf: bytearray) -> int:
    """Length of the longest tail of ``buf`` that could be the start of a preamble."""
    for size in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if buf.endswith(PREAMBLE[:size]):
            return size
    return 0
