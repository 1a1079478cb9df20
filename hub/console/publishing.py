"""Publishing from the console: feed groups, the change summary, signed feed versions, schedules.

A feed group is one feed (``feeds/<feed_id>/``) with its scope: regions and/or chosen
stations. Publishing a group takes every approved record of it that has not expired,
shows what changed since the group's last publication (added / changed / removed), and
writes the next signed version with ``hub.publish.publish_content``. Only groups
with changes get a new version. A publication can be scheduled; :func:`run_due` runs the
schedules whose time has come (the serve command's ticker calls it, tests call it with a
clock).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from common.files import write_atomic
from hub.console.schema import feed_groups, items, publications, published_items, schedules
from hub.publish import PublishError, load_key_file, publish_content, read_manifest_file
from protocol.feed import RECORD_KINDS, Scope, decode_items
from protocol.model import RECORD_TYPES, ContentSet, MediaRef

FEED_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a feed group's id (also a folder and a lock file name)
MEDIA_DIR = "console-media"
DOCUMENTS_DIR = "console-documents"
VERSIONS_DIR = "console-publications"  # HOME/console-publications/<feed_id>/<version>.json: what a version held
URGENT_NAME = "urgent"  # served beside the manifest: the newest version that carried an urgent notice
URGENT_MARK = '"priority":"urgent"'  # how an urgent announcement reads in its stored JSON (record_json)


@dataclass
class Plan:
    feed_id: str
    total: int
    added: int
    changed: int
    removed: int
    expired: int
    last_version: int

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class Changes:
    """What the next publication of a group adds, changes and removes: (kind, record id, title) each,
    and a digest of the whole, so a confirmation publishes exactly what was shown."""

    added: list[tuple[str, str, str]] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    removed: list[tuple[str, str, str]] = field(default_factory=list)
    digest: str = ""


def groups(conn: Connection) -> list[Any]:
    return list(conn.execute(sa.select(feed_groups).order_by(feed_groups.c.feed_id)))


def save_group(conn: Connection, feed_id: str, title: str, regions: list[str], stations: list[str], now: str) -> None:
    Scope(regions=regions, stations=stations)  # raises ValueError when the scope is not valid
    values = {"title": title, "regions": ",".join(regions), "stations": ",".join(stations)}
    if conn.execute(feed_groups.update().where(feed_groups.c.feed_id == feed_id).values(**values)).rowcount == 0:
        conn.execute(feed_groups.insert().values(feed_id=feed_id, created_at=now, **values))


def scope_of(group: Any) -> Scope:
    return Scope(regions=[r for r in group.regions.split(",") if r], stations=[s for s in group.stations.split(",") if s])


def _live(conn: Connection, feed_id: str, today: dt.date) -> tuple[dict[str, str], int]:
    """Published-to-be items of a group: key -> digest, and how many approved ones expired."""
    current: dict[str, str] = {}
    expired = 0
    day = today.isoformat()
    q = (sa.select(items.c.kind, items.c.record_id, items.c.live_digest, items.c.live_until)
         .where(items.c.feed_id == feed_id, items.c.live_digest.is_not(None)))
    for row in conn.execute(q):
        if row.live_until and row.live_until < day:
            expired += 1
            continue
        current[f"{row.kind}:{row.record_id}"] = row.live_digest
    return current, expired


def plan(conn: Connection, feed_id: str, today: dt.date) -> Plan:
    current, expired = _live(conn, feed_id, today)
    before = {r.item_key: r.digest for r in conn.execute(
        sa.select(published_items.c.item_key, published_items.c.digest).where(published_items.c.feed_id == feed_id))}
    last = conn.execute(sa.select(sa.func.max(publications.c.version)).where(publications.c.feed_id == feed_id)
                        ).scalar() or 0
    return Plan(feed_id=feed_id, total=len(current), added=len(current.keys() - before.keys()),
                changed=sum(1 for k, d in current.items() if k in before and before[k] != d),
                removed=len(before.keys() - current.keys()), expired=expired, last_version=last)


def changes(conn: Connection, feed_id: str, today: dt.date) -> Changes:
    """The exact list behind :func:`plan`'s counts, titles included, in kind and id order."""
    current, _ = _live(conn, feed_id, today)
    before = {r.item_key: r.digest for r in conn.execute(
        sa.select(published_items.c.item_key, published_items.c.digest).where(published_items.c.feed_id == feed_id))}
    keys = {"added": sorted(current.keys() - before.keys()),
            "changed": sorted(k for k, d in current.items() if k in before and before[k] != d),
            "removed": sorted(before.keys() - current.keys())}
    wanted = {k for ks in keys.values() for k in ks}
    titles = _titles(conn, feed_id, wanted)
    digest = hashlib.sha256(json.dumps([keys, {k: current.get(k, "") for k in sorted(wanted)}]).encode()).hexdigest()
    out = Changes(digest=digest)
    for name, ks in keys.items():
        getattr(out, name).extend((k.split(":", 1)[0], k.split(":", 1)[1], titles.get(k, "")) for k in ks)
    return out


