"""The resident who placed an ID card: a greeting by masked name, jobs they may take, registration.

Recommendations are open jobs near the station whose age and gender limits the resident
meets (``Store.jobs_for_person``). An expired card is said plainly, with what to do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.screens.base import KioskScreen
from kiosk.screens.jobs import card_data

RECOMMEND_LIMIT = 30


class ResidentScreen(KioskScreen):
    greeting = StringProperty("")
    identity = StringProperty("")
    problem = StringProperty("")
    found = NumericProperty(0)
    present = BooleanProperty(False)

    def enter(self, problem: str = "", **_: Any) -> None:
        self.problem = problem
        self.refresh()

    def refresh(self) -> None:
        resident = self.app.session.resident
        self.present = resident is not None
        if resident is None:
            self.forget()
            return
        today = dt.date.today()
        age = resident.age(today)
        self.greeting = f"{resident.title}，您好！"
        self.identity = f"身份证 {resident.masked_id}    {age}岁"
        radius = self.app.settings.station.radius_km
        hits = self.app.store.jobs_for_person(age, resident.gender, limit=RECOMMEND_LIMIT)
        if len(hits) < 5:  # few near the station: look a little farther rather than show nothing
            hits = self.app.store.jobs_for_person(age, resident.gender, radius_km=max(15.0, radius),
                                                  limit=RECOMMEND_LIMIT)
        self.ids.rv.data = [card_data(hit, today) for hit in hits]
        self.ids.rv.scroll_y = 1
        self.found = len(hits)

    def forget(self) -> None:
        self.greeting = ""
        self.identity = ""
        self.problem = ""
        self.found = 0
        self.present = False
        self.ids.rv.data = []

    def speech(self) -> str:
        if not self.present:
            return f"请把身份证放在{self.app.reader_place}的感应区。"
        lines = [self.greeting]
        if self.problem:
            lines.append(self.problem)
        lines.append(f"为您推荐了{self.found}个您可以做的岗位。")
        for item in self.ids.rv.data[:3]:
            lines.append(f"{item['title']}，{item['salary']}")
        if not self.problem:
            lines.append("您也可以点“我要登记”，工作人员会帮您找工作。")
        return "。".join(lines)
