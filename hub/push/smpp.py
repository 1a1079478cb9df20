"""The few SMPP 3.4 PDUs a push needs, written out by hand (no package).

Every PDU is a 16-byte big-endian header (command_length, command_id, command_status,
sequence_number, SMPP 3.4 §3.2) and a body of C-octet strings, single octets and, after
the mandatory fields, TLVs (tag, length, value). Used here: bind_transmitter /
bind_transceiver (§4.1), unbind (§4.2), generic_nack (§4.3), submit_sm (§4.4),
deliver_sm (§4.6, a resident's reply such as TD, or a delivery receipt), enquire_link
(§4.11) and their responses.

Chinese text goes as UCS2 (data_coding 0x08, UTF-16 big-endian): up to 140 octets in
short_message, longer in the message_payload TLV. Each submit carries the queue's
reference in user_message_reference (TLV 0x0204), which a delivery receipt returns.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
RESP = 0x80000000

ESME_ROK = 0x00
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E

TAG_USER_MESSAGE_REFERENCE = 0x0204
TAG_MESSAGE_PAYLOAD = 0x0424
TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_MESSAGE_STATE = 0x0427

DATA_CODING_UCS2 = 0x08
ESM_CLASS_RECEIPT = 0x04
MAX_SHORT_MESSAGE = 140
MAX_PDU = 70_000
INTERFACE_VERSION = 0x34

NAMES = {GENERIC_NACK: "generic_nack", BIND_RECEIVER: "bind_receiver", BIND_TRANSMITTER: "bind_transmitter",
         SUBMIT_SM: "submit_sm", DELIVER_SM: "deliver_sm", UNBIND: "unbind", BIND_TRANSCEIVER: "bind_transceiver",
         ENQUIRE_LINK: "enquire_link"}


class SmppError(Exception):
    """The link or the other side broke the protocol, or answered with an error status."""

    def __init__(self, message: str, status: int = ESME_RSYSERR) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Pdu:
    command_id: int
    status: int = 0
    sequence: int = 0
    body: bytes = b""

    @property
    def name(self) -> str:
        base = NAMES.get(self.command_id & ~RESP if self.command_id != GENERIC_NACK else GENERIC_NACK, "unknown")
        return base + ("_resp" if self.command_id & RESP and self.command_id != GENERIC_NACK else "")

    def encode(self) -> bytes:
        return struct.pack(">IIII", 16 + len(self.body), self.command_id, self.status, self.sequence) + self.body


def read_pdu(sock: socket.socket) -> Pdu | None:
    """The next PDU from ``sock``, or None when the other side closed the link cleanly."""
    head = _read_exactly(sock, 16)
    if head is None:
        return None
    length, command_id, status, sequence = struct.unpack(">IIII", head)
    if length < 16 or length > MAX_PDU:
        raise SmppError(f"command_length {length} is not a PDU's length", ESME_RINVCMDLEN)
    body = _read_exactly(sock, length - 16) if length > 16 else b""
    if body is None:
        raise SmppError("the link closed in the middle of a PDU")
    return Pdu(command_id, status, sequence, body)


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = b""
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            if chunks:
                raise SmppError("the link closed in the middle of a PDU")
            return None
        chunks += chunk
    return chunks


# -- body fields ----------------------------------------------------------------------
def cstr(text: str, limit: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) >= limit:
        raise SmppError(f"{text[:20]!r} is longer than the field's {limit - 1} characters")
    return raw + b"\0"


class Reader:
    """Reads a PDU body field by field."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.at = 0

    def cstr(self) -> str:
        end = self.body.find(b"\0", self.at)
        if end < 0:
            raise SmppError("a C-octet string without its terminating NUL", ESME_RINVCMDLEN)
        text = self.body[self.at:end].decode("ascii", errors="replace")
        self.at = end + 1
        return text

    def byte(self) -> int:
        if self.at >= len(self.body):
            raise SmppError("the PDU body ends too early", ESME_RINVCMDLEN)
        self.at += 1
        return self.body[self.at - 1]

    def octets(self, size: int) -> bytes:
        if self.at + size > len(self.body):
            raise SmppError("the PDU body ends too early", ESME_RINVCMDLEN)
        self.at += size
        return self.body[self.at - size:self.at]

    def tlvs(self) -> dict[int, bytes]:
        found = {}
        while self.at + 4 <= len(self.body):
            tag, size = struct.unpack(">HH", self.body[self.at:self.at + 4])
            self.at += 4
            found[tag] = self.octets(size)
        return found


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


