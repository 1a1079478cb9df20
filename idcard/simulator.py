"""A virtual ID card reader for ``yizhan idcard simulate``: the reply logic on a pseudo-terminal.

:class:`Simulator` is a :class:`~idcard.simulation.model.ReaderModel` (cards, faults, replies;
see that module) served on a pseudo-terminal by :class:`~idcard.simulation.pty.PtyTransport`,
with an optional text control port (:mod:`idcard.simulation.control`). pyserial opens its
path like a real port; unplugging makes the device node vanish. Tests that need no
pseudo-terminal serve a :class:`ReaderModel` in process instead (``yizhansim://``, see
:mod:`idcard.simulation.protocol_yizhansim`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from idcard.card import IdentityCard
from idcard.simulation.control import ControlClient, ControlServer, control_client, serve_control
from idcard.simulation.model import (
    DEFAULT_SAM_ID,
    GARBAGE,
    HELP,
    ReaderModel,
    SimulatorError,
    read_reply_data,
    wire_time,
)
from idcard.simulation.pty import LINK_NAME, PtyTransport

__all__ = ["GARBAGE", "HELP", "LINK_NAME", "ControlClient", "ReaderModel", "Simulator", "SimulatorError",
           "control_client", "read_reply_data", "wire_time"]

log = logging.getLogger(__name__)


class Simulator(ReaderModel):
    """A GA/T 467 reader on a pseudo-terminal. Use as a context manager or ``start()``/``stop()``."""

    def __init__(self, identities: Sequence[IdentityCard] | None = None, baud: int = 115200,
                 honour_timing: bool = True, link: str | os.PathLike[str] | None = None,
                 sam_id: bytes = DEFAULT_SAM_ID) -> None:
        super().__init__(identities, baud=baud, sam_id=sam_id)
        self.honour_timing = honour_timing
        self._transport = PtyTransport(self, honour_timing=honour_timing, link=link)
        self._control: ControlServer | None = None

    def start(self) -> str:
        """Create the pseudo-terminal and the symlink, start answering; return the port path."""
        return self._transport.start()

    def stop(self) -> None:
        """Stop answering, close the pseudo-terminal, remove the symlink and the control port."""
        if self._control is not None:
            self._control.shutdown()
            self._control.server_close()
            self._control = None
        self._transport.stop()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def path(self) -> str:
        """The stable port path to configure (a symlink to the current pseudo-terminal)."""
        return self._transport.path

    @property
    def device(self) -> str | None:
        """The current pseudo-terminal (``/dev/pts/N``), None while unplugged."""
        return self._transport.device

    @property
    def plugged(self) -> bool:
        return self._transport.plugged

    def unplug(self) -> None:
        """Pull the cable: the open port fails and the device node disappears."""
        self._transport.unplug()

    def replug(self) -> None:
        """Plug the cable back in: a new pseudo-terminal behind the same path."""
        self._transport.replug()

    def serve_control(self, port: int = 0) -> int:
        """Accept text commands on 127.0.0.1:``port`` (0: any free port); return the port."""
        if self._control is None:
            self._control = serve_control(self, port)
        return self._control.server_address[1]
