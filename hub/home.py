"""Where the hub keeps its keys, database and feeds: ``--home``, else $YIZHAN_HUB_HOME, else ./hub."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_HOME = "hub"


def home_dir(args: argparse.Namespace) -> Path:
    """The hub's home folder for a command's arguments, absolute."""
    # Absolute from here on: a relative --home means relative to where the command was run.
    return Path(getattr(args, "home", None) or os.environ.get("YIZHAN_HUB_HOME") or DEFAULT_HOME).expanduser().resolve()
