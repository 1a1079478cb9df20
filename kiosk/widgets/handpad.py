"""The handwriting pad: a finger writes one character, thick ink, one stroke at a time.

The pad only collects strokes (points in pad coordinates, y growing downwards, as
:mod:`kiosk.handwriting` wants them) and draws them; after each stroke it fires
``on_strokes(strokes)`` so that the screen can ask for candidates at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.graphics import Color, Line
from kivy.metrics import dp
from kivy.properties import NumericProperty, OptionProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label

from kiosk.handwriting import simplify
from kiosk.widgets import load_kv
from kiosk.widgets.common import ROLES

INK = (0.05, 0.1, 0.3, 1)


class PadButton(ButtonBehavior, Label):
    """A button as tall as its row (never taller for its text); ``role`` picks its colours."""

    role = OptionProperty("primary", options=ROLES)


class CandidateKey(PadButton):
    """One recognised character; tapping it adds it to the search."""


class PadTool(PadButton):
    """清除, 退一笔, 朗读 beside the pad."""


class HandwritingPad(FloatLayout):
    """Fires ``on_strokes(strokes)`` after every stroke and after 退一笔/清除."""

    stroke_count = NumericProperty(0)
    __events__ = ("on_strokes",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.strokes: list[list[tuple[float, float]]] = []
        self._lines: list[Line] = []
        self._current: list[tuple[float, float]] | None = None
        self._touch: Any = None
        self.bind(pos=self._redraw, size=self._redraw)

    # -- touches -----------------------------------------------------------------------------
    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos) or self._touch is not None:
            return False
        touch.grab(self)
        self._touch = touch
        self._current = [self._local(touch.pos)]
        with self.canvas.after:
            Color(*INK)
            line = Line(points=list(touch.pos), width=self._ink(), cap="round", joint="round")
        self._lines.append(line)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if touch is not self._touch or self._current is None:
            return False
        x = min(max(touch.x, self.x), self.right)
        y = min(max(touch.y, self.y), self.top)
        self._current.append(self._local((x, y)))
        self._lines[-1].points += [x, y]
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if touch is not self._touch or self._current is None:
            return False
        touch.ungrab(self)
        self._touch = None
        stroke = simplify(self._current, min_step=max(1.0, self.width / 100))
        self._current = None
        self.strokes.append(stroke)
        self.stroke_count = len(self.strokes)
        self.dispatch("on_strokes", list(self.strokes))
        return True

    # -- tools -------------------------------------------------------------------------------
    def undo(self) -> None:
        """退一笔: the last stroke goes."""
        if self.strokes:
            self.strokes.pop()
            self.stroke_count = len(self.strokes)
            self._redraw()
            self.dispatch("on_strokes", list(self.strokes))

    def clear(self) -> None:
        """清除: an empty pad."""
        had = bool(self.strokes)
        self.strokes = []
        self.stroke_count = 0
        self._redraw()
        if had:
            self.dispatch("on_strokes", [])

    def on_strokes(self, strokes: list[list[tuple[float, float]]]) -> None:
        """Kivy's default handler of the event: the screen binds its own."""

    # -- drawing -----------------------------------------------------------------------------
    def _ink(self) -> float:
        return max(dp(5), min(self.width, self.height) / 40)

    def _local(self, pos: tuple[float, float]) -> tuple[float, float]:
        return (pos[0] - self.x, self.top - pos[1])

    def _redraw(self, *_: Any) -> None:
        # Strokes are kept in pad coordinates: a resized pad (type size, rotation) redraws them.
        self.canvas.after.clear()
        self._lines = []
        with self.canvas.after:
            Color(*INK)
            for stroke in self.strokes:
                points = [v for x, y in stroke for v in (self.x + x, self.top - y)]
                self._lines.append(Line(points=points, width=self._ink(), cap="round", joint="round"))


load_kv(Path(__file__).with_suffix(".kv"))
