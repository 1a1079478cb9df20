"""A registration, one question per screen: taps for choices, the keypad for the phone number.

The form lives in the session (so 首页 and back do not lose it) and is only dropped by the
idle reset after its visible countdown, by 结束, or once it is submitted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.widget import Widget

from kiosk.forms import FormError, FormState
from kiosk.screens.base import KioskScreen


def phone_display(digits: str) -> str:
    """``138 1234 5678`` as typed so far (groups of 3-4-4, as people say them)."""
    groups = [digits[:3], digits[3:7], digits[7:11]]
    return " ".join(g for g in groups if g)


class FormScreen(KioskScreen):
    question = StringProperty("")
    hint = StringProperty("")
    progress = StringProperty("")
    error = StringProperty("")
    kind_of_step = StringProperty("")
    phone_text = StringProperty("")
    options = ListProperty([])
    chosen = ListProperty([])
    multiple = BooleanProperty(False)
    last_step = BooleanProperty(False)
    side_by_side = BooleanProperty(False)  # the phone step on a wide screen: the keypad beside (form.kv)

    def on_kv_post(self, base_widget: Any) -> None:
        super().on_kv_post(base_widget)
        # held here: the keypad and its column out of the widget tree have no other owner (ids are weak)
        self._keypad = self.ids.keypad.__self__
        self._beside = Factory.KeypadBeside()
        self._spacer = Widget()
        self.bind(kind_of_step=self._place_keypad, side_by_side=self._place_keypad)
        self._keypad.bind(compact=self._place_keypad)
        self._place_keypad()

    def _place_keypad(self, *_: Any) -> None:
        """The keypad only on the phone step: under the number, or in a column of its own beside
        the question and the buttons on a wide screen."""
        keypad, beside = self._keypad, self._beside
        if keypad.parent is not None:
            keypad.parent.remove_widget(keypad)
        if beside.parent is not None:
            beside.parent.remove_widget(beside)
        if self._spacer.parent is not None:
            self._spacer.parent.remove_widget(self._spacer)
        if self.kind_of_step != "phone":
            return
        if self.side_by_side:
            # a short screen (compact keypad): the keys at the top, level with the number; else
            # at the foot, the last row level with 下一步
            parts = [keypad, self._spacer] if keypad.compact else [self._spacer, keypad]
            for part in parts:
                beside.add_widget(part)
            self.ids.body.add_widget(beside)
        else:
            self.ids.below.add_widget(keypad)

    def enter(self, kind: str | None = None, returning: bool = False, job: dict[str, str] | None = None,
              **_: Any) -> None:
        session = self.app.session
        if job is not None:
            # 我想应聘 from a job's page: the phone alone, with or without the card
            if session.form is None or session.form.job != job:
                session.form = FormState("求职", dt.date.today(), job=job)
        elif session.resident is None and (session.form is None or not session.form.job):
            self.app.notify("请先放身份证", seconds=6)
            return
        elif kind is not None and (session.form is None or session.form.kind != kind or session.form.job):
            session.form = FormState(kind, dt.date.today())
        self.error = ""
        self.show()

    @property
    def form(self) -> FormState | None:
        return self.app.session.form

    def show(self) -> None:
        form = self.form
        if form is None:
            return
        self.title = form.title
        if form.step is None:  # every question answered: go over them once more from the last one
            form.index = len(form.steps) - 1
        step = form.step
        self.question = step.question
        self.hint = step.hint or ("可以选多个，再点一下取消" if step.kind == "multi" else "点一下您的选择")
        self.progress = form.progress
        self.kind_of_step = step.kind
        self.multiple = step.kind == "multi"
        self.options = [(o.value, o.label) for o in step.options_for(form.today)] if step.kind != "phone" else []
        self.refresh_answer()
        self.last_step = form.index == len(form.steps) - 1
        self.app.set_title(self)

    def refresh_answer(self) -> None:
        form = self.form
        if form is None or form.step is None:
            return
        step = form.step
        value = form.values.get(step.key)
        self.phone_text = phone_display(form.phone)
        if step.kind == "multi":
            self.chosen = list(value or [])
        else:
            self.chosen = [value] if value else []

    # -- answering -------------------------------------------------------------------------
    def digit(self, d: str) -> None:
        self.form.type_digit(d)
        self.error = ""
        self.refresh_answer()

    def erase(self) -> None:
        self.form.erase_digit()
        self.refresh_answer()

    def clear_phone(self) -> None:
        self.form.values["phone"] = ""
        self.error = ""  # an old complaint about a number that is gone
        self.refresh_answer()

    def pick(self, value: str) -> None:
        form = self.form
        step = form.step
        self.error = ""
        try:
            if step.kind == "multi":
                form.toggle(step.key, value)
            else:
                form.choose(step.key, value)
        except FormError as exc:
            self.error = str(exc)
        self.refresh_answer()

    # -- moving ----------------------------------------------------------------------------
    def next(self) -> None:
        form = self.form
        try:
            form.advance()
        except FormError as exc:
            self.error = str(exc)
            return
        self.error = ""
        if form.step is None:
            self.app.go("consent")
        else:
            self.show()

    def go_back(self) -> bool:
        form = self.form
        if form is not None and form.back():
            self.error = ""
            self.show()
            return True
        return False

    def forget(self) -> None:
        self.question = self.hint = self.error = self.phone_text = ""
        self.options = []
        self.chosen = []

    def speech(self) -> str:
        text = f"{self.title}，{self.progress}。{self.question}。"
        if self.kind_of_step == "phone":
            text += f"请用{'右边' if self.side_by_side else '下面'}的数字键输入11位手机号码。"
        else:
            text += "可以选：" + "，".join(label for _, label in self.options) + "。"
        if self.error:
            text += self.error
        return text
