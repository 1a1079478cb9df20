"""The station card: a full-screen card with the station's name, kind, hotline, complaint
phone and opening hours.

The board shows it when it has no content and outside opening hours; the demo shows it
before anything else. Layout lives in ``station_card.kv``; sizes scale with the card's
height so that the same widget reads well on a 1080p TV, a portrait screen or a 64 px LED.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

Builder.load_file(str(Path(__file__).with_name("station_card.kv")))


class StationFacts(Protocol):
    """What the card shows of a station, read only (the settings' ``[station]`` table has these)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def hotline(self) -> str: ...
    @property
    def complaint_phone(self) -> str: ...
    @property
    def opening_hours(self) -> str: ...
    @property
    def address(self) -> str: ...

CJK_FONT_NAME = "YizhanCJK"


def register_cjk_font(font_path: str | Path) -> str:
    """Register the CJK font with Kivy under one name and return that name."""
    from kivy.core.text import LabelBase

    LabelBase.register(name=CJK_FONT_NAME, fn_regular=str(font_path))
    return CJK_FONT_NAME


class StationCard(BoxLayout):
    """Station facts, large and centred. Set ``font_name`` to a registered CJK font."""

    station_name = StringProperty("")
    station_kind = StringProperty("")
    hotline = StringProperty("")
    complaint_phone = StringProperty("")
    opening_hours = StringProperty("")
    address = StringProperty("")
    message = StringProperty("")
    font_name = StringProperty(CJK_FONT_NAME)
    scale = NumericProperty(1.0)

    @classmethod
    def for_station(cls, station: StationFacts, *, font_name: str = CJK_FONT_NAME,
                    message: str = "") -> StationCard:
        return cls(station_name=station.name, station_kind=station.kind, hotline=station.hotline,
                   complaint_phone=station.complaint_phone, opening_hours=station.opening_hours,
                   address=station.address, font_name=font_name, message=message)
