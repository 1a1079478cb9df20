"""Printer profiles are data; a wrong profile name or paper width is refused with a clear message."""

from __future__ import annotations

import pytest

from config.settings import PrinterSettings
from printer.profiles import ProfileError, escpos_capabilities, get_profile, known_profiles, profile_for

EXPECTED = {"generic-58", "generic-80", "xprinter-58", "xprinter-80", "gprinter-58", "epson-tm-t20"}


def test_our_profiles_cover_the_common_printers_with_sane_widths():
    profiles = known_profiles()
    assert EXPECTED <= set(profiles)
    for profile in profiles.values():
        assert (profile.dots, profile.columns) == ((384, 32) if profile.paper_width == 58 else (576, 48))


def test_our_profiles_agree_with_python_escpos_on_dot_width_where_it_knows_the_printer():
    caps = escpos_capabilities()
    for profile in known_profiles().values():
        base = caps[profile.escpos_profile]
        pixels = base.get("media", {}).get("width", {}).get("pixels")
        if isinstance(pixels, int):
            assert pixels == profile.dots, profile.name


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ProfileError) as err:
        get_profile("xprinter-76")
    message = str(err.value)
    assert "xprinter-76" in message
    for name in EXPECTED:
        assert name in message


def test_settings_select_a_profile_and_its_paper_width_must_match():
    assert profile_for(PrinterSettings(profile="xprinter-58", paper_width=58)).dots == 384
    with pytest.raises(ProfileError, match="is for 58 mm paper but devices.printer.paper_width is 80"):
        profile_for(PrinterSettings(profile="generic-58", paper_width=80))
    with pytest.raises(ProfileError, match="devices.printer.profile: unknown printer profile"):
        profile_for(PrinterSettings(profile="nope", paper_width=80))


def test_python_escpos_profiles_can_be_named_directly():
    profile = get_profile("escpos:TM-T88V")
    assert profile.dots == 512 and profile.native_qr and profile.cutter == "full"
    with pytest.raises(ProfileError, match="python-escpos has no profile"):
        get_profile("escpos:NoSuchPrinter")
    with pytest.raises(ProfileError, match="does not say its dot width"):
        get_profile("escpos:default")
