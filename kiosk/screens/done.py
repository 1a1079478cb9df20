"""登记成功: the receipt code to quote to staff, what happens next, and the printed receipt."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from content.registrations import grouped_code
from kiosk.forms import TITLES
from kiosk.screens.base import KioskScreen
from kiosk.services import APPLY_NEXT_STEPS, NEXT_STEPS


class DoneScreen(KioskScreen):
    code = StringProperty("")
    what = StringProperty("")
    next_steps = StringProperty("")
    print_text = StringProperty("")
    printed = BooleanProperty(False)

    def enter(self, receipt: Any = None, job: dict[str, str] | None = None, **_: Any) -> None:
        if receipt is None:
            return
        self._job = job
        self.code = grouped_code(receipt.code)
        self.what = f"应聘“{job['title']}”" if job else TITLES.get(receipt.kind, receipt.kind)
        self.next_steps = APPLY_NEXT_STEPS if job else NEXT_STEPS.get(receipt.kind, "")
        self.printed = False
        self.print_text = ""
        if self.app.services.printer is not None:
            self.print_receipt()
        else:
            self.print_text = "这里没有打印机，请记下上面的回执编号，或用手机拍下这个屏幕。"

    def print_receipt(self) -> None:
        receipt = self.app.session.last_receipt
        resident = self.app.session.resident
        job = getattr(self, "_job", None)
        if receipt is None or (resident is None and not job):
            return
        ok, message = self.app.services.print_receipt(receipt, resident, job)
        self.printed = ok
        self.print_text = message
        if ok:
            self.app.count("print_receipt")

    def forget(self) -> None:
        self.code = self.what = self.next_steps = self.print_text = ""
        self._job = None
        self.printed = False

    def speech(self) -> str:
        spelled = "，".join(self.code.replace(" ", ""))
        return f"{self.what}成功。回执编号是：{spelled}。{self.next_steps}{self.print_text}"
