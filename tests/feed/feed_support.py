"""Helpers for the feed tests and bench/sync.py: a hub with a key and content to publish,
stations configured to sync from it, and checks that a station shows a complete verified set."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feed_faults import FaultInjector

from config.settings import Settings
from config.station import Station, media_cache, open_store
from content.feed_client import SyncClient
from content.sample import sample_content
from hub.app import HubServer
from hub.publish import PublishResult, load_key_file, publish_content
from hub.storage import HubStore
from protocol.feed import Manifest, Scope
from protocol.model import ContentSet, Course, MediaRef

ORIGIN = (26.5830, 106.7135)
FEED_NAME = "gy"
TODAY = dt.date.today()


def media_bytes(seed: int, size: int) -> bytes:
    """Deterministic bytes standing in for a video (the sync never decodes media)."""
    return random.Random(seed).randbytes(size)


@dataclass
class Hub:
    home: Path
    server: HubServer
    faults: FaultInjector
    public_key: str
    key_path: Path
    media_src: Path
    database_url: str | None = None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def feed_url(self) -> str:
        return f"{self.server.url}feeds/{FEED_NAME}/"

    @property
    def feed_dir(self) -> Path:
        return self.home / "feeds" / FEED_NAME

    @functools.cached_property
    def store(self) -> HubStore:
        return HubStore(self.database_url or self.home / "hub.db", home=self.home)

    def add_media(self, seed: int, size: int, ext: str = "mp4", kind: str = "video/mp4") -> MediaRef:
        data = media_bytes(seed, size)
        ref = MediaRef(sha256=hashlib.sha256(data).hexdigest(), size=len(data), type=kind, ext=ext)
        (self.media_src / ref.filename).write_bytes(data)
        return ref

    def publish(self, content: ContentSet, *, scope: Scope | None = None, version: int | None = None,
                feed_dir: Path | None = None, feed_id: str = "gy-test", **options: Any) -> PublishResult:
        """Publish ``content``; ``options`` go to publish_content (``generated_at``, ``valid_days``)."""
        refs = {r.sha256 for c in content.courses for r in (c.media, c.thumbnail) if r}
        files = {sha: next(self.media_src.glob(f"{sha}.*")) for sha in refs}
        return publish_content(content, files, feed_dir or self.feed_dir, key=load_key_file(self.key_path),
                               feed_id=feed_id, scope=scope or Scope(regions=["520100"]), version=version,
                               **options)

    def manifest(self) -> Manifest:
        return Manifest.from_bytes((self.feed_dir / "manifest.json").read_bytes())


def make_content(hub: Hub, *, jobs: int = 60, seed: int = 7, media_sizes: tuple[int, ...] = (300_000, 40_000),
                 media_seed: int = 1) -> ContentSet:
    """Sample content plus one course per media file (random bytes standing in for videos)."""
    content = sample_content(origin=ORIGIN, jobs=jobs, seed=seed, today=TODAY)
    content.courses = [
        Course(id=f"course-{i}", title=f"培训课程{i}", duration_s=60,
               media=hub.add_media(media_seed * 100 + i, size))
        for i, size in enumerate(media_sizes)
    ]
    content.documents["board_schedule"] = {"version": 1, "default": ["jobs", "policies"]}
    return content


def change_jobs(content: ContentSet, fraction: float, *, seed: int = 3) -> ContentSet:
    """A copy with ``fraction`` of the jobs changed (salary raised, version bumped)."""
    rng = random.Random(seed)
    jobs = list(content.jobs)
    for i in rng.sample(range(len(jobs)), max(1, int(len(jobs) * fraction))):
        job = jobs[i]
        jobs[i] = job.model_copy(update={"salary_max": job.salary_max + 100, "version": job.version + 1})
    return ContentSet(jobs=jobs, policies=content.policies, events=content.events, courses=content.courses,
                      announcements=content.announcements, documents=content.documents)


def hub_toml(hub: Hub, *, token: str = "", public_key: str | None = None, timeout_s: float = 2.0) -> str:
    """The [hub] section for a station that syncs from ``hub``."""
    return (f'[hub]\nfeed_url = "{hub.feed_url}"\npublic_key = "{public_key or hub.public_key}"\n'
            f'upload_url = "{hub.url}api/v1/"\nstation_token = "{token}"\ntimeout_s = {timeout_s}\n')


def client_for(settings: Settings, **overrides: Any) -> SyncClient:
    """A sync client with quick retries (3 attempts, backoff of a few milliseconds)."""
    overrides = {"attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, **overrides}
    return Station(settings).sync_client(**overrides)


def fingerprint(content: ContentSet) -> dict[str, Any]:
    """What must match between the published set and the set a station shows."""
    return {attr: sorted((r.id, r.version, r.model_dump_json()) for r in getattr(content, attr))
            for attr in ("jobs", "policies", "events", "courses", "announcements")} | {
        "documents": json.dumps(content.documents, sort_keys=True, ensure_ascii=False)}


def assert_shows(settings: Settings, content: ContentSet, version: int) -> None:
    """The station shows exactly ``content`` as ``version``, and every media file it needs is
    in the cache with the right SHA-256."""
    with open_store(settings) as store:
        info = store.content_info()
        shown = store.export_content()
    assert (info.feed_id, info.version) == ("gy-test", version)
    assert fingerprint(shown) == fingerprint(content)
    cache = media_cache(settings)
    for course in shown.courses:
        assert cache.verify(course.media), f"media of {course.id} missing or damaged"
