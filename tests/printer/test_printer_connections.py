"""Connections from settings: a serial printer on a pseudo-terminal, and clear errors for missing ones."""

from __future__ import annotations

import os
import threading
import tty

import pytest

from config.settings import PrinterSettings
from printer.connections import PrinterUnavailable, open_connection, read_status
from printer.status import PrinterState


class SerialPrinter:
    """The printer end of a pseudo-terminal: records what it gets, answers DLE EOT with ``answer``."""

    def __init__(self, answer: int | None = 0x12) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave
        self.answer = answer
        self.received = bytearray()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import select

        while not self._stop:
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            self.received += chunk
            if self.answer is not None:
                for i in range(len(chunk) - 2):
                    if chunk[i:i + 2] == b"\x10\x04":
                        os.write(self.master, bytes([self.answer]))

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def serial_printer():
    printer = SerialPrinter()
    yield printer
    printer.close()


def test_a_serial_printer_gets_the_bytes_and_answers_status(serial_printer):
    settings = PrinterSettings(kind="serial", serial_port=serial_printer.path, serial_baud=115200, timeout_s=1)
    with open_connection(settings, status_timeout=10) as conn:  # it answers: room for a busy machine
        conn.write(b"\x1b@hello\n")
        status = conn.status()
    assert status.state is PrinterState.READY and status.replies == {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}
    assert serial_printer.received.startswith(b"\x1b@hello\n")


def test_a_serial_printer_reporting_paper_out_and_one_that_stays_silent(serial_printer):
    settings = PrinterSettings(kind="serial", serial_port=serial_printer.path, timeout_s=1)
    serial_printer.answer = 0x72  # paper out bits in every reply
    assert read_status(settings, status_timeout=10).state is PrinterState.PAPER_OUT
    serial_printer.answer = None
    # the wait for a reply is the station's setting, devices.printer.status_timeout_s
    status = read_status(settings.model_copy(update={"status_timeout_s": 0.3}))
    assert status.state is PrinterState.UNKNOWN and not status.printable


def test_missing_printers_give_a_clear_error_naming_the_printer(tmp_path):
    with pytest.raises(PrinterUnavailable, match=r"无法连接打印机（serial /dev/ttyNOPE0 9600 baud）"):
        open_connection(PrinterSettings(kind="serial", serial_port="/dev/ttyNOPE0"))
    with pytest.raises(PrinterUnavailable, match=r"无法连接打印机（file .*/no/such/dir/lp0）"):
        open_connection(PrinterSettings(kind="file", file_path=str(tmp_path / "no/such/dir/lp0")))
    with pytest.raises(PrinterUnavailable, match=r"usb 0416:5011"):
        open_connection(PrinterSettings(kind="usb", usb_vendor_id=0x0416, usb_product_id=0x5011))
    status = read_status(PrinterSettings(kind="serial", serial_port="/dev/ttyNOPE0"))
    assert status.state is PrinterState.OFFLINE and "ttyNOPE0" in status.detail


def test_a_file_printer_is_appended_to_not_truncated(tmp_path):
    """kind = "file" on a regular file (a spool or a log of slips): every connection adds to it."""
    path = tmp_path / "slips.bin"
    settings = PrinterSettings(kind="file", file_path=str(path))
    for text in (b"first slip\n", b"second slip\n"):
        with open_connection(settings) as conn:
            conn.write(text)
    assert path.read_bytes() == b"first slip\nsecond slip\n"
