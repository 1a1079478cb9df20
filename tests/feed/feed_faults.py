"""Fault injection for the feed tests and bench/sync.py (test tooling, not shipped).

:class:`FaultInjector` is WSGI middleware around the real hub app, served by the real
waitress server on loopback. Rules make matching requests fail the way networks do:

- ``status``: answer an HTTP error (e.g. 500) instead of the file
- ``delay``: wait before answering (slow server; longer than the client timeout = timeout)
- ``delay_after``: let the hub handle the request, then wait before answering (a station
  killed while waiting has had its upload stored but never saw the answer)
- ``throttle``: send the body slowly, ``value`` bytes per second
- ``cut``: send the first ``value`` (fraction, or bytes if > 1) of the body, then drop the
  connection (waitress closes it; the client sees a short body)
- ``corrupt``: flip one byte in the middle of the body

Run as a program it serves a hub home with faults controlled over HTTP
(``POST /__faults__`` with ``{"rules": [...]}``, ``DELETE /__faults__``, ``GET /__faults__``
for the request log): ``python tests/feed/feed_faults.py --home DIR --port N``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class CutConnection(Exception):
    """Raised inside the response body to make waitress drop the connection."""


@dataclass
class Fault:
    match: str  # regular expression searched in the request path
    action: str  # status | delay | delay_after | throttle | cut | corrupt
    value: float = 0
    times: int | None = 1  # None = every matching request
    method: str | None = None

    def applies(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and self.method != method:
            return False
        return re.search(self.match, path) is not None


@dataclass
class Seen:
    method: str
    path: str
    range: str | None
    status: str = ""
    body_bytes: int = 0
    fault: str | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class FaultInjector:
    app: Any
    rules: list[Fault] = field(default_factory=list)
    log: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def add(self, match: str, action: str, value: float = 0, times: int | None = 1, method: str | None = None
            ) -> Fault:
        fault = Fault(match, action, value, times, method)
        with self.lock:
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()

    def requests_to(self, pattern: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.log if re.search(pattern, s.path)]

    def _take(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.rules:
                if fault.applies(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == "/__faults__":
            return self._control(environ, start_response)
        seen = Seen(method, path, environ.get("HTTP_RANGE"))
        with self.lock:
            self.log.append(seen)
        fault = self._take(method, path)
        seen.fault = fault.action if fault else None
        if fault and fault.action == "status":
            body = json.dumps({"error": "injected fault"}).encode()
            seen.status = str(int(fault.value))
            start_response(f"{int(fault.value)} Injected", [("Content-Type", "application/json"),
                                                            ("Content-Length", str(len(body)))])
            return [body]
        if fault and fault.action == "delay":
            time.sleep(fault.value)

        def recording_start(status: str, headers: list, exc_info: Any = None) -> Any:
            seen.status = status.split()[0]
            return start_response(status, headers, exc_info)

        result = self.app(environ, recording_start)
        if fault and fault.action == "delay_after":
            body = b"".join(result)
            if hasattr(result, "close"):
                result.close()
            time.sleep(fault.value)
            seen.body_bytes = len(body)
            return [body]
        if fault is None:
            return self._counting(result, seen)
        return self._faulty(result, fault, seen)

    @staticmethod
    def _counting(result: Iterable[bytes], seen: Seen) -> Iterator[bytes]:
        try:
            for chunk in result:
                seen.body_bytes += len(chunk)
                yield chunk
        finally:
            if hasattr(result, "close"):
                result.close()

    @staticmethod
    def _faulty(result: Iterable[bytes], fault: Fault, seen: Seen) -> Iterator[bytes]:
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if fault.action == "corrupt" and body:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1:]
        if fault.action == "cut":
            keep = int(fault.value if fault.value > 1 else len(body) * fault.value)
            for start in range(0, keep, 65536):
                chunk = body[start:min(keep, start + 65536)]
                seen.body_bytes += len(chunk)
                yield chunk
            raise CutConnection(f"injected cut after {keep} bytes")
        if fault.action == "throttle":
            step = max(1024, int(fault.value) // 20)
            for start in range(0, len(body), step):
                chunk = body[start:start + step]
                seen.body_bytes += len(chunk)
                yield chunk
                time.sleep(len(chunk) / fault.value)
            return
        seen.body_bytes += len(body)
        yield body

    def _control(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            data = json.loads(environ["wsgi.input"].read(length) or b"{}")
            with self.lock:
                self.rules = [Fault(**r) for r in data.get("rules", [])]
                if data.get("reset_log"):
                    self.log.clear()
            body = b"{}"
        elif method == "DELETE":
            self.clear()
            body = b"{}"
        else:
            with self.lock:
                body = json.dumps({"log": [asdict(s) for s in self.log],
                                   "rules": [asdict(r) for r in self.rules]}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def main() -> None:
    import logging

    from hub.app import create_app, serve_forever

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    # Injected cuts make waitress log a traceback each time; keep the soak's output readable.
    logging.getLogger("waitress").setLevel(logging.CRITICAL)
    serve_forever(FaultInjector(create_app(args.home)), port=args.port, threads=args.threads)


if __name__ == "__main__":
    main()
