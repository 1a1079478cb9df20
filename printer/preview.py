"""The preview renderer: the ESC/POS bytes our slips use -> a PNG at the printer's dot width.

It models a Chinese thermal printer closely enough for staff previews, the demo's
virtual printer and the tests: font A cells of 12x24 dots (a double-byte character
24x24), ``GS !`` scaling by dot duplication, ``ESC E`` double strike, ``ESC a``
alignment per line, GB18030 text in Chinese mode (``FS &``/``FS .``; ``ESC @`` returns to
the power-on mode), ``LF``/``ESC d``/``ESC J`` feeds, ``GS ( k`` QR codes (drawn with the
``qrcode`` package at the commanded module size), ``GS v 0`` raster images and ``GS V``
cuts. ``DLE EOT`` status requests print nothing.

Anything else is *reported*, never silently skipped: each unknown or unsupported command
and each stray control byte lands in :attr:`RenderReport.problems` (with ``strict=True``
the first one raises :class:`RenderError`). Text too wide for the line is wrapped as a
printer would, and reported in :attr:`RenderReport.overflows`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from common.fonts import find_cjk_font
from printer.escpos import QR_LEVELS

CELL_H = 24
CELL_W = 12
LINE_SPACING = 30  # dots per line feed at the default line spacing (about 1/6 inch)
LINE_GAP = 6  # dots between a tall line's characters and the next line
QR_LEVEL_NAMES = {0x30: "L", 0x31: "M", 0x32: "Q", 0x33: "H"}

# Commands with fixed argument counts that a printer knows but our slips never send:
# they are skipped by their real length (so what follows still parses) and reported.
_ESC_UNSUPPORTED = {b"!": 1, b"-": 1, b"2": 0, b"3": 1, b"G": 1, b"M": 1, b"R": 1, b"t": 1, b"{": 1,
                    b"V": 1, b"p": 3, b" ": 1, b"$": 2, b"\\": 2, b"c": 2, b"r": 1, b"=": 1, b"U": 1}
_GS_UNSUPPORTED = {b"B": 1, b"H": 1, b"h": 1, b"w": 1, b"f": 1, b"L": 2, b"W": 2, b"a": 1, b"r": 1,
                   b"I": 1, b"b": 1, b"P": 2, b"$": 2, b"\\": 2, b"^": 3, b":": 0}
_FS_UNSUPPORTED = {b"!": 1, b"-": 1, b"S": 2, b"W": 1, b"C": 1, b"p": 2, b"?": 1, b"r": 1}


class RenderError(ValueError):
    """Strict rendering met a command or byte our slips never send."""


@dataclass(frozen=True)
class Command:
    """One parsed piece of the stream: a command (``name``, its bytes) or a text run."""

    offset: int
    name: str
    data: bytes

    @property
    def arg(self) -> int:
        return self.data[-1]


def _need(buf: bytes, i: int, n: int) -> bool:
    return len(buf) - i >= n


class Tokenizer:
    """Splits an ESC/POS byte stream into :class:`Command` pieces, incrementally.

    ``feed()`` returns the commands complete so far and keeps an incomplete tail (a
    command cut in half, or a text run that may go on) for the next call; ``close()``
    returns what is left. Payloads (QR data, raster bits) are never mistaken for commands,
    which is what lets a printer answer ``DLE EOT`` in the middle of a job.
    """

    def __init__(self) -> None:
        self._buf = b""
        self._base = 0  # stream offset of _buf[0]

    def feed(self, data: bytes) -> list[Command]:
        self._buf += data
        out, used = self._parse(final=False)
        self._buf = self._buf[used:]
        self._base += used
        return out

    def close(self) -> list[Command]:
        out, used = self._parse(final=True)
        if used < len(self._buf):
            out.append(Command(self._base + used, "incomplete", self._buf[used:]))
        self._buf = b""
        return out

    def _parse(self, final: bool) -> tuple[list[Command], int]:
        buf, out, i = self._buf, [], 0
        while i < len(buf):
            size, name = self._measure(buf, i, final)
            if size == 0:
                break
            out.append(Command(self._base + i, name, buf[i:i + size]))
            i += size
        return out, i

    @staticmethod
    def _measure(buf: bytes, i: int, final: bool) -> tuple[int, str]:
        """(length, name) of the piece at ``i``; length 0 = incomplete, wait for more."""
        b = buf[i]
        if b >= 0x20:
            j = i
            while j < len(buf) and buf[j] >= 0x20:
                j += 1
            if j == len(buf) and not final:
                return 0, ""
            return j - i, "text"
        if b == 0x0A:
            return 1, "LF"
        if b == 0x0D:
            return 1, "CR"
        if b in _PREFIXED:
            if not _need(buf, i, 2):
                return 0, ""
            return _PREFIXED[b](buf, i, buf[i + 1:i + 2])
        return 1, f"control byte 0x{b:02X}"


def _fixed(buf: bytes, i: int, size: int, name: str) -> tuple[int, str]:
    """A command of ``size`` bytes, or (0, "") while it has not all arrived."""
    return (size, name) if _need(buf, i, size) else (0, "")


def _unsupported(buf: bytes, i: int, op: bytes, table: dict[bytes, int], prefix: str) -> tuple[int, str]:
    """A command this preview does not draw: skipped whole when its length is known."""
    if op in table:
        return _fixed(buf, i, 2 + table[op], f"unsupported {prefix} {op.decode('latin-1')}")
    return 2, f"unknown {prefix} 0x{op[0]:02X}"


_ESC_THREE = {b"a": "ALIGN", b"E": "BOLD", b"d": "FEED_LINES", b"J": "FEED_DOTS"}


def _measure_esc(buf: bytes, i: int, op: bytes) -> tuple[int, str]:
    if op == b"@":
        return 2, "INIT"
    if op in _ESC_THREE:
        return _fixed(buf, i, 3, _ESC_THREE[op])
    return _unsupported(buf, i, op, _ESC_UNSUPPORTED, "ESC")


def _measure_gs_cut(buf: bytes, i: int) -> tuple[int, str]:
    if not _need(buf, i, 3):
        return 0, ""
    if buf[i + 2] in (0, 1, 48, 49):
        return 3, "CUT"
    if buf[i + 2] in (65, 66):  # cut after feeding n dots: one more byte
        return _fixed(buf, i, 4, "CUT")
    return 3, "unknown GS V"


def _measure_gs_2d(buf: bytes, i: int) -> tuple[int, str]:
    if not _need(buf, i, 5):
        return 0, ""
    size = 5 + buf[i + 3] + 256 * buf[i + 4]
    return _fixed(buf, i, size, "2D" if buf[i + 2:i + 3] == b"k" else f"unsupported GS ( {chr(buf[i + 2])}")


def _measure_gs_raster(buf: bytes, i: int) -> tuple[int, str]:
    if not _need(buf, i, 8):
        return 0, ""
    if buf[i + 2] != 0x30:
        return 3, "unknown GS v"
    size = 8 + (buf[i + 4] + 256 * buf[i + 5]) * (buf[i + 6] + 256 * buf[i + 7])
    return _fixed(buf, i, size, "RASTER")


def _measure_gs(buf: bytes, i: int, op: bytes) -> tuple[int, str]:
    if op == b"!":
        return _fixed(buf, i, 3, "SIZE")
    if op == b"V":
        return _measure_gs_cut(buf, i)
    if op == b"(":
        return _measure_gs_2d(buf, i)
    if op == b"v":
        return _measure_gs_raster(buf, i)
    return _unsupported(buf, i, op, _GS_UNSUPPORTED, "GS")


def _measure_fs(buf: bytes, i: int, op: bytes) -> tuple[int, str]:
    if op == b"&":
        return 2, "CHINESE_ON"
    if op == b".":
        return 2, "CHINESE_OFF"
    return _unsupported(buf, i, op, _FS_UNSUPPORTED, "FS")


def _measure_dle(buf: bytes, i: int, op: bytes) -> tuple[int, str]:
    if op == b"\x04":
        return _fixed(buf, i, 3, "STATUS_REQUEST")
    if op == b"\x05":
        return _fixed(buf, i, 3, "unsupported DLE ENQ")
    return 2, "unknown DLE"


# The prefix bytes of multi-byte commands: ESC, GS, FS, DLE.
_PREFIXED: dict[int, Callable[[bytes, int, bytes], tuple[int, str]]] = {
    0x1B: _measure_esc, 0x1D: _measure_gs, 0x1C: _measure_fs, 0x10: _measure_dle,
}


@dataclass
class RenderedLine:
    text: str
    y: int
    x: int
    width: int  # dots
    height: int
    size: tuple[int, int]
    bold: bool
    align: str


@dataclass
class RenderedQR:
    data: str
    module: int
    level: str
    box: tuple[int, int, int, int]  # left, top, right, bottom in dots


@dataclass
class RenderReport:
    """What the renderer saw: every command, every line, every QR code, and every problem."""

    dots: int
    commands: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    overflows: list[str] = field(default_factory=list)
    lines: list[RenderedLine] = field(default_factory=list)
    qr_codes: list[RenderedQR] = field(default_factory=list)
    rasters: list[tuple[int, int, int, int]] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    status_requests: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def ok(self) -> bool:
        """Nothing unknown, nothing overflowing."""
        return not self.problems and not self.overflows


@lru_cache(maxsize=4)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


class _Glyphs:
    """Glyph bitmaps in their base cells (12x24 or 24x24), thresholded like thermal dots.

    ASCII uses the font's monospaced face when it has one (font A is monospaced); a glyph
    still wider than its cell is squeezed into it, as a printer's narrow font would be.
    """

    def __init__(self, font_path: Path) -> None:
        self.font = _font(str(font_path), 22)
        self.ascii_font = self.font
        try:
            mono = ImageFont.truetype(str(font_path), 20, index=1)
            if "Mono" in " ".join(mono.getname()):
                self.ascii_font = mono
        except OSError:
            pass
        ascent, descent = self.font.getmetrics()
        self.baseline = (CELL_H - (ascent + descent)) // 2 + ascent
        self._cache: dict[tuple[str, bool], Image.Image] = {}

    def get(self, ch: str, bold: bool) -> Image.Image:
        key = (ch, bold)
        glyph = self._cache.get(key)
        if glyph is None:
            width = CELL_W if ch.isascii() else 2 * CELL_W
            font = self.ascii_font if ch.isascii() else self.font
            natural = max(width, int(font.getlength(ch) + 0.999) + (1 if bold else 0))
            img = Image.new("L", (natural, CELL_H), 255)
            draw = ImageDraw.Draw(img)
            for dx in ((0, 1) if bold else (0,)):
                draw.text((natural / 2 + dx, self.baseline), ch, font=font, fill=0, anchor="ms")
            if natural > width:
                img = img.resize((width, CELL_H), Image.Resampling.LANCZOS)
            glyph = img.point(lambda v: 0 if v < 150 else 255)
            self._cache[key] = glyph
        return glyph


class Renderer:
    """Renders one byte stream; use :func:`render` unless you need the pieces."""

    def __init__(self, dots: int, *, font_path: Path | None = None, strict: bool = False,
                 chinese_default: bool = True) -> None:
        if dots % 8 or not 64 <= dots <= 2048:
            raise ValueError(f"dots must be a multiple of 8 between 64 and 2048, got {dots}")
        self.dots = dots
        self.strict = strict
        self.chinese_default = chinese_default
        self.glyphs = _Glyphs(font_path or find_cjk_font(None))
        self.report = RenderReport(dots=dots)
        self._pastes: list[tuple[int, int, Image.Image]] = []
        self._y = 0
        self._reset()
        self._line: list[tuple[str, int, int, bool]] = []  # char, width mult, height mult, bold
        self._line_align = "left"
        self._line_x = 0

    def _reset(self) -> None:
        self.align = "left"
        self.bold = False
        self.width = self.height = 1
        self.chinese = self.chinese_default
        self.qr = {"module": 3, "level": "L", "data": b""}

    def _problem(self, offset: int, message: str) -> None:
        text = f"byte {offset}: {message}"
        if self.strict:
            raise RenderError(text)
        self.report.problems.append(text)

    # -- text lines --------------------------------------------------------------------
    def _add_char(self, ch: str) -> None:
        cell = (CELL_W if ch.isascii() else 2 * CELL_W) * self.width
        if self._line_x + cell > self.dots:
            text = "".join(c for c, *_ in self._line)
            self.report.overflows.append(text + ch)
            self._flush(LINE_SPACING)
        if not self._line:
            self._line_align = self.align
        self._line.append((ch, self.width, self.height, self.bold))
        self._line_x += cell

    def _flush(self, min_advance: int) -> None:
        """Print the line buffer (if any) and move down at least ``min_advance`` dots."""
        if not self._line:
            self._y += min_advance
            return
        tallest = max(CELL_H * h for _, _, h, _ in self._line)
        width = self._line_x
        x = {"left": 0, "center": (self.dots - width) // 2, "right": self.dots - width}[self._line_align]
        cursor = x
        for ch, w, h, bold in self._line:
            glyph = self.glyphs.get(ch, bold)
            if (w, h) != (1, 1):
                glyph = glyph.resize((glyph.width * w, glyph.height * h), Image.Resampling.NEAREST)
            self._pastes.append((cursor, self._y + tallest - glyph.height, glyph))
            cursor += glyph.width
        self.report.lines.append(RenderedLine(
            text="".join(c for c, *_ in self._line), y=self._y, x=x, width=width, height=tallest,
            size=(max(w for _, w, _, _ in self._line), max(h for _, _, h, _ in self._line)),
            bold=any(b for *_, b in self._line), align=self._line_align))
        self._y += max(min_advance, tallest + LINE_GAP)
        self._line = []
        self._line_x = 0

    def _text(self, cmd: Command) -> None:
        data, i = cmd.data, 0
        while i < len(data):
            b = data[i]
            if b < 0x80:
                if b == 0x7F:
                    self._problem(cmd.offset + i, "control byte 0x7F in text")
                else:
                    self._add_char(chr(b))
                i += 1
                continue
            if not self.chinese:
                self._problem(cmd.offset + i, f"byte 0x{b:02X} outside Chinese mode (missing FS &?)")
                self._add_char("?")
                i += 1
                continue
            size = 4 if i + 1 < len(data) and 0x30 <= data[i + 1] <= 0x39 else 2
            chunk = data[i:i + size]
            try:
                ch = chunk.decode("gb18030")
                if len(ch) != 1:
                    raise UnicodeDecodeError("gb18030", chunk, 0, len(chunk), "not one character")
            except UnicodeDecodeError:
                self._problem(cmd.offset + i, f"invalid GB18030 bytes {chunk.hex(' ')}")
                ch, size = "□", max(1, min(size, len(data) - i))
            self._add_char(ch)
            i += size

    # -- images ------------------------------------------------------------------------
    def _place(self, image: Image.Image) -> tuple[int, int, int, int]:
        if self._line:
            self._flush(LINE_SPACING)
        if image.width > self.dots:
            self.report.overflows.append(f"image {image.width} dots wide")
            image = image.crop((0, 0, self.dots, image.height))
        x = {"left": 0, "center": (self.dots - image.width) // 2, "right": self.dots - image.width}[self.align]
        self._pastes.append((x, self._y, image))
        box = (x, self._y, x + image.width, self._y + image.height)
        self._y += image.height
        return box

    def _qr_command(self, cmd: Command) -> None:
        d = cmd.data
        cn, fn = d[5], d[6]
        if cn != 0x31:
            self._problem(cmd.offset, f"2D code cn=0x{cn:02X} (not QR)")
            return
        if fn == 0x41:
            if len(d) < 9 or d[7] != 0x32:
                self._problem(cmd.offset, "QR model other than 2")
        elif fn == 0x43:
            self.qr["module"] = d[7]
        elif fn == 0x45:
            self.qr["level"] = QR_LEVEL_NAMES.get(d[7], "?")
            if d[7] not in QR_LEVEL_NAMES:
                self._problem(cmd.offset, f"QR error level byte 0x{d[7]:02X}")
        elif fn == 0x50:
            self.qr["data"] = d[8:]
        elif fn == 0x51:
            self._qr_print(cmd)
        else:
            self._problem(cmd.offset, f"QR function 0x{fn:02X}")

    def _qr_print(self, cmd: Command) -> None:
        data, module, level = self.qr["data"], self.qr["module"], self.qr["level"]
        if not data or level not in QR_LEVELS or not 1 <= module <= 16:
            self._problem(cmd.offset, "QR print without valid data, module size or error level")
            return
        code = qrcode.QRCode(error_correction=QR_LEVELS[level], box_size=module, border=0)
        code.add_data(data, optimize=0)
        code.make(fit=True)
        image = code.make_image(fill_color="black", back_color="white").get_image().convert("L")
        box = self._place(image)
        self.report.qr_codes.append(RenderedQR(data.decode("utf-8", "replace"), module, level, box))

    def _raster(self, cmd: Command) -> None:
        d = cmd.data
        mode, width_bytes, rows = d[3], d[4] + 256 * d[5], d[6] + 256 * d[7]
        if mode not in (0, 1, 2, 3, 48, 49, 50, 51):
            self._problem(cmd.offset, f"raster mode {mode}")
            return
        if width_bytes == 0 or rows == 0:
            return
        bits = Image.frombytes("1", (width_bytes * 8, rows), d[8:])
        image = bits.convert("L").point(lambda v: 0 if v else 255)
        scale_w, scale_h = (2 if mode & 1 else 1), (2 if mode & 2 else 1)
        if (scale_w, scale_h) != (1, 1):
            image = image.resize((image.width * scale_w, image.height * scale_h), Image.Resampling.NEAREST)
        self.report.rasters.append(self._place(image))

    # -- the stream --------------------------------------------------------------------
    def feed(self, commands: list[Command]) -> None:
        handlers = self._handlers()
        for cmd in commands:
            self.report.commands[cmd.name] += 1
            handler = handlers.get(cmd.name)
            if handler is not None:
                handler(cmd)
            elif cmd.name == "incomplete":
                self._problem(cmd.offset, f"stream ends inside a command ({cmd.data[:8].hex(' ')})")
            else:
                self._problem(cmd.offset, f"{cmd.name} ({cmd.data[:8].hex(' ')})")

    def _handlers(self) -> dict[str, Callable[[Command], None]]:
        return {
            "text": self._text, "LF": lambda cmd: self._flush(LINE_SPACING), "CR": lambda cmd: None,
            "INIT": lambda cmd: self._reset(), "CHINESE_ON": lambda cmd: self._set_chinese(True),
            "CHINESE_OFF": lambda cmd: self._set_chinese(False), "ALIGN": self._align,
            "BOLD": self._bold, "SIZE": self._size, "FEED_LINES": self._feed_lines,
            "FEED_DOTS": self._feed_dots, "2D": self._qr_command, "RASTER": self._raster,
            "CUT": self._cut, "STATUS_REQUEST": lambda cmd: self.report.status_requests.append(cmd.arg),
        }

    def _set_chinese(self, on: bool) -> None:
        self.chinese = on

    def _align(self, cmd: Command) -> None:
        if cmd.arg in (0, 1, 2, 48, 49, 50):
            self.align = ("left", "center", "right")[cmd.arg % 48]
        else:
            self._problem(cmd.offset, f"ESC a {cmd.arg}")

    def _bold(self, cmd: Command) -> None:
        self.bold = bool(cmd.arg & 1)

    def _size(self, cmd: Command) -> None:
        self.width, self.height = (cmd.arg >> 4) + 1, (cmd.arg & 0x0F) + 1

    def _feed_lines(self, cmd: Command) -> None:
        self._flush(LINE_SPACING)
        self._y += LINE_SPACING * max(0, cmd.arg - 1)

    def _feed_dots(self, cmd: Command) -> None:
        if self._line:
            self._flush(0)
        self._y += cmd.arg

    def _cut(self, cmd: Command) -> None:
        if self._line:
            self._flush(LINE_SPACING)
        if len(cmd.data) == 4:
            self._y += cmd.data[3]
        self.report.cuts.append(self._y)

    def finish(self) -> Image.Image:
        if self._line:
            self._flush(LINE_SPACING)
        height = max(self._y, 1)
        paper = Image.new("L", (self.dots, height), 255)
        for x, y, image in self._pastes:
            paper.paste(image, (x, y))
        draw = ImageDraw.Draw(paper)
        for y in self.report.cuts:
            if y < height - 1:  # a cut with more paper after it: show where the slips part
                for x in range(0, self.dots, 16):
                    draw.line((x, y, x + 7, y), fill=160)
        return paper


def render(data: bytes, dots: int, *, strict: bool = False, font_path: Path | None = None,
           chinese_default: bool = True) -> tuple[Image.Image, RenderReport]:
    """Render ESC/POS ``data`` for a printer ``dots`` wide: ``(image, report)``.

    ``chinese_default`` is the printer's power-on mode (many Chinese printers start in
    Chinese mode; a strict check of ``FS &`` uses False). With ``strict`` the first
    unknown command raises :class:`RenderError`.
    """
    renderer = Renderer(dots, font_path=font_path, strict=strict, chinese_default=chinese_default)
    tokenizer = Tokenizer()
    renderer.feed(tokenizer.feed(data) + tokenizer.close())
    return renderer.finish(), renderer.report


def ink_columns(image: Image.Image) -> tuple[int, int] | None:
    """(leftmost, rightmost) x holding black dots, or None for a blank image."""
    mono = image.convert("L").point(lambda v: 255 if v < 128 else 0)
    box = mono.getbbox()
    return (box[0], box[2] - 1) if box else None
