"""The faces handed their parts: the touchscreen app and the board, built from the station's settings.

The kiosk and the board import nothing of ``config/``: what they need from outside (the store,
the devices, the staff PIN's check, systemd's watchdog) is made here, at the entry point, and
handed in. Kivy is imported only when a face is built (this module is imported by the command
modules, which must stay light for ``yizhan --help``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from config.settings import Settings, check_pin
from config.station import Station
from deploy import watchdog

if TYPE_CHECKING:
    from display.player import BoardApp
    from display.profiles import Profile
    from kiosk.app import KioskApp
    from kiosk.services import Services


def staff_pin_check(settings: Settings) -> Callable[[str], bool] | None:
    """The check of a typed staff PIN against ``kiosk.staff_pin_hash``; None when no PIN is set."""
    stored = settings.kiosk.staff_pin_hash
    return partial(check_pin, stored=stored) if stored else None


def kiosk_app(settings: Settings, services: Services, *, kiosk_mode: bool | None = None) -> KioskApp:
    """The touchscreen app over ``services`` (built from the process's :class:`Station`)."""
    from kiosk.app import KioskApp

    return KioskApp(settings, services, kiosk_mode=kiosk_mode, check_pin=staff_pin_check(settings),
                    watchdog=watchdog.attach)


@contextmanager
def kiosk_parts(settings: Settings, **options: Any) -> Iterator[Services]:
    """The process's Station and the kiosk's services from it (``options``: see
    :meth:`kiosk.services.Services.from_station`), the Station closed when the block ends."""
    from kiosk.services import Services

    with Station(settings) as station:
        yield Services.from_station(station, **options)


def board_app(settings: Settings, profile: Profile, **options: Any) -> BoardApp:
    """The board over the process's own Station (its store; proof of play shares its database),
    closed when the board stops. ``options`` go to :class:`display.player.BoardApp`."""
    from display.player import BoardApp

    station = Station(settings)
    try:
        return BoardApp(settings, profile, store=station.store, watchdog=watchdog.attach, on_exit=station.close,
                        **options)
    except BaseException:
        station.close()
        raise


def run_board(settings: Settings, profile: Profile, **options: Any) -> BoardApp:
    """Run the board until it stops (``run_seconds``, window closed); returns the app for inspection."""
    app = board_app(settings, profile, **options)
    app.run()
    return app
