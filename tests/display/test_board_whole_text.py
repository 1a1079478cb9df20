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



def test_every_paragraph_of_every_sample_card_is_whole_on_the_led_panel_in_whole_lines(art) -> None:
    from display.card_panel import card_blocks
    from display.led_surface import LedSurface
    from display.schedule import Slot

    profile = PROFILES["led-panel"]
    book = art.fonts()
    geo = board_geometry(book, profile)
    surface = LedSurface(profile, geo, book, STATION, paged=False)
    for item in [*CONTENT.policies, *CONTENT.events]:
        panel = surface.card_segment(Slot("policy"), item).widget
        x, y, width, height = panel.zone
        assert height % panel.line_height == 0 and y + height <= geo.list_zone[1] + geo.list_zone[3]
        assert all(book.width(line, panel.text_px) <= width for line in panel.lines), item.id
        assert "…" not in "".join(panel.lines)
        shown = squeeze("".join(panel.lines))
        for _label, text in card_blocks(item)[2]:
            assert squeeze(text) in shown, (item.id, text)
        if getattr(item, "materials", ""):
            for entry in material_items(item.materials):  # one item a line
                assert any(line.endswith(entry) for line in panel.lines), entry


def test_the_led_station_page_is_short_lines_one_fact_each(art) -> None:
    from display.led_surface import LedSurface, station_facts
    from display.schedule import Slot

    profile = PROFILES["led-panel"]
    book = art.fonts()
    surface = LedSurface(profile, board_geometry(book, profile), book, STATION, paged=False)
    panel = surface.station_segment(Slot("station"), []).widget
    facts = station_facts(STATION, "station", [])
    assert facts[:3] == ["城东社区人社便民服务站", "服务热线 0851-12333", "服务时间 周一至周五 9:00-12:00 14:00-17:30"]
    # a fact starts a line of its own (never run on after another); a long one wraps between words
    starts = [next(i for i, line in enumerate(panel.lines) if fact.startswith(line)) for fact in facts]
    assert starts == sorted(starts) and len(set(starts)) == len(facts)
    for fact, start, end in zip(facts, starts, [*starts[1:], len(panel.lines)], strict=True):
        assert " ".join(panel.lines[start:end]) == fact
    assert all(book.width(line, panel.text_px) <= panel.zone[2] for line in panel.lines)


@pytest.mark.parametrize("name", ["tv-1080p", "tv-portrait"])
def test_the_urgent_footer_and_the_station_name_are_whole_on_every_tv(art, name) -> None:
    from display.station_card import StationCard
    from display.urgent_screen import UrgentScreen
    from protocol.model import Announcement

    profile = PROFILES[name]
    size = profile.upright_size
    notice = Announcement(id="a1", text="暴雨黄色预警：今明两天户外零工注意安全。", priority="urgent",
                          starts_at=dt.datetime(2026, 3, 9, 8), ends_at=dt.datetime(2026, 3, 10, 18, 30))
    screen = UrgentScreen(profile, size, [notice], STATION)
    footer = screen.ids.footer
    footer.render()
    assert screen.footer.replace("\n", "　") == "城东社区人社便民服务站　有效至 3月10日 18:30　咨询 0851-12333"
    # every line of it fits as drawn: nothing is cut or ellipsized (the hotline was, on the portrait TV)
    assert all(art.fonts().width(line, int(footer.font_px)) <= footer.width for line in screen.footer.split("\n"))
    assert footer.texture_size[0] <= footer.width and footer.texture_size[1] <= screen.footer_height
    assert screen.ids.body.y >= footer.top
    from common.fonts import find_cjk_font
    from display.station_card import register_cjk_font

    card = StationCard.for_station(STATION, font_name=register_cjk_font(find_cjk_font(None)))
    card.size = size
    card.do_layout()
    name_label = next(w for w in card.children if getattr(w, "text", "") == STATION.name)
    name_label.texture_update()
    assert name_label.texture_size[0] <= name_label.width  # one line, inside the card
    assert name_label.texture_size[1] < name_label.font_size * 1.8
    # the board's own station card: on the portrait TV the QR code fills the room under the facts
    from display.tv_surface import TvSurface

    surface = TvSurface(profile, board_geometry(art.fonts(), profile), art.fonts(), STATION, paged=True,
                        font_path=find_cjk_font(None), qr_url="https://hub.example.gov.cn/jobs?station=test-station-01")
    board_card = surface.station_card
    for _round in range(3):  # widths first, then the lines' heights that follow their wrapped text
        board_card.do_layout()
        for child in board_card.children:
            if hasattr(child, "texture_update"):
                child.texture_update()
    board_card.do_layout()
    pictures = [w for w in board_card.children if type(w).__name__ == "Picture"]
    assert len(pictures) == (1 if profile.upright_size[1] > profile.upright_size[0] else 0)
    for child in board_card.children:  # nothing pushed off the card
        assert 0 <= child.y and child.top <= board_card.height, child


PAGES = {"on_hours": [], "urgent": {"first_s": 20, "turn_s": 20, "every": 20}, "segments": [
    {"id": "event", "kind": "event", "seconds": 20},
    {"id": "station", "kind": "station", "seconds": 20},
    {"id": "policy", "kind": "policy", "seconds": 20}]}


