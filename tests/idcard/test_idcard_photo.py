"""The optional vendor photo decoder: loaded by path with ctypes, and everything works without it.

The decoders here are small shared libraries built on the spot with the vendor's ABI
(``int unpack(char *wlt, char *bmp, int save)``), so the real ctypes path is exercised.
"""

from __future__ import annotations

import io
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from config.station import Station
from idcard.clock import ManualClock
from idcard.errors import PhotoDecoderError
from idcard.photo import BMP_SIZE, HEIGHT, WIDTH, PhotoDecoder, load_decoder, to_png
from idcard.samples import SAMPLE_IDENTITIES
from idcard.service import CardRead, ReaderEvent, ReaderOnline, ReaderService
from idcard.simulation.model import ReaderModel
from idcard.simulation.protocol_yizhansim import serve_in_process, withdraw

VENDOR_STYLE = r"""
#include <string.h>
/* Writes a whole 24-bit BMP: every pixel is (wlt[0], wlt[1], wlt[2]) as B, G, R. */
int unpack(char *wlt, char *bmp, int save) {
    unsigned char *out = (unsigned char *)bmp;
    int row = (102 * 3 + 3) & ~3, size = 54 + row * 126, x, y;
    memset(out, 0, size);
    out[0] = 'B'; out[1] = 'M';
    out[2] = size & 255; out[3] = (size >> 8) & 255;
    out[10] = 54; out[14] = 40; out[18] = 102; out[22] = 126; out[26] = 1; out[28] = 24;
    for (y = 0; y < 126; y++)
        for (x = 0; x < 102; x++)
            memcpy(out + 54 + y * row + x * 3, wlt, 3);
    return 1;
}
/* Raw BGR rows without a header, under another name. */
int Wlt2Raw(char *wlt, char *raw, int save) {
    int i;
    for (i = 0; i < 102 * 126; i++) memcpy(raw + i * 3, wlt, 3);
    return 1;
}
int broken(char *wlt, char *bmp, int save) { return -3; }
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wlt")
    source = folder / "wlt.c"
    source.write_text(VENDOR_STYLE)
    target = folder / "libwlt2bmp.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(target), str(source)], check=True)
    return target


def wlt_with_colour(b: int, g: int, r: int) -> bytes:
    return bytes([b, g, r]) + bytes(1021)


def test_no_decoder_configured() -> None:
    assert load_decoder("") is None
    assert load_decoder("   ") is None


def test_decoder_path_errors_are_clear(tmp_path: Path, library: Path) -> None:
    with pytest.raises(PhotoDecoderError, match="does not exist"):
        load_decoder(str(tmp_path / "libnothing.so"))
    not_a_library = tmp_path / "libfake.so"
    not_a_library.write_text("not a library")
    with pytest.raises(PhotoDecoderError, match="cannot load photo decoder"):
        load_decoder(str(not_a_library))
    with pytest.raises(PhotoDecoderError, match="has no function 'Unpack'"):
        load_decoder(f"{library}:Unpack")


def test_vendor_decoder_returns_a_bmp(library: Path) -> None:
    decoder = load_decoder(str(library))
    assert isinstance(decoder, PhotoDecoder)
    bmp = decoder.decode(wlt_with_colour(10, 20, 30))
    assert len(bmp) == BMP_SIZE == 38862
    with Image.open(io.BytesIO(bmp)) as image:
        assert image.size == (WIDTH, HEIGHT)
        assert image.convert("RGB").getpixel((50, 60)) == (30, 20, 10)
    with Image.open(io.BytesIO(to_png(bmp))) as png:
        assert png.format == "PNG" and png.size == (102, 126)


def test_raw_pixel_decoder_named_by_symbol(library: Path) -> None:
    decoder = load_decoder(f"{library}:Wlt2Raw")
    with Image.open(io.BytesIO(decoder.decode(wlt_with_colour(1, 2, 3)))) as image:
        assert image.size == (102, 126)
        assert image.convert("RGB").getpixel((0, 0)) == (3, 2, 1)


def test_decoder_failures(library: Path) -> None:
    with pytest.raises(PhotoDecoderError, match="returned -3"):
        PhotoDecoder(library, "broken").decode(bytes(1024))
    with pytest.raises(PhotoDecoderError, match="a WLT photo is 1024 bytes, got 10"):
        PhotoDecoder(library).decode(bytes(10))


def _poll_until_card(service: ReaderService, clock: ManualClock, events: list[ReaderEvent]) -> CardRead:
    """Drive the service by hand on the manual clock until it reports a card."""
    for _ in range(50):
        for event in events:
            if isinstance(event, CardRead):
                return event
        clock.advance(service.poll_once())
    raise AssertionError(f"no card read after 50 polls; got {events}")


@pytest.fixture
def sim() -> Iterator[tuple[ReaderModel, ManualClock, str]]:
    clock = ManualClock()
    model = ReaderModel(clock=clock)
    url = serve_in_process(model)
    yield model, clock, url
    withdraw(url)


def test_service_decodes_photos_when_configured(station, library: Path, sim) -> None:
    model, clock, url = sim
    events: list[ReaderEvent] = []
    settings = station.write(f'[devices.idcard]\nport = "{url}"\npoll_interval_ms = 100\n'
                             f'photo_decoder = "{library}"\n')
    service = Station(settings).reader_service(on_event=events.append, clock=clock)
    model.place(0)
    card = _poll_until_card(service, clock, events).card
    assert card.photo_wlt == SAMPLE_IDENTITIES[0].photo_wlt
    with Image.open(io.BytesIO(card.photo_bmp)) as image:
        expected = tuple(reversed(SAMPLE_IDENTITIES[0].photo_wlt[:3]))
        assert image.convert("RGB").getpixel((5, 5)) == expected
    assert card.masked_dict()["photo_decoded"] is True


def test_service_works_without_a_loadable_decoder(station, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                  sim) -> None:
    model, clock, url = sim
    events: list[ReaderEvent] = []
    settings = station.write(f'[devices.idcard]\nport = "{url}"\npoll_interval_ms = 100\n'
                             f'photo_decoder = "{tmp_path / "libgone.so"}"\n')
    with caplog.at_level(logging.WARNING):
        service = Station(settings).reader_service(on_event=events.append, clock=clock)
        clock.advance(service.poll_once())
        assert [type(e) for e in events] == [ReaderOnline]
        model.place(1)
        card = _poll_until_card(service, clock, events).card
    assert "photos will not be decoded" in caplog.text and "does not exist" in caplog.text
    assert card.photo_bmp == b"" and len(card.photo_wlt) == 1024
