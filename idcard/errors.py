"""Exceptions of the ID card package, one tree so callers can catch what they care about.

Messages describe what is wrong with bytes, lengths and codes; they never carry a name,
an ID number or an address, so they can be logged as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idcard.status import Status


class IdCardError(Exception):
    """Base of every error raised by :mod:`idcard`. ``code`` is a short stable name for events."""

    code = "error"


class FrameError(IdCardError):
    """Bytes on the wire that do not make a valid GA/T 467 frame."""

    code = "frame"


class PreambleError(FrameError):
    """The bytes do not start with the preamble ``AA AA AA 96 69``."""

    code = "preamble"


class ChecksumError(FrameError):
    """The frame's check byte is not the XOR of its length and body bytes."""

    code = "checksum"

    def __init__(self, carried: int, computed: int) -> None:
        super().__init__(f"checksum mismatch: the frame carries 0x{carried:02X}, its bytes give 0x{computed:02X}")
        self.carried = carried
        self.computed = computed


class LengthError(FrameError):
    """The length field does not fit the frame (too short to hold a frame, or not its size)."""

    code = "length"


class TruncatedFrame(FrameError):
    """Fewer bytes arrived than the length field announced."""

    code = "truncated"

    def __init__(self, received: int, expected: int) -> None:
        super().__init__(f"frame truncated: received {received} of {expected} bytes")
        self.received = received
        self.expected = expected


class OverlongFrame(FrameError):
    """The length field announces more bytes than any reader reply can hold."""

    code = "overlong"

    def __init__(self, announced: int, limit: int) -> None:
        super().__init__(f"frame too long: the length field announces {announced} bytes, the limit is {limit}")
        self.announced = announced
        self.limit = limit


class ReplyTimeout(IdCardError):
    """The reader sent nothing at all within the reply timeout."""

    code = "timeout"


class UnexpectedReply(IdCardError):
    """A well-formed frame whose content does not fit the command that was sent."""

    code = "unexpected_reply"


class StatusError(IdCardError):
    """The reader answered with a status word (SW3) that means failure."""

    def __init__(self, status: Status, command: str) -> None:
        super().__init__(f"{command}: {status.en} (SW3 0x{status.code:02X})")
        self.status = status
        self.command = command

    @property
    def code(self) -> str:
        return self.status.name


class CardDataError(IdCardError):
    """The card's text block does not parse or does not validate; its content is not trusted."""

    code = "card_data"


class PhotoDecoderError(IdCardError):
    """The optional vendor photo decoder could not be loaded or failed on a photo."""

    code = "photo_decoder"
