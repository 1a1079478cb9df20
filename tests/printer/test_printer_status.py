"""DLE EOT status decoding: every bit, validation of the fixed bits, silence is never 'paper OK'."""

from __future__ import annotations

import pytest

from printer.status import MESSAGES, PrinterState, decode, encode, is_valid, request

OK = 0x12
CLEAN = {1: OK, 2: OK, 3: OK, 4: OK}


def replies(**changes: int) -> dict[int, int | None]:
    out: dict[int, int | None] = dict(CLEAN)
    for key, value in changes.items():
        out[int(key[1:])] = value
    return out


def test_requests_are_dle_eot_n():
    assert [request(n) for n in (1, 2, 3, 4)] == [b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x03", b"\x10\x04\x04"]
    with pytest.raises(ValueError):
        request(5)


def test_all_clear_is_ready():
    status = decode(CLEAN)
    assert status.state is PrinterState.READY and status.printable and status.message == "打印机就绪"


@pytest.mark.parametrize(("n", "bit", "state", "condition"), [
    (1, 3, PrinterState.OFFLINE, "offline"),
    (2, 2, PrinterState.COVER_OPEN, "cover_open"),
    (2, 5, PrinterState.PAPER_OUT, "paper_end_stop"),
    (2, 6, PrinterState.OFFLINE, "error"),
    (3, 3, PrinterState.CUTTER_ERROR, "cutter_error"),
    (3, 5, PrinterState.OFFLINE, "unrecoverable_error"),
    (3, 6, PrinterState.OFFLINE, "auto_recoverable_error"),
    (4, 2, PrinterState.PAPER_NEAR_END, "paper_near_end"),
    (4, 3, PrinterState.PAPER_NEAR_END, "paper_near_end"),
    (4, 5, PrinterState.PAPER_OUT, "paper_out"),
    (4, 6, PrinterState.PAPER_OUT, "paper_out"),
])
def test_each_status_bit(n, bit, state, condition):
    status = decode(replies(**{f"n{n}": OK | (1 << bit)}))
    assert status.state is state
    assert condition in status.conditions
    assert status.printable == (state is PrinterState.PAPER_NEAR_END)
    assert status.message == MESSAGES[state]


@pytest.mark.parametrize("bit", [2, 5, 6])
def test_bits_without_meaning_for_us_leave_the_printer_ready(bit):
    # n=1 bit 2 (drawer), bit 5 (waiting for recovery), bit 6 (feed button); only bit 3 counts.
    assert decode(replies(n1=OK | (1 << bit))).state is PrinterState.READY


@pytest.mark.parametrize("bad", [0x00, 0xFF, 0x13, 0x10, 0x02, 0x92])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_a_reply_breaking_the_fixed_bits_is_unknown(n, bad):
    assert not is_valid(bad)
    status = decode(replies(**{f"n{n}": bad}))
    assert status.state is PrinterState.UNKNOWN and not status.printable
    assert f"0x{bad:02X}" in status.detail


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_silence_is_unknown_never_paper_ok(n):
    status = decode(replies(**{f"n{n}": None}))
    assert status.state is PrinterState.UNKNOWN and not status.printable
    assert status.message == "打印机无应答，状态未知，请检查电源和连接线"


def test_priorities_when_several_conditions_hold():
    # Cover open and out of paper: closing the cover is the first thing to do.
    assert decode(replies(n1=0x1A, n2=0x36, n4=0x7E)).state is PrinterState.COVER_OPEN
    # Paper out with the offline bit and near-end bits also set.
    assert decode(replies(n1=0x1A, n2=0x32, n4=0x7E)).state is PrinterState.PAPER_OUT


@pytest.mark.parametrize("state", [s for s in PrinterState if s is not PrinterState.UNKNOWN])
def test_encode_and_decode_agree(state):
    encoded = encode(state)
    assert all(is_valid(b) for b in encoded.values())
    assert decode(dict(encoded)).state is state


def test_every_state_has_a_chinese_message():
    for state in PrinterState:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in MESSAGES[state])
