"""The station's health, as carried by every heartbeat (the hub's fleet view reads it).

:func:`station_health` returns the keyword arguments for
:func:`content.outbox.record_heartbeat`: the devices (the caller's live view when it has
one, e.g. the kiosk's; else what the doctor finds), and the fields below, from the
:class:`HealthSources` the station's ``config.station.Station`` fills in. Each
field is computed on its own and a failure gives ``None`` for that field only: a
heartbeat must go out when the station is unwell, that is when it matters.

    software_version     the running release
    content_age_s        seconds since the content now shown was applied
    print_queue          slips waiting to print and the oldest one's age
    free_disk_mb         free space where the store and media live
    uptime_s             since the box booted
    clock_offset_s       local clock minus the hub's (HTTP Date of the feed), whole seconds
    failed_media         media files of the current feed that are not (yet) in the cache
    last_upgrade         the last upgrade's version, result and reason (deploy.upgrade)

Outbox depth and oldest age, and the content version, are filled by ``record_heartbeat``.
"""

from __future__ import annotations

import email.utils
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from content.db import reading

DateFetcher = Callable[[str], str | None]


def _field(compute: Callable[[], Any]) -> Any:
    try:
        return compute()
    except Exception:  # one broken field must not cost the whole heartbeat
        return None


@dataclass(frozen=True)
class HealthSources:
    """Where the health fields come from: the station's files, its hub and its parts."""

    db_path: Path
    data_dir: Path
    media_dir: Path
    feed_url: str  # hub.feed_url ("" when the station has no hub)
    content_info: Callable[[], Any]  # the store's content_info
    devices: Callable[[], dict[str, dict[str, Any]]]  # printer and reader as the doctor finds them


def software_version() -> str:
    """The installed release's version (the package metadata), or "unknown" in a source tree."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("yizhan")
    except PackageNotFoundError:
        return "unknown"


def content_age_s(content_info: Callable[[], Any], now: float | None = None) -> float | None:
    applied = content_info().applied_at
    return None if applied is None else round((now or time.time()) - applied.timestamp())


def print_queue(db_path: Path, now: float | None = None) -> dict[str, Any]:
    with reading(db_path) as conn:
        has = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'print_jobs'").fetchone()
        if not has:
            return {"waiting": 0, "oldest_age_s": None}
        columns = {row[1] for row in conn.execute("PRAGMA table_info(print_jobs)")}
        count = conn.execute("SELECT COUNT(*) FROM print_jobs WHERE state IN ('queued', 'sending', 'sent', 'check')"
                             ).fetchone()[0]
        oldest = None
        if "created_at" in columns:
            first = conn.execute("SELECT MIN(created_at) FROM print_jobs WHERE state IN ('queued', 'sent')"
                                 ).fetchone()[0]
            if first:
                import datetime as dt

                oldest = round((now or time.time()) - dt.datetime.fromisoformat(first).timestamp())
        return {"waiting": count, "oldest_age_s": oldest}


def free_disk_mb(data_dir: Path) -> int:
    return shutil.disk_usage(data_dir).free // (1024 * 1024)


def uptime_s(now: float | None = None) -> int:
    return int((now or time.time()) - psutil.boot_time())


def hub_date(url: str, timeout_s: float = 3.0) -> str | None:
    import requests

    return requests.head(url, timeout=timeout_s, allow_redirects=True).headers.get("Date")


def clock_offset_s(feed_url: str, fetch: DateFetcher = hub_date, now: Callable[[], float] = time.time) -> int | None:
    if not feed_url:
        return None
    before = now()
    header = fetch(feed_url.rstrip("/") + "/manifest.json")
    after = now()
    if not header:
        return None
    server = email.utils.parsedate_to_datetime(header).timestamp()
    # The Date header has whole seconds; compare with the middle of the request.
    return round((before + after) / 2 - server)


def failed_media(db_path: Path, media_dir: Path) -> int:
    from content.media import MediaCache
    from protocol.feed import Manifest

    try:
        with reading(db_path) as conn:
            row = conn.execute("SELECT manifest FROM sync_state WHERE id = 1").fetchone()
    except sqlite3.Error:
        return 0
    if not row or not row[0]:
        return 0
    cache = MediaCache(media_dir)  # only asks what is there
    return sum(1 for ref in Manifest.from_bytes(row[0]).media_refs().values() if not cache.has(ref))


def last_upgrade(data_dir: Path) -> dict[str, Any] | None:
    from deploy.upgrade import read_state

    return read_state(Path(data_dir) / "upgrade").get("last")


def station_health(sources: HealthSources, live_devices: dict[str, Any] | None = None, *,
                   fetch_date: DateFetcher = hub_date) -> dict[str, Any]:
    """Keyword arguments for ``record_heartbeat``: ``devices`` and the health fields."""
    return {
        "devices": live_devices or _field(sources.devices) or {},
        "software_version": _field(software_version),
        "content_age_s": _field(lambda: content_age_s(sources.content_info)),
        "print_queue": _field(lambda: print_queue(sources.db_path)),
        "free_disk_mb": _field(lambda: free_disk_mb(sources.data_dir)),
        "uptime_s": _field(uptime_s),
        "clock_offset_s": _field(lambda: clock_offset_s(sources.feed_url, fetch_date)),
        "failed_media": _field(lambda: failed_media(sources.db_path, sources.media_dir)),
        "last_upgrade": _field(lambda: last_upgrade(sources.data_dir)),
    }
