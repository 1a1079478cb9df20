"""Connections to the printer, opened from ``devices.printer`` settings through python-escpos.

python-escpos's device classes (``Network``, ``Serial``, ``Usb``, ``File``) carry the bytes;
status requests are sent and their one-byte replies read here with a short timeout, so
a silent printer reads as ``unknown`` within about a second, never as "paper OK". The
virtual printer is a network printer on the configured host and port. A ``file``
connection (e.g. ``/dev/usb/lp0``) can only write: its status is always ``unknown`` and
the queue treats a completed write as printed (see :mod:`printer.queue`).
"""

from __future__ import annotations

import logging
import os
import select
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from printer.status import REQUESTS, PrinterState, PrinterStatus, decode, is_valid, request, status_of

log = logging.getLogger(__name__)
STATUS_TIMEOUT_S = 0.8


class _QuietEscpos(logging.Filter):
    """python-escpos logs every open and close at INFO on the root logger; keep that out."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "escpos" not in record.pathname.replace("\\", "/").split("/")


_quiet = _QuietEscpos()


class PrinterUnavailable(OSError):
    """The printer cannot be reached; ``str()`` says which printer and why, for staff."""


class Connection:
    """An open printer connection: ``write`` bytes, read ``status()``, ``close``."""

    supports_status = True

    def __init__(self, device: Any, description: str, *, status_timeout: float = STATUS_TIMEOUT_S) -> None:
        self.device = device
        self.description = description
        self.status_timeout = status_timeout

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<printer connection {self.description}>"

    def write(self, data: bytes) -> None:
        try:
            self.device._raw(data)
        except (OSError, ValueError) as exc:
            raise PrinterUnavailable(f"向打印机发送数据失败（{self.description}）：{exc}") from exc
        except Exception as exc:  # pyusb and pyserial raise their own types
            raise PrinterUnavailable(f"向打印机发送数据失败（{self.description}）：{exc}") from exc

    def _drain(self) -> None:
        """Drop bytes the printer sent unasked (automatic status back), so replies line up."""

    def _read_byte(self) -> int | None:
        """One reply byte; each transport below reads in its own way."""
        return None

    def query(self, n: int) -> int | None:
        """The reply byte to ``DLE EOT n``, or None if none came in time."""
        self._drain()
        self.write(request(n))
        return self._read_byte()

    def status(self) -> PrinterStatus:
        replies: dict[int, int | None] = {}
        try:
            for n in REQUESTS:
                replies[n] = self.query(n)
                if replies[n] is None or not is_valid(replies[n]):  # silent or garbled: stop asking
                    break
        except PrinterUnavailable as exc:
            return status_of(PrinterState.OFFLINE, str(exc), replies)
        return decode(replies)

    def close(self) -> None:
        try:
            self.device.close()
        except Exception as exc:  # closing a dead connection must never hide the real error
            log.debug("closing %s: %s", self.description, exc)


class NetworkConnection(Connection):
    def _sock(self) -> socket.socket:
        return self.device.device

    def _drain(self) -> None:
        sock = self._sock()
        while select.select([sock], [], [], 0)[0]:
            try:
                if not sock.recv(256):
                    return
            except OSError:
                return

    def _read_byte(self) -> int | None:
        sock = self._sock()
        old = sock.gettimeout()
        sock.settimeout(self.status_timeout)
        try:
            data = sock.recv(16)
        except (TimeoutError, OSError):
            return None
        finally:
            sock.settimeout(old)
        return data[0] if data else None


class SerialConnection(Connection):
    def _drain(self) -> None:
        self.device.device.reset_input_buffer()

    def _read_byte(self) -> int | None:
        port = self.device.device
        old = port.timeout
        port.timeout = self.status_timeout
        try:
            data = port.read(1)
        finally:
            port.timeout = old
        return data[0] if data else None


class UsbConnection(Connection):
    def _read_byte(self) -> int | None:
        deadline = time.monotonic() + self.status_timeout
        while time.monotonic() < deadline:
            try:
                data = self.device._read()
            except Exception:  # pyusb's timeout error type depends on the backend
                return None
            if data:
                return data[0]
        return None


class FileConnection(Connection):
    supports_status = False

    def _read_byte(self) -> int | None:
        return None

    def status(self) -> PrinterStatus:
        return status_of(PrinterState.UNKNOWN, f"{self.description} cannot report status")

    def write(self, data: bytes) -> None:
        super().write(data)
        try:
            self.device.flush()
        except Exception as exc:
            raise PrinterUnavailable(f"向打印机发送数据失败（{self.description}）：{exc}") from exc


def describe(printer: Any) -> str:
    """Where the printer is, in words (no secrets in printer settings)."""
    if printer.kind in ("network", "virtual"):
        return f"{printer.kind} {printer.host}:{printer.port}"
    if printer.kind == "serial":
        return f"serial {printer.serial_port} {printer.serial_baud} baud"
    if printer.kind == "usb":
        return f"usb {printer.usb_vendor_id:04x}:{printer.usb_product_id:04x}"
    return f"file {printer.file_path}"


def escpos_cache_dir() -> Path:
    """Where python-escpos keeps its capabilities pickle: one folder per user, reused by every run."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yizhan" / "escpos"


