"""The kiosk on a budget box (issue 29): what it leaves out of memory until a resident needs it.

Pages are built when first shown, the handwriting model is open only while the 手写 pad is out,
and reading pinyin queries takes no phrase tables (pypinyin's, about 50 MB): each is checked
here by what it does, and each page still works when it does come.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from pypinyin import Style, pinyin
from pypinyin.pinyin_dict import pinyin_dict
from test_kiosk_flows import make_kiosk, open_jobs  # noqa: F401 - fixture

from config.kiosk_harness import KioskHarness
from content import search as textsearch
from kiosk.handwriting import MODEL

ROOT = Path(__file__).resolve().parents[2]


def built(app) -> set[str]:
    return {screen.name for screen in app.sm.screens}


def model_mappings() -> int:
    """How many mappings of the handwriting model this process holds (Zinnia maps the file)."""
    return sum(str(MODEL) in line for line in Path("/proc/self/maps").read_text().splitlines())


@pytest.mark.display
def test_pages_are_built_when_first_needed_and_then_work(make_kiosk):  # noqa: F811 - pytest fixture
    kiosk = make_kiosk(reader=False, printer=False, jobs=40)
    driver, app = kiosk.driver, kiosk.app
    home = app.sm.get_screen("home")
    assert "policies" not in built(app) and "staff_pin" not in built(app) and "events" not in built(app)
    driver.pump(1.5)  # the kiosk waits: the pages a resident reaches first are built meanwhile
    assert {"home", "jobs", "resident", "job"} <= built(app)
    assert "policies" not in built(app)

    driver.tap(home.ids.tile_policies)
    assert app.screen_name == "policies" and "policies" in built(app)
    cards = driver.find(cls="PolicyCard")
    assert cards, "the policy list is there the first time it is opened"
    driver.tap(cards[0])
    assert app.screen_name == "policy" and app.screen.title
    driver.tap(app.root.ids.home_button)
    driver.tap(home.ids.tile_policies)
    assert len(driver.find(cls="PolicyCard")) == len(cards)  # the second visit shows the same


@pytest.mark.display
def test_the_handwriting_model_is_open_only_while_the_pad_is_out(make_kiosk):  # noqa: F811 - pytest fixture
    kiosk = make_kiosk(reader=False, printer=False, jobs=40)
    driver = kiosk.driver
    jobs = open_jobs(driver)
    assert jobs.hand_available, "Zinnia or its model is missing: make setup installs them"
    before = model_mappings()
    driver.tap(jobs.ids.mode_button)
    assert jobs.input_mode == "hand" and model_mappings() > before
    driver.tap(jobs.ids.mode_button)
    assert jobs.input_mode == "pinyin" and model_mappings() == before


def test_character_readings_are_those_pypinyin_gives():
    """Every 5th character pypinyin knows, the polyphones the search docs name, and some that are
    not hanzi: the kiosk's table gives what pypinyin.pinyin(heteronym=True) gives."""

    def pypinyins(ch: str) -> tuple[str, ...]:  # as char_readings asked pypinyin before it had a table
        if not textsearch.is_word_char(ch):
            return ()
        found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
        readings = []
        for reading in found[0] if found else ():
            if reading.isascii() and reading.isalpha():
                readings += [reading, reading.replace("v", "u")] if "v" in reading else [reading]
        if not readings:
            return (unicodedata.normalize("NFKC", ch).lower(),) if ch.isalnum() else ()
        return tuple(dict.fromkeys(readings))

    chars = [chr(code) for code in sorted(pinyin_dict)[::5]] + list("行长单佛绿女嗯呣欸")
    differ = [(ch, textsearch.char_readings(ch), pypinyins(ch)) for ch in chars
              if textsearch.char_readings(ch) != pypinyins(ch)]
    assert differ == []
    assert textsearch.char_readings("绿") == ("lv", "lu")
    assert set(textsearch.char_readings("行")) >= {"hang", "xing"}
    assert textsearch.char_readings("Ａ") == ("a",) and textsearch.char_readings("，") == ()


QUERY_CHILD = """
import json, sys
from config.settings import load_settings
from config.station import open_store
with open_store(load_settings(sys.argv[1])) as store:
    found = {q: [hit.job.id for hit in store.search_jobs(q, radius_km=None, limit=20)] for q in sys.argv[2:]}
print(json.dumps({"found": found, "pypinyin": any(m.split(".")[0] == "pypinyin" for m in sys.modules)}))
"""


def test_a_process_that_only_searches_takes_no_phrase_tables(station):
    """The kiosk's process reads pinyin and hanzi queries as before without importing pypinyin."""
    harness = KioskHarness(station.settings, jobs=60, media=False)
    harness.fill_store(station.settings)
    queries = ["b", "bj", "baojie", "sj", "zhang", "保洁", "司机", "c"]
    from config.station import open_store

    with open_store(station.settings) as store:
        here = {q: [hit.job.id for hit in store.search_jobs(q, radius_km=None, limit=20)] for q in queries}
    assert any(here.values())
    out = subprocess.run([sys.executable, "-c", QUERY_CHILD, str(station.config_path), *queries], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True)
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["found"] == here
    assert answer["pypinyin"] is False
