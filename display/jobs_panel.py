"""The jobs segment on a TV (layout in jobs_panel.kv): the job reel, the side card, the QR code.

The reel's rows are rendered by the worker once per content version; the panel keeps them
(and its place in the list) from one play of the jobs segment to the next, so the list
continues where it stopped instead of starting over. The side card changes per play (the
next policy or event in turn).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from display import reel, sprites, widgets  # noqa: F401 - register the classes jobs_panel.kv uses
from display.board_content import event_when
from display.layout import BoardGeometry
from display.profiles import Profile
from display.reel import ReelItem
from display.widgets import KvPalette
from protocol.model import Event, Policy

Builder.load_file(str(Path(__file__).with_name("jobs_panel.kv")))


def side_card_text(item: Policy | Event | None) -> tuple[str, str, str]:
    """(tag, title, body) for the side card."""
    if isinstance(item, Policy):
        body = item.summary or item.body
        if item.hotline:
            body = f"{body}\n咨询电话 {item.hotline}"
        return "政策速递", item.title, body
    if isinstance(item, Event):
        lines = [event_when(item)]
        if item.place:
            lines.append(item.place)
        if item.employers or item.job_count:
            lines.append(f"{item.employers}家单位 · {item.job_count}个岗位")
        return item.event_kind, item.title, "\n".join(lines)
    return "", "", ""


class JobsPanel(Widget):
    geo = ObjectProperty(None)
    pal = ObjectProperty(None)
    caption = StringProperty("附近岗位")
    counts = StringProperty("")
    side_tag = StringProperty("")
    side_title = StringProperty("")
    side_body = StringProperty("")
    qr_image = ObjectProperty(None, allownone=True)
    qr_caption = StringProperty("扫码查看全部岗位")
    caption_px = NumericProperty(48)
    small_px = NumericProperty(36)
    side_title_px = NumericProperty(44)
    qr_caption_px = NumericProperty(32)
    tag_width = NumericProperty(180)

    def __init__(self, profile: Profile, geo: BoardGeometry, **kwargs: Any) -> None:
        p = profile
        super().__init__(geo=geo, pal=KvPalette(p.palette), caption_px=p.px(50), small_px=p.px(36),
                         side_title_px=p.px(44), qr_caption_px=p.px(32), tag_width=p.px(180),
                         pos=(geo.body[0], geo.body[1]), size=(geo.body[2], geo.body[3]), **kwargs)
        self.profile = profile
        self.content_key: Any = None

    @property
    def reel(self) -> Any:
        return self.ids.jobs

    def set_jobs(self, items: list[ReelItem], *, total: int, gigs: int, key: Any, paged: bool,
                 speed: float, transition_s: float) -> None:
        """New rows (a new content version): the list starts again from the top."""
        self.content_key = key
        self.counts = f"共{total}个岗位" + (f" · 今日零工{gigs}个" if gigs else "")
        self.ids.jobs.set_items(items, paged=paged, speed=speed, transition_s=transition_s)

    def set_side(self, item: Policy | Event | None) -> None:
        self.side_tag, self.side_title, self.side_body = side_card_text(item)
