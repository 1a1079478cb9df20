"""Building the ESC/POS bytes of a slip: commands, wrapped Chinese text, QR codes, raster images.

:class:`SlipBuilder` emits only the commands listed in REFERENCE.md section 2 (and ``ESC J``
to feed by dots). Every piece of text goes through :func:`printer.text.sanitize` and is
wrapped to the profile's columns at the current ``GS !`` width, so a slip never leans on
the printer's own line wrapping and no content byte can turn into a command.

QR codes keep the 4-module quiet zone the QR standard asks for: the symbol is centred
(native: ``ESC a 1``; raster: padded on the left, as ``ESC a`` does not move images on
every printer) with ``ESC J`` feeds of 4 modules above and below.
"""

from __future__ import annotations

from typing import Literal

import qrcode
import qrcode.constants
from PIL import Image

from printer.profiles import PrinterProfile
from printer.text import FOLD, clip_lines, columns, encode, in_font, pack, sanitize, wrap

ESC, GS, FS, DLE = b"\x1b", b"\x1d", b"\x1c", b"\x10"
INIT = ESC + b"@"
CHINESE_ON = FS + b"&"
CHINESE_OFF = FS + b"."
LF = b"\n"
ALIGN = {"left": ESC + b"a\x00", "center": ESC + b"a\x01", "right": ESC + b"a\x02"}
QR_LEVELS = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
             "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
QR_LEVEL_BYTE = {"L": 0x30, "M": 0x31, "Q": 0x32, "H": 0x33}
QUIET_MODULES = 4
# Raster images go out in bands: many printers' receive buffers cannot hold a whole slip.
RASTER_BAND_ROWS = 256
# Dots fed before a cut so the last line clears the cutter (about 10 mm at 203 dpi).
CUT_FEED_DOTS = 80

Align = Literal["left", "center", "right"]


class LayoutError(ValueError):
    """A slip would not fit the paper (a bug in a layout, never the content's fault)."""


def qr_modules(data: bytes, level: str = "M") -> int:
    """Modules per side of the smallest QR symbol (byte mode) holding ``data``."""
    code = qrcode.QRCode(error_correction=QR_LEVELS[level], border=0)
    code.add_data(data, optimize=0)
    code.make(fit=True)
    return code.modules_count


def qr_image(data: bytes, module: int, level: str = "M", border: int = QUIET_MODULES) -> Image.Image:
    """The QR symbol as a black-on-white image, ``module`` dots per module, ``border`` modules around."""
    code = qrcode.QRCode(error_correction=QR_LEVELS[level], box_size=module, border=border)
    code.add_data(data, optimize=0)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def raster_command(image: Image.Image) -> bytes:
    """``GS v 0`` bands of ``image`` (dark pixels print), left-aligned at the line start."""
    mono = image.convert("L").point(lambda v: 255 if v < 128 else 0).convert("1")
    width_bytes = (mono.width + 7) // 8
    if mono.width % 8:
        padded = Image.new("1", (width_bytes * 8, mono.height), 0)
        padded.paste(mono, (0, 0))
        mono = padded
    packed = mono.tobytes()
    out = bytearray()
    for top in range(0, mono.height, RASTER_BAND_ROWS):
        rows = min(RASTER_BAND_ROWS, mono.height - top)
        out += GS + b"v0\x00" + bytes([width_bytes & 0xFF, width_bytes >> 8, rows & 0xFF, rows >> 8])
        out += packed[top * width_bytes:(top + rows) * width_bytes]
    return bytes(out)


