"""``yizhan screens``: the screens' on/off schedule (see :mod:`deploy.screens`)."""

from __future__ import annotations

import argparse
import datetime as dt

from common import exitcodes
from config.command import Context, add_command


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="screens_command", metavar="ACTION")
    add_command(sub, "run", "keep the screens on in opening hours and off outside (the service)").set_defaults(
        handler=_run)
    add_command(sub, "status", "what the schedule wants now and when it next changes").set_defaults(handler=_status)
    for name, on in (("on", True), ("off", False)):
        command = add_command(sub, name, f"switch both screens {name} now (until the next edge)")
        command.set_defaults(handler=_switch, on=on)


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from config.station import screen_schedule

    screen_schedule(ctx.settings).run_forever()
    return exitcodes.OK


def _status(args: argparse.Namespace, ctx: Context) -> int:
    from config.station import screen_schedule

    schedule = screen_schedule(ctx.settings)
    now = dt.datetime.now()
    wanted = {s.name: schedule.wanted(s, now) for s in schedule.screens}
    edge = schedule.next_edge(now)
    ctx.emit({"wanted": wanted, "next_change": edge.isoformat(timespec="minutes")},
             "  ".join(f"{'大屏' if n == 'board' else '自助机'}{'开' if on else '关'}" for n, on in wanted.items())
             + f"；下次变化 {edge:%m-%d %H:%M}")
    return exitcodes.OK


def _switch(args: argparse.Namespace, ctx: Context) -> int:
    from config.station import screen_schedule

    schedule = screen_schedule(ctx.settings)
    for screen in schedule.screens:
        if screen.method != "none":
            schedule.switch(screen, args.on)
    ctx.emit({"on": args.on}, "已开屏" if args.on else "已关屏")
    return exitcodes.OK
