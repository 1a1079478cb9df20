"""``yizhan hub push`` and ``yizhan hub smsc`` (registered by hub/cli.py).

    yizhan hub push [--home DIR]                 queue this week's matches for consenting residents, send them
    yizhan hub push --stop-number 138...         a resident's 退订 taken by phone or at the desk
    yizhan hub smsc [--port 2775] [--record F]   a local SMSC for training; type 'td 13800001234' to reply TD
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import exitcodes
from common.command import CommandError, Context, add_command
from common.privacy import mask_phone


def register_push(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                  home: Callable[[argparse.ArgumentParser], None],
                  database: Callable[[argparse.ArgumentParser], None],
                  store_of: Callable[[argparse.Namespace], Any]) -> None:
    """``store_of(args)``: the hub's store for the command's --home and --database-url."""
    push = add_command(sub, "push", "SMS this week's job matches to residents who consented ([push] in HOME/hub.toml)")
    home(push)
    database(push)
    push.add_argument("--stop-number", metavar="PHONE", default=None,
                      help="stop every push to this number (a resident's 退订 taken by phone or at the desk)")
    push.add_argument("--queue-only", action="store_true", help="queue the matches, send nothing")
    push.add_argument("--now", type=_moment, default=None, metavar="ISO",
                      help="run as if it were this moment, e.g. 2026-11-20T10:00:00+08:00 (drills)")
    push.set_defaults(handler=_push, store_of=store_of)

    smsc = add_command(sub, "smsc", "run a local SMSC (SMPP 3.4) for training: records what it receives")
    smsc.add_argument("--host", default="127.0.0.1")
    smsc.add_argument("--port", type=int, default=2775)
    smsc.add_argument("--system-id", default="yizhan")
    smsc.add_argument("--password", default="")
    smsc.add_argument("--record", type=Path, default=None, metavar="FILE",
                      help="append each message received to FILE (JSON lines)")
    smsc.set_defaults(handler=_smsc)


def _moment(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"时间格式应为 2026-11-20T10:00:00+08:00（收到 {text!r}）") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"时间须带时区，例如 +08:00（收到 {text!r}）")
    return when


def _push(args: argparse.Namespace, ctx: Context) -> int:
    from common.clock import utc_now
    from hub.home import home_dir
    from hub.push.publication import queue_new_matches
    from hub.push.queue import PushError, PushQueue, load_mac_key
    from hub.push.senders import PushSettings, PushSettingsError, make_sender

    home = home_dir(args)
    clock = (lambda: args.now) if args.now else utc_now
    try:
        settings = PushSettings.load(home)
    except PushSettingsError as exc:
        raise CommandError(str(exc), exitcodes.USAGE) from None
    store = args.store_of(args)
    try:
        push = PushQueue(store, load_mac_key(home), weekly_cap=settings.weekly_cap)
        if args.stop_number:
            dropped = push.stop_number(args.stop_number, "registrar", clock())
            ctx.emit({"stopped": mask_phone(args.stop_number), "dropped": dropped},
                     f"{mask_phone(args.stop_number)} 已退订，撤下待发 {dropped} 条")
            return exitcodes.OK
        queued = queue_new_matches(push, clock(), feeds_dir=home / "feeds")
        if args.queue_only:
            ctx.emit({"queued": queued}, f"新排队 {queued} 条")
            return exitcodes.OK
        report = push.run(make_sender(settings), clock, limit=settings.batch,
                          in_doubt_wait_s=settings.in_doubt_wait_s)
    except PushError as exc:
        raise CommandError(str(exc)) from None
    finally:
        store.close()
    skipped = "，".join(f"{reason} {n} 条" for reason, n in report.dropped.items())
    text = (f"新排队 {queued} 条，已发送 {report.sent} 条" + (f"，不发：{skipped}" if skipped else "")
            + (f"，回复退订 {report.stopped_numbers} 人" if report.stopped_numbers else "")
            + ("；夜间（21:00-08:00）不发送，其余明早再发" if report.night else ""))
    ctx.emit({"queued": queued, "sent": report.sent, "dropped": report.dropped, "night": report.night,
              "confirmed": report.confirmed, "resent": report.resent, "error": report.error}, text)
    if report.error:
        raise CommandError(f"推送中断：{report.error}（待发的留在队列里，下次继续）", exitcodes.FAILURE)
    return exitcodes.OK


def _smsc(args: argparse.Namespace, ctx: Context) -> int:
    from hub.push.smsc import LocalSmsc

    def shown(entry: dict[str, Any]) -> None:
        print(f"收到 #{entry['message_id']} 发往 {mask_phone(entry['to'])}：{entry['text']}", flush=True)

    try:
        smsc = LocalSmsc(args.host, args.port, record=args.record, system_id=args.system_id,
                         password=args.password, on_submit=shown).start()
    except OSError as exc:
        raise CommandError(f"本地短信中心无法监听 {args.host}:{args.port}（{exc.strerror or exc}）") from None
    print(f"本地短信中心（SMPP 3.4）在 {smsc.host}:{smsc.port}，账号 {args.system_id}。"
          "输入 td 手机号 模拟居民回复退订，Ctrl-C 结束。", flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if len(words) == 2 and words[0].lower() == "td" and words[1].isdigit():
                smsc.deliver(words[1], "TD")
                print(f"已从 {mask_phone(words[1])} 发出 TD", flush=True)
            elif words:
                print("看不懂这一行：请输入 td 手机号（例如 td 13800001234）", flush=True)
        threading.Event().wait()  # no terminal (a service): serve until stopped
    except KeyboardInterrupt:
        pass
    finally:
        smsc.stop()
    return exitcodes.OK
