"""Home: the station, the six big tiles with counts, the ID card hint, notices and phone numbers."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kivy.properties import ListProperty, StringProperty

from content.feed_client import stale_notices
from content.headline import job_counts
from kiosk.screens.base import KioskScreen

log = logging.getLogger(__name__)


class HomeScreen(KioskScreen):
    jobs_note = StringProperty("")
    gigs_note = StringProperty("")
    policies_note = StringProperty("")
    courses_note = StringProperty("")
    events_note = StringProperty("")
    notices = ListProperty([])
    footer = StringProperty("")

    def refresh(self) -> None:
        store = self.app.store
        try:
            counts = job_counts(store, dt.date.today())  # the same numbers as the board's
            jobs, gigs, everywhere = counts.open_near, counts.gigs_today, counts.open_all
            policies = len(store.policies())
            courses = len(store.courses())
            events = len(store.events())
            notices = [a.text for a in store.announcements("kiosk") if a.priority != "urgent"]
            notices = [a.text for a in stale_notices(self.app.settings)] + notices  # feed past its expiry
        except Exception:
            log.exception("home counts unavailable")
            jobs = gigs = everywhere = policies = courses = events = 0
            notices = []
        radius = self.app.settings.station.radius_km
        self.jobs_note = f"{radius:g}公里内 {jobs} 个，共 {everywhere} 个"
        self.gigs_note = f"今天有 {gigs} 个零工" if gigs else "今天暂时没有零工"
        self.policies_note = f"{policies} 条政策，可以朗读"
        self.courses_note = f"{courses} 个免费视频"
        self.events_note = f"{events} 场即将举办" if events else "近期没有招聘会"
        self.notices = notices[:3]
        st = self.app.settings.station
        parts = []
        if st.hotline:
            parts.append(f"服务热线 {st.hotline}")
        if st.complaint_phone:
            parts.append(f"投诉电话 {st.complaint_phone}")
        if st.opening_hours:
            parts.append(f"服务时间 {st.opening_hours}")  # the words the TV and the LED board use
        self.footer = "    ".join(parts)

    def open_gigs(self) -> None:
        self.app.go("jobs", preset="gigs")

    def speech(self) -> str:
        st = self.app.settings.station
        return (f"欢迎来到{st.name}。您可以点：找工作，今日零工，政策咨询，培训视频，我要登记，招聘会。"
                "放上身份证，可以为您推荐合适的岗位。"
                + (f"服务热线{st.hotline}。" if st.hotline else ""))

    def notices_text(self, notices: list[Any]) -> str:
        return "\n".join(f"· {text}" for text in notices)
