"""手写 on the job search: strokes drawn with simulated touches on the pad, as a finger would.

The strokes are the median lines of 20 characters common in job titles (tests/kiosk/data/
handwriting, from Make Me a Hanzi by way of hanzi-writer-data, Arphic Public License): at
least 18 must come first among the candidates and all 20 within the first five; a tapped
candidate joins the search and the list follows it.
"""

from __future__ import annotations

import pytest
from handstrokes import job_characters, strokes, write_stroke
from test_kiosk_flows import make_kiosk, open_jobs  # noqa: F401 - fixture
from test_kiosk_screens import shots_dir

pytestmark = pytest.mark.display


def draw(driver, pad, char: str) -> None:
    """``char`` written on ``pad`` stroke by stroke: touch down, a move every few pixels, up."""
    for stroke in strokes(char, pad.width, pad.height):
        write_stroke(pad, stroke)
        driver.pump(frames=0)


def test_written_characters_are_recognised_and_searched(make_kiosk, tmp_path):  # noqa: F811 - pytest fixture
    kiosk = make_kiosk(reader=False)
    driver, app = kiosk.driver, kiosk.app
    jobs = open_jobs(driver)
    assert jobs.hand_available, "Zinnia or its model is missing: make setup installs them"
    driver.tap(jobs.ids.mode_button)
    assert jobs.input_mode == "hand" and jobs.ids.keyboard.parent is None
    pad = jobs.ids.pad
    assert driver.visible(pad) and pad.height >= app.theme.key * 2.5, "a big pad"
    first, top5, missed = 0, 0, []
    for char in job_characters():
        draw(driver, pad, char)
        assert pad.stroke_count == len(strokes(char, 1, 1))
        found = list(jobs.candidates)
        assert 1 <= len(found) <= 5
        first += found[0] == char
        top5 += char in found
        if found[0] != char:
            missed.append(f"{char}: {''.join(found)}")
        driver.tap(jobs.ids.clear_pad_button)
        assert pad.stroke_count == 0 and jobs.candidates == []
    assert len(job_characters()) == 20
    assert first >= 18 and top5 == 20, f"first {first}/20, top five {top5}/20; missed {missed}"

    # candidates follow every stroke; 退一笔 takes the last one back
    draw(driver, pad, "工")
    assert jobs.candidates[0] == "工"
    driver.tap(jobs.ids.undo_button)
    assert pad.stroke_count == 2 and "工" != jobs.candidates[0]
    driver.tap(jobs.ids.clear_pad_button)

    # 保 then 洁: each tap adds the character and the list is searched again at once
    before = jobs.found
    for char in "保洁":
        draw(driver, pad, char)
        if char == "洁":
            driver.screenshot(shots_dir(tmp_path) / "handwriting.png")
        key = next(k for k in driver.find(cls="CandidateKey") if k.text == char)
        driver.tap(key)
        assert pad.stroke_count == 0 and jobs.candidates == []
    assert jobs.filter.letters == "保洁" and jobs.ids.letters.text == "手写：保洁"
    assert 0 < jobs.found < before
    assert "保洁" in jobs.ids.rv.data[0]["title"]
    driver.tap(jobs.ids.erase_char_button)
    assert jobs.filter.letters == "保"
    # back to the letters: pinyin starts a new query
    driver.tap(jobs.ids.mode_button)
    assert jobs.input_mode == "pinyin" and jobs.ids.keyboard.parent is not None
    driver.type_letters("bj")
    assert jobs.filter.letters == "bj"
