"""A policy or event card filling the TV's body (layout in card_panel.kv).

The card is built when the segment is prepared (before it shows): a tag, the title, and
labelled paragraphs in the order a resident asks about them (who qualifies, how to apply,
what to bring; when, where, how many employers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from display import sprites, widgets  # noqa: F401 - register the classes card_panel.kv uses
from display.board_content import event_when
from display.layout import BoardGeometry
from display.profiles import Profile
from display.sprites import SpriteLabel
from display.widgets import KvPalette
from protocol.model import Event, Policy

Builder.load_file(str(Path(__file__).with_name("card_panel.kv")))


def card_blocks(item: Policy | Event) -> tuple[str, str, list[tuple[str, str]]]:
    """(tag, title, [(label, text), ...]) for a policy or an event."""
    if isinstance(item, Policy):
        blocks = [("", item.summary or item.body), ("申请对象", item.who_qualifies), ("办理方式", item.how_to_apply),
                  ("所需材料", item.materials)]
        if item.hotline:
            blocks.append(("咨询电话", item.hotline))
        return f"政策速递 · {item.category}", item.title, [(k, v) for k, v in blocks if v]
    blocks = [("时间", event_when(item)), ("地点", item.place), ("主办", item.organiser)]
    if item.employers or item.job_count:
        blocks.append(("规模", f"{item.employers}家单位，{item.job_count}个岗位"))
    blocks.append(("报名", item.registration))
    return item.event_kind, item.title, [(k, v) for k, v in blocks if v]


class CardPanel(Widget):
    geo = ObjectProperty(None)
    pal = ObjectProperty(None)
    tag = StringProperty("")
    title = StringProperty("")
    margin = NumericProperty(40)
    tag_px = NumericProperty(40)
    title_px = NumericProperty(64)
    body_px = NumericProperty(42)
    tag_width = NumericProperty(320)

    def __init__(self, profile: Profile, geo: BoardGeometry, item: Policy | Event, **kwargs: Any) -> None:
        p = profile
        tag, title, blocks = card_blocks(item)
        # An event card has a few short lines (time, place...): larger type fills the screen
        # and reads from farther away; a policy needs the room for its text.
        event = not isinstance(item, Policy)
        super().__init__(geo=geo, pal=KvPalette(p.palette), tag=tag, title=title, margin=p.px(60),
                         tag_px=p.px(48 if event else 40), title_px=p.px(76 if event else 64),
                         body_px=p.px(52 if event else 42),
                         pos=(geo.body[0], geo.body[1]), size=(geo.body[2], geo.body[3]), **kwargs)
        from display.sprites import Art

        self.tag_width = Art.fonts().width(tag, self.tag_px) + self.tag_px + 2
        self.item_id = item.id
        self.item_kind = "policy" if isinstance(item, Policy) else "event"
        self._blocks = blocks
        self._lay_out_blocks()

    def _lay_out_blocks(self) -> None:
        title = self.ids.title
        lines_title = min(2, _lines_needed(self.title, self.title_px, title.width))
        top = title.top - lines_title * _line_height(self.title_px, 0.35) - self.body_px // 2
        bottom = self.y + self.margin // 2
        label_w = self.body_px * 5
        text_w = int(self.width - 2 * self.margin - label_w)
        line = _line_height(self.body_px, 0.4)
        for label, text in self._blocks:
            room = int((top - bottom) // line)
            if room < 1:
                break
            wanted = max(1, min(room, 6 if label else 4))
            body = SpriteLabel(text=text, font_px=self.body_px, wrap=True, max_lines=wanted, line_gap=0.4,
                               color=self.pal.text if not label else self.pal.muted, bg=self.pal.background,
                               valign="top", pos=(self.margin + (label_w if label else 0), bottom),
                               size=(text_w if label else text_w + label_w, top - bottom))
            self.add_widget(body)
            if label:
                self.add_widget(SpriteLabel(text=label, font_px=self.body_px, bold=True, color=self.pal.accent,
                                            bg=self.pal.background, valign="top",
                                            pos=(self.margin, bottom), size=(label_w, top - bottom)))
            used = min(wanted, _lines_needed(text, self.body_px, body.width))
            top -= used * line + self.body_px * 0.6


def _line_height(px: int, gap: float) -> int:
    from display.sprites import Art

    return Art.fonts().band(px).height + int(px * gap)


def _lines_needed(text: str, px: int, width: float) -> int:
    from display.sprites import Art
    from display.textimg import wrap_text

    if Art.book is None or width <= 0:
        return 1
    return len(wrap_text(Art.book, text, px, int(width)))
