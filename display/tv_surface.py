"""The TV board's surface: a frame with header, body and notice ticker; cards drawn as widgets.

The jobs segment shows the job list with a side card (the next policy or event in turn)
and the QR code; policies and events are full cards in the body; the station card and
urgent notices take the whole screen. The ticker moves under every segment that keeps
the frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from display.art import ItemArt, Painter, tv_job_row
from display.board_content import BoardContent
from display.card_panel import CardPanel
from display.jobs_panel import JobsPanel
from display.layout import BoardGeometry
from display.profiles import Profile
from display.reel import ReelItem
from display.schedule import Slot
from display.segments import Segment
from display.station_card import StationCard, register_cjk_font
from display.surface import Surface
from display.textimg import FontBook, qr_image
from display.tv_frame import TvFrame
from display.urgent_screen import UrgentScreen
from protocol.model import Announcement, Event, Policy


class TvSurface(Surface):
    def __init__(self, profile: Profile, geo: BoardGeometry, book: FontBook, station: Any, *, paged: bool,
                 font_path: Path, qr_url: str = "") -> None:
        super().__init__(profile, geo, book, station, paged=paged)
        font_name = register_cjk_font(font_path)
        self.frame = TvFrame(profile, geo, station)
        self.jobs_panel = JobsPanel(profile, geo)
        if qr_url and geo.qr[2] > 0:
            self.jobs_panel.qr_image = qr_image(qr_url, geo.qr[2], fg=(0, 0, 0), bg=(255, 255, 255))
        self.station_card = StationCard.for_station(station, font_name=font_name)
        self.standby_card = StationCard.for_station(station, font_name=font_name, message="夜间休息　暂停播放")
        for card in (self.station_card, self.standby_card):
            card.size = (geo.width, geo.height)
            card.pos = (0, 0)
        if geo.portrait and self.jobs_panel.qr_image is not None:
            self._add_qr(self.station_card, self.jobs_panel.qr_image)
        self._side_turn = 0

    def _add_qr(self, card: StationCard, image: Any) -> None:
        """The QR code and its caption under the station's facts (a portrait card is otherwise half empty)."""
        from kivy.factory import Factory

        from display.widgets import Picture

        size = image.size[1]
        qr = Picture(size_hint_y=None, height=size + self.profile.px(24))
        qr.image = image
        caption = Factory.StationCardLine(text="扫码查看全部岗位", font_name=card.font_name,
                                          font_size=self.profile.px(36), color=(0.85, 0.90, 1, 1))
        card.add_widget(qr, index=1)
        card.add_widget(caption, index=1)

    def job_arts(self, painter: Painter, content: BoardContent) -> list[ItemArt]:
        return [tv_job_row(painter, row, self.geo.row_width) for row in content.jobs]

    def apply_rows(self, items: list[ReelItem], *, key: Any, total: int, gigs: int, speed: float) -> None:
        self.jobs_panel.set_jobs(items, total=total, gigs=gigs, key=key, paged=self.paged, speed=speed,
                                 transition_s=self.profile.transition_s)

    def show_jobs(self, segment: Segment, content: BoardContent | None) -> None:
        super().show_jobs(segment, content)
        if content is not None:
            side: list[Any] = list(content.policies) + list(content.events)
            item = side[self._side_turn % len(side)] if side else None
            self._side_turn += 1
            self.jobs_panel.set_side(item)

    def card_segment(self, slot: Slot, item: Policy | Event) -> Segment:
        kind = "policy" if isinstance(item, Policy) else "event"
        card = CardPanel(self.profile, self.geo, item, qr_image=self.jobs_panel.qr_image)
        return Segment(slot, card, item_kind=kind, item_id=item.id,
                       title=item.title)

    def urgent_segment(self, slot: Slot, notices: list[Announcement]) -> Segment:
        screen = UrgentScreen(self.profile, (self.geo.width, self.geo.height), notices, self.station)
        return Segment(slot, screen, item_kind="urgent", item_id=",".join(a.id for a in notices), fullscreen=True)

    def station_segment(self, slot: Slot, notices: list[Announcement]) -> Segment:
        card = self.standby_card if slot.kind == "standby" else self.station_card
        return Segment(slot, card, item_kind=slot.kind, item_id=self.station.id, fullscreen=True, persistent=True)

    def set_ticker(self, texts: list[str]) -> bool:
        station = self.station
        if not texts:
            standing = f"欢迎来到{station.name}：免费提供求职登记、岗位推荐、政策咨询和技能培训报名"
            if station.opening_hours:
                standing += f"　服务时间 {station.opening_hours}"
            if station.hotline:
                standing += f"　服务热线 {station.hotline}"
            texts = [standing]
        return bool(self.frame.set_ticker(texts))

    def reels_for(self, segment: Segment) -> list[Any]:
        reels = list(segment.reels)
        if not segment.fullscreen:
            reels.append(self.frame.ticker)
        return reels