class SlipBuilder:
    """Accumulates the bytes of one slip for one printer profile."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self._out = bytearray()
        self._width = 1
        self._height = 1
        self.replaced = 0  # characters printed as □ because no installed font draws them
        self.raster_lines = 0  # lines sent as images because the printer's font lacks a character
        self.qr_payloads: list[str] = []
        self._align: Align = "left"
        self._bold = False

    # -- state -------------------------------------------------------------------------
    def init(self) -> SlipBuilder:
        self._out += INIT
        if self.profile.needs_fs_ampersand:
            self._out += CHINESE_ON
        self._width = self._height = 1
        self._align, self._bold = "left", False
        return self

    def align(self, where: Align) -> SlipBuilder:
        self._out += ALIGN[where]
        self._align = where
        return self

    def bold(self, on: bool = True) -> SlipBuilder:
        self._out += ESC + (b"E\x01" if on else b"E\x00")
        self._bold = on
        return self

    def size(self, width: int = 1, height: int = 1) -> SlipBuilder:
        """Character size with ``GS !`` (scales hanzi too, unlike ``ESC !``), 1..8 each way."""
        if not (1 <= width <= 8 and 1 <= height <= 8):
            raise ValueError(f"character size must be 1..8 each way, got {width}x{height}")
        self._out += GS + b"!" + bytes([((width - 1) << 4) | (height - 1)])
        self._width, self._height = width, height
        return self

    @property
    def columns(self) -> int:
        """Columns per line at the current character width."""
        return self.profile.columns // self._width

    # -- text --------------------------------------------------------------------------
    def _clean(self, text: object, multiline: bool = False) -> str:
        """Safe text (no control characters), folded; characters the printer's font lacks are kept
        (their lines print as images) unless no installed font draws them either (``□``)."""
        clean = sanitize(text, multiline=multiline).translate(FOLD)
        if all(ch == "\n" or in_font(ch, self.profile.charset) for ch in clean):
            return clean
        from printer.glyphs import default_line_art

        drawable = default_line_art().drawable(clean.replace("\n", " "))
        out = "".join(ch if ch == "\n" else d for ch, d in zip(clean, drawable, strict=True))
        self.replaced += sum(1 for a, b in zip(clean, out, strict=True) if a != b)
        return out

    def _emit_line(self, line: str) -> None:
        if columns(line) * self._width > self.profile.columns:
            raise LayoutError(f"a line of {columns(line)} columns at width x{self._width} does not fit "
                              f"{self.profile.columns} columns")
        if all(in_font(ch, self.profile.charset) for ch in line):
            self._out += encode(line) + LF
        else:
            self._raster_line(line)

    def _raster_line(self, line: str) -> None:
        """A line with characters the printer's font lacks: drawn with the CJK fonts, sent as an image
        one line high, placed as ``ESC a`` would place the text; the alignment is set again after."""
        from printer.glyphs import default_line_art

        art = default_line_art().render(line, width=self._width, height=self._height, bold=self._bold)
        align = self._align
        self.image(art, align=align)
        self.align(align)
        self.raster_lines += 1

    def text(self, text: object, *, multiline: bool = False, max_lines: int | None = None) -> list[str]:
        """Untrusted ``text``, cleaned and wrapped to the paper; returns the printed lines."""
        lines = wrap(self._clean(text, multiline), self.columns)
        if max_lines is not None:
            lines = clip_lines(lines, max_lines, self.columns)
        for line in lines:
            self._emit_line(line)
        return lines

    def field(self, label: str, value: object, *, multiline: bool = False,
              max_lines: int | None = None) -> list[str]:
        """``label：value`` with continuation lines indented under the value."""
        label = label + "："
        indent = columns(label)
        room = self.columns - indent
        lines = wrap(self._clean(value, multiline), room) or [""]
        if max_lines is not None:
            lines = clip_lines(lines, max_lines, room)
        printed = [label + lines[0]] + [" " * indent + line for line in lines[1:]]
        for line in printed:
            self._emit_line(line)
        return printed

    def field_items(self, label: str, items: list[object], sep: str = "，") -> list[str]:
        """``label：a，b，c`` with each item kept whole on a line when it fits."""
        label = label + "："
        indent = columns(label)
        clean = [self._clean(item) for item in items]
        lines = pack(clean, self.columns - indent, sep) or [""]
        printed = [label + lines[0]] + [" " * indent + line for line in lines[1:]]
        for line in printed:
            self._emit_line(line)
        return printed

    def raw_line(self, line: str) -> SlipBuilder:
        """A line made by a layout from already-clean text (rules, rulers); still checked."""
        clean = self._clean(line)
        self._emit_line(clean)
        return self

    def rule(self, char: str = "-") -> SlipBuilder:
        return self.raw_line(char * (self.columns // columns(char)))

    # -- paper movement ----------------------------------------------------------------
    def feed(self, lines: int = 1) -> SlipBuilder:
        if lines > 0:
            self._out += ESC + b"d" + bytes([min(lines, 255)])
        return self

    def feed_dots(self, dots: int) -> SlipBuilder:
        while dots > 0:
            step = min(dots, 255)
            self._out += ESC + b"J" + bytes([step])
            dots -= step
        return self

    def cut(self) -> SlipBuilder:
        """Feed the last line past the cutter and cut (partial if the printer has one), or
        just feed past the tear bar on printers without a cutter."""
        if self.profile.cutter == "none":
            return self.feed(4)
        self._out += GS + b"V" + (b"B" if self.profile.cutter == "partial" else b"A") + bytes([CUT_FEED_DOTS])
        return self

    # -- QR codes ----------------------------------------------------------------------
    def qr_module_size(self, data: bytes, level: str = "M", target_mm: float = 26.0) -> int:
        """Module size (dots) for a symbol about ``target_mm`` wide that fits with its quiet zone."""
        modules = qr_modules(data, level)
        target_dots = target_mm * 8  # 203 dpi is 8 dots per mm
        size = max(2, round(target_dots / modules))
        widest = self.profile.dots // (modules + 2 * QUIET_MODULES)
        size = min(size, widest, self.profile.qr_max_module)
        if size < 2:
            raise LayoutError(f"a QR code of {modules} modules does not fit {self.profile.dots} dots")
        return size

    def qr(self, data: str, *, native: bool | None = None, level: str = "M",
           module: int | None = None) -> SlipBuilder:
        """A centred QR code of ``data`` with its quiet zone; native ``GS ( k`` if the profile has it."""
        payload = self._clean(data).encode("utf-8")
        if not payload:
            raise ValueError("no data for the QR code")
        if len(payload) > 1000:
            raise ValueError(f"QR data of {len(payload)} bytes is too long for a slip (at most 1000)")
        module = module or self.qr_module_size(payload, level)
        self.qr_payloads.append(payload.decode("utf-8"))
        use_native = self.profile.native_qr if native is None else native
        if use_native:
            self.align("center")
            self.feed_dots(QUIET_MODULES * module)
            store = len(payload) + 3
            self._out += GS + b"(k\x04\x00\x31\x41\x32\x00"
            self._out += GS + b"(k\x03\x00\x31\x43" + bytes([module])
            self._out += GS + b"(k\x03\x00\x31\x45" + bytes([QR_LEVEL_BYTE[level]])
            self._out += GS + b"(k" + bytes([store & 0xFF, store >> 8]) + b"\x31\x50\x30" + payload
            self._out += GS + b"(k\x03\x00\x31\x51\x30"
            self.feed_dots(QUIET_MODULES * module)
        else:
            # The vertical quiet zone is fed rather than sent as white raster rows (fewer bytes);
            # the horizontal one is the blank paper left and right of the centred symbol.
            self.feed_dots(QUIET_MODULES * module)
            self.image(qr_image(payload, module, level, border=0), align="center")
            self.feed_dots(QUIET_MODULES * module)
        return self

    def image(self, image: Image.Image, *, align: Align = "center") -> SlipBuilder:
        """A raster image, positioned by padding it (``ESC a`` does not move images on every printer)."""
        if image.width > self.profile.dots:
            raise LayoutError(f"an image {image.width} dots wide does not fit {self.profile.dots} dots")
        left = {"left": 0, "center": (self.profile.dots - image.width) // 2,
                "right": self.profile.dots - image.width}[align]
        left -= left % 8 if align == "left" else 0
        canvas = Image.new("L", (left + image.width, image.height), 255)
        canvas.paste(image.convert("L"), (left, 0))
        self.align("left")
        self._out += raster_command(canvas)
        return self

    # -- result ------------------------------------------------------------------------
    def raw(self, data: bytes) -> SlipBuilder:
        """Bytes a caller built itself (e.g. a whole-slip raster); nothing from content."""
        self._out += data
        return self

    def getvalue(self) -> bytes:
        return bytes(self._out)
