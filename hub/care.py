"""Remote care of stations without a visit: signed settings records, log collection, bad tokens.

Console staff with 站点运维 change a station's non-secret settings (and its staff PIN, sent
only as an argon2id hash) as a **settings record**: ``{"format": SETTINGS_FORMAT,
"station_id", "version", "issued_at", "settings": {"section.key": value}}``, canonical JSON
signed by the hub's online key (the key that signs manifests and release offers, PROTOCOL.md
§1.9), so a station verifies it with the trust it already keeps for its feed. ``version``
grows per station: a station applies only a higher one than it applied (no replay). The
station fetches its newest record (``GET /api/v1/care``), validates every key as its own
settings file would (``config.remote_care``), applies the good ones and reports back which
were applied and which refused with the reason (``POST /api/v1/care/settings-report``).

Log collection: the console asks for the last N journal lines (``request_logs``); the
station sees the request in the same ``GET /api/v1/care``, filters personal data out
(``common.privacy.scrub``) and uploads the text (``POST /api/v1/care/logs``), which the hub
scrubs once more before keeping it.

Bad tokens: a station names itself in ``X-Yizhan-Station`` beside its token; a refused token
is counted against that station (only an id the hub knows), which the fleet view raises as
令牌无效 until the station's next upload with a good token clears it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy.engine import Connection, Engine

from common.clock import utc_iso
from common.privacy import scrub
from hub.db import Migrations, register, writing

SETTINGS_FORMAT = "yizhan-station-settings/1"
STATION_HEADER = "X-Yizhan-Station"
MAX_LOG_LINES = 2000
MAX_LOG_BYTES = 512 * 1024

#: What the console may set at a station, with its Chinese label and type. Secrets (the upload
#: token, keys) and what could cut the station off its hub (addresses) are never here; the
#: station keeps its own list too (``config.remote_care.REMOTE_KEYS``) and refuses the rest.
REMOTE_KEYS: dict[str, tuple[str, type]] = {
    "station.name": ("站点名称", str),
    "station.address": ("地址", str),
    "station.hotline": ("咨询电话", str),
    "station.complaint_phone": ("投诉电话", str),
    "station.opening_hours": ("开放时间", str),
    "hub.sync_interval_s": ("同步间隔（秒）", int),
    "kiosk.idle_timeout_s": ("自助机无操作返回首页（秒）", int),
    "kiosk.countdown_s": ("返回前倒计时（秒）", int),
    "kiosk.elder_mode": ("长者模式", bool),
    "kiosk.read_aloud": ("朗读", bool),
    "screens.board_on": ("大屏开机时段", str),
    "screens.kiosk_on": ("自助机开机时段", str),
}
PIN_KEY = "kiosk.staff_pin_hash"

_meta = sa.MetaData()
settings_records = sa.Table(
    "care_settings", _meta,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("record", sa.Text, nullable=False),  # the signed bytes, as text
    sa.Column("signature", sa.String(200), nullable=False),
    sa.Column("shown", sa.Text, nullable=False),  # what the console shows: the PIN as 已更改
    sa.Column("by_user", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("fetched_at", sa.String(40)),
    sa.Column("reported_at", sa.String(40)),
    sa.Column("applied", sa.Text),  # JSON list of keys
    sa.Column("refused", sa.Text),  # JSON {key: reason}
    sa.UniqueConstraint("station_id", "version", name="care_settings_version"),
)
log_requests = sa.Table(
    "care_logs", _meta,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(64), nullable=False),
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("by_user", sa.String(64), nullable=False),
    sa.Column("requested_at", sa.String(40), nullable=False),
    sa.Column("uploaded_at", sa.String(40)),
    sa.Column("text", sa.Text),
    sa.Index("care_logs_by_station", "station_id", "id"),
)
token_failures = sa.Table(
    "care_token_failures", _meta,
    sa.Column("station_id", sa.String(64), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("first_at", sa.String(40), nullable=False),
    sa.Column("last_at", sa.String(40), nullable=False),
)


def _create(conn: Connection) -> None:
    _meta.create_all(conn)


MIGRATIONS = register(Migrations("hub.care", [_create]))


class CareError(Exception):
    """A care request that cannot be made; the message is Chinese, for the console."""


def _now(now: dt.datetime | None) -> str:
    return utc_iso(now) if now is not None else utc_iso()


# -- settings records (the console's side) ----------------------------------------------------

def coerce(key: str, text: str) -> Any:
    """A console field's text as the value the settings record carries; CareError names the field."""
    label, kind = REMOTE_KEYS[key]
    text = text.strip()
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise CareError(f"{label}：请填写整数（秒），收到“{text[:20]}”") from None
    if kind is bool:
        if text in ("是", "开", "true", "1"):
            return True
        if text in ("否", "关", "false", "0"):
            return False
        raise CareError(f"{label}：请选择“是”或“否”")
    return text


