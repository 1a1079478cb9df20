"""Console pages for station supervision (督导): every station's state and alerts, a station's
history, adding a station (its upload token is shown once).

Permissions: ``fleet.view`` to look, ``fleet.manage`` to add or remove stations.
Alerts come from the newest heartbeat each station sent (``content.outbox.record_heartbeat``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.engine import Connection

from common.clock import age_of
from hub.console.core import audit, console, requires
from hub.console.hubdata import read_payload, recent_uploads, station_row, station_rows
from hub.console.views_content import page_args

bp = Blueprint("console_fleet", __name__)
PER_PAGE = 30
OFFLINE_AFTER = dt.timedelta(hours=1)
STALE_AFTER = dt.timedelta(hours=6)
LOW_DISK_MB = 500
ALERTS = {"offline": "离线", "paper": "缺纸", "printer": "打印机故障", "reader": "读卡器故障", "stale": "内容未更新",
          "media": "媒体下载失败", "disk": "磁盘空间不足"}


@dataclass
class StationState:
    id: str
    name: str
    last_heartbeat_at: str | None
    age_text: str
    feed_id: str = ""
    content_version: int | None = None
    latest_version: int | None = None
    outbox_depth: int | None = None
    printer: str = "—"
    reader: str = "—"
    disk_free_mb: int | None = None
    alerts: list[str] = field(default_factory=list)


_MANIFESTS: dict[Path, tuple[tuple[int, int], str, int, dt.datetime]] = {}


def _published_versions(feeds_dir: Path) -> dict[str, tuple[int, dt.datetime]]:
    """Each feed's published version and time, read from its manifest. A province's manifest
    lists thousands of shards: it is parsed again only when the file changes."""
    from protocol.feed import MANIFEST_NAME, Manifest, ManifestError

    out: dict[str, tuple[int, dt.datetime]] = {}
    if feeds_dir.is_dir():
        for folder in feeds_dir.iterdir():
            path = folder / MANIFEST_NAME
            try:
                st = path.stat()
            except OSError:
                continue
            stamp = (st.st_mtime_ns, st.st_size)
            cached = _MANIFESTS.get(path)
            if cached is None or cached[0] != stamp:
                try:
                    m = Manifest.from_bytes(path.read_bytes())
                except (ManifestError, OSError):
                    continue
                cached = (stamp, m.feed_id, m.version, m.generated_at)
                _MANIFESTS[path] = cached
            out[cached[1]] = (cached[2], cached[3])
    return out


def _device(devices: dict[str, Any], *names: str) -> tuple[bool | None, str]:
    for name in names:
        state = devices.get(name)
        if isinstance(state, dict):
            return bool(state.get("ok")), str(state.get("detail", ""))[:40]
        if isinstance(state, str):
            return state in ("ok", "正常", "online"), state[:40]
    return None, ""


def station_state(row: Any, now: dt.datetime, published: dict[str, tuple[int, dt.datetime]]) -> StationState:
    try:
        beat = read_payload(row.heartbeat) if row.heartbeat else {}
    except ValueError:
        beat = {}
    text, age = age_of(row.last_heartbeat_at, now, never="从未联网")
    st = StationState(id=row.id, name=row.name or str(beat.get("station_name", ""))[:40],
                      last_heartbeat_at=row.last_heartbeat_at, age_text=text)
    if age is None or age > OFFLINE_AFTER:
        st.alerts.append("offline")
    st.feed_id = str(beat.get("feed_id") or "")
    version = beat.get("content_version")
    st.content_version = version if isinstance(version, int) else None
    depth = beat.get("outbox_depth")
    st.outbox_depth = depth if isinstance(depth, int) else None
    devices = beat.get("devices") if isinstance(beat.get("devices"), dict) else {}
    ok, detail = _device(devices, "printer")
    if ok is not None:
        st.printer = "正常" if ok else (detail or "故障")
        if not ok:
            st.alerts.append("paper" if ("纸" in detail or "paper" in detail.lower()) else "printer")
    ok, detail = _device(devices, "idcard", "reader")
    if ok is not None:
        st.reader = "正常" if ok else {"offline": "未连接", "error": "故障"}.get(detail, detail or "故障")
        if not ok:
            st.alerts.append("reader")
    latest = published.get(st.feed_id)
    if latest:
        st.latest_version = latest[0]
        behind = st.content_version is None or st.content_version < latest[0]
        if behind and now - latest[1] > STALE_AFTER:
            st.alerts.append("stale")
    media_ok, _ = _device(devices, "media")
    if media_ok is False or (isinstance(beat.get("media_failed"), int) and beat["media_failed"] > 0):
        st.alerts.append("media")
    disk = beat.get("disk_free_mb")
    if isinstance(disk, int | float):
        st.disk_free_mb = int(disk)
        if disk < LOW_DISK_MB:
            st.alerts.append("disk")
    return st


def fleet_summary(conn: Connection, now: dt.datetime) -> tuple[int, int]:
    published = _published_versions(console().feeds_dir)
    states = [station_state(r, now, published) for r in station_rows(conn)]
    return len(states), sum(1 for s in states if s.alerts)


@bp.get("/stations")
@requires("fleet.view")
def stations() -> Any:
    ctx = console()
    now = ctx.now()
    q, alert = request.args.get("q", "").strip(), request.args.get("alert", "")
    published = _published_versions(ctx.feeds_dir)
    with ctx.engine.begin() as conn:
        states = [station_state(r, now, published) for r in station_rows(conn)]
    counts = {k: sum(1 for s in states if k in s.alerts) for k in ALERTS}
    if q:
        states = [s for s in states if q in s.id or q in s.name]
    if alert == "any":
        states = [s for s in states if s.alerts]
    elif alert in ALERTS:
        states = [s for s in states if alert in s.alerts]
    page = page_args()
    total = len(states)
    shown = states[(page - 1) * PER_PAGE: page * PER_PAGE]
    return render_template("console/stations.html", states=shown, total=total, page=page, counts=counts,
                           pages=max(1, math.ceil(total / PER_PAGE)), args={"q": q, "alert": alert}, alerts=ALERTS,
                           all_count=len(states) if not (q or alert) else None)


@bp.get("/stations/<station_id>")
@requires("fleet.view")
def station_detail(station_id: str) -> Any:
    ctx = console()
    with ctx.engine.begin() as conn:
        row = station_row(conn, station_id)
        if row is None:
            abort(404)
        beats = recent_uploads(conn, station_id, ("heartbeat",), limit=30)
    state = station_state(row, ctx.now(), _published_versions(ctx.feeds_dir))
    history = []
    for b in beats:
        p = read_payload(b.payload)
        devices = p.get("devices") if isinstance(p.get("devices"), dict) else {}
        history.append({"at": b.received_at, "created": b.created_at, "version": p.get("content_version"),
                        "depth": p.get("outbox_depth"),
                        "devices": "；".join(f"{_DEVICE_NAMES.get(k, k)}：{'正常' if (v.get('ok') if isinstance(v, dict) else v == 'ok') else ((v.get('detail') if isinstance(v, dict) else v) or '故障')}"
                                            for k, v in sorted(devices.items()))})
    return render_template("console/station.html", s=state, row=row, history=history, alerts=ALERTS,
                           raw=json.dumps(read_payload(row.heartbeat) if row.heartbeat else {}, ensure_ascii=False,
                                          indent=1)[:3000])


_DEVICE_NAMES = {"printer": "打印机", "idcard": "读卡器", "reader": "读卡器", "media": "媒体"}


@bp.route("/stations/new", methods=["GET", "POST"])
@requires("fleet.manage")
def station_new() -> Any:
    from hub.storage import HubError

    token = None
    station_id = ""
    if request.method == "POST":
        station_id = request.form.get("station_id", "").strip()
        name = request.form.get("name", "").strip()[:80]
        try:
            token = current_app.extensions["hub_store"].add_station(station_id, name)
        except HubError:
            flash("驿站编号只能由字母、数字、点、下划线或连字符组成，且不能与已有驿站重复", "error")
            return render_template("console/station_new.html", token=None, station_id=station_id), 400
        audit("新增驿站", station_id)
    return render_template("console/station_new.html", token=token, station_id=station_id)


@bp.post("/stations/<station_id>/remove")
@requires("fleet.manage")
def station_remove(station_id: str) -> Any:
    from hub.storage import HubError

    try:
        current_app.extensions["hub_store"].remove_station(station_id)
    except HubError:
        abort(404)
    audit("移除驿站", station_id)
    flash(f"驿站 {station_id} 已移除，其上传令牌立即失效")
    return redirect(url_for("console_fleet.stations"))
