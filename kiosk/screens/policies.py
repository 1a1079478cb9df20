"""政策咨询: policies in force, by category, each opening in large text with 朗读."""

from __future__ import annotations

from typing import Any

from kivy.properties import ListProperty, ObjectProperty

from kiosk.screens.base import KioskScreen
from protocol.model import POLICY_CATEGORIES


class PoliciesScreen(KioskScreen):
    category = ObjectProperty(None, allownone=True)
    category_options = ListProperty([(None, "全部政策"), *((c, c) for c in POLICY_CATEGORIES)])
    items = ListProperty([])

    def enter(self, returning: bool = False, **_: Any) -> None:
        if not returning:
            self.category = None
        self.refresh()

    def refresh(self) -> None:
        policies = self.app.store.policies(self.category)
        self.items = [{"policy_id": p.id, "title": p.title, "summary": p.summary or p.body[:80],
                       "category": p.category} for p in policies]
        self.ids.rv.data = self.items
        self.ids.rv.scroll_y = 1

    def choose(self, category: str | None) -> None:
        self.category = category
        self.refresh()

    def speech(self) -> str:
        lines = [f"政策咨询，{self.category or '全部政策'}，共{len(self.items)}条。"]
        lines += [item["title"] for item in self.items[:8]]
        lines.append("点一条政策可以看详细内容。")
        return "。".join(lines)
