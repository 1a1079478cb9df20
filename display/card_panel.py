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
from display.board_content import event_when, material_items
from display.layout import BoardGeometry, CardPlan, plan_card
from display.profiles import Profile
from display.sprites import SpriteLabel
from display.widgets import KvPalette
from protocol.model import Event, Policy

Builder.load_file(str(Path(__file__).with_name("card_panel.kv")))


def card_blocks(item: Policy | Event) -> tuple[str, str, list[tuple[str, str]]]:
    """(tag, title, [(label, text), ...]) for a policy or an event."""
    if isinstance(item, Policy):
        blocks = [("", item.summary or item.body), ("申请对象", item.who_qualifies), ("办理方式", item.how_to_apply),
                  ("所需材料", "\n".join(material_items(item.materials)))]
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

    def __init__(self, profile: Profile, geo: BoardGeometry, item: Policy | Event, *, qr_image: Any = None,
                 **kwargs: Any) -> None:
        p = profile
        tag, title, blocks = card_blocks(item)
        # An event card has a few short lines (time, place...): larger type fills the screen
        # and reads from farther away; a policy needs the room for its text.
        event = not isinstance(item, Policy)
        # a long title (up to 60 characters) is set smaller to stay whole in its two lines
        title_px = fit_lines_px(title, geo.body[2] - 2 * p.px(60), 2, largest=p.px(76 if event else 64),
                                smallest=p.px(36))
        super().__init__(geo=geo, pal=KvPalette(p.palette), tag=tag, title=title, margin=p.px(60),
                         tag_px=p.px(48 if event else 40), title_px=title_px,
                         body_px=p.px(52 if event else 42),
                         pos=(geo.body[0], geo.body[1]), size=(geo.body[2], geo.body[3]), **kwargs)
        from display.sprites import Art

        self.profile = profile
        self.tag_width = Art.fonts().width(tag, self.tag_px) + self.tag_px + 2
        self.item_id = item.id
        self.item_kind = "policy" if isinstance(item, Policy) else "event"
        self._blocks = blocks
        self._qr_image = qr_image
        self.page = 0
        self._turn: Any = None
        self.plan = self._plan()
        self.text_widgets: list[SpriteLabel] = []
        self.qr_widgets: list[Widget] = []
        self._lay_out_page(0)
        self.bind(parent=self._on_parent)

    def text_box(self) -> tuple[int, int, int, int]:
        """Where the paragraphs go: (x, y, width, height) under the title, inside the margins."""
        title = self.ids.title
        lines_title = min(2, _lines_needed(self.title, self.title_px, title.width))
        top = int(title.top - lines_title * _line_height(self.title_px, 0.35) - self.body_px // 2)
        bottom = int(self.y + self.margin // 2)
        return int(self.x + self.margin), bottom, int(self.width - 2 * self.margin), top - bottom

    def _plan(self) -> CardPlan:
        from display.sprites import Art

        _x, _y, width, height = self.text_box()
        return plan_card(Art.fonts(), self._blocks, width, height, largest=int(self.body_px),
                         smallest=max(8, self.profile.px(30)), gap=0.4)

    def _on_parent(self, _widget: Any, parent: Any) -> None:
        from kivy.clock import Clock

        if self._turn is not None:
            self._turn.cancel()
            self._turn = None
        if parent is not None and len(self.plan.pages) > 1:
            self._turn = Clock.schedule_interval(lambda _dt: self.turn_page(), self.profile.page_s)
        elif parent is None and self.page:
            self._lay_out_page(0)

    def turn_page(self) -> None:
        """The next page of a card too long for its box at the smallest type (back to the first after the last)."""
        self._lay_out_page((self.page + 1) % len(self.plan.pages))

    def _lay_out_page(self, page: int) -> None:
        for widget in self.text_widgets + self.qr_widgets:
            self.remove_widget(widget)
        self.text_widgets, self.qr_widgets = [], []
        self.page = page
        plan = self.plan
        x, bottom, width, height = self.text_box()
        top = bottom + height
        px = plan.body_px
        for index, (label, lines) in enumerate(plan.pages[page]):
            if index:
                top -= plan.block_gap
            block_h = len(lines) * plan.line_height
            indent = plan.label_width if label else 0
            body = SpriteLabel(text="\n".join(lines), font_px=px, wrap=True, line_gap=0.4,
                               color=self.pal.text if not label else self.pal.muted, bg=self.pal.background,
                               valign="top", pos=(x + indent, top - block_h), size=(width - indent, block_h))
            self.text_widgets.append(body)
            if label:
                self.text_widgets.append(SpriteLabel(
                    text=label, font_px=px, bold=True, color=self.pal.accent, bg=self.pal.background,
                    valign="top", pos=(x, top - block_h), size=(plan.label_width, block_h)))
            top -= block_h
        for widget in self.text_widgets:
            self.add_widget(widget)
        self._fill_with_qr(x, bottom, width, top - bottom)

    def _fill_with_qr(self, x: int, bottom: int, width: int, room: int) -> None:
        """The station's QR code in the room the text leaves under it (an event's few lines leave half the card)."""
        image = self._qr_image
        if image is None:
            return
        caption_px = self.profile.px(32)
        caption_h = int(caption_px * 1.4)
        size = image.size[0]
        if room < size + caption_h + self.body_px:
            return
        from display.widgets import Picture

        caption_h += caption_px // 3  # a gap between the code and its caption
        y = bottom + (room - size - caption_h) // 2 + caption_h
        qr = Picture(pos=(x + (width - size) // 2, y), size=(size, size))
        qr.image = image  # set after the widget binds it (a constructor's value is not drawn)
        caption = SpriteLabel(text="扫码查看全部岗位", font_px=caption_px, color=self.pal.muted,
                              bg=self.pal.background, halign="center", valign="top",
                              pos=(x, y - caption_h), size=(width, caption_h))
        self.qr_widgets = [qr, caption]
        for widget in self.qr_widgets:
            self.add_widget(widget)


def _line_height(px: int, gap: float) -> int:
    from display.sprites import Art

    return Art.fonts().band(px).height + int(px * gap)


def _lines_needed(text: str, px: int, width: float) -> int:
    from display.sprites import Art
    from display.textimg import wrap_text

    if Art.book is None or width <= 0:
        return 1
    return len(wrap_text(Art.book, text, px, int(width)))


def fit_lines_px(text: str, width: int, lines: int, *, largest: int, smallest: int) -> int:
    """The largest type size (2 px steps, down to ``smallest``) at which ``text`` wraps into ``lines`` lines."""
    px = largest
    while px > smallest and _lines_needed(text, px, width) > lines:
        px -= 2
    return max(px, smallest)

