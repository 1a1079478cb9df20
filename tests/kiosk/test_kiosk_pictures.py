"""Home tiles show drawn pictograms, not characters in circles; the card prompt is a picture of a
card over the reader with an arrow toward the side the station configured (kiosk.reader_side)."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from test_kiosk_flows import make_kiosk  # noqa: F401 - fixture
from test_kiosk_screens import shots_dir

ONE_HAN = re.compile(r"^\s*[\u4e00-\u9fff]\s*$")


def _tiles(app):
    return [w for w in app.screen.walk() if type(w).__name__ == "Tile"]


@pytest.mark.parametrize("side, arrow, place", [("right", [1, 0], "屏幕右边"), ("left", [-1, 0], "屏幕左边"),
                                                ("below", [0, -1], "屏幕下方")])
def test_tiles_are_pictures_and_the_card_arrow_points_to_the_reader(make_kiosk, tmp_path, side, arrow,  # noqa: F811
                                                                    place):
    from kivy.core.window import Window

    kiosk = make_kiosk(changes={"kiosk.reader_side": side})
    driver, app = kiosk.driver, kiosk.app
    tiles = _tiles(app)
    assert len(tiles) == 6
    for tile in tiles:
        labels = [getattr(w, "text", "") for w in tile.walk(restrict=True) if hasattr(w, "text")]
        assert not any(ONE_HAN.match(text) for text in labels), (tile.label, labels)
        pictures = [w for w in tile.walk(restrict=True) if type(w).__name__ == "Pictogram"]
        assert len(pictures) == 1 and len(pictures[0].canvas.children) > 4, tile.label
    assert {p.name for t in tiles for p in t.walk(restrict=True) if type(p).__name__ == "Pictogram"} == {
        "jobs", "gigs", "policies", "courses", "register", "events"}

    hint = app.screen.ids.card_picture
    assert hint.side == side and list(hint.arrow_direction) == arrow
    # and the drawn arrow head really points that way: from the middle of its base to its tip
    from kivy.graphics import Triangle

    head = [i for i in hint.canvas.children if isinstance(i, Triangle)][-1].points
    corners = list(zip(head[0::2], head[1::2], strict=True))
    tip = corners[-1] if side != "below" else min(corners, key=lambda c: c[1])
    base = [c for c in corners if c != tip]
    dx, dy = tip[0] - (base[0][0] + base[1][0]) / 2, tip[1] - (base[0][1] + base[1][1]) / 2
    assert (round(dx / max(abs(dx), abs(dy))), round(dy / max(abs(dx), abs(dy)))) == tuple(arrow)
    assert "身份证" not in [getattr(w, "text", "") for w in app.screen.ids.card_hint.walk(restrict=True)]  # no word-box
    assert any(place in getattr(w, "text", "") for w in app.screen.ids.card_hint.walk(restrict=True))
    driver.pump(frames=1)
    assert place in app.reader_text and app.screen.speech()
    if side != "right":
        return
    folder = shots_dir(tmp_path)
    for width, height in ((1080, 1920), (1920, 1080)):
        Window.size = (width, height)
        driver.until(lambda w=width, h=height: tuple(Window.size) == (w, h), what=f"window {width}x{height}")
        driver.pump(frames=3)
        path = driver.screenshot(folder / f"home-pictures-{width}x{height}.png")
        with Image.open(path) as image:
            assert image.size == (width, height)
    Window.size = (1080, 1920)
    driver.until(lambda: tuple(Window.size) == (1080, 1920), what="window back to portrait")