@pytest.mark.parametrize("name", ["tv-1080p", "tv-portrait", "led-panel"])
def test_the_fixed_board_pages_as_a_passer_by_sees_them(xvfb, station, tmp_path, name) -> None:
    """Screenshots of the event, station, policy and urgent pages (kept in ``$YIZHAN_BOARD_SHOTS``)."""
    from display.harness import FakeClock, fill_store, run_script
    from display.profiles import resolve_profile
    from tests.display.test_board_profiles import keep, shoot

    prepare_kivy()
    try:
        from config.faces import board_app
    except ImportError:  # the board's app before the faces moved to config/
        from display.player import BoardApp as board_app
    from config.station import open_store

    now = dt.datetime.now().replace(microsecond=0)  # the sample urgent notice began two hours before now
    settings = station.write('qr_url = "https://hub.example.gov.cn/jobs?station=test-station-01"\n')
    with open_store(settings) as store:
        fill_store(settings, store=store, jobs=20, today=now.date(), schedule=PAGES, urgent=True)
    profile = resolve_profile(settings.devices.board_screen, profile=name)
    clock = FakeClock(now)
    app = board_app(settings, profile, clock=clock, probe=True, poll_s=0.5, tick_s=0.25)
    shots = {kind: tmp_path / f"{name}-{kind}.png" for kind in ("urgent", "event", "station", "policy")}

    def reached(app, kind: str) -> bool:
        """True once ``kind`` shows; else the clock moves on to the next segment."""
        if app.showing.segment.item_kind == kind:
            return True
        clock.advance(21)
        app.tick()
        return False

    def script(app):
        yield lambda: app.showing is not None and app.showing.segment.item_kind == "urgent"
        yield 0.6
        yield from shoot(app, shots["urgent"])
        for kind in ("event", "station", "policy"):
            yield lambda kind=kind: reached(app, kind)
            yield 0.6
            yield from shoot(app, shots[kind])

    run_script(app, script, timeout=60)
    keep(list(shots.values()))
    assert all(path.exists() for path in shots.values())


@pytest.mark.parametrize("name", ["tv-1080p", "tv-portrait"])
def test_a_long_station_name_is_set_smaller_in_the_header_never_cut(art, name) -> None:
    from display.tv_frame import TvFrame

    profile = PROFILES[name]
    geo = board_geometry(art.fonts(), profile)
    short = TvFrame(profile, geo, STATION)
    assert short.name_px == profile.px(52 if geo.portrait else 56)  # a usual name keeps the usual size
    long_name = STATION.model_copy(update={"name": "云岩区中华北路街道城东社区人力资源和社会保障便民服务站"})
    frame = TvFrame(profile, geo, long_name)
    assert frame.name_px < short.name_px
    assert art.fonts().width(long_name.name, int(frame.name_px)) <= frame.left_width


def test_a_paged_ticker_breaks_after_a_phrase_never_inside_a_number_or_a_word(art) -> None:
    from display.textimg import phrase_lines

    book = art.fonts()
    notice = "服务站办公时间：周一至周五 9:00-17:30，咨询电话0851-12333。"
    profile = PROFILES["tv-portrait"]
    width = profile.upright_size[0] - 2 * profile.px(40) - profile.px(124) - profile.px(20)  # the ticker's reel
    lines = phrase_lines(book, notice, profile.px(profile.ticker_px), width)
    assert lines == ["服务站办公时间：周一至周五 9:00-17:30，", "咨询电话0851-12333。"]  # was …17:30，咨 / 询电话…
    assert all(book.width(line, profile.px(profile.ticker_px)) <= width for line in lines)
    narrow = phrase_lines(book, notice, 32, 300)  # a number is never split, even on a narrow strip
    assert narrow == ["服务站办公时间：", "周一至周五", "9:00-17:30，", "咨询电话", "0851-12333。"]
    long_word = "一" * 60  # a phrase longer than a line is still wrapped whole, by characters
    assert "".join(phrase_lines(book, long_word, 42, 700)) == long_word


def test_a_policy_too_long_for_the_tv_card_turns_its_pages_and_shows_every_line(art) -> None:
    from display.card_panel import CardPanel

    profile = PROFILES["tv-1080p"]
    geo = board_geometry(art.fonts(), profile)
    policy = CONTENT.policies[0]
    long = policy.model_copy(update={"how_to_apply": "用人单位通过省人社网上办事大厅或到所在地公共就业服务机构提出申请。" * 9})
    card = CardPanel(profile, geo, long)
    assert card.plan.body_px == profile.px(30) and len(card.plan.pages) > 1
    x, bottom, width, height = card.text_box()
    seen: list[str] = []
    for _turn in card.plan.pages:
        for label in card.text_widgets:
            label.render()
            assert bottom <= label.top - label.texture_size[1] and label.x + label.texture_size[0] <= x + width
            seen.append(label.text)
        card.turn_page()
    assert card.page == 0  # back to the first page after the last
    assert squeeze(long.how_to_apply) in squeeze("".join(seen))


@pytest.mark.parametrize("name", ["tv-1080p", "tv-portrait"])
def test_a_sixty_character_title_is_whole_in_the_cards_two_lines(art, name) -> None:
    from display.card_panel import CardPanel
    from display.textimg import wrap_text

    profile = PROFILES[name]
    geo = board_geometry(art.fonts(), profile)
    title = "关于进一步做好高校毕业生、农民工、退役军人等重点群体就业创业工作有关补贴政策的实施细则说明"[:60]
    card = CardPanel(profile, geo, CONTENT.policies[0].model_copy(update={"title": title}))
    label = card.ids.title
    assert wrap_text(art.fonts(), title, int(card.title_px), int(label.width)) == wrap_text(
        art.fonts(), title, int(card.title_px), int(label.width), max_lines=2)  # nothing left over to cut
    assert card.title_px >= profile.px(36)
    usual = CardPanel(profile, geo, CONTENT.policies[0])
    assert usual.title_px == profile.px(64)  # a usual title keeps the usual size

