"""Console pages for station supervision (督导): every station's state and alerts, a station's
history, the software versions across the fleet (版本分布), adding a station (its upload
token is shown once), and remote care (settings records, log collection: :mod:`hub.care`).

Permissions: ``fleet.view`` to look, ``fleet.manage`` to add or remove stations, to withdraw a
release and for remote care (站点运维). Alerts come from the newest heartbeat each station sent
(``content.outbox.record_heartbeat``) and, for 令牌无效, from the tokens the hub refused to a
station that named itself (:func:`hub.care.note_bad_token`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.engine import Connection

from common.clock import age_of, duration_text
from hub import care
from hub.console.core import audit, console, requires
from hub.console.hubdata import read_payload, recent_uploads, station_row, station_rows
from hub.console.views_content import page_args

bp = Blueprint("console_fleet", __name__)
PER_PAGE = 30
SILENT_INTERVALS = 3  # a station silent longer than this many of its sync intervals is 离线
DEFAULT_INTERVAL_S = 300  # hub.sync_interval_s's default, for a heartbeat that does not say
CLOCK_TOLERANCE_S = 120
STALE_AFTER = dt.timedelta(hours=6)
LOW_DISK_MB = 500
ALERTS = {"offline": "离线", "upgrade": "升级失败/已回滚", "clock": "时钟偏差", "token": "令牌无效", "paper": "缺纸",
          "printer": "打印机故障", "reader": "读卡器故障", "stale": "内容未更新", "media": "媒体下载失败",
          "disk": "磁盘空间不足"}
UPGRADE_RESULTS = {"ok": "升级成功", "rolled_back": "已回滚", "failed": "升级失败"}


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
    software_version: str = ""
    upgrade: dict[str, str] | None = None  # the last upgrade: version, result (Chinese), detail, at
    clock_offset_s: int | None = None
    clock_text: str = "—"
    uptime_text: str = "—"
    failed_media: int | None = None
    interval_s: int = DEFAULT_INTERVAL_S
    token_refused: int = 0
    token_refused_at: str | None = None
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


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def clock_text(offset_s: int | None) -> str:
    """A station's clock against the hub's, in words: ``快 5 分钟``, ``慢 3 小时``, ``准确``."""
    if offset_s is None:
        return "—"
    if abs(offset_s) <= 2:
        return "准确"
    return f"{'快' if offset_s > 0 else '慢'} {duration_text(abs(offset_s))}"


def _upgrade(last: Any) -> dict[str, str] | None:
    if not isinstance(last, dict) or not last.get("result"):
        return None
    result = str(last.get("result"))
    return {"version": str(last.get("version") or "")[:40], "code": result,
            "result": UPGRADE_RESULTS.get(result, result[:20]), "detail": str(last.get("detail") or "")[:300],
            "at": str(last.get("at") or "")}


def _health(st: StationState, beat: dict[str, Any]) -> None:
    """The heartbeat's health fields (``content.health``), read into the state and its alerts."""
    st.software_version = str(beat.get("software_version") or "")[:40]
    st.upgrade = _upgrade(beat.get("last_upgrade"))
    if st.upgrade and st.upgrade["code"] in ("rolled_back", "failed"):
        st.alerts.append("upgrade")
    st.clock_offset_s = _int(beat.get("clock_offset_s"))
    st.clock_text = clock_text(st.clock_offset_s)
    if st.clock_offset_s is not None and abs(st.clock_offset_s) > CLOCK_TOLERANCE_S:
        st.alerts.append("clock")
    uptime = _int(beat.get("uptime_s"))
    st.uptime_text = duration_text(uptime) if uptime is not None else "—"
    st.failed_media = _int(beat.get("failed_media"))
    interval = _int(beat.get("sync_interval_s"))
    st.interval_s = interval if interval and interval > 0 else DEFAULT_INTERVAL_S


