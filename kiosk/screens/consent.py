"""Before a registration is stored: the answers to check and the personal-data notice to accept.

Plain words: why the data is collected, who receives it, how long it is kept, and that
saying no is fine. Only 同意并提交 stores anything. 同意短信推送岗位信息 is a consent of its
own, unticked each time the page opens: only a tap ticks it.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from typing import Any

from kivy.properties import BooleanProperty, ListProperty, StringProperty

from common.privacy import mask_name
from kiosk.forms import FormError, build_submission, consent_text
from kiosk.screens.base import KioskScreen

log = logging.getLogger(__name__)


class ConsentScreen(KioskScreen):
    summary = ListProperty([])
    notice = ListProperty([])
    error = StringProperty("")
    sms_consent = BooleanProperty(False)

    def refresh(self) -> None:
        form = self.app.session.form
        self.error = ""
        self.sms_consent = False
        if form is None:
            self.summary = []
            return
        self.title = f"{form.title}：核对和同意"
        self.summary = form.summary(masked=False)  # the resident checks what they typed
        if form.job:  # 我想应聘: who applies - the card's name (masked), or 未核验 without a card
            resident = self.app.session.resident
            self.summary = self.summary[:1] + [
                ("姓名", mask_name(resident.name)) if resident is not None
                else ("身份", "未核验（没有读身份证，只留电话）")] + self.summary[1:]
        settings = self.app.settings
        self.notice = consent_text(settings.station.name, settings.privacy.retention_days)
        self.ids.scroll.scroll_y = 1

    def accept(self) -> None:
        app = self.app
        session = app.session
        form = session.form
        if form is None:
            app.go_home()
            return
        form.accept_consent(dt.datetime.now().astimezone())
        try:
            kind, person, answers = build_submission(form, session.resident, station_id=app.settings.station.id)
            receipt = app.services.submit_registration(kind, person, answers, job=form.job,
                                                       verified=session.resident is not None,
                                                       sms_consent=self.sms_consent)
        except FormError as exc:
            form.consent_at = None
            self.error = str(exc)
            return
        except (sqlite3.Error, OSError, ValueError) as exc:
            form.consent_at = None
            log.error("registration not stored: %s", type(exc).__name__)
            self.error = "登记暂时没有保存成功，您填的内容还在。请再点一次“同意并提交”，或找工作人员帮忙。"
            return
        log.info("registration stored: %s, receipt %s", receipt.kind, receipt.code)
        session.last_receipt = receipt
        session.form = None
        app.count(f"registration_{kind}")
        app.go("done", receipt=receipt, job=form.job)

    def decline(self) -> None:
        self.app.session.form = None
        self.app.go_home()
        self.app.notify("您没有同意，所以没有登记任何信息。需要帮忙请找工作人员。", seconds=10)

    def forget(self) -> None:
        self.summary = []
        self.error = ""
        self.sms_consent = False

    def summary_text(self, summary: list[Any]) -> str:
        return "\n".join(f"{label}：{value}" for label, value in summary)

    def speech(self) -> str:
        parts = ["请核对您的登记内容。" + "。".join(f"{label}，{value}" for label, value in self.summary)]
        parts += [f"{head}：{text}" for head, text in self.notice]
        parts.append("同意请点“同意并提交”，不同意请点“不同意”。")
        return "。".join(parts)
