"""Every board profile renders a real station board (real Kivy windows under Xvfb).

Screenshots go to the test's tmp folder (and to ``$YIZHAN_BOARD_SHOTS`` when set, to look at).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from config.station import open_store
from display.frames import blank_fraction
from display.harness import FakeClock, prepare_kivy, run_script
from display.harness import fill_store as fill_into
from display.profiles import resolve_profile

pytestmark = pytest.mark.display


def fill_store(settings, **kwargs):
    """Sample content into the station's store, opened for the call (the board opens its own)."""
    with open_store(settings) as store:
        return fill_into(settings, store=store, **kwargs)

NOW = dt.datetime.combine(dt.date.today(), dt.time(10, 0))
SCHEDULE = {"on_hours": [], "segments": [
    {"id": "jobs", "kind": "jobs", "seconds": 60},
    {"id": "policy", "kind": "policy", "seconds": 20},
    {"id": "event", "kind": "event", "seconds": 20}]}


def shoot(app, path: Path):
    """Script steps: capture the next frame to ``path`` and wait for the file."""
    app.probe.capture(path, app.profile.rotation)
    yield lambda: path.exists()


def keep(paths: list[Path]) -> None:
    target = os.environ.get("YIZHAN_BOARD_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copy(path, Path(target) / path.name)


def colours(image: Image.Image) -> set[tuple[int, int, int]]:
    return {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 22)}


def near(image: Image.Image, colour: tuple[int, int, int], box: tuple[int, int, int, int]) -> int:
    """Pixels of ``colour`` (within a few levels) inside ``box``."""
    count = 0
    for n, c in image.crop(box).getcolors(maxcolors=1 << 22):
        if all(abs(a - b) <= 6 for a, b in zip(c, colour, strict=True)):
            count += n
    return count


@pytest.mark.parametrize(("name", "rotation"), [("tv-1080p", None), ("tv-portrait", None), ("tv-portrait", 270)])
def test_a_tv_board_shows_header_jobs_side_card_qr_and_ticker(xvfb, station, tmp_path, name, rotation) -> None:
    prepare_kivy()
    from config.faces import board_app

    settings = station.write('qr_url = "https://hub.example.gov.cn/jobs?station=test-station-01"\n')
    fill_store(settings, jobs=120, today=NOW.date(), schedule=SCHEDULE)
    profile = resolve_profile(settings.devices.board_screen, profile=name, rotation=rotation)
    name = f"{name}-{profile.rotation}"
    clock = FakeClock(NOW)
    app = board_app(settings, profile, clock=clock, probe=True, poll_s=0.5, tick_s=0.25)
    shots = {"jobs": tmp_path / f"{name}-jobs.png", "policy": tmp_path / f"{name}-policy.png"}

    def script(app):
        yield lambda: app.showing is not None and app.showing.segment.item_kind == "jobs"
        yield 0.6
        yield from shoot(app, shots["jobs"])
        clock.advance(61)
        app.tick()
        yield lambda: app.showing.segment.item_kind == "policy"
        yield 0.6
        yield from shoot(app, shots["policy"])

    run_script(app, script, timeout=30)
    keep(list(shots.values()))
    jobs = Image.open(shots["jobs"]).convert("RGB")
    assert jobs.size == profile.upright_size
    assert blank_fraction(jobs) < 0.95
    pal = profile.palette
    geo = app.geo
    top = geo.height - geo.header[1]  # the header's lower edge, in image rows (top down)
    assert near(jobs, pal.accent, (0, top + 1, geo.width, top + 3)) > geo.width * 1.5  # the rule under the header
    x, y, w, h = geo.list_zone
    zone = (x, geo.height - y - h, x + w, geo.height - y)
    assert near(jobs, pal.text, zone) > 2000  # job titles
    assert near(jobs, pal.accent, zone) > 2000  # salaries
    assert near(jobs, pal.badge, zone) > 2000  # today's 零工 badges (they come first)
    qx, qy, qw, qh = geo.qr
    qr = jobs.crop((qx, geo.height - qy - qh, qx + qw, geo.height - qy))
    assert {(0, 0, 0), (255, 255, 255)} <= colours(qr)
    import zxingcpp

    decoded = zxingcpp.read_barcodes(qr.resize((qw * 2, qh * 2), Image.Resampling.NEAREST))
    assert [r.text for r in decoded] == ["https://hub.example.gov.cn/jobs?station=test-station-01"]
    if geo.portrait:
        # the policy/event card starts right under the job list: no empty band between them
        panel = app.jobs_panel
        assert 0 < panel.reel.y - panel.ids.side_tag.top <= profile.px(72)
    policy = Image.open(shots["policy"]).convert("RGB")
    assert blank_fraction(policy) < 0.97 and policy.size == profile.upright_size
    assert all(s.blank_fraction < 0.995 for s in app.probe.samples)


