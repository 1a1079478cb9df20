"""An urgent announcement over the whole board until its window ends (layout in urgent_screen.kv).

The type is the largest that fits the text on the screen (TVs) or the strip's line (LEDs);
the footer says who issued it and until when it applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty, OptionProperty, StringProperty
from kivy.uix.widget import Widget

from display import sprites, widgets  # noqa: F401 - register the classes urgent_screen.kv uses
from display.profiles import Profile, led_font_px
from display.sprites import Art
from display.textimg import pack_phrases, wrap_text
from display.widgets import KvPalette
from protocol.model import Announcement

Builder.load_file(str(Path(__file__).with_name("urgent_screen.kv")))


def fit_px(text: str, width: int, height: int, *, largest: int, smallest: int, gap: float = 0.45) -> int:
    """The largest type size (step 2 px) at which ``text`` wraps into ``width`` x ``height``."""
    book = Art.fonts()
    px = largest
    while px > smallest:
        lines = wrap_text(book, text, px, width)
        if len(lines) * (book.band(px).height + px * gap) <= height:
            return px
        px -= 2
    return smallest


class UrgentScreen(Widget):
    pal = ObjectProperty(None)
    heading = StringProperty("紧急通知")
    body = StringProperty("")
    footer = StringProperty("")
    margin = NumericProperty(60)
    band_height = NumericProperty(140)
    footer_height = NumericProperty(100)
    heading_px = NumericProperty(80)
    body_px = NumericProperty(72)
    footer_px = NumericProperty(40)
    max_lines = NumericProperty(0)
    body_align = OptionProperty("left", options=["left", "center", "right"])

    def __init__(self, profile: Profile, size: tuple[int, int], notices: list[Announcement], station: Any,
                 **kwargs: Any) -> None:
        width, height = size
        text = "\n".join(n.text for n in notices)
        until = max(n.ends_at for n in notices)
        phrases = [station.name, f"有效至 {until.month}月{until.day}日 {until:%H:%M}"]
        if station.hotline:
            phrases.append(f"咨询 {station.hotline}")
        footer = "　".join(phrases)
        if profile.layout == "tv":
            s = profile.scale
            margin, band_h = int(60 * s), int(140 * s)
            # the footer whole, its phrases never broken: on a narrow (portrait) screen it takes two lines
            lines = pack_phrases(Art.fonts(), phrases, int(40 * s), width - 2 * margin)
            footer = "\n".join(lines)
            footer_h = max(int(100 * s), len(lines) * (Art.fonts().band(int(40 * s)).height + int(40 * s * 0.35))
                           + int(40 * s))
            room = height - band_h - footer_h - margin
            px = fit_px(text, width - 2 * margin, room, largest=int(96 * s), smallest=int(40 * s))
            values = dict(margin=margin, band_height=band_h, footer_height=footer_h, heading_px=int(80 * s),
                          body_px=px, footer_px=int(40 * s), body_align="left", max_lines=0)
        else:
            # LED: heading line on top when there is room for two lines; the text fills the rest
            line = led_font_px(height // 2) if height >= 40 else 0
            px = led_font_px(height - line - 2) if line else led_font_px(height)
            values = dict(margin=2, band_height=line + 2 if line else 0, footer_height=0,
                          heading_px=line or 8, body_px=px, footer_px=8, body_align="center",
                          max_lines=max(1, (height - (line + 2 if line else 0)) // (px + 2)))
            footer = ""
        super().__init__(pal=KvPalette(profile.palette), body=text, footer=footer, pos=(0, 0), size=size,
                         **values, **kwargs)
        self.ids.band.opacity = 1 if values["band_height"] else 0
        self.announcement_ids = tuple(n.id for n in notices)
