"""What every console module shares: the console's context (engine, folders, clock), roles and
permissions, the ``requires`` decorator that states a route's permission, and the audit log.

Roles are what a bureau calls its staff's duties; a permission is what a route needs. A
user may hold several roles. The audit log records who did what and when, never personal
data: targets are ids and counts, not names or numbers.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, current_app, g, redirect, request, url_for
from sqlalchemy.engine import Engine

from common.clock import utc_iso, utc_now
from hub.console.schema import audit_log

ROLES: dict[str, str] = {
    "editor": "编辑",
    "reviewer": "审核",
    "publisher": "发布",
    "operator": "站点运维",
    "registrar": "登记专员",
    "admin": "管理员",
}

# permission -> the roles that hold it
PERMISSIONS: dict[str, frozenset[str]] = {
    "console.view": frozenset(ROLES),
    "content.edit": frozenset({"editor"}),
    "content.view": frozenset({"editor", "reviewer", "publisher"}),
    "content.review": frozenset({"reviewer"}),
    "publish": frozenset({"publisher"}),
    "fleet.view": frozenset({"operator", "admin", "publisher", "editor", "reviewer", "registrar"}),
    "fleet.manage": frozenset({"operator", "admin"}),
    "registrations.view": frozenset({"registrar", "admin"}),
    "registrations.full": frozenset({"registrar"}),
    "registrations.export": frozenset({"registrar"}),
    "reports.view": frozenset(ROLES),
    "users.manage": frozenset({"admin"}),
    "audit.view": frozenset({"admin"}),
}

Clock = Callable[[], dt.datetime]


def iso(t: dt.datetime) -> str:
    return utc_iso(t)


@dataclass
class Console:
    """The console's context for one hub app (``app.extensions["console"]``)."""

    engine: Engine
    home: Path
    feeds_dir: Path
    clock: Clock = utc_now
    session_idle: dt.timedelta = dt.timedelta(minutes=30)
    session_max: dt.timedelta = dt.timedelta(hours=12)
    retention_days: int = 30
    vault: Any = None  # the hub's vault (hub.vault): registrations are sealed at rest
    extra: dict[str, Any] = field(default_factory=dict)

    def now(self) -> dt.datetime:
        return self.clock()

    def now_iso(self) -> str:
        return iso(self.clock())

    @property
    def key_path(self) -> Path:
        return self.home / "feed.key"


def console() -> Console:
    found: Console = current_app.extensions["console"]
    return found


@dataclass
class User:
    id: int
    username: str
    display_name: str
    roles: frozenset[str]
    must_change_password: bool = False

    def can(self, permission: str) -> bool:
        return bool(PERMISSIONS[permission] & self.roles)

    @property
    def role_names(self) -> str:
        return "、".join(ROLES[r] for r in ROLES if r in self.roles)


F = TypeVar("F", bound=Callable[..., Any])


def requires(permission: str) -> Callable[[F], F]:
    """The permission a console route needs: not logged in -> the login page, lacking it -> 403."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user: User | None = g.get("user")
            if user is None:
                return redirect(url_for("console_auth.login", next=request.full_path))
            if user.must_change_password and request.endpoint not in ("console_auth.password",
                                                                      "console_auth.logout"):
                return redirect(url_for("console_auth.password"))
            if not user.can(permission):
                abort(403)
            problem = query_problem(request.args)
            if problem:
                abort(400, description=problem)
            return view(*args, **kwargs)

        wrapper.permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


# Every query parameter of a console page is a short word, a date, an id or a page number.
MAX_QUERY_VALUE = 200
MAX_QUERY_ARGS = 30


def query_problem(args: Any) -> str | None:
    """Why a console page's query parameters are refused (for staff, in Chinese), or None:
    too many of them, a value longer than :data:`MAX_QUERY_VALUE` characters, or a control
    character in one (a NUL reaches neither the database nor a spreadsheet)."""
    if len(args) > MAX_QUERY_ARGS:
        return f"查询参数太多（至多 {MAX_QUERY_ARGS} 个）"
    for name, value in args.items(multi=True):
        label = name if name.isprintable() and len(name) <= 30 else "?"
        if len(name) > 30 or len(value) > MAX_QUERY_VALUE:
            return f"查询参数 {label} 太长（至多 {MAX_QUERY_VALUE} 个字符）"
        if not (name + value).isprintable() and any(unicodedata.category(ch) in ("Cc", "Cf", "Cs")
                                                     for ch in name + value):
            return f"查询参数 {label} 含有控制字符，请检查网址"
    return None


def audit(action: str, target: str = "", detail: str = "", *, username: str | None = None,
          conn: sa.Connection | None = None) -> None:
    """Record an action. ``target``/``detail`` must not carry personal data (ids and counts only)."""
    ctx = console()
    user: User | None = g.get("user")
    row = {"at": ctx.now_iso(), "username": username or (user.username if user else "-"), "action": action,
           "target": target[:200], "detail": detail[:500],
           "address": (request.remote_addr or "")[:64] if request else ""}
    if conn is not None:
        conn.execute(audit_log.insert().values(**row))
        return
    with ctx.engine.begin() as c:
        c.execute(audit_log.insert().values(**row))


def audit_engine(engine: Engine, at: str, username: str, action: str, target: str = "", detail: str = "", *,
                 address: str = "cli") -> None:
    """The audit log outside a request's own connection (the command line, scheduled publishing,
    or work a page hands to a library: ``address`` is then the request's)."""
    with engine.begin() as c:
        c.execute(audit_log.insert().values(at=at, username=username, action=action, target=target[:200],
                                            detail=detail[:500], address=address[:64]))


