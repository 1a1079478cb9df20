"""The senders behind one interface: SMPP 3.4 to an SMSC, or JSON POSTed to an HTTP gateway.

A sender is the only place a resident's number is used in clear; it is handed the number
when a message goes and forgets it after. Its settings come from ``[push]`` in
``HOME/hub.toml`` (:class:`PushSettings`).
"""

from __future__ import annotations

import json
import os
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hub.push import smpp

PASSWORD_ENV = "YIZHAN_PUSH_PASSWORD"
SENDER_KINDS = ("smpp", "http")


class PushSettingsError(ValueError):
    """A ``[push]`` setting that cannot be used; the message names it (in Chinese)."""


@dataclass(frozen=True)
class PushSettings:
    """``[push]`` in hub.toml."""

    weekly_cap: int = 2
    sender: str = "smpp"
    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = "yizhan"
    password: str = ""
    source: str = ""  # the sending number or the service code (e.g. 10690000)
    url: str = ""  # the HTTP gateway
    in_doubt_wait_s: float = 10.0
    batch: int = 500

    @classmethod
    def load(cls, home: str | Path) -> PushSettings:
        path = Path(home) / "hub.toml"
        table: dict[str, Any] = {}
        if path.exists():
            try:
                table = tomllib.loads(path.read_text(encoding="utf-8")).get("push", {})
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise PushSettingsError(f"{path}：不是有效的 TOML（{exc}）") from None
        return cls.from_table(table, password=os.environ.get(PASSWORD_ENV, ""))

    @classmethod
    def from_table(cls, table: dict[str, Any], *, password: str = "") -> PushSettings:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(table) - known)
        if unknown:
            raise PushSettingsError(f"[push] 没有这些设置：{'、'.join(unknown)}")
        values = {**table}
        if password:
            values["password"] = password
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        ints = {"weekly_cap": (self.weekly_cap, 0, 50), "port": (self.port, 1, 65535), "batch": (self.batch, 1, 100_000)}
        for name, (value, low, high) in ints.items():
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise PushSettingsError(f"[push] {name} 须为 {low} 到 {high} 的整数（收到 {value!r}）")
        if self.sender not in SENDER_KINDS:
            raise PushSettingsError(f"[push] sender 须为 {' 或 '.join(SENDER_KINDS)}（收到 {self.sender!r}）")
        if self.sender == "http" and not self.url.startswith(("http://", "https://")):
            raise PushSettingsError("[push] sender = \"http\" 须填写网关地址 url（http:// 或 https://）")
        for name, limit in (("system_id", 15), ("password", 8), ("source", 20)):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.isascii() or len(value) > limit:
                raise PushSettingsError(f"[push] {name} 须为不超过 {limit} 个英文字符或数字")
        if not isinstance(self.in_doubt_wait_s, int | float) or not 0 <= self.in_doubt_wait_s <= 600:
            raise PushSettingsError("[push] in_doubt_wait_s 须为 0 到 600 秒")


class SendError(Exception):
    """A message did not go. ``link``: the link broke, so whether it arrived is unknown."""

    def __init__(self, message: str, *, link: bool) -> None:
        super().__init__(message)
        self.link = link


class Sender(Protocol):
    """What the queue needs of a channel."""

    def open(self) -> None: ...

    def send(self, number: str, text: str, reference: int) -> str:
        """Hand one message over; the gateway's message id once it accepted it."""
        ...

    def confirmed(self, in_doubt: list[tuple[int, str]], wait_s: float) -> set[int]:
        """Of messages whose acceptance is unknown (reference, number), those the gateway has."""
        ...

    def replies(self) -> list[tuple[str, str]]:
        """Residents' replies received since the last call: (number, text)."""
        ...

    def close(self) -> None: ...


class SmppSender:
    """SMPP 3.4 over TCP, bound as a transceiver: submits with registered_delivery, so the
    SMSC's delivery receipts (kept for this system_id while nobody is bound) say which
    messages it has; residents' replies come in as deliver_sm."""

    def __init__(self, settings: PushSettings) -> None:
        self.settings = settings
        self.client = smpp.SmppClient(settings.host, settings.port, settings.system_id, settings.password,
                                      on_deliver=self._delivered)
        self._receipts: set[tuple[int, str]] = set()  # (user_message_reference, the number it went to)
        self._replies: list[tuple[str, str]] = []

    def _delivered(self, message: smpp.ShortMessage) -> None:
        if message.esm_class & smpp.ESM_CLASS_RECEIPT:
            if message.reference is not None:
                self._receipts.add((message.reference, message.source))
        else:
            self._replies.append((message.source, message.text))

    def open(self) -> None:
        try:
            self.client.bind(smpp.BIND_TRANSCEIVER)
            self.client.enquire_link()  # what the SMSC kept for us (replies, receipts) arrives before its answer
        except (smpp.SmppError, OSError) as exc:
            raise SendError(str(exc), link=True) from None

    def send(self, number: str, text: str, reference: int) -> str:
        message = smpp.ShortMessage(self.settings.source, number, text, registered_delivery=1, reference=reference)
        try:
            return self.client.submit(message)
        except smpp.SmppError as exc:
            raise SendError(str(exc), link=exc.status == smpp.ESME_RSYSERR) from None
        except OSError as exc:
            raise SendError(f"短信网关连接中断（{exc}）", link=True) from None

    def confirmed(self, in_doubt: list[tuple[int, str]], wait_s: float) -> set[int]:
        # the reference is 16 bits: the number it went to tells two messages of the same reference apart
        wanted = {(ref & 0xFFFF, number) for ref, number in in_doubt}
        if wanted - self._receipts and wait_s > 0:
            try:
                self.client.listen_until(lambda: not (wanted - self._receipts), wait_s)
            except (smpp.SmppError, OSError) as exc:
                raise SendError(str(exc), link=True) from None
        return {ref for ref, number in in_doubt if (ref & 0xFFFF, number) in self._receipts}

    def replies(self) -> list[tuple[str, str]]:
        found, self._replies = self._replies, []
        return found

    def close(self) -> None:
        self.client.unbind()


class HttpSender:
    """An HTTP gateway: ``POST url`` with ``{"to", "text", "ref"}`` as JSON, answered 2xx with
    ``{"message_id": ...}``. ``ref`` is the queue's reference, for the gateway to refuse a
    second delivery of it: a message in doubt is sent again with the same ``ref``."""

    def __init__(self, settings: PushSettings, timeout: float = 10.0) -> None:
        self.url, self.timeout = settings.url, timeout

    def open(self) -> None:
        return None

    def send(self, number: str, text: str, reference: int) -> str:
        body = json.dumps({"to": number, "text": text, "ref": str(reference)}, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise SendError(f"短信网关拒收（HTTP {exc.code}）", link=exc.code >= 500) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SendError(f"短信网关没有应答（{getattr(exc, 'reason', exc)}）", link=True) from None
        return str(answer.get("message_id", "")) if isinstance(answer, dict) else ""

    def confirmed(self, in_doubt: list[tuple[int, str]], wait_s: float) -> set[int]:
        return set()

    def replies(self) -> list[tuple[str, str]]:
        return []

    def close(self) -> None:
        return None


def make_sender(settings: PushSettings) -> Sender:
    return SmppSender(settings) if settings.sender == "smpp" else HttpSender(settings)
