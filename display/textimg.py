"""Text and QR codes drawn into opaque images with Pillow, once per content change.

The board never draws text per frame: every string is rendered here to an RGB image on the
colour it will sit on, then uploaded once as a texture (display/sprites.py). Opaque images
let the board draw with blending off, which halves the cost of every pixel in software GL.

All lines of one type size share one vertical band (the ink extent of hanzi, digits and
descenders in that size), so sprites of the same size line up on a common baseline while
carrying no empty margin. Chinese text wraps between any two characters, except that a
closing punctuation mark never starts a line and an opening one never ends it; runs of
Latin letters and digits (phone numbers, salaries) are kept together.

No Kivy here: this runs in the board's worker thread and in tests.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont

RGB = tuple[int, int, int]

# Marks that must not start a line / must not end one (GB/T 15834 line-breaking rules, simplified).
NO_LINE_START = set("，。、；：？！）》」』】〕〉”’…—%‰·,.;:?!)]}")
NO_LINE_END = set("（《「『【〔〈“‘([{")
_BAND_REFERENCE = "国岗薪Ag|gjpqy0123456789（）【】"
_ATOM = re.compile(r"[A-Za-z0-9.+\-/:@#%]+|\s+|.", re.S)
_WORD_END = re.compile(r"[A-Za-z0-9.+\-/:@#%]+$")
ELLIPSIS = "…"


@dataclass(frozen=True)
class Band:
    """The vertical extent of one type size: where ink starts below the em box top, and its height."""

    top: int
    height: int


class FontBook:
    """One font file at many sizes; thread-safe (a lock around FreeType)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self._bands: dict[int, Band] = {}
        self._lock = threading.RLock()

    def font(self, px: int) -> ImageFont.FreeTypeFont:
        with self._lock:
            font = self._fonts.get(px)
            if font is None:
                font = self._fonts[px] = ImageFont.truetype(self.path, px)
            return font

    def band(self, px: int) -> Band:
        with self._lock:
            band = self._bands.get(px)
            if band is None:
                left, top, right, bottom = self.font(px).getbbox(_BAND_REFERENCE)
                top = max(0, top - 1)
                band = self._bands[px] = Band(top, bottom + 1 - top)
            return band

    def hanzi(self, px: int) -> Band:
        """The ink extent of hanzi alone (for centring text in a fixed line, as on an LED)."""
        with self._lock:
            left, top, right, bottom = self.font(px).getbbox("国岗薪")
            return Band(top, bottom - top)

    def width(self, text: str, px: int) -> int:
        with self._lock:
            return int(round(self.font(px).getlength(text)))


def _atoms(text: str) -> list[str]:
    return _ATOM.findall(text)


def ellipsize(book: FontBook, text: str, px: int, width: int) -> str:
    """``text`` cut to fit ``width`` pixels, ending in … when cut."""
    if book.width(text, px) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if book.width(text[:mid].rstrip() + ELLIPSIS, px) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS


