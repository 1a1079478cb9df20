"""Preparing Kivy for the kiosk before its window exists: screen size, rotation, kiosk mode, font.

Kivy reads its window settings once, when ``kivy.core.window`` is first imported, so
:func:`prepare` must run before anything imports a widget. It is safe to call again (a
second app in the same process, a test): the window then keeps its first configuration and
:func:`apply_screen` adjusts what can change at run time.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from common.fonts import find_cjk_font

FONT_NAME = "CJK"
_prepared: dict[str, Any] = {}


def prepare(settings: Any, *, kiosk_mode: bool | None = None) -> Path:
    """Configure Kivy from ``settings.devices.kiosk_screen`` and register the CJK font; returns its path."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="yizhan-kivy-"))
    # Pictures are PNG and JPEG (SDL2 reads them, Pillow the rest): without this Kivy also loads
    # ffpyplayer's image reader and with it FFmpeg's libraries, about 12 MB and 30 ms at start.
    # The 培训视频 player still gets ffpyplayer for video when it first plays one.
    os.environ.setdefault("KIVY_IMAGE", "tex,dds,sdl2,pil")
    screen = settings.devices.kiosk_screen
    if screen.display:
        os.environ["DISPLAY"] = screen.display
    kiosk_mode = screen.fullscreen if kiosk_mode is None else kiosk_mode
    font = find_cjk_font(settings.ui.font or None)
    if not _prepared:
        from kivy.config import Config

        width, height = (screen.height, screen.width) if screen.rotation in (90, 270) else (screen.width, screen.height)
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
        Config.set("graphics", "rotation", str(screen.rotation))
        Config.set("graphics", "fullscreen", "auto" if kiosk_mode else "0")
        Config.set("graphics", "borderless", "1" if kiosk_mode else "0")
        Config.set("graphics", "show_cursor", "0" if kiosk_mode else "1")
        Config.set("graphics", "resizable", "0" if kiosk_mode else "1")
        Config.set("graphics", "maxfps", "30")
        # No multisampling (Kivy asks for 2x): under software GL, which many station boxes run,
        # every pixel was drawn four times and the window resolved each frame; a tap's page
        # took ~2x as long. Text is smoothed by its own textures; the drawn pictograms' edges
        # stay clean at kiosk sizes (looked at in the demo's screenshots).
        Config.set("graphics", "multisamples", "0")
        Config.set("kivy", "exit_on_escape", "0")
        Config.set("kivy", "pause_on_minimize", "0")
        Config.set("kivy", "log_level", os.environ.get("YIZHAN_KIVY_LOG", "warning"))
        # A right click must not leave Kivy's red multitouch-emulation dots on a touchscreen.
        Config.set("input", "mouse", "mouse,disable_multitouch")
        _prepared["screen"] = screen
    from kivy.core.text import DEFAULT_FONT, LabelBase

    # Replacing Kivy's default font makes every Label, Button and TextInput draw hanzi.
    LabelBase.register(DEFAULT_FONT, str(font))
    LabelBase.register(FONT_NAME, str(font))
    _prepared["font"] = font
    return font


def apply_screen(settings: Any, *, kiosk_mode: bool | None = None) -> None:
    """Bring an existing window in line with the settings (size, rotation, cursor)."""
    from kivy.core.window import Window

    screen = settings.devices.kiosk_screen
    kiosk_mode = screen.fullscreen if kiosk_mode is None else kiosk_mode
    if Window.rotation != screen.rotation:
        Window.rotation = screen.rotation
    width, height = (screen.height, screen.width) if screen.rotation in (90, 270) else (screen.width, screen.height)
    if not kiosk_mode and tuple(Window.system_size) != (width, height):
        Window.system_size = (width, height)
    Window.show_cursor = not kiosk_mode
    if kiosk_mode:
        Window.borderless = True
        Window.fullscreen = "auto"
