"""The hub console: the web application a city or county employment bureau's staff use every day.

Blueprints over the hub's app factory (``hub.app.create_app`` calls
:func:`init_console`), mounted at ``/console/``: authoring and import of content
(``views_content``), review, publishing (``views_publish``), station supervision
(``views_fleet``), registrations with follow-up and hand-off (``views_registrations``) and
人岗匹配 (``views_matching``),
the 服务台账 and 服务成效表 (``views_reports``), users and the audit log
(``views_admin``). Every route states its permission with ``@requires(...)``; every form
carries a CSRF token (Flask-WTF); the console's tables are in ``schema`` and migrate
with the hub database (``hub.db``).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException

from hub.console import schema  # noqa: F401  (registers the console's migrations)
from hub.console.core import Clock, Console, console, requires, utc_now
from hub.db import make_engine, migrate, sqlite_url

URL_PREFIX = "/console"
SECRET_NAME = "console.secret"
DEFAULT_BUREAU = "就业服务中心"

home_bp = Blueprint("console_home", __name__, static_folder="static", template_folder="templates",
                    static_url_path="/static")
csrf = CSRFProtect()

# No inline script anywhere (behaviour is in static/*.js); styles may be inline (style="…").
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: Flask-WTF checks the Referer of forms posted over HTTPS.
    "Referrer-Policy": "same-origin",
}


class _SessionCookies(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over HTTPS (directly, or
    through the trusted proxy: ``hub.limits.TrustedProxy``)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def _secret(home: Path) -> bytes:
    """The key that signs session cookies: made once per hub home, private to its owner."""
    path = home / SECRET_NAME
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def init_console(app: Flask, home: str | Path, feeds_dir: str | Path, *, engine: Engine | None = None,
                 clock: Clock | None = None, bureau: str | None = None) -> Console:
    """Mount the console on the hub app and migrate its tables."""
    from hub.console import (
        auth,
        views_admin,
        views_content,
        views_fleet,
        views_matching,
        views_publish,
        views_registrations,
        views_reports,
    )

    home = Path(home)
    engine = engine or app.extensions.get("hub_engine") or make_engine(sqlite_url(home))
    app.extensions.setdefault("hub_engine", engine)
    migrate(engine)
    store = app.extensions.get("hub_store")
    ctx = Console(engine=engine, home=home, feeds_dir=Path(feeds_dir), clock=clock or utc_now,
                  vault=getattr(store, "vault", None))
    app.extensions["console"] = ctx
    from hub.care import install as install_care
    from hub.console.throttle import api_token_wait, record_api_token_failure

    # remote care's station API and the per-station count of refused tokens
    install_care(app, (api_token_wait, record_api_token_failure))
    from hub.console.geocode import from_settings, map_tiles

    app.extensions["console_geocoder"] = from_settings(home)  # None: positions fall back, flagged
    app.extensions["console_map_tiles"] = map_tiles(home)  # []: the job form has no map picker
    app.secret_key = app.secret_key or _secret(home)
    app.config.update(SESSION_COOKIE_NAME="yizhan_console", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_PATH=URL_PREFIX,
                      WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None,
                      CONSOLE_BUREAU=bureau or app.config.get("CONSOLE_BUREAU", DEFAULT_BUREAU))
    app.session_interface = _SessionCookies()
    app.after_request(_security_headers)
    csrf.init_app(app)
    blueprints = [home_bp, auth.bp, views_content.bp, views_publish.bp, views_fleet.bp, views_registrations.bp,
                  views_matching.bp, views_reports.bp, views_admin.bp]
    for bp in blueprints:
        # Blueprints are module-level objects shared by every app in the process: set them up once.
        if not bp._got_registered_once:
            bp.before_request(_before)
            bp.register_error_handler(HTTPException, _error_page)
            bp.register_error_handler(CSRFError, _csrf_error)
        app.register_blueprint(bp, url_prefix=URL_PREFIX)
    app.context_processor(_template_context)
    # An address under /console that no page answers: the console's own page, not the hub's JSON.
    for code in (404, 405):
        app.register_error_handler(code, _outside_pages)
    app.add_template_filter(_localtime, "localtime")
    from hub.console.names import HELPERS

    for name, helper in HELPERS.items():
        app.add_template_global(helper, name)
    return ctx


def _security_headers(response: Response) -> Response:
    """Every answer: no framing, no sniffing, no inline script; console pages (they show
    personal data) are never stored by a browser or a proxy."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith(URL_PREFIX + "/") and not request.path.startswith(URL_PREFIX + "/static/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    return response


def _before() -> None:
    from hub.console.auth import load_user

    if request.endpoint == "console_home.static":
        # Stylesheets, scripts and icons are the same for everyone: they never touch the
        # session store (no read, no last-seen write), so a busy database cannot fail them.
        return
    if request.method == "POST":
        csrf.protect()
    load_user()


