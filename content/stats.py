"""Service counts for one day (服务台账): what the station did for residents.

Registrations per kind, slips printed per kind, kiosk usage per event, board plays, and
the outbox waiting to be delivered. Read with plain SQL from the one station database;
a table that a part of the station has not created yet counts as zero. Used by
``yizhan stats`` and the kiosk's staff screen.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from content.db import connect
from content.registrations import REGISTRATION_KINDS

# 好差评: the five levels every government service point offers, best first, with their score.
RATING_LEVELS = (("非常满意", 5), ("满意", 4), ("基本满意", 3), ("不满意", 2), ("非常不满意", 1))
RATING_EVENT = "rating"
SLIP_KIND_NAMES = {"job": "岗位推荐单", "receipt": "登记回执", "event": "招聘会单", "test": "测试页"}


@dataclass
class ServiceCounts:
    day: dt.date
    registrations: dict[str, int] = field(default_factory=dict)
    slips_printed: dict[str, int] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    ratings: dict[str, int] = field(default_factory=dict)  # 好差评 per level, best first
    board_plays: int = 0
    outbox_waiting: int = 0

    @property
    def registrations_total(self) -> int:
        return sum(self.registrations.values())

    @property
    def slips_total(self) -> int:
        return sum(self.slips_printed.values())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["registrations_total"], data["slips_total"] = self.registrations_total, self.slips_total
        return data


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def service_counts(db_path: str | Path, day: dt.date | None = None) -> ServiceCounts:
    """Counts for ``day`` (default today, local time)."""
    day = day or dt.date.today()
    start = dt.datetime.combine(day, dt.time()).astimezone()
    end = start + dt.timedelta(days=1)
    counts = ServiceCounts(day=day, registrations=dict.fromkeys(REGISTRATION_KINDS, 0),
                           ratings={name: 0 for name, _ in RATING_LEVELS})
    conn = connect(db_path)
    try:
        if _has_table(conn, "registrations"):
            for kind, n in conn.execute(
                    "SELECT kind, COUNT(*) FROM registrations WHERE created_ts >= ? AND created_ts < ? GROUP BY kind",
                    (start.timestamp(), end.timestamp())):
                counts.registrations[kind] = n
        if _has_table(conn, "print_jobs"):
            # printed_at is an ISO timestamp; compare on its local date prefix.
            for kind, n in conn.execute(
                    "SELECT kind, COUNT(*) FROM print_jobs WHERE state = 'printed' AND substr(printed_at, 1, 10) = ? "
                    "GROUP BY kind", (day.isoformat(),)):
                counts.slips_printed[SLIP_KIND_NAMES.get(kind, kind)] = n
        if _has_table(conn, "outbox"):
            span = (start.timestamp(), end.timestamp())
            for kind, payload in conn.execute(
                    "SELECT kind, payload FROM outbox WHERE personal = 0 AND kind IN ('event', 'proof_of_play') "
                    "AND created_ts >= ? AND created_ts < ?", span):
                try:
                    data = json.loads(payload) if payload else {}
                except ValueError:
                    data = {}
                if kind == "proof_of_play":
                    # A skipped (missing or corrupt) video is reported, but was not played.
                    counts.board_plays += data.get("status") != "skipped"
                    continue
                event = data.get("event", "?") if isinstance(data, dict) else "?"
                if event == RATING_EVENT:
                    level = data.get("level")
                    if level in counts.ratings:
                        counts.ratings[level] += 1
                    continue  # a rating is not a use of the kiosk
                counts.usage[event] = counts.usage.get(event, 0) + 1
            counts.outbox_waiting = conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'queued'").fetchone()[0]
    finally:
        conn.close()
    return counts