def import_escpos_printer() -> Any:
    """``escpos.printer``, imported so that nothing is left in the temp folder.

    On import, python-escpos's ``capabilities`` module calls ``tempfile.mkdtemp()`` (even when
    ``ESCPOS_CAPABILITIES_PICKLE_DIR`` is set: it is the default argument of ``environ.get``) and
    pickles its database there unless that variable names another folder. Every ``yizhan print``
    would leave one folder behind in /tmp; on a box that runs for months they pile up. So the
    pickle goes to a per-user cache folder, and the empty folder made on import is removed.
    """
    if "escpos.capabilities" not in sys.modules:
        if not os.environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR"):
            cache = escpos_cache_dir()
            try:
                cache.mkdir(parents=True, exist_ok=True)
            except OSError:  # no writable home (a locked-down service user): a private temp folder
                cache = Path(tempfile.gettempdir()) / f"yizhan-escpos-{os.getuid()}"
                cache.mkdir(mode=0o700, exist_ok=True)
            os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(cache)
        made: list[str] = []
        real_mkdtemp = tempfile.mkdtemp

        def tracked_mkdtemp(*args: Any, **kwargs: Any) -> str:
            folder = real_mkdtemp(*args, **kwargs)
            made.append(folder)
            return folder

        tempfile.mkdtemp = tracked_mkdtemp  # type: ignore[assignment]
        try:
            import escpos.capabilities  # noqa: F401 - the import is what makes the folder
        finally:
            tempfile.mkdtemp = real_mkdtemp  # type: ignore[assignment]
            for folder in made:
                try:
                    os.rmdir(folder)  # empty: the pickle went to the cache folder
                except OSError:
                    log.warning("could not remove python-escpos's temp folder %s", folder)
    from escpos import printer as escpos_printer

    return escpos_printer


def _append_file_device(escpos_printer: Any) -> type:
    class AppendFile(escpos_printer.File):
        """python-escpos's ``File`` opens with "wb", which empties a regular file (a spool, a log of
        slips) on every connection; appending is the same for a device node such as /dev/usb/lp0."""

        def open(self, raise_not_found: bool = True) -> None:
            from escpos.exceptions import DeviceNotFoundError

            if self._device:
                self.close()
            try:
                self.device = open(self.devfile, "ab")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                self.device = None
                raise DeviceNotFoundError(f"Could not open the specified file {self.devfile}:\n{exc}") from exc

    return AppendFile


def open_connection(printer: Any, *, status_timeout: float | None = None) -> Connection:
    """Open the printer described by ``devices.printer`` settings; :class:`PrinterUnavailable` if not.

    Status replies are waited for ``status_timeout`` seconds, by default the settings'
    ``status_timeout_s``."""
    if status_timeout is None:
        status_timeout = getattr(printer, "status_timeout_s", STATUS_TIMEOUT_S)
    escpos_printer = import_escpos_printer()  # imported late: it configures logging on import

    root = logging.getLogger()
    if _quiet not in root.filters:
        root.addFilter(_quiet)

    where = describe(printer)
    try:
        if printer.kind in ("network", "virtual"):
            device = escpos_printer.Network(printer.host, port=printer.port, timeout=printer.timeout_s)
            device.open()
            return NetworkConnection(device, where, status_timeout=status_timeout)
        if printer.kind == "serial":
            device = escpos_printer.Serial(printer.serial_port, baudrate=printer.serial_baud,
                                           timeout=printer.timeout_s, xonxoff=printer.serial_flow == "xonxoff")
            device.open()
            device.device.rtscts = printer.serial_flow == "rtscts"
            return SerialConnection(device, where, status_timeout=status_timeout)
        if printer.kind == "usb":
            if not escpos_printer.Usb.is_usable():
                raise PrinterUnavailable(
                    f"无法连接打印机（{where}）：USB printers need pyusb and libusb-1.0 "
                    "(pip install pyusb; apt-get install libusb-1.0-0), or use kind = \"file\" "
                    "with file_path = \"/dev/usb/lp0\"")
            device = escpos_printer.Usb(printer.usb_vendor_id, printer.usb_product_id,
                                        timeout=int(printer.timeout_s * 1000), in_ep=printer.usb_in_ep,
                                        out_ep=printer.usb_out_ep)
            device.open()
            return UsbConnection(device, where, status_timeout=status_timeout)
        device = _append_file_device(escpos_printer)(printer.file_path)
        device.open()
        return FileConnection(device, where, status_timeout=status_timeout)
    except PrinterUnavailable:
        raise
    except Exception as exc:  # DeviceNotFoundError, OSError, serial/usb errors: all mean "not reachable"
        raise PrinterUnavailable(f"无法连接打印机（{where}）：{_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    inner = exc.__context__ if isinstance(exc.__context__, OSError) else exc
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    text = str(inner).strip().splitlines()
    return text[-1] if text else type(inner).__name__


def connection_factory(printer: Any, *, status_timeout: float | None = None) -> Callable[[], Connection]:
    """A function opening a fresh connection to the configured printer each call."""
    return lambda: open_connection(printer, status_timeout=status_timeout)


def read_status(printer: Any, *, status_timeout: float | None = None) -> PrinterStatus:
    """Open, read the status, close. An unreachable printer is ``offline``."""
    try:
        conn = open_connection(printer, status_timeout=status_timeout)
    except PrinterUnavailable as exc:
        return status_of(PrinterState.OFFLINE, str(exc))
    with conn:
        return conn.status()
