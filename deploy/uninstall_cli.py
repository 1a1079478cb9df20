"""``yizhan uninstall``: remove the installed station (see :mod:`deploy.uninstall`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from common import exitcodes
from config.command import CommandError, Context

DEFAULT_DATA_DIR = Path("/var/lib/yizhan")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--purge", action="store_true",
                        help="also delete the station's data (store, queued registrations, outbox key) and /etc/yizhan")
    parser.add_argument("--yes", action="store_true", help="do not ask before --purge (needed without a terminal)")
    parser.add_argument("--no-systemctl", action="store_true", help="do not stop or disable units")
    parser.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    parser.set_defaults(handler=_uninstall)


def _data_dir(args: argparse.Namespace) -> Path:
    """The data folder named by the station's settings, else the default one."""
    from config.settings import SettingsError, load_settings

    config = Path(getattr(args, "config", None) or args.root / "etc/yizhan/station.toml")
    try:
        data_dir = load_settings(config).storage.data_dir
    except SettingsError:
        return DEFAULT_DATA_DIR
    if args.root != Path("/") and data_dir.is_relative_to(args.root):
        return Path("/") / data_dir.relative_to(args.root)
    return data_dir


def _confirm_purge(args: argparse.Namespace, data: Path, etc: Path) -> None:
    print(f"--purge 将永久删除 {data}（站点数据库、排队中未上报的登记、outbox.key）和 {etc}（站点设置）。\n"
          "建议先备份：yizhan backup --to /media/<U盘>", file=sys.stderr)
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CommandError("没有终端可以确认：确实要删除数据，请加 --yes", exitcodes.USAGE)
    if input("确认删除请输入 yes：").strip().lower() != "yes":
        raise CommandError("已取消，没有删除任何内容")


def _uninstall(args: argparse.Namespace, ctx: Context) -> int:
    from deploy.install import Layout
    from deploy.uninstall import uninstall

    if args.root == Path("/") and os.geteuid() != 0:
        raise CommandError("卸载需要 root：sudo yizhan uninstall")
    layout = Layout(root=args.root, data_dir=_data_dir(args))
    if args.purge:
        _confirm_purge(args, layout.data, layout.etc)
    try:
        report = uninstall(layout, purge=args.purge, systemctl=not args.no_systemctl)
    except OSError as exc:
        raise CommandError(str(exc)) from None
    for warning in report.warnings:
        print(f"注意：{warning}", file=sys.stderr)
    kept = "" if args.purge else f"\n保留了站点数据 {layout.data} 和设置 {layout.etc}（重新安装后继续使用；彻底删除用 --purge）"
    ctx.emit({"changes": report.changes, "warnings": report.warnings, "purged": args.purge},
             ("\n".join(f"  {c}" for c in report.changes) + f"\n卸载完成：{len(report.changes)} 项变更"
              if report.changes else "没有需要删除的内容：驿站未安装") + kept)
    return exitcodes.OK
