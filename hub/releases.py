"""Publishing a software release to stations through the feed folder (the hub's side).

Beside a feed's ``manifest.json`` the hub writes ``release.json`` (which version, the
bundle's SHA-256 and size, and who should take it) and ``release.sig`` (Ed25519 of the
exact bytes, same key and encoding as ``manifest.sig``), and the bundle itself as
``releases/<sha256>.tar``. Any static server or CDN serves them with the feed. A station
takes the offer when its id is listed, or, for a canary, when its id falls in the chosen
share (a stable hash of station id and version, so the same stations go first every
time a share grows). The station side is :mod:`deploy.upgrade`.

Several offers can be live at once (a canary beside the general release), each under a name
with its own audience: ``release.json`` lists them all in ``offers`` and a station takes the
newest one whose audience it is in (:func:`protocol.release_offer.offer_for`). The document's own fields repeat one
of them (the one named ``general`` if live, else the newest), so a station of an earlier
release, which reads only those, still sees an offer. Publishing under a name replaces that
name's offer and leaves the others; withdrawing is explicit (:func:`withdraw_release`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

from protocol.release_offer import (
    CANARY,
    GENERAL,
    OFFER_FORMAT,
    OFFER_NAME,
    OFFER_SIG_NAME,
    in_canary,
    offer_applies,
    offer_for,
    offer_name,
    offers_of,
    version_key,
)

# The offer's format and rules are the contract's (protocol.release_offer); named here too for the
# hub's own modules and for code written before they moved.
__all__ = ["CANARY", "GENERAL", "OFFER_FORMAT", "OFFER_NAME", "OFFER_SIG_NAME", "ReleasePublishError", "audience_text",
           "in_canary", "offer_applies", "offer_for", "offer_name", "offers_of", "publish_release", "read_offers",
           "version_order", "withdraw_release"]

_NAME_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")


class ReleasePublishError(Exception):
    """The release cannot be published; the message says why."""


def audience_text(offer: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """Who takes an offer, in words: ``站点 a、b，另 10% 的站点``, ``全部站点`` (``names``: the
    stations' names to show instead of their ids)."""
    stations, percent = offer.get("stations") or [], int(offer.get("percent", 0) or 0)
    if not stations and percent >= 100:
        return "全部站点"
    shown = [(names or {}).get(s) or s for s in stations]
    parts = [f"站点 {'、'.join(shown)}"] if stations else []
    if percent:
        parts.append(f"{'另 ' if stations else ''}{percent}% 的站点")
    return "，".join(parts) or "无站点"


def version_order(version: str) -> tuple:
    """Release versions in order (``0.1.10`` after ``0.1.9``), as the station's upgrader orders them."""
    return version_key(version)


def read_offers(feed_dir: Path) -> list[dict[str, Any]]:
    """The offers live in a feed folder, as the hub wrote them (none when there is no offer)."""
    try:
        document = json.loads((feed_dir / OFFER_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise ReleasePublishError(f"{feed_dir / OFFER_NAME} 读不出来（{exc}）") from None
    return [dict(o, name=offer_name(o)) for o in offers_of(document)] if isinstance(document, dict) else []


def _write_offers(feed_dir: Path, offers: list[dict[str, Any]], key: Any) -> None:
    from protocol.feed import sign_manifest

    if not offers:
        # The offer first: a station that still finds the signature and no offer sees no release.
        (feed_dir / OFFER_NAME).unlink(missing_ok=True)
        (feed_dir / OFFER_SIG_NAME).unlink(missing_ok=True)
        return
    top = next((o for o in offers if o["name"] == GENERAL), None) or max(offers, key=lambda o: o["published_at"])
    data = json.dumps({**top, "offers": offers}, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    # The signature first: a station that sees the new offer with the old signature refuses
    # it and tries again later, never the other way round.
    (feed_dir / (OFFER_SIG_NAME + ".new")).write_bytes(sign_manifest(data, key))
    (feed_dir / (OFFER_NAME + ".new")).write_bytes(data)
    (feed_dir / (OFFER_SIG_NAME + ".new")).replace(feed_dir / OFFER_SIG_NAME)
    (feed_dir / (OFFER_NAME + ".new")).replace(feed_dir / OFFER_NAME)


def withdraw_release(feed_dir: Path, key: Any, which: str) -> list[dict[str, Any]]:
    """Take the offers named ``which`` (or of version ``which``) off the feed; the others stay.
    Returns the withdrawn offers; the bundle file stays for a station in mid-download."""
    live = read_offers(feed_dir)
    gone = [o for o in live if which in (o["name"], o.get("version"))]
    if not gone:
        shown = "、".join(f"{o['name']}（{o.get('version')}）" for o in live) or "无"
        raise ReleasePublishError(f"没有名称或版本为“{which}”的发布中版本；发布中的有：{shown}")
    _write_offers(feed_dir, [o for o in live if o not in gone], key)
    return gone


def publish_release(feed_dir: Path, bundle: Path, key: Any, *, stations: list[str] | None = None,
                    percent: int = 100, now: dt.datetime | None = None, name: str | None = None) -> dict[str, Any]:
    """Copy ``bundle`` into the feed folder and write the signed offer under ``name`` (default:
    ``general`` for everyone, else ``canary``), beside the other live offers. Returns the offer."""
    from protocol.bundle import ReleaseError, file_sha256, read_manifest

    if name is not None and not _NAME_RE.match(name):
        raise ReleasePublishError(f"--name 只能用字母、数字、点、下划线或连字符（最多 32 个），收到“{name[:40]}”")
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
    offer["name"] = name or offer_name(offer)
    others = [o for o in read_offers(feed_dir) if o["name"] != offer["name"]]
    _write_offers(feed_dir, [*others, offer], key)
    return offer
