"""Positions from addresses: jobs are entered and imported with an address; the hub asks a
geocoder for the point, keeps every answer in a cache, and records how precise it is.

The default geocoder is 天地图's geocoding API (the national government map service; the
city's key): ``GET {url}?ds={"keyWord":"<address>"}&tk=<key>`` answering
``{"status":"0","msg":"ok","location":{"lon":…,"lat":…,"level":"门址","score":…}}``; a status
other than ``"0"`` means no result or an error, and the service's gateway answers a bad or
exhausted key with ``{"code":…,"msg":…}`` and no status. Other services plug in through
:data:`PROVIDERS`. Settings: ``[geocoder]`` in ``HOME/hub.toml`` (``provider``, ``url``, ``key``,
``timeout_s``), or ``$YIZHAN_GEOCODER_URL`` / ``$YIZHAN_GEOCODER_KEY``.

Without a geocoder, or when it fails, the position offered is the employer's known one (a job
of the same employer that has one) or the centre of the feed group's region, and the record is
flagged 位置待核实 for the reviewer. Addresses are never logged.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db import writing

TIANDITU_URL = "https://api.tianditu.gov.cn/geocoder"
CHECK_FLAG = "位置待核实"

# Province-level centres (the capital) by the first two digits of a region code (GB/T 2260):
# the last resort, always flagged for the reviewer.
PROVINCE_CENTRES: dict[str, tuple[str, float, float]] = {
    "11": ("北京市", 39.904, 116.407), "12": ("天津市", 39.084, 117.201), "13": ("石家庄市", 38.042, 114.515),
    "14": ("太原市", 37.870, 112.549), "15": ("呼和浩特市", 40.842, 111.749), "21": ("沈阳市", 41.806, 123.432),
    "22": ("长春市", 43.817, 125.324), "23": ("哈尔滨市", 45.803, 126.535), "31": ("上海市", 31.230, 121.474),
    "32": ("南京市", 32.060, 118.797), "33": ("杭州市", 30.274, 120.155), "34": ("合肥市", 31.821, 117.227),
    "35": ("福州市", 26.074, 119.297), "36": ("南昌市", 28.683, 115.858), "37": ("济南市", 36.651, 117.120),
    "41": ("郑州市", 34.746, 113.625), "42": ("武汉市", 30.593, 114.305), "43": ("长沙市", 28.228, 112.939),
    "44": ("广州市", 23.129, 113.264), "45": ("南宁市", 22.817, 108.366), "46": ("海口市", 20.044, 110.199),
    "50": ("重庆市", 29.563, 106.551), "51": ("成都市", 30.573, 104.066), "52": ("贵阳市", 26.647, 106.630),
    "53": ("昆明市", 24.880, 102.833), "54": ("拉萨市", 29.652, 91.172), "61": ("西安市", 34.342, 108.940),
    "62": ("兰州市", 36.061, 103.834), "63": ("西宁市", 36.617, 101.778), "64": ("银川市", 38.487, 106.231),
    "65": ("乌鲁木齐市", 43.826, 87.617),
}


class GeocodeError(Exception):
    """The geocoder gave no point; the message is a Chinese sentence (no address in it)."""


class AddressNotFound(GeocodeError):
    """The service answered, but knows no such address (the next address may well be found)."""


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    precision: str  # the service's level (门址, 道路, 区县 …) or how the point was chosen
    source: str  # 天地图, 缓存, 用人单位已知位置, 地区中心


class Geocoder(Protocol):
    name: str

    def locate(self, address: str) -> Place: ...


class Tianditu:
    """天地图 geocoding (地理编码) over HTTPS with the city's key."""

    name = "天地图"

    def __init__(self, key: str, url: str = TIANDITU_URL, timeout_s: float = 5.0) -> None:
        self.key, self.url, self.timeout_s = key, url, timeout_s

    def locate(self, address: str) -> Place:
        import requests

        try:
            response = requests.get(self.url, params={"ds": json.dumps({"keyWord": address}, ensure_ascii=False),
                                                      "tk": self.key}, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise GeocodeError(f"连不上地址解析服务（{type(exc).__name__}）") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            if response.status_code >= 500:
                raise GeocodeError(f"地址解析服务暂时不可用（HTTP {response.status_code}），稍后可重新定位")
            raise GeocodeError(f"地址解析服务的答复无法识别（HTTP {response.status_code}）")
        if "status" not in data:
            raise GeocodeError("地址解析服务拒绝了请求（密钥无效、权限不符或额度用完），请检查 hub.toml 的 [geocoder] key")
        if str(data["status"]) != "0" or not isinstance(data.get("location"), dict):
            raise AddressNotFound("地址解析服务没有找到这个地址")
        location = data["location"]
        try:
            lat, lon = float(location["lat"]), float(location["lon"])
        except (KeyError, TypeError, ValueError):
            raise GeocodeError("地址解析服务的答复缺少坐标") from None
        return Place(lat, lon, str(location.get("level") or "未知"), self.name)


PROVIDERS: dict[str, type[Any]] = {"tianditu": Tianditu}


def _settings(home: str | Path) -> dict[str, Any]:
    config = Path(home) / "hub.toml"
    if config.exists():
        try:
            return dict(tomllib.loads(config.read_text(encoding="utf-8")).get("geocoder", {}))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return {}
    return {}


# 天地图's web-Mercator tiles (WMTS, ``_w``): the map and its labels, on servers t0 … t7.
TIANDITU_TILES = [f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                  f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
                  f"&TILECOL={{x}}&tk={{key}}" for layer in ("vec", "cva")]


def map_tiles(home: str | Path) -> list[str]:
    """Tile address templates for the job form's map picker ({x}, {y}, {z}, {s} for the server):
    天地图's with ``[geocoder] tiles_key`` (a browser key), or ``tiles_url`` (one or a list);
    [] when neither is set (no picker: the coordinates are typed or placed from the address)."""
    settings = _settings(home)
    urls = os.environ.get("YIZHAN_MAP_TILES_URL") or settings.get("tiles_url")
    if urls:
        return [str(u) for u in (urls if isinstance(urls, list) else [urls])]
    key = str(settings.get("tiles_key", ""))
    return [t.replace("{key}", key) for t in TIANDITU_TILES] if key else []


def from_settings(home: str | Path) -> Geocoder | None:
    """The configured geocoder, or None when no key is set (positions then fall back, flagged)."""
    settings = _settings(home)
    url = os.environ.get("YIZHAN_GEOCODER_URL") or settings.get("url") or TIANDITU_URL
    key = os.environ.get("YIZHAN_GEOCODER_KEY") or settings.get("key") or ""
    provider = PROVIDERS.get(str(settings.get("provider", "tianditu")))
    if not key or provider is None:
        return None
    geocoder: Geocoder = provider(str(key), str(url), float(settings.get("timeout_s", 5.0)))
    return geocoder


@dataclass
class Resolver:
    """Positions for one form or import: cache first, then the geocoder (given up for the rest
    of the batch after it fails to answer), then the employer's known position, then the region."""

    engine: Engine
    geocoder: Geocoder | None
    regions: list[str]
    now: str
    _down: str = ""
    _known: dict[str, Place] = field(default_factory=dict)  # employers placed earlier in this batch
    _missing: dict[str, str] = field(default_factory=dict)  # addresses the service did not find

    def prefetch(self, addresses: Iterable[str], *, workers: int = 8, budget_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> int:
        """Ask for every address not in the cache yet, ``workers`` at a time after a first one
        alone (a service that is down costs one request), within ``budget_s`` for the lot: an
        import of thousands of new addresses neither waits for them one by one nor holds the
        page for ever. Those not asked in time are placed by :meth:`locate`'s fallback, flagged.
        Returns how many were found."""
        from hub.console.schema import geocode_cache

        keys = list(dict.fromkeys(a.strip()[:200] for a in addresses if a and a.strip()))
        if self.geocoder is None or self._down or not keys:
            return 0
        cached: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                cached.update(conn.execute(sa.select(geocode_cache.c.address).where(
                    geocode_cache.c.address.in_(keys[start:start + 500]))).scalars())
        todo = [k for k in keys if k not in cached]
        deadline, found = clock() + budget_s, 0
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="geocode") as pool:
            start = 0
            while start < len(todo) and not self._down:
                if clock() > deadline:
                    self._down = (f"地址解析服务没能在 {budget_s:.0f} 秒内答完这批地址（已定位 {found} 个），"
                                  "其余的稍后在修改页清空经纬度即可重新定位")
                    break
                wave = todo[start:start + (1 if start == 0 else workers)]
                start += len(wave)
                answers = list(pool.map(self._ask, wave))
                self._store({key: place for key, place in answers if isinstance(place, Place)})
                found += sum(isinstance(place, Place) for _key, place in answers)
        return found

    def _ask(self, key: str) -> tuple[str, Place | str]:
        """(address, its place or why not); a failure other than 'not found' stops the batch."""
        assert self.geocoder is not None
        try:
            return key, self.geocoder.locate(key)
        except AddressNotFound as exc:
            self._missing[key] = str(exc)
            return key, str(exc)
        except GeocodeError as exc:
            self._down = self._down or str(exc)
            return key, str(exc)

    def _store(self, places: dict[str, Place]) -> None:
        """Into the cache, in one short write (never held across a request to the service)."""
        from hub.console.schema import geocode_cache

        if not places:
            return
        with writing(self.engine) as conn:
            known = set(conn.execute(sa.select(geocode_cache.c.address).where(
                geocode_cache.c.address.in_(list(places)))).scalars())
            rows = [{"address": key, "latitude": p.latitude, "longitude": p.longitude, "precision": p.precision,
                     "source": p.source, "at": self.now} for key, p in places.items() if key not in known]
            if rows:
                conn.execute(geocode_cache.insert(), rows)

    def locate(self, address: str, employer: str) -> tuple[Place, str]:
        """(the place, a 位置待核实 reason or "")."""
        from hub.console.schema import geocode_cache

        key = address.strip()[:200]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(geocode_cache).where(geocode_cache.c.address == key)).first()
        if row is not None:
            found = Place(row.latitude, row.longitude, row.precision, "缓存")
            self._known.setdefault(employer, found)
            return found, ""
        if self.geocoder is None:
            reason = "没有配置地址解析服务"
        elif key in self._missing:
            reason = self._missing[key]
        elif self._down:
            reason = self._down
        else:
            _key, answer = self._ask(key)
            if isinstance(answer, Place):
                self._store({key: answer})
                self._known.setdefault(employer, answer)
                return answer, ""
            reason = answer
        return self._fallback(employer), f"{CHECK_FLAG}：{reason}"

    def employer_site(self, employer: str) -> tuple[Place, str] | None:
        """A registered employer's own placed position and address, for a job given no address."""
        from hub.console.schema import employers

        if not employer:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(employers.c.latitude, employers.c.longitude, employers.c.address).where(
                employers.c.name == employer, employers.c.latitude.is_not(None), employers.c.geo_flag == "",
                employers.c.address != "").order_by(employers.c.id.desc())).first()
        if row is None:
            return None
        return Place(row.latitude, row.longitude, "用人单位地址", "用人单位"), str(row.address)

    def _fallback(self, employer: str) -> Place:
        from hub.console.schema import employers, items

        if employer in self._known:
            known = self._known[employer]
            return Place(known.latitude, known.longitude, "用人单位已知位置", "用人单位已知位置")
        if employer:
            with self.engine.connect() as conn:
                spot = conn.execute(sa.select(employers.c.latitude, employers.c.longitude).where(
                    employers.c.name == employer, employers.c.latitude.is_not(None), employers.c.geo_flag == "")
                    .order_by(employers.c.id.desc())).first()
            if spot is not None:
                return Place(spot.latitude, spot.longitude, "用人单位已知位置", "用人单位已知位置")
            needle = f'"employer":{json.dumps(employer, ensure_ascii=False)}'
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(items.c.data).where(
                    items.c.kind == "job", items.c.geo_flag == "", items.c.data.contains(needle, autoescape=True))
                    .order_by(items.c.id.desc()).limit(20)).all()
            for (data,) in rows:
                known = json.loads(data)
                if known.get("employer") == employer and "latitude" in known:
                    return Place(known["latitude"], known["longitude"], "用人单位已知位置", "用人单位已知位置")
        for region in self.regions:
            centre = PROVINCE_CENTRES.get(region[:2])
            if centre:
                return Place(centre[1], centre[2], f"地区中心（{centre[0]}）", "地区中心")
        name, lat, lon = PROVINCE_CENTRES["11"]
        return Place(lat, lon, f"地区中心（{name}）", "地区中心")
