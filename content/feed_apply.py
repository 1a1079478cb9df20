"""Applying a verified feed version: the station-database half of a sync.

Everything here works on what :mod:`content.feed_fetch` fetched and verified, and on the
``sync_`` tables (:data:`content.feed_client.TABLES`):

- records that fail this station's checks are left out and reported by id, and a version
  where too many records of one kind fail is refused whole, before any media is touched
  (:func:`check_invalid_share`, :func:`playable_courses`);
- once the content set is applied (``Store.replace_content``, one transaction), the
  manifest, its validators and the high-water mark are kept (:func:`save_state`), and the
  key statements followed on the way (:func:`content.trust_store.save_trust`);
- each attempt's outcome is kept for staff and the heartbeat (:func:`record_attempt`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from typing import Any

from content.db import durable
from content.feed_fetch import Refused
from content.media import MediaCache
from protocol.feed import Manifest, ManifestError, invalid_shares
from protocol.model import ContentSet

log = logging.getLogger("content.feed_client")


def held_manifest(conn: sqlite3.Connection) -> Manifest | None:
    """The manifest of the version the station holds (``None``: no sync yet, or unreadable)."""
    row = conn.execute("SELECT manifest FROM sync_state WHERE id = 1").fetchone()
    if row is None or row[0] is None:
        return None
    try:
        return Manifest.from_bytes(row[0])
    except ManifestError:
        return None


def current_media(conn: sqlite3.Connection) -> set[str]:
    manifest = held_manifest(conn)
    return set() if manifest is None else {m.sha256 for m in manifest.media}


def check_invalid_share(conn: sqlite3.Connection, manifest: Manifest, content: ContentSet, rejections: list[Any],
                        max_invalid_percent: float) -> None:
    """Refuse the whole version when too many records of one kind fail here: that is a
    systematic problem (a newer format, a bug at the hub), not a few bad records, and
    applying it would blank the station."""
    too_many = {kind: (bad, total) for kind, (bad, total) in invalid_shares(content, rejections).items()
                if bad * 100 > total * max_invalid_percent}
    if not too_many:
        return
    problems = [{"kind": r.kind, "id": r.id, "reason": r.reason[:200]} for r in rejections if not r.clipped]
    note_invalid(conn, manifest, problems, applied=False)
    shares = ", ".join(f"{kind} {bad}/{total}" for kind, (bad, total) in too_many.items())
    first = problems[0]
    raise Refused("too_many_invalid", f"version {manifest.version}: records failing this station's checks: "
                                      f"{shares} (over {max_invalid_percent:g}%); e.g. {first['kind']} "
                                      f"{first['id']}: {first['reason'][:120]}")


def playable_courses(conn: sqlite3.Connection, manifest: Manifest, content: ContentSet, rejections: list[Any],
                     media: MediaCache) -> int:
    """Leave out courses whose media the manifest does not list (or that is not here), note
    every record left out with the version; returns how many were left out."""
    offered = manifest.media_refs()
    kept = []
    problems = [{"kind": r.kind, "id": r.id, "reason": r.reason[:200]} for r in rejections if not r.clipped]
    for course in content.courses:
        refs = [r for r in (course.media, course.thumbnail) if r is not None]
        if all(r.sha256 in offered and media.has(r) for r in refs):
            kept.append(course)
        else:
            log.warning("sync: course %s refers to media the manifest does not list; left out", course.id)
            problems.append({"kind": "course", "id": course.id, "reason": "media not listed in the manifest"})
    content.courses = kept
    note_invalid(conn, manifest, problems, applied=True)
    if problems:
        log.warning("sync: %d record(s) of feed %s v%d did not validate on this station and were left out",
                    len(problems), manifest.feed_id, manifest.version)
    return len(problems)


def note_invalid(conn: sqlite3.Connection, manifest: Manifest, problems: list[dict[str, str]], *,
                 applied: bool) -> None:
    data = None if not problems else json.dumps(
        {"feed_id": manifest.feed_id, "version": manifest.version, "applied": applied, "count": len(problems),
         "records": problems[:200]}, ensure_ascii=False)
    with durable(conn):
        conn.execute("INSERT OR IGNORE INTO sync_state (id) VALUES (1)")
        if data is not None or applied:
            conn.execute("UPDATE sync_state SET invalid_records = ? WHERE id = 1", (data,))


def save_validators(conn: sqlite3.Connection, etag: str | None, modified: str | None) -> None:
    with durable(conn):
        conn.execute("UPDATE sync_state SET etag = ?, last_modified = ? WHERE id = 1", (etag, modified))


def save_state(conn: sqlite3.Connection, feed_url: str, manifest: Manifest, manifest_bytes: bytes,
               etag: str | None, modified: str | None) -> None:
    """Keep the manifest applied (or held again), its validators, the pinned feed and the high-water mark."""
    with durable(conn):
        conn.execute("INSERT OR IGNORE INTO sync_state (id) VALUES (1)")
        conn.execute(
            "UPDATE sync_state SET feed_url = ?, etag = ?, last_modified = ?, manifest = ?, manifest_sha256 = ?,"
            " feed_id = ?, version = ?, pinned_feed_id = ? WHERE id = 1",
            (feed_url, etag, modified, manifest_bytes, hashlib.sha256(manifest_bytes).hexdigest(),
             manifest.feed_id, manifest.version, manifest.feed_id))
        conn.execute("INSERT INTO sync_high_water (feed_id, version) VALUES (?, ?) ON CONFLICT (feed_id) "
                     "DO UPDATE SET version = MAX(version, excluded.version)", (manifest.feed_id, manifest.version))


def record_attempt(conn: sqlite3.Connection, *, finished_at: str, status: str, code: str, error: str | None,
                   received: int) -> None:
    """One sync's outcome, for staff screens and the heartbeat."""
    with durable(conn):
        conn.execute("INSERT OR IGNORE INTO sync_state (id) VALUES (1)")
        conn.execute("UPDATE sync_state SET last_attempt_at = ?, last_status = ?, last_code = ?, "
                     "last_error = ?, last_bytes = ? WHERE id = 1",
                     (finished_at, status, code, None if error is None else error[:500], received))
        if status != "failed":
            conn.execute("UPDATE sync_state SET last_success_at = ? WHERE id = 1", (finished_at,))
        if status == "changed":
            conn.execute("UPDATE sync_state SET last_change_at = ? WHERE id = 1", (finished_at,))
