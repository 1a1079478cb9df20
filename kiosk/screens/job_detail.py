"""Job detail: everything a resident needs about one job, a QR code to take it along, 打印 and 朗读."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.factory import Factory
from kivy.properties import ListProperty, ObjectProperty, StringProperty

from kiosk.jobquery import distance_text, job_qr_text, job_speech, job_when_text
from kiosk.qr import qr_texture
from kiosk.screens.base import KioskScreen


def job_facts(job: Any, distance_km: float | None, today: dt.date) -> list[tuple[str, str]]:
    """(label, text) rows shown under the job's title."""
    facts = [("工作地点", job.address or "见单位说明")]
    if distance_km is not None:
        facts.append(("离这里", distance_text(distance_km)))
    when = job_when_text(job, today)
    if when:
        facts.append(("干活日期", f"{when}（{job.work_date.month}月{job.work_date.day}日）"))
    facts += [("招聘人数", f"{job.headcount}人"), ("年龄要求", job.age_text()), ("性别要求", job.gender),
              ("学历要求", job.education)]
    if job.contact_name or job.contact_phone:
        facts.append(("联系方式", " ".join(filter(None, [job.contact_name, job.contact_phone]))))
    facts.append(("有效期到", f"{job.valid_until.year}年{job.valid_until.month}月{job.valid_until.day}日"))
    return facts


class JobDetailScreen(KioskScreen):
    job = ObjectProperty(None, allownone=True)
    distance_km = ObjectProperty(None, allownone=True)
    facts = ListProperty([])
    headline = StringProperty("")
    salary = StringProperty("")
    employer = StringProperty("")
    tags = StringProperty("")
    requirements = StringProperty("")
    benefits = StringProperty("")
    qr = ObjectProperty(None, allownone=True)

    def enter(self, job_id: str | None = None, **_: Any) -> None:
        if job_id is None:
            return  # coming back: keep the job shown
        job = self.app.store.get_job(job_id)
        if job is None:
            self.app.notify("这个岗位已经下架了，请看看其他岗位", seconds=8)
            self.job = None
            return
        today = dt.date.today()
        self.job = job
        self.distance_km = self.app.store.job_distance_km(job)
        self.headline = job.title
        self.salary = job.salary_text()
        self.employer = job.employer
        self.tags = " · ".join([job.kind, job.category, job.source])
        self.facts = job_facts(job, self.distance_km, today)
        self.requirements = job.requirements or "无特别要求"
        self.benefits = job.benefits or ""
        self.qr = qr_texture(job_qr_text(job, self.app.settings.station.name))
        self.ids.scroll.scroll_y = 1
        self.app.count("job_view")

    def refresh(self) -> None:
        self.on_facts(self, self.facts)  # label widths follow the type size (elder mode)

    def apply(self) -> None:
        """我想应聘: a 求职 registration for this job (the phone, then the consent and a receipt)."""
        if self.job is not None:
            self.app.go("form", job={"id": self.job.id, "title": self.job.title, "employer": self.job.employer})

    def print_slip(self) -> None:
        if self.job is not None:
            self.app.print_job(self.job, self.distance_km)

    def read(self) -> None:
        self.app.read_aloud(self.speech())

    def speech(self) -> str:
        if self.job is None:
            return self.title
        return job_speech(self.job, self.distance_km)

    def on_facts(self, _screen: Any, facts: list[tuple[str, str]]) -> None:
        grid = self.ids.facts
        grid.clear_widgets()
        for label, text in facts:
            grid.add_widget(Factory.FactLabel(text=label, color=self.app.theme.c_muted, size_hint_x=None,
                                              width=self.app.theme.body * 5.5))
            grid.add_widget(Factory.FactLabel(text=text, color=self.app.theme.c_text))
