"""Boards show whole text: every paragraph of every sample policy and event inside its box, on every profile.

Cards are built as the board builds them (real Kivy widgets under Xvfb, the board's own font)
and what each label draws is compared with the source text: nothing cut, no ellipsis, every
line inside the card. The LED panel's pages are read the same way from the sprites it draws.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from config.settings import StationSettings
from content.sample import sample_content
from display.board_content import material_items
from display.harness import prepare_kivy
from display.layout import board_geometry, plan_card
from display.profiles import PROFILES

pytestmark = pytest.mark.display

TODAY = dt.date(2026, 3, 9)
CONTENT = sample_content(origin=(26.58, 106.71), jobs=5, today=TODAY)
STATION = StationSettings(id="test-station-01", name="城东社区人社便民服务站", kind="服务站", latitude=26.58, longitude=106.71,
                          hotline="0851-12333", complaint_phone="0851-12345", address="贵阳市云岩区中华北路108号",
                          opening_hours="周一至周五 9:00-12:00 14:00-17:30")


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def art(xvfb):
    prepare_kivy()
    from kivy.core.window import Window  # noqa: F401 - the GL context the sprites need

    from common.fonts import find_cjk_font
    from display.sprites import Art

    Art.configure(str(find_cjk_font(None)), antialias=True)
    return Art


def test_materials_are_a_list_however_they_were_typed() -> None:
    assert material_items("1. 身份证2. 营业执照3. 创业项目计划书") == ["1. 身份证", "2. 营业执照", "3. 创业项目计划书"]
    assert material_items("1. 补贴申请表\n2. 营业执照复印件\n") == ["1. 补贴申请表", "2. 营业执照复印件"]
    assert material_items("身份证、户口簿；毕业证") == ["1. 身份证、户口簿", "2. 毕业证"]
    assert material_items("（1）身份证（2）户口簿") == ["1. 身份证", "2. 户口簿"]
    assert material_items("身份证原件") == ["身份证原件"]


def test_a_card_too_long_for_the_smallest_type_is_paged_whole_never_cut(art) -> None:
    book = art.fonts()
    long_text = "在本地依法登记注册的企业、民办非企业单位等用人单位。" * 12
    blocks = [("", "摘要一句。"), ("申请对象", long_text), ("所需材料", "1. 身份证\n2. 户口簿")]
    plan = plan_card(book, blocks, 900, 400, largest=42, smallest=30)
    assert plan.body_px == 30 and len(plan.pages) > 1
    assert squeeze("".join(plan.lines)) == squeeze("".join(text for _label, text in blocks))
    for page in plan.pages:
        used = sum(len(lines) for _label, lines in page) * plan.line_height + (len(page) - 1) * plan.block_gap
        assert used <= 400
    # a short card keeps the largest type
    assert plan_card(book, blocks[:1], 900, 400, largest=42, smallest=30).body_px == 42


@pytest.mark.parametrize("name", ["tv-1080p", "tv-portrait"])
def test_every_paragraph_of_every_sample_card_is_whole_inside_the_tv_card(art, name) -> None:
    from display.card_panel import CardPanel, card_blocks

    profile = PROFILES[name]
    geo = board_geometry(art.fonts(), profile)
    for item in [*CONTENT.policies, *CONTENT.events]:
        card = CardPanel(profile, geo, item)
        _tag, _title, blocks = card_blocks(item)
        x, bottom, width, height = card.text_box()
        assert card.plan.body_px >= profile.px(30), (item.id, card.plan.body_px)
        shown = []
        for page in range(len(card.plan.pages)):
            card._lay_out_page(page)
            for label in card.text_widgets:
                label.render()
                tw, th = label.texture_size
                assert "…" not in label.text, (name, item.id, label.text)
                assert x <= label.x and label.x + tw <= x + width, (name, item.id, label.text)
                assert bottom <= label.top - th and label.top <= bottom + height, (name, item.id, label.text)
                shown.append(label.text)
        for label, text in blocks:
            lines = [line for page in card.plan.pages for lab, part in page if lab == label for line in part]
            assert squeeze("".join(lines)) == squeeze(text), (name, item.id, label)
            if label == "所需材料":
                assert lines == material_items(item.materials)  # one item a line
        assert len(card.plan.pages) == 1  # the sample cards fit one page on a TV
