"""Widgets shared by the kiosk's screens: big buttons, chips, tiles, the letter keyboard, the keypad."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder


def load_kv(path: str | Path) -> None:
    """Load a .kv file once per process (a second load would duplicate every rule's children)."""
    name = str(Path(path).resolve())
    if name not in Builder.files:
        Builder.load_file(name)
