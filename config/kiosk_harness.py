"""A whole kiosk on loopback with simulated devices: for the tests, the benchmark and trying it out.

:class:`KioskHarness` takes a station's settings, fills its store with sample content,
starts the ID card simulator (a pseudo-terminal speaking GA/T 467) and the virtual
ESC/POS printer (a TCP server rendering slips to PNG), points the settings at them and
runs the real :class:`~kiosk.app.KioskApp` under a :class:`~kiosk.driver.Driver`, built as
``yizhan kiosk`` builds it (:mod:`config.faces`). Nothing in it is a stub: the reader service,
the print queue, the store and the outbox are the station's own code. It builds a Station, so it
lives with the wiring, not in the kiosk.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any


def with_changes(settings: Any, changes: dict[str, Any]) -> Any:
    """A copy of frozen settings with dotted keys replaced: ``{"devices.printer.port": 9100}``."""
    for dotted, value in changes.items():
        parts = dotted.split(".")
        chain = [settings]
        for part in parts[:-1]:
            chain.append(getattr(chain[-1], part))
        updated = chain[-1].model_copy(update={parts[-1]: value})
        for parent, part in zip(reversed(chain[:-1]), reversed(parts[:-1]), strict=True):
            updated = parent.model_copy(update={part: updated})
        settings = updated
    return settings


class KioskHarness:
    """Start with :meth:`start` (returns the driver); always :meth:`stop`."""

    def __init__(self, settings: Any, *, jobs: int = 300, reader: bool = True, printer: bool = True,
                 media: bool = True, changes: dict[str, Any] | None = None, seed: int = 7,
                 reader_timing: bool = False) -> None:
        self.settings = settings
        self.jobs = jobs
        self.use_reader = reader
        self.use_printer = printer
        self.media = media
        self.changes = dict(changes or {})
        self.seed = seed
        self.reader_timing = reader_timing  # the simulator takes the real wire time (115200 baud)
        self.simulator: Any = None
        self.printer: Any = None
        self.app: Any = None
        self.driver: Any = None
        self.station: Any = None  # the Station, built at launch
        self.slips_dir = Path(tempfile.mkdtemp(prefix="yizhan-slips-"))

    def fill_store(self, settings: Any) -> None:
        from config.station import open_store
        from content.sample import sample_content

        station = settings.station
        content = sample_content(origin=(station.latitude, station.longitude), jobs=self.jobs, seed=self.seed,
                                 today=dt.date.today(), media_dir=settings.media_dir if self.media else None)
        with open_store(settings) as store:
            store.replace_content(content, feed_id="sample", version=1)

    def start(self, *, start_app: bool = True) -> Any:
        from kiosk import boot

        changes = dict(self.changes)
        if self.use_reader:
            from idcard.simulator import Simulator

            self.simulator = Simulator(honour_timing=self.reader_timing)
            changes["devices.idcard.port"] = self.simulator.start()
            changes["devices.idcard.enabled"] = True
            changes.setdefault("devices.idcard.poll_interval_ms", 100)
        else:
            changes["devices.idcard.enabled"] = False
        if self.use_printer:
            from printer.virtual import VirtualPrinter

            self.printer = VirtualPrinter(self.slips_dir).start()
            changes.update({"devices.printer.enabled": True, "devices.printer.kind": "virtual",
                            "devices.printer.host": "127.0.0.1", "devices.printer.port": self.printer.port})
        else:
            changes["devices.printer.enabled"] = False
        self.settings = with_changes(self.settings, changes)
        self.settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
        self.fill_store(self.settings)
        boot.prepare(self.settings, kiosk_mode=False)
        if start_app:
            self.launch()
        return self.driver

    def launch(self) -> Any:
        """Build and start the app (the benchmark times this)."""
        from config.faces import kiosk_app
        from config.station import Station
        from kiosk.driver import Driver
        from kiosk.services import Services

        self.station = Station(self.settings)
        services = Services.from_station(self.station, sync=False)
        if services.printer is not None:
            # Loopback printer: confirm slips quickly instead of the real printer's settle time.
            services.printer.settle_s = 0.05
            services.printer.poll_s = 0.2
        self.app = kiosk_app(self.settings, services, kiosk_mode=False)
        self.driver = Driver(self.app)
        self.startup_s = self.driver.start()
        return self.driver

    def stop(self) -> None:
        if self.driver is not None:
            self.driver.stop()
            self.driver = None
        if self.station is not None:
            self.station.close()
            self.station = None
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
        if self.printer is not None:
            self.printer.stop()
            self.printer = None

    def __enter__(self) -> KioskHarness:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
