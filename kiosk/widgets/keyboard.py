"""The big letter keyboard for pinyin initials (``bj`` finds 保洁).

Letters are in alphabetical order, not QWERTY: most residents who use it have never
typed on a computer and find letters faster in the order they learnt them. Nine keys a
row, a large 删除 key; each key is at least the theme's touch-target size.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from kivy.properties import BooleanProperty
from kivy.uix.gridlayout import GridLayout

from kiosk.widgets import load_kv
from kiosk.widgets.common import BigButton

COLUMNS = 9
ERASE = "删除"


class LetterKey(BigButton):
    """One key; ``text`` is the letter (upper case on the key, lower case in the query)."""


class LetterKeyboard(GridLayout):
    """Fires ``on_letter(letter)`` (lower case) and ``on_erase()``."""

    enabled = BooleanProperty(True)
    __events__ = ("on_letter", "on_erase")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cols = COLUMNS
        for letter in string.ascii_uppercase:
            key = LetterKey(text=letter)
            key.bind(on_release=lambda k: self.dispatch("on_letter", k.text.lower()))
            self.add_widget(key)
        erase = LetterKey(text=ERASE, role="secondary")
        erase.bind(on_release=lambda k: self.dispatch("on_erase"))
        self.add_widget(erase)

    def key(self, letter: str) -> LetterKey:
        """The key for ``letter`` (or ``删除``)."""
        wanted = ERASE if letter == ERASE else letter.upper()
        return next(k for k in self.children if k.text == wanted)

    def on_letter(self, letter: str) -> None:
        pass

    def on_erase(self) -> None:
        pass


load_kv(Path(__file__).with_suffix(".kv"))
