"""Publishing a software release to stations through the feed folder (the hub's side).

Beside a feed's ``manifest.json`` the hub writes ``release.json`` (which version, the
bundle's SHA-256 and size, and who should take it) and ``release.sig`` (Ed25519 of the
exact bytes, same key and encoding as ``manifest.sig``), and the bundle itself as
``releases/<sha256>.tar``. Any static server or CDN serves them with the feed. A station
takes the offer when its id is listed, or, for a canary, when its id falls in the chosen
share (a stable hash of station id and version, so the same stations go first every
time a share grows). The station side is :mod:`deploy.upgrade`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

OFFER_NAME = "release.json"
OFFER_SIG_NAME = "release.sig"
OFFER_FORMAT = "yizhan-release-offer/1"


class ReleasePublishError(Exception):
    """The release cannot be published; the message says why."""


def in_canary(station_id: str, version: str, percent: int) -> bool:
    """Whether a station belongs to the first ``percent`` % for ``version`` (stable, uniform)."""
    bucket = int.from_bytes(hashlib.sha256(f"{station_id}\0{version}".encode()).digest()[:4], "big") % 100
    return bucket < percent


def offer_applies(offer: dict[str, Any], station_id: str) -> bool:
    if station_id in offer.get("stations", []):
        return True
    return in_canary(station_id, offer["version"], int(offer.get("percent", 0)))


def publish_release(feed_dir: Path, bundle: Path, key: Any, *, stations: list[str] | None = None,
                    percent: int = 100, now: dt.datetime | None = None) -> dict[str, Any]:
    """Copy ``bundle`` into the feed folder and write the signed offer. Returns the offer."""
    from deploy.release import ReleaseError, file_sha256, read_manifest
    from protocol.feed import sign_manifest

    if not (feed_dir / "manifest.json").exists():
        raise ReleasePublishError(f"{feed_dir} is not a published feed (no manifest.json): publish the feed first")
    if not 0 <= percent <= 100:
        raise ReleasePublishError(f"--percent must be 0..100, got {percent}")
    try:
        manifest, _, _ = read_manifest(bundle)
    except ReleaseError as exc:
        raise ReleasePublishError(str(exc)) from None
    sha = file_sha256(bundle)
    path = f"releases/{sha}.tar"
    target = feed_dir / path
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_suffix(".part")
        shutil.copyfile(bundle, part)
        part.replace(target)
    offer = {"format": OFFER_FORMAT, "version": manifest["version"], "sha256": sha, "size": bundle.stat().st_size,
             "path": path, "lock_sha256": manifest["lock_sha256"], "wheels": manifest["wheels"],
             "stations": sorted(set(stations or [])), "percent": percent,
             "published_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")}
    data = json.dumps(offer, ensure_ascii=False, indent=1, sort_keys=True).encode()
    # The signature first: a station that sees the new offer with the old signature refuses
    # it and tries again later, never the other way round.
    (feed_dir / (OFFER_SIG_NAME + ".new")).write_bytes(sign_manifest(data, key))
    (feed_dir / (OFFER_NAME + ".new")).write_bytes(data)
    (feed_dir / (OFFER_SIG_NAME + ".new")).replace(feed_dir / OFFER_SIG_NAME)
    (feed_dir / (OFFER_NAME + ".new")).replace(feed_dir / OFFER_NAME)
    return offer
