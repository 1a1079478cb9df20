"""The board's window, set before Kivy opens it: size, frame-rate cap, placement, and malloc arenas."""

from __future__ import annotations

import contextlib
import os


def configure_kivy(profile: object, *, fullscreen: bool = False) -> None:
    """Kivy settings that must be made before its window opens (size, frame-rate cap, no console)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    limit_malloc_arenas()
    from kivy.config import Config

    Config.set("graphics", "width", str(profile.width))  # type: ignore[attr-defined]
    Config.set("graphics", "height", str(profile.height))  # type: ignore[attr-defined]
    Config.set("graphics", "maxfps", str(profile.max_fps))  # type: ignore[attr-defined]
    Config.set("graphics", "resizable", "0")
    # Kivy asks SDL for 2x multisampling by default. The board draws only axis-aligned rectangles
    # at whole pixels, which multisampling leaves unchanged, but under software GL (llvmpipe) every
    # frame then rasterises at 4 samples a pixel and resolves the whole window when it is shown:
    # ~33 ms of CPU per 1080p frame for an empty window, against ~1.3 ms without.
    Config.set("graphics", "multisamples", "0")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    if getattr(profile, "layout", "tv") != "tv":
        # an LED controller mirrors a fixed screen region: put the window at its corner
        Config.set("graphics", "position", "custom")
        Config.set("graphics", "left", "0")
        Config.set("graphics", "top", "0")
        Config.set("graphics", "borderless", "1")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")


def limit_malloc_arenas(arenas: int = 2) -> None:
    """At most ``arenas`` malloc arenas (glibc): every video starts decoder threads, and each
    new thread's arena would otherwise keep its freed memory; the board runs for months."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to limit
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
