"""The reel: a moving list drawn from a fixed pool of rectangles, one translation per frame.

Items (display/art.py) become textures once, when the content changes. The reel then keeps
a small pool of slots, enough to cover its window plus one item; each slot is a group of
(Color, Rectangle) pairs made once. Per frame the reel does one thing: set the translation
to the offset within the first visible item, and only if that whole-pixel value changed
(an unchanged canvas is not redrawn). When the first visible item changes (once per row
height scrolled), the slots are re-pointed at the next items' textures: property writes,
no new instructions, no new textures.

The window is clipped with a scissor rectangle, which Kivy does not rotate with the
window: :func:`scissor_box` maps it to framebuffer pixels for turned screens.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from kivy.core.window import Window
from kivy.graphics import Color, InstructionGroup, PopMatrix, PushMatrix, Rectangle, Translate
from kivy.graphics.scissor_instructions import ScissorPop, ScissorPush
from kivy.graphics.texture import Texture
from kivy.properties import OptionProperty
from kivy.uix.widget import Widget

from display.art import ItemArt
from display.motion import PagedMotion, ScrollMotion, Track
from display.sprites import TextureBank, kivy_color, texture_from_image
from display.textimg import render_line, trim

RGB = tuple[int, int, int]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReelPiece:
    texture: Texture | None
    color: tuple[float, float, float, float]
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class ReelItem:
    extent: int
    pieces: tuple[ReelPiece, ...]
    item_id: str = ""


def realize(arts: list[ItemArt], bank: TextureBank) -> list[ReelItem]:
    """Textures for items built by the worker (main thread; only new sprites are uploaded)."""
    white = (1.0, 1.0, 1.0, 1.0)
    out = []
    for art in arts:
        pieces = []
        for piece in art.pieces:
            if piece.key:
                texture = bank.get(piece.key, piece.image)
                if texture is None:  # the worker thought we had it; we no longer do
                    texture = _rescue(piece.key)
                    if texture is None:
                        continue  # a missing word is better than a board that stops
                    bank.put(piece.key, texture)
                pieces.append(ReelPiece(texture, white, piece.x, piece.y, piece.w, piece.h))
            else:
                pieces.append(ReelPiece(None, kivy_color(piece.color or (0, 0, 0)), piece.x, piece.y,
                                        piece.w, piece.h))
        out.append(ReelItem(art.extent, tuple(pieces), art.item_id))
    return out


def _rescue(key: str) -> Texture | None:
    """Re-render a text sprite from its key (``t|px|fg|bg|aa|bold|width|align|height|text``)."""
    from display.sprites import Art

    kind, px, fg, bg, aa, bold, width, align, height, text = key.split("|", 9)
    if kind != "t":
        log.warning("sprite %r is gone and cannot be re-rendered; it is left out", key[:40])
        return None

    def tup(value: str) -> tuple[int, int, int]:
        return tuple(int(v) for v in value.strip("()").split(","))  # type: ignore[return-value]

    image = render_line(Art.fonts(), text, int(px), tup(fg), tup(bg), antialias=aa == "1", bold=bold == "1",
                        width=None if width == "None" else int(width), align=align,
                        height=None if height == "None" else int(height))
    return texture_from_image(trim(image, tup(bg))[0])


def scissor_box(x: float, y: float, w: float, h: float) -> tuple[int, int, int, int]:
    """A rectangle in window coordinates as framebuffer pixels (Kivy rotates the picture, not scissors)."""
    rotation = Window.rotation % 360
    if rotation == 0:
        return int(x), int(y), int(w), int(h)
    lw, lh = Window.size
    sw, sh = Window.system_size
    angle = math.radians(rotation)
    cos, sin = round(math.cos(angle)), round(math.sin(angle))
    xs, ys = [], []
    for px, py in ((x, y), (x + w, y), (x, y + h), (x + w, y + h)):
        cx, cy = px - lw / 2, py - lh / 2
        xs.append(cx * cos - cy * sin + sw / 2)
        ys.append(cx * sin + cy * cos + sh / 2)
    return int(round(min(xs))), int(round(min(ys))), int(round(max(xs) - min(xs))), int(round(max(ys) - min(ys)))


class ReelView(Widget):
    """A clipped window onto a looping list of :class:`ReelItem` moving along ``axis``."""

    axis = OptionProperty("y", options=["x", "y"])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.items: list[ReelItem] = []
        self.track: Track | None = None
        self.motion: PagedMotion | ScrollMotion | None = None
        self._slots: list[list[tuple[Color, Rectangle]]] = []
        self._first = -1
        self._offset = -1
        # Changes whenever the picture at a given offset may change (new items, a new size or
        # place): display/present.py moves already-drawn pixels only within one generation.
        self.generation = 0
        with self.canvas:
            self._scissor = ScissorPush(x=0, y=0, width=1, height=1)
            PushMatrix()
            self._translate = Translate(0, 0)
            self._group = InstructionGroup()
        with self.canvas.after:
            PopMatrix()
            ScissorPop()
        self.bind(pos=self._relayout, size=self._relayout)
        Window.bind(on_rotate=self._relayout)

    @property
    def window(self) -> int:
        return int(self.height if self.axis == "y" else self.width)

    def set_items(self, items: list[ReelItem], *, paged: bool, speed: float = 0.0, transition_s: float = 0.8
                  ) -> None:
        """Show ``items`` from the start. Allocates the slot pool: call on content change only."""
        self.items = items
        window = max(1, self.window)
        self.track = Track([item.extent for item in items], window, paged=paged)
        self.motion = PagedMotion(self.track, transition_s) if paged else ScrollMotion(self.track, speed)
        smallest = min((item.extent for item in items), default=window)
        count = min(len(items) * 2 + 1, math.ceil(window / max(1, smallest)) + 2) if items else 0
        pieces = max((len(item.pieces) for item in items), default=0)
        self._group.clear()
        self._slots = []
        for _ in range(count):
            slot = []
            for _ in range(pieces):
                color = Color(1, 1, 1, 1)
                rect = Rectangle(pos=(0, 0), size=(0, 0))
                self._group.add(color)
                self._group.add(rect)
                slot.append((color, rect))
            self._slots.append(slot)
        self._first = -1
        self._offset = -1
        self.generation += 1
        # a marquee starts with its text in view (entering from an empty edge would be a blank frame)
        self.show_offset(0)

    @property
    def moves(self) -> bool:
        """True for a list longer than its window, scrolling or paged: it loops, and its picture at
        offset ``o`` and ``o + track.total`` is the same."""
        return self.motion is not None and self.motion.moves

    @property
    def offset(self) -> int:
        """The offset shown (-1 before the first)."""
        return self._offset

    def show_offset(self, offset: int) -> None:
        """Show the list scrolled by ``offset`` pixels (the per-frame call)."""
        if offset == self._offset or self.track is None:
            return
        self._offset = offset
        track = self.track
        first = track.first_at(offset) if track.moves else 0
        if first != self._first:
            self._first = first
            self._fill(first)
        sub = offset - track.starts[first] if (track.moves and track.starts) else 0
        if self.axis == "y":
            self._translate.y = sub
        else:
            self._translate.x = -sub

    def tick(self, t: float) -> None:
        """Move to where the motion says the list is at time ``t``."""
        if self.motion is not None:
            self.show_offset(self.motion.offset(t))

    def _fill(self, first: int) -> None:
        track = self.track
        items = self.items
        if track is None:
            return
        count = len(items)
        window = self.window
        base = track.starts[first] if count else 0
        # how far past the first item's start the window can reach: its own length past the largest
        # step to the next item's start (on a paged list the last item's step runs on through the
        # padding of the last page, which the glide back to the first page passes through)
        step = max(max(track.extents, default=0), track.total - track.starts[-1] if track.starts else 0)
        reach = window + step
        for k, slot in enumerate(self._slots):
            index = first + k
            if not track.moves and index >= count:
                item = None
            else:
                wraps, index = divmod(index, count) if count else (0, 0)
                distance = track.starts[index] + wraps * track.total - base if count else 0
                item = items[index] if count and distance < reach else None
            if item is None:
                for _color, rect in slot:
                    rect.size = (0, 0)
                continue
            self._place(slot, item, distance)

    def _place(self, slot: list[tuple[Color, Rectangle]], item: ReelItem, distance: int) -> None:
        x0, top = int(self.x), int(self.top)
        for index, (color, rect) in enumerate(slot):
            if index >= len(item.pieces):
                rect.size = (0, 0)
                continue
            piece = item.pieces[index]
            color.rgba = piece.color
            rect.texture = piece.texture
            if self.axis == "y":
                rect.pos = (x0 + piece.x, top - distance - piece.y - piece.h)
            else:
                rect.pos = (x0 + distance + piece.x, top - piece.y - piece.h)
            rect.size = (piece.w, piece.h)

    def _relayout(self, *_args: Any) -> None:
        self.generation += 1
        self._scissor.x, self._scissor.y, self._scissor.width, self._scissor.height = scissor_box(
            self.x, self.y, self.width, self.height)
        if self.track is not None:
            self._first = -1
            offset, self._offset = self._offset, -1
            self.show_offset(max(0, offset))