def wrap_text(book: FontBook, text: str, px: int, width: int, max_lines: int | None = None) -> list[str]:
    """Lines of ``text`` that each fit ``width`` pixels (explicit newlines kept).

    With ``max_lines``, the last line kept ends in … if text was left over.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(book, paragraph.strip(), px, width))
    if max_lines is not None and len(lines) > max_lines:
        kept = lines[:max_lines]
        kept[-1] = ellipsize(book, kept[-1] + lines[max_lines], px, width)
        if not kept[-1].endswith(ELLIPSIS):
            kept[-1] = ellipsize(book, kept[-1] + ELLIPSIS * 2, px, width)
        return kept
    return lines


def _wrap_paragraph(book: FontBook, text: str, px: int, width: int) -> list[str]:
    if not text:
        return [""]
    lines: list[str] = []
    line = ""

    def fits(candidate: str) -> bool:
        return book.width(candidate.rstrip(), px) <= width

    def begin(atom: str) -> str:
        # a run wider than a whole line (a long number) is cut by characters
        if fits(atom):
            return atom
        piece = ""
        for ch in atom:
            if piece and not fits(piece + ch):
                lines.append(piece)
                piece = ""
            piece += ch
        return piece

    for atom in _atoms(text):
        if not line:
            if not atom.isspace():
                line = begin(atom)
            continue
        if fits(line + atom):
            line += atom
        elif atom.isspace():
            lines.append(line.rstrip())
            line = ""
        elif (atom[0] in NO_LINE_START or line[-1] in NO_LINE_END) and len(line.rstrip()) > 1:
            # move the line's last character down so the mark is not alone at a line start
            # (or an opening mark not alone at a line end); a number or a Latin word goes down whole
            kept = line.rstrip()
            word = _WORD_END.search(kept)
            n = len(word.group()) if word and len(word.group()) < len(kept) else 1
            lines.append(kept[:-n].rstrip())
            line = begin(kept[-n:] + atom)
        else:
            lines.append(line.rstrip())
            line = begin(atom)
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def render_line(book: FontBook, text: str, px: int, fg: RGB, bg: RGB, *, antialias: bool = True,
                bold: bool = False, width: int | None = None, align: str = "left",
                height: int | None = None) -> Image.Image:
    """One line of text as an opaque RGB image, as tall as the size's band.

    Without ``width`` the image is exactly as wide as the text; with it, the text is aligned
    inside (and ellipsized if it does not fit). With ``height`` the band is centred in an
    image that tall (an LED line: a descender may lose a pixel, a hanzi never does).
    """
    band = book.band(px)
    img_h = height or band.height
    if height is None:
        y = -band.top
    else:
        ink = book.hanzi(px)
        y = -ink.top + (img_h - ink.height) // 2
    stroke = 1 if bold and px >= 24 else 0
    if width is not None:
        text = ellipsize(book, text, px, max(1, width - 2 * stroke))
    text_w = book.width(text, px) + 2 * stroke
    img_w = max(1, width if width is not None else text_w)
    image = Image.new("RGB", (img_w, img_h), bg)
    if text:
        x = {"left": 0, "center": (img_w - text_w) // 2, "right": img_w - text_w}[align]
        draw = ImageDraw.Draw(image)
        if not antialias:
            draw.fontmode = "1"
        with book._lock:
            draw.text((x + stroke, y), text, font=book.font(px), fill=fg,
                      stroke_width=stroke, stroke_fill=fg if stroke else None)
    return image


def render_runs(book: FontBook, runs: list[tuple[str, int, RGB]], bg: RGB, *, antialias: bool = True,
                gap: int = 0, height: int | None = None) -> Image.Image:
    """Several differently coloured pieces of text side by side on one baseline (LED marquees)."""
    parts = [render_line(book, text, px, fg, bg, antialias=antialias, height=height)
             for text, px, fg in runs if text]
    total_h = height or max((p.height for p in parts), default=1)
    total_w = max(1, sum(p.width for p in parts) + gap * max(0, len(parts) - 1))
    image = Image.new("RGB", (total_w, total_h), bg)
    x = 0
    for part in parts:
        image.paste(part, (x, (total_h - part.height) // 2))
        x += part.width + gap
    return image


def render_block(book: FontBook, text: str, px: int, fg: RGB, bg: RGB, width: int, *,
                 max_lines: int | None = None, line_gap: float = 0.35, align: str = "left",
                 antialias: bool = True, bold: bool = False) -> Image.Image:
    """Wrapped text as one opaque image no wider than ``width`` (as wide as its longest line).

    Lines are aligned inside the image; line spacing is ``line_gap`` x the size.
    """
    lines = wrap_text(book, text, px, width, max_lines)
    band = book.band(px)
    step = band.height + int(px * line_gap)
    pieces = [render_line(book, line, px, fg, bg, antialias=antialias, bold=bold,
                          width=width if book.width(line, px) > width else None) for line in lines]
    block_w = max(1, max((piece.width for piece in pieces), default=1))
    height = max(1, step * len(lines) - int(px * line_gap))
    image = Image.new("RGB", (block_w, height), bg)
    for index, piece in enumerate(pieces):
        x = {"left": 0, "center": (block_w - piece.width) // 2, "right": block_w - piece.width}[align]
        image.paste(piece, (x, index * step))
    return image


def block_lines(book: FontBook, px: int, height: int, line_gap: float = 0.35) -> int:
    """How many lines of size ``px`` fit ``height`` pixels (at least one)."""
    step = book.band(px).height + int(px * line_gap)
    return max(1, (height + int(px * line_gap)) // step)


def trim(image: Image.Image, bg: RGB) -> tuple[Image.Image, int, int]:
    """``image`` cropped to its ink (what differs from ``bg``), and the crop's left/top offsets.

    Every pixel of a sprite costs at every frame in software GL; the empty margins of a line
    of text (above hanzi, around punctuation) are a fifth of it.
    """
    box = ImageChops.difference(image, Image.new(image.mode, image.size, bg)).getbbox()
    if box is None:
        return image.crop((0, 0, 1, 1)), 0, 0
    if box == (0, 0, image.width, image.height):
        return image, 0, 0
    return image.crop(box), box[0], box[1]


def chunk_text(book: FontBook, text: str, px: int, width: int) -> list[str]:
    """``text`` cut into lines that each fit ``width`` (for paged tickers and LED strips)."""
    return [line for line in wrap_text(book, text, px, width) if line.strip()]


def qr_image(data: str, size: int, fg: RGB = (0, 0, 0), bg: RGB = (255, 255, 255)) -> Image.Image:
    """A QR code for ``data`` drawn in whole-pixel modules, as close to ``size`` square as fits."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=2, box_size=1)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    modules = len(matrix)
    box = max(1, size // modules)
    image = Image.new("RGB", (modules * box, modules * box), bg)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                draw.rectangle((x * box, y * box, x * box + box - 1, y * box + box - 1), fill=fg)
    return image


def pack_phrases(book: FontBook, phrases: list[str], px: int, width: int, sep: str = "　") -> list[str]:
    """Whole phrases (a name, a date, a phone number) joined by ``sep`` into lines of ``width`` pixels.

    A phrase is never broken between two lines while it fits a line on its own; only a phrase
    wider than a whole line is wrapped (by :func:`wrap_text`'s rules).
    """
    lines: list[str] = []
    for phrase in (p.strip() for p in phrases):
        if not phrase:
            continue
        joined = f"{lines[-1]}{sep}{phrase}" if lines else phrase
        if lines and book.width(joined, px) <= width:
            lines[-1] = joined
        elif book.width(phrase, px) <= width:
            lines.append(phrase)
        else:
            lines.extend(wrap_text(book, phrase, px, width))
    return lines


def fit_line_px(book: FontBook, text: str, width: int, *, largest: int, smallest: int = 8) -> int:
    """The largest type size (down to ``smallest``) at which ``text`` fits ``width`` pixels on one line."""
    px = largest
    while px > smallest and book.width(text, px) > width:
        px -= 1
    return px


FILL_BEFORE_PHRASE_BREAK = 0.6  # a line this full may end at a phrase; a shorter one is filled up
_PHRASE_END = re.compile(r"(?<=[，。；：！？、　 ])")


def phrase_lines(book: FontBook, text: str, px: int, width: int) -> list[str]:
    """``text`` in lines of ``width`` that break after a phrase's punctuation or a space
    (``…9:00-17:30，`` / ``咨询电话0851-12333。``) rather than inside a word or a number; a line
    less than :data:`FILL_BEFORE_PHRASE_BREAK` full is filled up instead (by :func:`wrap_text`'s
    rules, which keep numbers and Latin words whole), so a long phrase does not leave short
    lines behind it. Empty lines are left out."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for phrase in _PHRASE_END.split(paragraph.strip()):
            if not phrase:
                continue
            if book.width((line + phrase).rstrip(), px) <= width:
                line += phrase
                continue
            if book.width(line.rstrip(), px) >= width * FILL_BEFORE_PHRASE_BREAK:
                lines.append(line.rstrip())
                line = phrase.lstrip()
            else:
                line += phrase  # a line still mostly empty is filled (a long phrase is broken by characters)
            if book.width(line.rstrip(), px) > width:
                *whole, line = wrap_text(book, line, px, width)
                lines.extend(whole)
        if line.strip():
            lines.append(line.rstrip())
    return lines
