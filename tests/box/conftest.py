"""The station-box suite: a release bundle of this checkout installed under a real systemd."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from box_kit import StationBox, prepare_station_box

TOKEN = "box-station-token-7f3a9c"


@pytest.fixture(scope="module")
def station_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StationBox]:
    if os.geteuid() != 0:
        pytest.fail("the station-box suite runs as root (systemd-box needs it), as make test does on a station")
    station = prepare_station_box(tmp_path_factory.mktemp("box"), **{"hub.sync_interval_s": 30,
                                                                        "hub.station_token": TOKEN})
    try:
        station.install()
        yield station
    finally:
        station.box.stop()
