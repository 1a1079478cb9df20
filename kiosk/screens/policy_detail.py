"""One policy in large text: what it is, who qualifies, how to apply, what to bring; 朗读 reads it all."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory
from kivy.properties import ListProperty, StringProperty

from kiosk.screens.base import KioskScreen


def policy_sections(policy: Any) -> list[tuple[str, str]]:
    sections = [("政策内容", policy.summary), ("详细说明", policy.body), ("谁可以申请", policy.who_qualifies),
                ("怎么申请", policy.how_to_apply), ("要带的材料", policy.materials)]
    if policy.effective_from or policy.effective_to:
        start = f"{policy.effective_from:%Y年%m月%d日}" if policy.effective_from else "现在"
        end = f"{policy.effective_to:%Y年%m月%d日}" if policy.effective_to else "另行通知"
        sections.append(("有效时间", f"{start}至{end}"))
    if policy.hotline:
        sections.append(("咨询电话", policy.hotline))
    return [(head, text) for head, text in sections if text]


class PolicyDetailScreen(KioskScreen):
    headline = StringProperty("")
    category = StringProperty("")
    sections = ListProperty([])

    def enter(self, policy_id: str | None = None, **_: Any) -> None:
        if policy_id is None:
            return
        policy = self.app.store.get_policy(policy_id)
        if policy is None:
            self.app.notify("这条政策已经更新或下架了", seconds=8)
            return
        self.headline = policy.title
        self.category = policy.category
        self.sections = policy_sections(policy)
        self.ids.scroll.scroll_y = 1
        self.app.count("policy_view")

    def on_sections(self, _screen: Any, sections: list[tuple[str, str]]) -> None:
        box = self.ids.sections
        for widget in [w for w in box.children if isinstance(w, Factory.PolicySection)]:
            box.remove_widget(widget)
        for head, text in sections:
            section = Factory.PolicySection()  # a kv-defined class: its properties exist after creation
            section.head, section.body = head, text
            box.add_widget(section)

    def forget(self) -> None:
        self.sections = []

    def read(self) -> None:
        self.app.read_aloud(self.speech())

    def speech(self) -> str:
        return "。".join([self.headline] + [f"{head}：{text}" for head, text in self.sections])
