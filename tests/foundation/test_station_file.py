"""The one sample station file the demo, the tests and the benchmarks write."""

from __future__ import annotations

import tomllib

import pytest

from config.settings import load_settings
from config.station_file import SAMPLE, render, station_settings, write_station_file


def test_the_sample_station_file_is_a_valid_station(tmp_path) -> None:
    path = write_station_file(tmp_path / "s" / "station.toml")
    settings = load_settings(path)
    assert settings.station.name == SAMPLE["station"]["name"] == "城东社区人社便民服务站"
    assert settings.devices.printer.profile == "generic-80"
    assert (tmp_path / "s" / "data").is_dir()  # its relative data dir is made beside it


def test_changes_set_add_and_remove_keys_and_text_round_trips(tmp_path) -> None:
    tricky = 'a "quoted" \\ path\twith tab'
    path = write_station_file(tmp_path / "station.toml", {
        "station.id": "bench-1", "station.hotline": None, "hub.feed_url": "http://127.0.0.1:1/feeds/x/",
        "devices.printer.port": 9101, "kiosk.read_aloud": False, "station.address": tricky},
        comment="made by a test\nsecond line")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# made by a test\n# second line\n")
    data = tomllib.loads(text)
    assert data["station"]["id"] == "bench-1" and "hotline" not in data["station"]
    assert data["station"]["address"] == tricky
    assert data["hub"]["feed_url"] == "http://127.0.0.1:1/feeds/x/"
    assert data["devices"]["printer"]["port"] == 9101 and data["kiosk"]["read_aloud"] is False
    assert load_settings(path).devices.printer.port == 9101
    assert SAMPLE["station"]["id"] == "sample-station-01"  # the sample itself is never changed


def test_an_absolute_data_dir_is_left_to_the_installer(tmp_path) -> None:
    target = tmp_path / "elsewhere" / "data"
    write_station_file(tmp_path / "station.toml", {"storage.data_dir": str(target)})
    assert not target.exists()


def test_bad_changes_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="section.key"):
        station_settings({"nodot": 1})
    with pytest.raises(TypeError, match="station.id"):
        render(station_settings({"station.id": object()}))