@pytest.mark.parametrize("name", ["led-strip", "led-panel"])
def test_an_led_board_draws_crisp_text_in_led_colours(xvfb, station, tmp_path, name) -> None:
    prepare_kivy()
    from config.faces import board_app

    settings = station.settings
    fill_store(settings, jobs=60, today=NOW.date(), schedule=SCHEDULE)
    profile = resolve_profile(settings.devices.board_screen, profile=name)
    app = board_app(settings, profile, clock=FakeClock(NOW), probe=True, poll_s=0.5, tick_s=0.25)
    path = tmp_path / f"{name}-jobs.png"

    def script(app):
        yield lambda: app.showing is not None and app.showing.segment.item_kind == "jobs"
        yield 0.5
        yield from shoot(app, path)

    run_script(app, script, timeout=30)
    big = Image.open(path).convert("RGB")
    keep([path])
    assert big.size == profile.upright_size
    pal = profile.palette
    lit = {pal.text, pal.accent, pal.muted, pal.badge}
    found = colours(big)
    # no anti-aliasing: every pixel is an LED colour or off
    assert found <= lit | {pal.background, pal.badge_text}
    assert pal.text in found  # red job titles
    if name == "led-panel":
        assert pal.accent in found and pal.muted in found  # green salaries, amber employers
    assert blank_fraction(big) < 0.95


def test_every_text_colour_on_a_board_reaches_4_5_to_1() -> None:
    """Tags (今日零工, 政策速递, 通知), titles, bodies and the urgent band: WCAG AA on every palette."""
    from display.profiles import LED_PALETTE, TV_PALETTE
    from kiosk.theme import contrast_ratio

    def hexed(rgb):
        return "#" + "".join(f"{c:02x}" for c in rgb)

    for palette in (TV_PALETTE, LED_PALETTE):
        pairs = {"badge_text/badge": (palette.badge_text, palette.badge),
                 "text/background": (palette.text, palette.background),
                 "accent/background": (palette.accent, palette.background),
                 "muted/background": (palette.muted, palette.background),
                 "urgent_text/urgent_background": (palette.urgent_text, palette.urgent_background)}
        low = {name: round(contrast_ratio(hexed(fg), hexed(bg)), 2) for name, (fg, bg) in pairs.items()
               if contrast_ratio(hexed(fg), hexed(bg)) < 4.5}
        assert low == {}, palette


def test_tv_portrait_on_an_output_that_is_already_portrait_is_not_turned_again() -> None:
    from display.profiles import resolve_profile

    upright = resolve_profile(profile="tv-portrait", width=1080, height=1920)
    assert upright.rotation == 0 and upright.upright_size == (1080, 1920)
    turned = resolve_profile(profile="tv-portrait")  # a landscape output, the TV mounted on its side
    assert turned.rotation == 90 and turned.upright_size == (1080, 1920)
    assert resolve_profile(profile="tv-portrait", width=1080, height=1920, rotation=270).rotation == 270


def test_the_led_panel_shows_the_whole_gig_tag_inside_its_box(xvfb, station) -> None:
    """今日零工 on an LED panel: the whole tag (it was cut to 今日), its text inside its red box, read
    from the job reel's drawing instructions."""
    prepare_kivy()
    from config.faces import board_app
    from display.sprites import kivy_color

    settings = station.settings
    fill_store(settings, jobs=30, today=NOW.date(), schedule=SCHEDULE)
    profile = resolve_profile(settings.devices.board_screen, profile="led-panel")
    app = board_app(settings, profile, clock=FakeClock(NOW), probe=True, poll_s=0.5, tick_s=0.25)
    found: list[tuple[str, tuple, tuple]] = []

    def script(app):
        yield lambda: app.showing is not None and app.showing.segment.item_kind == "jobs"
        yield 0.3
        reel = app.jobs_panel.reel
        texts = {id(texture): key.split("|", 9)[-1] for key, texture in app.jobs_bank._textures.items()}
        badge = tuple(round(v, 3) for v in kivy_color(profile.palette.badge))
        for slot in reel._slots:
            # a box is drawn with Kivy's plain texture, a text with one of the board's sprites
            boxes = [rect for color, rect in slot if id(rect.texture) not in texts and rect.size[0] > 0
                     and tuple(round(v, 3) for v in color.rgba) == badge]
            for _color, rect in slot:
                text = texts.get(id(rect.texture), "")
                if text.startswith("今日") and boxes:
                    box = boxes[0]
                    found.append((text, (*rect.pos, *rect.size), (*box.pos, *box.size)))

    run_script(app, script, timeout=30)
    assert found, "no gig tag on the panel"
    for text, (x, y, w, h), (bx, by, bw, bh) in found:
        assert text == "今日零工"
        assert bx <= x and x + w <= bx + bw and by <= y and y + h <= by + bh, (text, (x, y, w, h), (bx, by, bw, bh))
        assert w >= 4 * profile.body_px * 0.8  # four characters wide, not two
