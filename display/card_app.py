"""A window that shows only the station card (``python -m display.card_app``).

Used by ``yizhan doctor``-style checks and by the demo when the board is not wanted: it
proves the display, the CJK font and the station settings in one look.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="show the station card full screen")
    parser.add_argument("--config", required=True)
    parser.add_argument("--screenshot-dir", type=Path)
    parser.add_argument("--run-seconds", type=float, default=0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args(argv)

    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from common.fonts import FontNotFoundError, find_cjk_font
    from config.settings import SettingsError, load_settings

    try:
        settings = load_settings(args.config)
        font = find_cjk_font(settings.ui.font)
    except (SettingsError, FontNotFoundError) as exc:
        print(exc, file=sys.stderr)
        return 3

    from kivy.config import Config

    Config.set("graphics", "width", str(args.width))
    Config.set("graphics", "height", str(args.height))
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window

    from display.station_card import StationCard, register_cjk_font

    font_name = register_cjk_font(font)

    class CardApp(App):
        title = settings.station.name

        def build(self) -> StationCard:
            return StationCard.for_station(settings.station, font_name=font_name)

        def on_start(self) -> None:
            if args.screenshot_dir:
                args.screenshot_dir.mkdir(parents=True, exist_ok=True)
                Clock.schedule_once(lambda dt: Window.screenshot(
                    name=str(args.screenshot_dir / "station-card.png")), 1.0)
            if args.run_seconds:
                Clock.schedule_once(lambda dt: self.stop(), args.run_seconds)

    CardApp().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
