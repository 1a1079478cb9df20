"""Test strokes for 手写, from data/handwriting/strokes.json (see the README beside it)."""

from __future__ import annotations

import json
import math
from pathlib import Path

DATA = Path(__file__).parent / "data" / "handwriting" / "strokes.json"
BOX = 1024.0
BASELINE = 900.0


def _dense(points: list[list[float]], step: float) -> list[tuple[float, float]]:
    """Points every ``step`` units along the median, as a moving finger reports them."""
    out = [(float(points[0][0]), float(points[0][1]))]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) // step))
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return out


def load() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def job_characters() -> str:
    return load()["test"]


def strokes(char: str, width: float, height: float, *, step: float = 24.0) -> list[list[tuple[float, float]]]:
    """``char``'s strokes on a ``width`` x ``height`` pad, y growing downwards."""
    medians = load()["characters"][char]
    return [[(x / BOX * width, (BASELINE - y) / BOX * height) for x, y in _dense(m, step)] for m in medians]


def write_stroke(pad, stroke: list[tuple[float, float]]) -> float:  # type: ignore[no-untyped-def]
    """One stroke drawn on the Kivy ``pad`` by a finger (down, a move every few pixels, up);
    returns how long the lift took in ms (the pad hands the strokes over on it)."""
    import time

    from kivy.tests.common import UnitTestTouch

    points = [pad.to_window(pad.x + x, pad.top - y) for x, y in stroke]
    touch = UnitTestTouch(*points[0])
    touch.touch_down()
    for x, y in points[1:]:
        touch.touch_move(x, y)
    began = time.perf_counter()
    touch.touch_up()
    return (time.perf_counter() - began) * 1000
