"""Driving a running kiosk from code: taps, waiting, screenshots (the demo tour, tests, benchmark).

:class:`Driver` runs the app's event loop by hand (Kivy's "embedded" mode) so that the
caller decides when time passes: ``pump()`` runs frames, ``tap()`` sends a real touch
(down and up) at a widget's centre through the window's input path, exactly as a finger
on the screen would, and ``until()`` waits for something to show. Exceptions raised in
the loop go through Kivy's ExceptionManager as in ``App.run()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kivy.base import EventLoop, ExceptionManager, runTouchApp, stopTouchApp
from kivy.core.window import Window
from kivy.input.motionevent import MotionEvent
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget


class DriverError(AssertionError):
    """The driver could not find or reach what it was asked for."""


class Driver:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.started = False

    # -- the loop ----------------------------------------------------------------------------
    def start(self) -> float:
        """Build and start the app; returns seconds until the first frame of home was drawn."""
        began = time.perf_counter()
        self.app._run_prepare()
        runTouchApp(embedded=True)
        self.started = True
        self.frame()
        self.frame()
        return time.perf_counter() - began

    def frame(self) -> None:
        """One iteration of Kivy's main loop (input, clock, layout, draw)."""
        self._guarded(EventLoop.idle)
        self._guarded(Window.mainloop)

    @staticmethod
    def _guarded(step: Callable[[], Any]) -> None:
        # As in EventLoop.mainloop: errors go to the ExceptionManager, which decides.
        try:
            step()
        except BaseException as exc:
            if ExceptionManager.handle_exception(exc) == ExceptionManager.RAISE:
                raise

    def pump(self, seconds: float = 0.0, *, frames: int = 1) -> None:
        """Run the loop for at least ``frames`` frames and ``seconds`` of time."""
        deadline = time.monotonic() + seconds
        done = 0
        while done < frames or time.monotonic() < deadline:
            self.frame()
            done += 1
            if time.monotonic() < deadline:
                time.sleep(1 / 60)

    def until(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
        """Run frames until ``predicate()`` is truthy; returns its value or raises DriverError."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise DriverError(f"timed out after {timeout:.1f} s waiting for {what}")
            self.frame()
            time.sleep(1 / 100)

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        self.app.stop()
        stopTouchApp()

    # -- finding widgets ---------------------------------------------------------------------
    def walk(self, root: Widget | None = None) -> Iterator[Widget]:
        root = root or Window
        stack = [root]
        while stack:
            widget = stack.pop()
            yield widget
            stack.extend(widget.children)

    def visible(self, widget: Widget) -> bool:
        """On the current screen (or in the app's chrome), shown, enabled, inside the window."""
        node: Any = widget
        while node is not None and node is not Window:
            if getattr(node, "opacity", 1) == 0 or getattr(node, "disabled", False):
                return False
            if isinstance(node, Screen) and node.manager is not None and node.manager.current_screen is not node:
                return False
            if node.parent is node:
                break
            node = node.parent
        if node is not Window:
            return False
        x, y = widget.to_window(*widget.center)
        return 0 <= x <= Window.width and 0 <= y <= Window.height and widget.width > 0 and widget.height > 0

    def find(self, text: str | None = None, *, cls: type | str | None = None, exact: bool = True,
             root: Widget | None = None) -> list[Widget]:
        """Visible widgets whose ``text`` is (or contains) ``text``, optionally of a class (name)."""
        found = []
        for widget in self.walk(root):
            if cls is not None:
                name = cls if isinstance(cls, str) else cls.__name__
                if not any(k.__name__ == name for k in type(widget).__mro__):
                    continue
            if text is not None:
                value = getattr(widget, "text", None)
                if not isinstance(value, str):
                    value = getattr(widget, "label", None)
                if not isinstance(value, str) or not (value == text if exact else text in value):
                    continue
            if self.visible(widget):
                found.append(widget)
        # In reading order: top to bottom, then left to right.
        return sorted(found, key=lambda w: (-round(w.to_window(*w.center)[1]), w.to_window(*w.center)[0]))

    def button(self, text: str, *, exact: bool = True, root: Widget | None = None) -> Widget:
        """The one visible button (anything with on_release) labelled ``text``."""
        hits = [w for w in self.find(text, exact=exact, root=root) if hasattr(w, "trigger_action")]
        if not hits:
            hits = [w for w in self.find(text, exact=False, root=root) if hasattr(w, "trigger_action")] if exact else []
        if not hits:
            raise DriverError(f"no visible button {text!r} on screen {self.app.screen_name!r}")
        return hits[0]

    # -- acting ------------------------------------------------------------------------------
    def tap(self, target: Widget | str, *, frames: int = 1) -> None:
        """Touch down and up at the centre of ``target`` (a widget or a button's text)."""
        widget = self.button(target) if isinstance(target, str) else target
        if not self.visible(widget):
            raise DriverError(f"{type(widget).__name__} {getattr(widget, 'text', '')!r} is not visible")
        x, y = widget.to_window(*widget.center)
        touch = self._touch_at(x, y)
        self._guarded(touch.touch_down)
        self._guarded(touch.touch_up)
        if frames:
            self.pump(frames=frames)
        if any(isinstance(node, ScrollView) and (node.do_scroll_y or node.do_scroll_x)
               for node in self._ancestors(widget)):
            # A ScrollView replays a short tap to its content a moment later (scroll_timeout).
            self.pump(0.3)

    @staticmethod
    def _touch_at(x: float, y: float) -> Any:
        """A touch that lands on window point (x, y) whatever the rotation.

        Input arrives in the physical screen's normalised coordinates and the window rotates it
        (MotionEvent.to_absolute_pos); this is the inverse, so that taps work on rotated kiosks.
        """
        w, h = (max(1, v - 1) for v in Window.system_size)
        nx, ny = {0: (x / w, y / h), 90: (1 - y / w, x / h), 180: (1 - x / w, 1 - y / h),
                  270: (y / w, 1 - x / h)}[Window.rotation]
        return DriverTouch(nx, ny)

    @staticmethod
    def _ancestors(widget: Widget) -> Iterator[Widget]:
        node = widget.parent
        while node is not None and node is not node.parent:
            yield node
            node = node.parent

    def type_letters(self, letters: str) -> None:
        keyboard = self.app.screen.ids.keyboard
        for letter in letters:
            self.tap(keyboard.key(letter))

    def screenshot(self, path: str | Path) -> Path:
        """Save the window as PNG at exactly ``path`` (Kivy's own screenshot adds a counter)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.frame()
        from kivy.graphics.opengl import GL_RGBA, GL_UNSIGNED_BYTE, glReadPixels
        from PIL import Image

        # Draw into the back buffer and read it before any swap: what is read is this frame.
        Window.dispatch("on_draw")
        width, height = Window.system_size
        data = glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE)
        image = Image.frombytes("RGBA", (width, height), data).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        image.convert("RGB").save(path)
        return path


class DriverTouch(MotionEvent):
    """One finger on the screen, at normalised screen coordinates (0..1 from the bottom left),
    put through Kivy's input dispatch as a touch screen's events are."""

    def __init__(self, sx: float, sy: float) -> None:
        super().__init__("DriverTouch", 99, {"sx": sx, "sy": sy}, is_touch=True, type_id="touch")
        self.profile = ["pos"]

    def depack(self, args: dict[str, float]) -> None:
        self.sx, self.sy = args["sx"], args["sy"]
        super().depack(args)

    def touch_down(self) -> None:
        EventLoop.post_dispatch_input("begin", self)

    def touch_up(self) -> None:
        EventLoop.post_dispatch_input("end", self)