def _titles(conn: Connection, feed_id: str, keys: set[str]) -> dict[str, str]:
    if not keys:
        return {}
    q = sa.select(items.c.kind, items.c.record_id, items.c.title).where(items.c.feed_id == feed_id)
    return {f"{r.kind}:{r.record_id}": r.title for r in conn.execute(q) if f"{r.kind}:{r.record_id}" in keys}


def _keep_contents(home: Path, feed_id: str, version: int, what: Changes, keys: list[str], titles: dict[str, str]) -> None:
    """Keep what a version held and changed, for its page in the console (the feed keeps only the newest)."""
    document = {"added": what.added, "changed": what.changed, "removed": what.removed,
                "items": [[k.split(":", 1)[0], k.split(":", 1)[1], titles.get(k, "")] for k in sorted(keys)]}
    folder = home / VERSIONS_DIR / feed_id
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / f"{version}.json", json.dumps(document, ensure_ascii=False, separators=(",", ":")))


def version_contents(home: Path, feed_id: str, version: int) -> dict[str, Any] | None:
    """What version ``version`` of a group held and changed (None: published before this was kept)."""
    path = home / VERSIONS_DIR / feed_id / f"{int(version)}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def documents_of(home: Path, feed_id: str) -> dict[str, Any]:
    folder = home / DOCUMENTS_DIR / feed_id
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


def save_document(home: Path, feed_id: str, name: str, document: Any) -> None:
    folder = home / DOCUMENTS_DIR / feed_id
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / f"{name}.json", json.dumps(document, ensure_ascii=False, indent=2))


class PlanChanged(PublishError):
    """The changes confirmed are no longer the changes waiting (someone approved or withdrew meanwhile)."""


@contextmanager
def one_publisher(home: Path, feed_id: str) -> Iterator[None]:
    """One publication of a feed at a time, across the hub's processes (gunicorn workers, the
    scheduler): a second waits for the first, so an urgent notice approved during a publication
    is published on top of it, never beside it with the same version number."""
    folder = home / VERSIONS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f".{feed_id}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def publish_group(engine: Engine, home: Path, feeds_dir: Path, feed_id: str, by_user: str, now: dt.datetime,
                  *, only_if_changed: bool = False, expected: str | None = None) -> tuple[Plan, int | None]:
    """Publish the next version of a group; returns the plan and the new version (None: nothing to do).

    ``expected``: the :class:`Changes` digest the publisher confirmed; another list refuses."""
    if not FEED_NAME_RE.match(feed_id):
        raise PublishError(f"没有发布范围 {feed_id}")
    with one_publisher(home, feed_id):
        return _publish_group(engine, home, feeds_dir, feed_id, by_user, now, only_if_changed=only_if_changed,
                              expected=expected)


