"""Distances on the ground: how far a job is from the station (great circle, haversine).

The "三公里就业圈" is measured as the crow flies from the station's own coordinates, so a
plain great-circle distance on the mean Earth radius is the right measure (road distance
would need map data a station does not have).
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two WGS-84 points given in degrees."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def destination(lat: float, lon: float, bearing_deg: float, km: float) -> tuple[float, float]:
    """The point ``km`` away from (lat, lon) on the initial bearing ``bearing_deg`` (0 = north)."""
    d = km / EARTH_RADIUS_KM
    b = math.radians(bearing_deg)
    p1 = math.radians(lat)
    l1 = math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    lon2 = (math.degrees(l2) + 540.0) % 360.0 - 180.0
    return math.degrees(p2), lon2


def distance_text(km: float | None) -> str:
    """How far a job is, the same on the kiosk, the board and the printed slip; empty when unknown.

    ``40米`` under a kilometre (to 10 m, at least 10米), ``2.4公里`` under 10 km (to 100 m),
    ``35公里`` beyond. A distance that rounds up to the next unit is written in it
    (0.996 km is ``1.0公里``, 9.96 km is ``10公里``), never ``1000米`` or ``10.0公里``.
    """
    if km is None or km != km or km < 0:  # None, NaN or a negative distance: not known
        return ""
    metres = int(round(km * 100)) * 10
    if metres < 1000:
        return f"{max(10, metres)}米"
    tenths = int(round(km * 10))
    if tenths < 100:
        return f"{tenths // 10}.{tenths % 10}公里"
    return f"{int(round(km))}公里"
