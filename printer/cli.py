"""``yizhan print``: test page, job slips, status, previews, the queue, the virtual printer.

Slips go through the durable queue: ``print job`` saves the slip, sends it when the
printer is ready and waits up to ``--timeout`` seconds for it to be confirmed. A slip
that cannot print yet (no paper, printer off) stays queued and prints on the next
``yizhan print`` command or while ``yizhan print serve`` (or the kiosk) runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path
from typing import Any

from common import exitcodes
from config.command import CommandError, Context, add_command
from config.settings import SettingsError

DEFAULT_TIMEOUT_S = 15.0


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="print_command", metavar="ACTION")

    test = add_command(sub, "test", "print a test page (profile, column ruler, Chinese text, QR code)")
    _print_options(test)
    test.set_defaults(handler=_test)

    job = add_command(sub, "job", "print a job slip (岗位推荐单) for a job in the station store")
    job.add_argument("job_id", metavar="JOB_ID")
    job.add_argument("--for-card", action="store_true",
                     help="first read a resident's ID card and print their masked name on the slip")
    job.add_argument("--card-timeout", type=float, default=30.0, metavar="S",
                     help="how long to wait for the card with --for-card (default 30)")
    _print_options(job)
    job.set_defaults(handler=_job)

    status = add_command(sub, "status", "read the printer's status (DLE EOT) and the queue; exit 4 unless ready")
    status.set_defaults(handler=_status)

    preview = add_command(sub, "preview", "render a slip to a PNG as the printer would print it")
    preview.add_argument("job_id", metavar="JOB_ID", help="a job id, or 'test' for the test page")
    preview.add_argument("-o", "--output", required=True, metavar="PNG")
    preview.add_argument("--profile", help="printer profile (default: devices.printer.profile)")
    preview.add_argument("--raster-qr", action="store_true", help="draw the QR code as an image")
    preview.set_defaults(handler=_preview)

    queue = add_command(sub, "queue", "list the print queue, or retry / cancel / confirm / reprint a slip")
    queue.add_argument("action", nargs="?", default="list",
                       choices=("list", "retry", "cancel", "confirm", "reprint"))
    queue.add_argument("slip_id", nargs="?", type=int, metavar="ID")
    queue.add_argument("--all", action="store_true", help="with list: also printed and cancelled slips")
    queue.set_defaults(handler=_queue)

    serve = add_command(sub, "serve", "work the print queue in the foreground until Ctrl-C")
    serve.set_defaults(handler=_serve)

    virtual = add_command(sub, "virtual", "run a virtual network printer on 127.0.0.1 that renders PNGs")
    virtual.add_argument("--port", type=int, help="data port (default: devices.printer.port, else 9100)")
    virtual.add_argument("--control-port", type=int, default=0,
                         help="text control port for 'state paper_out' etc. (default: any free port)")
    virtual.add_argument("--out", type=Path, help="folder for the PNGs (default: DATA_DIR/virtual-printer)")
    virtual.add_argument("--paper", type=int, choices=(58, 80), help="paper width (default: from settings)")
    virtual.add_argument("--state", default="ready", help="initial state (ready, paper_out, ...)")
    virtual.set_defaults(handler=_virtual)

    profiles = add_command(sub, "profiles", "list the printer profiles")
    profiles.set_defaults(handler=_profiles)


def _print_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"how long to wait for the printer (default {DEFAULT_TIMEOUT_S:g}); "
                             "the slip stays queued after that")
    parser.add_argument("--raster-qr", action="store_true", help="draw the QR code as an image")


# -- helpers ---------------------------------------------------------------------------------
def _profile(ctx: Context, name: str | None = None):
    from printer.profiles import ProfileError, get_profile, profile_for

    try:
        return get_profile(name) if name else profile_for(ctx.settings.devices.printer)
    except ProfileError as exc:
        raise CommandError(str(exc), exitcodes.CONFIG) from None


def _enabled_printer(ctx: Context) -> Any:
    printer = ctx.settings.devices.printer
    if not printer.enabled:
        raise CommandError("the printer is disabled in the settings (devices.printer.enabled = false)",
                           exitcodes.CONFIG)
    return printer


def _load_job(ctx: Context, job_id: str):
    from config.station import Station

    store = Station(ctx.settings).store
    try:
        job = store.get_job(job_id)
        if job is None:
            raise CommandError(f"no job {job_id!r} in the station store (see 'yizhan jobs search')")
        return job, store.job_distance_km(job)
    finally:
        store.close()


def _read_card_name(ctx: Context, timeout: float) -> str:
    import serial

    from idcard.port import open_port
    from idcard.protocol import Reader

    reader_settings = ctx.settings.devices.idcard
    if not reader_settings.enabled:
        raise CommandError("the ID card reader is disabled in the settings (devices.idcard.enabled = false)",
                           exitcodes.CONFIG)
    try:
        port = open_port(reader_settings.port, reader_settings.baud, reader_settings.reply_timeout_s)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise CommandError(f"cannot open the ID card reader {reader_settings.port}: {exc}",
                           exitcodes.UNAVAILABLE) from None
    print(f"请将身份证放在读卡器上（{timeout:.0f} 秒内）…", flush=True)
    try:
        card = Reader(port, reader_settings.reply_timeout_s).wait_for_card(
            timeout, reader_settings.poll_interval_ms / 1000, newest_address=False)
    except Exception as exc:  # reader errors carry no personal data
        raise CommandError(f"reading the ID card failed: {exc}", exitcodes.UNAVAILABLE) from None
    finally:
        port.close()
    if card is None:
        raise CommandError(f"no ID card was placed within {timeout:.0f} s", exitcodes.UNAVAILABLE)
    return card.name


def _print(ctx: Context, slip: Any, timeout: float) -> int:
    from common.diskspace import require_writable
    from config.station import Station

    _enabled_printer(ctx)
    require_writable(ctx.settings.data_dir)  # the slip is queued on disk before it prints
    try:
        service = Station(ctx.settings).print_service(poll_s=0.5)
    except ValueError as exc:
        raise CommandError(str(exc), exitcodes.CONFIG) from None
    queued = service.print_now(slip.kind, slip.data, slip.label, timeout=timeout)
    status = service.last_status
    data = {"slip": queued.as_dict(), "slip_no": slip.slip_no, "replaced_characters": slip.replaced,
            "printer": status.as_dict() if status else None}
    if queued.state == "printed":
        ctx.emit(data, f"已打印：{slip.label}（单号 {slip.slip_no}，队列号 {queued.id}）")
        return exitcodes.OK
    reason = status.message if status else queued.last_error
    if queued.state == "check":
        ctx.emit(data, f"发送中断：{slip.label}（队列号 {queued.id}）需核对：{queued.last_error}")
        return exitcodes.FAILURE
    ctx.emit(data, f"未能打印：{reason}\n{slip.label} 已保存在打印队列（队列号 {queued.id}，{queued.state_text}），"
                   f"打印机恢复后自动打印。")
    return exitcodes.UNAVAILABLE


# -- handlers --------------------------------------------------------------------------------
def _test(args: argparse.Namespace, ctx: Context) -> int:
    from printer.slips import new_slip_no, test_slip

    profile = _profile(ctx)
    slip = test_slip(station=ctx.settings.station, profile=profile, slip_no=new_slip_no(),
                     native_qr=False if args.raster_qr else None)
    return _print(ctx, slip, args.timeout)


def _job(args: argparse.Namespace, ctx: Context) -> int:
    from printer.slips import job_slip, new_slip_no

    profile = _profile(ctx)
    job, distance = _load_job(ctx, args.job_id)
    name = _read_card_name(ctx, args.card_timeout) if args.for_card else None
    slip = job_slip(job, station=ctx.settings.station, profile=profile, slip_no=new_slip_no(),
                    distance_km=distance, resident_name=name, native_qr=False if args.raster_qr else None,
                    page_url=_page_url(ctx, job.id))
    return _print(ctx, slip, args.timeout)


def _page_url(ctx: Context, job_id: str) -> str:
    """The job on the station's phone page (the slip's QR code when the job has no link)."""
    from protocol.phone import phone_page_url

    return phone_page_url(ctx.settings.hub.feed_url, ctx.settings.station.id, job_id)


def _status(args: argparse.Namespace, ctx: Context) -> int:
    from printer.connections import describe, read_status
    from printer.queue import PrintQueue

    printer = _enabled_printer(ctx)
    status = read_status(printer)
    queue = PrintQueue(ctx.settings.db_path)
    try:
        counts = queue.counts()
    finally:
        queue.close()
    waiting = sum(counts.get(s, 0) for s in ("queued", "sending", "sent"))
    data = {"printer": describe(printer), **status.as_dict(), "queue": counts}
    lines = [f"{describe(printer)}: {status.state.value} - {status.message}"]
    if status.detail:
        lines.append(f"  ({status.detail})")
    lines.append(f"队列：{waiting} 张待打印，{counts.get('check', 0)} 张需核对")
    ctx.emit(data, "\n".join(lines))
    return exitcodes.OK if status.printable else exitcodes.UNAVAILABLE


def _preview(args: argparse.Namespace, ctx: Context) -> int:
    from common.fonts import FontNotFoundError, find_cjk_font
    from printer.preview import render
    from printer.slips import job_slip, new_slip_no, test_slip

    profile = _profile(ctx, args.profile)
    native = False if args.raster_qr else None
    if args.job_id == "test":
        slip = test_slip(station=ctx.settings.station, profile=profile, slip_no=new_slip_no(), native_qr=native)
    else:
        job, distance = _load_job(ctx, args.job_id)
        slip = job_slip(job, station=ctx.settings.station, profile=profile, slip_no=new_slip_no(),
                        distance_km=distance, native_qr=native, page_url=_page_url(ctx, job.id))
    try:
        font = find_cjk_font(ctx.settings.ui.font or None)
    except FontNotFoundError as exc:
        raise CommandError(str(exc), exitcodes.CONFIG) from None
    image, report = render(slip.data, profile.dots, font_path=font,
                           chinese_default=not profile.needs_fs_ampersand)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    image.save(output)
    data = {"output": str(output), "profile": profile.name, "dots": profile.dots, "height": image.height,
            "bytes": len(slip.data), "problems": report.problems, "overflows": report.overflows,
            "replaced_characters": slip.replaced}
    text = f"{output}: {profile.name}, {profile.dots}x{image.height} dots, {len(slip.data)} bytes"
    for problem in report.problems + report.overflows:
        text += f"\n  problem: {problem}"
    ctx.emit(data, text)
    return exitcodes.OK if report.ok else exitcodes.FAILURE


def _queue(args: argparse.Namespace, ctx: Context) -> int:
    from printer.queue import PrintQueue, QueueError

    queue = PrintQueue(ctx.settings.db_path)
    try:
        if args.action == "list":
            slips = queue.recent(50) if args.all else queue.pending()
            data = [s.as_dict() for s in slips]
            if not slips:
                ctx.emit(data, "打印队列为空" if not args.all else "没有打印记录")
                return exitcodes.OK
            rows = [f"{s.id:>5}  {s.created_at.replace('T', ' ')}  {s.state_text}  {s.label}"
                    + (f"  ({s.last_error})" if s.last_error and s.state != "printed" else "") for s in slips]
            ctx.emit(data, "\n".join(rows))
            return exitcodes.OK
        if args.slip_id is None:
            raise CommandError(f"'yizhan print queue {args.action}' needs a slip ID (see 'yizhan print queue')",
                               exitcodes.USAGE)
        try:
            if args.action == "reprint":
                new_id = queue.reprint(args.slip_id)
                ctx.emit({"id": new_id, "copy_of": args.slip_id},
                         f"已加入队列：第 {args.slip_id} 张的新副本（队列号 {new_id}）")
                return exitcodes.OK
            slip = {"retry": queue.retry, "cancel": queue.cancel, "confirm": queue.confirm}[args.action](
                args.slip_id)
        except QueueError as exc:
            raise CommandError(str(exc)) from None
        ctx.emit(slip.as_dict(), f"{slip.id}: {slip.state_text}  {slip.label}")
        return exitcodes.OK
    finally:
        queue.close()


def _serve(args: argparse.Namespace, ctx: Context) -> int:
    from config.station import Station

    if not ctx.settings.devices.printer.enabled:
        # Not a failure: the unit's SuccessExitStatus/RestartPreventExitStatus name this code, so
        # systemd leaves the worker stopped instead of restarting it every few seconds.
        print("打印机已在设置中停用（devices.printer.enabled = false），打印服务不运行", flush=True)
        return exitcodes.SWITCHED_OFF

    def show(status: Any) -> None:
        print(f"{dt.datetime.now():%H:%M:%S} {status.state.value}: {status.message}", flush=True)

    try:
        service = Station(ctx.settings).print_service(on_status=show, live=True)  # the heartbeat reports it
    except ValueError as exc:
        raise CommandError(str(exc), exitcodes.CONFIG) from None
    service.start()
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
    return exitcodes.OK


def _virtual(args: argparse.Namespace, ctx: Context) -> int:
    from printer.virtual import STATES, VirtualPrinter

    try:
        settings = ctx.settings
    except SettingsError:
        settings = None  # the virtual printer also runs without a station
    printer = settings.devices.printer if settings else None
    port = args.port if args.port is not None else (printer.port if printer else 9100)
    paper = args.paper or (printer.paper_width if printer else 80)
    from printer.profiles import ProfileError, get_profile

    # The station's own printer, as its profile says (dots, power-up mode); with no station, or
    # with --paper asking for another width, that width's generic printer.
    profile = get_profile(f"generic-{paper}")
    if printer is not None:
        try:
            own = get_profile(printer.profile)
        except ProfileError:
            own = None
        if own is not None and own.paper_width == paper:
            profile = own
    chinese_default = not profile.needs_fs_ampersand
    out = args.out or ((settings.data_dir / "virtual-printer") if settings else Path("virtual-printer"))
    if args.state not in STATES:
        raise CommandError(f"unknown state {args.state!r}; known: {', '.join(STATES)}", exitcodes.USAGE)

    def announce(job: Any) -> None:
        problems = len(job.report.problems) + len(job.report.overflows) if job.report else 0
        print(f"slip {job.number}: {job.png} ({len(job.data)} bytes"
              + (f", {problems} problem(s)" if problems else "") + ")", flush=True)

    try:
        vp = VirtualPrinter(out, port=port, control_port=args.control_port, dots=profile.dots,
                            chinese_default=chinese_default, on_job=announce).start()
    except OSError as exc:
        raise CommandError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}",
                           exitcodes.UNAVAILABLE) from None
    vp.set_state(args.state)
    print(f"virtual printer ({paper} mm, {profile.dots} dots, profile {profile.name}) on 127.0.0.1:{vp.port}, control port {vp.control_port}, "
          f"slips in {out}; state {vp.state}. Ctrl-C stops it.", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        vp.stop()
    return exitcodes.OK


def _profiles(args: argparse.Namespace, ctx: Context) -> int:
    from printer.profiles import known_profiles

    profiles = known_profiles()
    data = [p.as_dict() for p in profiles.values()]
    rows = [f"{p.name:<14} {p.paper_width} mm {p.dots} dots {p.columns} cols  "
            f"QR {'native' if p.native_qr else 'image '}  FS& {'yes' if p.needs_fs_ampersand else 'no '}  "
            f"cutter {p.cutter:<7}  {p.description}" for p in profiles.values()]
    rows.append("also: escpos:<name> for any python-escpos capability profile (e.g. escpos:TM-T88V)")
    ctx.emit(data, "\n".join(rows))
    return exitcodes.OK
