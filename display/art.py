"""The pictures a reel is made of: job rows, ticker lines and LED marquee items (no Kivy).

An :class:`ItemArt` is one item of a moving list: its extent along the reel and a few
:class:`Piece` s (a text sprite or a plain box) placed inside it. Sprites are keyed by what
they show, so the same string in the same style is rendered once and shared (an employer
with twenty vacancies has one employer sprite). The board's worker thread builds these;
the main thread turns images into textures (display/reel.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from PIL import Image

from display.board_content import JobRow
from display.profiles import Profile, led_font_px
from display.textimg import FontBook, chunk_text, phrase_lines, render_line, render_runs, trim

RGB = tuple[int, int, int]
MAX_SPRITE_WIDTH = 2048  # long ticker texts are cut into sprites no wider than this


@dataclass(frozen=True)
class Piece:
    """A sprite (``key`` set) or a box (``color`` set) at (x, y) from the item's top-left corner."""

    x: int
    y: int
    w: int
    h: int
    key: str = ""
    image: Image.Image | None = field(default=None, compare=False, repr=False)
    color: RGB | None = None


@dataclass
class ItemArt:
    extent: int
    pieces: list[Piece] = field(default_factory=list)
    item_id: str = ""

    def keys(self) -> set[str]:
        return {p.key for p in self.pieces if p.key}


class Painter:
    """Renders sprites for one profile, skipping those the main thread already holds (``known``).

    Sprites are trimmed to their ink; a piece keeps its place through the trim offsets. A
    painter remembers the sizes and offsets of what it rendered, so it can describe a known
    sprite without rendering it again: keep one painter for the board's life (worker thread).
    """

    def __init__(self, book: FontBook, profile: Profile, known: Iterable[str] = ()) -> None:
        self.book = book
        self.profile = profile
        self.antialias = profile.antialias
        self.known = frozenset(known)
        self._sizes: dict[str, tuple[int, int, int, int]] = {}  # key -> (w, h, dx, dy)
        self.rendered = 0

    def text(self, text: str, px: int, fg: RGB, bg: RGB, *, width: int | None = None, align: str = "left",
             bold: bool = False, height: int | None = None) -> Piece:
        key = f"t|{px}|{fg}|{bg}|{int(self.antialias)}|{int(bold)}|{width}|{align}|{height}|{text}"
        return self._sprite(key, bg, lambda: render_line(self.book, text, px, fg, bg, antialias=self.antialias,
                                                         bold=bold, width=width, align=align, height=height))

    def runs(self, runs: list[tuple[str, int, RGB]], bg: RGB, *, gap: int, height: int) -> Piece:
        key = f"r|{bg}|{int(self.antialias)}|{gap}|{height}|" + "|".join(f"{t}/{p}/{c}" for t, p, c in runs)
        return self._sprite(key, bg, lambda: render_runs(self.book, runs, bg, antialias=self.antialias, gap=gap,
                                                         height=height))

    def retain(self, keys: set[str]) -> None:
        """Forget sprites no longer used (content changes over months must not add up)."""
        self._sizes = {k: v for k, v in self._sizes.items() if k in keys}

    def _sprite(self, key: str, bg: RGB, draw: Callable[[], Image.Image]) -> Piece:
        """A piece at (dx, dy) inside the untrimmed sprite's box; ``w``/``h`` are the trimmed size."""
        size = self._sizes.get(key)
        image = None
        if size is None or key not in self.known:
            image, dx, dy = trim(draw(), bg)
            size = self._sizes[key] = (image.width, image.height, dx, dy)
            self.rendered += 1
        w, h, dx, dy = size
        return Piece(dx, dy, w, h, key=key, image=image)


def _at(piece: Piece, x: int, y: int) -> Piece:
    """``piece`` with its line box's top-left corner at (x, y) (the ink keeps its trim offset)."""
    return Piece(x + piece.x, y + piece.y, piece.w, piece.h, piece.key, piece.image, piece.color)


def _right(piece: Piece, right: int, y: int) -> Piece:
    """``piece`` with its ink ending at ``right``."""
    return Piece(right - piece.w, y + piece.y, piece.w, piece.h, piece.key, piece.image, piece.color)


def _centre(piece: Piece, x: int, y: int, w: int, h: int) -> Piece:
    """``piece``'s ink centred in the box (x, y, w, h)."""
    return Piece(x + (w - piece.w) // 2, y + (h - piece.h) // 2, piece.w, piece.h, piece.key, piece.image,
                 piece.color)


def _ink_right(piece: Piece) -> int:
    """Width of the line box up to the end of the ink (for placing what follows)."""
    return piece.x + piece.w


# ---------------------------------------------------------------------------------------------
# job rows


