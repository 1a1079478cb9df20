"""Small board widgets: the clock face, a plain box, a picture, and the palette for .kv files.

:class:`ClockFace` shows HH:MM from eleven digit sprites made once, so the minute tick
re-points five rectangles and creates no texture. :class:`Picture` shows a Pillow image
(the QR code) as one opaque texture.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.properties import ColorProperty, NumericProperty, ObjectProperty, OptionProperty, StringProperty
from kivy.uix.widget import Widget

from display.profiles import Palette
from display.sprites import Art, kivy_color, rgb, texture_from_image
from display.textimg import render_line

WEEKDAYS = "一二三四五六日"


def show_only(body: Widget, widget: Widget | None) -> None:
    """Make ``widget`` the only child of ``body``, moving it from another parent if needed,
    all in the same frame (no empty frame between the old child and the new one)."""
    for child in list(body.children):
        if child is not widget:
            body.remove_widget(child)
    if widget is not None and widget.parent is not body:
        if widget.parent is not None:
            widget.parent.remove_widget(widget)
        body.add_widget(widget)


class KvPalette:
    """A :class:`~display.profiles.Palette` with Kivy colours (0..1 RGBA) for .kv files."""

    def __init__(self, palette: Palette) -> None:
        self.source = palette
        for name in palette.__dataclass_fields__:
            setattr(self, name, kivy_color(getattr(palette, name)))


def date_text(now: dt.datetime) -> str:
    return f"{now.month}月{now.day}日 星期{WEEKDAYS[now.weekday()]}"


class Box(Widget):
    """A plain opaque rectangle of ``color``."""

    color = ColorProperty((0, 0, 0, 1))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.canvas:
            self._color = Color(*self.color)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._update, size=self._update, color=self._update)

    def _update(self, *_args: Any) -> None:
        self._color.rgba = self.color
        self._rect.pos = (int(self.x), int(self.y))
        self._rect.size = (int(self.width), int(self.height))


class Picture(Widget):
    """A Pillow image drawn 1:1 (whole pixels), centred in the widget."""

    image = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.canvas:
            Color(1, 1, 1, 1)
            self._rect = Rectangle(pos=self.pos, size=(0, 0))
        self.bind(image=self._load, pos=self._place, size=self._place)

    def _load(self, *_args: Any) -> None:
        if self.image is None:
            self._rect.texture = None
            self._rect.size = (0, 0)
            return
        self._rect.texture = texture_from_image(self.image)
        self._place()

    def _place(self, *_args: Any) -> None:
        if self.image is None:
            return
        w, h = self.image.size
        self._rect.pos = (int(self.x + (self.width - w) // 2), int(self.y + (self.height - h) // 2))
        self._rect.size = (w, h)


class ClockFace(Widget):
    """HH:MM in fixed-width digit cells, from digit sprites rendered once."""

    font_px = NumericProperty(64)
    color = ColorProperty((1, 1, 1, 1))
    bg = ColorProperty((0, 0, 0, 1))
    halign = OptionProperty("right", options=["left", "center", "right"])
    text = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._glyphs: dict[str, Any] = {}
        self._cell = 0
        self._colon = 0
        with self.canvas:
            Color(1, 1, 1, 1)
            self._rects = [Rectangle(pos=(0, 0), size=(0, 0)) for _ in range(5)]
        self.bind(font_px=self._reset, color=self._reset, bg=self._reset, text=self._show, pos=self._show,
                  size=self._show)

    def _reset(self, *_args: Any) -> None:
        self._glyphs = {}
        self._show()

    def _ensure_glyphs(self) -> None:
        if self._glyphs or Art.book is None:
            return
        px, fg, bg = int(self.font_px), rgb(self.color), rgb(self.bg)
        for ch in "0123456789:":
            image = render_line(Art.book, ch, px, fg, bg, antialias=Art.antialias)
            self._glyphs[ch] = (texture_from_image(image), image.size)
        self._cell = max(size[0] for ch, (_, size) in self._glyphs.items() if ch != ":")
        self._colon = self._glyphs[":"][1][0]

    @property
    def natural_width(self) -> int:
        self._ensure_glyphs()
        return 4 * self._cell + self._colon

    def _show(self, *_args: Any) -> None:
        text = self.text[:5]
        if len(text) != 5 or Art.book is None:
            for rect in self._rects:
                rect.size = (0, 0)
            return
        self._ensure_glyphs()
        total = self.natural_width
        if self.halign == "right":
            x = self.right - total
        elif self.halign == "center":
            x = self.x + (self.width - total) // 2
        else:
            x = self.x
        for rect, ch in zip(self._rects, text, strict=True):
            texture, (w, h) = self._glyphs.get(ch, self._glyphs["0"])
            cell = self._colon if ch == ":" else self._cell
            rect.texture = texture
            rect.pos = (int(x + (cell - w) // 2), int(self.y + (self.height - h) // 2))
            rect.size = (w, h)
            x += cell
