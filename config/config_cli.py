"""``yizhan config``: check a settings file, show the effective settings, hash a staff PIN."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from config.command import Context, add_command
from config.settings import hash_pin, load_settings
from content import exitcodes


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION")
    check = add_command(sub, "check", "validate a settings file (exit 0 if good, 3 if not)")
    check.add_argument("file", nargs="?", help="the file to check (default: the station's settings)")
    check.set_defaults(handler=_check)
    show = add_command(sub, "show", "print the effective settings, secrets masked")
    show.set_defaults(handler=_show)
    pin = add_command(sub, "hash-pin", "read a staff PIN and print the hash for kiosk.staff_pin_hash")
    pin.add_argument("--pin", help="the PIN (default: asked without echo, or read from stdin)")
    pin.set_defaults(handler=_hash_pin)


def _check(args: argparse.Namespace, ctx: Context) -> int:
    settings = load_settings(args.file) if args.file else ctx.settings
    ctx.emit({"ok": True, "file": str(settings.source), "station": settings.station.id},
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
        digest = hash_pin(pin)
    except ValueError as exc:
        print(f"yizhan config hash-pin: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    ctx.emit({"staff_pin_hash": digest}, f'staff_pin_hash = "{digest}"')
    return exitcodes.OK