def hash_staff_pin(pin: str) -> str:
    """The staff PIN as the station keeps it (``kiosk.staff_pin_hash``: argon2id, the station's
    costs); the PIN itself never leaves the hub."""
    from argon2 import PasswordHasher, Type

    if not (pin.isascii() and pin.isdigit() and 6 <= len(pin) <= 12):
        raise CareError("工作人员密码须为 6 到 12 位数字")
    return PasswordHasher(time_cost=3, memory_cost=128 * 1024, parallelism=1, hash_len=32, salt_len=16,
                          type=Type.ID).hash(pin)


def issue_settings(engine: Engine, key: Any, station_id: str, settings: dict[str, Any], *, by_user: str,
                   now: dt.datetime | None = None) -> int:
    """Sign and keep the next settings record for a station; returns its version."""
    from protocol.feed import canonical_json, sign_manifest

    unknown = [k for k in settings if k not in REMOTE_KEYS and k != PIN_KEY]
    if unknown:
        raise CareError(f"这些设置不能远程修改：{', '.join(unknown)}")
    if not settings:
        raise CareError("没有要修改的设置：请至少填写一项")
    at = _now(now)
    shown = {k: ("已更改" if k == PIN_KEY else v) for k, v in settings.items()}
    with writing(engine) as conn:
        version = int(conn.execute(sa.select(sa.func.max(settings_records.c.version))
                                   .where(settings_records.c.station_id == station_id)).scalar() or 0) + 1
        record = canonical_json({"format": SETTINGS_FORMAT, "station_id": station_id, "version": version,
                                 "issued_at": at, "settings": settings})
        signature = sign_manifest(record, key).decode("ascii").strip()
        conn.execute(settings_records.insert().values(
            station_id=station_id, version=version, record=record.decode("utf-8"), signature=signature,
            shown=json.dumps(shown, ensure_ascii=False), by_user=by_user, created_at=at))
    return version


def settings_history(conn: Connection, station_id: str, limit: int = 10) -> list[dict[str, Any]]:
    s = settings_records
    rows = conn.execute(sa.select(s).where(s.c.station_id == station_id).order_by(s.c.version.desc()).limit(limit))
    out = []
    for r in rows:
        applied = json.loads(r.applied) if r.applied else []
        refused = json.loads(r.refused) if r.refused else {}
        if r.reported_at is None:
            state = "驿站已获取，等待回报" if r.fetched_at else "等待驿站获取"
        elif refused:
            state = "部分被拒绝" if applied else "被拒绝"
        else:
            state = "已应用"
        out.append({"version": r.version, "shown": json.loads(r.shown), "by": r.by_user, "at": r.created_at,
                    "reported_at": r.reported_at, "applied": applied, "refused": refused, "state": state,
                    "superseded": False})
    return out


def label(key: str) -> str:
    return "工作人员密码" if key == PIN_KEY else REMOTE_KEYS.get(key, (key, str))[0]


# -- log collection (the console's side) ------------------------------------------------------

