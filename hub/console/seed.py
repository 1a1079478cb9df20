"""Loading a source folder (``yizhan hub example`` / a province's export) into the console as
approved content of a feed group: how a bureau starts from what it already publishes."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.console.core import iso, utc_now
from hub.console.items import review, save_items
from hub.console.publishing import MEDIA_DIR, _live, save_document, save_group
from hub.console.schema import items, published_items
from hub.source import SourceError, read_source_folder
from protocol.feed import RECORD_KINDS

SEED_AUTHOR = "数据导入"
SEED_REVIEWER = "系统初始化"


class SeedError(Exception):
    """The folder cannot be loaded; the message says why."""


def seed_source(engine: Engine, home: Path, source: str | Path, *, feed_id: str, title: str = "",
                regions: list[str] | None = None, stations: list[str] | None = None,
                published: bool = False, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or utc_now()
    today = now.astimezone().date()
    try:
        content, media_files, _rejections = read_source_folder(source, today=today)
    except SourceError as exc:
        raise SeedError(str(exc)) from None
    stamp = iso(now)
    counts: dict[str, int] = {}
    media_dir = Path(home) / MEDIA_DIR
    media_dir.mkdir(parents=True, exist_ok=True)
    for course in content.courses:
        for ref in (course.media, course.thumbnail):
            if ref is not None and ref.sha256 in media_files:
                target = media_dir / ref.filename
                if not target.exists():
                    shutil.copyfile(media_files[ref.sha256], target)
    with engine.begin() as conn:
        try:
            save_group(conn, feed_id, title or feed_id, regions or ["*"], stations or [], stamp)
        except ValueError as exc:
            raise SeedError(f"scope: {exc}") from None
        for kind, attr in RECORD_KINDS.items():
            records = getattr(content, attr)
            save_items(conn, kind, records, feed_id, SEED_AUTHOR, stamp)
            counts[attr] = len(records)
        # Approve what was loaded in one pass: it is what the bureau already publishes.
        pending = list(conn.execute(sa.select(items.c.id, items.c.kind, items.c.version, items.c.data)
                                    .where(items.c.feed_id == feed_id, items.c.state == "pending",
                                           items.c.author == SEED_AUTHOR)))
        for row in pending:
            review(conn, row.id, SEED_REVIEWER, True, "", stamp)
        if published:
            current, _ = _live(conn, feed_id, today)
            conn.execute(published_items.delete().where(published_items.c.feed_id == feed_id))
            rows = [{"feed_id": feed_id, "item_key": k, "digest": d} for k, d in current.items()]
            if rows:
                conn.execute(published_items.insert(), rows)
    for name, document in content.documents.items():
        save_document(Path(home), feed_id, name, document)
    counts["documents"] = len(content.documents)
    counts["media"] = len({hashlib.sha256(p.read_bytes()).hexdigest() for p in media_files.values()})
    return counts
