"""``yizhan display``: run the board player on the station's TV or LED board.

With ``--run-seconds`` the board stops by itself (exit 0) and with ``--screenshot-dir`` it
saves a picture of each segment it shows, upright: that is how the demo runs it under Xvfb.
``--run-segments N`` stops it once N segments were shown and pictured, however slow the
machine (staff checking a board, the tests).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common import exitcodes
from config.command import CommandError, Context


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=("tv-1080p", "tv-portrait", "led-strip", "led-panel"),
                        help="board profile (default: devices.board_screen.profile)")
    parser.add_argument("--width", type=int, help="screen width in pixels (before rotation)")
    parser.add_argument("--height", type=int, help="screen height in pixels (before rotation)")
    parser.add_argument("--rotation", type=int, choices=(0, 90, 180, 270), help="turn the picture")
    parser.add_argument("--motion", choices=("auto", "paged", "scroll"), help="how the job list moves")
    parser.add_argument("--max-fps", type=int, help="frame-rate cap (default: the profile's)")
    parser.add_argument("--screenshot-dir", type=Path, help="save a picture of each segment shown here")
    parser.add_argument("--run-seconds", type=float, help="stop after this many seconds (exit 0)")
    parser.add_argument("--run-segments", type=int,
                        help="with --screenshot-dir: stop once this many segments were shown and pictured (exit 0)")
    parser.set_defaults(handler=_display)


def _display(args: argparse.Namespace, ctx: Context) -> int:
    from display.profiles import resolve_profile

    settings = ctx.settings
    screen = settings.devices.board_screen
    try:
        profile = resolve_profile(screen, profile=args.profile, width=args.width, height=args.height,
                                  rotation=args.rotation, motion=args.motion, max_fps=args.max_fps)
    except ValueError as exc:
        raise CommandError(str(exc), exitcodes.USAGE) from None
    if args.run_seconds is not None and args.run_seconds <= 0:
        raise CommandError("--run-seconds must be more than 0", exitcodes.USAGE)
    if args.run_segments is not None and (args.run_segments <= 0 or args.screenshot_dir is None):
        raise CommandError("--run-segments needs --screenshot-dir and must be more than 0", exitcodes.USAGE)
    if screen.display:
        os.environ["DISPLAY"] = screen.display
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise CommandError("no display: set devices.board_screen.display or $DISPLAY "
                           "(on a headless machine run it under Xvfb, as 'yizhan demo' does)",
                           exitcodes.UNAVAILABLE)
    from common.fonts import FontNotFoundError, find_cjk_font

    try:
        find_cjk_font(settings.ui.font)
    except FontNotFoundError as exc:
        raise CommandError(str(exc), exitcodes.CONFIG) from None
    from config.faces import run_board
    from display.window import configure_kivy

    configure_kivy(profile, fullscreen=screen.fullscreen)
    app = run_board(settings, profile, screenshot_dir=args.screenshot_dir, run_seconds=args.run_seconds,
                    run_segments=args.run_segments)
    if args.screenshot_dir is not None:
        ctx.emit({"screenshots": [str(p) for p in app.screenshots], "switches": app.switches},
                 "\n".join(str(p) for p in app.screenshots) or "no screenshots")
    return exitcodes.OK
