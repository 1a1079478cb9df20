"""A window that shows only the station card: it proves the display, the CJK font and the station's
facts in one look (``python -m config.card_window --config station.toml`` reads them and opens it)."""

from __future__ import annotations

import os
from pathlib import Path

from display.station_card import StationFacts


def show_card(station: StationFacts, font_path: Path, *, screenshot_dir: Path | None = None,
              run_seconds: float = 0, width: int = 1920, height: int = 1080) -> None:
    """Open the window with ``station``'s card until it is closed (or ``run_seconds`` passed)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window

    from display.station_card import StationCard, register_cjk_font

    font_name = register_cjk_font(font_path)

    class CardApp(App):
        title = station.name

        def build(self) -> StationCard:
            return StationCard.for_station(station, font_name=font_name)

        def on_start(self) -> None:
            if screenshot_dir:
                screenshot_dir.mkdir(parents=True, exist_ok=True)
                Clock.schedule_once(lambda dt: Window.screenshot(name=str(screenshot_dir / "station-card.png")), 1.0)
            if run_seconds:
                Clock.schedule_once(lambda dt: self.stop(), run_seconds)

    CardApp().run()