def tv_job_row(p: Painter, row: JobRow, width: int) -> ItemArt:
    """A two-line job row for a TV: title and salary above, employer and distance/headcount below."""
    pal, prof = p.profile.palette, p.profile
    title_px, body_px = prof.px(prof.title_px), prof.px(prof.body_px)
    pad, gap, inner = prof.px(12), prof.px(6), prof.px(20)
    band1, band2 = p.book.band(title_px), p.book.band(body_px)
    bg = pal.background
    pieces: list[Piece] = []
    x = 0
    y1 = pad
    y2 = pad + band1.height + gap
    if row.gig_today:
        label = p.text("今日零工", body_px, pal.badge_text, pal.badge)
        bw, bh = _ink_right(label) + label.x + prof.px(20), band1.height
        pieces.append(Piece(0, y1, bw, bh, color=pal.badge))
        pieces.append(_centre(label, 0, y1, bw, bh))
        x = bw + prof.px(16)
    salary = p.text(row.salary, title_px, pal.accent, bg)
    pieces.append(_right(salary, width, y1))
    title = p.text(row.title, title_px, pal.text, bg, bold=True)
    room = width - x - salary.w - inner
    if _ink_right(title) > room:
        title = p.text(row.title, title_px, pal.text, bg, bold=True, width=max(title_px, room))
    pieces.append(_at(title, x, y1))
    meta = p.text(row.meta, body_px, pal.muted, bg)
    pieces.append(_right(meta, width, y2))
    employer = p.text(row.employer, body_px, pal.muted, bg)
    room = width - meta.w - inner
    if _ink_right(employer) > room:
        employer = p.text(row.employer, body_px, pal.muted, bg, width=max(body_px, room))
    pieces.append(_at(employer, 0, y2))
    height = y2 + band2.height + pad
    line = max(1, prof.px(2))
    pieces.append(Piece(0, height, width, line, color=pal.line))
    return ItemArt(height + line, pieces, row.id)


def led_job_row(p: Painter, row: JobRow, width: int) -> ItemArt:
    """A two-line job row for an LED panel: red title and green salary, amber details below."""
    pal, prof = p.profile.palette, p.profile
    h1, h2 = prof.title_px, prof.body_px
    bg = pal.background
    pieces: list[Piece] = []
    salary = p.text(row.salary, h2, pal.accent, bg, height=h1)
    pieces.append(_right(salary, width, 0))
    x = 0
    if row.gig_today:
        badge = p.text("今日零工", h2, pal.badge_text, pal.badge, height=h1)  # the whole tag, as on the TV
        pieces.append(Piece(0, 0, _ink_right(badge) + badge.x, h1, color=pal.badge))
        pieces.append(_at(badge, 0, 0))
        x = _ink_right(badge) + badge.x + 4
    title = p.text(row.title, h1, pal.text, bg, height=h1, width=max(h1, width - x - salary.w - 6))
    pieces.append(_at(title, x, 0))
    details = p.text(f"{row.employer} {row.meta}", h2, pal.muted, bg, height=h2, width=width)
    pieces.append(_at(details, 0, h1 + 2))
    extent = h1 + 2 + h2 + 6
    return ItemArt(extent, pieces, row.id)


def strip_job_item(p: Painter, row: JobRow, height: int, spacing: int) -> ItemArt:
    """One job as a single marquee line on an LED strip (moves sideways)."""
    pal = p.profile.palette
    px = led_font_px(height)
    runs: list[tuple[str, int, RGB]] = []
    if row.gig_today:
        runs.append(("【今日零工】", px, pal.muted))
    runs += [(row.title, px, pal.text), (row.salary, px, pal.accent), (row.employer, px, pal.muted),
             (row.meta, px, pal.muted)]
    piece = p.runs(runs, pal.background, gap=max(4, px // 2), height=height)
    return ItemArt(_ink_right(piece) + spacing, [piece], row.id)


def strip_lines(p: Painter, text: str, height: int, width: int, color: RGB, item_id: str = "") -> list[ItemArt]:
    """``text`` cut into lines that fit an LED strip (paged motion: one line at a time)."""
    px = led_font_px(height)
    out = []
    for line in chunk_text(p.book, text, px, width):
        piece = p.text(line, px, color, p.profile.palette.background, height=height)
        out.append(ItemArt(height, [piece], item_id))
    return out


# ---------------------------------------------------------------------------------------------
# tickers


def ticker_lines(p: Painter, texts: list[str], px: int, width: int, height: int, color: RGB, bg: RGB
                 ) -> list[ItemArt]:
    """Announcements cut into lines of ``width``, one item per line (paged ticker), broken after a
    phrase's punctuation rather than inside a word or a number."""
    out = []
    for text in texts:
        for line in phrase_lines(p.book, text, px, width):
            piece = p.text(line, px, color, bg, height=height)
            out.append(ItemArt(height, [piece]))
    return out


def ticker_marquee(p: Painter, texts: list[str], px: int, height: int, color: RGB, bg: RGB, spacing: int
                   ) -> list[ItemArt]:
    """Announcements one after another on one line (continuous ticker); long ones in several sprites."""
    out = []
    for text in texts:
        parts = chunk_text(p.book, text, px, MAX_SPRITE_WIDTH) or [text]
        for index, part in enumerate(parts):
            piece = p.text(part, px, color, bg, height=height)
            last = index == len(parts) - 1
            # the pieces of one text follow each other by their natural width (trim offsets kept)
            natural = p.book.width(part, px)
            out.append(ItemArt(natural + (spacing if last else 0), [piece]))
    return out
