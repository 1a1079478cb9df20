"""Where everything goes on a board, in whole pixels, for any size and orientation (no Kivy).

The geometry is computed once from the profile and the font's metrics; the .kv files and
the worker that renders job rows read the same numbers, so a row is rendered exactly as
wide as the zone it scrolls in and a page holds whole rows only.

TV landscape: header across the top; job list on the left; the current policy or event and
the QR code in a side column; the announcement ticker across the bottom.
TV portrait: the side column moves below the list. LED panel: a header line over the list.
LED strip: one marquee line, or a header line over it when the strip is tall enough.
"""

from __future__ import annotations

from dataclasses import dataclass

from display.profiles import Profile, led_font_px
from display.textimg import FontBook, wrap_text

Rect = tuple[int, int, int, int]  # x, y (from the bottom, as Kivy counts), width, height


@dataclass(frozen=True)
class BoardGeometry:
    width: int
    height: int
    header: Rect
    body: Rect  # where segments (jobs, cards, videos) show inside the frame
    ticker: Rect
    list_caption: Rect
    list_zone: Rect  # the job reel's window (whole rows in paged motion)
    side: Rect  # policy/event card
    qr: Rect  # the QR code square (0 size if none)
    row_height: int
    portrait: bool
    header_px: int
    ticker_px: int
    strip_lines: int = 1  # LED strip: 1 (marquee only) or 2 (header line + marquee)

    @property
    def row_width(self) -> int:
        return self.list_zone[2]


def tv_row_height(book: FontBook, profile: Profile) -> int:
    """Height of one TV job row (see display/art.py ``tv_job_row``)."""
    title_px, body_px = profile.px(profile.title_px), profile.px(profile.body_px)
    pad, gap, line = profile.px(12), profile.px(6), max(1, profile.px(2))
    return pad + book.band(title_px).height + gap + book.band(body_px).height + pad + line


def led_row_height(profile: Profile) -> int:
    return profile.title_px + 2 + profile.body_px + 6


def board_geometry(book: FontBook, profile: Profile, *, paged: bool | None = None) -> BoardGeometry:
    """The layout of ``profile``'s board (its upright size)."""
    paged = profile.motion == "paged" if paged is None else paged
    if profile.layout == "tv":
        return _tv(book, profile, paged)
    if profile.layout == "led-panel":
        return _led_panel(profile, paged)
    return _led_strip(profile)


