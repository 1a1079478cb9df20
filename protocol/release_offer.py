"""The release offer both sides read: ``release.json`` beside a feed's manifest, and its order of versions.

The hub writes it (:mod:`hub.releases`), a station takes from it (:mod:`deploy.upgrade`); both read
it with these functions, so the rules for who takes which offer live in the contract. An offer names
a version, the bundle's SHA-256, size and path, and its audience: stations by id, and a share of
all stations (a canary), chosen by a stable hash of station id and version so that the same stations
go first every time a share grows. Several offers can be live at once, each under a name; a station
takes the newest one whose audience it is in (:func:`offer_for`). I/O-free.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

OFFER_NAME = "release.json"
OFFER_SIG_NAME = "release.sig"
OFFER_FORMAT = "yizhan-release-offer/1"
GENERAL = "general"
CANARY = "canary"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """Orders release versions: ``0.1.10`` after ``0.1.9``; a numeric part after a lettered one."""
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p)
                 for p in version.replace("+", ".").replace("-", ".").split("."))


def in_canary(station_id: str, version: str, percent: int) -> bool:
    """Whether a station belongs to the first ``percent`` % for ``version`` (stable, uniform)."""
    bucket = int.from_bytes(hashlib.sha256(f"{station_id}\0{version}".encode()).digest()[:4], "big") % 100
    return bucket < percent


def offer_applies(offer: dict[str, Any], station_id: str) -> bool:
    if station_id in offer.get("stations", []):
        return True
    return in_canary(station_id, offer["version"], int(offer.get("percent", 0)))


def offer_name(offer: dict[str, Any]) -> str:
    """An offer's name; an offer written before names is ``general`` when it reaches everyone."""
    name = offer.get("name")
    if isinstance(name, str) and name:
        return name
    return GENERAL if not offer.get("stations") and int(offer.get("percent", 0) or 0) >= 100 else CANARY


def offers_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every offer a ``release.json`` holds: its ``offers`` list, or (written before several
    could be live) the document itself."""
    listed = document.get("offers")
    if isinstance(listed, list) and listed:
        return [o for o in listed if isinstance(o, dict)]
    return [{k: v for k, v in document.items() if k != "offers"}]


def well_formed(offer: dict[str, Any]) -> bool:
    """An offer a station can act on: a version, the bundle's SHA-256 and size, its path under releases/."""
    sha, size, version = offer.get("sha256"), offer.get("size"), offer.get("version")
    return (isinstance(version, str) and 0 < len(version) <= 64 and isinstance(sha, str)
            and bool(_SHA256_RE.match(sha)) and isinstance(size, int) and not isinstance(size, bool) and size >= 0
            and offer.get("path") == f"releases/{sha}.tar" and isinstance(offer.get("stations", []), list))


def offer_for(document: dict[str, Any], station_id: str,
              order: Callable[[str], Any] = version_key) -> dict[str, Any] | None:
    """The offer a station takes from a verified ``release.json``: the newest (by ``order``) of
    those whose audience it is in; None when none is for it."""
    mine = [o for o in offers_of(document) if well_formed(o) and offer_applies(o, station_id)]
    return max(mine, key=lambda o: order(o["version"])) if mine else None
