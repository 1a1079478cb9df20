"""The one way the reader's serial port is opened, by the CLI, the service and the tests.

``port`` is a device path (``/dev/ttyUSB0``, the pty simulator's symlink) or a pyserial URL:
``yizhansim://NAME`` is a simulator served in this process (see
:mod:`idcard.simulation.protocol_yizhansim`), and pyserial's own ``loop://`` etc. work too.
"""

from __future__ import annotations

import errno

import serial

# pyserial looks up ``SCHEME://`` as module ``protocol_SCHEME`` in these packages.
URL_HANDLERS = "idcard.simulation"


def register_url_handlers() -> None:
    """Make ``yizhansim://`` known to :func:`serial.serial_for_url` (idempotent)."""
    if URL_HANDLERS not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(URL_HANDLERS)


def open_port(port: str, baud: int = 115200, timeout: float | None = 1.0) -> serial.SerialBase:
    """Open the reader's port; raises ``serial.SerialException``/``OSError``/``ValueError`` as pyserial does.

    A device path is opened exclusively (``flock``): the kiosk's reader service holds it while
    it runs, and ``yizhan doctor`` or ``idcard status`` meanwhile get :func:`held_elsewhere`
    instead of interleaving their requests with the kiosk's polling."""
    register_url_handlers()
    if "://" in port:
        return serial.serial_for_url(port, baud, timeout=timeout, write_timeout=timeout)
    return serial.serial_for_url(port, baud, timeout=timeout, write_timeout=timeout, exclusive=True)


def held_elsewhere(exc: BaseException) -> bool:
    """Whether an open failed because another process holds the port (see :func:`open_port`)."""
    return isinstance(exc, OSError) and exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK)