def _publish_group(engine: Engine, home: Path, feeds_dir: Path, feed_id: str, by_user: str, now: dt.datetime,
                   *, only_if_changed: bool, expected: str | None) -> tuple[Plan, int | None]:
    started = time.perf_counter()
    today = now.astimezone().date()
    with engine.begin() as conn:
        group = conn.execute(sa.select(feed_groups).where(feed_groups.c.feed_id == feed_id)).first()
        if group is None:
            raise PublishError(f"没有发布范围 {feed_id}")
        the_plan = plan(conn, feed_id, today)
        if only_if_changed and not the_plan.has_changes:
            return the_plan, None
        what = changes(conn, feed_id, today)
        if expected is not None and expected != what.digest:
            raise PlanChanged("确认之后待发布的内容又有变化，请重新核对变更清单后再发布")
        current, _ = _live(conn, feed_id, today)
        titles = _titles(conn, feed_id, set(current))
        rows = list(conn.execute(sa.select(items.c.kind, items.c.record_id, items.c.version, items.c.live_data)
                                 .where(items.c.feed_id == feed_id, items.c.live_digest.is_not(None))))
    content = ContentSet()
    for row in rows:
        if f"{row.kind}:{row.record_id}" not in current:
            continue
        record = RECORD_TYPES[row.kind].model_validate_json(row.live_data)
        getattr(content, RECORD_KINDS[row.kind]).append(record.model_copy(update={"version": row.version}))
    content.documents = documents_of(home, feed_id)
    if not len(content) and not content.documents:
        raise PublishError("这个发布范围还没有审核通过的内容")
    media = _media_of(home, content)
    key = load_key_file(home / "feed.key")
    result = publish_content(content, media, feeds_dir / feed_id, key=key, feed_id=feed_id, scope=scope_of(group),
                             generated_at=now.astimezone(dt.UTC).replace(microsecond=0))
    with engine.begin() as conn:
        conn.execute(published_items.delete().where(published_items.c.feed_id == feed_id))
        snapshot = [{"feed_id": feed_id, "item_key": k, "digest": d} for k, d in current.items()]
        for start in range(0, len(snapshot), 5000):
            conn.execute(published_items.insert(), snapshot[start:start + 5000])
        conn.execute(publications.insert().values(
            feed_id=feed_id, version=result.manifest.version, at=now.astimezone(dt.UTC).isoformat(timespec="seconds"),
            by_user=by_user, items=len(content), added=the_plan.added, changed=the_plan.changed,
            removed=the_plan.removed, seconds=round(time.perf_counter() - started, 3)))
    _keep_contents(home, feed_id, result.manifest.version, what, list(current), titles)
    return the_plan, result.manifest.version


def _media_of(home: Path, content: ContentSet) -> dict[str, Path]:
    media: dict[str, Path] = {}
    for course in content.courses:
        for ref in (course.media, course.thumbnail):
            if isinstance(ref, MediaRef):
                media[ref.sha256] = home / MEDIA_DIR / ref.filename
    return media


def is_urgent(row: Any) -> bool:
    """An announcement whose stored JSON says 紧急 (``priority: urgent``)."""
    return row.kind == "announcement" and URGENT_MARK in (row.live_data or row.data or "")


def publish_urgent(engine: Engine, home: Path, feeds_dir: Path, item_id: int, by_user: str,
                   now: dt.datetime) -> int:
    """Publish one approved urgent notice at once, alone: the group's published version plus this
    notice, nothing else that waits (other approved changes keep waiting for their publisher).
    The feed's ``urgent`` pointer is then set to the new version, so stations check in at once."""
    with engine.begin() as conn:
        feed_id = conn.execute(sa.select(items.c.feed_id).where(items.c.id == item_id)).scalar()
    if feed_id is None or not FEED_NAME_RE.match(feed_id):
        raise PublishError("没有这条内容")
    with one_publisher(home, feed_id):
        return _publish_urgent(engine, home, feeds_dir, item_id, by_user, now)


