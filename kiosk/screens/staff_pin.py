"""The staff PIN, entered on the keypad after the hidden gesture (five quick taps on the station name).

The PIN is checked by the check the entry point hands the app (``KioskApp.check_pin``: against
``kiosk.staff_pin_hash``, argon2id, about half a second a check by design; an older station's
PBKDF2 hash still works; None when no PIN is set); after five wrong tries the keypad is locked
for a minute. The digits are never shown, only dots.
"""

from __future__ import annotations

import time
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.screens.base import KioskScreen

MAX_TRIES = 5
LOCK_S = 60.0
MAX_DIGITS = 12


class StaffPinScreen(KioskScreen):
    dots = StringProperty("")
    error = StringProperty("")
    configured = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pin = ""
        self._failures = 0
        self._locked_until = 0.0

    def refresh(self) -> None:
        self._pin = ""
        self.dots = ""
        self.error = ""
        self.configured = self.app.check_pin is not None
        if not self.configured:
            self.error = "还没有设置工作人员密码：请在站点设置中用 yizhan config hash-pin 设置 kiosk.staff_pin_hash"

    def digit(self, d: str) -> None:
        if len(self._pin) < MAX_DIGITS:
            self._pin += d
            self.dots = "●" * len(self._pin)
            self.error = ""

    def erase(self) -> None:
        self._pin = self._pin[:-1]
        self.dots = "●" * len(self._pin)

    def clear(self) -> None:
        self._pin = ""
        self.dots = ""

    def submit(self) -> None:
        now = time.monotonic()
        if now < self._locked_until:
            self.error = f"错误次数太多，请{int(self._locked_until - now) + 1}秒后再试"
            return
        pin, self._pin, self.dots = self._pin, "", ""
        if self.app.check_pin is not None and self.app.check_pin(pin):
            self._failures = 0
            self.app.session.staff = True
            self.app.go("staff", remember=False)
            return
        self._failures += 1
        if self._failures >= MAX_TRIES:
            self._failures = 0
            self._locked_until = now + LOCK_S
            self.error = f"密码错误次数太多，已锁定{int(LOCK_S)}秒"
        else:
            self.error = "密码不对，请再试一次"

    def forget(self) -> None:
        self.clear()
        self.error = ""

    def speech(self) -> str:
        return "工作人员入口，请输入工作人员密码。居民请点返回。"
