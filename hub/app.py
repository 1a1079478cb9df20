"""The hub's web application (Flask), served by waitress.

Routes (the contract is ``content/PROTOCOL.md``):

- ``GET /feeds/<name>/<path>``: the files of a published feed, with werkzeug's conditional
  responses (ETag, If-None-Match, If-Modified-Since) and byte ranges (206).
- ``POST /api/v1/{registrations,events,proof-of-play,heartbeats}``: batches of uploads,
  bearer token per station, idempotent by key.
- ``GET /feeds/<name>/m/…``: the feed's phone pages (``hub.mobile``), kept 5 minutes by browsers;
  ``POST /m/progress``: their 进度查询 (``hub.mobile.progress``).
- ``GET /console/status``: a read-only status page of the stations (``/`` leads there);
  ``GET /console/status.json`` (and ``/api/v1/status``) the same as JSON; both for logged-in
  console staff only (the page sends others to the console's login, the JSON answers 401).
- ``/console/``: the bureau's console (``hub.console``), logged-in staff only.

Uploads are checked from their headers before the body is read (``hub.limits``,
installed in waitress by :class:`HubServer` and :func:`serve_forever`). The home folder is
resolved against the working directory once, here, and kept private (0700; files 0600).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template_string,
    request,
    send_from_directory,
)
from waitress.server import create_server
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from common.cells import clean_tree
from common.clock import age_of, utc_now
from hub.limits import UploadGuard, behind_proxy_setting, guard_server, json_depth_ok, trust_proxy
from hub.storage import MAX_BATCH, UPLOAD_KINDS, HubStore

IMMUTABLE_MAX_AGE = 365 * 24 * 3600
PHONE_MAX_AGE = 300
MOBILE_LINK = "m"  # hub.mobile's pages beside each feed
STATUS_PAGE_PATH = "/console/status"
STATUS_JSON = "/console/status.json"
DB_NAME = "hub.db"
FEEDS_DIR = "feeds"


def secure_home(home: str | Path) -> Path:
    """The hub home as an absolute path, made private: the folder 0700, the database 0600.
    (Flask resolves a relative folder against its package, not the working directory: a
    relative home must never reach it.)"""
    home = Path(home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", "feed.key"):
        if (home / name).exists():
            os.chmod(home / name, 0o600)
    return home


def create_app(home: str | Path, *, feeds_dir: str | Path | None = None, database_url: str | None = None,
               clock: Callable[[], float] = time.monotonic, console_clock: Any = None,
               behind_proxy: bool | None = None) -> Flask:
    """The hub application for a hub home folder (``hub.db``, ``feeds/<name>/``).

    ``database_url`` (else ``$YIZHAN_HUB_DATABASE_URL``, else ``[hub] database_url`` in
    ``HOME/hub.toml``, else ``HOME/hub.db``) chooses SQLite or PostgreSQL. ``clock`` drives
    the upload rate limits, ``console_clock`` (UTC datetimes) the console's sessions,
    login delays and schedules (tests pass their own). ``behind_proxy`` (else
    ``$YIZHAN_HUB_BEHIND_PROXY``, else ``[hub] behind_proxy`` in ``HOME/hub.toml``, else no):
    the hub runs behind the shipped nginx site and believes one hop of X-Forwarded-For and
    X-Forwarded-Proto (:func:`hub.limits.trust_proxy`)."""
    home = secure_home(home)
    feeds = Path(feeds_dir).expanduser().resolve() if feeds_dir else home / FEEDS_DIR
    store = HubStore.for_home(home, database_url)
    secure_home(home)  # the database files exist now
    app = Flask("hub")
    # Ids in paths are database integers: a bigger number is a 404, never an overflow (500).
    app.url_map.converters["int"] = BoundedInt
    app.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["hub_store"] = store
    guard = UploadGuard(store.station_for_token, clock=clock)
    app.extensions["upload_guard"] = guard
    from hub.console import init_console

    console = init_console(app, home, feeds, engine=store.engine, clock=console_clock)
    from hub.mobile.progress import init_progress

    init_progress(app)  # 进度查询 from the phone pages
    if behind_proxy if behind_proxy is not None else behind_proxy_setting(home):
        trust_proxy(app)

    @app.get("/feeds/<name>/<path:path>")
    def feed_file(name: str, path: str) -> Response:
        return _feed_file(feeds, name, path)

    @app.post("/api/v1/<endpoint>")
    def upload(endpoint: str) -> Response | tuple[Response, int]:
        kind = UPLOAD_KINDS.get(endpoint)
        if kind is None:
            return _error(404, f"no upload endpoint {endpoint!r}; use one of {', '.join(UPLOAD_KINDS)}")
        station_id = _authenticated_station(store)
        if station_id is None:
            return _refuse_token(store, console.now())
        items = _read_batch(endpoint, guard.limit_for(endpoint))
        if isinstance(items, tuple):
            return items
        # Control characters never reach the store (a bell in a name broke every XLSX export).
        results = store.ingest(station_id, kind, clean_tree(items))
        return jsonify({"station": station_id, "results": results})

    @app.get("/api/v1/whoami")
    def whoami() -> Response | tuple[Response, int]:
        """An authenticated no-op: a station (``yizhan doctor``) learns whether its token is known."""
        station_id = _authenticated_station(store)
        if station_id is None:
            response = _error(401, "missing or unknown station token (Authorization: Bearer <token>)")
            response.headers["WWW-Authenticate"] = 'Bearer realm="yizhan-hub"'
            return response, 401
        return jsonify({"station": station_id})

    _status_routes(app, store, feeds)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"ok": True})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        code = exc.code or 500
        return _error(code, exc.description or exc.name), code

    return app


def _status_routes(app: Flask, store: HubStore, feeds: Path) -> None:
    # The stations' status is for console staff: the console's session cookie is sent under
    # /console/ only, so that is where it lives; the old addresses stay as ways to it.
    @app.get(STATUS_JSON)
    @app.get("/api/v1/status")
    def status_json() -> Response | tuple[Response, int]:
        if not _staff_session():
            return _error(401, f"站点状态只对管理后台的工作人员开放：登录后查看 {STATUS_JSON}"), 401
        return jsonify({"stations": [station_view(s) for s in store.stations()],
                        "feeds": _feeds_view(feeds)})

    @app.get("/")
    def home_page() -> Response:
        # Residents come in by the phone pages (/feeds/<feed>/m/), never here.
        return redirect(STATUS_PAGE_PATH)

    @app.get(STATUS_PAGE_PATH)
    def status_page() -> str | Response:
        if not _staff_session():
            return redirect(f"/console/login?next={STATUS_PAGE_PATH}")
        return render_template_string(STATUS_PAGE, stations=[station_view(s) for s in store.stations()],
                                      feeds=_feeds_view(feeds), now=_now_text())


def _feed_file(feeds: Path, name: str, path: str) -> Response:
    folder = feeds / name
    if not folder.is_dir() or name.startswith("."):
        abort(404)
    # The manifest must be revalidated every time; items and media are named by their hash;
    # the phone pages (hub.mobile) may be kept a few minutes.
    immutable = path.startswith(("items/", "media/"))
    phone = path.startswith((f"{MOBILE_LINK}/", "mobile/"))
    if phone and path.endswith("/"):
        path += "index.html"
    response = send_from_directory(folder, path, conditional=True, etag=True,
                                   max_age=IMMUTABLE_MAX_AGE if immutable else PHONE_MAX_AGE if phone else 0)
    if immutable:
        response.cache_control.immutable = True
    return response


def _staff_session() -> bool:
    """A console user who may see the fleet is logged in on this request (the console's session)."""
    from hub.console.auth import load_user

    load_user()
    user = g.get("user")
    return user is not None and not user.must_change_password and user.can("fleet.view")


def _refuse_token(store: HubStore, now: dt.datetime) -> tuple[Response, int]:
    """401 for a missing or unknown token, or 429 once its address has had too many. (Under
    waitress the guard refused already; under gunicorn the count is in the database, so that
    every worker sees the same one.)"""
    from hub.console.throttle import api_token_wait, record_api_token_failure

    address = request.remote_addr or ""
    wait = api_token_wait(store.engine, address, now)
    if wait:
        response = _error(429, f"too many refused tokens from this address; retry in {wait} s")
        response.headers["Retry-After"] = str(wait)
        return response, 429
    record_api_token_failure(store.engine, address, now)
    response = _error(401, "missing or unknown station token (Authorization: Bearer <token>)")
    response.headers["WWW-Authenticate"] = 'Bearer realm="yizhan-hub"'
    return response, 401


class BoundedInt(IntegerConverter):
    """``<int:…>`` in a route: at most 2**31 - 1 (the console's ids are INTEGER columns), so that
    a huge id is not found instead of overflowing the database driver."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _error(code: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = code
    return response


def _read_batch(endpoint: str, limit: int) -> list[Any] | tuple[Response, int]:
    """The items of an upload request's batch, or the error response that refuses it."""
    if request.content_length is None:
        return _error(411, "uploads must carry Content-Length"), 411
    if request.content_length > limit:
        return _error(413, f"{endpoint} accepts at most {limit} bytes per request with Content-Length"), 413
    data = request.get_data(cache=False)
    if not json_depth_ok(data):
        return _error(400, "the JSON body nests too deep"), 400
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return _error(400, 'the body must be JSON {"items": [{"key", "created_at", "payload"}, ...]}'), 400
    items = body["items"]
    if not 1 <= len(items) <= MAX_BATCH:
        return _error(400, f"a batch holds 1 to {MAX_BATCH} items, got {len(items)}"), 400
    return items


def _authenticated_station(store: HubStore) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return store.station_for_token(token.strip())


def _now_text() -> str:
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")


def station_view(station: Any) -> dict[str, Any]:
    beat = station.heartbeat or {}
    devices = beat.get("devices") if isinstance(beat.get("devices"), dict) else {}
    health = []
    for name, state in sorted(devices.items()):
        if isinstance(state, dict):
            ok, detail = bool(state.get("ok")), str(state.get("detail", ""))
        else:
            ok, detail = str(state) in ("ok", "正常"), str(state)
        health.append({"device": str(name), "ok": ok, "detail": detail[:80]})
    stale = True
    if station.last_heartbeat_at:
        try:
            then = dt.datetime.fromisoformat(station.last_heartbeat_at)
            if then.tzinfo is None:
                then = then.replace(tzinfo=dt.UTC)
            stale = (dt.datetime.now(dt.UTC) - then).total_seconds() > 3600
        except ValueError:
            pass
    return {
        "id": station.id,
        "name": station.name or beat.get("station_name", ""),
        "last_heartbeat_at": station.last_heartbeat_at,
        "last_heartbeat": age_of(station.last_heartbeat_at, utc_now())[0],
        "stale": stale,
        "feed_id": beat.get("feed_id"),
        "content_version": beat.get("content_version"),
        "outbox_depth": beat.get("outbox_depth"),
        "devices": health,
        # The station's own view of its feed (expired, records refused, media missing).
        "feed_problems": [str(p)[:160] for p in (beat.get("feed") or {}).get("problems", [])[:5]]
        if isinstance(beat.get("feed"), dict) else [],
        "counts": station.counts,
    }


def _feeds_view(feeds: Path) -> list[dict[str, Any]]:
    from protocol.feed import MANIFEST_NAME, Manifest, ManifestError

    out = []
    if not feeds.is_dir():
        return out
    for folder in sorted(p for p in feeds.iterdir() if p.is_dir()):
        path = folder / MANIFEST_NAME
        if not path.exists():
            continue
        try:
            manifest = Manifest.from_bytes(path.read_bytes())
        except ManifestError as exc:
            out.append({"name": folder.name, "error": str(exc)})
            continue
        out.append({"name": folder.name, "feed_id": manifest.feed_id, "version": manifest.version,
                    "generated_at": manifest.generated_at.isoformat(), "scope": manifest.scope.describe(),
                    "items": len(manifest.items), "media": len(manifest.media)})
    return out


STATUS_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>驿站联网状态</title>
<style>
 body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; margin: 1.5em; color: #1a1a1a; }
 table { border-collapse: collapse; width: 100%; margin-bottom: 2em; }
 th, td { border: 1px solid #999; padding: .4em .6em; text-align: left; vertical-align: top; }
 th { background: #e8eef5; }
 .bad { color: #a40000; font-weight: bold; } .ok { color: #0a5c0a; }
 small { color: #555; }
</style></head><body>
<h1>驿站联网状态</h1>
<p><small>更新于 {{ now }}，每分钟自动刷新（只读）</small></p>
<h2>发布的内容</h2>
<table><tr><th>名称</th><th>内容编号</th><th>版本</th><th>生成时间</th><th>范围</th><th>条目/媒体</th></tr>
{% for f in feeds %}
<tr><td>{{ f.name }}</td>{% if f.error %}<td colspan="5" class="bad">清单无法读取：{{ f.error }}</td>{% else %}
<td>{{ f.feed_id }}</td><td>{{ f.version }}</td><td>{{ f.generated_at }}</td><td>{{ f.scope }}</td>
<td>{{ f['items'] }} / {{ f.media }}</td>{% endif %}</tr>
{% else %}<tr><td colspan="6">尚未发布内容</td></tr>{% endfor %}
</table>
<h2>驿站</h2>
<table><tr><th>站点编号</th><th>名称</th><th>最后心跳</th><th>内容版本</th><th>设备状态</th><th>待上传</th>
<th>已收到</th></tr>
{% for s in stations %}
<tr><td>{{ s.id }}</td><td>{{ s.name }}</td>
<td class="{{ 'bad' if s.stale else 'ok' }}">{{ s.last_heartbeat }}</td>
<td>{% if s.content_version %}{{ s.feed_id }} 第 {{ s.content_version }} 版{% else %}—{% endif %}
{% for p in s.feed_problems %}<br><span class="bad">{{ p }}</span>{% endfor %}</td>
<td>{% for d in s.devices %}<span class="{{ 'ok' if d.ok else 'bad' }}">{{ d.device }}：{{ '正常' if d.ok else d.detail or '故障' }}</span><br>{% else %}—{% endfor %}</td>
<td>{{ s.outbox_depth if s.outbox_depth is not none else '—' }}</td>
<td>登记 {{ s.counts.get('registration', 0) }}，使用 {{ s.counts.get('event', 0) }}，播放 {{ s.counts.get('proof_of_play', 0) }}</td></tr>
{% else %}<tr><td colspan="7">还没有驿站（yizhan hub station add 编号）</td></tr>{% endfor %}
</table></body></html>
"""


class HubServer:
    """The hub app under waitress in a background thread (the demo, tests and benchmarks).

    ``yizhan hub serve`` runs the same server in the foreground.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 8,
                 guard: UploadGuard | None = None) -> None:
        guard = guard or find_guard(app)
        self.server = create_server(app, host=host, port=port, threads=threads, ident="yizhan-hub",
                                    asyncore_use_poll=True, channel_timeout=30,
                                    max_request_body_size=MAX_BODY, **_proxy_options(guard))
        if guard is not None:
            guard_server(self.server, guard)
        self.host = host
        self.port: int = int(self.server.effective_port)  # type: ignore[union-attr]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="yizhan-hub", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def _run(self) -> None:
        from waitress import wasyncore

        server = self.server
        while not self._stop.is_set():
            wasyncore.loop(timeout=0.1, map=server._map, use_poll=True, count=1)  # type: ignore[union-attr]
        # Close everything from the loop's own thread: no channel is touched by two threads.
        for channel in list(server._map.values()):  # type: ignore[union-attr]
            channel.close()
        server.task_dispatcher.shutdown(timeout=2)  # type: ignore[union-attr]

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            # OSError: the loop saw the flag first and has already closed the trigger.
            with contextlib.suppress(OSError):
                self.server.pull_trigger()  # type: ignore[union-attr]
            self._thread.join(timeout=10)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


MAX_BODY = 8 * 1024 * 1024  # waitress's own limit (its default is 1 GiB); endpoints have smaller ones


def _proxy_options(guard: UploadGuard | None) -> dict[str, Any]:
    """waitress drops X-Forwarded-* headers by default; behind the proxy the app's ProxyFix
    (:func:`hub.limits.trust_proxy`) must see them."""
    return {"clear_untrusted_proxy_headers": not (guard is not None and guard.behind_proxy)}


def find_guard(app: Any) -> UploadGuard | None:
    """The upload guard of a hub app, also through WSGI middleware that keeps it as ``.app``."""
    for _ in range(5):
        extensions = getattr(app, "extensions", None)
        if isinstance(extensions, dict) and isinstance(extensions.get("upload_guard"), UploadGuard):
            return extensions["upload_guard"]
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


def serve_forever(app: Any, host: str = "127.0.0.1", port: int = 8080, threads: int = 8) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM (uploads guarded as in :class:`HubServer`;
    a proxy's headers are believed only as :func:`hub.limits.trust_proxy` set up)."""
    guard = find_guard(app)
    server = create_server(app, host=host, port=port, threads=threads, ident="yizhan-hub", channel_timeout=30,
                           max_request_body_size=MAX_BODY, **_proxy_options(guard))
    if guard is not None:
        guard_server(server, guard)
    server.run()
