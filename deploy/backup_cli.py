"""``yizhan backup``: the station's data, outbox key and settings in one encrypted file
(see :mod:`deploy.backup`); ``yizhan restore`` puts them back."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from common import exitcodes
from config.command import CommandError, Context, version


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", type=Path, required=True, metavar="PATH",
                        help="a file, or a folder (a USB stick) for a dated file yizhan-<station>-<time>.yzbak")
    parser.add_argument("--with-media", action="store_true", help="also the media files (large; a sync fetches them again)")
    parser.add_argument("--passphrase-file", type=Path, metavar="FILE",
                        help="read the passphrase from FILE's first line (default: asked without echo, or stdin)")
    parser.set_defaults(handler=_backup)


def _backup(args: argparse.Namespace, ctx: Context) -> int:
    from deploy.backup import BackupError, make_backup, read_passphrase

    settings = ctx.settings
    if settings.source is None:
        raise CommandError("不知道站点设置文件在哪里：用 --config 指定", exitcodes.CONFIG)
    try:
        passphrase = read_passphrase(args.passphrase_file, confirm=True)
        made = make_backup(data_dir=settings.storage.data_dir, config=Path(settings.source), out=args.to,
                           passphrase=passphrase, station_id=settings.station.id, version=version(),
                           with_media=args.with_media, now=dt.datetime.now().astimezone())
    except (BackupError, OSError) as exc:
        raise CommandError(str(exc)) from None
    size_mb = made.stat().st_size / (1024 * 1024)
    ctx.emit({"file": str(made), "bytes": made.stat().st_size, "with_media": args.with_media},
             f"已备份到 {made}（{size_mb:.1f} MB{'，含媒体文件' if args.with_media else ''}）\n"
             "请另外保管好口令：没有口令，这份备份无法恢复")
    return exitcodes.OK
