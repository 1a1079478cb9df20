"""进度查询: a resident asks, from the phone page, how their registration is being followed up.

They type the receipt code from the slip and the last four digits of the phone they gave; the
answer is only the follow-up state (已受理 / 已联系 / 已推荐 / 已就业) and the station's phone:
no name, no ID number, nothing else. An unknown code and wrong digits get the same answer. A
purged registration is not found (its phone is gone with it).

Wrong tries are counted per client address and per code in the console's throttle table
(``hub.console.throttle``: every gunicorn worker sees the same counts); after
:data:`WRONG_TRIES` within the hour the key is refused until :data:`LOCK` has passed since
its last wrong try, and a refused attempt looks nothing up. Each lookup is logged with its
outcome, the registering station and a short digest of the code, never the code, the digits
or anything of the person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
import math
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, request

from hub.console import throttle
from hub.console.hubdata import refresh, upload_payloads
from hub.console.schema import login_throttle, registrations
from hub.mobile.pages import PROGRESS_PATH, station_index

log = logging.getLogger("yizhan.hub.progress")

WRONG_TRIES = 10
LOCK = dt.timedelta(minutes=30)
CODE_RE = re.compile(r"^[A-Z0-9]{4,16}$")
SHOWN_STATE = {"待跟进": "已受理", "无需跟进": "已受理", "已联系": "已联系", "已推荐": "已推荐", "已就业": "已就业"}

bp = Blueprint("mobile_progress", __name__)

_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>登记进度查询</title>
<style>body{{margin:0;font:18px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f6f8}}
main{{padding:1em;max-width:40em;margin:0 auto}}h1{{font-size:1.4em}}
.card{{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:.8em 1em}}
.state{{font-size:1.6em;font-weight:bold;color:#1b7f3b}}a{{color:#0b4f8a}}</style>
</head>
<body>
<main>
<h1>登记进度查询</h1>
<div class="card" role="status">{body}</div>
<p>用手机的“返回”回到上一页，可以继续看岗位。</p>
</main>
</body>
</html>
"""


def init_progress(app: Flask) -> None:
    """Register ``POST /m/progress`` on the hub app (the console must be set up first)."""
    app.register_blueprint(bp)


def _code_key(code: str) -> throttle.Key:
    return throttle.Key(hashlib.sha256(f"progress-code:{code}".encode()).hexdigest(), LOCK)


def _address_key(address: str) -> throttle.Key:
    return throttle.Key(hashlib.sha256(f"progress-addr:{address}".encode()).hexdigest(), LOCK)


def _digest(code: str) -> str:
    return hashlib.sha256(f"receipt:{code}".encode()).hexdigest()[:10]


def wait_seconds(engine: Any, keys: list[throttle.Key], now: dt.datetime) -> int:
    """Seconds before any of ``keys`` may try again (0: now)."""
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(login_throttle)
                                 .where(login_throttle.c.key_sha256.in_([k.digest for k in keys]))))
    wait = 0.0
    for row in rows:
        if row.failures >= WRONG_TRIES:
            wait = max(wait, (dt.datetime.fromisoformat(row.last_failed_at) + LOCK - now).total_seconds())
    return math.ceil(wait) if wait > 0 else 0


def _answer(body: str, status: int = 200) -> Response:
    response = Response(_PAGE.format(body=body), status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _station_phone(feeds: Path, station_id: str) -> tuple[str, str]:
    """The station's name and public phone from the phone pages' station index."""
    found = station_index(feeds).get(station_id, {})
    return str(found.get("name", "")), str(found.get("hotline", ""))


def find_state(engine: Any, vault: Any, code: str, phone4: str) -> tuple[str, str] | None:
    """The follow-up state shown and the station of the registration with ``code`` whose
    phone ends in ``phone4`` (None: no such registration, or purged)."""
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(registrations.c.upload_id, registrations.c.station_id,
                                           registrations.c.status)
                                 .where(registrations.c.code == code, registrations.c.purged_at.is_(None))))
        payloads = upload_payloads(conn, [r.upload_id for r in rows], vault) if rows else {}
    for row in rows:
        person = payloads.get(row.upload_id, {}).get("person") or {}
        digits = re.sub(r"\D", "", str(person.get("phone", "")))
        if len(digits) >= 4 and digits[-4:] == phone4:
            return SHOWN_STATE.get(row.status, "已受理"), row.station_id
    return None


@bp.post(PROGRESS_PATH)
def lookup() -> Response:
    ctx = current_app.extensions["console"]
    now = ctx.now()
    code = re.sub(r"[\s-]", "", request.form.get("code", "")).upper()[:40]
    phone4 = request.form.get("phone4", "").strip()
    if not CODE_RE.match(code):
        return _answer("<p>回执码应是登记回执上的 4 到 16 位字母或数字，请对照回执重新输入。</p>", 400)
    if not re.fullmatch(r"[0-9]{4}", phone4):
        return _answer("<p>手机号后四位应是 4 个数字。</p>", 400)
    keys = [_address_key(request.remote_addr or ""), _code_key(code)]
    wait = wait_seconds(ctx.engine, keys, now)
    if wait:
        log.info("进度查询 refused: too many wrong tries (code #%s)", _digest(code))
        minutes = max(1, math.ceil(wait / 60))
        response = _answer(f"<p>输错次数太多，请 {minutes} 分钟后再查，或直接联系登记的站点。</p>", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    refresh(ctx.engine, ctx.vault)
    found = find_state(ctx.engine, ctx.vault, code, phone4)
    if found is None:
        throttle.record_failure(ctx.engine, keys, now)
        log.info("进度查询 not found (code #%s)", _digest(code))
        return _answer("<p>没有查到：回执码或手机号后四位不对，请对照登记回执再试。</p>", 404)
    state, station_id = found
    log.info("进度查询 answered %s for station %s (code #%s)", state, station_id, _digest(code))
    name, phone = _station_phone(ctx.feeds_dir, station_id)
    digits = re.sub(r"[^0-9+]", "", phone)
    call = (f'<p>{html.escape(name)}电话：<a href="tel:{html.escape(digits)}">{html.escape(phone)}</a></p>'
            if digits else "<p>如有疑问，请联系登记的站点。</p>")
    return _answer(f'<p>您的登记目前：</p><p class="state">{html.escape(state)}</p>{call}')
