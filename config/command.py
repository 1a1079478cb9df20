"""The command-line framework (:mod:`common.command`) with the station's settings plugged in.

``config`` is the floor that reads the settings: importing this module tells
:class:`common.command.Context` to load them from the ``--config`` file (or the default places)
the first time a handler asks. The station's command modules import their framework names from
here or from :mod:`common.command`; the hub's commands use :mod:`common.command` only.
"""

from __future__ import annotations

from typing import Any

from common.command import (
    COMMON,
    EPILOG,
    CommandError,
    Context,
    Handler,
    add_command,
    common_options,
    set_settings_loader,
    version,
)
from config.settings import Settings, find_settings_file, load_settings

__all__ = ["COMMON", "EPILOG", "CommandError", "Context", "Handler", "add_command", "common_options", "version",
           "load_station_settings"]


def load_station_settings(config: str | None) -> Settings:
    """The settings from ``--config FILE``, else $YIZHAN_CONFIG, /etc/yizhan/station.toml, ./station.toml."""
    return load_settings(find_settings_file(config))


def _loader(config: str | None) -> Any:
    return load_station_settings(config)


set_settings_loader(_loader)
