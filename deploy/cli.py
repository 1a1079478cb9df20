"""``yizhan install``: install a release bundle on this box (see :mod:`deploy.install`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import exitcodes
from config.command import CommandError, Context


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, required=True, metavar="FILE", help="release bundle (yizhan-<v>.tar)")
    parser.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                        help="install below DIR instead of / (image building, tests)")
    parser.add_argument("--public-key", default=None,
                        help="Ed25519 public key the bundle must be signed with (default: hub.public_key)")
    parser.add_argument("--no-systemctl", action="store_true", help="do not enable or start units")
    parser.set_defaults(handler=_install)


def _install(args: argparse.Namespace, ctx: Context) -> int:
    from deploy.install import InstallError, install

    config = getattr(args, "config", None)
    if not config:
        raise CommandError("--config station.toml is required: the settings this station will run with",
                           exitcodes.USAGE)
    try:
        report = install(bundle=args.bundle, config=Path(config), root=args.root, public_key=args.public_key,
                         systemctl=not args.no_systemctl)
    except (InstallError, OSError) as exc:
        raise CommandError(str(exc)) from None
    for warning in report.warnings:
        print(f"注意：{warning}", file=sys.stderr)
    ctx.emit({"changes": report.changes, "warnings": report.warnings},
             "\n".join(f"  {c}" for c in report.changes) + f"\n安装完成：{len(report.changes)} 项变更"
             if report.changes else "已是最新：没有需要变更的内容")
    return exitcodes.OK
