"""The numeric keypad for phone numbers and the staff PIN: 3x4 large keys, 删除 and 清空.

Where the screen is short (landscape, or a small portrait screen at the elder type) the
keypad is ``compact``: four keys a row and three rows, so that the number being typed and
every key are on screen together without scrolling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.properties import BooleanProperty
from kivy.uix.gridlayout import GridLayout

from kiosk.widgets import load_kv
from kiosk.widgets.common import BigButton

ERASE = "删除"
CLEAR = "清空"
LAYOUT = ("1", "2", "3", "4", "5", "6", "7", "8", "9", CLEAR, "0", ERASE)
COMPACT_LAYOUT = ("1", "2", "3", ERASE, "4", "5", "6", CLEAR, "7", "8", "9", "0")


class PadKey(BigButton):
    pass


class NumericKeypad(GridLayout):
    """Fires ``on_digit(d)``, ``on_erase()`` and ``on_clear()``."""

    compact = BooleanProperty(False)
    __events__ = ("on_digit", "on_erase", "on_clear")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cols = 3
        for label in LAYOUT:
            key = PadKey(text=label, role="primary" if label.isdigit() else "secondary")
            key.bind(on_release=self._pressed)
            self.add_widget(key)
        self.bind(compact=self._arrange)
        self._arrange()

    def _arrange(self, *_: Any) -> None:
        keys = {k.text: k for k in self.children}
        order = COMPACT_LAYOUT if self.compact else LAYOUT
        self.clear_widgets()
        self.cols = 4 if self.compact else 3
        for label in order:
            self.add_widget(keys[label])

    def _pressed(self, key: PadKey) -> None:
        if key.text == ERASE:
            self.dispatch("on_erase")
        elif key.text == CLEAR:
            self.dispatch("on_clear")
        else:
            self.dispatch("on_digit", key.text)

    def key(self, label: str) -> PadKey:
        return next(k for k in self.children if k.text == label)

    def on_digit(self, digit: str) -> None:
        pass

    def on_erase(self) -> None:
        pass

    def on_clear(self) -> None:
        pass


load_kv(Path(__file__).with_suffix(".kv"))
