"""Console pages for administrators: users and their roles (create, reset a password, change
roles, lock/unlock, disable) and the audit log. Permissions: ``users.manage``, ``audit.view``.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from hub.console.auth import UserError, create_user, hash_password, user_rows
from hub.console.core import ROLES, audit, console, requires
from hub.console.schema import audit_log, login_throttle, sessions, users
from hub.console.throttle import name_key
from hub.console.views_content import page_args

bp = Blueprint("console_admin", __name__)
PER_PAGE = 30


@bp.route("/admin/users", methods=["GET", "POST"])
@requires("users.manage")
def users_page() -> Any:
    ctx = console()
    temp_password = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        roles = request.form.getlist("roles")
        temp_password = "Yz" + secrets.token_urlsafe(8) + "7"
        try:
            create_user(ctx.engine, username, temp_password, roles, request.form.get("display_name", "").strip()[:64],
                        must_change=True, now=ctx.now())
        except UserError as exc:
            flash(str(exc), "error")
            temp_password = None
        else:
            audit("新增用户", username, "、".join(ROLES[r] for r in roles if r in ROLES))
            flash(f"已新增用户 {username}")
    return render_template("console/users.html", rows=user_rows(ctx.engine), roles=ROLES, temp_password=temp_password,
                           now=ctx.now_iso())


@bp.post("/admin/users/<int:user_id>")
@requires("users.manage")
def user_update(user_id: int) -> Any:
    ctx = console()
    action = request.form.get("action", "")
    with ctx.engine.begin() as conn:
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        if row is None:
            abort(404)
        if action == "roles":
            roles = [r for r in request.form.getlist("roles") if r in ROLES]
            if not roles:
                flash("至少保留一个角色", "error")
                return redirect(url_for("console_admin.users_page"))
            if row.id == g.user.id and "admin" not in roles:
                flash("不能取消自己的管理员角色", "error")
                return redirect(url_for("console_admin.users_page"))
            conn.execute(users.update().where(users.c.id == user_id).values(roles=",".join(r for r in ROLES if r in roles)))
            audit("修改角色", row.username, "、".join(ROLES[r] for r in roles), conn=conn)
            flash(f"已修改 {row.username} 的角色")
        elif action == "reset":
            temp = "Yz" + secrets.token_urlsafe(8) + "7"
            conn.execute(users.update().where(users.c.id == user_id).values(
                password_hash=hash_password(temp), must_change_password=1, failed_logins=0, locked_until=None))
            conn.execute(sessions.update().where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
                         .values(ended_at=ctx.now_iso()))
            audit("重置密码", row.username, conn=conn)
            flash(f"{row.username} 的临时密码：{temp}（仅显示一次，首次登录须修改）", "warning")
        elif action == "unlock":
            conn.execute(users.update().where(users.c.id == user_id).values(failed_logins=0, locked_until=None))
            # The wait that failed logins on this name have built up ends too.
            conn.execute(login_throttle.delete().where(login_throttle.c.key_sha256 == name_key(row.username).digest))
            audit("解除锁定", row.username, conn=conn)
            flash(f"已解除 {row.username} 的锁定")
        elif action in ("disable", "enable"):
            if row.id == g.user.id:
                flash("不能停用自己的账号", "error")
                return redirect(url_for("console_admin.users_page"))
            conn.execute(users.update().where(users.c.id == user_id).values(active=1 if action == "enable" else 0))
            if action == "disable":
                conn.execute(sessions.update().where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
                             .values(ended_at=ctx.now_iso()))
            audit("启用用户" if action == "enable" else "停用用户", row.username, conn=conn)
            flash(f"已{'启用' if action == 'enable' else '停用'} {row.username}")
        else:
            abort(400)
    return redirect(url_for("console_admin.users_page"))


@bp.get("/admin/audit")
@requires("audit.view")
def audit_page() -> Any:
    ctx = console()
    args = {k: request.args.get(k, "").strip() for k in ("user", "action", "since", "until")}
    where = []
    if args["user"]:
        where.append(audit_log.c.username == args["user"])
    if args["action"]:
        where.append(audit_log.c.action.contains(args["action"], autoescape=True))
    if args["since"]:
        where.append(audit_log.c.at >= args["since"])
    if args["until"]:
        where.append(audit_log.c.at < args["until"] + "T99")
    page = page_args()
    with ctx.engine.begin() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(*where)).scalar_one()
        rows = list(conn.execute(sa.select(audit_log).where(*where).order_by(audit_log.c.id.desc())
                                 .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    return render_template("console/audit.html", rows=rows, total=total, page=page, args=args,
                           pages=max(1, math.ceil(total / PER_PAGE)))
