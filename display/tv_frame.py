"""The TV board's frame: header, body and ticker (layout in tv_frame.kv).

The frame stays on screen while the playlist moves between jobs, policy and event cards
and videos; only its body changes. Full-screen segments (the station card, urgent notices)
replace the whole frame. The frame draws with blending off (every pixel in it is opaque).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from display import reel, sprites, widgets  # noqa: F401 - register the classes tv_frame.kv uses
from display.art import Painter, ticker_lines, ticker_marquee
from display.layout import BoardGeometry
from display.profiles import Profile
from display.reel import realize
from display.sprites import Art, TextureBank, opaque_begin, opaque_end
from display.textimg import fit_line_px
from display.widgets import KvPalette, show_only

Builder.load_file(str(Path(__file__).with_name("tv_frame.kv")))


class TvFrame(Widget):
    geo = ObjectProperty(None)
    pal = ObjectProperty(None)
    margin = NumericProperty(40)
    rule = NumericProperty(4)
    station_name = StringProperty("")
    subline = StringProperty("")
    hotline_text = StringProperty("")
    show_hotline = BooleanProperty(True)
    time_text = StringProperty("")
    date_text = StringProperty("")
    tag_text = StringProperty("通知")
    ticker_axis = StringProperty("y")
    name_px = NumericProperty(56)
    small_px = NumericProperty(36)
    date_px = NumericProperty(40)
    clock_px = NumericProperty(76)
    clock_width = NumericProperty(200)
    left_width = NumericProperty(900)
    right_width = NumericProperty(400)
    tag_width = NumericProperty(120)

    def __init__(self, profile: Profile, geo: BoardGeometry, station: Any, **kwargs: Any) -> None:
        p = profile
        pal = KvPalette(profile.palette)
        portrait = geo.portrait
        super().__init__(
            geo=geo, pal=pal, margin=p.px(40), rule=p.px(4), name_px=p.px(56) if not portrait else p.px(52),
            small_px=p.px(36), date_px=p.px(40), clock_px=p.px(80), tag_width=p.px(124),
            station_name=station.name,
            subline=(f"服务热线 {station.hotline}" if portrait and station.hotline
                     else (station.address or station.kind)),
            hotline_text=f"服务热线 {station.hotline}" if station.hotline else "",
            show_hotline=not portrait and bool(station.hotline),
            ticker_axis="y" if profile.motion == "paged" else "x",
            size=(geo.width, geo.height), pos=(0, 0), **kwargs)
        self.profile = profile
        self.clock_width = self.ids.clock.natural_width + p.px(8)
        free = geo.width - 2 * self.margin - self.clock_width - self.margin // 2
        # landscape: name and address | date and hotline | clock
        # portrait: the name runs up to the clock; below it, the hotline and the date
        self.right_width = min(p.px(420), free // 2) if not portrait else free // 2
        self.left_width = free if portrait else free - self.right_width - self.margin // 2
        # the station's name whole on one line: a long name is set smaller, never cut or broken
        self.name_px = fit_line_px(Art.fonts(), station.name, int(self.left_width) - 2, largest=int(self.name_px),
                                   smallest=p.px(24))
        self.canvas.before.insert(0, opaque_begin())
        self.canvas.after.add(opaque_end())
        self.bank = TextureBank()
        self._ticker_texts: tuple[str, ...] | None = None

    @property
    def body(self) -> Widget:
        return self.ids.body

    @property
    def ticker(self) -> Any:
        return self.ids.ticker

    def set_body(self, widget: Widget | None) -> None:
        """Show ``widget`` in the body (removing what was there), in the same frame."""
        show_only(self.ids.body, widget)

    def set_ticker(self, texts: list[str]) -> bool:
        """Show ``texts`` in the ticker; True if they changed (the reel was rebuilt)."""
        key = tuple(texts)
        if key == self._ticker_texts:
            return False
        self._ticker_texts = key
        p = self.profile
        pal = p.palette
        painter = Painter(Art.fonts(), p, self.bank.keys())
        reel_view = self.ids.ticker
        height = int(reel_view.height)
        px = self.geo.ticker_px
        if self.ticker_axis == "y":
            arts = ticker_lines(painter, texts, px, int(reel_view.width), height, pal.text, pal.background)
        else:
            arts = ticker_marquee(painter, texts, px, height, pal.text, pal.background, spacing=p.px(160))
        items = realize(arts, self.bank)
        self.bank.retain(set().union(*(a.keys() for a in arts)) if arts else set())
        reel_view.set_items(items, paged=self.ticker_axis == "y",
                            speed=p.scroll_px_s * p.scale * 1.5, transition_s=p.transition_s)
        return True