def request_logs(engine: Engine, station_id: str, lines: int, *, by_user: str, now: dt.datetime | None = None) -> int:
    if not 1 <= lines <= MAX_LOG_LINES:
        raise CareError(f"日志行数须在 1 到 {MAX_LOG_LINES} 之间")
    with writing(engine) as conn:
        result = conn.execute(log_requests.insert().values(station_id=station_id, lines=lines, by_user=by_user,
                                                           requested_at=_now(now)))
        return int(result.inserted_primary_key[0])


def log_history(conn: Connection, station_id: str, limit: int = 5) -> list[Any]:
    q = log_requests
    return list(conn.execute(sa.select(q).where(q.c.station_id == station_id).order_by(q.c.id.desc()).limit(limit)))


def log_entry(conn: Connection, station_id: str, request_id: int) -> Any:
    q = log_requests
    return conn.execute(sa.select(q).where(q.c.station_id == station_id, q.c.id == request_id)).first()


# -- bad tokens -------------------------------------------------------------------------------

def note_bad_token(engine: Engine, claimed: str | None, now: dt.datetime | None = None) -> None:
    """Count a refused token against the station it claims to be (a known id only)."""
    from hub.storage import STATION_RE, stations_table

    if not claimed or not STATION_RE.match(claimed):
        return
    at = _now(now)
    t = token_failures
    with writing(engine) as conn:
        if conn.execute(sa.select(stations_table.c.id).where(stations_table.c.id == claimed)).first() is None:
            return
        if conn.execute(t.update().where(t.c.station_id == claimed).values(count=t.c.count + 1, last_at=at)).rowcount:
            return
        conn.execute(t.insert().values(station_id=claimed, count=1, first_at=at, last_at=at))


def heard_well(engine: Engine, station_id: str) -> None:
    """The station was heard with its good token: its refused-token count is cleared."""
    t = token_failures
    with engine.connect() as conn:
        if conn.execute(sa.select(t.c.station_id).where(t.c.station_id == station_id)).first() is None:
            return
    with writing(engine) as conn:
        conn.execute(t.delete().where(t.c.station_id == station_id))


def bad_tokens(conn: Connection) -> dict[str, Any]:
    """Each station's refused-token count and last time."""
    return {r.station_id: r for r in conn.execute(sa.select(token_failures))}


# -- the station's side of the API ------------------------------------------------------------

bp = Blueprint("hub_care", __name__)


def install(app: Flask, throttle: tuple[Callable[[Engine, str, dt.datetime], int],
                                      Callable[[Engine, str, dt.datetime], None]]) -> None:
    """Mount the station's side of care on a hub app, and count refused tokens per station
    (the upload guard refuses before the app under waitress; the app itself elsewhere).
    ``throttle``: the upload API's wait and count of refused tokens per address (the console's
    ``api_token_wait`` and ``record_api_token_failure``), which care's requests share."""
    store = app.extensions.get("hub_store")
    if store is None:
        return
    app.extensions["care_throttle"] = throttle
    app.register_blueprint(bp)
    guard = app.extensions.get("upload_guard")
    if guard is not None:
        guard.on_refused = lambda claimed: note_bad_token(store.engine, claimed)


@bp.after_app_request
def _count_refused(response: Response) -> Response:
    if not request.path.startswith("/api/v1/"):
        return response
    store = current_app.extensions["hub_store"]
    if response.status_code == 401:
        note_bad_token(store.engine, request.headers.get(STATION_HEADER))
    elif response.status_code == 200 and request.method == "POST":
        station_id = _token_station(store)
        if station_id is not None:
            heard_well(store.engine, station_id)
    return response


def _token_station(store: Any) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return store.station_for_token(token.strip())


