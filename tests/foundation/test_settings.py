"""Station settings: good files load, every kind of bad value is refused with a message that
names the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from settings_kit import MINIMAL

from config.settings import (
    SettingsError,
    check_pin,
    find_settings_file,
    hash_pin,
    load_settings,
    parse_settings,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "station.example.toml"



def test_example_file_is_valid_and_documents_every_section() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.station.name == "城东社区人社便民服务站"
    assert settings.devices.printer.paper_width == 80
    text = EXAMPLE.read_text(encoding="utf-8")
    for section in ("[station]", "[hub]", "[devices.idcard]", "[devices.printer]", "[devices.kiosk_screen]",
                    "[devices.board_screen]", "[kiosk]", "[storage]", "[privacy]", "[ui]"):
        assert section in text


def test_minimal_file_takes_defaults() -> None:
    settings = parse_settings(MINIMAL)
    assert settings.station.radius_km == 3.0
    assert settings.station.kind == "服务站"
    assert settings.devices.idcard.baud == 115200
    assert settings.kiosk.elder_mode is True
    assert settings.privacy.retention_days == 30


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("[devices.printer]\npaper_width = 75", "station.toml: devices.printer.paper_width: must be 58 or 80, got 75"),
        ("[devices.printer]\nkind = \"bluetooth\"", "devices.printer.kind: must be usb, serial, network, file or virtual, got 'bluetooth'"),
        ("[devices.board_screen]\nrotation = 45", "devices.board_screen.rotation: must be 0, 90, 180 or 270, got 45"),
        ("[devices.idcard]\nbaud = 1200", "devices.idcard.baud: must be 9600, 19200, 38400, 57600 or 115200, got 1200"),
        ("[storage]\nfree_space_floor_mb = -5", "storage.free_space_floor_mb: must be >= 0, got -5"),
        ("[hub]\nfeed_url = \"ftp://x\"", "hub.feed_url: must be an http:// or https:// URL"),
        ("[hub]\npublic_key = \"abcd\"", "hub.public_key: must be a 32-byte Ed25519 public key, got 3 bytes"),
        ("[kiosk]\nstaff_pin_hash = \"1234\"", "kiosk.staff_pin_hash: must be a PIN hash made by 'yizhan config hash-pin'"),
        ("[devices.printer]\nkind = \"serial\"", "devices.printer: kind 'serial' needs serial_port"),
        ("[kiosk]\nidle_timout_s = 30", "kiosk.idle_timout_s: unknown key"),
        ("[privacy]\nretention_days = \"forever\"", "privacy.retention_days: input should be a valid integer"),
    ],
)
def test_bad_values_name_file_key_and_problem(extra: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings(MINIMAL + "\n" + extra, name="station.toml")
    assert expected in str(info.value)
    assert str(info.value).startswith("station.toml: ")


def test_bad_latitude_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"station.latitude: must be <= 90, got 200"):
        parse_settings(MINIMAL.replace("26.58", "200"))


def test_missing_required_key() -> None:
    with pytest.raises(SettingsError, match=r"station.toml: station.name: required key is missing"):
        parse_settings(MINIMAL.replace('name = "城东社区人社便民服务站"\n', ""), name="station.toml")


def test_missing_station_section() -> None:
    with pytest.raises(SettingsError, match=r"station: required key is missing"):
        parse_settings("[hub]\nsync_interval_s = 60\n")


def test_unknown_top_level_section() -> None:
    with pytest.raises(SettingsError, match=r"printer: unknown key"):
        parse_settings(MINIMAL + "\n[printer]\npaper_width = 58\n")


def test_not_toml() -> None:
    with pytest.raises(SettingsError, match=r"station.toml: not valid TOML"):
        parse_settings("[station\nid=", name="station.toml")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"no such settings file"):
        load_settings(tmp_path / "nope.toml")


def test_relative_data_dir_is_taken_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text(MINIMAL + '\n[storage]\ndata_dir = "data"\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.data_dir == (tmp_path / "data").resolve()
    assert settings.db_path == (tmp_path / "data" / "station.db").resolve()


def test_config_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("YIZHAN_CONFIG", raising=False)
    monkeypatch.setattr("config.settings.DEFAULT_LOCATIONS", (tmp_path / "etc.toml", Path("station.toml")))
    with pytest.raises(SettingsError, match="no station settings found"):
        find_settings_file()
    Path("station.toml").write_text(MINIMAL, encoding="utf-8")
    assert find_settings_file() == Path("station.toml")
    (tmp_path / "etc.toml").write_text(MINIMAL, encoding="utf-8")
    assert find_settings_file() == tmp_path / "etc.toml"
    monkeypatch.setenv("YIZHAN_CONFIG", "/from/env.toml")
    assert find_settings_file() == Path("/from/env.toml")
    assert find_settings_file("explicit.toml") == Path("explicit.toml")


def test_pin_hash_round_trip_and_masking() -> None:
    digest = hash_pin("246810")
    assert check_pin("246810", digest)
    assert not check_pin("246811", digest)
    assert not check_pin("246810", "")
    settings = parse_settings(MINIMAL + f'\n[kiosk]\nstaff_pin_hash = "{digest}"\n[hub]\nstation_token = "s3cret"\n')
    masked = settings.masked()
    assert "s3cret" not in str(masked) and digest not in str(masked)
    with pytest.raises(ValueError, match="6 to 12 digits"):
        hash_pin("12a456")
