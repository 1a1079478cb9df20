"""``yizhan hub user|registrations|seed``: the console's command line.

    yizhan hub user add NAME --role editor [--role reviewer] [--password P]   a console user
    yizhan hub user list
    yizhan hub user passwd NAME [--password P]                                reset a password
    yizhan hub registrations export --format xlsx --out DIR                   hand-off batch file
    yizhan hub registrations ack BATCH                                        province received it: purge
    yizhan hub registrations purge [--days 30]                                retention limit
    yizhan hub seed SOURCE_DIR --feed-id ID --region CODE                     approved content from a folder
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path
from typing import Any

from common import exitcodes
from common.clock import utc_now
from common.command import CommandError, Context, add_command
from hub.home import home_dir


def register_commands(sub: Any, home_option: Any) -> None:
    """Add the console's commands to ``yizhan hub``'s subparsers."""
    user = add_command(sub, "user", "console users (bureau staff) and their roles")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION")
    add = add_command(usub, "add", "add a console user (prints the password if none is given)")
    add.add_argument("username")
    add.add_argument("--role", action="append", default=[], required=True,
                     help="编辑/editor、审核/reviewer、发布/publisher、站点运维/operator、登记专员/registrar "
                          "或 管理员/admin (Chinese or English); repeatable")
    add.add_argument("--name", default="", help="the person's name as shown in the console")
    add.add_argument("--password", help="initial password (default: a random one, to be changed at first login)")
    home_option(add)
    add.set_defaults(handler=_user_add)
    listing = add_command(usub, "list", "list console users")
    home_option(listing)
    listing.set_defaults(handler=_user_list)
    passwd = add_command(usub, "passwd", "set a new password (and unlock the account)")
    passwd.add_argument("username")
    passwd.add_argument("--password", help="new password (default: a random one, to be changed at first login)")
    home_option(passwd)
    passwd.set_defaults(handler=_user_passwd)
    user.set_defaults(handler=lambda args, ctx: (user.print_help(), exitcodes.USAGE)[1])

    regs = add_command(sub, "registrations", "hand residents' registrations to the provincial system, and purge them")
    rsub = regs.add_subparsers(dest="registrations_command", metavar="ACTION")
    export = add_command(rsub, "export", "write every registration not yet handed over into one file (a batch)")
    export.add_argument("--format", choices=("csv", "xlsx", "json"), default="xlsx")
    export.add_argument("--out", required=True, metavar="PATH", help="a folder, or the file to write")
    export.add_argument("--by", default="命令行", help="who exports (for the audit log)")
    home_option(export)
    export.set_defaults(handler=_reg_export)
    ack = add_command(rsub, "ack", "the province acknowledged a batch: purge its personal data here")
    ack.add_argument("batch", type=int)
    ack.add_argument("--by", default="命令行")
    home_option(ack)
    ack.set_defaults(handler=_reg_ack)
    purge = add_command(rsub, "purge", "purge personal data of registrations older than the retention limit")
    purge.add_argument("--days", type=int, default=30, help="retention in days (default 30)")
    purge.add_argument("--by", default="命令行")
    home_option(purge)
    purge.set_defaults(handler=_reg_purge)
    regs.set_defaults(handler=lambda args, ctx: (regs.print_help(), exitcodes.USAGE)[1])

    seed = add_command(sub, "seed", "load a source folder into the console as approved content of a feed group")
    seed.add_argument("source", metavar="SOURCE_DIR")
    seed.add_argument("--feed-id", required=True)
    seed.add_argument("--title", default="")
    seed.add_argument("--region", action="append", default=[], metavar="CODE")
    seed.add_argument("--station", action="append", default=[], metavar="ID")
    seed.add_argument("--published", action="store_true",
                      help="record the content as already published (the feed folder holds it)")
    home_option(seed)
    seed.set_defaults(handler=_seed)


def _home_dir(args: argparse.Namespace) -> Path:
    return home_dir(args)


def _engine(args: argparse.Namespace) -> Any:
    from hub.console import schema
    from hub.db import migrate
    from hub.storage import HubStore

    home = _home_dir(args)
    home.mkdir(parents=True, exist_ok=True)
    # The hub's own database (SQLite in HOME, or the PostgreSQL of hub.toml / the environment).
    engine = HubStore.for_home(home).engine
    migrate(engine, [schema.MIGRATIONS])
    return engine


def _vault(args: argparse.Namespace) -> Any:
    """The hub's vault: registrations are sealed at rest and opened only for an export."""
    from hub.vault import Vault

    return Vault.for_home(_home_dir(args))


def role_of(name: str) -> str:
    """A role as typed on the command line, by its Chinese name (审核) or its key (reviewer)."""
    from hub.console.core import ROLES

    text = name.strip()
    if text in ROLES:
        return text
    for key, chinese in ROLES.items():
        if text == chinese:
            return key
    raise ValueError(f"没有「{text}」这个角色；角色只能是："
                     + "、".join(f"{chinese}（{key}）" for key, chinese in ROLES.items()))


