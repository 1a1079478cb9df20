"""``yizhan upgrade``: releases from the feed (see :mod:`deploy.upgrade`).

``run`` is what the timer starts; ``status`` shows the running release and the last
result; ``selfcheck`` is the health check a new release runs on itself after a switch;
``rollback`` points ``current`` back at the previous release by hand.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from common import exitcodes
from config.command import CommandError, Context, add_command, version
from config.station import open_store

# Every part a release must be able to import for the station to work (Kivy apps excluded:
# their services report themselves through READY/WATCHDOG).
SELFCHECK_MODULES = ("config.settings", "content.store", "content.feed_client", "content.uplink", "content.sync_loop", "content.outbox", "content.media",
                     "printer.queue", "printer.escpos", "idcard.protocol", "deploy.upgrade", "deploy.screens")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, metavar="FILE",
                        help="upgrade from a bundle file (a USB stick), verified and health-checked like an OTA")
    parser.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    parser.set_defaults(handler=_run)
    sub = parser.add_subparsers(dest="upgrade_command", metavar="ACTION")
    run = add_command(sub, "run", "take the release the feed offers, if any (what the timer runs; needs root)")
    run.add_argument("--bundle", type=Path, metavar="FILE", help="take this bundle file instead of the feed's offer")
    run.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    run.add_argument("--settle-s", type=float, default=60.0, help=argparse.SUPPRESS)
    run.set_defaults(handler=_run)
    status = add_command(sub, "status", "the running release and the last upgrade's result")
    status.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    status.set_defaults(handler=_status)
    selfcheck = add_command(sub, "selfcheck", "check this release: every part imports, the store reads")
    selfcheck.set_defaults(handler=_selfcheck)
    rollback = add_command(sub, "rollback", "switch back to the previous release and restart the services")
    rollback.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    rollback.set_defaults(handler=_rollback)


def _layout(args: argparse.Namespace, ctx: Context):
    from deploy.install import Layout

    return Layout(root=args.root, data_dir=ctx.settings.storage.data_dir)


def _run(args: argparse.Namespace, ctx: Context) -> int:
    import requests

    from deploy.install import station_trust
    from deploy.release import ReleaseError
    from deploy.upgrade import SystemdServices, UpgradeError, Upgrader, kiosk_in_use

    settings = ctx.settings
    bundle = getattr(args, "bundle", None)
    if not settings.hub.public_key or not (settings.hub.feed_url or bundle):
        raise CommandError("hub.public_key (and hub.feed_url for releases from the feed) are needed to upgrade",
                           exitcodes.CONFIG)
    if bundle is not None and not bundle.is_file():
        raise CommandError(f"{bundle}: 找不到升级包文件", exitcodes.USAGE)
    layout = _layout(args, ctx)
    upgrader = Upgrader(layout, feed_url=settings.hub.feed_url or "http://127.0.0.1/", public_key=settings.hub.public_key,
                        station_id=settings.station.id, config=settings.source or Path("/etc/yizhan/station.toml"),
                        services=SystemdServices(), resident_active=lambda: kiosk_in_use(layout.data),
                        settle_s=getattr(args, "settle_s", 60.0),
                        trust=lambda: station_trust(settings))
    try:
        result = upgrader.run_bundle(bundle) if bundle is not None else upgrader.run()
    except ReleaseError as exc:
        raise CommandError(f"升级包未通过校验，没有安装：{exc}", exitcodes.FAILURE) from None
    except (UpgradeError, requests.RequestException, OSError) as exc:
        raise CommandError(f"no upgrade this round: {exc}", exitcodes.UNAVAILABLE) from None
    ctx.emit(result.as_dict(), f"{result.status} {result.version} {result.detail}".strip())
    return exitcodes.FAILURE if result.status in ("failed", "rolled_back") else exitcodes.OK


def _status(args: argparse.Namespace, ctx: Context) -> int:
    from deploy.upgrade import read_state

    layout = _layout(args, ctx)
    state = read_state(layout.data / "upgrade")
    releases = sorted(p.name for p in layout.releases.glob("*") if (p / ".installed").exists()) \
        if layout.releases.exists() else []
    data = {"current": layout.current_version(), "releases": releases, "state": state.get("state", "idle"),
            "last": state.get("last"), "failed_versions": state.get("failed_versions", [])}
    last = data["last"] or {}
    ctx.emit(data, f"当前版本  {data['current'] or '未安装'}\n已装版本  {', '.join(releases) or '无'}\n"
                   f"上次升级  {last.get('version', '无')} {last.get('result', '')} {last.get('detail', '')}".rstrip()
                   + (f"\n失败版本  {', '.join(data['failed_versions'])}（不再尝试）" if data["failed_versions"] else ""))
    return exitcodes.OK


def _selfcheck(args: argparse.Namespace, ctx: Context) -> int:

    for name in SELFCHECK_MODULES:
        importlib.import_module(name)
    with open_store(ctx.settings) as store:
        info = store.content_info()
    ctx.emit({"version": version(), "feed_id": info.feed_id, "content_version": info.version},
             f"yizhan {version()} ok (content {info.feed_id or '-'} v{info.version})")
    return exitcodes.OK


def _rollback(args: argparse.Namespace, ctx: Context) -> int:
    from deploy.install import Report, switch
    from deploy.upgrade import SystemdServices, read_state

    layout = _layout(args, ctx)
    previous = read_state(layout.data / "upgrade").get("previous")
    if not previous or not (layout.releases / previous / ".installed").exists():
        raise CommandError("no previous release to go back to")
    switch(layout, previous, Report())
    if args.root == Path("/"):
        SystemdServices().restart()
    ctx.emit({"current": previous}, f"已切换回 {previous}")
    return exitcodes.OK
