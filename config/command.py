"""What a subcommand module needs from the command line, without importing the command line.

``config.cli`` is the one module that imports the ``*_cli`` modules (by name, from its
COMMANDS table); they import this leaf module for :func:`add_command`,
:class:`CommandError`, :class:`Context`, :func:`version` and the exit codes, so that no import cycle runs
back through ``config.cli``. This module imports only the settings and exit codes, never a
package above ``config``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from common import exitcodes
from config.settings import Settings, find_settings_file, load_settings

Handler = Callable[[argparse.Namespace, "Context"], int]

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


COMMON = common_options()


def add_command(subparsers: argparse._SubParsersAction, name: str, help: str, **kwargs: Any
                ) -> argparse.ArgumentParser:
    """Add a (sub-)subcommand that takes the common options and shows the exit codes."""
    return subparsers.add_parser(
        name, help=help, description=kwargs.pop("description", help), parents=[COMMON],
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs,
    )


def version() -> str:
    """The installed release's version (the package metadata of whatever ``config`` came from)."""
    from content.health import software_version

    return software_version()