def _publish_urgent(engine: Engine, home: Path, feeds_dir: Path, item_id: int, by_user: str,
                    now: dt.datetime) -> int:
    started = time.perf_counter()
    with engine.begin() as conn:
        row = conn.execute(sa.select(items).where(items.c.id == item_id)).first()
        if row is None or row.state != "approved" or not is_urgent(row):
            raise PublishError("只有审核通过的紧急通知可以立即发布")
        group = conn.execute(sa.select(feed_groups).where(feed_groups.c.feed_id == row.feed_id)).first()
        if group is None:
            raise PublishError(f"没有发布范围 {row.feed_id}")
        key = f"{row.kind}:{row.record_id}"
        before = conn.execute(sa.select(published_items.c.digest).where(
            published_items.c.feed_id == row.feed_id, published_items.c.item_key == key)).scalar()
    feed_dir = feeds_dir / row.feed_id
    content = _published_content(feed_dir)
    if content is None:  # the group's first publication: the notice and the group's documents
        content = ContentSet(documents=documents_of(home, row.feed_id))
    notice = RECORD_TYPES["announcement"].model_validate_json(row.live_data).model_copy(update={"version": row.version})
    content.announcements = [a for a in content.announcements if a.id != row.record_id] + [notice]
    # The phone pages show no notices: the version before's stay (hub refresh rewrites them daily).
    result = publish_content(content, _media_of(home, content), feed_dir, key=load_key_file(home / "feed.key"),
                             feed_id=row.feed_id, scope=scope_of(group),
                             generated_at=now.astimezone(dt.UTC).replace(microsecond=0), phone_pages=False)
    version = result.manifest.version
    added, changed = (1, 0) if before is None else (0, 1)
    with engine.begin() as conn:
        if before is None:
            conn.execute(published_items.insert().values(feed_id=row.feed_id, item_key=key, digest=row.live_digest))
        else:
            conn.execute(published_items.update().where(published_items.c.feed_id == row.feed_id,
                                                        published_items.c.item_key == key)
                         .values(digest=row.live_digest))
        conn.execute(publications.insert().values(
            feed_id=row.feed_id, version=version, at=now.astimezone(dt.UTC).isoformat(timespec="seconds"),
            by_user=by_user, items=len(content), added=added, changed=changed, removed=0,
            seconds=round(time.perf_counter() - started, 3)))
        keys = [r.item_key for r in conn.execute(sa.select(published_items.c.item_key)
                                                 .where(published_items.c.feed_id == row.feed_id))]
        titles = _titles(conn, row.feed_id, set(keys))
    entry = [("announcement", row.record_id, row.title)]
    _keep_contents(home, row.feed_id, version, Changes(added=entry if added else [], changed=entry if changed else []),
                   keys, titles)
    write_urgent_pointer(feed_dir, row.feed_id, version, now)
    return version


def _published_content(feed_dir: Path) -> ContentSet | None:
    """The content of the version a feed folder serves, read back from its item files (None: none yet)."""
    manifest = read_manifest_file(feed_dir)
    if manifest is None:
        return None
    content, _ = decode_items((entry, (feed_dir / entry.path).read_bytes()) for entry in manifest.items)
    return content


def write_urgent_pointer(feed_dir: Path, feed_id: str, version: int, now: dt.datetime) -> None:
    """``urgent``: a few unsigned bytes a station polls between syncs (content/PROTOCOL.md §1.12)."""
    body = {"feed_id": feed_id, "version": version, "at": now.astimezone(dt.UTC).isoformat(timespec="seconds")}
    path = feed_dir / URGENT_NAME
    before = int(path.stat().st_mtime) if path.exists() else None
    write_atomic(path, json.dumps(body, separators=(",", ":")) + "\n")
    # Validators of whole seconds (nginx's ETag, Last-Modified) must tell this pointer from the
    # one it replaces (PROTOCOL.md §1.8): its modification time moves to a later second if needed.
    if before is not None and int(path.stat().st_mtime) <= before:
        os.utime(path, (before + 1, before + 1))


