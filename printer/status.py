"""Printer status from the real-time ``DLE EOT n`` requests (n = 1..4), validated.

Every reply byte must carry the fixed bits of the ESC/POS status format (bit 0 = 0,
bit 1 = 1, bit 4 = 1, bit 7 = 0). A missing reply, or one that breaks those bits, makes
the status ``unknown``: a printer that does not answer is never reported as "paper OK"
(python-escpos 3.1's ``paper_status()`` does exactly that). Each state carries the
message staff see on the kiosk and in ``yizhan print status``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

DLE_EOT = b"\x10\x04"
REQUESTS = (1, 2, 3, 4)
FIXED_MASK = 0b1001_0011
FIXED_VALUE = 0b0001_0010


class PrinterState(StrEnum):
    READY = "ready"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    CUTTER_ERROR = "cutter_error"
    UNKNOWN = "unknown"


MESSAGES = {
    PrinterState.READY: "打印机就绪",
    PrinterState.PAPER_NEAR_END: "打印纸快用完了，请准备换纸",
    PrinterState.PAPER_OUT: "打印机缺纸，请装纸",
    PrinterState.COVER_OPEN: "打印机盖未合上，请合上纸仓盖",
    PrinterState.OFFLINE: "打印机脱机，请检查电源和连接线",
    PrinterState.CUTTER_ERROR: "切刀故障，请关机后清理切刀再开机",
    PrinterState.UNKNOWN: "打印机无应答，状态未知，请检查电源和连接线",
}
# States in which a slip can be sent and will come out of the printer.
PRINTABLE = frozenset({PrinterState.READY, PrinterState.PAPER_NEAR_END})


def request(n: int) -> bytes:
    """The ``DLE EOT n`` real-time status request."""
    if n not in REQUESTS:
        raise ValueError(f"DLE EOT n must be 1..4, got {n}")
    return DLE_EOT + bytes([n])


def is_valid(byte: int) -> bool:
    """Whether a status byte has the fixed bits every ESC/POS status reply carries."""
    return 0 <= byte <= 0xFF and (byte & FIXED_MASK) == FIXED_VALUE


@dataclass(frozen=True)
class PrinterStatus:
    """One status reading: the state, the staff message, the conditions seen and the raw bytes."""

    state: PrinterState
    message: str
    conditions: tuple[str, ...] = ()
    replies: dict[int, int | None] = field(default_factory=dict)
    detail: str = ""

    @property
    def printable(self) -> bool:
        """A slip sent now will print (ready, or paper near its end)."""
        return self.state in PRINTABLE

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state.value, "message": self.message, "printable": self.printable,
                "conditions": list(self.conditions), "detail": self.detail,
                "replies": {str(n): (None if b is None else f"0x{b:02X}") for n, b in self.replies.items()}}


def status_of(state: PrinterState, detail: str = "", replies: dict[int, int | None] | None = None,
              conditions: tuple[str, ...] = ()) -> PrinterStatus:
    return PrinterStatus(state, MESSAGES[state], conditions, dict(replies or {}), detail)


def decode(replies: dict[int, int | None]) -> PrinterStatus:
    """Status from the reply bytes to ``DLE EOT 1..4`` (None = no reply)."""
    for n in REQUESTS:
        byte = replies.get(n)
        if byte is None:
            return status_of(PrinterState.UNKNOWN, f"no reply to DLE EOT {n}", replies)
        if not is_valid(byte):
            return status_of(PrinterState.UNKNOWN, f"invalid reply 0x{byte:02X} to DLE EOT {n}", replies)
    printer, cause, error, paper = (replies[n] for n in REQUESTS)
    flags = {
        "offline": bool(printer & 0x08),
        "cover_open": bool(cause & 0x04),
        "paper_end_stop": bool(cause & 0x20),
        "error": bool(cause & 0x40),
        "cutter_error": bool(error & 0x08),
        "unrecoverable_error": bool(error & 0x20),
        "auto_recoverable_error": bool(error & 0x40),
        "paper_near_end": bool(paper & 0x0C),
        "paper_out": bool(paper & 0x60),
    }
    conditions = tuple(name for name, on in flags.items() if on)
    if flags["cover_open"]:
        state = PrinterState.COVER_OPEN
    elif flags["paper_out"] or flags["paper_end_stop"]:
        state = PrinterState.PAPER_OUT
    elif flags["cutter_error"]:
        state = PrinterState.CUTTER_ERROR
    elif flags["offline"] or flags["error"] or flags["unrecoverable_error"] or flags["auto_recoverable_error"]:
        state = PrinterState.OFFLINE
    elif flags["paper_near_end"]:
        state = PrinterState.PAPER_NEAR_END
    else:
        state = PrinterState.READY
    detail = ""
    if flags["unrecoverable_error"]:
        detail = "unrecoverable error: switch the printer off and on"
    return status_of(state, detail, replies, conditions)


def encode(state: PrinterState) -> dict[int, int]:
    """The reply bytes a printer in ``state`` sends to ``DLE EOT 1..4`` (the virtual printer's answers)."""
    ok = FIXED_VALUE
    table = {
        PrinterState.READY: (ok, ok, ok, ok),
        PrinterState.PAPER_NEAR_END: (ok, ok, ok, ok | 0x0C),
        PrinterState.PAPER_OUT: (ok | 0x08, ok | 0x20, ok, ok | 0x6C),
        PrinterState.COVER_OPEN: (ok | 0x08, ok | 0x04, ok, ok),
        PrinterState.OFFLINE: (ok | 0x08, ok, ok, ok),
        PrinterState.CUTTER_ERROR: (ok | 0x08, ok | 0x40, ok | 0x08, ok),
    }
    if state not in table:
        raise ValueError(f"no status bytes for {state.value}")
    return dict(zip(REQUESTS, table[state], strict=True))
