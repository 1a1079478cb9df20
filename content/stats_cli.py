"""``yizhan stats``: service counts from the station store.

What the station did for residents on a day (registrations, slips, kiosk use, board plays;
see :mod:`content.stats`), what content it holds (feed, version, when applied), how many jobs are open per
category and kind (near the station and in all), and how many rows the other parts of the
station keep in the same database (registrations, outbox, print queue, ...), whatever
tables they are: those are counted by name, so this command needs no knowledge of them.
"""

from __future__ import annotations

import argparse
import datetime as dt

from common import exitcodes
from config.command import Context
from config.station import open_store

_OWN_PREFIX = "content_"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                        help="count jobs open on this day (default: today)")
    parser.set_defaults(handler=_stats)
    from config.command import add_command

    sub = parser.add_subparsers(dest="stats_command", metavar="ACTION")
    report = add_command(sub, "report", "the month's 服务成效表 as CSV, XLSX and a PNG chart")
    report.add_argument("--month", required=True, metavar="YYYY-MM", help="e.g. 2026-11")
    report.add_argument("--out", default="reports", metavar="DIR", help="folder for the files (default ./reports)")
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from common.fonts import FontNotFoundError, find_cjk_font
    from config.command import CommandError
    from content.stats_report import COLUMNS, month_report, parse_month, write_report

    try:
        month = parse_month(args.month)
    except ValueError as exc:
        raise CommandError(str(exc), exitcodes.USAGE) from None
    settings = ctx.settings
    report = month_report(settings.db_path, month, station_id=settings.station.id, station_name=settings.station.name)
    try:
        font = find_cjk_font(settings.ui.font)
    except FontNotFoundError:
        font = None
    files = write_report(report, Path(args.out), font)
    total = {name: report.total[COLUMNS.index(name)] for name in ("登记合计", "打印合计", "自助机使用")}
    ctx.emit({"month": args.month, "files": [str(f) for f in files], "total": total},
             f"{args.month} 服务成效：登记 {total['登记合计']} 人次，打印 {total['打印合计']} 张，"
             f"自助机使用 {total['自助机使用']} 次\n" + "\n".join(f"  {f}" for f in files))
    return exitcodes.OK


def _stats(args: argparse.Namespace, ctx: Context) -> int:
    from content.headline import job_counts
    from content.stats import service_counts
    from protocol.model import JOB_KINDS

    today = getattr(args, "date", None) or dt.date.today()
    with open_store(ctx.settings) as store:
        info = store.content_info()
        near = store.category_counts(today)
        everywhere = store.category_counts(today, radius_km=None)
        kinds = {kind: store.count_jobs(kind=kind, radius_km=None, today=today) for kind in JOB_KINDS}
        gigs_today = job_counts(store, today).gigs_today  # the kiosk's and the board's number
        radius = store.default_radius_km
        others = {name: count for name, count in store.table_counts().items() if not name.startswith(_OWN_PREFIX)}
    service = service_counts(ctx.settings.db_path, today)
    data = {
        "date": today.isoformat(),
        "service": service.as_dict(),
        "content": {"feed_id": info.feed_id, "version": info.version,
                    "applied_at": info.applied_at.isoformat() if info.applied_at else None,
                    "counts": info.counts},
        "open_jobs": {"radius_km": radius, "near": sum(near.values()), "all": sum(everywhere.values()),
                      "by_category_near": near, "by_category_all": everywhere, "by_kind_all": kinds,
                      "gigs_today": gigs_today},
        "other_tables": others,
    }
    if ctx.json:
        ctx.emit(data)
        return exitcodes.OK
    print(f"{today} 服务：登记 {service.registrations_total} 人次（"
          + "，".join(f"{k} {v}" for k, v in service.registrations.items()) + "）"
          + f"，打印 {service.slips_total} 张" + (("（" + "，".join(
              f"{k} {v}" for k, v in service.slips_printed.items()) + "）") if service.slips_printed else "")
          + f"，自助机使用 {sum(service.usage.values())} 次，大屏播放 {service.board_plays} 次"
          + f"，待上报 {service.outbox_waiting} 条")
    print(f"好差评 {sum(service.ratings.values())} 次（"
          + "，".join(f"{k} {v}" for k, v in service.ratings.items()) + "）")
    applied = info.applied_at.astimezone().strftime("%Y-%m-%d %H:%M") if info.applied_at else "从未"
    print(f"内容：{info.feed_id or '无'} 第 {info.version} 版，更新于 {applied}")
    print("记录：" + "，".join(f"{k} {v}" for k, v in info.counts.items()))
    print(f"{today} 在招岗位：{radius:g} 公里内 {sum(near.values())} 个，全部 {sum(everywhere.values())} 个，"
          f"今日零工 {gigs_today} 个")
    print(f"按类别（{radius:g} 公里内/全部）：" + "，".join(
        f"{cat} {near[cat]}/{everywhere[cat]}" for cat in near if everywhere[cat]))
    print("按用工形式：" + "，".join(f"{k} {v}" for k, v in kinds.items()))
    if others:
        print("其他数据表：" + "，".join(f"{name} {count}" for name, count in sorted(others.items())))
    return exitcodes.OK
