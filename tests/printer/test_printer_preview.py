"""The preview renderer: what it draws for our commands, and that it reports everything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from printer import slips
from printer.escpos import SlipBuilder, raster_command
from printer.preview import RenderError, Tokenizer, ink_columns, render
from printer.profiles import get_profile
from printer.samples import sample_job, sample_station

INIT = b"\x1b@\x1c&"


def test_plain_text_lines_in_font_a_cells():
    image, report = render(INIT + "AB汉字".encode("gb18030") + b"\n", 384)
    assert report.ok and report.text == "AB汉字"
    (line,) = report.lines
    assert (line.x, line.width, line.height) == (0, 12 + 12 + 24 + 24, 24)
    left, right = ink_columns(image)
    assert left < 12 and 48 <= right < 72


def test_gs_exclamation_scales_hanzi_and_ascii():
    image, report = render(INIT + b"\x1d!\x11" + "汉A".encode("gb18030") + b"\n", 384)
    (line,) = report.lines
    assert line.size == (2, 2) and line.width == 72 and line.height == 48
    assert image.height >= 48


def test_alignment_moves_the_line():
    _, report = render(INIT + b"\x1ba\x02" + "右".encode("gb18030") + b"\n\x1ba\x01ab\n", 384)
    right, centre = report.lines
    assert right.x + right.width == 384 and right.align == "right"
    assert centre.x == (384 - 24) // 2


def test_raster_image_comes_back_dot_for_dot():
    picture = Image.new("L", (40, 10), 255)
    picture.paste(0, (3, 2, 17, 9))
    image, report = render(INIT + raster_command(picture), 384)
    assert report.ok and report.rasters == [(0, 0, 40, 10)]
    assert image.crop((0, 0, 40, 10)).tobytes() == picture.tobytes()


def test_overlong_text_is_wrapped_like_a_printer_and_reported():
    _, report = render(INIT + b"x" * 40 + b"\n", 384)
    assert [line.text for line in report.lines] == ["x" * 32, "x" * 8]
    assert report.overflows and not report.ok


@pytest.mark.parametrize(("data", "what"), [
    (b"\x1b!\x08bold?\n", "unsupported ESC !"),
    (b"\x1b\x99after\n", "unknown ESC 0x99"),
    (b"\x1dB\x01reverse\n", "unsupported GS B"),
    (b"\x1c\x43\x01", "unsupported FS C"),
    (b"\x07bell\n", "control byte 0x07"),
    (b"\x1d(k\x03\x00\x31\x52\x30", "QR function 0x52"),
    (b"\x1d(k\x03\x00\x31\x51\x30", "QR print without valid data"),
    (b"\x1dv0\x00\x02\x00\x05", "stream ends inside a command"),
    (b"ab\x7fc\n", "control byte 0x7F in text"),
])
def test_commands_we_never_send_are_reported_not_ignored(data, what):
    _, report = render(INIT + data, 384)
    assert any(what in problem for problem in report.problems), report.problems
    with pytest.raises(RenderError, match="byte"):
        render(INIT + data, 384, strict=True)


def test_a_known_but_unsupported_command_is_skipped_by_its_real_length():
    _, report = render(INIT + b"\x1b!\x08" + "之后".encode("gb18030") + b"\n", 384)
    assert report.text == "之后"


def test_chinese_text_without_fs_ampersand_is_reported_on_a_printer_that_needs_it():
    data = b"\x1b@" + "汉字".encode("gb18030") + b"\n"
    _, report = render(data, 384, chinese_default=False)
    assert any("outside Chinese mode" in p for p in report.problems)
    _, report = render(b"\x1b@\x1c&" + "汉字".encode("gb18030") + b"\n", 384, chinese_default=False)
    assert report.ok and report.text == "汉字"
    # FS . leaves Chinese mode again.
    _, report = render(b"\x1b@\x1c&\x1c." + "汉".encode("gb18030") + b"\n", 384, chinese_default=False)
    assert not report.ok


def test_status_requests_and_cuts_print_nothing():
    image, report = render(INIT + b"\x10\x04\x01\x10\x04\x04" + b"\x1dVB\x10", 384)
    assert report.status_requests == [1, 4] and len(report.cuts) == 1 and report.lines == []
    assert ink_columns(image) is None


def test_a_cut_between_two_slips_shows_where_they_part():
    _, report = render(INIT + b"one\n\x1dV\x01" + INIT + b"two\n", 384)
    assert report.text == "one\ntwo" and len(report.cuts) == 1


def _commands(chunks: list[bytes]) -> list[tuple[int, str, bytes]]:
    tokenizer = Tokenizer()
    out = []
    for chunk in chunks:
        out += tokenizer.feed(chunk)
    out += tokenizer.close()
    merged: list[tuple[int, str, bytes]] = []
    for c in out:  # text may arrive in pieces when the stream is cut inside it
        if merged and c.name == "text" and merged[-1][1] == "text" and merged[-1][0] + len(merged[-1][2]) == c.offset:
            merged[-1] = (merged[-1][0], "text", merged[-1][2] + c.data)
        else:
            merged.append((c.offset, c.name, c.data))
    return merged


SLIP = slips.job_slip(sample_job(), station=sample_station(), profile=get_profile("gprinter-58"), slip_no="X")


@given(st.lists(st.integers(min_value=0, max_value=len(SLIP.data)), max_size=12))
@settings(max_examples=60, deadline=None)
def test_the_tokenizer_gives_the_same_commands_however_the_stream_is_split(cuts):
    points = sorted(set(cuts))
    chunks = [SLIP.data[a:b] for a, b in zip([0, *points], [*points, len(SLIP.data)], strict=True)]
    assert _commands(chunks) == _commands([SLIP.data])


def test_status_request_bytes_inside_raster_or_qr_data_are_data():
    # A raster row full of DLE EOT bytes, and QR data containing them: never a status request.
    data = INIT + b"\x1dv0\x00\x03\x00\x03\x00" + b"\x10\x04\x01" * 3
    data += b"\x1d(k\x06\x00\x31\x50\x30\x10\x04\x02"
    _, report = render(data, 384)
    assert report.status_requests == [] and report.ok


def test_builder_refuses_a_layout_wider_than_the_paper():
    builder = SlipBuilder(get_profile("generic-58")).init()
    with pytest.raises(Exception, match="does not fit"):
        builder.raw_line("x" * 33)
    builder.size(2, 1)
    assert builder.columns == 16
