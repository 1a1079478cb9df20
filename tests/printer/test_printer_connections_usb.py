"""A USB printer that is not plugged in is reported as unavailable, naming the device."""

from __future__ import annotations

import pytest

from config.settings import PrinterSettings
from printer.connections import PrinterUnavailable, open_connection


def test_usb_printer_missing_is_unavailable_with_its_ids() -> None:
    settings = PrinterSettings(kind="usb", usb_vendor_id=0x0416, usb_product_id=0x5011)
    with pytest.raises(PrinterUnavailable, match=r"usb 0416:5011"):
        open_connection(settings)
