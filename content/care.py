"""Remote care at the station: the hub's signed settings records and log requests.

After each delivery round the sync loop asks the hub what it wants of this station
(``GET /api/v1/care``, see :mod:`hub.care` and PROTOCOL.md). A settings record is applied only
when its signature verifies with the station's trust for its feed (the hub's online key), it
names this station, and its version is higher than the last one applied here (no replay); each
setting is then validated and applied by the ``apply`` the composition root hands in (the
settings file's own rules), and the station reports which were applied and which refused with
the reason. A log request is answered with the last N journal lines, personal data masked
(:func:`common.privacy.scrub`) before they leave the station.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from common.privacy import scrub
from protocol.feed import FeedError

log = logging.getLogger(__name__)

SETTINGS_FORMAT = "yizhan-station-settings/1"
STATION_HEADER = "X-Yizhan-Station"
STATE_NAME = "care.json"
MAX_ORDERS_BYTES = 256 * 1024
MAX_LOG_LINES = 2000
MAX_LOG_BYTES = 512 * 1024

Applier = Callable[[dict[str, Any]], tuple[list[str], dict[str, str]]]
Verifier = Callable[[bytes, bytes], None]
Journal = Callable[[int], str]


@dataclass
class CareResult:
    """What one care round did (for the log and the tests)."""

    settings_version: int | None = None
    applied: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    logs_sent: int | None = None  # the log request answered
    problem: str = ""


class CareClient:
    """One station's side of remote care. ``verify(record, signature)`` raises unless the hub's
    signing key signed it; ``apply(settings)`` returns ``(applied keys, {key: reason refused})``;
    ``journal(n)`` returns the last ``n`` lines of the station's journal."""

    def __init__(self, *, upload_url: str, token: str, station_id: str, data_dir: str | Path, verify: Verifier,
                 apply: Applier, journal: Journal, session: requests.Session | None = None,
                 timeout_s: float = 10.0) -> None:
        self.base = upload_url if upload_url.endswith("/") else upload_url + "/"
        self.headers = {"Authorization": f"Bearer {token}", STATION_HEADER: station_id}
        self.station_id = station_id
        self.state_path = Path(data_dir) / STATE_NAME
        self.verify, self.apply, self.journal = verify, apply, journal
        self.session = session or requests.Session()
        self.timeout = timeout_s

    def applied_version(self) -> int:
        try:
            return int(json.loads(self.state_path.read_text(encoding="utf-8")).get("settings_version", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            return 0

    def _remember(self, version: int) -> None:
        from common.files import write_atomic

        write_atomic(self.state_path, json.dumps({"settings_version": version}).encode())

    def run_once(self) -> CareResult:
        """Ask the hub once and do what it asks; network trouble is a ``problem``, never raised."""
        result = CareResult()
        try:
            response = self.session.get(self.base + "care", headers=self.headers, timeout=self.timeout)
            if response.status_code == 404:
                return result  # a hub without remote care
            response.raise_for_status()
            if len(response.content) > MAX_ORDERS_BYTES:
                raise ValueError(f"the care answer is larger than {MAX_ORDERS_BYTES} bytes")
            orders = response.json()
            if orders.get("settings"):
                self._settings(orders["settings"], result)
            if orders.get("logs"):
                self._logs(orders["logs"], result)
        except (requests.RequestException, ValueError, TypeError, AttributeError, KeyError) as exc:
            result.problem = scrub(f"{type(exc).__name__}: {exc}")[:300]
            log.warning("remote care: %s", result.problem)
        return result

    def _settings(self, signed: dict[str, Any], result: CareResult) -> None:
        data, signature = str(signed["record"]).encode("utf-8"), str(signed["signature"]).encode("ascii")
        try:
            self.verify(data, signature)
        except FeedError as exc:
            result.problem = f"settings record refused: {exc}"[:300]
            log.warning("remote care: %s", result.problem)
            return
        record = json.loads(data)
        version = record.get("version")
        if (record.get("format") != SETTINGS_FORMAT or record.get("station_id") != self.station_id
                or not isinstance(version, int) or not isinstance(record.get("settings"), dict)):
            result.problem = "settings record refused: not a settings record for this station"
            log.warning("remote care: %s", result.problem)
            return
        if version <= self.applied_version():
            return  # applied (and reported) already
        applied, refused = self.apply(record["settings"])
        result.settings_version, result.applied, result.refused = version, applied, refused
        self._remember(version)
        report: dict[str, Any] = {"version": version, "applied": applied, "refused": refused}
        self.session.post(self.base + "care/settings-report", json=report, headers=self.headers,
                          timeout=self.timeout).raise_for_status()
        log.info("remote care: settings %d applied %s, refused %s", version, applied, sorted(refused))

    def _logs(self, wanted: dict[str, Any], result: CareResult) -> None:
        lines = max(1, min(int(wanted["lines"]), MAX_LOG_LINES))
        text = scrub(self.journal(lines))
        text = text.encode("utf-8")[-MAX_LOG_BYTES:].decode("utf-8", "ignore")
        self.session.post(self.base + "care/logs", json={"id": int(wanted["id"]), "text": text},
                          headers=self.headers, timeout=self.timeout).raise_for_status()
        result.logs_sent = int(wanted["id"])

    def close(self) -> None:
        self.session.close()
