"""``yizhan config``: check a settings file, show the effective settings, hash a staff PIN."""

from __future__ import annotations

import argparse
import getpass
import json
import math
import sys
import time
from collections.abc import Callable

from common import exitcodes
from config.command import Context, add_command
from config.settings import (
    PIN_GUESS_TARGET_S,
    PIN_TIME_COST,
    check_pin,
    hash_pin,
    load_settings,
    pin_cost,
    pin_needs_rehash,
)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION")
    check = add_command(sub, "check", "validate a settings file (exit 0 if good, 3 if not)")
    check.add_argument("file", nargs="?", help="the file to check (default: the station's settings)")
    check.set_defaults(handler=_check)
    show = add_command(sub, "show", "print the effective settings, secrets masked")
    show.set_defaults(handler=_show)
    pin = add_command(sub, "hash-pin", "read a staff PIN (6-12 digits) and print its argon2id hash for "
                                       "kiosk.staff_pin_hash; says what one guess costs on this machine")
    pin.add_argument("--pin", help="the PIN (default: asked without echo, or read from stdin)")
    pin.set_defaults(handler=_hash_pin)


PIN_REHASH_WARNING = ("kiosk.staff_pin_hash: the staff PIN is hashed with an older, cheaper scheme; make it again "
                      "with 'yizhan config hash-pin' (at least 6 digits)（工作人员密码的保存方式已过时，容易被破解："
                      "请用 yizhan config hash-pin 重新设置至少 6 位的密码）")


def _check(args: argparse.Namespace, ctx: Context) -> int:
    settings = load_settings(args.file) if args.file else ctx.settings
    warnings = [PIN_REHASH_WARNING] if pin_needs_rehash(settings.kiosk.staff_pin_hash) else []
    for line in warnings if not ctx.json else []:
        print(f"{settings.source}: warning: {line}", file=sys.stderr)
    ctx.emit({"ok": True, "file": str(settings.source), "station": settings.station.id, "warnings": warnings},
             f"{settings.source}: OK ({settings.station.name}, {settings.station.id})")
    return exitcodes.OK


def _show(args: argparse.Namespace, ctx: Context) -> int:
    data = ctx.settings.masked()
    if ctx.json:
        ctx.emit(data)
        return exitcodes.OK
    print(f"# effective settings from {ctx.settings.source}")
    for section, values in data.items():
        _print_section(section, values)
    return exitcodes.OK


def _print_section(name: str, values: dict) -> None:
    plain = {k: v for k, v in values.items() if not isinstance(v, dict)}
    nested = {k: v for k, v in values.items() if isinstance(v, dict)}
    if plain:
        print(f"\n[{name}]")
        for key, value in plain.items():
            print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    for key, value in nested.items():
        _print_section(f"{name}.{key}", value)


def _hash_pin(args: argparse.Namespace, ctx: Context) -> int:
    pin = args.pin
    if pin is None:
        pin = getpass.getpass("staff PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    try:
        digest, guess_s = hash_pin_for_this_machine(pin)
    except ValueError as exc:
        print(f"yizhan config hash-pin: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    cost = pin_cost(digest) or {}
    print(f"argon2id, {cost['memory_kib'] // 1024} MiB, time cost {cost['time_cost']}, parallelism "
          f"{cost['parallelism']}: one guess takes {guess_s:.2f} s on this machine (at least "
          f"{PIN_GUESS_TARGET_S:g} s wanted)（argon2id 加密，本机每猜一次约 {guess_s:.2f} 秒）", file=sys.stderr)
    ctx.emit({"staff_pin_hash": digest, "scheme": "argon2id", **{k: v for k, v in cost.items() if k != "scheme"},
              "guess_s": round(guess_s, 3)}, f'staff_pin_hash = "{digest}"')
    return exitcodes.OK


def hash_pin_for_this_machine(pin: str, *, target_s: float = PIN_GUESS_TARGET_S, max_time_cost: int = 64,
                              clock: Callable[[], float] = time.perf_counter) -> tuple[str, float]:
    """Hash ``pin`` at the station's cost, raised until one check takes ``target_s`` here (run
    on the station, that is the station's CPU); returns the hash and the time one check took."""
    time_cost = PIN_TIME_COST
    while True:
        digest = hash_pin(pin, time_cost=time_cost)
        took = min(_timed(clock, pin, digest) for _ in range(2))  # an attacker's best case
        if took >= target_s or time_cost >= max_time_cost:
            return digest, took
        # Time grows with the time cost: aim a little above the target.
        time_cost = min(max_time_cost, max(time_cost + 1, math.ceil(time_cost * target_s * 1.2 / max(took, 1e-3))))


def _timed(clock: Callable[[], float], pin: str, digest: str) -> float:
    started = clock()
    check_pin(pin, digest)
    return clock() - started