def _station() -> str | Response | tuple[Response, int]:
    """The station the request's token belongs to, or the refusal: 401, or 429 once its address
    has had too many (counted as the upload API counts them, in the database)."""
    store = current_app.extensions["hub_store"]
    station_id = _token_station(store)
    if station_id is not None:
        return station_id
    wait_for, record_failure = current_app.extensions["care_throttle"]
    now, address = dt.datetime.now(dt.UTC), request.remote_addr or ""
    wait = wait_for(store.engine, address, now)
    if wait:
        response = jsonify({"error": f"too many refused tokens from this address; retry in {wait} s"})
        response.headers["Retry-After"] = str(wait)
        return response, 429
    record_failure(store.engine, address, now)
    response = jsonify({"error": "missing or unknown station token (Authorization: Bearer <token>)"})
    response.headers["WWW-Authenticate"] = 'Bearer realm="yizhan-hub"'
    return response, 401


def _body(limit: int) -> dict[str, Any] | None:
    if request.content_length is None or request.content_length > limit:
        return None
    try:
        body = json.loads(request.get_data(cache=False))
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _bad(message: str, code: int = 400) -> tuple[Response, int]:
    return jsonify({"error": message}), code


@bp.get("/api/v1/care")
def care_orders() -> Any:
    """What the hub asks of this station: its newest settings record and an open log request."""
    station_id = _station()
    if not isinstance(station_id, str):
        return station_id
    engine = current_app.extensions["hub_store"].engine
    s, q = settings_records, log_requests
    with writing(engine) as conn:
        record = conn.execute(sa.select(s).where(s.c.station_id == station_id)
                              .order_by(s.c.version.desc()).limit(1)).first()
        if record is not None and record.fetched_at is None:
            conn.execute(s.update().where(s.c.id == record.id).values(fetched_at=utc_iso()))
        wanted = conn.execute(sa.select(q.c.id, q.c.lines).where(q.c.station_id == station_id,
                                                                 q.c.uploaded_at.is_(None))
                              .order_by(q.c.id.desc()).limit(1)).first()
    return jsonify({
        "settings": {"record": record.record, "signature": record.signature} if record is not None else None,
        "logs": {"id": int(wanted.id), "lines": int(wanted.lines)} if wanted is not None else None,
    })


@bp.post("/api/v1/care/settings-report")
def settings_report() -> Any:
    station_id = _station()
    if not isinstance(station_id, str):
        return station_id
    body = _body(64 * 1024)
    if body is None or not isinstance(body.get("version"), int) or not isinstance(body.get("applied"), list) \
            or not isinstance(body.get("refused"), dict):
        return _bad('the body must be JSON {"version": N, "applied": [keys], "refused": {key: reason}}')
    applied = [str(k)[:64] for k in body["applied"]][:50]
    refused = {str(k)[:64]: scrub(str(v))[:300] for k, v in list(body["refused"].items())[:50]}
    s = settings_records
    with writing(current_app.extensions["hub_store"].engine) as conn:
        done = conn.execute(s.update().where(s.c.station_id == station_id, s.c.version == body["version"])
                            .values(reported_at=utc_iso(), applied=json.dumps(applied, ensure_ascii=False),
                                    refused=json.dumps(refused, ensure_ascii=False))).rowcount
    if not done:
        return _bad(f"no settings record {body['version']} for this station", 404)
    return jsonify({"ok": True})


@bp.post("/api/v1/care/logs")
def logs_upload() -> Any:
    station_id = _station()
    if not isinstance(station_id, str):
        return station_id
    body = _body(MAX_LOG_BYTES + 4096)
    if body is None or not isinstance(body.get("id"), int) or not isinstance(body.get("text"), str):
        return _bad(f'the body must be JSON {{"id": N, "text": "..."}} of at most {MAX_LOG_BYTES} bytes', 400)
    q = log_requests
    text = scrub(body["text"])[:MAX_LOG_BYTES]  # masked again: the hub keeps no personal data from a log
    with writing(current_app.extensions["hub_store"].engine) as conn:
        done = conn.execute(q.update().where(q.c.station_id == station_id, q.c.id == body["id"],
                                             q.c.uploaded_at.is_(None))
                            .values(uploaded_at=utc_iso(), text=text)).rowcount
    if not done:
        return _bad(f"no open log request {body['id']} for this station", 404)
    return jsonify({"ok": True})
