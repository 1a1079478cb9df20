"""Every command, round trip, through pyserial and a real pseudo-terminal to the simulator."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Iterator

import pytest
import serial

from idcard import protocol
from idcard.clock import ManualClock
from idcard.errors import ChecksumError, ReplyTimeout, StatusError, TruncatedFrame
from idcard.frames import Request, decode_response
from idcard.port import open_port
from idcard.protocol import Reader, format_sam_id
from idcard.samples import SAMPLE_IDENTITIES
from idcard.simulation.model import ReaderModel
from idcard.simulation.protocol_yizhansim import serve_in_process, withdraw
from idcard.simulator import Simulator, read_reply_data, wire_time


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def port(sim: Simulator) -> Iterator[serial.Serial]:
    with open_port(sim.path, 115200, timeout=1.0) as opened:
        yield opened


@pytest.fixture
def reader(port: serial.Serial) -> Reader:
    return Reader(port, reply_timeout=1.0)


def test_sam_commands(reader: Reader, sim: Simulator) -> None:
    reader.reset_sam()
    status = reader.sam_status()
    assert status.code == 0x90 and status.ok
    assert reader.sam_id() == "05.01-20240101-0000012345-1234567890"
    assert sim.requests["reset_sam"] == sim.requests["sam_status"] == sim.requests["sam_id"] == 1


def test_sam_id_reply_is_byte_exact(port: serial.Serial) -> None:
    port.write(protocol.READ_SAM_ID.encode())
    frame = port.read(27)
    assert frame[:10] == bytes.fromhex("AA AA AA 96 69 00 14 00 00 90")
    assert format_sam_id(decode_response(frame).data) == "05.01-20240101-0000012345-1234567890"


def test_find_select_read_and_newest_address(reader: Reader, sim: Simulator) -> None:
    assert reader.find_card() is False
    sim.place(0)
    assert reader.find_card() is True
    assert reader.select_card() == bytes(8)
    data = reader.read_card_data()
    assert len(data.text) == 256 and len(data.photo) == 1024 and data.fingerprint == b""
    assert data.photo == SAMPLE_IDENTITIES[0].photo_wlt
    assert reader.read_newest_address() == SAMPLE_IDENTITIES[0].newest_address


def test_card_without_newest_address_answers_0x91(reader: Reader, sim: Simulator) -> None:
    sim.place(1)
    assert reader.find_card()
    reader.select_card()
    reader.read_card_data()
    assert reader.transact(protocol.READ_NEWEST_ADDRESS).sw3 == 0x91
    assert reader.read_newest_address() == ""


def test_read_with_fingerprint(reader: Reader, sim: Simulator, port: serial.Serial) -> None:
    sim.place(0)
    reader.find_card()
    reader.select_card()
    port.write(protocol.READ_TEXT_PHOTO_FINGERPRINT.encode())
    frame = port.read(2321)
    assert len(frame) == 2321  # 1024 bytes of fingerprint, its length in bytes 14-15
    assert frame[14:16] == b"\x04\x00"
    sim.place(2)
    reader.find_card()  # the swap: one poll sees no card
    assert reader.find_card()
    reader.select_card()
    data = reader.read_card_data(fingerprint=True)
    assert data.fingerprint == b"" and len(data.photo) == 1024  # a 1297-byte reply


@pytest.mark.parametrize("index", range(len(SAMPLE_IDENTITIES)))
def test_every_sample_card_reads_back_exactly(reader: Reader, sim: Simulator, index: int) -> None:
    sim.place(index)
    assert reader.find_card()
    assert reader.read_card(fingerprint=True) == SAMPLE_IDENTITIES[index]


def test_read_before_select_fails_with_0x41(reader: Reader, sim: Simulator) -> None:
    sim.place(0)
    with pytest.raises(StatusError) as info:
        reader.read_card_data()
    assert info.value.status.code == 0x41
    assert info.value.status.zh == "读卡失败，请重新放置身份证"


def test_select_without_card_fails_with_0x81(reader: Reader) -> None:
    with pytest.raises(StatusError, match=r"select: selecting the card failed \(SW3 0x81\)"):
        reader.select_card()


def test_unknown_command_and_bad_request_checksum(reader: Reader, port: serial.Serial) -> None:
    assert reader.transact(Request(0x55, 0x01)).sw3 == 0x21
    bad = bytearray(protocol.FIND_CARD.encode())
    bad[-1] ^= 0xFF
    port.write(bytes(bad))
    assert decode_response(port.read(11)).sw3 == 0x10


def test_read_failure_and_sam_failure(reader: Reader, sim: Simulator) -> None:
    sim.place(0)
    sim.read_failure(1)
    reader.find_card()
    with pytest.raises(StatusError) as info:
        reader.read_card()
    assert info.value.status.name == "read_failed"
    reader.find_card()
    assert reader.read_card().id_number == SAMPLE_IDENTITIES[0].id_number  # only the next read failed
    sim.sam_failure(True)
    assert reader.sam_status().code == 0x60
    with pytest.raises(StatusError) as info:
        reader.find_card()
    assert info.value.status.zh == "读卡器自检失败，请联系工作人员"
    sim.sam_failure(False)
    assert reader.find_card()


def test_garbage_before_a_reply_is_skipped(reader: Reader, sim: Simulator) -> None:
    sim.place(3)
    sim.inject_garbage()
    sim.inject_garbage("find")
    assert reader.find_card()
    assert reader.read_card() == SAMPLE_IDENTITIES[3]
    assert sim.state()["pending_faults"] == []


def test_corrupted_checksum_is_detected(reader: Reader, sim: Simulator) -> None:
    sim.place(0)
    sim.corrupt_next_checksum()
    reader.find_card()
    with pytest.raises(ChecksumError):
        reader.read_card()


@pytest.fixture
def in_process() -> Iterator[tuple[ReaderModel, ManualClock, str]]:
    """The same reader served in this process (``yizhansim://``) on a manual clock."""
    clock = ManualClock()
    model = ReaderModel(clock=clock)
    url = serve_in_process(model)
    yield model, clock, url
    withdraw(url)


def test_truncated_reply_is_detected_after_the_reply_timeout(in_process) -> None:
    sim, clock, url = in_process
    with open_port(url, timeout=0.3) as port:
        reader = Reader(port, reply_timeout=0.3, clock=clock)
        sim.place(0)
        sim.truncate_next_frame()
        reader.find_card()
        started = clock.monotonic()
        with pytest.raises(TruncatedFrame, match="received 647 of 1295 bytes"):
            reader.read_card()
        # It waited its reply timeout plus the announced reply's wire time, and no more.
        assert clock.monotonic() - started == pytest.approx(0.3 + wire_time(1295, 115200))
        reader.find_card()
        reader.read_card()  # and the next read is fine


def test_silent_device_times_out() -> None:
    master, slave = os.openpty()  # a port where nothing answers (wrong device, wrong baud...)
    tty.setraw(slave)
    try:
        with open_port(os.ttyname(slave), 115200) as port:
            reader = Reader(port, reply_timeout=0.2)
            started = time.monotonic()
            with pytest.raises(ReplyTimeout, match=r"^no reply within 0.2 s$"):
                reader.find_card()
            assert time.monotonic() - started >= 0.2  # it waited its whole timeout
            noise = threading.Timer(0.05, os.write, (master, b"\x00\x13\x37"))  # noise, but no frame
            noise.start()
            with pytest.raises(ReplyTimeout, match="3 byte\\(s\\) in 0.2 s but no reply frame"):
                reader.find_card()
            noise.join()
    finally:
        os.close(master)
        os.close(slave)


def test_late_reply_to_an_earlier_command_is_not_taken_for_this_one(in_process) -> None:
    sim, clock, url = in_process
    with open_port(url, timeout=0.3) as port:
        reader = Reader(port, reply_timeout=0.3, clock=clock)
        sim.place(0)
        sim.slow_sam(0.5)
        with pytest.raises(ReplyTimeout, match="no reply within 0.3 s"):
            reader.find_card()
        sim.slow_sam(0)
        # The find-card reply (9F) arrives while the SAM id is awaited: it must be passed over.
        assert reader.sam_id() == "05.01-20240101-0000012345-1234567890"


def test_replies_take_their_wire_time(reader: Reader, sim: Simulator) -> None:
    sim.place(1)
    reader.find_card()
    reader.select_card()
    started = time.monotonic()
    reader.read_card_data()
    elapsed = time.monotonic() - started
    floor = wire_time(10 + 7 + 3 + len(read_reply_data(SAMPLE_IDENTITIES[1], fingerprint=False)) + 1, 115200)
    assert floor == pytest.approx(0.1133, abs=0.0005)  # 10-byte request + 1295-byte reply
    assert elapsed >= floor  # never faster than the wire (how much slower depends on the machine)


def test_without_timing_replies_are_immediate() -> None:
    with Simulator(honour_timing=False) as sim, open_port(sim.path, 115200, timeout=1.0) as port:
        reader = Reader(port)
        sim.place(1)
        reader.find_card()
        assert reader.read_card().id_number == SAMPLE_IDENTITIES[1].id_number


def test_at_9600_baud_a_read_longer_than_the_reply_timeout_still_arrives() -> None:
    with Simulator(baud=9600) as sim, open_port(sim.path, 9600) as port:
        reader = Reader(port, reply_timeout=0.5)
        sim.place(1)
        started = time.monotonic()
        assert reader.find_card()
        assert time.monotonic() - started >= wire_time(25, 9600)
        reader.select_card()
        started = time.monotonic()
        data = reader.read_card_data()  # 1305 bytes: 1.36 s on the wire, timeout 0.5 s
        assert time.monotonic() - started >= wire_time(1305, 9600)
        assert len(data.photo) == 1024
