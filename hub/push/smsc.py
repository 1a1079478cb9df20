"""A local SMSC: an SMPP 3.4 server for training and tests (``yizhan hub smsc``).

It accepts bind_transmitter / bind_transceiver / bind_receiver, records every submit_sm it
accepts (in memory and, with ``record``, one JSON line per message in a 0600 file, written
before the submit_sm_resp), answers enquire_link and unbind, and nacks anything else. It
dedups nothing: a message submitted twice is recorded twice.

What it sends an ESME goes through a per-system_id mailbox kept until the ESME answers it
(deliver_sm_resp), so a sender that died and binds again still gets it:

- a delivery receipt for each message submitted with registered_delivery, carrying the
  message's user_message_reference and receipted_message_id;
- a resident's reply (``deliver(number, "TD")``: staff type ``td 13800001234`` at the
  running command).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.clock import utc_iso
from hub.push import smpp
from hub.push.smpp import Pdu, ShortMessage


@dataclass
class _Mail:
    message: ShortMessage
    sequence: int = 0
    session: _Session | None = None


@dataclass
class _Session:
    sock: socket.socket
    system_id: str = ""
    mode: int = 0  # the bind command, 0 before binding
    lock: threading.Lock = field(default_factory=threading.Lock)
    alive: bool = True

    def send(self, pdu: Pdu) -> bool:
        try:
            with self.lock:
                self.sock.sendall(pdu.encode())
            return True
        except OSError:
            self.alive = False
            return False


class LocalSmsc:
    """An SMSC on ``host:port`` (0: a free port, read back from :attr:`port`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, record: Path | None = None,
                 system_id: str = "yizhan", password: str = "",
                 on_submit: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.system_id, self.password = system_id, password
        self.record = record
        self.on_submit = on_submit
        self.received: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._lock = threading.RLock()
        self._mailbox: dict[str, list[_Mail]] = {}
        self._sessions: list[_Session] = []
        self._sequence = 0
        self._hold_after: int | None = None
        self._release = threading.Event()
        self._server = socket.create_server((host, port))
        self.host, self.port = self._server.getsockname()[:2]
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- running ------------------------------------------------------------------------
    def start(self) -> LocalSmsc:
        self._thread = threading.Thread(target=self._accept, name="smsc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._release.set()
        self._server.close()
        with self._lock:
            for session in self._sessions:
                session.alive = False
                with contextlib.suppress(OSError):
                    session.sock.shutdown(socket.SHUT_RDWR)
                session.sock.close()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            session = _Session(sock)
            with self._lock:
                self._sessions.append(session)
            threading.Thread(target=self._serve, args=(session,), name="smsc-session", daemon=True).start()

    def _serve(self, session: _Session) -> None:
        try:
            while session.alive:
                try:
                    pdu = smpp.read_pdu(session.sock)
                except smpp.SmppError as exc:
                    session.send(Pdu(smpp.GENERIC_NACK, exc.status, 0))
                    return
                if pdu is None:
                    return
                self._handle(session, pdu)
        except OSError:
            return
        finally:
            session.alive = False
            session.sock.close()
            with self._lock:
                self._sessions.remove(session)
                for mail in self._mailbox.get(session.system_id, []):
                    if mail.session is session:
                        mail.session = None

    def _handle(self, session: _Session, pdu: Pdu) -> None:
        command = pdu.command_id
        if command in (smpp.BIND_TRANSMITTER, smpp.BIND_TRANSCEIVER, smpp.BIND_RECEIVER):
            self._bind(session, pdu)
        elif command == smpp.ENQUIRE_LINK:
            session.send(Pdu(command | smpp.RESP, 0, pdu.sequence))
        elif command == smpp.UNBIND:
            session.send(Pdu(command | smpp.RESP, 0, pdu.sequence))
            session.alive = False
        elif command == smpp.SUBMIT_SM:
            self._submit(session, pdu)
        elif command == smpp.DELIVER_SM | smpp.RESP:
            with self._lock:
                box = self._mailbox.get(session.system_id, [])
                box[:] = [m for m in box if not (m.session is session and m.sequence == pdu.sequence)]
        elif command & smpp.RESP:
            return
        else:
            session.send(Pdu(smpp.GENERIC_NACK, smpp.ESME_RINVCMDID, pdu.sequence))

    def _bind(self, session: _Session, pdu: Pdu) -> None:
        if session.mode:
            session.send(Pdu(pdu.command_id | smpp.RESP, smpp.ESME_RALYBND, pdu.sequence))
            return
        bind = smpp.parse_bind(pdu.body)
        if bind.system_id != self.system_id or (self.password and bind.password != self.password):
            status = smpp.ESME_RINVPASWD if bind.system_id == self.system_id else smpp.ESME_RBINDFAIL
            session.send(Pdu(pdu.command_id | smpp.RESP, status, pdu.sequence))
            return
        session.system_id, session.mode = bind.system_id, pdu.command_id
        session.send(Pdu(pdu.command_id | smpp.RESP, 0, pdu.sequence, smpp.cstr("yizhan-smsc", 16)))
        self._flush(bind.system_id)

    def _submit(self, session: _Session, pdu: Pdu) -> None:
        if session.mode not in (smpp.BIND_TRANSMITTER, smpp.BIND_TRANSCEIVER):
            session.send(Pdu(pdu.command_id | smpp.RESP, smpp.ESME_RINVBNDSTS, pdu.sequence))
            return
        message = smpp.parse_sm(pdu.body)
        with self._lock:
            self._sequence += 1
            message_id = f"{self._sequence:08d}"
            entry = {"message_id": message_id, "to": message.destination, "from": message.source,
                     "text": message.text, "ref": message.reference, "at": utc_iso()}
            self._write(entry)
            self.received.append(entry)
            if message.registered_delivery & 1:
                tlvs = {smpp.TAG_RECEIPTED_MESSAGE_ID: message_id.encode() + b"\0",
                        smpp.TAG_MESSAGE_STATE: bytes([2])}  # DELIVERED
                receipt = ShortMessage(message.destination, message.source,
                                       f"id:{message_id} sub:001 dlvrd:001 stat:DELIVRD err:000",
                                       esm_class=smpp.ESM_CLASS_RECEIPT, reference=message.reference, tlvs=tlvs)
                self._mailbox.setdefault(session.system_id, []).append(_Mail(receipt))
            hold = self._hold_after is not None and len(self.received) >= self._hold_after
        with self._changed:
            self._changed.notify_all()
        if self.on_submit:
            self.on_submit(entry)
        if hold:
            self._release.wait()
        session.send(Pdu(pdu.command_id | smpp.RESP, 0, pdu.sequence, smpp.cstr(message_id, 65)))
        self._flush(session.system_id)

    def _write(self, entry: dict[str, Any]) -> None:
        if self.record is None:
            return
        fd = os.open(self.record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(entry, ensure_ascii=False) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _flush(self, system_id: str) -> None:
        """Send the mailbox's unsent mail to a live session that can receive it."""
        with self._lock:
            receivers = [s for s in self._sessions if s.alive and s.system_id == system_id
                         and s.mode in (smpp.BIND_TRANSCEIVER, smpp.BIND_RECEIVER)]
            if not receivers:
                return
            for mail in self._mailbox.get(system_id, []):
                if mail.session is not None and mail.session.alive:
                    continue
                self._sequence += 1
                mail.session, mail.sequence = receivers[0], self._sequence
                receivers[0].send(Pdu(smpp.DELIVER_SM, 0, mail.sequence, smpp.sm_body(mail.message)))

    # -- what staff and tests do -------------------------------------------------------
    def deliver(self, number: str, text: str = "TD", to: str = "") -> None:
        """A resident's reply from ``number`` (kept until an ESME takes it)."""
        with self._lock:
            self._mailbox.setdefault(self.system_id, []).append(_Mail(ShortMessage(number, to, text)))
        self._flush(self.system_id)

    def hold_after(self, count: int | None) -> None:
        """Tests: once ``count`` messages are recorded, answer the last one only at :meth:`release`."""
        self._release.clear()
        self._hold_after = count

    def release(self) -> None:
        self._hold_after = None
        self._release.set()

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until at least ``count`` messages were recorded (False at the timeout)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.received) >= count, timeout)

    def pending(self) -> int:
        with self._lock:
            return sum(len(box) for box in self._mailbox.values())


def reference_of(entry: dict[str, Any]) -> int | None:
    value = entry.get("ref")
    return int(value) if isinstance(value, int) else None


def read_record(path: Path) -> list[dict[str, Any]]:
    """The messages a running SMSC recorded in ``path``."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