def station_state(row: Any, now: dt.datetime, published: dict[str, tuple[int, dt.datetime]],
                  refused: dict[str, Any] | None = None) -> StationState:
    """One station's state and alerts (``refused``: :func:`hub.care.bad_tokens`)."""
    try:
        beat = read_payload(row.heartbeat) if row.heartbeat else {}
    except ValueError:
        beat = {}
    text, age = age_of(row.last_heartbeat_at, now, never="从未联网")
    st = StationState(id=row.id, name=row.name or str(beat.get("station_name", ""))[:40],
                      last_heartbeat_at=row.last_heartbeat_at, age_text=text)
    _health(st, beat)
    if age is None or age > dt.timedelta(seconds=SILENT_INTERVALS * st.interval_s):
        st.alerts.append("offline")
    bad = (refused or {}).get(row.id)
    if bad is not None:  # kept until the station's next upload with its good token
        st.token_refused, st.token_refused_at = int(bad.count), bad.first_at
        st.alerts.append("token")
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
    if media_ok is False or (st.failed_media or 0) > 0 or (_int(beat.get("media_failed")) or 0) > 0:
        st.alerts.append("media")
    disk = beat.get("free_disk_mb", beat.get("disk_free_mb"))
    if isinstance(disk, int | float) and not isinstance(disk, bool):
        st.disk_free_mb = int(disk)
        if disk < LOW_DISK_MB:
            st.alerts.append("disk")
    return st


def fleet_states(conn: Connection, now: dt.datetime) -> list[StationState]:
    """Every station's state, computed now from what the hub holds."""
    published = _published_versions(console().feeds_dir)
    refused = care.bad_tokens(conn)
    return [station_state(r, now, published, refused) for r in station_rows(conn)]


def fleet_summary(conn: Connection, now: dt.datetime) -> tuple[int, int]:
    states = fleet_states(conn, now)
    return len(states), sum(1 for s in states if s.alerts)


@bp.get("/stations")
@requires("fleet.view")
def stations() -> Any:
    ctx = console()
    now = ctx.now()
    q, alert = request.args.get("q", "").strip(), request.args.get("alert", "")
    with ctx.engine.begin() as conn:
        states = fleet_states(conn, now)
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
        refused = care.bad_tokens(conn)
        settings = care.settings_history(conn, station_id)
        logs = care.log_history(conn, station_id)
    state = station_state(row, ctx.now(), _published_versions(ctx.feeds_dir), refused)
    history = []
    for b in beats:
        p = read_payload(b.payload)
        devices = p.get("devices") if isinstance(p.get("devices"), dict) else {}
        history.append({"at": b.received_at, "created": b.created_at, "version": p.get("content_version"),
                        "software": str(p.get("software_version") or "—")[:40],
                        "clock": clock_text(_int(p.get("clock_offset_s"))),
                        "depth": p.get("outbox_depth"), "devices": _devices_text(devices)})
    return render_template("console/station.html", s=state, row=row, history=history, alerts=ALERTS,
                           settings=settings, logs=logs, remote_keys=care.REMOTE_KEYS, label=care.label,
                           max_log_lines=care.MAX_LOG_LINES)


_DEVICE_NAMES = {"printer": "打印机", "idcard": "读卡器", "reader": "读卡器", "media": "媒体", "audio": "声音"}


def _devices_text(devices: dict[str, Any]) -> str:
    def one(v: Any) -> str:
        ok = v.get("ok") if isinstance(v, dict) else v == "ok"
        return "正常" if ok else str((v.get("detail") if isinstance(v, dict) else v) or "故障")[:60]

    return "；".join(f"{_DEVICE_NAMES.get(k, '其他设备')}：{one(v)}" for k, v in sorted(devices.items()))


# -- 版本分布 ------------------------------------------------------------------------------------

@dataclass
class VersionRow:
    version: str
    stations: list[StationState] = field(default_factory=list)
    rolled_back: list[StationState] = field(default_factory=list)  # tried this version, went back
    offers: list[str] = field(default_factory=list)  # the live offers of it, in words


def _live_offers(feeds_dir: Path) -> list[dict[str, Any]]:
    from hub.releases import ReleasePublishError, read_offers

    out = []
    for folder in sorted(feeds_dir.iterdir()) if feeds_dir.is_dir() else ():
        try:
            out += [dict(o, feed=folder.name) for o in read_offers(folder)]
        except ReleasePublishError:
            continue
    return out