def _template_context() -> dict[str, Any]:
    if not request.path.startswith(URL_PREFIX):
        return {}
    from flask import current_app

    from hub.console.schema import items

    pending = 0
    user = g.get("user")
    if user is not None and user.can("content.review"):
        with console().engine.begin() as conn:
            pending = conn.execute(sa.select(sa.func.count()).select_from(items)
                                   .where(items.c.state == "pending")).scalar_one()
    endpoint = request.endpoint or ""
    nav_key = endpoint
    if endpoint.startswith("console_content.item"):
        nav_key = (request.view_args or {}).get("kind") or request.args.get("kind", "job")
    elif endpoint.startswith("console_fleet.") and endpoint != "console_fleet.versions":
        nav_key = "console_fleet.stations"
    elif endpoint.startswith("console_regs.reg_"):
        nav_key = "console_regs.reg_list"
    elif endpoint.startswith("console_publish.review_"):
        nav_key = "console_publish.review_list"
    elif endpoint.startswith("console_publish.") and endpoint != "console_publish.board":
        nav_key = "console_publish.overview"
    return {"bureau": current_app.config["CONSOLE_BUREAU"], "pending_count": pending, "nav_key": nav_key}


def _localtime(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not value:
        return "—"
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone().strftime(fmt)


_TITLES = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "页面不存在", 405: "不支持的操作",
           413: "文件太大", 500: "系统错误"}


def _error_page(exc: HTTPException) -> Any:
    code = exc.code or 500
    message = {400: "提交的内容不完整或有误，请返回上一页检查后重试。",
               403: "您的角色无权访问此页面或执行此操作。如需开通，请联系管理员。",
               404: "您要找的页面或内容不存在，可能已被删除，或网址有误。",
               405: "这个页面不支持这种操作，请从菜单进入后再试。",
               413: "上传的文件超过了大小上限。",
               500: "系统内部出错，本次操作可能没有完成。请稍后重试；如果反复出现，请联系管理员（出错时间已记录）。"
               }.get(code, "请求没有成功，请返回上一页后重试。")
    if any("\u4e00" <= ch <= "\u9fff" for ch in str(exc.description or "")):
        message = str(exc.description)  # a view's own Chinese reason
    if g.get("user") is None:
        return render_template("console/login.html", error=message), code
    return render_template("console/error.html", code=code, title=_TITLES.get(code, "出错了"), message=message), code


def _outside_pages(exc: HTTPException) -> Any:
    """404/405 for an address no blueprint answers: under /console the console's page (the user
    loaded as on any console page), elsewhere the hub's own error answer."""
    from flask import current_app

    if request.path == URL_PREFIX or request.path.startswith(URL_PREFIX + "/"):
        if request.blueprint is None:
            from hub.console.auth import load_user

            load_user()
        return _error_page(exc)
    hub_handler = current_app.error_handler_spec.get(None, {}).get(None, {}).get(HTTPException)
    return hub_handler(exc) if hub_handler else exc


def _csrf_error(exc: CSRFError) -> Any:
    message = "页面已过期或表单校验失败（CSRF），请刷新页面后重试。"
    if g.get("user") is None:
        return render_template("console/login.html", error=message), 400
    return render_template("console/error.html", code=400, title="表单已失效", message=message), 400


@home_bp.get("/")
@requires("console.view")
def dashboard() -> Any:
    from hub.console.hubdata import refresh
    from hub.console.publishing import groups, plan
    from hub.console.schema import items, publications, registrations
    from hub.console.views_fleet import fleet_summary

    ctx = console()
    if g.user.can("registrations.view"):
        refresh(ctx.engine, ctx.vault)  # 待跟进登记 counts what arrived, not what a page last folded
    with ctx.engine.begin() as conn:
        count = lambda t, *w: conn.execute(sa.select(sa.func.count()).select_from(t).where(*w)).scalar_one()  # noqa: E731
        today = ctx.now().astimezone().date()
        stations, alerts = fleet_summary(conn, ctx.now())
        unpublished = 0
        if g.user.can("publish"):
            for group in groups(conn):
                p = plan(conn, group.feed_id, today)
                unpublished += p.added + p.changed + p.removed
        s = {"stations": stations, "alerts": alerts,
             "pending": count(items, items.c.state == "pending"),
             "rejected": count(items, items.c.state == "rejected", items.c.author == g.user.username),
             "live_jobs": count(items, items.c.kind == "job", items.c.live_digest.is_not(None),
                                sa.or_(items.c.live_until.is_(None), items.c.live_until >= today.isoformat())),
             "follow": count(registrations, registrations.c.status == "待跟进", registrations.c.purged_at.is_(None)),
             "unpublished": unpublished,
             "publications": list(conn.execute(sa.select(publications).order_by(publications.c.id.desc()).limit(8)))}
    return render_template("console/dashboard.html", s=s)


def start_scheduler(app: Flask, interval_s: float = 30.0) -> threading.Event:
    """Every ``interval_s`` run due scheduled publications, and once a day purge registrations
    past the retention limit; set the returned event to stop. Every hub process may run one
    (``yizhan hub serve`` its own, each gunicorn worker its own): jobs are claimed in the
    database, so each runs exactly once per hub however many schedulers poll."""
    ctx: Console = app.extensions["console"]
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(interval_s):
            try:
                run_scheduled(ctx)
            except Exception:  # a failed round is recorded per schedule; keep ticking
                app.logger.exception("scheduled console round failed")

    threading.Thread(target=tick, name="console-scheduler", daemon=True).start()
    return stop


def run_scheduled(ctx: Console) -> None:
    """One scheduler round: due publications, then today's retention purge if nobody ran it yet."""
    from hub.console.handoff import purge_expired
    from hub.console.publishing import claim_daily, run_due

    run_due(ctx.engine, ctx.home, ctx.feeds_dir, ctx.now())
    if claim_daily(ctx.engine, "daily_purge", ctx.now().astimezone().date()):
        purge_expired(ctx.engine, ctx.retention_days, "定时清除", ctx.now(), vault=ctx.vault)