def bind_body(system_id: str, password: str, system_type: str = "") -> bytes:
    return (cstr(system_id, 16) + cstr(password, 9) + cstr(system_type, 13)
            + bytes([INTERFACE_VERSION, 0, 0]) + cstr("", 41))


@dataclass
class Bind:
    system_id: str
    password: str


def parse_bind(body: bytes) -> Bind:
    r = Reader(body)
    return Bind(r.cstr(), r.cstr())


@dataclass
class ShortMessage:
    """The fields of a submit_sm or deliver_sm that this hub uses."""

    source: str
    destination: str
    text: str
    esm_class: int = 0
    registered_delivery: int = 0
    reference: int | None = None
    tlvs: dict[int, bytes] = field(default_factory=dict)


def encode_text(text: str) -> tuple[int, bytes]:
    """(data_coding, octets): ASCII as the SMSC default alphabet, anything else as UCS2."""
    if text.isascii():
        return 0x00, text.encode("ascii")
    return DATA_CODING_UCS2, text.encode("utf-16-be")


def sm_body(message: ShortMessage) -> bytes:
    coding, octets = encode_text(message.text)
    body = (cstr("", 6) + bytes([1, 1]) + cstr(message.source, 21) + bytes([1, 1]) + cstr(message.destination, 21)
            + bytes([message.esm_class, 0, 0]) + cstr("", 17) + cstr("", 17)
            + bytes([message.registered_delivery, 0, coding, 0]))
    if len(octets) <= MAX_SHORT_MESSAGE:
        body += bytes([len(octets)]) + octets
        extra = b""
    else:
        body += bytes([0])
        extra = tlv(TAG_MESSAGE_PAYLOAD, octets)
    if message.reference is not None:
        extra += tlv(TAG_USER_MESSAGE_REFERENCE, struct.pack(">H", message.reference & 0xFFFF))
    for tag, value in message.tlvs.items():
        extra += tlv(tag, value)
    return body + extra


def parse_sm(body: bytes) -> ShortMessage:
    r = Reader(body)
    r.cstr()  # service_type
    r.byte(), r.byte()
    source = r.cstr()
    r.byte(), r.byte()
    destination = r.cstr()
    esm_class = r.byte()
    r.byte(), r.byte()  # protocol_id, priority_flag
    r.cstr(), r.cstr()  # schedule_delivery_time, validity_period
    registered = r.byte()
    r.byte()  # replace_if_present_flag
    coding = r.byte()
    r.byte()  # sm_default_msg_id
    octets = r.octets(r.byte())
    tlvs = r.tlvs()
    if not octets and TAG_MESSAGE_PAYLOAD in tlvs:
        octets = tlvs.pop(TAG_MESSAGE_PAYLOAD)
    text = octets.decode("utf-16-be", errors="replace") if coding == DATA_CODING_UCS2 else octets.decode(
        "latin-1")
    ref = tlvs.pop(TAG_USER_MESSAGE_REFERENCE, None)
    return ShortMessage(source, destination, text, esm_class, registered,
                        struct.unpack(">H", ref)[0] if ref and len(ref) == 2 else None, tlvs)


