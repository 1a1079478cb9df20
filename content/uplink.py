"""The uplink: what the station sends its hub, as its hub expects it.

:class:`Sender` delivers the outbox (:mod:`content.outbox`) in batches to ``hub.upload_url``
and marks an entry sent only after the hub answered 2xx for it; resending after any failure
never duplicates (the hub keeps each idempotency key unique). :func:`queue_heartbeat` queues
the station's heartbeat: content version, outbox depth, device and feed health. The loop that
runs both every round is :mod:`content.sync_loop`; the station's ``config.station.Station``
builds them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from common.privacy import scrub
from content.outbox import BATCH_SIZE, ENDPOINTS, Outbox, OutboxEntry, record_heartbeat

log = logging.getLogger(__name__)


def queue_heartbeat(outbox: Outbox, *, station_name: str, content_info: Callable[[], Any],
                    fields: dict[str, Any]) -> str:
    """Queue one heartbeat: ``fields`` are the health fields (``devices``, ``feed``, ...)."""
    return record_heartbeat(outbox, station_name=station_name, content_info=content_info, **fields)


@dataclass
class DeliveryResult:
    """What one delivery round did. ``status``: delivered, empty, failed or disabled."""

    status: str
    sent: int = 0
    duplicates: int = 0
    rejected: int = 0
    remaining: int = 0
    requests: int = 0
    reason: str = ""
    code: str = ""


class _Retryable(Exception):
    """A delivery failure worth trying again later (network, 5xx, 429)."""


class Sender:
    """Delivers ``outbox`` to ``upload_url`` (``hub.upload_url``) with ``token`` (``hub.station_token``).

    ``retention_days``: the privacy limit applied before each delivery (:meth:`Outbox.purge`);
    ``ca_bundle``: the hub's pinned CA, if any. ``config.station.Station.sender`` builds it.
    """

    def __init__(self, outbox: Outbox, *, upload_url: str, token: str, retention_days: int,
                 timeout_s: float = 10.0, ca_bundle: str = "", session: requests.Session | None = None,
                 batch_size: int = BATCH_SIZE, attempts: int = 3, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, station_id: str = "") -> None:
        self.outbox = outbox
        self.station_id = station_id  # named beside the token: the hub shows a refused token as 令牌无效
        self.retention_days = retention_days
        self.upload_url = upload_url
        if self.upload_url and not self.upload_url.endswith("/"):
            self.upload_url += "/"
        self.token = token
        self.timeout = timeout_s
        self.batch_size = batch_size
        from content.media import http_session

        self.session = session or http_session(ca_bundle)  # the hub's CA pinned if set
        self.retrying = Retrying(
            stop=stop_after_attempt(attempts), wait=wait_random_exponential(multiplier=backoff_s, max=max_backoff_s),
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout, _Retryable,
                                           requests.exceptions.ChunkedEncodingError)),
            reraise=True)

    def close(self) -> None:
        self.session.close()

    def deliver_once(self, *, max_batches: int | None = None) -> DeliveryResult:
        """Send what is queued, batch by batch, until the queue is empty or the hub cannot be reached."""
        outbox = self.outbox
        outbox.purge(self.retention_days)
        if not self.upload_url:
            return DeliveryResult("disabled", remaining=outbox.depth(), code="not_configured",
                                  reason="未设置上传地址（hub.upload_url），记录保留在本机")
        result = DeliveryResult("empty")
        batches = 0
        for kind in outbox.kinds_waiting():
            while max_batches is None or batches < max_batches:
                entries = outbox.pending(kind, self.batch_size)
                if not entries:
                    break
                batches += 1
                try:
                    self._send(outbox, kind, entries, result)
                except _Stop as stop:
                    outbox.note_failure([e.key for e in entries], stop.detail)
                    result.status, result.code, result.reason = "failed", stop.code, stop.reason
                    result.remaining = outbox.depth()
                    log.warning("outbox: delivery stopped: %s", stop.detail)
                    return result
                result.status = "delivered"
        result.remaining = outbox.depth()
        return result

    def _send(self, outbox: Outbox, kind: str, entries: list[OutboxEntry], result: DeliveryResult) -> None:
        url = self.upload_url + ENDPOINTS[kind]
        body = {"items": [e.wire() for e in entries]}
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.station_id:
            headers["X-Yizhan-Station"] = self.station_id
        try:
            for attempt in self.retrying.copy():
                with attempt:
                    result.requests += 1
                    response = self.session.post(url, json=body, headers=headers, timeout=self.timeout)
                    if response.status_code >= 500 or response.status_code == 429:
                        raise _Retryable(f"HTTP {response.status_code}")
        except (requests.RequestException, _Retryable) as exc:
            raise _Stop("unavailable", "无法连接上传服务器，记录保留在本机，稍后重试",
                        f"{kind}: {type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            raise _Stop("unauthorized", "上传服务器不认可本站的令牌（hub.station_token），请联系管理员",
                        f"HTTP {response.status_code}")
        if not 200 <= response.status_code < 300:
            raise _Stop("http_error", f"上传服务器拒绝了请求（HTTP {response.status_code}）",
                        f"{kind}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            answers = {r["key"]: r for r in response.json()["results"] if isinstance(r, dict) and r.get("key")}
        except (ValueError, KeyError, TypeError):
            raise _Stop("http_error", "上传服务器的回答无法识别", f"{kind}: unreadable answer") from None
        receipts = {}
        rejected = 0
        for entry in entries:
            answer = answers.get(entry.key)
            if answer is None:
                continue  # not acknowledged: stays queued and goes again
            if answer.get("status") in ("created", "duplicate"):
                receipts[entry.key] = answer.get("receipt") or {}
                result.sent += answer["status"] == "created"
                result.duplicates += answer["status"] == "duplicate"
            elif answer.get("status") == "rejected":
                outbox.mark_rejected(entry.key, str(answer.get("reason", "")))
                rejected += 1
                log.warning("outbox: the hub refused %s %s: %s", kind, entry.key, scrub(str(answer.get("reason"))))
        outbox.mark_sent(receipts)
        result.rejected += rejected
        if not receipts and not rejected:
            raise _Stop("http_error", "上传服务器没有确认任何记录", f"{kind}: no result for any key")


class _Stop(Exception):
    def __init__(self, code: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.reason, self.detail = code, reason, detail
