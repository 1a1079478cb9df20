"""招聘会: upcoming job fairs and training classes with time and place, each printable."""

from __future__ import annotations

import datetime as dt

from kivy.properties import ListProperty

from kiosk.screens.base import KioskScreen

WEEKDAYS = "一二三四五六日"


def event_when(start: dt.datetime, end: dt.datetime, today: dt.date) -> str:
    """``今天 9:00-12:00`` / ``11月25日 星期二 9:00-12:00``."""
    day = start.date()
    if day == today:
        label = "今天"
    elif day == today + dt.timedelta(days=1):
        label = "明天"
    else:
        label = f"{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}"
    if end.date() == day:
        return f"{label} {start:%H:%M}-{end:%H:%M}"
    return f"{label} {start:%H:%M} 到 {end.month}月{end.day}日 {end:%H:%M}"


class EventsScreen(KioskScreen):
    items = ListProperty([])

    def refresh(self) -> None:
        today = dt.date.today()
        items = []
        for event in self.app.store.events():
            facts = [f"时间：{event_when(event.starts_at, event.ends_at, today)}"]
            if event.place:
                facts.append(f"地点：{event.place}")
            if event.employers or event.job_count:
                facts.append(f"规模：{event.employers}家单位，{event.job_count}个岗位")
            if event.organiser:
                facts.append(f"主办：{event.organiser}")
            if event.registration:
                facts.append(event.registration)
            items.append({"event_id": event.id, "title": event.title, "kind": event.event_kind,
                          "facts": "\n".join(facts)})
        self.items = items
        self.ids.rv.data = items
        self.ids.rv.scroll_y = 1

    def print_event(self, event_id: str) -> None:
        event = self.app.store.get_event(event_id)
        if event is not None:
            self.app.print_event(event)

    def speech(self) -> str:
        if not self.items:
            return "近期没有招聘会。"
        lines = [f"近期有{len(self.items)}场活动。"]
        for item in self.items[:4]:
            lines.append(f"{item['title']}。{item['facts']}")
        return "。".join(lines)
