"""The ``yizhan`` command line.

Each subcommand lives in the package that owns it and is registered here by module name;
this is the only module that imports the subcommand modules, and they import
:mod:`config.command` (never this module), so there is no import cycle.
A subcommand module provides ``register(parser)``: it adds its options (and its own
sub-subcommands, made with :func:`add_command`) and sets ``handler`` with
``parser.set_defaults(handler=fn)``, where ``fn(args, ctx) -> int`` returns an exit code
from :mod:`common.exitcodes`. Modules keep heavy imports (Kivy, Flask) inside handlers
so that ``yizhan --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sqlite3
import sys
from collections.abc import Sequence

from common import exitcodes
from common.diskspace import disk_problem
from common.privacy import install_log_scrubbing
from config.command import COMMON as _COMMON
from config.command import EPILOG, CommandError, Context, Handler, add_command, common_options, version
from config.settings import SettingsError
from config.sides import HUB_COMMANDS, hub_missing_message, missing_hub_modules, missing_package_message
from deploy.logs import install_log_limits

# Re-exported for subcommand modules written before config.command existed: they still run,
# and tests/foundation/test_import_cycles.py names them so that they move to config.command.
__all__ = ["COMMANDS", "EPILOG", "ROOT_COMMANDS", "CommandError", "Context", "Handler", "add_command", "build_parser",
           "common_options", "main", "run", "runs_as_root", "version"]

# name -> (module, one-line help). The order is the order of ``yizhan --help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("config.demo", "run the whole station on loopback with simulated hardware"),
    "kiosk": ("config.kiosk_cli", "the touchscreen app for residents"),
    "display": ("config.display_cli", "the job board player for TVs and LED boards"),
    "sync": ("content.sync_cli", "fetch the signed feed and deliver the outbox"),
    "hub": ("hub.cli", "the reference central server: keys, publishing, serving"),
    "jobs": ("content.jobs_cli", "search, show, import and generate jobs in the station store"),
    "idcard": ("idcard.cli", "resident ID card reader: read, status, simulate"),
    "print": ("printer.cli", "slips on the thermal printer: test, job, status, preview, queue"),
    "stats": ("content.stats_cli", "service counts from the station store"),
    "doctor": ("config.doctor", "check this station's set-up and print a table"),
    "config": ("config.config_cli", "check and show the station settings"),
    "install": ("deploy.cli", "install a release bundle on this box: user, folders, units (root)"),
    "upgrade": ("deploy.upgrade_cli", "releases from the feed: check, install, switch, roll back"),
    "screens": ("deploy.screens_cli", "switch the screens off outside opening hours and on again"),
    "backup": ("deploy.backup_cli", "save the station's data, outbox key and settings to one encrypted file"),
    "restore": ("deploy.restore_cli", "put a station back from a backup file (services stopped)"),
    "uninstall": ("deploy.uninstall_cli", "stop and remove the installed station; data kept unless --purge (root)"),
}

# Commands that may run as root as they are: they install, switch or read the box as root, or
# touch no station data. Any other command run by root against a data folder owned by the
# service user becomes that user first (see deploy.privileges), or refuses: a root-owned
# station.db stops every service. The set names the command's actions that drop all the same.
ROOT_COMMANDS: dict[str, frozenset[str]] = {
    "install": frozenset(), "uninstall": frozenset(), "backup": frozenset(), "restore": frozenset(),
    "config": frozenset(), "hub": frozenset(),
    "demo": frozenset(),  # its own folder under demo-out/, not the station's
    "upgrade": frozenset({"selfcheck"}),  # run, status, rollback write /opt as root; selfcheck opens the store
}


def runs_as_root(args: argparse.Namespace) -> bool:
    """True if ``args``' command may keep root (see :data:`ROOT_COMMANDS`)."""
    if args.command not in ROOT_COMMANDS:
        return False
    return getattr(args, f"{args.command}_command", None) not in ROOT_COMMANDS[args.command]

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yizhan", description="Yizhan (驿站): software for a public employment service station.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[_COMMON],
    )
    parser.add_argument("--version", action="version", version=f"yizhan {version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if name in HUB_COMMANDS and missing_hub_modules():  # a station's install: no hub packages
            _add_unavailable(subparsers, name, help_text, hub_missing_message(missing_hub_modules()[0]))
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that part of the station is not in this build
            message = missing_package_message(exc)  # a hub's install: no Kivy, no reader or printer packages
            if message is None:
                raise
            _add_unavailable(subparsers, name, help_text, message)
            continue
        sub = add_command(subparsers, name, help_text)
        sub.set_defaults(handler=_show_help_for(sub))
        module.register(sub)
    return parser


def _add_unavailable(subparsers: argparse._SubParsersAction, name: str, help_text: str, message: str) -> None:
    """A command whose packages this installation lacks: it takes any arguments and says so."""
    sub = add_command(subparsers, name, f"{help_text} (not installed here)")
    sub.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def handler(args: argparse.Namespace, ctx: Context) -> int:
        raise CommandError(message)

    sub.set_defaults(handler=handler)


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
        _leave_root(args, ctx, list(sys.argv[1:] if argv is None else argv))
        return int(handler(args, ctx) or 0)
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return exitcodes.CONFIG
    except CommandError as exc:
        print(f"yizhan {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except ModuleNotFoundError as exc:
        # A package this installation lacks (the hub's, on a station) is a line, never a traceback.
        message = missing_package_message(exc)
        if message is None:
            raise
        print(f"yizhan {args.command}: {message}", file=sys.stderr)
        return exitcodes.FAILURE
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED
    except (OSError, sqlite3.Error) as exc:
        # A full or read-only data disk is a line for staff, never a traceback.
        problem = disk_problem(exc)
        if problem is None:
            raise
        print(f"yizhan {args.command}: {problem}", file=sys.stderr)
        return exitcodes.UNAVAILABLE


def _leave_root(args: argparse.Namespace, ctx: Context, argv: list[str]) -> None:
    """Root running a command on the station's data becomes the data folder's owner, before
    anything is opened; if it cannot, the command is refused with the line to type instead."""
    import os

    if os.geteuid() != 0 or runs_as_root(args):
        return
    try:
        data_dir = ctx.settings.storage.data_dir
    except SettingsError:
        return  # the handler reports the settings, as it would for anyone
    from deploy.privileges import PrivilegeError, data_owner, drop_to_owner

    try:
        owner = data_owner(data_dir)
        if owner is not None:
            _hand_over_credentials(owner.uid, owner.gid)
        drop_to_owner(data_dir, argv)
    except PrivilegeError as exc:
        raise CommandError(str(exc), exitcodes.FAILURE) from None


def _hand_over_credentials(uid: int, gid: int) -> None:
    """A command typed at a root shell gets the sealed secrets as a service would: decrypted
    (while still root) into a memory-only folder of the service user's, gone when it exits."""
    import atexit
    import os
    import shutil
    from pathlib import Path

    from content import credentials

    if os.environ.get("CREDENTIALS_DIRECTORY"):
        return
    folder = Path("/dev/shm") / f"yizhan-credentials-{os.getpid()}"
    try:
        if credentials.unseal_into(folder, uid, gid) is None:
            return
    except (credentials.CredentialError, OSError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise CommandError(f"不能解开本站的加密凭据：{exc}", exitcodes.FAILURE) from None
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["CREDENTIALS_DIRECTORY"] = str(folder)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    # ``python -m config.cli``: CommandError and Context live in config.command, so the
    # classes subcommands raise are the ones ``main`` catches without importing this module twice.
    run()
