"""The card photo: 1024 bytes of WLT (a proprietary wavelet format) that decode to 102x126 px.

No open decoder exists. Vendors ship closed libraries; the common Linux one
(``libwlt2bmp.so``) exports ``int unpack(char *wlt, char *bmp, int save)``, which writes a
complete 24-bit BMP file (38 862 bytes) and returns 1 on success. Configure its path in
``devices.idcard.photo_decoder`` (``path`` or ``path:symbol`` when the function has another
name). Everything else in the station works without it: cards keep the raw bytes.
"""

from __future__ import annotations

import ctypes
import logging
import os
import struct
import threading
from pathlib import Path

from idcard.errors import PhotoDecoderError

log = logging.getLogger(__name__)

WLT_SIZE = 1024
WIDTH, HEIGHT = 102, 126
ROW_SIZE = (WIDTH * 3 + 3) & ~3  # BMP rows are padded to 4 bytes
BMP_HEADER_SIZE = 54
BMP_SIZE = BMP_HEADER_SIZE + ROW_SIZE * HEIGHT  # 38 862
DEFAULT_SYMBOL = "unpack"
SUCCESS = 1


def bmp_from_bgr(pixels: bytes) -> bytes:
    """Wrap bottom-up 24-bit BGR rows (padded or not) in a BMP file header."""
    if len(pixels) == WIDTH * 3 * HEIGHT:
        pad = b"\x00" * (ROW_SIZE - WIDTH * 3)
        pixels = b"".join(pixels[r * WIDTH * 3 : (r + 1) * WIDTH * 3] + pad for r in range(HEIGHT))
    if len(pixels) != ROW_SIZE * HEIGHT:
        raise PhotoDecoderError(f"decoded photo is {len(pixels)} bytes, expected {ROW_SIZE * HEIGHT}")
    header = b"BM" + struct.pack("<IHHI", BMP_SIZE, 0, 0, BMP_HEADER_SIZE)
    info = struct.pack("<IiiHHIIiiII", 40, WIDTH, HEIGHT, 1, 24, 0, len(pixels), 3780, 3780, 0, 0)
    return header + info + pixels


class PhotoDecoder:
    """A vendor WLT decoder loaded with ctypes. ``decode(wlt)`` returns BMP file bytes."""

    def __init__(self, library: str | os.PathLike[str], symbol: str = DEFAULT_SYMBOL) -> None:
        self.library = str(library)
        self.symbol = symbol
        try:
            self._lib = ctypes.CDLL(self.library)
        except OSError as exc:
            raise PhotoDecoderError(f"cannot load photo decoder {self.library}: {exc}") from None
        try:
            self._fn = getattr(self._lib, symbol)
        except AttributeError:
            raise PhotoDecoderError(f"photo decoder {self.library} has no function {symbol!r}") from None
        self._fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        self._fn.restype = ctypes.c_int
        # Vendor libraries keep global state; one call at a time.
        self._lock = threading.Lock()

    def decode(self, wlt: bytes) -> bytes:
        if len(wlt) != WLT_SIZE:
            raise PhotoDecoderError(f"a WLT photo is {WLT_SIZE} bytes, got {len(wlt)}")
        source = ctypes.create_string_buffer(bytes(wlt), WLT_SIZE)
        target = ctypes.create_string_buffer(BMP_SIZE + 1024)
        with self._lock:
            result = self._fn(source, target, 1)
        if result != SUCCESS:
            raise PhotoDecoderError(f"photo decoder {Path(self.library).name} returned {result}")
        raw = target.raw
        if raw.startswith(b"BM"):
            size = int.from_bytes(raw[2:6], "little")
            if not BMP_HEADER_SIZE < size <= len(raw):
                raise PhotoDecoderError(f"decoded BMP announces {size} bytes")
            return raw[:size]
        return bmp_from_bgr(raw[: WIDTH * 3 * HEIGHT])


def load_decoder(spec: str) -> PhotoDecoder | None:
    """The decoder named by a settings value (``path`` or ``path:symbol``); None if empty."""
    spec = (spec or "").strip()
    if not spec:
        return None
    path, symbol = spec, DEFAULT_SYMBOL
    head, sep, tail = spec.rpartition(":")
    if sep and head and "/" not in tail and not Path(spec).exists():
        path, symbol = head, tail
    if not Path(path).exists():
        raise PhotoDecoderError(f"photo decoder {path} does not exist")
    return PhotoDecoder(path, symbol)


def to_png(bmp: bytes) -> bytes:
    """Convert a decoded photo to PNG (for screens and the hub) with Pillow."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(bmp)) as image:
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
