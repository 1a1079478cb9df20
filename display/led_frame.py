"""LED boards (layout in led_frame.kv): a header line when there is room, and one reel.

An LED controller mirrors a region of the screen onto the modules, so the board draws
exactly that region: black background, red/green/amber text without anti-aliasing, type
in bitmap-friendly sizes. Every segment on an LED is a reel: job rows on a panel, a job
marquee on a strip, and text (policy, event, station, urgent notice) as a marquee or as
lines paged one by one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from display import reel, sprites, widgets  # noqa: F401 - register the classes led_frame.kv uses
from display.layout import BoardGeometry
from display.profiles import Profile
from display.reel import ReelItem
from display.sprites import opaque_begin, opaque_end
from display.widgets import KvPalette, show_only

Builder.load_file(str(Path(__file__).with_name("led_frame.kv")))


class LedFrame(Widget):
    geo = ObjectProperty(None)
    pal = ObjectProperty(None)
    title = StringProperty("")
    time_text = StringProperty("")
    date_text = StringProperty("")
    clock_width = NumericProperty(0)

    def __init__(self, profile: Profile, geo: BoardGeometry, station: Any, **kwargs: Any) -> None:
        super().__init__(geo=geo, pal=KvPalette(profile.palette), title=station.name, pos=(0, 0),
                         size=(geo.width, geo.height), **kwargs)
        self.profile = profile
        if geo.header[3]:
            self.clock_width = self.ids.clock.natural_width + 2
        self.canvas.before.insert(0, opaque_begin())
        self.canvas.after.add(opaque_end())

    @property
    def body(self) -> Widget:
        return self.ids.body

    def set_body(self, widget: Widget | None) -> None:
        show_only(self.ids.body, widget)


class LedReelPanel(Widget):
    """One reel in a zone of an LED board (or of the whole window, for urgent notices)."""

    zone = ObjectProperty((0, 0, 0, 0))
    axis = StringProperty("y")

    def __init__(self, zone: tuple[int, int, int, int], axis: str, **kwargs: Any) -> None:
        super().__init__(zone=zone, axis=axis, pos=(zone[0], zone[1]), size=(zone[2], zone[3]), **kwargs)
        self.content_key: Any = None

    @property
    def reel(self) -> Any:
        return self.ids.reel

    def set_items(self, items: list[ReelItem], *, key: Any, paged: bool, speed: float, transition_s: float
                  ) -> None:
        self.content_key = key
        self.ids.reel.set_items(items, paged=paged, speed=speed, transition_s=transition_s)