def version_distribution(states: list[StationState], offers: list[dict[str, Any]]
                         ) -> tuple[list[VersionRow], list[tuple[StationState, str]]]:
    """Stations per software version (newest first), and the stations behind the newest offer
    made to them, each with the version it waits for."""
    from hub.releases import audience_text, offer_for, version_order

    rows: dict[str, VersionRow] = {}
    names = {st.id: st.name for st in states if st.name}
    for st in states:
        rows.setdefault(st.software_version or "未知", VersionRow(st.software_version or "未知")).stations.append(st)
        if st.upgrade and st.upgrade["code"] in ("rolled_back", "failed") and st.upgrade["version"]:
            rows.setdefault(st.upgrade["version"], VersionRow(st.upgrade["version"])).rolled_back.append(st)
    for offer in offers:
        rows.setdefault(str(offer["version"]), VersionRow(str(offer["version"]))).offers.append(
            f"{'试点' if offer['name'] != 'general' else '正式'}发布“{offer['name']}”：{audience_text(offer, names)}")
    behind = []
    document = {"offers": offers}
    for st in states:
        offer = offer_for(document, st.id, version_order) if offers else None
        if offer is None or not st.software_version:
            continue
        if version_order(st.software_version) < version_order(str(offer["version"])):
            wanted = str(offer["version"])
            if st.upgrade and st.upgrade["code"] != "ok" and st.upgrade["version"] == wanted:
                wanted += "（已回滚，驿站不会再自动试这个版本）"
            behind.append((st, wanted))

    def order(row: VersionRow) -> tuple:
        return (row.version != "未知", version_order(row.version) if row.version != "未知" else ())

    return sorted(rows.values(), key=order, reverse=True), behind


@bp.get("/stations/versions")
@requires("fleet.view")
def versions() -> Any:
    ctx = console()
    with ctx.engine.begin() as conn:
        states = fleet_states(conn, ctx.now())
    offers = _live_offers(ctx.feeds_dir)
    rows, behind = version_distribution(states, offers)
    names = {st.id: st.name for st in states if st.name}

    def audience(offer: dict[str, Any]) -> str:
        from hub.releases import audience_text

        return audience_text(offer, names)

    return render_template("console/versions.html", rows=rows, behind=behind, offers=offers, total=len(states),
                           audience=audience)


@bp.post("/stations/versions/withdraw")
@requires("fleet.manage")
def withdraw() -> Any:
    from hub.publish import load_key_file
    from hub.releases import ReleasePublishError, withdraw_release

    ctx = console()
    feed, name = request.form.get("feed", ""), request.form.get("name", "")
    folder = ctx.feeds_dir / feed
    if not feed or feed.startswith(".") or "/" in feed or not folder.is_dir():
        abort(404)
    try:
        gone = withdraw_release(folder, load_key_file(ctx.key_path), name)
    except ReleasePublishError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console_fleet.versions"))
    for offer in gone:
        audit("撤回软件版本", feed, f"{offer['name']}：版本 {offer['version']}")
    flash("已撤回：" + "、".join(f"版本 {o['version']}（{o['name']}）" for o in gone) + "。已下载的驿站不受影响。")
    return redirect(url_for("console_fleet.versions"))


# -- remote care -------------------------------------------------------------------------------

def _known_station(station_id: str) -> Any:
    """The console, once ``station_id`` is a station of this hub (404 otherwise)."""
    ctx = console()
    with ctx.engine.begin() as conn:
        if station_row(conn, station_id) is None:
            abort(404)
    return ctx


@bp.post("/stations/<station_id>/settings")
@requires("fleet.manage")
def station_settings(station_id: str) -> Any:
    from hub.publish import load_key_file

    ctx = _known_station(station_id)
    changes: dict[str, Any] = {}
    try:
        for key in care.REMOTE_KEYS:
            text = request.form.get(key, "")
            if text.strip():
                changes[key] = care.coerce(key, text)
        pin = request.form.get("staff_pin", "").strip()
        if pin:
            changes[care.PIN_KEY] = care.hash_staff_pin(pin)
        version = care.issue_settings(ctx.engine, load_key_file(ctx.key_path), station_id, changes,
                                      by_user=_username(), now=ctx.now())
    except care.CareError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console_fleet.station_detail", station_id=station_id) + "#care")
    audit("远程修改驿站设置", station_id, "、".join(care.label(k) for k in changes))
    flash(f"第 {version} 份设置已签发，驿站下次同步时获取并回报结果")
    return redirect(url_for("console_fleet.station_detail", station_id=station_id) + "#care")


