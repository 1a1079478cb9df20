"""Every screen in elder and normal mode: the MIIT size rules hold, nothing is cut, screenshots are saved.

Screenshots go to ``$YIZHAN_KIOSK_SHOTS`` if set (to look at them), else to the test's tmp dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from test_kiosk_flows import fill_form, make_kiosk, open_jobs, place_card, take_card_back  # noqa: F401 - fixture

pytestmark = pytest.mark.display


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("YIZHAN_KIOSK_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_sizes(driver, *, elder: bool) -> list[str]:
    """What on the current screen breaks the size rules or is cut (empty = fine)."""
    from kivy.metrics import dp
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.label import Label

    min_target = dp(60) if elder else dp(44)
    min_text = dp(18) if elder else dp(14)
    problems = []
    largest = 0.0
    for widget in driver.walk():
        if not driver.visible(widget):
            continue
        name = f"{type(widget).__name__} {getattr(widget, 'text', '')[:20]!r}"
        if isinstance(widget, ButtonBehavior) and not widget.disabled:
            if widget.height < min_target - 0.5 or widget.width < min_target - 0.5:
                problems.append(f"{name}: target {widget.width:.0f}x{widget.height:.0f} < {min_target:.0f}")
        if isinstance(widget, Label) and widget.text.strip():
            largest = max(largest, widget.font_size)
            if widget.font_size < min_text - 0.5:
                problems.append(f"{name}: text {widget.font_size:.0f} < {min_text:.0f}")
            if not widget.shorten and widget.texture_size[0] > widget.width + 2:
                problems.append(f"{name}: text {widget.texture_size[0]:.0f} wide in {widget.width:.0f}")
    if driver.app.screen.main_screen and largest < dp(30 if elder else 24):
        problems.append(f"largest text {largest:.0f} < {dp(30 if elder else 24):.0f} on a main screen")
    return problems


def tour(kiosk, shoot) -> None:
    """Visit every screen (and the two overlays), calling ``shoot(name)`` on each."""
    driver, app = kiosk.driver, kiosk.app
    shoot("home")
    jobs = open_jobs(driver)
    shoot("jobs")
    driver.type_letters("bj")
    driver.tap(jobs.ids.conditions_button)
    shoot("jobs-conditions")
    driver.tap(jobs.ids.conditions_button)
    driver.tap(driver.find(cls="JobCard")[0])
    shoot("job")
    place_card(kiosk)
    shoot("resident")
    take_card_back(kiosk)
    driver.tap(app.screen.ids.register_button)
    shoot("register")
    driver.tap(driver.button("培训需求登记", exact=False))
    shoot("form-phone")
    for digit in "13900139002":
        driver.tap(app.screen.ids.keypad.key(digit), frames=0)
    driver.tap(app.screen.ids.next_button)
    shoot("form-choices")
    driver.tap(app.screen.ids.previous_button)
    fill_form(driver, "培训需求")
    shoot("consent")
    driver.tap(app.screen.ids.accept_button)
    shoot("done")
    app.idle.timeout_s, app.idle.countdown_s = 0.2, 30.0
    driver.until(lambda: app.countdown.active, what="the countdown")
    shoot("countdown")
    app.idle.timeout_s = 90.0
    driver.tap(app.countdown.ids.continue_button)
    driver.tap(app.screen.ids.finish_button)
    assert app.rating.active
    shoot("rating")
    driver.tap(app.rating.ids.skip_rating_button)
    app.start_attract()
    shoot("attract")
    driver.tap(app.attract)
    for tile, name in (("tile_policies", "policies"), ("tile_events", "events"), ("tile_courses", "courses")):
        driver.tap(app.sm.get_screen("home").ids[tile])
        shoot(name)
        if name == "policies":
            driver.tap(driver.find(cls="PolicyCard")[0])
            shoot("policy")
        if name == "courses":
            driver.tap(driver.find(cls="CourseCard")[0])
            driver.pump(0.5)
            shoot("player")
            driver.tap(app.screen.ids.player_back_button)
        driver.tap(app.root.ids.home_button)
    for _ in range(5):
        driver.tap(app.root.ids.station_name, frames=0)
    driver.pump(frames=1)
    shoot("staff-pin")
    app.session.staff = True
    app.go("staff")
    shoot("staff")


@pytest.mark.parametrize("elder", [True, False], ids=["elder", "normal"])
def test_every_screen_follows_the_size_rules(make_kiosk, tmp_path, elder):  # noqa: F811 - pytest fixture
    kiosk = make_kiosk(changes={"kiosk.elder_mode": elder})
    folder = shots_dir(tmp_path)
    mode = "elder" if elder else "normal"
    assert kiosk.app.theme.elder is elder
    problems: dict[str, list[str]] = {}
    saved = []

    def shoot(name: str) -> None:
        kiosk.driver.pump(frames=2)
        assert len(kiosk.app.screen.speech()) > 4, name  # 朗读 has something to say on every screen
        problems[name] = check_sizes(kiosk.driver, elder=elder)
        saved.append(kiosk.driver.screenshot(folder / f"{mode}-{name}.png"))

    tour(kiosk, shoot)
    assert {name: p for name, p in problems.items() if p} == {}
    assert len(saved) == 20
    for path in saved:
        with Image.open(path) as image:
            assert image.size == (1080, 1920)
            assert len(image.convert("L").getcolors(65536) or []) > 10  # drawn, not blank


def test_the_elder_switch_resizes_every_screen_at_once(make_kiosk):  # noqa: F811 - pytest fixture
    kiosk = make_kiosk(reader=False)
    driver, app = kiosk.driver, kiosk.app
    jobs = open_jobs(driver)
    title = jobs.ids.letters
    card_title = driver.find(cls="JobCard")[0]
    big = (title.font_size, card_title.height, jobs.ids.keyboard.key("A").height)
    driver.tap(app.root.ids.elder_button)
    assert not app.theme.elder and app.root.ids.elder_button.text == "改为大字"
    small = (title.font_size, card_title.height, jobs.ids.keyboard.key("A").height)
    assert all(s < b for s, b in zip(small, big, strict=True))
    assert check_sizes(driver, elder=False) == []
    assert any("text 17 < 18" in p for p in check_sizes(driver, elder=True))  # normal type is too small for elders
    driver.tap(app.root.ids.elder_button)
    assert app.theme.elder and (title.font_size, jobs.ids.keyboard.key("A").height) == (big[0], big[2])


def test_landscape_puts_the_keyboard_beside_the_list(make_kiosk, tmp_path):  # noqa: F811 - pytest fixture
    kiosk = make_kiosk(reader=False, changes={"devices.kiosk_screen.width": 1920,
                                              "devices.kiosk_screen.height": 1080})
    driver, app = kiosk.driver, kiosk.app
    from kivy.core.window import Window

    driver.until(lambda: tuple(Window.size) == (1920, 1080), what="the landscape window")
    assert app.sm.get_screen("home").ids.tiles.cols == 3
    jobs = open_jobs(driver)
    driver.pump(frames=2)
    assert jobs.ids.keyboard_box.parent.uid == jobs.ids.side_slot.uid and jobs.ids.layout.orientation == "horizontal"
    driver.type_letters("bj")
    assert jobs.found > 0 and check_sizes(driver, elder=True) == []
    driver.screenshot(shots_dir(tmp_path) / "landscape-jobs.png")


def test_landscape_puts_the_phone_keypad_beside_the_question(make_kiosk, tmp_path):  # noqa: F811
    """Stacked under the question, the keypad and 下一步 did not fit a 1920x1080 screen at the elder
    type: the question was scrolled off and 下一步 was under the bottom bar. Beside it, all fits."""
    kiosk = make_kiosk(changes={"devices.kiosk_screen.width": 1920, "devices.kiosk_screen.height": 1080})
    driver, app = kiosk.driver, kiosk.app
    from kivy.core.window import Window

    driver.until(lambda: tuple(Window.size) == (1920, 1080), what="the landscape window")
    place_card(kiosk)
    take_card_back(kiosk)
    driver.tap(app.screen.ids.register_button)
    driver.tap(driver.button("培训需求登记", exact=False))
    driver.pump(frames=2)
    form = app.screen
    keypad, body = form.ids.keypad, form.ids.body
    assert form.kind_of_step == "phone" and form.side_by_side and body.orientation == "horizontal"
    assert keypad.parent.parent.uid == body.uid and keypad.parent.uid != form.ids.column.uid
    assert not form.fit.scrolls, "the phone step needs scrolling on a landscape screen"
    for widget in (form.ids.question, keypad.key("0"), keypad.key("删除"), form.ids.next_button):
        assert driver.visible(widget), widget
    left, right = form.ids.next_button.to_window(*form.ids.next_button.pos), keypad.to_window(*keypad.pos)
    assert right[0] >= left[0] + form.ids.next_button.width, "the keypad is beside the buttons"
    assert check_sizes(driver, elder=True) == []
    assert "右边的数字键" in form.speech()
    driver.screenshot(shots_dir(tmp_path) / "landscape-form-phone.png")
    for digit in "13900139002":
        driver.tap(keypad.key(digit), frames=0)
    driver.tap(form.ids.next_button)
    # the next questions are choices: no keypad, the chips get the whole width
    assert form.kind_of_step != "phone" and keypad.parent is None and body.orientation == "vertical"
    assert form.ids.choices.width > Window.width * 0.8
    driver.tap(form.ids.previous_button)
    assert keypad.parent is not None and form.phone_text == "139 0013 9002"
    # 标准字 (the smaller type) keeps the keypad beside, and all still fits
    driver.tap(app.root.ids.elder_button)
    assert form.side_by_side and not form.fit.scrolls and check_sizes(driver, elder=False) == []


def test_a_rotated_screen_still_takes_taps_where_they_are_shown(make_kiosk, tmp_path):  # noqa: F811
    kiosk = make_kiosk(reader=False, changes={"devices.kiosk_screen.rotation": 90})
    driver = kiosk.driver
    from kivy.core.window import Window

    assert Window.rotation == 90 and tuple(Window.size) == (1080, 1920)
    assert tuple(Window.system_size) == (1920, 1080)  # a landscape panel mounted upright
    jobs = open_jobs(driver)
    driver.type_letters("bj")
    assert jobs.letters_text == "BJ" and jobs.found > 0
    shot = driver.screenshot(shots_dir(tmp_path) / "rotated-jobs.png")
    with Image.open(shot) as image:
        assert image.size == (1920, 1080)


def test_type_size_switch_there_and_back_restores_every_text(make_kiosk):  # noqa: F811 - pytest fixture
    from kivy.uix.label import Label

    from kiosk.app import SCREENS

    kiosk = make_kiosk(reader=False)
    driver, app = kiosk.driver, kiosk.app
    for name, *_rest in SCREENS:  # every page built now (they are built when first needed), so
        app.sm.get_screen(name)   # that each text is counted in all three snapshots
    driver.pump(frames=2)

    def sizes():
        return {id(w): (type(w).__name__, getattr(w, "text", "")[:12], w.font_size)
                for screen in app.sm.screens + [app.root] for w in driver.walk(screen) if isinstance(w, Label)}

    heading = next(w for w in driver.walk(app.sm.get_screen("home")) if getattr(w, "text", "") == "请放身份证")
    elder = sizes()
    assert heading.font_size == app.theme.title
    driver.tap(app.root.ids.elder_button)
    assert heading.font_size == app.theme.title < elder[id(heading)][2]  # a heading stays a heading
    normal = sizes()
    same = [v[:2] for k, v in elder.items() if k in normal and normal[k][2] >= v[2] and v[1].strip()]
    assert same == []  # every text got smaller
    driver.tap(app.root.ids.elder_button)
    assert sizes() == elder  # and back exactly
