"""Console users: argon2 password hashes, throttled login, sessions that expire, password change.

A session is a random token in Flask's signed cookie and a row in ``console_sessions``
(only the token's SHA-256 is stored), so logout and expiry hold on the server: idle for
``session_idle`` or older than ``session_max`` and it is gone. Failed logins are throttled
per client address and per name typed with growing delays (``throttle``), never locked; every
failure (unknown user, disabled, wrong password) gets one answer, :data:`LOGIN_FAILED`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy.engine import Engine

from hub.console import throttle
from hub.console.core import ROLES, User, audit, audit_engine, console, iso, requires, utc_now
from hub.console.schema import sessions, users
from hub.db import writing

bp = Blueprint("console_auth", __name__)
_hasher = PasswordHasher()
MIN_PASSWORD = 8


class UserError(ValueError):
    """A user account request that cannot be done; the message is for staff (Chinese)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 位")
    if password.isdigit() or password.isalpha():
        raise UserError("密码须同时包含字母和数字")


def create_user(engine: Engine, username: str, password: str, roles: list[str], display_name: str = "",
                *, must_change: bool = False, now: dt.datetime | None = None) -> int:
    username = username.strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").isalnum():
        raise UserError("用户名只能由字母、数字、下划线或点组成（1-64 位）")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise UserError(f"角色须为：{'、'.join(f'{k}（{v}）' for k, v in ROLES.items())}")
    check_password_rules(password)
    with engine.begin() as conn:
        if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
            raise UserError(f"用户名 {username} 已存在")
        result = conn.execute(users.insert().values(
            username=username, display_name=display_name or username, password_hash=hash_password(password),
            roles=",".join(r for r in ROLES if r in roles), created_at=iso(now or utc_now()),
            must_change_password=1 if must_change else 0))
        return int(result.inserted_primary_key[0])


def set_password(engine: Engine, user_id: int, password: str) -> None:
    check_password_rules(password)
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == user_id).values(
            password_hash=hash_password(password), must_change_password=0, failed_logins=0, locked_until=None))
        # Every other session of the user ends with a password change.
        conn.execute(sessions.update().where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
                     .values(ended_at=iso(utc_now())))


def _user_from_row(row: Any) -> User:
    return User(id=row.id, username=row.username, display_name=row.display_name,
                roles=frozenset(r for r in row.roles.split(",") if r),
                must_change_password=bool(row.must_change_password))


LOGIN_FAILED = "用户名或密码错误"


