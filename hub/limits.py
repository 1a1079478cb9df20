"""What the hub's upload API accepts, decided before a request body is read.

waitress reads a whole request body before the application sees it (up to its default
limit of 1 GiB), so checks done in Flask come too late: anyone could make the hub read and
spool 100 MB per request. :class:`UploadGuard` runs inside waitress's request parser as
soon as the headers are in (:func:`guard_server`), and refuses with a small JSON answer:

- ``401`` a missing or unknown station token (``WWW-Authenticate``);
- ``429`` with ``Retry-After``: a client address with too many failed tokens in a window
  (guessing tokens), or a station sending more requests than any real station does;
- ``413`` a body over the endpoint's limit (a registration batch is kilobytes);
- ``411`` an upload without ``Content-Length`` (its size could not be checked first).

The Flask app checks the size again (for servers without the guard) and bounds the JSON
itself (:func:`json_depth_ok`: a 200 000-deep array must be a 400, not a RecursionError).
Counters live in memory, per process: they slow attackers down; they are not a ledger.

Under gunicorn (``yizhan hub serve --workers N``) there is no waitress parser to hook: the
Flask app answers 401/411/413 from the headers itself, before it reads the body, and counts
refused tokens per address in the database, which every worker shares
(``hub.console.throttle.api_token_wait``); the shipped nginx site adds per-station and
per-address request rates and the body limits (``deploy/hub/nginx-site.conf``). So the
limits of ``content/PROTOCOL.md`` §2.3 hold however the hub is run.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import tomllib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.utilities import Error, RequestEntityTooLarge

API_PREFIX = "/api/v1/"
KB = 1024
# Per endpoint: a batch of at most 500 records of that kind, with room to spare.
BODY_LIMITS = {
    "registrations": 512 * KB,
    "events": 1024 * KB,
    "proof-of-play": 1024 * KB,
    "heartbeats": 1024 * KB,  # 100 heartbeats with device and feed health
    "care/settings-report": 64 * KB,  # remote care (hub.care): a station's report on a settings record
    "care/logs": 520 * KB,  # and the journal lines it was asked for (hub.care.MAX_LOG_BYTES and the JSON)
}
OTHER_BODY_LIMIT = 16 * KB
DRAIN_LIMIT = 16 * 1024 * KB  # bytes of a refused body read and dropped before the connection is cut  # unknown endpoints: the app answers 404; no reason to read much
MAX_JSON_DEPTH = 16  # a registration is {"items": [{"payload": {"person": {...}}}]}: depth 5


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # HTTP reason phrase
    message: str
    retry_after: int | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> bytes:
        return json.dumps({"error": self.message}, ensure_ascii=False).encode("utf-8")


class SlidingWindow:
    """Events per key within the last ``window_s`` seconds (clock injected for tests)."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window_s:
            events.popleft()
        if not events:
            del self._events[key]
            return deque()
        return events

    def over(self, key: str) -> int | None:
        """Seconds to wait if ``key`` is at its limit now, else None."""
        with self._lock:
            now = self.clock()
            events = self._trim(key, now)
            if len(events) < self.limit:
                return None
            return max(1, int(events[0] + self.window_s - now + 0.999))

    def hit(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            events = self._trim(key, now)
            if not events:
                events = self._events[key] = deque()
            events.append(now)
            # Never keep more than needed to decide: memory stays bounded per key.
            while len(events) > self.limit:
                events.popleft()


@dataclass
class UploadGuard:
    """Checks an upload request from its headers alone. ``station_for_token`` maps a bearer
    token to a station id (None if unknown)."""

    station_for_token: Callable[[str], str | None]
    clock: Callable[[], float] = time.monotonic
    failed_tokens: tuple[int, float] = (20, 60.0)  # failures per client address per window
    per_station: tuple[int, float] = (300, 60.0)  # requests per station per window
    body_limits: Mapping[str, int] = field(default_factory=lambda: dict(BODY_LIMITS))
    behind_proxy: bool = False  # the client is X-Forwarded-For's last entry (:func:`trust_proxy`)
    on_refused: Callable[[str | None], None] | None = None  # told the station a refused request names

    def __post_init__(self) -> None:
        self._failures = SlidingWindow(*self.failed_tokens, clock=self.clock)
        self._stations = SlidingWindow(*self.per_station, clock=self.clock)

    def limit_for(self, endpoint: str) -> int:
        return self.body_limits.get(endpoint, OTHER_BODY_LIMIT)

    def check(self, method: str, path: str, headers: Mapping[str, str], client: str) -> Refusal | None:
        """``headers`` as waitress keeps them (``AUTHORIZATION``, ``CONTENT_LENGTH`` …)."""
        if method != "POST" or not path.startswith(API_PREFIX):
            return None
        endpoint = path[len(API_PREFIX):].strip("/")
        if endpoint not in self.body_limits:
            return Refusal(404, "Not Found", f"no upload endpoint {endpoint!r}; use one of "
                                             f"{', '.join(self.body_limits)}")
        scheme, _, token = headers.get("AUTHORIZATION", "").partition(" ")
        station = self.station_for_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if station is None:
            # Only guesses wait: a valid station behind the same address (a county's NAT) as
            # a guesser is never held up by the guesser's failures.
            wait = self._failures.over(client)
            if wait is not None:
                return Refusal(429, "Too Many Requests",
                               f"too many refused tokens from this address; retry in {wait} s", retry_after=wait)
            self._failures.hit(client)
            if self.on_refused is not None:
                self.on_refused(headers.get("X_YIZHAN_STATION"))
            return Refusal(401, "Unauthorized", "missing or unknown station token (Authorization: Bearer <token>)",
                           headers=(("WWW-Authenticate", 'Bearer realm="yizhan-hub"'),))
        wait = self._stations.over(station)
        if wait is not None:
            return Refusal(429, "Too Many Requests", f"station {station} sends too many requests; retry in {wait} s",
                           retry_after=wait)
        self._stations.hit(station)
        limit = self.limit_for(endpoint)
        length = headers.get("CONTENT_LENGTH")
        if length is None:
            return Refusal(411, "Length Required", "uploads must carry Content-Length")
        try:
            size = int(length)
        except ValueError:
            return Refusal(400, "Bad Request", "Content-Length is not a number")
        if size > limit:
            return Refusal(413, "Payload Too Large",
                           f"the body is {size} bytes; {endpoint} accepts at most {limit} bytes per request")
        return None


# The hub behind the shipped nginx site (deploy/hub/): ``[hub] behind_proxy = true`` in
# HOME/hub.toml or ``YIZHAN_HUB_BEHIND_PROXY=1`` (yizhan-hub.service sets it). Then, and only
# then, the client's address and scheme are the ones that one proxy hop forwarded.
PROXY_ENV = "YIZHAN_HUB_BEHIND_PROXY"
CONFIG_NAME = "hub.toml"


class ProxySettingError(ValueError):
    """``behind_proxy`` in hub.toml or the environment is not a yes/no; the message names it."""


def behind_proxy_setting(home: str | Path) -> bool:
    """Whether the hub runs behind the shipped reverse proxy: ``$YIZHAN_HUB_BEHIND_PROXY``
    (1/0, true/false, yes/no), else ``[hub] behind_proxy`` in ``HOME/hub.toml``, else no."""
    value = os.environ.get(PROXY_ENV, "").strip().lower()
    if value:
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ProxySettingError(f"${PROXY_ENV} must be 1 or 0, not {value[:20]!r}")
    config = Path(home) / CONFIG_NAME
    if not config.exists():
        return False
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProxySettingError(f"{config}: not valid TOML ({exc})") from None
    setting = data.get("hub", {}).get("behind_proxy", False)
    if not isinstance(setting, bool):
        raise ProxySettingError(f"{config}: [hub] behind_proxy must be true or false")
    return setting


def client_address(peer: str, headers: Mapping[str, str], behind_proxy: bool = False) -> str:
    """The client's address: the peer's, or behind the proxy the one it appended to
    X-Forwarded-For (its last entry: one trusted hop; entries before it are the client's own
    words). ``headers`` as waitress keeps them (``X_FORWARDED_FOR``)."""
    if behind_proxy:
        forwarded = headers.get("X_FORWARDED_FOR", "").split(",")[-1].strip()
        return forwarded[:64] or peer
    return peer


def trust_proxy(app: Any) -> None:
    """Believe one proxy hop's X-Forwarded-For and X-Forwarded-Proto (werkzeug's ProxyFix,
    ``x_for=1, x_proto=1``): the audit log, the login delays and the upload throttle see the
    real client, and the session cookie is ``Secure`` over HTTPS. Only for a hub that listens
    where nothing but the proxy reaches it (127.0.0.1 behind the shipped nginx site): anyone
    who can connect to the hub directly could otherwise write those headers."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0, x_port=0, x_prefix=0)
    guard = app.extensions.get("upload_guard")
    if isinstance(guard, UploadGuard):
        guard.behind_proxy = True
    app.config["HUB_BEHIND_PROXY"] = True


class _Refused(Error):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.code = refusal.status
        self.reason = refusal.reason

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        r = self.refusal
        headers = [("Content-Type", "application/json; charset=utf-8"), *r.headers]
        if r.retry_after is not None:
            headers.append(("Retry-After", str(r.retry_after)))
        return f"{r.status} {r.reason}", headers, r.body()


class _GuardedParser(HTTPRequestParser):
    def __init__(self, adj: Any, peer: str, channel: _GuardedChannel) -> None:
        super().__init__(adj)
        self._peer = peer
        self._channel = channel
        self._checked = False

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        # waitress's own size limit may have refused already: the token still comes first.
        if (self.headers_finished and not self._checked and not self.empty
                and (self.error is None or isinstance(self.error, RequestEntityTooLarge))):
            self._checked = True
            refusal = self._channel.guard.check(self.command or "", self.path or "", self.headers,
                                              client_address(self._peer, self.headers,
                                                             self._channel.guard.behind_proxy))
            if refusal is not None:
                self.error = _Refused(refusal)
                self.completed = True
                # What follows on this connection is the refused body: never parsed.
                self._channel.refused = True
                return len(data)
        return consumed


class _GuardedChannel(HTTPChannel):
    """After a refusal the connection is closed gently: the answer is sent, then a FIN,
    and what the client still sends is read and dropped (never parsed or kept) until it
    stops, up to :data:`DRAIN_LIMIT` bytes or the channel timeout. Closing at once with
    unread bytes makes the kernel reset the connection, and a reverse proxy that is still
    sending the body (nginx without request buffering) then loses the answer and says 502."""

    guard: UploadGuard  # set by guard_server
    refused = False
    draining = False
    drained = 0

    def parser_class(self, adj: Any) -> HTTPRequestParser:  # type: ignore[override]
        peer = self.addr[0] if isinstance(self.addr, tuple) else str(self.addr or "")
        return _GuardedParser(adj, peer, self)

    def received(self, data: bytes) -> bool:
        if self.refused:
            self.drained += len(data)
            return True
        return super().received(data)

    def readable(self) -> bool:
        return (self.draining and not self.will_close) or super().readable()

    def handle_read(self) -> None:
        if not self.draining:
            super().handle_read()
            return
        try:
            data = self.recv(64 * KB)
        except OSError:
            data = b""
        self.drained += len(data)
        if not data or self.drained > DRAIN_LIMIT:
            super().handle_close()
        else:
            self.last_activity = time.time()

    def handle_close(self) -> None:
        if not self.refused or self.draining or not self.connected or self.total_outbufs_len:
            super().handle_close()
            return
        # The refusal is flushed: end our side, keep reading the client's.
        self.draining = True
        self.will_close = self.close_when_flushed = False
        try:
            self.socket.shutdown(socket.SHUT_WR)
        except OSError:
            super().handle_close()


def guard_server(server: Any, guard: UploadGuard) -> None:
    """Make a waitress server (``waitress.server.create_server``) check every request's
    headers with ``guard`` before reading its body. A refused request is answered at once and
    its connection closed: the rest of the body is never read."""

    channel_class = type("GuardedChannel", (_GuardedChannel,), {"guard": guard})

    # One listening socket: the server itself; several (MultiSocketServer): each in its map.
    listeners = [server] if hasattr(server, "channel_class") else list(server.map.values())
    for listener in listeners:
        if hasattr(listener, "channel_class"):
            listener.channel_class = channel_class


def json_depth_ok(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects at most ``limit`` deep (scanned without parsing,
    so a hostile 200 000-deep body costs one pass and no recursion)."""
    depth = 0
    in_string = False
    escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True
