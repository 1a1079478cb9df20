"""The LED board's surface: every segment is a reel of bitmap-friendly text in the LED's zone.

A panel pages job rows and lines of text; a strip runs a marquee (or pages, when the
profile pages). Cards become their text (a panel has room for the whole card, paged
block by block); an urgent notice takes the whole board at the largest LED type that
fits; the station's details carry the notices, since an LED board has no ticker.
"""

from __future__ import annotations

from typing import Any

from display.art import (
    ItemArt,
    Painter,
    led_job_row,
    strip_job_item,
    strip_lines,
    ticker_lines,
    ticker_marquee,
)
from display.board_content import BoardContent, event_when
from display.card_panel import card_blocks
from display.layout import BoardGeometry
from display.led_frame import LedFrame, LedReelPanel
from display.profiles import LED_FONT_SIZES, Profile, led_font_px
from display.reel import ReelItem, realize
from display.schedule import Slot
from display.segments import Segment
from display.sprites import TextureBank
from display.surface import Surface
from display.textimg import FontBook, phrase_lines
from protocol.model import Announcement, Event, Policy


def station_facts(station: Any, kind: str, notices: list[Announcement]) -> list[str]:
    """The station page of an LED board, one fact a paragraph: name, hotline, hours, address, notices.

    An LED board has no ticker: on the station page its notices run with the station's details.
    """
    parts = [station.name]
    if kind == "standby":
        parts.append("夜间休息 暂停播放")
    if station.hotline:
        parts.append(f"服务热线 {station.hotline}")
    if station.opening_hours:
        parts.append(f"服务时间 {station.opening_hours}")
    if station.address and kind != "standby":
        parts.append(station.address)
    if kind == "station":
        parts.extend(f"通知：{a.text}" for a in notices)
    return parts


class LedSurface(Surface):
    def __init__(self, profile: Profile, geo: BoardGeometry, book: FontBook, station: Any, *, paged: bool) -> None:
        super().__init__(profile, geo, book, station, paged=paged)
        self.strip = profile.layout == "led-strip"
        self.marquee = self.strip and not paged
        self.frame = LedFrame(profile, geo, station)
        self.jobs_panel = LedReelPanel(geo.list_zone, "x" if self.marquee else "y")

    def job_arts(self, painter: Painter, content: BoardContent) -> list[ItemArt]:
        geo = self.geo
        if not self.strip:
            return [led_job_row(painter, row, geo.row_width) for row in content.jobs]
        height = geo.list_zone[3]
        if self.paged:
            out: list[ItemArt] = []
            for row in content.jobs:
                text = f"{'今日零工 ' if row.gig_today else ''}{row.title} {row.salary} {row.employer} {row.meta}"
                out.extend(strip_lines(painter, text, height, geo.row_width, self.profile.palette.text, row.id))
            return out
        return [strip_job_item(painter, row, height, spacing=max(24, height * 2)) for row in content.jobs]

    def apply_rows(self, items: list[ReelItem], *, key: Any, total: int, gigs: int, speed: float) -> None:
        self.jobs_panel.set_items(items, key=key, paged=self.paged, speed=speed,
                                  transition_s=self.profile.transition_s)

    def card_segment(self, slot: Slot, item: Policy | Event) -> Segment:
        kind = "policy" if isinstance(item, Policy) else "event"
        tag, title, blocks = card_blocks(item)
        color = self.profile.palette.muted if isinstance(item, Policy) else self.profile.palette.accent
        if not self.strip:
            # A panel has room for the whole card, paged: each block on its own lines
            # (a bare title and summary used only the top half of it).
            short_tag = "政策" if isinstance(item, Policy) else tag
            paragraphs = [f"【{short_tag}】{title}"] + [f"{label}：{text}" if label else text
                                                         for label, text in blocks]
            return self.text_segment(slot, paragraphs, color, kind, item.id)
        if isinstance(item, Policy):
            text = f"【政策】{item.title}：{item.summary or item.body}"
        else:
            text = f"【{item.event_kind}】{item.title} {event_when(item)} {item.place}"
        return self.text_segment(slot, text, color, kind, item.id)

    def urgent_segment(self, slot: Slot, notices: list[Announcement]) -> Segment:
        text = "【紧急通知】" + "　".join(a.text for a in notices)
        return self.text_segment(slot, text, self.profile.palette.urgent_text, "urgent",
                                 ",".join(a.id for a in notices), fullscreen=True)

    def station_segment(self, slot: Slot, notices: list[Announcement]) -> Segment:
        station = self.station
        kind = slot.kind
        parts = station_facts(station, kind, notices)
        if self.marquee:
            return self.text_segment(slot, "　".join(parts), self.profile.palette.text, kind, station.id)
        # a panel (or a paged strip) shows each fact on lines of its own, wrapped between words
        return self.text_segment(slot, parts, self.profile.palette.text, kind, station.id)

    def text_segment(self, slot: Slot, text: str | list[str], color: tuple[int, int, int], kind: str,
                     item_id: str, *, fullscreen: bool = False) -> Segment:
        """Text as a reel in the LED's zone (the whole board when ``fullscreen``)."""
        paragraphs = [line for para in ([text] if isinstance(text, str) else text) for line in para.split("\n")
                      if line.strip()]
        joined = "\n".join(paragraphs)
        p = self.profile
        geo = self.geo
        zone = (0, 0, geo.width, geo.height) if fullscreen else geo.list_zone
        painter = Painter(self.book, p)
        line = zone[3] if self.strip else p.title_px + 2
        px = led_font_px(line)
        if not self.strip and not fullscreen and zone[3] >= line:
            # the reel's window holds whole lines: the next page's first line never peeks in, cut, at its foot
            rows = zone[3] // line
            zone = (zone[0], zone[1] + zone[3] - rows * line, zone[2], rows * line)
        if fullscreen and not self.marquee:
            # an urgent notice on a panel: the largest LED type at which it fits the panel
            for size in reversed(LED_FONT_SIZES):
                if size <= p.title_px:
                    px = size
                    break
                lines = len(phrase_lines(self.book, joined, size, zone[2]))
                if lines * (size + 2) <= zone[3]:
                    px = size
                    break
            line = px + 2
        if self.marquee:
            arts = ticker_marquee(painter, [joined], px, zone[3], color, p.palette.background, spacing=zone[2])
        else:
            arts = ticker_lines(painter, paragraphs, px, zone[2], line, color, p.palette.background)
        bank = TextureBank()
        panel = LedReelPanel(zone, "x" if self.marquee else "y")
        panel.set_items(realize(arts, bank), key=joined, paged=not self.marquee, speed=p.scroll_px_s,
                        transition_s=p.transition_s)
        panel.bank = bank
        # what the panel shows, line by line, at which size and in which window (the tests read it)
        panel.lines = ([joined] if self.marquee else
                       [chunk for para in paragraphs for chunk in phrase_lines(self.book, para, px, zone[2])])
        panel.text_px, panel.line_height = px, line
        return Segment(slot, panel, item_kind=kind, item_id=item_id, reels=[panel.reel], fullscreen=fullscreen,
                       title=joined[:20])
