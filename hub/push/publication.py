"""What to push: the jobs the centre published in the last week, matched (``hub.matching``)
against the registrations that consented to SMS and are still open, queued once per
(registration, job) pair.

The published jobs are the console's (``published_items``); a hub without the console's
tables has nothing to push. A registration the registrar closed (已就业, 无需跟进) or whose
personal data was purged is not matched.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hub.matching import MatchError, Seeker, match_publication, seeker_from
from hub.push.queue import PushQueue, subscriptions
from protocol.model import Job

NEW_DAYS = 7
CLOSED = ("已就业", "无需跟进")


def _published_jobs(conn: Any) -> list[Job]:
    from hub.console.schema import items, published_items

    keys = {row.item_key.split(":", 1)[1] for row in conn.execute(
        sa.select(published_items.c.item_key).where(published_items.c.item_key.like("job:%")))}
    jobs: dict[str, Job] = {}
    if keys:
        query = sa.select(items.c.record_id, items.c.live_data).where(items.c.kind == "job",
                                                                      items.c.live_data.is_not(None))
        for row in conn.execute(query):
            if row.record_id in keys and row.record_id not in jobs:
                jobs[row.record_id] = Job.model_validate_json(row.live_data)
    return list(jobs.values())


def _closed(conn: Any) -> set[int]:
    from hub.console.schema import registrations

    return {r.upload_id for r in conn.execute(sa.select(registrations.c.upload_id).where(
        sa.or_(registrations.c.status.in_(CLOSED), registrations.c.purged_at.is_not(None))))}


def _origins(feeds_dir: Path | None) -> dict[str, tuple[float, float]]:
    if feeds_dir is None:
        return {}
    from hub.mobile.pages import station_index

    found = {}
    for station_id, entry in station_index(feeds_dir).items():
        try:
            found[station_id] = (float(entry["latitude"]), float(entry["longitude"]))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def queue_new_matches(push: PushQueue, now: dt.datetime, *, feeds_dir: Path | None = None) -> int:
    """Subscribe new consents, then queue this week's published jobs for the subscribed
    registrations they fit. Returns how many messages were queued."""
    push.subscribe_new(now)
    today = now.date()
    inspector = sa.inspect(push.engine)
    if not inspector.has_table("console_published_items"):
        return 0
    with push.engine.connect() as conn:
        jobs = [j for j in _published_jobs(conn) if j.published >= today - dt.timedelta(days=NEW_DAYS)]
        closed = _closed(conn) if inspector.has_table("console_registrations") else set()
        active = {r.upload_id: r.station_id for r in conn.execute(
            sa.select(subscriptions.c.upload_id, subscriptions.c.station_id)
            .where(subscriptions.c.stopped_at.is_(None)))}
    if not jobs or not active:
        return 0
    origins = _origins(feeds_dir)
    seekers: list[Seeker] = []
    for row in push.store.uploads("registration"):
        if row["id"] not in active or row["id"] in closed or not row["payload"].get("person"):
            continue
        try:
            seekers.append(seeker_from(row["id"], row["payload"], today=today, origin=origins.get(active[row["id"]])))
        except MatchError:
            continue
    return push.enqueue(match_publication(jobs, seekers, today), {j.id: j for j in jobs}, now)
