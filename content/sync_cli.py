"""``yizhan sync``: fetch the signed feed and deliver the outbox.

    yizhan sync --once        one sync and one delivery round; exit 0 changed, 5 unchanged,
                              1 refused/failed, 4 hub unreachable, 3 not configured
    yizhan sync --status      last sync, content version, outbox depth and oldest entry
    yizhan sync               keep syncing every hub.sync_interval_s until Ctrl-C
    yizhan sync --now         wake the running ``yizhan sync`` to sync and deliver at once (the
                              staff screen's 立即同步); without one running, as --once
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from common import exitcodes
from common.clock import duration_text
from config.command import Context


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="sync once, deliver once, and exit with the outcome")
    parser.add_argument("--status", action="store_true",
                        help="show the last sync, the content version and the outbox (depth, oldest entry)")
    parser.add_argument("--now", action="store_true",
                        help="wake the running yizhan sync to sync now (as --once when none runs)")
    parser.add_argument("--no-deliver", action="store_true", help="do not deliver the outbox")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_sync)


def _sync(args: argparse.Namespace, ctx: Context) -> int:
    settings = ctx.settings
    if args.status:
        return _status(ctx)
    if args.now:
        return _now(args, ctx)
    if args.once:
        return _once(args, ctx)
    from config.station import Station
    from content.live import announce_sync
    from deploy import watchdog

    loop = Station(settings).sync_loop()
    print(f"每 {settings.hub.sync_interval_s} 秒同步一次，Ctrl-C 停止", file=sys.stderr)
    # The feed and the uploads run in threads of their own (a slow feed must not hold back a
    # registration); systemd is pinged every minute while both threads run and neither is stuck
    # in one round (SyncLoop.alive), so it restarts a loop that hangs (WatchdogSec) but not one
    # whose interval is longer than the watchdog.
    loop.start()
    announce_sync(settings.data_dir, loop.sync_now)  # 立即同步 from the kiosk or ``yizhan sync --now``
    pinged = printed = loop.status
    try:
        while True:
            status = loop.wait_rounds(pinged.feed_rounds, pinged.delivery_rounds, timeout=60.0)
            if status.feed_rounds > printed.feed_rounds and status.last_result is not None:
                _print_result(ctx, status.last_result, status.last_delivery)
                printed = status
            if status.feed_rounds > pinged.feed_rounds and status.delivery_rounds > pinged.delivery_rounds:
                pinged = status
            if loop.alive():  # between rounds counts: an interval may be longer than WatchdogSec
                watchdog.ping()
    finally:
        loop.stop(timeout=5.0)


def _now(args: argparse.Namespace, ctx: Context) -> int:
    from content.live import request_sync

    if request_sync(ctx.settings.data_dir):
        print("已通知同步服务立即同步（结果见 yizhan sync --status）", file=sys.stderr)
        return exitcodes.OK
    print("没有运行中的同步服务（yizhan-sync），现在在这里同步一次", file=sys.stderr)
    return _once(args, ctx)


def _once(args: argparse.Namespace, ctx: Context) -> int:
    from common.diskspace import require_writable
    from config.station import Station

    require_writable(ctx.settings.data_dir)  # a full disk is one line, not a traceback mid-download
    station = Station(ctx.settings)
    client = station.sync_client()
    client.recheck_media = True  # a run by hand also finds damaged media (``yizhan doctor`` points here)
    bar = _ProgressBar(enabled=not (args.no_progress or ctx.json))
    try:
        result = client.sync_once(progress=bar.update)
    finally:
        bar.close()
        client.close()
    delivery = None
    if not args.no_deliver:
        sender = station.sender()
        try:
            delivery = sender.deliver_once()
        finally:
            sender.close()
    _print_result(ctx, result, delivery)
    return result.exit_code


def _print_result(ctx: Context, result: Any, delivery: Any) -> None:
    data = {"sync": result.to_dict(), "delivery": None if delivery is None else vars(delivery)}
    size = _size(result.bytes)
    if result.status == "changed":
        line = (f"已更新：{result.feed_id} 第 {result.version} 版（条目 {result.items_fetched}/{result.items_total}，"
                f"媒体 {result.media_fetched}/{result.media_total}，下载 {size}，{result.duration_s:.1f} 秒）")
        if result.rejected:
            line += f"；{result.rejected} 条记录未通过本机校验，未显示"
    elif result.status == "unchanged":
        line = f"无变化：{result.feed_id or '（无内容）'} 第 {result.version} 版（{result.requests} 次请求，{size}）"
    else:
        line = f"同步失败：{result.reason}" + (f"（{result.detail}）" if result.detail else "")
    if delivery is not None:
        if delivery.status == "disabled":
            line += f"\n上传：{delivery.reason}；待上传 {delivery.remaining} 条"
        elif delivery.status == "empty":
            line += "\n上传：没有待上传的记录"
        elif delivery.status == "failed":
            line += f"\n上传失败：{delivery.reason}；待上传 {delivery.remaining} 条"
        else:
            line += f"\n上传：送达 {delivery.sent} 条（重复确认 {delivery.duplicates}，被拒 {delivery.rejected}），" \
                    f"待上传 {delivery.remaining} 条"
    ctx.emit(data, line)


def _status(ctx: Context) -> int:
    from config.station import Station

    with Station(ctx.settings) as station:
        data = station.sync_status()
    age = data["outbox_oldest_age_s"]
    lines = [
        f"内容地址    {data['feed_url'] or '（未设置）'}",
        f"现有内容    {data['feed_id'] or '（无）'} 第 {data['version']} 版，应用于 {data['applied_at'] or '—'}",
        "内容数量    " + "，".join(f"{k} {v}" for k, v in data["counts"].items()),
        f"上次同步    {data['last_attempt_at'] or '从未'}（{_status_word(data['last_status'])}）",
        f"上次成功    {data['last_success_at'] or '从未'}",
        f"上次更新    {data['last_change_at'] or '从未'}",
        f"上次错误    {data['last_error'] or '无'}",
        f"待上传      {data['outbox_depth']} 条" + (f"，最早的已等待 {duration_text(age)}" if age is not None else ""),
    ]
    feed = data["feed"]
    if data.get("pinned_feed_id"):
        lines.insert(1, f"内容源      {data['pinned_feed_id']}（只接受这个内容源）")
    if feed["expires_at"]:
        lines.append(f"有效期至    {feed['expires_at']}" + ("（已过期）" if feed["expired"] else ""))
    if data.get("key_rotations"):
        lines.append(f"签名密钥    已按签名记录更换 {data['key_rotations']} 次")
    for problem in feed["problems"]:
        lines.append(f"问题        {problem}")
    for record in feed["invalid_records"][:50]:
        lines.append(f"  未通过校验 {record['kind']} {record['id']}：{record['reason']}")
    if feed["invalid_count"] > 50:
        lines.append(f"  … 另有 {feed['invalid_count'] - 50} 条")
    ctx.emit(data, "\n".join(lines))
    return exitcodes.OK


def _status_word(status: str | None) -> str:
    return {"changed": "已更新", "unchanged": "无变化", "failed": "失败"}.get(status or "", "—")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


class _ProgressBar:
    """A tqdm bar of bytes, with items done / total after it; created when there is something to fetch."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def update(self, progress: Any) -> None:
        if not self.enabled or progress.bytes_total <= 0:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=progress.bytes_total, unit="B", unit_scale=True, unit_divisor=1024,
                            desc="同步", file=sys.stderr, leave=False, dynamic_ncols=True)
        self.bar.set_postfix_str(f"条目 {progress.items_done}/{progress.items_total}", refresh=False)
        self.bar.update(min(progress.bytes_done, progress.bytes_total) - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
