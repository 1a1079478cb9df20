"""The station card alone in a window (``python -m config.card_window --config station.toml``).

Reads the station's settings and font and hands them to :func:`display.card_app.show_card`: a quick
look that the display, the CJK font and the station's facts are right.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import exitcodes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="show the station card full screen")
    parser.add_argument("--config", required=True)
    parser.add_argument("--screenshot-dir", type=Path)
    parser.add_argument("--run-seconds", type=float, default=0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args(argv)

    from common.fonts import FontNotFoundError, find_cjk_font
    from config.settings import SettingsError, load_settings

    try:
        settings = load_settings(args.config)
        font = find_cjk_font(settings.ui.font)
    except (SettingsError, FontNotFoundError) as exc:
        print(exc, file=sys.stderr)
        return exitcodes.CONFIG
    from display.card_app import show_card

    show_card(settings.station, font, screenshot_dir=args.screenshot_dir, run_seconds=args.run_seconds,
              width=args.width, height=args.height)
    return exitcodes.OK


if __name__ == "__main__":
    sys.exit(main())