def authenticate(engine: Engine, username: str, password: str, now: dt.datetime) -> User | None:
    """The user, or None: unknown, disabled and wrong password are one answer (the caller's
    :data:`LOGIN_FAILED`) and take as long. The password is verified outside any transaction:
    only the short write after a success takes the database's write lock."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == username.strip())).first()
    if row is None or not row.active:
        # Hash anyway so that an unknown name takes as long as a wrong password.
        _hasher.hash(password or "x")
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    values: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": iso(now)}
    if _hasher.check_needs_rehash(row.password_hash):
        values["password_hash"] = hash_password(password)
    with writing(engine) as conn:
        conn.execute(users.update().where(users.c.id == row.id).values(**values))
    return _user_from_row(row)


def _local(iso_text: str) -> str:
    return dt.datetime.fromisoformat(iso_text).astimezone().strftime("%H:%M")


def start_session(engine: Engine, user_id: int, now: dt.datetime) -> str:
    token = secrets.token_urlsafe(32)
    with writing(engine) as conn:
        conn.execute(sessions.insert().values(token_sha256=_sha(token), user_id=user_id, created_at=iso(now),
                                              last_seen_at=iso(now)))
    return token


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_user() -> None:
    """Before every console request: the logged-in user in ``g.user`` (or None). The
    console's static files (CSS, scripts) are the same for everyone: they never open the
    session store (in production nginx serves them without asking the hub at all)."""
    g.user = None
    if request.endpoint == "console_home.static":
        return
    token = session.get("console_token")
    if not token:
        return
    ctx = console()
    now = ctx.now()
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(sessions, users).join(users, users.c.id == sessions.c.user_id)
                           .where(sessions.c.token_sha256 == _sha(token))).first()
    if row is None or row.ended_at or not row.active:
        session.pop("console_token", None)
        return
    created = dt.datetime.fromisoformat(row.created_at)
    seen = dt.datetime.fromisoformat(row.last_seen_at)
    # Writes in a write transaction of their own: on SQLite a read transaction that then
    # writes fails at once ("database is locked") when another request wrote in between.
    if now - seen > ctx.session_idle or now - created > ctx.session_max:
        with writing(ctx.engine) as conn:
            conn.execute(sessions.update().where(sessions.c.token_sha256 == _sha(token)).values(ended_at=iso(now)))
        session.pop("console_token", None)
        flash("登录已超时，请重新登录", "warning")
        return
    # Write last-seen at most once a minute: page views should not all be writes.
    if (now - seen).total_seconds() >= 60:
        with writing(ctx.engine) as conn:
            conn.execute(sessions.update().where(sessions.c.token_sha256 == _sha(token))
                         .values(last_seen_at=iso(now)))
    g.user = User(id=row.user_id, username=row.username, display_name=row.display_name,
                  roles=frozenset(r for r in row.roles.split(",") if r),
                  must_change_password=bool(row.must_change_password))


@bp.route("/login", methods=["GET", "POST"])  # permission: none (the way in)
def login() -> Any:
    ctx = console()
    if request.method != "POST":
        return render_template("console/login.html", error="")
    username = request.form.get("username", "")
    keys = [throttle.address_key(request.remote_addr or ""), throttle.name_key(username)]
    wait = throttle.wait_seconds(ctx.engine, keys, ctx.now())
    if wait:
        # The same for every name, real or not: the count is kept per name typed.
        page = render_template("console/login.html", error=f"登录失败次数过多，请 {wait} 秒后再试")
        return page, 429, {"Retry-After": str(wait)}
    user = authenticate(ctx.engine, username, request.form.get("password", ""), ctx.now())
    if user is not None:
        throttle.forget(ctx.engine, keys[1:])
        session.clear()
        session["console_token"] = start_session(ctx.engine, user.id, ctx.now())
        g.user = user
        audit("登录", username=user.username)
        target = request.args.get("next", "")
        if not target.startswith("/console/") or target.startswith("//"):
            target = url_for("console_home.dashboard")
        return redirect(target)
    throttle.record_failure(ctx.engine, keys, ctx.now())
    audit("登录失败", target=username.strip()[:64], username="-")
    return render_template("console/login.html", error=LOGIN_FAILED), 401


@bp.post("/logout")  # permission: any logged-in user (or none: it only ends a session)
def logout() -> Any:
    token = session.pop("console_token", None)
    if token:
        ctx = console()
        with ctx.engine.begin() as conn:
            conn.execute(sessions.update().where(sessions.c.token_sha256 == _sha(token))
                         .values(ended_at=ctx.now_iso()))
        if g.get("user"):
            audit("退出登录")
    flash("已安全退出")
    return redirect(url_for("console_auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@requires("console.view")
def password() -> Any:
    ctx = console()
    if request.method == "POST":
        old, new, again = (request.form.get(k, "") for k in ("old", "new", "again"))
        with ctx.engine.begin() as conn:
            row = conn.execute(sa.select(users.c.password_hash).where(users.c.id == g.user.id)).first()
        try:
            _hasher.verify(row.password_hash, old)
        except (VerificationError, InvalidHashError):
            flash("原密码不正确", "error")
            return render_template("console/password.html"), 400
        if new != again:
            flash("两次输入的新密码不一致", "error")
            return render_template("console/password.html"), 400
        try:
            set_password(ctx.engine, g.user.id, new)
        except UserError as exc:
            flash(str(exc), "error")
            return render_template("console/password.html"), 400
        audit("修改密码")
        session["console_token"] = start_session(ctx.engine, g.user.id, ctx.now())
        flash("密码已修改")
        return redirect(url_for("console_home.dashboard"))
    return render_template("console/password.html")


def user_rows(engine: Engine) -> list[Any]:
    with engine.begin() as conn:
        return list(conn.execute(sa.select(users).order_by(users.c.id)))


def audit_cli(engine: Engine, action: str, target: str) -> None:
    audit_engine(engine, iso(utc_now()), "命令行", action, target)
