"""我要登记: choose 求职, 培训需求, 返乡, 零工 or 失业. The ID card comes first: it fills in who you are."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.properties import BooleanProperty, ListProperty, StringProperty

from kiosk.forms import BLURBS, KINDS, TITLES
from kiosk.screens.base import KioskScreen
from kiosk.status import card_problem


class RegisterScreen(KioskScreen):
    present = BooleanProperty(False)
    problem = StringProperty("")
    identity = ListProperty([])
    resume_text = StringProperty("")
    side_by_side = BooleanProperty(False)
    choices = ListProperty([(kind, TITLES[kind], BLURBS[kind]) for kind in KINDS])

    def refresh(self) -> None:
        session = self.app.session
        resident = session.resident
        self.present = resident is not None
        if resident is None:
            self.identity = []
            self.problem = ""
            self.resume_text = ""
            return
        today = dt.date.today()
        self.problem = card_problem(resident, today)
        self.identity = [
            ("姓名", resident.masked_name),
            ("性别", resident.gender),
            ("出生", f"{resident.birth_date.year}年{resident.birth_date.month}月"),
            ("住址", resident.masked_address),
            ("身份证", resident.masked_id),
        ]
        form = session.form
        self.resume_text = f"继续填写：{form.title}" if form is not None else ""

    def choose(self, kind: str) -> None:
        self.app.go("form", kind=kind)

    def resume(self) -> None:
        form = self.app.session.form
        if form is not None:
            self.app.go("form", kind=form.kind, job=form.job)

    def forget(self) -> None:
        self.present = False
        self.identity = []
        self.problem = ""
        self.resume_text = ""

    def identity_text(self, identity: list[Any]) -> str:
        """Two short lines (the whole record is shown before it is sent): the kinds must stay whole on screen."""
        fields = dict(identity)
        return "\n".join(filter(None, [
            "，".join(filter(None, [fields.get("姓名"), fields.get("性别"),
                                   fields.get("出生") and f"{fields['出生']}出生"])),
            fields.get("身份证") and f"身份证：{fields['身份证']}"]))

    @staticmethod
    def choice_text(choice: Any, title_size: float, blurb_size: float) -> str:
        _kind, title, blurb = choice
        return f"[size={int(title_size)}][b]{title}[/b][/size]\n[size={int(blurb_size)}]{blurb}[/size]"

    def speech(self) -> str:
        if not self.present:
            return f"登记需要您的身份证。请把身份证放在{self.app.reader_place}的感应区。没有身份证，请到窗口找工作人员。"
        if self.problem:
            return self.problem
        return "请选择要办的登记：" + "，".join(f"{title}，{blurb}" for _, title, blurb in self.choices)
