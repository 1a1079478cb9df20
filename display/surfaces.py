"""Which surface a board profile gets: the TV layout or the LED one.

Beside :mod:`display.surface` rather than in it: both surfaces subclass :class:`~display.surface.Surface`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from display.layout import BoardGeometry
from display.led_surface import LedSurface
from display.profiles import Profile
from display.surface import Surface
from display.textimg import FontBook
from display.tv_surface import TvSurface


def surface_for(profile: Profile, geo: BoardGeometry, book: FontBook, station: Any, *, paged: bool,
                font_path: Path, qr_url: str = "") -> Surface:
    """The surface for ``profile``'s layout (tv, led-panel, led-strip)."""
    if profile.layout == "tv":
        return TvSurface(profile, geo, book, station, paged=paged, font_path=font_path, qr_url=qr_url)
    return LedSurface(profile, geo, book, station, paged=paged)
