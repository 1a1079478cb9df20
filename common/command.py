"""The command-line framework every ``yizhan`` subcommand module uses, without importing the command line.

``config.cli`` is the one module that imports the command modules (by name, from its COMMANDS
table); they import :func:`add_command`, :class:`CommandError`, :class:`Context`,
:func:`version` and the exit codes from here, so that no import cycle runs back through
``config.cli``, and the hub's commands need nothing of ``config/``. The station's settings are
loaded by a function ``config`` installs (:func:`set_settings_loader`): this module imports
nothing of ours but the exit codes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from common import exitcodes

Handler = Callable[[argparse.Namespace, "Context"], int]
SettingsLoader = Callable[[str | None], Any]

EPILOG = "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in exitcodes.TABLE)


class CommandError(Exception):
    """A failure the user can act on; ``main`` prints the message (no traceback) and exits."""

    def __init__(self, message: str, code: int = exitcodes.FAILURE) -> None:
        super().__init__(message)
        self.code = code


_settings_loader: SettingsLoader | None = None


def set_settings_loader(loader: SettingsLoader) -> None:
    """Say how :attr:`Context.settings` reads the station's settings (``config.command`` does, with
    the ``--config`` file name or None for the default places)."""
    global _settings_loader
    _settings_loader = loader


class Context:
    """What a handler needs besides its arguments: the settings (loaded on first use) and output."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))

    @cached_property
    def settings(self) -> Any:
        if _settings_loader is None:
            raise CommandError("这个命令需要站点设置，但设置的读取没有装好（请用 yizhan 命令运行）", exitcodes.USAGE)
        return _settings_loader(getattr(self.args, "config", None))

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


COMMON = common_options()


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str, **kwargs: Any
                ) -> argparse.ArgumentParser:
    """Add a (sub-)subcommand that takes the common options and shows the exit codes."""
    return subparsers.add_parser(
        name, help=help, description=kwargs.pop("description", help), parents=[COMMON],
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs,
    )


def version() -> str:
    """The installed release's version (the package metadata of whatever this program came from).

    Read here rather than through the station's health module, which a hub's install cannot import.
    """
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("yizhan")
    except PackageNotFoundError:
        return "unknown"