@bp.post("/stations/<station_id>/logs")
@requires("fleet.manage")
def station_logs_request(station_id: str) -> Any:
    ctx = _known_station(station_id)
    try:
        lines = int(request.form.get("lines", "200"))
    except ValueError:
        lines = 0
    try:
        care.request_logs(ctx.engine, station_id, lines, by_user=_username(), now=ctx.now())
    except care.CareError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console_fleet.station_detail", station_id=station_id) + "#care")
    audit("收集驿站日志", station_id, f"{lines} 行")
    flash(f"已请驿站上传最近 {lines} 行日志（个人信息已过滤），驿站下次同步时上传")
    return redirect(url_for("console_fleet.station_detail", station_id=station_id) + "#care")


@bp.get("/stations/<station_id>/logs/<int:request_id>")
@requires("fleet.manage")
def station_log(station_id: str, request_id: int) -> Any:
    ctx = console()
    with ctx.engine.begin() as conn:
        row = station_row(conn, station_id)
        entry = care.log_entry(conn, station_id, request_id)
    if row is None or entry is None:
        abort(404)
    return render_template("console/station_log.html", row=row, entry=entry)


def _username() -> str:
    from flask import g

    return g.user.username


@bp.route("/stations/new", methods=["GET", "POST"])
@requires("fleet.manage")
def station_new() -> Any:
    from hub.storage import HubError

    token = None
    station_id = name = feed = ""
    groups = _feed_groups()
    if request.method == "POST":
        station_id = request.form.get("station_id", "").strip()
        name = request.form.get("name", "").strip()[:80]
        feed = request.form.get("feed", "")
        if feed not in groups:
            feed = ""
        try:
            token = current_app.extensions["hub_store"].add_station(station_id, name)
        except HubError:
            flash("驿站编号只能由字母、数字、点、下划线或连字符组成，且不能与已有驿站重复", "error")
            return render_template("console/station_new.html", token=None, station_id=station_id,
                                   groups=groups, settings=None), 400
        audit("新增驿站", station_id)
    settings = station_settings_file(station_id, name, feed, token) if token else None
    return render_template("console/station_new.html", token=token, station_id=station_id, groups=groups,
                           settings=settings)


def _feed_groups() -> dict[str, str]:
    """The hub's feed groups (id -> title), the console's own first, then feeds published without one."""
    from hub.console.schema import feed_groups

    ctx = console()
    with ctx.engine.connect() as conn:
        groups = {r.feed_id: r.title or r.feed_id for r in conn.execute(feed_groups.select().order_by(feed_groups.c.feed_id))}
    if ctx.feeds_dir.is_dir():
        for folder in sorted(ctx.feeds_dir.iterdir()):
            if folder.is_dir() and not folder.name.startswith(".") and folder.name not in groups:
                groups[folder.name] = folder.name
    return groups


def station_settings_file(station_id: str, name: str, feed: str, token: str) -> str:
    """The new station's settings file (station.toml) as the installer takes it: its id and name,
    where its feed and uploads are, the key it checks the feed with, and its token (shown once)."""
    from hub.keys import ROOT_PUBLIC_NAME
    from hub.publish import PUBLIC_NAME

    home = Path(console().home)
    key_file = home / ROOT_PUBLIC_NAME if (home / ROOT_PUBLIC_NAME).exists() else home / PUBLIC_NAME
    public_key = key_file.read_text(encoding="utf-8").strip() if key_file.exists() else ""
    base = request.url_root  # the address this page was opened at: the hub as the stations reach it
    lines = ["# 驿站设置文件：安装时 yizhan install --config station.toml；已安装的驿站放在 /etc/yizhan/station.toml",
             "[station]", f"id = {_toml(station_id)}", f"name = {_toml(name or station_id)}", "", "[hub]",
             f"feed_url = {_toml(f'{base}feeds/{feed}/')}" if feed else "# feed_url = \"（选择内容分组后填写）\"",
             f"upload_url = {_toml(base + 'api/v1/')}",
             f"public_key = {_toml(public_key)}" if public_key else "# public_key = \"（中心平台尚未生成密钥：hub keygen）\"",
             f"station_token = {_toml(token)}"]
    return "\n".join(lines) + "\n"


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
