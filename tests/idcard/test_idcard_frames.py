"""GA/T 467 frames: reference bytes, precise errors, and a decoder that survives any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idcard import protocol
from idcard.errors import ChecksumError, LengthError, OverlongFrame, PreambleError, TruncatedFrame
from idcard.frames import (
    MAX_LENGTH,
    PREAMBLE,
    FrameDecoder,
    Request,
    Response,
    checksum,
    decode,
    decode_request,
    decode_response,
    encode,
)

# Request frames exactly as listed in the reference table (checksums recomputed by hand).
REFERENCE_REQUESTS = {
    "reset_sam": "AA AA AA 96 69 00 03 10 FF EC",
    "sam_status": "AA AA AA 96 69 00 03 11 FF ED",
    "sam_id": "AA AA AA 96 69 00 03 12 FF EE",
    "find": "AA AA AA 96 69 00 03 20 01 22",
    "select": "AA AA AA 96 69 00 03 20 02 21",
    "read": "AA AA AA 96 69 00 03 30 01 32",
    "read_fingerprint": "AA AA AA 96 69 00 03 30 10 23",
    "newest_address": "AA AA AA 96 69 00 03 30 03 30",
}
FIND_CARD_REPLY = bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
NO_CARD_REPLY = bytes.fromhex("AA AA AA 96 69 00 04 00 00 80 84")
SAM_STATUS_REPLY = bytes.fromhex("AA AA AA 96 69 00 04 00 00 90 94")


@pytest.mark.parametrize("name", sorted(REFERENCE_REQUESTS))
def test_every_command_encodes_to_the_reference_bytes(name: str) -> None:
    frame = protocol.COMMANDS[name].encode()
    assert frame == bytes.fromhex(REFERENCE_REQUESTS[name])
    assert decode_request(frame) == protocol.COMMANDS[name]


def test_find_card_reply_decodes_byte_for_byte() -> None:
    reply = decode_response(FIND_CARD_REPLY)
    assert (reply.sw1, reply.sw2, reply.sw3) == (0, 0, 0x9F)
    assert reply.data == bytes(4)
    assert reply.status.name == "card_found" and reply.status.ok
    assert Response(0x9F, bytes(4)).encode() == FIND_CARD_REPLY


def test_no_card_reply_decodes_byte_for_byte() -> None:
    reply = decode_response(NO_CARD_REPLY)
    assert reply.sw3 == 0x80 and reply.data == b""
    assert reply.status.zh == "请将身份证放在感应区"
    assert not reply.status.ok
    assert Response(0x80).encode() == NO_CARD_REPLY


def test_sam_status_reply_decodes_byte_for_byte() -> None:
    reply = decode_response(SAM_STATUS_REPLY)
    assert reply.sw3 == 0x90 and reply.data == b""
    assert Response(0x90).encode() == SAM_STATUS_REPLY


def test_read_reply_has_the_documented_size() -> None:
    data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + bytes(256 + 1024)
    frame = Response(0x90, data).encode()
    assert len(frame) == 1295
    assert frame[5:7] == b"\x05\x08"


def test_checksum_is_xor_from_length_to_last_data_byte() -> None:
    frame = encode(b"\x00\x00\x90\x01\x02")
    assert frame[-1] == checksum(frame[5:-1]) == 0x00 ^ 0x06 ^ 0x90 ^ 0x01 ^ 0x02


def test_bad_checksum_is_named_with_both_values() -> None:
    frame = bytearray(FIND_CARD_REPLY)
    frame[-1] ^= 0xFF
    with pytest.raises(ChecksumError, match=r"carries 0x68, its bytes give 0x97"):
        decode(bytes(frame))


def test_length_that_does_not_match_the_frame() -> None:
    with pytest.raises(LengthError, match=r"frame is 16 bytes but its length field 8 makes it 15 bytes"):
        decode(FIND_CARD_REPLY + b"\x00")


def test_length_field_too_small_for_any_frame() -> None:
    with pytest.raises(LengthError, match="shorter than the smallest frame"):
        decode(PREAMBLE + b"\x00\x01\x01")


def test_truncated_frame_says_how_much_arrived() -> None:
    with pytest.raises(TruncatedFrame, match=r"received 10 of 15 bytes"):
        decode(FIND_CARD_REPLY[:10])
    with pytest.raises(TruncatedFrame, match=r"received 3 of 7 bytes"):
        decode(PREAMBLE[:3])


def test_overlong_frame_is_refused_before_waiting_for_it() -> None:
    with pytest.raises(OverlongFrame, match=r"announces 65535 bytes"):
        decode(PREAMBLE + b"\xff\xff\x00")


def test_missing_preamble_is_named() -> None:
    with pytest.raises(PreambleError, match="it starts with 55 AA AA AA 96"):
        decode(b"\x55" + FIND_CARD_REPLY)


def test_decoder_resynchronises_after_garbage_and_across_split_reads() -> None:
    garbage = bytes([0x00, 0xAA, 0xAA, 0x96, 0x69, 0xAA, 0xAA, 0xAA, 0x96, 0x00, 0xAA])
    stream = garbage + NO_CARD_REPLY + garbage + FIND_CARD_REPLY
    decoder = FrameDecoder()
    bodies = []
    for byte in stream:
        bodies += decoder.feed(bytes([byte]))
    assert [Response.from_body(b).sw3 for b in bodies] == [0x80, 0x9F]
    assert decoder.skipped == 2 * len(garbage)
    assert decoder.pending == 0


def test_decoder_finds_a_real_frame_inside_a_cut_short_one() -> None:
    # A reply cut short, then the next complete reply: the first absorbs part of the second,
    # fails its checksum, and the decoder still finds the second.
    decoder = FrameDecoder()
    items = decoder.feed(FIND_CARD_REPLY[:9] + NO_CARD_REPLY + bytes(10))
    frames = [i for i in items if isinstance(i, bytes)]
    errors = [i for i in items if not isinstance(i, bytes)]
    assert [Response.from_body(f).sw3 for f in frames] == [0x80]
    assert len(errors) == 1 and isinstance(errors[0], ChecksumError)


def test_decoder_reports_overlong_and_keeps_going() -> None:
    decoder = FrameDecoder()
    items = decoder.feed(PREAMBLE + b"\x7f\xff" + SAM_STATUS_REPLY)
    assert isinstance(items[0], OverlongFrame)
    assert Response.from_body(items[1]).sw3 == 0x90


def test_decoder_asks_for_exactly_what_it_needs() -> None:
    decoder = FrameDecoder()
    assert decoder.bytes_needed() == 7
    decoder.feed(FIND_CARD_REPLY[:7])
    assert decoder.bytes_needed() == 8
    decoder.feed(FIND_CARD_REPLY[7:12])
    assert decoder.bytes_needed() == 3


_frames = st.builds(lambda sw3, data: Response(sw3, data).encode(), st.integers(0, 255), st.binary(max_size=80))
_pieces = st.one_of(
    st.binary(max_size=40),
    _frames,
    _frames.map(lambda f: f[:-1] + bytes([f[-1] ^ 0x01])),  # bad checksum
    st.builds(lambda f, n: f[: max(1, len(f) - n)], _frames, st.integers(1, 20)),  # cut short
    st.just(PREAMBLE),
    st.builds(lambda n: PREAMBLE + n.to_bytes(2, "big"), st.integers(0, 0xFFFF)),  # bare header
)
_wire = st.one_of(st.binary(max_size=600), st.lists(_pieces, max_size=12).map(b"".join))


@settings(max_examples=400, deadline=None)
@given(_wire, st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_no_byte_string_crashes_the_decoder_or_yields_a_bad_frame(data: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder()
    position = 0
    frames = []
    for cut in [*cuts, len(data)]:
        for item in decoder.feed(data[position : position + cut]):
            if isinstance(item, bytes):
                frames.append(item)
        position += cut
    for body in frames:
        frame = encode(body)
        assert frame in data  # only frames that really were on the wire
        assert decode(frame) == body  # ... and whose checksum is right
        assert len(frame) - 7 <= MAX_LENGTH


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.binary(max_size=40).map(lambda b: bytes(x for x in b if x != 0xAA)),
                       st.integers(0, 255), st.binary(max_size=300)), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=64),
)
def test_every_frame_is_recovered_from_noise_without_preamble_bytes(parts: list[tuple[bytes, int, bytes]],
                                                                    chunk: int) -> None:
    stream = b""
    expected = []
    for noise, sw3, data in parts:
        stream += noise + Response(sw3, data).encode()
        expected.append((sw3, data))
    decoder = FrameDecoder()
    got = []
    for start in range(0, len(stream), chunk):
        for item in decoder.feed(stream[start : start + chunk]):
            assert isinstance(item, bytes), item
            reply = Response.from_body(item)
            got.append((reply.sw3, reply.data))
    assert got == expected


def test_request_and_response_reject_short_bodies() -> None:
    with pytest.raises(LengthError, match="at least CMD and PARA"):
        Request.from_body(b"\x20")
    with pytest.raises(LengthError, match="at least SW1 SW2 SW3"):
        Response.from_body(b"\x00\x00")
