"""Drawing slip lines the printer's own font cannot print, as raster images.

A thermal printer's built-in font holds GBK (or GB18030's two-byte part): a resident's name or
village with a character of a CJK extension (𠮷, 䶮, 㐀, 𪚥, 𰻞), half-width katakana or a
sign such as € has no glyph there. :class:`LineArt` draws such a line in the printer's
cells (12x24 dots a column, scaled like ``GS !``) with the station's CJK font and, per
character it lacks, the first installed font that has it (BabelStone Han covers every CJK
extension up to Unicode 15). A character no installed font draws is a ``□``.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from printer.text import REPLACEMENT, char_columns

CELL_W, CELL_H = 12, 24  # dots of one column of font A at normal size
LINE_DOTS = 30  # a text line's advance at the default line spacing (about 1/6 inch)
LINE_GAP = 6
FONT_SIZE = 22
# Fonts for what the station's font lacks, tried in this order when installed.
FALLBACK_FONTS = (
    "/usr/share/fonts/truetype/babelstone/BabelStoneHan.ttf",  # Debian: fonts-babelstone-han
    "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf",
    "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


class _Face:
    """One font and the bitmap of its "missing glyph" box, to tell which characters it has."""

    def __init__(self, path: str) -> None:
        self.font = ImageFont.truetype(path, FONT_SIZE)
        self._missing = self._mask("\U0010fffd")  # a private-use code point no font draws

    def _mask(self, ch: str) -> bytes:
        mask = self.font.getmask(ch)
        return bytes(mask) + bytes(str(mask.size), "ascii")

    def has(self, ch: str) -> bool:
        return ch.isspace() or self._mask(ch) != self._missing


def _fontconfig_fonts(ch: str) -> list[str]:
    """Installed fonts that fontconfig says hold ``ch`` (empty without fc-list)."""
    try:
        out = subprocess.run(["fc-list", f":charset={ord(ch):x}", "file"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.split(":")[0].strip() for line in out.splitlines()
                  if line.split(":")[0].strip().lower().endswith((".ttf", ".ttc", ".otf")))


@lru_cache(maxsize=8)
def _face(path: str) -> _Face | None:
    try:
        return _Face(path)
    except OSError:
        return None


class LineArt:
    """Draws lines of slip text in the printer's cells with installed fonts."""

    def __init__(self, font_path: Path | str | None = None) -> None:
        from common.fonts import find_cjk_font

        self.primary = str(font_path or find_cjk_font(None))
        self._chosen: dict[str, _Face | None] = {}

    def face_for(self, ch: str) -> _Face | None:
        """The first font that draws ``ch``: the station's, the known fallbacks, then fontconfig's."""
        if ch in self._chosen:
            return self._chosen[ch]
        found = None
        for path in (self.primary, *FALLBACK_FONTS):
            face = _face(path) if Path(path).is_file() else None
            if face is not None and face.has(ch):
                found = face
                break
        if found is None:
            for path in _fontconfig_fonts(ch):
                face = _face(path)
                if face is not None and face.has(ch):
                    found = face
                    break
        self._chosen[ch] = found
        return found

    def drawable(self, text: str) -> str:
        """``text`` with every character no installed font draws replaced by ``□``."""
        return "".join(ch if self.face_for(ch) is not None else REPLACEMENT for ch in text)

    def render(self, line: str, *, width: int = 1, height: int = 1, bold: bool = False) -> Image.Image:
        """``line`` as the printer would print it in its cells (black on white), one line's advance high."""
        cells = [(ch, CELL_W * (1 if ch.isascii() else char_columns(ch))) for ch in line]
        total = sum(w for _, w in cells)
        img = Image.new("L", (max(8, total), CELL_H), 255)
        draw = ImageDraw.Draw(img)
        x = 0
        for ch, w in cells:
            face = self.face_for(ch) or self.face_for(REPLACEMENT)
            if face is not None and not ch.isspace():
                ascent, descent = face.font.getmetrics()
                baseline = (CELL_H - (ascent + descent)) // 2 + ascent
                glyph = Image.new("L", (max(w, int(face.font.getlength(ch) + 1.999)), CELL_H), 255)
                gdraw = ImageDraw.Draw(glyph)
                for dx in ((0, 1) if bold else (0,)):
                    gdraw.text((glyph.width / 2 + dx, baseline), ch, font=face.font, fill=0, anchor="ms")
                if glyph.width > w:  # squeezed into its cell, as the printer's narrow font would be
                    glyph = glyph.resize((w, CELL_H), Image.Resampling.LANCZOS)
                img.paste(glyph, (x, 0))
            x += w
        del draw
        img = img.point(lambda v: 0 if v < 150 else 255)
        if (width, height) != (1, 1):
            img = img.resize((img.width * width, img.height * height), Image.Resampling.NEAREST)
        advance = max(LINE_DOTS, CELL_H * height + LINE_GAP)
        out = Image.new("L", (img.width, advance), 255)
        out.paste(img, (0, 0))
        return out


@lru_cache(maxsize=1)
def default_line_art() -> LineArt:
    """One :class:`LineArt` per process (fonts and their coverage are read once)."""
    return LineArt()
