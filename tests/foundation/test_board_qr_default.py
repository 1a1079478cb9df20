"""The board's QR code leads to the station's phone page on the hub unless set otherwise."""

from __future__ import annotations

from settings_kit import MINIMAL

from config.settings import parse_settings, station_page_url

FEED = '[hub]\nfeed_url = "https://hub.example.gov.cn/feeds/gy-yunyan"\n'


def test_the_board_qr_defaults_to_the_stations_phone_page() -> None:
    settings = parse_settings(MINIMAL + FEED)
    expected = f"https://hub.example.gov.cn/feeds/gy-yunyan/m/s/{settings.station.id}/"
    assert settings.devices.board_screen.qr_url == expected == station_page_url(settings)


def test_a_set_qr_url_is_kept_and_none_means_no_qr_code() -> None:
    chosen = parse_settings(MINIMAL + FEED + '[devices.board_screen]\nqr_url = "https://jobs.example.cn/all"\n')
    assert chosen.devices.board_screen.qr_url == "https://jobs.example.cn/all"
    none = parse_settings(MINIMAL + FEED + '[devices.board_screen]\nqr_url = "none"\n')
    assert none.devices.board_screen.qr_url == ""


def test_without_a_hub_there_is_no_qr_code() -> None:
    assert parse_settings(MINIMAL).devices.board_screen.qr_url == ""
