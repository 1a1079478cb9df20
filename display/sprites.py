"""Opaque text sprites for the board: Pillow images uploaded once as textures, drawn without blending.

Software GL (llvmpipe) pays for every pixel of every frame; a blended pixel costs about
twice an opaque one. So the board draws text pre-composited on the colour it sits on
(display/textimg.py) and turns blending off while it draws its own screens
(:func:`opaque_begin` / :func:`opaque_end` in a canvas). Textures use nearest filtering:
they are always drawn at whole-pixel positions and 1:1 scale.

Every texture the board makes goes through :func:`texture_from_image`, which counts them
(:data:`STATS`), so the benchmark can prove that steady scrolling makes none.

:class:`SpriteLabel` is the board's label widget: text in the station's CJK font, rendered
with Pillow into one opaque texture when its text, size or colours change, never per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kivy.clock import Clock
from kivy.graphics import Callback, Color, Rectangle
from kivy.graphics import opengl as gl
from kivy.graphics.texture import Texture
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.widget import Widget
from PIL import Image

from display.textimg import FontBook, block_lines, render_block, render_line, trim

RGB = tuple[int, int, int]


@dataclass
class TextureStats:
    """How many textures the board created, and how many pixels it uploaded."""

    created: int = 0
    uploaded_px: int = 0


STATS = TextureStats()


class Art:
    """What every sprite needs: the font book and whether to anti-alias (set by the board)."""

    book: FontBook | None = None
    antialias: bool = True

    @classmethod
    def configure(cls, font_path: str, *, antialias: bool = True) -> None:
        if cls.book is None or cls.book.path != str(font_path):
            cls.book = FontBook(font_path)
        cls.antialias = antialias

    @classmethod
    def fonts(cls) -> FontBook:
        if cls.book is None:
            raise RuntimeError("display.sprites.Art.configure(font_path) was not called")
        return cls.book


def texture_from_image(image: Image.Image) -> Texture:
    """An RGB texture holding ``image`` (top row up), nearest-filtered; counted in :data:`STATS`."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    texture = Texture.create(size=(width, height), colorfmt="rgb", bufferfmt="ubyte", mipmap=False)
    texture.min_filter = "nearest"
    texture.mag_filter = "nearest"
    texture.blit_buffer(image.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
    texture.flip_vertical()
    STATS.created += 1
    STATS.uploaded_px += width * height
    return texture


class TextureBank:
    """Textures by content key, so a string shown twice (or in the next content version) is made once."""

    def __init__(self) -> None:
        self._textures: dict[str, Texture] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._textures

    def __len__(self) -> int:
        return len(self._textures)

    def keys(self) -> frozenset[str]:
        return frozenset(self._textures)

    def get(self, key: str, image: Image.Image | None) -> Texture | None:
        texture = self._textures.get(key)
        if texture is None and image is not None:
            texture = self._textures[key] = texture_from_image(image)
        return texture

    def put(self, key: str, texture: Texture) -> None:
        self._textures[key] = texture

    def retain(self, keys: set[str] | frozenset[str]) -> int:
        """Forget textures whose key is not in ``keys``; returns how many were dropped."""
        dropped = [k for k in self._textures if k not in keys]
        for key in dropped:
            del self._textures[key]
        return len(dropped)


def _blend(enable: bool) -> Any:
    def switch(_instruction: Any) -> None:
        if enable:
            gl.glEnable(gl.GL_BLEND)
        else:
            gl.glDisable(gl.GL_BLEND)

    return switch


def opaque_begin() -> Callback:
    """Canvas instruction: draw what follows without blending (everything after it is opaque)."""
    return Callback(_blend(False))


def opaque_end() -> Callback:
    """Canvas instruction: blending back on for Kivy's own widgets."""
    return Callback(_blend(True))


def rgb(color: Any) -> RGB:
    """A Kivy colour (0..1 per channel; ColorProperty may hand back ints 0/1) as an RGB tuple 0..255."""
    return tuple(int(round(float(v) * 255)) for v in tuple(color)[:3])  # type: ignore[return-value]


def kivy_color(color: RGB) -> tuple[float, float, float, float]:
    return (color[0] / 255.0, color[1] / 255.0, color[2] / 255.0, 1.0)


class SpriteLabel(Widget):
    """A label drawn as one opaque texture in the CJK font.

    ``font_px`` is in pixels. With ``wrap`` the text is wrapped to the widget's width (up to
    ``max_lines``, or as many as fit with ``fill_height``); otherwise it is one line,
    ellipsized to the width. The texture is exactly as large as the text and sits where
    ``halign``/``valign`` put it; the rest of the widget is not drawn at all (the background
    shows through, and a neighbour is never covered), so ``bg`` must be the colour under it.
    """

    text = StringProperty("")
    font_px = NumericProperty(32)
    color = ColorProperty((1, 1, 1, 1))
    bg = ColorProperty((0, 0, 0, 1))
    halign = OptionProperty("left", options=["left", "center", "right"])
    valign = OptionProperty("middle", options=["top", "middle", "bottom"])
    bold = BooleanProperty(False)
    wrap = BooleanProperty(False)
    max_lines = NumericProperty(0)
    fill_height = BooleanProperty(False)  # wrap: as many lines as the widget's height holds
    line_gap = NumericProperty(0.35)
    texture = ObjectProperty(None, allownone=True)
    texture_size = ObjectProperty((0, 0))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.canvas:
            self._color = Color(1, 1, 1, 1)
            self._rect = Rectangle(pos=self.pos, size=(0, 0))
        self._rendered: tuple | None = None
        self._ink = (0, 0, 0, 0)
        self._trigger = Clock.create_trigger(lambda _dt: self.render(), -1)
        self.bind(text=self._changed, font_px=self._changed, color=self._changed, bg=self._changed,
                  bold=self._changed, wrap=self._changed, max_lines=self._changed, size=self._changed,
                  fill_height=self._changed,
                  halign=self._changed, line_gap=self._changed)
        self.bind(pos=self._place, valign=self._place)  # size: via render, which places
        self._trigger()

    def _changed(self, *_args: Any) -> None:
        self._trigger()

    def render(self) -> None:
        """Render now if what is shown changed (called on every property change; cheap otherwise)."""
        width = int(self.width)
        lines = int(self.max_lines)
        if self.wrap and self.fill_height and Art.book is not None:
            lines = block_lines(Art.book, max(6, int(self.font_px)), int(self.height), float(self.line_gap))
        key = (self.text, int(self.font_px), tuple(self.color), tuple(self.bg), self.bold, self.wrap, lines,
               width, self.halign, self.line_gap, Art.antialias)
        if key == self._rendered:
            self._place()
            return
        self._rendered = key
        if not self.text or Art.book is None or width <= 1:
            self.texture = None
            self.texture_size = (0, 0)
            self._rect.size = (0, 0)
            return
        fg, bg = rgb(self.color), rgb(self.bg)
        px = max(6, int(self.font_px))
        if self.wrap:
            image = render_block(Art.book, self.text, px, fg, bg, width, max_lines=lines or None,
                                 line_gap=float(self.line_gap), align=self.halign, antialias=Art.antialias,
                                 bold=self.bold)
        else:
            natural = Art.book.width(self.text, px) + (2 if self.bold else 0)
            image = render_line(Art.book, self.text, px, fg, bg, antialias=Art.antialias, bold=self.bold,
                                width=width if natural > width else None)
        full = image.size
        image, dx, dy = trim(image, bg)
        self._ink = (dx, dy, image.width, image.height)
        self.texture = texture_from_image(image)
        self.texture_size = full
        self._place()

    def _place(self, *_args: Any) -> None:
        if self.texture is None:
            return
        tw, th = self.texture_size
        if self.halign == "right":
            x = self.right - tw
        elif self.halign == "center":
            x = self.x + (self.width - tw) // 2
        else:
            x = self.x
        if self.valign == "top":
            y = self.top - th
        elif self.valign == "bottom":
            y = self.y
        else:
            y = self.y + (self.height - th) // 2
        # (x, y) is the untrimmed box's bottom-left corner; the texture holds only its ink
        dx, dy, w, h = self._ink
        self._rect.texture = self.texture
        self._rect.pos = (int(x + dx), int(y + th - dy - h))
        self._rect.size = (w, h)
