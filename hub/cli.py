"""``yizhan hub``: the reference central server's command line.

    yizhan hub keygen [--home DIR]                       make the root key (offline) and the online key
    yizhan hub publish SOURCE_DIR --out FEED_DIR         build and sign the next feed version
    yizhan hub serve [--home DIR] [--port 8080]          serve feeds and accept uploads (waitress)
    yizhan hub serve --workers 4 [--database-url URL]    the same under gunicorn, N processes
    yizhan hub forward --to URL --token T                send stored uploads on to a provincial hub
    yizhan hub refresh [--home DIR]                      re-sign feeds before they expire (daily)
    yizhan hub rotate-key [--root-key FILE]              new online key, authorised by the root
    yizhan hub rotate-root [--root-key FILE]             new root key, signed by the old root (and the new)
    yizhan hub split-key [--home DIR]                    a one-key hub's key becomes its root (once)
    yizhan hub station add|list|remove                   station tokens for uploads
    yizhan hub example OUT_DIR                           write an example source folder
    yizhan hub user|registrations|seed                   the console (hub/console/cli.py)
    yizhan hub push [--stop-number N]                    SMS this week's matches to consenting residents
    yizhan hub smsc [--port 2775]                        a local SMSC for training (hub/push/cli.py)

The hub's home folder (``--home``, default ``$YIZHAN_HUB_HOME`` or ``./hub``) holds the
online key ``feed.key`` / ``feed.pub`` (signs manifests and release offers: ``publish``,
``refresh``, ``release`` need it, so it stays here), ``root.pub`` (the stations'
``hub.public_key``), ``key-rotations.json``, ``hub.db`` and ``feeds/<name>/`` (served at
``/feeds/<name>/``). The root key ``root.key`` signs only key statements (``keygen``,
``rotate-key``, ``rotate-root``): move it off this machine after ``keygen`` and give it back
with ``--root-key FILE`` when one of those runs (:mod:`hub.keys`).
The database is ``--database-url`` (else ``$YIZHAN_HUB_DATABASE_URL``, else
``[hub] database_url`` in ``HOME/hub.toml``, else SQLite ``HOME/hub.db``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from common import exitcodes
from common.command import CommandError, Context, add_command
from hub.home import home_dir

if TYPE_CHECKING:
    from hub.keys import KeyResult


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="hub_command", metavar="ACTION")

    keygen = add_command(sub, "keygen", "make the root key (HOME/root.key: keep it offline) and the online key "
                                        "(HOME/feed.key: signs feeds and releases); prints the root's public key")
    _home(keygen)
    keygen.add_argument("--force", action="store_true", help="replace existing keys (every station must be set up again)")
    keygen.set_defaults(handler=_keygen)

    publish = add_command(sub, "publish", "build and sign the next version of a feed from a source folder")
    publish.add_argument("source", metavar="SOURCE_DIR", help="folder of jobs/policies/... (see content/PROTOCOL.md)")
    publish.add_argument("--out", metavar="FEED_DIR",
                         help="the feed folder to publish into (default: HOME/feeds/<feed id>)")
    _home(publish)
    publish.add_argument("--key", metavar="FILE", help="signing key (default: HOME/feed.key)")
    publish.add_argument("--feed-id", help="feed id (default: feed.json in the source folder)")
    publish.add_argument("--region", action="append", default=[], metavar="CODE",
                         help="scope: a GB/T 2260 region code (520000 = province, 520100 = city, '*' = all); repeatable")
    publish.add_argument("--station", action="append", default=[], metavar="ID", help="scope: a station id; repeatable")
    publish.add_argument("--version", type=int, help="version number (default: the published one + 1)")
    publish.add_argument("--strict", action="store_true", help="publish nothing if any record is refused")
    publish.add_argument("--include-feed", metavar="URL",
                         help="also publish the records of this (provincial) feed, verified with --include-key")
    publish.add_argument("--include-key", metavar="KEY", help="the included feed's base64 Ed25519 public key")
    publish.add_argument("--valid-days", type=int, default=7, metavar="N",
                         help="the manifest's signed expiry, N days from now (default 7; keep 'hub refresh' running)")
    publish.set_defaults(handler=_publish)

    refresh = add_command(sub, "refresh", "re-sign every feed whose expiry is near, as its next version (run daily)")
    _home(refresh)
    refresh.add_argument("--valid-days", type=int, default=7, metavar="N", help="new expiry, N days from now")
    refresh.add_argument("--all", action="store_true", help="re-sign every feed, however far its expiry")
    refresh.set_defaults(handler=_refresh)

    rotate = add_command(sub, "rotate-key", "replace the online key (HOME/feed.key); the root authorises the new one "
                                            "and stations follow at their next sync")
    _home(rotate)
    _root_key(rotate)
    rotate.add_argument("--valid-days", type=int, default=7, metavar="N", help="expiry of the re-signed feeds")
    rotate.set_defaults(handler=_rotate)

    rotate_root = add_command(sub, "rotate-root", "replace the root key: the old root signs the change, the new one "
                                                  "countersigns it and authorises a new online key")
    _home(rotate_root)
    _root_key(rotate_root)
    rotate_root.add_argument("--valid-days", type=int, default=7, metavar="N", help="expiry of the re-signed feeds")
    rotate_root.set_defaults(handler=_rotate_root)

    split = add_command(sub, "split-key", "a hub made with one key: that key becomes the root (HOME/root.key), a new "
                                          "online key signs from now on; run once every station runs this release")
    _home(split)
    split.add_argument("--valid-days", type=int, default=7, metavar="N", help="expiry of the re-signed feeds")
    split.set_defaults(handler=_split)

    serve = add_command(sub, "serve", "serve feeds and accept station uploads (waitress)")
    _home(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve.add_argument("--feeds", metavar="DIR", help="folder of feeds (default: HOME/feeds)")
    serve.add_argument("--workers", type=int, default=0, metavar="N",
                       help="run N gunicorn worker processes (each with --threads threads); "
                            "default: one waitress process")
    _database(serve)
    serve.set_defaults(handler=_serve)

    station = add_command(sub, "station", "stations allowed to upload, and their tokens")
    ssub = station.add_subparsers(dest="station_command", metavar="ACTION")
    add = add_command(ssub, "add", "register a station and print its token (shown once)")
    add.add_argument("station_id", metavar="ID")
    add.add_argument("--name", default="", help="the station's name, for the status page")
    add.add_argument("--relay", action="store_true",
                     help="a city hub that forwards its stations' records here (yizhan hub forward)")
    _home(add)
    _database(add)
    add.set_defaults(handler=_station_add)
    listing = add_command(ssub, "list", "list stations with their last heartbeat")
    _home(listing)
    _database(listing)
    listing.set_defaults(handler=_station_list)
    remove = add_command(ssub, "remove", "remove a station (its token stops working)")
    remove.add_argument("station_id", metavar="ID")
    _home(remove)
    _database(remove)
    remove.set_defaults(handler=_station_remove)
    station.set_defaults(handler=lambda args, ctx: (station.print_help(), exitcodes.USAGE)[1])

    forward = add_command(sub, "forward", "send the uploads stored here on to a provincial hub (store-and-forward)")
    forward.add_argument("--to", required=True, metavar="URL",
                         help="the provincial hub's upload API, e.g. https://province.example/api/v1/")
    forward.add_argument("--token-file", metavar="FILE",
                         help="file holding this hub's relay token there (default: $YIZHAN_HUB_FORWARD_TOKEN)")
    forward.add_argument("--once", action="store_true", help="send what is waiting, then stop")
    forward.add_argument("--interval", type=float, default=30.0, help="seconds between rounds (default 30)")
    _home(forward)
    _database(forward)
    forward.set_defaults(handler=_forward)

    example = add_command(sub, "example", "write an example source folder made from the sample content")
    example.add_argument("out", metavar="OUT_DIR")
    example.add_argument("--jobs", type=int, default=40, help="number of jobs (default 40)")
    example.add_argument("--latitude", type=float, default=26.5830)
    example.add_argument("--longitude", type=float, default=106.7135)
    example.add_argument("--feed-id", default="gy-yunyan")
    example.add_argument("--region", default="520103")
    example.add_argument("--date", type=dt.date.fromisoformat, help="the day the content is written for (YYYY-MM-DD)")
    example.add_argument("--video-seconds", type=float, default=150.0,
                         help="length of each of the two training videos (default 150)")
    example.set_defaults(handler=_example)

    from hub.console.cli import register_commands

    register_commands(sub, _home)

    _register_release(sub)
    from hub.push.cli import register_push

    register_push(sub, _home, _database, _store)


def _home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", metavar="DIR", default=None,
                        help="hub home folder (default: $YIZHAN_HUB_HOME or ./hub)")


def _root_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root-key", metavar="FILE", default=None,
                        help="the root key, kept offline (default: HOME/root.key)")


def _database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", metavar="URL", default=None,
                        help="sqlite:///FILE or postgresql://USER@HOST/DB (default: $YIZHAN_HUB_DATABASE_URL, "
                             "[hub] database_url in HOME/hub.toml, else HOME/hub.db)")


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from hub.app import secure_home
    from hub.db import HubDatabaseError
    from hub.storage import HubStore

    home = secure_home(_home_dir(args))
    try:
        store = HubStore.for_home(home, getattr(args, "database_url", None))
    except HubDatabaseError as exc:
        raise CommandError(str(exc), exitcodes.USAGE) from None
    secure_home(home)  # the database files exist now
    return store


def _home_dir(args: argparse.Namespace) -> Path:
    return home_dir(args)


def _keygen(args: argparse.Namespace, ctx: Context) -> int:
    from hub.keys import init_keys
    from hub.publish import PublishError

    try:
        result = init_keys(_home_dir(args), force=args.force)
    except PublishError as exc:
        raise CommandError(str(exc)) from None
    ctx.emit({"root_key": str(result.root_path), "online_key": str(result.online_path),
              "public_key": result.root_public, "online_public_key": result.online_public},
             f"root key: {result.root_path} (signs only key changes: copy it to offline media, then delete it here;\n"
             f"  give it back with --root-key for rotate-key and rotate-root)\n"
             f"online key: {result.online_path} (signs feeds and releases; stays on the hub)\n"
             f"public key for every station's [hub] public_key (the root):\n{result.root_public}")
    return exitcodes.OK


def _publish(args: argparse.Namespace, ctx: Context) -> int:
    from hub.publish import PublishError, load_key_file, publish
    from hub.source import SourceError, read_feed_info
    from hub.upstream import UpstreamError, describe
    from protocol.feed import Scope

    home = _home_dir(args)
    try:
        key = load_key_file(args.key or home / "feed.key")
        scope = Scope(regions=args.region, stations=args.station) if (args.region or args.station) else None
        feed_id = args.feed_id
        out = args.out
        if out is None:
            feed_id = feed_id or read_feed_info(args.source)[0]
            if not feed_id:
                raise CommandError("give --out FEED_DIR or a feed id (--feed-id or feed.json)", exitcodes.USAGE)
            out = home / "feeds" / feed_id
        include = None
        if args.include_feed:
            from hub.upstream import fetch_upstream

            if not args.include_key:
                raise CommandError("--include-feed needs --include-key (the province's public key)", exitcodes.USAGE)
            include = fetch_upstream(args.include_feed, args.include_key, home / "upstream")
        result = publish(args.source, out, key=key, feed_id=feed_id, scope=scope, version=args.version,
                         strict=args.strict, valid_days=args.valid_days, home=home, include=include)
    except (PublishError, SourceError, UpstreamError) as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:  # a bad --region
        raise CommandError(f"scope: {exc}", exitcodes.USAGE) from None
    m = result.manifest
    refused = result.refused
    clipped = [r for r in result.rejections if r.clipped]
    lines = [f"published {m.feed_id} version {m.version} into {result.out_dir}",
             f"  items: {len(m.items)} ({result.items_written} new), media: {len(m.media)} ({result.media_written} new), "
             f"{result.bytes_written} bytes written, {result.removed} old files removed",
             f"  scope: {m.scope.describe()}"]
    if include is not None:
        lines.append(f"  {describe(include)}")
    if refused:
        lines.append(f"  {len(refused)} record(s) refused (not published):")
        lines += [f"    {r}" for r in refused[:100]]
        if len(refused) > 100:
            lines.append(f"    … and {len(refused) - 100} more")
    if clipped:
        lines.append(f"  {len(clipped)} warning(s):")
        lines += [f"    {r}" for r in clipped[:50]]
    ctx.emit({"feed_id": m.feed_id, "version": m.version, "out": str(result.out_dir), "items": len(m.items),
              "items_written": result.items_written, "media": len(m.media), "media_written": result.media_written,
              "refused": [str(r) for r in refused], "warnings": [str(r) for r in clipped],
              "included": None if include is None else {"feed_id": include.manifest.feed_id,
                                                        "version": include.manifest.version,
                                                        "stale": include.stale}}, "\n".join(lines))
    return exitcodes.OK


def _refresh(args: argparse.Namespace, ctx: Context) -> int:
    from hub.publish import PublishError, refresh_feeds

    try:
        done = refresh_feeds(_home_dir(args), valid_days=args.valid_days,
                             within=dt.timedelta(days=100000) if args.all else None)
    except PublishError as exc:
        raise CommandError(str(exc)) from None
    lines = [f"re-signed {feed_id} as version {version}" for feed_id, version in done]
    ctx.emit({"refreshed": [{"feed_id": f, "version": v} for f, v in done]},
             "\n".join(lines) or "every feed is fresh; nothing re-signed")
    return exitcodes.OK


def _rotate(args: argparse.Namespace, ctx: Context) -> int:
    from hub.keys import has_roles, rotate_key

    home = _home_dir(args)
    roles = has_roles(home)
    result = _key_command(lambda: rotate_key(home, root_key=args.root_key, valid_days=args.valid_days))
    head = (f"new online key (authorisation {result.sequence}), signed for by the root: {result.online_public}"
            if roles else f"new signing key (rotation {result.sequence}): {result.online_public}\n"
                          "new stations can be set up with the new key in hub.public_key.")
    return _key_report(ctx, result, head)


def _rotate_root(args: argparse.Namespace, ctx: Context) -> int:
    from hub.keys import rotate_root

    home = _home_dir(args)
    result = _key_command(lambda: rotate_root(home, root_key=args.root_key, valid_days=args.valid_days))
    head = (f"new root key (rotation {result.sequence}) at {result.root_path}: move it offline again; the old one is "
            f"kept beside it as root.key.{result.sequence} until you destroy it\n"
            f"new stations: hub.public_key = {result.root_public}\nnew online key: {result.online_public}")
    return _key_report(ctx, result, head)


def _split(args: argparse.Namespace, ctx: Context) -> int:
    from hub.keys import split_key

    result = _key_command(lambda: split_key(_home_dir(args), valid_days=args.valid_days))
    head = (f"the hub's key is now its root ({result.root_path}: copy it to offline media, then delete it here)\n"
            f"new online key (authorisation {result.sequence}): {result.online_public}")
    return _key_report(ctx, result, head)


def _key_command(run: Callable[[], KeyResult]) -> KeyResult:
    from hub.publish import PublishError

    try:
        return run()
    except PublishError as exc:
        raise CommandError(str(exc)) from None


def _key_report(ctx: Context, result: KeyResult, head: str) -> int:
    lines = [head, "stations follow the signed change at their next sync or upgrade round;",
             *(f"re-signed {f} as version {v}" for f, v in result.feeds)]
    ctx.emit({"public_key": result.root_public, "online_public_key": result.online_public, "sequence": result.sequence,
              "feeds": [{"feed_id": f, "version": v} for f, v in result.feeds]}, "\n".join(lines))
    return exitcodes.OK


def _serve(args: argparse.Namespace, ctx: Context) -> int:
    from common.netutil import is_loopback_url
    from hub.app import create_app, serve_forever
    from hub.db import HubDatabaseError, masked_url

    home = _home_dir(args)
    feeds = Path(args.feeds).resolve() if args.feeds else home / "feeds"
    if not is_loopback_url(f"http://{args.host}/"):
        print(f"warning: serving plain HTTP on {args.host}: tokens and residents' personal data would cross the "
              "network in clear. Keep the hub on 127.0.0.1 behind nginx with TLS (content/PROTOCOL.md §6).",
              file=sys.stderr, flush=True)
    try:
        if args.workers > 0:
            from hub.wsgi import prepare, serve_workers

            url = prepare(home, args.database_url)
            _announce(args, feeds, masked_url(url), f"gunicorn, {args.workers} worker processes")
            if url.startswith("sqlite:") and args.workers > 1:
                print("hub: note: SQLite takes one writer at a time; several workers only queue on it "
                      "(use PostgreSQL, or --workers 1)", file=sys.stderr, flush=True)
            serve_workers(home, database=url, feeds=args.feeds, host=args.host, port=args.port,
                          workers=args.workers, threads=args.threads)
            return exitcodes.OK
        app = create_app(home, feeds_dir=args.feeds, database_url=args.database_url)
        from hub.console import start_scheduler

        start_scheduler(app)
    except HubDatabaseError as exc:
        raise CommandError(str(exc), exitcodes.USAGE) from None
    _announce(args, feeds, masked_url(str(app.extensions["hub_store"].engine.url)), "waitress, one process")
    serve_forever(app, host=args.host, port=args.port, threads=args.threads)
    return exitcodes.OK


def _announce(args: argparse.Namespace, feeds: Path, database: str, server: str) -> None:
    print(f"hub: http://{args.host}:{args.port}/ (status page), console at http://{args.host}:{args.port}/console/, "
          f"feeds from {feeds}, uploads at http://{args.host}:{args.port}/api/v1/, database {database} ({server})",
          file=sys.stderr, flush=True)


def _station_add(args: argparse.Namespace, ctx: Context) -> int:
    from hub.storage import HubError

    try:
        token = _store(args).add_station(args.station_id, args.name, relay=args.relay)
    except HubError as exc:
        raise CommandError(str(exc)) from None
    ctx.emit({"station": args.station_id, "token": token},
             f"station {args.station_id} added. Put this in its settings (shown only now):\n"
             f'[hub]\nstation_token = "{token}"')
    return exitcodes.OK


def _station_list(args: argparse.Namespace, ctx: Context) -> int:
    from hub.app import station_view

    stations = [station_view(s) for s in _store(args).stations()]
    lines = [f"{s['id']:<24} {s['name'] or '-':<20} last heartbeat {s['last_heartbeat']:<10} "
             f"content {s['feed_id'] or '-'} v{s['content_version'] or '-'}" for s in stations]
    ctx.emit(stations, "\n".join(lines) or "no stations (yizhan hub station add ID)")
    return exitcodes.OK


def _station_remove(args: argparse.Namespace, ctx: Context) -> int:
    from hub.storage import HubError

    try:
        _store(args).remove_station(args.station_id)
    except HubError as exc:
        raise CommandError(str(exc)) from None
    ctx.emit({"removed": args.station_id}, f"station {args.station_id} removed")
    return exitcodes.OK


def _forward(args: argparse.Namespace, ctx: Context) -> int:
    from hub.forward import Forwarder, ForwardError, ForwardLoop, ForwardResult

    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandError(f"{args.token_file}: {exc.strerror}", exitcodes.USAGE) from None
    else:
        token = os.environ.get("YIZHAN_HUB_FORWARD_TOKEN", "")
    try:
        forwarder = Forwarder(_store(args), args.to, token)
    except ForwardError as exc:
        raise CommandError(str(exc), exitcodes.USAGE) from None

    def text(r: ForwardResult) -> str:
        line = f"forwarded {r.sent} new, {r.duplicates} already there, {r.rejected} refused; {r.pending} waiting"
        return line + (f"; stopped: {r.error}" if r.error else "")

    if args.once:
        result = forwarder.forward_once()
        ctx.emit({"sent": result.sent, "duplicates": result.duplicates, "rejected": result.rejected,
                  "pending": result.pending, "error": result.error, "rejections": result.rejections}, text(result))
        return exitcodes.OK if result.ok else exitcodes.UNAVAILABLE
    loop = ForwardLoop(forwarder, interval_s=args.interval,
                       on_result=lambda r: print(text(r), file=sys.stderr, flush=True) if (r.sent or r.error) else None)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: loop.stop())
    with contextlib.suppress(KeyboardInterrupt):
        loop.run()
    return exitcodes.OK


def _example(args: argparse.Namespace, ctx: Context) -> int:
    from hub.example import write_example

    out = write_example(args.out, jobs=args.jobs, origin=(args.latitude, args.longitude), feed_id=args.feed_id,
                        region=args.region, today=args.date, video_seconds=args.video_seconds)
    ctx.emit({"out": str(out)}, f"example source folder written to {out}\n"
                                f"publish it with: yizhan hub publish {out} --out {_home_dir(args)}/feeds/{args.feed_id}")
    return exitcodes.OK


def _register_release(sub: argparse._SubParsersAction) -> None:
    """``yizhan hub release BUNDLE --feed NAME [--stations a,b] [--percent N] [--name N]``, or
    ``yizhan hub release --withdraw NAME|VERSION --feed NAME``; ``--list`` shows what is live."""
    release = add_command(sub, "release", "offer a release bundle to stations (all, listed, or a canary share)")
    release.add_argument("bundle", type=Path, metavar="BUNDLE", nargs="?", default=None,
                         help="yizhan-<version>.tar from 'make release'")
    release.add_argument("--name", default=None,
                         help="the offer's name (default: general for all stations, else canary); "
                              "it replaces only the live offer of the same name")
    release.add_argument("--withdraw", default=None, metavar="NAME|VERSION",
                         help="take the live offer of this name or version off the feed (the others stay)")
    release.add_argument("--list", action="store_true", help="show the live offers and their audiences")
    release.add_argument("--feed", required=True, metavar="NAME", help="the feed folder under <home>/feeds/")
    release.add_argument("--home", metavar="DIR", default=None, help="hub home folder (default: ./hub)")
    release.add_argument("--stations", default="", help="comma-separated station ids that take it now")
    release.add_argument("--percent", type=int, default=None,
                         help="share of the other stations that take it (default: 100 without --stations, else 0)")
    release.set_defaults(handler=_release)


def _release(args: argparse.Namespace, ctx: Context) -> int:

    from hub.publish import KEY_NAME, PublishError, load_key_file
    from hub.releases import (
        ReleasePublishError,
        audience_text,
        publish_release,
        read_offers,
        withdraw_release,
    )

    home = home_dir(args)
    feed_dir = home / "feeds" / args.feed
    stations = [s.strip() for s in args.stations.split(",") if s.strip()]
    percent = args.percent if args.percent is not None else (0 if stations else 100)
    try:
        if args.list:
            offers = read_offers(feed_dir)
            ctx.emit({"offers": offers}, "\n".join(f"{o['name']}：版本 {o['version']}，{audience_text(o)}"
                                                     for o in offers) or "没有发布中的版本")
            return exitcodes.OK
        if args.withdraw:
            gone = withdraw_release(feed_dir, load_key_file(home / KEY_NAME), args.withdraw)
            ctx.emit({"withdrawn": gone}, "已撤回：" + "、".join(f"{o['name']}（版本 {o['version']}）" for o in gone))
            return exitcodes.OK
        if args.bundle is None:
            raise CommandError("请给出要发布的版本包（BUNDLE），或用 --withdraw / --list")
        key = load_key_file(home / KEY_NAME)
        offer = publish_release(feed_dir, args.bundle, key, stations=stations, percent=percent, name=args.name)
    except (ReleasePublishError, PublishError) as exc:
        raise CommandError(str(exc)) from None
    ctx.emit(offer, f"已发布版本 {offer['version']}（{offer['size'] / 1e6:.1f} MB，名称 {offer['name']}）"
                    f"给{audience_text(offer)}")
    return exitcodes.OK