def _user_add(args: argparse.Namespace, ctx: Context) -> int:
    from hub.console.auth import UserError, audit_cli, create_user

    password = args.password or _random_password()
    try:
        args.role = [role_of(r) for r in args.role]
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    engine = _engine(args)
    try:
        create_user(engine, args.username, password, args.role, args.name, must_change=not args.password)
    except UserError as exc:
        raise CommandError(str(exc)) from None
    audit_cli(engine, "新增用户", args.username)
    ctx.emit({"username": args.username, "roles": args.role, "password": None if args.password else password},
             f"用户 {args.username} 已创建" + ("" if args.password else f"，临时密码：{password}（首次登录须修改）"))
    return exitcodes.OK


def _user_list(args: argparse.Namespace, ctx: Context) -> int:
    from hub.console.auth import user_rows
    from hub.console.core import ROLES

    rows = user_rows(_engine(args))
    data = [{"username": r.username, "name": r.display_name, "roles": r.roles.split(","), "active": bool(r.active),
             "locked_until": r.locked_until, "last_login_at": r.last_login_at} for r in rows]
    ctx.emit(data, "\n".join(f"{r.username:<16} {r.display_name:<10} {'、'.join(ROLES[x] for x in r.roles.split(',') if x)}"
                             f"{'' if r.active else '（已停用）'}" for r in rows) or "还没有用户（yizhan hub user add）")
    return exitcodes.OK


def _user_passwd(args: argparse.Namespace, ctx: Context) -> int:
    import sqlalchemy as sa

    from hub.console.auth import UserError, audit_cli, set_password
    from hub.console.schema import users

    engine = _engine(args)
    with engine.begin() as conn:
        row = conn.execute(sa.select(users.c.id).where(users.c.username == args.username)).first()
    if row is None:
        raise CommandError(f"没有用户 {args.username}")
    password = args.password or _random_password()
    try:
        set_password(engine, row.id, password)
    except UserError as exc:
        raise CommandError(str(exc)) from None
    if not args.password:
        with engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == row.id).values(must_change_password=1))
    audit_cli(engine, "重置密码", args.username)
    ctx.emit({"username": args.username}, f"已为 {args.username} 设置新密码" +
             ("" if args.password else f"：{password}（首次登录须修改）"))
    return exitcodes.OK


def _random_password() -> str:
    return "Yz" + secrets.token_urlsafe(9) + "8"


def _reg_export(args: argparse.Namespace, ctx: Context) -> int:
    from hub.console import handoff

    try:
        result = handoff.export(_engine(args), args.format, args.by, utc_now(), vault=_vault(args))
    except handoff.HandoffError as exc:
        raise CommandError(str(exc)) from None
    out = Path(args.out)
    path = handoff.write_export(result, out)
    ctx.emit({"batch": result.handoff_id, "count": result.count, "file": str(path), "sha256": result.sha256},
             f"交接批次 {result.handoff_id}：{result.count} 条登记写入 {path}（SHA-256 {result.sha256}）\n"
             f"省级系统确认接收后运行：yizhan hub registrations ack {result.handoff_id}")
    return exitcodes.OK


def _reg_ack(args: argparse.Namespace, ctx: Context) -> int:
    from hub.console import handoff

    try:
        purged = handoff.ack(_engine(args), args.batch, args.by, utc_now())
    except handoff.HandoffError as exc:
        raise CommandError(str(exc)) from None
    ctx.emit({"batch": args.batch, "purged": purged}, f"交接批次 {args.batch} 已确认，清除了 {purged} 条登记的个人信息")
    return exitcodes.OK


def _reg_purge(args: argparse.Namespace, ctx: Context) -> int:
    from hub.console import handoff

    try:
        purged = handoff.purge_expired(_engine(args), args.days, args.by, utc_now(), vault=_vault(args))
    except handoff.HandoffError as exc:
        raise CommandError(str(exc)) from None
    ctx.emit({"purged": purged, "days": args.days}, f"清除了 {purged} 条超过 {args.days} 天的登记个人信息")
    return exitcodes.OK


def _seed(args: argparse.Namespace, ctx: Context) -> int:
    from hub.console.seed import SeedError, seed_source

    try:
        counts = seed_source(_engine(args), _home_dir(args), args.source, feed_id=args.feed_id, title=args.title,
                             regions=args.region or ["*"], stations=args.station, published=args.published)
    except SeedError as exc:
        raise CommandError(str(exc)) from None
    ctx.emit(counts, f"已载入 {args.feed_id}：" + "，".join(f"{k} {v}" for k, v in counts.items()))
    return exitcodes.OK

