"""The simulated reader's reply logic: frames in, frames out, faults as data. No I/O, no threads.

:class:`ReaderModel` holds the card on the reader and the armed faults and answers each
decoded request with the reply frame a GA/T 467 module would send, plus when it may leave
(``slow_sam``'s delay). Transports feed it bytes: the pseudo-terminal thread
(:mod:`idcard.simulation.pty`) for ``yizhan idcard simulate``, and the in-process serial port
(:mod:`idcard.simulation.protocol_yizhansim`) for tests. Times come from an injected clock.

Faults: garbage before a reply, a corrupted checksum, a truncated reply (by default these hit
the next card-read reply; ``command=None`` hits the next reply of any kind), slow SAM, SAM
self-test failure (0x60) and read failure (0x41), also as text commands (:meth:`handle_command`).
"""

from __future__ import annotations

import collections
import json
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from idcard import status as sw
from idcard.card import PHOTO_SIZE, IdentityCard, build_text_block, encode_newest_address
from idcard.clock import SYSTEM_CLOCK, Clock
from idcard.errors import ChecksumError, FrameError, IdCardError, OverlongFrame
from idcard.frames import HEADER_SIZE, Request, Response
from idcard.protocol import COMMAND_NAMES, COMMANDS
from idcard.samples import DESCRIPTIONS, SAMPLE_IDENTITIES, fake_bytes

DEFAULT_SAM_ID = struct.pack("<HHIII", 5, 1, 20240101, 12345, 1234567890)
# Line noise with near-misses of the preamble (two AAs, a wrong fifth byte) to exercise resync.
GARBAGE = bytes([0x00, 0xFF, 0x55, 0xAA, 0xAA, 0x96, 0x69, 0x13, 0xAA, 0xAA, 0xAA, 0x96, 0x00, 0x42, 0xAA, 0x7E])
READ_COMMANDS = ("read", "read_fingerprint")
FAULT_KINDS = ("garbage", "badsum", "truncate")


def wire_time(size: int, baud: int) -> float:
    """Seconds a ``size``-byte frame takes on an 8N1 line (10 bits per byte)."""
    return size * 10 / baud


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


@dataclass(frozen=True)
class Answer:
    """One reply: the bytes to send, the request's size on the wire and the SAM's extra delay."""

    name: str | None
    frame: bytes
    request_size: int
    delay: float


class SimulatorError(IdCardError):
    """A control command that cannot be carried out (bad card number, unknown command...)."""


class ReaderModel:
    """A GA/T 467 reader's state and replies. Transports call :meth:`answer` per decoded request."""

    def __init__(self, identities: Sequence[IdentityCard] | None = None, baud: int = 115200,
                 sam_id: bytes = DEFAULT_SAM_ID, clock: Clock = SYSTEM_CLOCK) -> None:
        self.identities: list[IdentityCard] = list(identities if identities is not None else SAMPLE_IDENTITIES)
        self.baud = baud
        self.sam_id_bytes = sam_id
        self.clock = clock
        self.requests: collections.Counter[str] = collections.Counter()
        self.quit_requested = threading.Event()
        self._lock = threading.RLock()
        self._plugged = True
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

    # -- the cable (transports override these to act on their device) -------------------

    @property
    def path(self) -> str | None:
        return None

    @property
    def device(self) -> str | None:
        return None

    @property
    def plugged(self) -> bool:
        return self._plugged

    def unplug(self) -> None:
        """Pull the cable: open ports fail and the port cannot be opened."""
        with self._lock:
            self._plugged = False
            self.cable_reset()

    def replug(self) -> None:
        """Plug the cable back in."""
        with self._lock:
            self._plugged = True

    def cable_reset(self) -> None:
        """What a power cycle forgets: the selection and the read."""
        with self._lock:
            self._selected = self._read_done = False

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
            self._timing = {"placed_at": self.clock.monotonic(), "detected_at": None}
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

    def answer(self, item: bytes | FrameError, first_byte_at: float) -> Answer | None:
        """The reply to one decoded request (or a bad frame); None for noise a module ignores."""
        if isinstance(item, OverlongFrame):
            return None  # noise, not a request: a real module stays silent
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
                        self._timing["detected_at"] = first_byte_at
        with self._lock:
            delay = self._slow
        return Answer(name, self._reply_frame(name, reply.encode()), size, delay)

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
                "path": self.path,
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


