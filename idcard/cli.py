"""``yizhan idcard``: read a card, show the reader's SAM status, run the simulated reader.

``read`` and ``status`` use ``--port``/``--baud`` when given, else ``[devices.idcard]`` from
the station settings. Exit codes: 0 done, 1 no card in time or the card/reader failed,
3 settings invalid, 4 the port cannot be opened or no reader answers on it (silent, an echo,
line noise). One corrupt reply during a read is retried until ``--timeout``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Any

from common import exitcodes
from config.command import CommandError, Context, add_command
from config.settings import SettingsError

DEFAULT_BAUD = 115200
BAUDS = (9600, 19200, 38400, 57600, 115200)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="idcard_command", metavar="ACTION")

    read = add_command(sub, "read", "wait for a card and print its fields (name, number, address masked)")
    _port_options(read)
    read.add_argument("--timeout", type=float, default=30.0, metavar="S",
                      help="seconds to wait for a card (default 30); exit 1 if none is placed")
    read.set_defaults(handler=_read)

    status = add_command(sub, "status", "the reader's SAM id and status")
    _port_options(status)
    status.set_defaults(handler=_status)

    simulate = add_command(sub, "simulate", "a virtual reader on a pseudo-terminal (demo, tests, training)",
                           description="Start a simulated reader. The first line printed is its port path "
                                       "(with --json: one JSON object). Commands ('help' lists them) are read "
                                       "from stdin and, with --control-port, from a TCP port on 127.0.0.1. "
                                       "It runs until 'quit', Ctrl-C, SIGTERM or Ctrl-D at a terminal.")
    simulate.add_argument("--baud", type=int, choices=BAUDS, default=DEFAULT_BAUD, help="line speed (default 115200)")
    simulate.add_argument("--control-port", type=int, metavar="PORT",
                          help="also accept commands on 127.0.0.1:PORT (0: any free port, printed)")
    simulate.add_argument("--link", metavar="PATH", help="put the port symlink here (default: a temporary directory)")
    simulate.add_argument("--place", type=int, metavar="N", help="start with sample card N on the reader")
    simulate.add_argument("--no-timing", action="store_true", help="answer at once instead of at wire speed")
    simulate.set_defaults(handler=_simulate)


def _port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", metavar="P", help="serial port (default: devices.idcard.port)")
    parser.add_argument("--baud", type=int, choices=BAUDS, metavar="B",
                        help="line speed (default: devices.idcard.baud, else 115200)")


def _resolve(args: argparse.Namespace, ctx: Context) -> tuple[str, int, float, float]:
    """Port, baud, reply timeout and poll interval from the options, then the settings."""
    settings = None
    if args.port is None:
        settings = ctx.settings  # no port given: the settings are required
    else:
        try:
            settings = ctx.settings
        except SettingsError:
            settings = None
    conf = settings.devices.idcard if settings is not None else None
    port = args.port or (conf.port if conf else "")
    baud = args.baud or (conf.baud if conf else DEFAULT_BAUD)
    reply_timeout = conf.reply_timeout_s if conf else 1.0
    poll = conf.poll_interval_ms / 1000 if conf else 0.3
    return port, baud, reply_timeout, poll


def _open(port: str, baud: int, reply_timeout: float) -> Any:
    import serial

    from idcard.port import open_port
    from idcard.service import port_error_reason

    try:
        return open_port(port, baud, reply_timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        reason = port_error_reason(exc)
        raise CommandError(f"cannot open the ID card reader port {port}: {reason}", exitcodes.UNAVAILABLE) from None


PROBE_ATTEMPTS = 3  # SAM status requests before a port that never sends a valid reply is "not a reader"


def _read(args: argparse.Namespace, ctx: Context) -> int:
    from idcard.errors import CardDataError, ReplyTimeout, StatusError
    from idcard.protocol import Reader
    from idcard.service import PORT_ERRORS, TRANSPORT_ERRORS, port_error_reason

    port_name, baud, reply_timeout, poll = _resolve(args, ctx)
    port = _open(port_name, baud, reply_timeout)
    deadline = time.monotonic() + args.timeout
    try:
        reader = Reader(port, reply_timeout)
        _probe(reader, port_name, deadline)
        if not ctx.json:
            print("请将身份证放在感应区……", file=sys.stderr, flush=True)
        while True:
            # One corrupt reply (bad checksum, cut short, noise on the line) is not the end of the read:
            # like the kiosk's reader service, try again until --timeout.
            try:
                card = reader.wait_for_card(max(0.0, deadline - time.monotonic()), poll)
                break
            except TRANSPORT_ERRORS as exc:
                if isinstance(exc, ReplyTimeout) and "no reply" in str(exc):
                    raise CommandError(f"the reader on {port_name} does not answer ({exc}); check the port "
                                       "and baud", exitcodes.UNAVAILABLE) from None
                if time.monotonic() + poll >= deadline:
                    raise CommandError(f"读卡失败，请重新放置身份证 ({exc})") from None
                time.sleep(poll)
    except PORT_ERRORS as exc:
        raise CommandError(f"the reader on {port_name} went away: {port_error_reason(exc)}",
                           exitcodes.UNAVAILABLE) from None
    except StatusError as exc:
        raise CommandError(f"{exc.status.zh} ({exc})") from None
    except CardDataError as exc:
        raise CommandError(f"无法识别此证件信息 ({exc})") from None
    finally:
        port.close()
    if card is None:
        raise CommandError(f"no card was placed within {args.timeout:g} s")
    data = card.masked_dict()
    ctx.emit(data, _card_text(data))
    return exitcodes.OK


def _probe(reader: Any, port_name: str, deadline: float) -> None:
    """Make sure a GA/T 467 reader is on the port: it answers SAM status with a valid frame.

    A port that stays silent, echoes what it is sent or sends line noise is not a reader: that is
    exit 4 (check the port), not "place the card again". A real reader's one corrupt reply is
    forgiven: it gets :data:`PROBE_ATTEMPTS` tries.
    """
    from idcard.errors import ReplyTimeout
    from idcard.service import TRANSPORT_ERRORS

    last: Exception | None = None
    for attempt in range(PROBE_ATTEMPTS):
        try:
            reader.sam_status()  # any status word will do: the SAM's health is not the question here
            return
        except TRANSPORT_ERRORS as exc:
            last = exc
            if isinstance(exc, ReplyTimeout) and "no reply" in str(exc):
                break  # silent: asking again only makes the resident wait
            if attempt + 1 < PROBE_ATTEMPTS and time.monotonic() >= deadline:
                break
    raise CommandError(f"no GA/T 467 reader answers on {port_name}: the port does not answer as a reader "
                       f"does ({last}); check the port and baud", exitcodes.UNAVAILABLE)


def _card_text(data: dict[str, Any]) -> str:
    rows = [("证件类型", data["card_type_zh"]), ("姓名", data["name"])]
    if data["english_name"]:
        rows.append(("英文姓名", data["english_name"]))
    rows.append(("性别", data["gender"]))
    if data["nation"]:
        rows.append(("民族", data["nation"]))
    if data["nationality"]:
        rows.append(("国籍", data["nationality"]))
    rows += [("出生日期", data["birth_date"]), ("年龄", str(data["age"]))]
    if data["address"]:
        rows.append(("住址", data["address"]))
    if data["newest_address"]:
        rows.append(("最新住址", data["newest_address"]))
    rows.append(("证件号码", data["id_number"]))
    if data["permit_number"]:
        rows.append(("通行证号码", data["permit_number"]))
    rows += [
        ("签发机关", data["authority"]),
        ("有效期限", f"{data['valid_from']} 至 {data['valid_to']}"),
        ("状态", "已过期" if data["expired"] else "有效"),
        ("照片", f"{data['photo_wlt_bytes']} 字节 WLT" + ("，已解码" if data["photo_decoded"] else "")),
    ]
    if data["fingerprint_bytes"]:
        rows.append(("指纹", f"{data['fingerprint_bytes']} 字节"))
    return "\n".join(f"{label}：{value}" for label, value in rows)


def _status(args: argparse.Namespace, ctx: Context) -> int:
    from idcard.errors import IdCardError
    from idcard.protocol import Reader
    from idcard.service import PORT_ERRORS, port_error_reason

    port_name, baud, reply_timeout, _ = _resolve(args, ctx)
    port = _open(port_name, baud, reply_timeout)
    try:
        reader = Reader(port, reply_timeout)
        status = reader.sam_status()
        sam_id = reader.sam_id() if status.ok else ""
    except PORT_ERRORS as exc:
        raise CommandError(f"the reader on {port_name} went away: {port_error_reason(exc)}",
                           exitcodes.UNAVAILABLE) from None
    except IdCardError as exc:
        raise CommandError(f"the reader on {port_name} does not answer properly: {exc}",
                           exitcodes.UNAVAILABLE) from None
    finally:
        port.close()
    data = {"port": port_name, "baud": baud, "ok": status.ok, "sw3": f"0x{status.code:02X}",
            "status": status.name, "status_en": status.en, "status_zh": status.zh, "sam_id": sam_id}
    text = f"端口：{port_name}（{baud} 波特）\nSAM 状态：{status.zh}（0x{status.code:02X} {status.en}）"
    if sam_id:
        text += f"\nSAM 编号：{sam_id}"
    ctx.emit(data, text)
    return exitcodes.OK if status.ok else exitcodes.FAILURE


def _simulate(args: argparse.Namespace, ctx: Context) -> int:
    from idcard.simulator import Simulator, SimulatorError

    simulator = Simulator(baud=args.baud, honour_timing=not args.no_timing, link=args.link)
    try:
        path = simulator.start()
    except (OSError, SimulatorError) as exc:
        raise CommandError(f"cannot create the simulated reader: {exc}", exitcodes.UNAVAILABLE) from None
    try:
        control_port = None
        if args.control_port is not None:
            try:
                control_port = simulator.serve_control(args.control_port)
            except OSError as exc:
                raise CommandError(f"cannot listen on 127.0.0.1:{args.control_port}: {exc}",
                                   exitcodes.UNAVAILABLE) from None
        if args.place is not None:
            try:
                simulator.place(args.place)
            except SimulatorError as exc:
                raise CommandError(str(exc), exitcodes.USAGE) from None
        if ctx.json:
            print(json.dumps({"path": path, "device": simulator.device, "baud": args.baud,
                              "control_port": control_port}), flush=True)
        else:
            print(path, flush=True)
            where = f"; commands also on 127.0.0.1:{control_port}" if control_port else ""
            print(f"simulated ID card reader at {path} ({args.baud} baud){where}. Type 'help'.",
                  file=sys.stderr, flush=True)
        previous = signal.signal(signal.SIGTERM, lambda *_: simulator.quit_requested.set())
        # Ctrl-D at a terminal quits; a closed or empty stdin (a background job) does not.
        reader = threading.Thread(target=_stdin_commands, args=(simulator, sys.stdin.isatty()),
                                  name="idcard-simulator-stdin", daemon=True)
        reader.start()
        try:
            while not simulator.quit_requested.wait(0.5):
                pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        simulator.stop()
    return exitcodes.OK


def _stdin_commands(simulator: Any, quit_on_eof: bool) -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        for answer in simulator.handle_command(line):
            print(answer, flush=True)
        if simulator.quit_requested.is_set():
            return
    if quit_on_eof:
        simulator.quit_requested.set()
