"""Pictograms drawn with Kivy's canvas: the home tiles' icons and the "where to put the card" picture.

Residents who read little recognise a briefcase or a calendar faster than a single character in a
circle, so each home tile draws a small picture in its own colour (no font, no image file, no
licence to track). ``CardHint`` draws an ID card above a reader with an arrow toward the side of
the screen where the station's reader sits (``kiosk.reader_side``); its ``arrow_direction`` says
where the arrow points so that tests can check it without reading pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle, Triangle
from kivy.properties import ColorProperty, ListProperty, OptionProperty, StringProperty
from kivy.uix.widget import Widget

Box = tuple[float, float, float]  # x, y of the lower-left corner and the side of the square


def _briefcase(x: float, y: float, s: float) -> None:
    w = s * 0.06
    RoundedRectangle(pos=(x + s * 0.1, y + s * 0.18), size=(s * 0.8, s * 0.52), radius=[s * 0.06])
    Line(rounded_rectangle=(x + s * 0.36, y + s * 0.68, s * 0.28, s * 0.16, s * 0.04), width=w)
    Color(1, 1, 1, 0.35)
    Rectangle(pos=(x + s * 0.1, y + s * 0.44), size=(s * 0.8, s * 0.04))


def _clock_hammer(x: float, y: float, s: float) -> None:
    w = s * 0.06
    Line(circle=(x + s * 0.42, y + s * 0.52, s * 0.3), width=w)
    Line(points=[x + s * 0.42, y + s * 0.52, x + s * 0.42, y + s * 0.72], width=w)
    Line(points=[x + s * 0.42, y + s * 0.52, x + s * 0.56, y + s * 0.44], width=w)
    # a hammer leaning on the clock: handle and head
    Line(points=[x + s * 0.62, y + s * 0.1, x + s * 0.84, y + s * 0.36], width=w * 1.1)
    Triangle(points=[x + s * 0.72, y + s * 0.44, x + s * 0.92, y + s * 0.26, x + s * 0.97, y + s * 0.33])
    Triangle(points=[x + s * 0.72, y + s * 0.44, x + s * 0.77, y + s * 0.51, x + s * 0.97, y + s * 0.33])


def _document(x: float, y: float, s: float) -> None:
    w = s * 0.05
    Line(points=[x + s * 0.2, y + s * 0.1, x + s * 0.2, y + s * 0.9, x + s * 0.62, y + s * 0.9,
                 x + s * 0.8, y + s * 0.72, x + s * 0.8, y + s * 0.1], width=w, close=True)
    for row in (0.66, 0.5, 0.34, 0.2):
        Line(points=[x + s * 0.32, y + s * row, x + s * 0.68, y + s * row], width=w)


def _play_screen(x: float, y: float, s: float) -> None:
    w = s * 0.05
    Line(rounded_rectangle=(x + s * 0.08, y + s * 0.24, s * 0.84, s * 0.58, s * 0.05), width=w)
    Line(points=[x + s * 0.34, y + s * 0.1, x + s * 0.66, y + s * 0.1], width=w)
    Triangle(points=[x + s * 0.42, y + s * 0.38, x + s * 0.42, y + s * 0.68, x + s * 0.66, y + s * 0.53])


def _pen_form(x: float, y: float, s: float) -> None:
    w = s * 0.05
    Line(rectangle=(x + s * 0.12, y + s * 0.1, s * 0.56, s * 0.78), width=w)
    for row in (0.7, 0.52, 0.34):
        Line(rectangle=(x + s * 0.22, y + s * row - s * 0.04, s * 0.08, s * 0.08), width=w * 0.7)
        Line(points=[x + s * 0.36, y + s * row, x + s * 0.58, y + s * row], width=w)
    # the pen, slanting across the form's corner
    Line(points=[x + s * 0.62, y + s * 0.2, x + s * 0.92, y + s * 0.62], width=w * 1.6)
    Triangle(points=[x + s * 0.58, y + s * 0.1, x + s * 0.57, y + s * 0.22, x + s * 0.66, y + s * 0.17])


def _calendar(x: float, y: float, s: float) -> None:
    w = s * 0.05
    Line(rounded_rectangle=(x + s * 0.12, y + s * 0.1, s * 0.76, s * 0.7, s * 0.05), width=w)
    Rectangle(pos=(x + s * 0.12, y + s * 0.62), size=(s * 0.76, s * 0.18))
    for col in (0.3, 0.7):
        Line(points=[x + s * col, y + s * 0.74, x + s * col, y + s * 0.9], width=w)
    for row in (0.42, 0.22):
        for col in (0.24, 0.44, 0.64):
            Rectangle(pos=(x + s * col, y + s * row), size=(s * 0.12, s * 0.1))


DRAWINGS: dict[str, Callable[[float, float, float], None]] = {
    "jobs": _briefcase, "gigs": _clock_hammer, "policies": _document,
    "courses": _play_screen, "register": _pen_form, "events": _calendar,
}


class Pictogram(Widget):
    """One of ``DRAWINGS`` in ``color`` on a round ``back`` plate, kept square and centred."""

    name = OptionProperty("jobs", options=list(DRAWINGS))
    color = ColorProperty((1, 1, 1, 1))
    back = ColorProperty((0, 0, 0, 0))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, name=self._draw, color=self._draw, back=self._draw)
        self._draw()

    def _draw(self, *_: Any) -> None:
        side = min(self.width, self.height)
        x, y = self.center_x - side / 2, self.center_y - side / 2
        self.canvas.clear()
        with self.canvas:
            Color(rgba=self.back)
            Ellipse(pos=(x, y), size=(side, side))
            Color(rgba=self.color)
            inner = side * 0.64  # the picture inside the plate
            DRAWINGS[self.name](x + (side - inner) / 2, y + (side - inner) / 2, inner)


ARROWS = {"right": (1, 0), "left": (-1, 0), "below": (0, -1)}


class CardHint(Widget):
    """An ID card over a reader, and an arrow toward ``side`` (where the reader is on the kiosk)."""

    side = OptionProperty("below", options=list(ARROWS))
    color = ColorProperty((0.1, 0.3, 0.7, 1))
    accent = ColorProperty((0.8, 0.2, 0.1, 1))
    arrow_direction = ListProperty([0, -1])  # unit vector of the drawn arrow (x right, y up)
    label = StringProperty("身份证感应区")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, side=self._draw, color=self._draw, accent=self._draw)
        self._draw()

    def _draw(self, *_: Any) -> None:
        dx, dy = ARROWS[self.side]
        self.arrow_direction = [dx, dy]
        x, y, w, h = self.x, self.y, self.width, self.height
        self.canvas.clear()
        with self.canvas:
            # the reader: a flat pad with a contactless symbol, in the lower middle
            Color(rgba=self.color[:3] + [0.25])
            RoundedRectangle(pos=(x + w * 0.12, y + h * 0.08), size=(w * 0.56, h * 0.3), radius=[h * 0.05])
            # the card, tilted a little above the pad, with its photo and lines
            Color(1, 1, 1, 1)
            RoundedRectangle(pos=(x + w * 0.18, y + h * 0.34), size=(w * 0.44, h * 0.5), radius=[h * 0.05])
            Color(rgba=self.color)
            Line(rounded_rectangle=(x + w * 0.18, y + h * 0.34, w * 0.44, h * 0.5, h * 0.05), width=2)
            Rectangle(pos=(x + w * 0.46, y + h * 0.46), size=(w * 0.12, h * 0.28))
            for row in (0.72, 0.6, 0.48):
                Line(points=[x + w * 0.23, y + h * row, x + w * 0.41, y + h * row], width=2)
            # "down onto the pad" chevron between card and pad
            Line(points=[x + w * 0.34, y + h * 0.3, x + w * 0.4, y + h * 0.22, x + w * 0.46, y + h * 0.3],
                 width=3)
            # the arrow toward the reader's side of the screen
            Color(rgba=self.accent)
            cx, cy = x + w * 0.84, y + h * 0.5
            if dy:  # below: a downward arrow to the right of the card
                Line(points=[cx, y + h * 0.88, cx, y + h * 0.24], width=max(3.0, w * 0.025))
                Triangle(points=[cx - w * 0.09, y + h * 0.28, cx + w * 0.09, y + h * 0.28, cx, y + h * 0.04])
            else:
                tip = x + w * 0.98 if dx > 0 else x + w * 0.7
                tail = x + w * 0.7 if dx > 0 else x + w * 0.98
                Line(points=[tail, cy, tip - dx * w * 0.08, cy], width=max(3.0, w * 0.025))
                Triangle(points=[tip - dx * w * 0.1, cy + h * 0.16, tip - dx * w * 0.1, cy - h * 0.16, tip, cy])