class SmppClient:
    """An ESME's link to an SMSC: bind, submit, answer what the SMSC sends, unbind.

    deliver_sm PDUs that arrive (replies such as TD, delivery receipts) are answered at once
    and handed to ``on_deliver``; enquire_link is answered; anything unknown gets generic_nack.
    """

    def __init__(self, host: str, port: int, system_id: str, password: str, *, timeout: float = 10.0,
                 on_deliver: Callable[[ShortMessage], None] | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.system_id, self.password = system_id, password
        self.on_deliver = on_deliver or (lambda _m: None)
        self.sock: socket.socket | None = None
        self._sequence = 0

    def _next(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    def bind(self, command_id: int = BIND_TRANSCEIVER) -> None:
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise SmppError(f"连不上短信网关 {self.host}:{self.port}（{exc.strerror or exc}）") from None
        resp = self.call(Pdu(command_id, body=bind_body(self.system_id, self.password)))
        if resp.status != ESME_ROK:
            self.close()
            raise SmppError(f"短信网关拒绝登录（状态 0x{resp.status:08X}，请核对 system_id 和密码）", resp.status)

    def call(self, pdu: Pdu) -> Pdu:
        """Send ``pdu`` and return its response, serving the SMSC's own PDUs meanwhile."""
        if self.sock is None:
            raise SmppError("not bound")
        pdu.sequence = self._next()
        self.sock.sendall(pdu.encode())
        while True:
            answer = self.serve_one()
            if answer is None:
                continue
            if answer.sequence == pdu.sequence and answer.command_id in (pdu.command_id | RESP, GENERIC_NACK):
                return answer

    def serve_one(self) -> Pdu | None:
        """Read one PDU; answer it if it is a request (returned None), else return it."""
        assert self.sock is not None
        try:
            pdu = read_pdu(self.sock)
        except TimeoutError:
            raise SmppError(f"短信网关 {self.timeout:g} 秒没有应答") from None
        if pdu is None:
            raise SmppError("短信网关断开了连接")
        return self._answer(pdu)

    def _answer(self, pdu: Pdu) -> Pdu | None:
        assert self.sock is not None
        if pdu.command_id == DELIVER_SM:
            self.on_deliver(parse_sm(pdu.body))
            self.sock.sendall(Pdu(DELIVER_SM | RESP, 0, pdu.sequence, b"\0").encode())
            return None
        if pdu.command_id == ENQUIRE_LINK:
            self.sock.sendall(Pdu(ENQUIRE_LINK | RESP, 0, pdu.sequence).encode())
            return None
        if pdu.command_id == UNBIND:
            self.sock.sendall(Pdu(UNBIND | RESP, 0, pdu.sequence).encode())
            raise SmppError("短信网关结束了会话")
        if not pdu.command_id & RESP:
            self.sock.sendall(Pdu(GENERIC_NACK, ESME_RINVCMDID, pdu.sequence).encode())
            return None
        return pdu

    def submit(self, message: ShortMessage) -> str:
        """submit_sm; the SMSC's message_id once it answered ESME_ROK."""
        resp = self.call(Pdu(SUBMIT_SM, body=sm_body(message)))
        if resp.status != ESME_ROK:
            raise SmppError(f"短信网关拒收（状态 0x{resp.status:08X}）", resp.status)
        return Reader(resp.body).cstr() if resp.body else ""

    def enquire_link(self) -> None:
        self.call(Pdu(ENQUIRE_LINK))

    def listen_until(self, done: Callable[[], bool], seconds: float) -> None:
        """Serve the SMSC's PDUs (replies, receipts) until ``done()`` or ``seconds`` passed."""
        assert self.sock is not None
        deadline = time.monotonic() + seconds
        try:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.sock.settimeout(left)
                try:
                    pdu = read_pdu(self.sock)
                except TimeoutError:
                    return
                if pdu is None:
                    raise SmppError("短信网关断开了连接")
                self._answer(pdu)
        finally:
            if self.sock is not None:
                self.sock.settimeout(self.timeout)

    def unbind(self) -> None:
        if self.sock is None:
            return
        with contextlib.suppress(SmppError, OSError):
            self.call(Pdu(UNBIND))
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