def _tv(book: FontBook, p: Profile, paged: bool) -> BoardGeometry:
    width, height = p.upright_size
    portrait = height > width
    margin = p.px(40)
    header_h = p.px(150) if portrait else p.px(128)
    ticker_h = p.px(84)
    rule = p.px(4)
    body_y = ticker_h + rule
    body_h = height - header_h - rule - body_y
    header = (0, height - header_h, width, header_h)
    ticker = (0, 0, width, ticker_h)
    body = (0, body_y, width, body_h)
    caption_h = p.px(70)
    row_h = tv_row_height(book, p)
    gap = p.px(40)
    if portrait:
        side_h = p.px(440)  # the least room the policy/event card and the QR code get, under the list
        list_x, list_w = margin, width - 2 * margin
        list_top = body_y + body_h - p.px(12)
        list_bottom = body_y + side_h + gap
        if paged:
            # whole rows only: what they leave goes to the card below, not to an empty band
            room = list_top - caption_h - list_bottom
            list_bottom += room - (room // row_h) * row_h if room >= row_h else 0
        side_h = list_bottom - gap - body_y
        side = (margin, body_y + p.px(24), width - 2 * margin - p.px(440) - gap, side_h - p.px(48))
        qr_size = p.px(440) - p.px(110)
        # the code and its caption, centred in the card's height
        qr = (width - margin - qr_size, body_y + p.px(80) + (side_h - p.px(440)) // 2, qr_size, qr_size)
    else:
        side_w = p.px(520)
        list_x, list_w = margin, width - 2 * margin - side_w - gap
        list_top = body_y + body_h - p.px(12)
        list_bottom = body_y + p.px(16)
        qr_size = p.px(230)
        side_x = width - margin - side_w
        qr = (side_x + (side_w - qr_size) // 2, body_y + p.px(70), qr_size, qr_size)
        side_bottom = qr[1] + qr_size + p.px(40)
        side = (side_x, side_bottom, side_w, list_top - side_bottom)
    caption = (list_x, list_top - caption_h, list_w, caption_h)
    room = caption[1] - list_bottom
    window = (room // row_h) * row_h if paged and room >= row_h else room
    list_zone = (list_x, caption[1] - window, list_w, window)
    return BoardGeometry(width, height, header, body, ticker, caption, list_zone, side, qr, row_h, portrait,
                         header_px=p.px(p.header_px), ticker_px=p.px(p.ticker_px))


def _led_panel(p: Profile, paged: bool) -> BoardGeometry:
    width, height = p.upright_size
    header_h = p.header_px + 2
    header = (0, height - header_h, width, header_h)
    row_h = led_row_height(p)
    room = height - header_h - 1
    window = (room // row_h) * row_h if paged and room >= row_h else room
    list_zone = (0, height - header_h - 1 - window, width, window)
    body = (0, 0, width, height - header_h - 1)
    none = (0, 0, 0, 0)
    return BoardGeometry(width, height, header, body, none, none, list_zone, none, none, row_h, False,
                         header_px=led_font_px(p.header_px), ticker_px=led_font_px(p.ticker_px))


def _led_strip(p: Profile) -> BoardGeometry:
    width, height = p.upright_size
    lines = 2 if height >= 40 else 1
    line_h = height // lines
    none = (0, 0, 0, 0)
    header = (0, line_h, width, height - line_h) if lines == 2 else none
    list_zone = (0, 0, width, line_h)
    body = (0, 0, width, height)
    px = led_font_px(line_h)
    return BoardGeometry(width, height, header, body, none, none, list_zone, none, none, line_h, False,
                         header_px=px, ticker_px=px, strip_lines=lines)


@dataclass(frozen=True)
class CardPlan:
    """How a card's labelled paragraphs fill its box: one type size, whole lines, one or more pages."""

    body_px: int
    line_height: int  # from one line's top to the next's
    block_gap: int  # between two paragraphs
    label_width: int
    pages: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]  # per page: (label, lines) per paragraph
    used: int  # height the first page takes

    @property
    def lines(self) -> list[str]:
        return [line for page in self.pages for _label, lines in page for line in lines]


def plan_card(book: FontBook, blocks: list[tuple[str, str]], width: int, height: int, *, largest: int,
              smallest: int, gap: float = 0.4) -> CardPlan:
    """The largest type (from ``largest`` down to ``smallest``, 2 px steps) at which every paragraph fits whole.

    ``blocks`` are (label, text); a labelled paragraph is indented by the label's column, and its
    explicit line breaks (a list of materials) are kept, one item a line. Nothing is ever cut
    or ellipsized: when even ``smallest`` does not hold the whole text, it is paged at that
    size, whole lines only (a paragraph that goes on to the next page keeps its label there).
    """
    px = largest
    while True:
        plan = _card_at(book, blocks, width, height, px, gap)
        if len(plan.pages) <= 1 or px - 2 < smallest:
            return plan
        px -= 2


def _card_at(book: FontBook, blocks: list[tuple[str, str]], width: int, height: int, px: int,
             gap: float) -> CardPlan:
    line_h = book.band(px).height + int(px * gap)
    block_gap = int(px * 0.6)
    label_w = px * 5
    pages: list[list[tuple[str, tuple[str, ...]]]] = [[]]
    top = 0  # height used on the current page
    first_used = 0
    for label, text in blocks:
        lines = wrap_text(book, text, px, max(1, width - (label_w if label else 0)))
        lines = [line for line in lines if line.strip()] or [""]
        while lines:
            start = top + (block_gap if pages[-1] else 0)
            room = (height - start) // line_h
            if room < 1 or (room < len(lines) and room < 2 and pages[-1]):
                # not even two lines of this paragraph here: it starts on the next page
                if not pages[-1]:
                    room = 1  # a box lower than one line still shows one line per page
                else:
                    pages.append([])
                    top = 0
                    continue
            take = lines[:room]
            pages[-1].append((label, tuple(take)))
            top = start + len(take) * line_h
            if len(pages) == 1:
                first_used = top
            lines = lines[room:]
            if lines:
                pages.append([])
                top = 0
    return CardPlan(px, line_h, block_gap, label_w, tuple(tuple(page) for page in pages if page), first_used)
