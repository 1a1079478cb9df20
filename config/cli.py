"""The ``yizhan`` command line.

Each subcommand lives in the package that owns it and is registered here by module name.
A subcommand module provides ``register(parser)``: it adds its options (and its own
sub-subcommands, made with :func:`add_command`) and sets ``handler`` with
``parser.set_defaults(handler=fn)``, where ``fn(args, ctx) -> int`` returns an exit code
from :mod:`config.exitcodes`. Modules keep heavy imports (Kivy, Flask) inside handlers
so that ``yizhan --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from config import exitcodes
from config.privacy import install_log_scrubbing
from config.settings import Settings, SettingsError, find_settings_file, load_settings
from deploy.logs import install_log_limits

Handler = Callable[[argparse.Namespace, "Context"], int]

# name -> (module, one-line help). The order is the order of ``yizhan --help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("config.demo", "run the whole station on loopback with simulated hardware"),
    "kiosk": ("kiosk.cli", "the touchscreen app for residents"),
    "display": ("display.cli", "the job board player for TVs and LED boards"),
    "sync": ("content.sync_cli", "fetch the signed feed and deliver the outbox"),
    "hub": ("content.hub.cli", "the reference central server: keys, publishing, serving"),
    "jobs": ("content.jobs_cli", "search, show, import and generate jobs in the station store"),
    "idcard": ("idcard.cli", "resident ID card reader: read, status, simulate"),
    "print": ("printer.cli", "slips on the thermal printer: test, job, status, preview, queue"),
    "stats": ("content.stats_cli", "service counts from the station store"),
    "doctor": ("config.doctor", "check this station's set-up and print a table"),
    "config": ("config.config_cli", "check and show the station settings"),
    "install": ("deploy.cli", "install a release bundle on this box: user, folders, units (root)"),
    "upgrade": ("deploy.upgrade_cli", "releases from the feed: check, install, switch, roll back"),
    "screens": ("deploy.screens_cli", "switch the screens off outside opening hours and on again"),
}

EPILOG = "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in exitcodes.TABLE)


class CommandError(Exception):
    """A failure the user can act on; ``main`` prints the message (no traceback) and exits."""

    def __init__(self, message: str, code: int = exitcodes.FAILURE) -> None:
        super().__init__(message)
        self.code = code


class Context:
    """What a handler needs besides its arguments: the settings (loaded on first use) and output."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))

    @cached_property
    def settings(self) -> Settings:
        return load_settings(find_settings_file(getattr(self.args, "config", None)))

    def emit(self, data: Any, text: str | None = None) -> None:
        """Print ``data`` as JSON with ``--json``, else ``text`` (or a plain rendering of data)."""
        if self.json:
            print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        elif text is not None:
            print(text)
        else:
            print(data)


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes; SUPPRESS keeps nested parsers from resetting them."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="settings file (default: $YIZHAN_CONFIG, /etc/yizhan/station.toml, ./station.toml)")
    parent.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")
    parent.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="more log output")
    return parent


_COMMON = common_options()


def add_command(subparsers: argparse._SubParsersAction, name: str, help: str, **kwargs: Any
                ) -> argparse.ArgumentParser:
    """Add a (sub-)subcommand that takes the common options and shows the exit codes."""
    return subparsers.add_parser(
        name, help=help, description=kwargs.pop("description", help), parents=[_COMMON],
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs,
    )


def version() -> str:
    """The installed release's version (the package metadata of whatever ``config`` came from)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("yizhan")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yizhan", description="Yizhan (驿站): software for a public employment service station.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[_COMMON],
    )
    parser.add_argument("--version", action="version", version=f"yizhan {version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that part of the station is not in this build
            raise
        sub = add_command(subparsers, name, help_text)
        sub.set_defaults(handler=_show_help_for(sub))
        module.register(sub)
    return parser


def _show_help_for(parser: argparse.ArgumentParser) -> Handler:
    def handler(args: argparse.Namespace, ctx: Context) -> int:
        parser.print_help()
        return exitcodes.USAGE

    return handler


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_scrubbing()
    install_log_limits()  # months unattended: the same line a second must not fill the disk
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return exitcodes.USAGE
    ctx = Context(args)
    try:
        return int(handler(args, ctx) or 0)
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return exitcodes.CONFIG
    except CommandError as exc:
        print(f"yizhan {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    # Run as ``python -m config.cli``: use the one imported module, so that the exception
    # classes subcommands raise are the ones ``main`` catches.
    from config.cli import run as _run

    _run()