def run_due(engine: Engine, home: Path, feeds_dir: Path, now: dt.datetime) -> list[tuple[int, str]]:
    """Run every waiting schedule whose time has come; returns (schedule id, result text)."""
    from hub.console.core import audit_engine, iso

    done = _fail_interrupted(engine, now)
    with engine.begin() as conn:
        due = list(conn.execute(sa.select(schedules).where(schedules.c.state == "waiting",
                                                           schedules.c.due_at <= iso(now))
                                .order_by(schedules.c.due_at)))
    for row in due:
        if not claim_schedule(engine, row.id, now):
            continue  # another worker's scheduler took it first
        try:
            the_plan, version = publish_group(engine, home, feeds_dir, row.feed_id, row.by_user, now,
                                              only_if_changed=True)
            state = "done"
            text = f"已发布第 {version} 版" if version else "没有变化，未发布新版本"
        except (PublishError, ValueError, OSError) as exc:
            state, text = "failed", f"发布失败：{exc}"[:500]
        with engine.begin() as conn:
            conn.execute(schedules.update().where(schedules.c.id == row.id).values(state=state, result=text))
        audit_engine(engine, iso(now), row.by_user, "定时发布", row.feed_id, text)
        done.append((row.id, text))
    return done


# Several schedulers may poll the same database (one per gunicorn worker, or a second hub
# process): each job is claimed by a conditional UPDATE, which the database applies to one
# transaction only, so exactly one of them runs it. Plain SQL: no advisory locks, no
# SELECT ... FOR UPDATE SKIP LOCKED, so SQLite, PostgreSQL and openGauss/KingbaseES all do.
def claim_schedule(engine: Engine, schedule_id: int, now: dt.datetime) -> bool:
    """Move a waiting schedule to running (as of ``now``); True only for the one caller that did."""
    from hub.console.core import iso

    with engine.begin() as conn:
        claimed = conn.execute(schedules.update().where(schedules.c.id == schedule_id,
                                                        schedules.c.state == "waiting")
                               .values(state="running", claimed_at=iso(now)))
    return claimed.rowcount == 1


#: A publication takes seconds (100 000 jobs: ~16 s); one still "running" after this long was
#: claimed by a process that stopped (killed, restarted, power cut) and will never finish.
RUNNING_LIMIT = dt.timedelta(minutes=30)
INTERRUPTED_TEXT = "发布中断：处理进程在发布途中停止，本次未完成，请重新安排定时发布"


def _fail_interrupted(engine: Engine, now: dt.datetime) -> list[tuple[int, str]]:
    """Schedules left "running" by a process that stopped become "failed", with a reason staff
    can act on (never retried by themselves: a publication that brings its process down would
    otherwise do so again and again)."""
    from hub.console.core import audit_engine, iso

    cutoff = iso(now - RUNNING_LIMIT)
    with engine.begin() as conn:
        stale = list(conn.execute(sa.select(schedules.c.id, schedules.c.feed_id, schedules.c.by_user)
                                  .where(schedules.c.state == "running", schedules.c.claimed_at < cutoff)))
    failed = []
    for row in stale:
        with engine.begin() as conn:
            # Conditional, like the claim: of several schedulers, one marks it and audits it.
            marked = conn.execute(schedules.update().where(schedules.c.id == row.id,
                                                           schedules.c.state == "running",
                                                           schedules.c.claimed_at < cutoff)
                                  .values(state="failed", result=INTERRUPTED_TEXT)).rowcount
        if marked == 1:
            audit_engine(engine, iso(now), row.by_user, "定时发布", row.feed_id, INTERRUPTED_TEXT)
            failed.append((row.id, INTERRUPTED_TEXT))
    return failed


def claim_daily(engine: Engine, job: str, day: dt.date) -> bool:
    """Mark ``job`` (a console_watermarks row) as run on ``day``; True only for the first caller that day."""
    from hub.console.schema import watermarks

    stamp = day.year * 10000 + day.month * 100 + day.day
    with engine.begin() as conn:
        claimed = conn.execute(watermarks.update().where(watermarks.c.name == job, watermarks.c.upto < stamp)
                               .values(upto=stamp))
    return claimed.rowcount == 1
