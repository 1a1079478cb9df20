"""``yizhan kiosk``: run the touchscreen app (full screen on the station, windowed for trying it out).

``--script demo`` drives a scripted tour (home, search "bj", a job, print, an ID card,
recommendations, a registration, its confirmation), saving a screenshot of every screen
to ``--screenshot-dir``, then exits 0. ``--run-seconds`` bounds a run (for the demo and
for checking a set-up). The kiosk (and so Kivy) is imported only inside the handler, which builds
the Station and hands the app its parts (:mod:`config.faces`).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from common import exitcodes
from config.command import CommandError, Context
from config.station import open_store


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--screenshot-dir", metavar="DIR", type=Path,
                        help="where --script saves a PNG of every screen (default: ./kiosk-screens)")
    parser.add_argument("--run-seconds", metavar="S", type=float,
                        help="stop after S seconds (the tour stops when it is done)")
    parser.add_argument("--script", choices=["demo"],
                        help="drive a scripted tour of the kiosk and exit")
    parser.add_argument("--windowed", action="store_true",
                        help="a normal window with a cursor, whatever devices.kiosk_screen.fullscreen says")
    parser.add_argument("--idcard-control", metavar="PORT", type=int,
                        help="the tour places cards through this ID card simulator control port; "
                             "without it the tour starts its own simulator")
    parser.set_defaults(handler=_run)


def _with_reader_port(settings: Any, port: str) -> Any:
    devices = settings.devices
    idcard = devices.idcard.model_copy(update={"port": port, "enabled": True})
    return settings.model_copy(update={"devices": devices.model_copy(update={"idcard": idcard})})


def _run(args: argparse.Namespace, ctx: Context) -> int:
    settings = ctx.settings
    if args.run_seconds is not None and args.run_seconds <= 0:
        raise CommandError("--run-seconds must be more than 0", exitcodes.USAGE)
    if not (settings.devices.kiosk_screen.display or os.environ.get("DISPLAY")):
        raise CommandError("no X display: set devices.kiosk_screen.display or $DISPLAY "
                           "(on a headless machine: xvfb-run yizhan kiosk ...)", exitcodes.UNAVAILABLE)
    from common.diskspace import require_writable
    from common.fonts import FontNotFoundError

    require_writable(settings.data_dir)  # registrations and slips are kept on disk
    from kiosk import boot

    kiosk_mode = False if args.windowed else None
    try:
        boot.prepare(settings, kiosk_mode=kiosk_mode)
    except FontNotFoundError as exc:
        raise CommandError(str(exc), exitcodes.CONFIG) from None

    simulator = None
    place_card = remove_card = None
    if args.script == "demo":
        _ensure_content(settings)
        if args.idcard_control:
            from idcard.simulator import control_client

            client = control_client(args.idcard_control)
            place_card, remove_card = client.place, client.remove
        else:
            from idcard.simulator import Simulator

            simulator = Simulator()
            settings = _with_reader_port(settings, simulator.start())
            place_card, remove_card = simulator.place, simulator.remove
    try:
        return _run_app(settings, args, kiosk_mode, place_card, remove_card)
    finally:
        if simulator is not None:
            simulator.stop()


def _ensure_content(settings: Any) -> None:
    """The tour needs jobs to find: an empty store gets the sample content (a filled one is kept)."""

    with open_store(settings) as store:
        if store.content_info().counts.get("jobs", 0):
            return
        from content.sample import sample_content

        station = settings.station
        settings.media_dir.mkdir(parents=True, exist_ok=True)
        store.replace_content(sample_content(origin=(station.latitude, station.longitude),
                                             media_dir=settings.media_dir), feed_id="sample", version=1)
    print("kiosk tour: the store was empty; loaded the sample content")


def _run_app(settings: Any, args: argparse.Namespace, kiosk_mode: bool | None, place_card: Any,
             remove_card: Any) -> int:
    from config.faces import kiosk_parts

    with kiosk_parts(settings) as services:
        return _run_kiosk(settings, services, args, kiosk_mode, place_card, remove_card)


def _run_kiosk(settings: Any, services: Any, args: argparse.Namespace, kiosk_mode: bool | None, place_card: Any,
               remove_card: Any) -> int:
    from config.faces import kiosk_app

    app = kiosk_app(settings, services, kiosk_mode=kiosk_mode)
    if args.script is None:
        if args.run_seconds:
            app.stop_after(args.run_seconds)
        app.run()
        return exitcodes.OK

    from kiosk.demo import run_tour
    from kiosk.driver import Driver

    shots = args.screenshot_dir or Path("kiosk-screens")
    driver = Driver(app)
    deadline = time.monotonic() + args.run_seconds if args.run_seconds else None
    driver.start()
    try:
        saved = run_tour(driver, shots, place_card=place_card, remove_card=remove_card, deadline=deadline)
    finally:
        driver.stop()
    if app.errors_handled:
        raise CommandError(f"the tour hit {app.errors_handled} unexpected error(s); see the log above")
    print(f"kiosk tour: {len(saved)} screens saved in {shots}")
    for path in saved:
        print(f"  {path}")
    return exitcodes.OK
