"""Small network helpers: the hub URL rules, a bounded download, and free ports for the demo,
the tests and the benchmarks.

URLs are read with urllib3's parser (:func:`urllib3.util.parse_url`), the one that requests
connects with: a check made with another parser can be shown one host while the connection
goes to another (``http://evil.example\\@127.0.0.1/`` is ``127.0.0.1`` to
:func:`urllib.parse.urlsplit` and ``evil.example`` to urllib3).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from typing import Any

import requests
import urllib3
from urllib3.util import parse_url


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    """Block until something accepts connections on ``host:port``; TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f} s") from None
            time.sleep(0.05)


def dialled_host(url: str) -> str:
    """The host a request to ``url`` connects to (lowercase, no brackets, no trailing dot);
    "" when the URL does not parse."""
    try:
        host = parse_url(url).host or ""
    except urllib3.exceptions.LocationParseError:
        return ""
    return host.strip("[]").rstrip(".").lower()


def dialled_scheme(url: str) -> str:
    """The scheme a request to ``url`` uses (lowercase; "" when the URL does not parse)."""
    try:
        return (parse_url(url).scheme or "").lower()
    except urllib3.exceptions.LocationParseError:
        return ""


def is_loopback_url(url: str) -> bool:
    """True for URLs whose dialled host is this machine (127.0.0.0/8, ::1, localhost)."""
    host = dialled_host(url)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def hub_url_problem(url: str) -> str | None:
    """What is wrong with a hub URL (``hub.feed_url``, ``hub.upload_url``), in English and
    Chinese; None when it is usable. The rules about plain http are the settings' own."""
    if "\\" in url or any(ord(c) < 0x21 or c == "\x7f" for c in url):
        # Parsers disagree about a backslash (and about spaces and control characters): the
        # host one shows is not always the host the connection goes to.
        return "must not contain a backslash, a space or a control character（网址中不能含反斜杠、空格或控制字符）"
    try:
        parts = parse_url(url)
    except urllib3.exceptions.LocationParseError:
        return f"is not a valid URL（不是有效的网址）: {url!r}"
    if parts.scheme not in ("http", "https"):
        return f"must be an http:// or https:// URL, got {url!r}（须为 http:// 或 https:// 网址）"
    if parts.auth is not None:
        return ("must not carry a user name or password (user@…): the station's token goes in "
                "hub.station_token（网址中不能含用户名或密码，令牌只写在 hub.station_token）")
    if not parts.host:
        return f"names no host（网址中没有主机名）: {url!r}"
    return None


class FetchError(requests.RequestException):
    """A bounded download was cut off; not worth an immediate retry (the server is slow or
    sends too much, not failing)."""


class TooLarge(FetchError):
    """The body is (or says it is) larger than the cap."""


class DeadlineExceeded(FetchError):
    """The whole download took longer than its deadline (a trickling server)."""


def fetch_capped(session: requests.Session, url: str, *, max_bytes: int, deadline_s: float,
                 clock: Callable[[], float] = time.monotonic, headers: dict[str, str] | None = None,
                 timeout: float | tuple[float, float] = 10.0, chunk_bytes: int = 64 * 1024,
                 on_bytes: Callable[[int], object] | None = None) -> requests.Response:
    """GET ``url`` and read its body (any status) into ``response.content``: at most
    ``max_bytes`` (:class:`TooLarge` past it, or at once when ``Content-Length`` says so)
    and within ``deadline_s`` of ``clock`` from the start (:class:`DeadlineExceeded`).

    ``timeout`` bounds each wait for data (connect, read), as in requests; the deadline bounds
    the whole: a server that sends a byte just before each read timeout is cut off once the
    deadline has passed (at the latest one read timeout after it). Network errors are the
    ones requests raises.
    """
    deadline = clock() + deadline_s
    response = session.get(url, headers=headers or {}, timeout=timeout, stream=True)
    try:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise TooLarge(f"{log_url(url)} is {int(declared)} bytes, more than the limit {max_bytes}")
        body = bytearray()
        while True:
            if clock() > deadline:
                raise DeadlineExceeded(f"{log_url(url)}: not complete after {deadline_s:g} s "
                                       f"({len(body)} bytes read)")
            data = _read_some(response, chunk_bytes)
            if not data:
                break
            body += data
            if on_bytes is not None:
                on_bytes(len(data))
            if len(body) > max_bytes:
                raise TooLarge(f"{log_url(url)} is larger than the limit {max_bytes} bytes")
        response._content = bytes(body)
        response._content_consumed = True
    finally:
        response.close()
    return response


def _read_some(response: requests.Response, amount: int) -> bytes:
    """What one read of the connection gives (urllib3's ``read1``: it returns as soon as some
    data is there, so the deadline is checked between small reads), with urllib3's errors
    turned into requests' as ``iter_content`` does."""
    raw: Any = response.raw
    try:
        data: bytes = raw.read1(amount, decode_content=True)
        return data
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from None
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from None
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from None


def log_url(url: str) -> str:
    """A URL fit for logs and messages: scheme, host, port and path only."""
    try:
        parts = parse_url(url)
    except urllib3.exceptions.LocationParseError:
        return "(unparsable URL)"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.host or ''}{port}{parts.path or ''}"
