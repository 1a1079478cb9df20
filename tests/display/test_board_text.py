"""The board's pure parts: text layout, motion, profiles, layout and board content (no screen)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from common.fonts import find_cjk_font
from config.station import open_store
from content.sample import sample_content
from display.art import Painter, strip_job_item, tv_job_row
from display.board_content import (
    MediaChecker,
    board_announcements,
    board_rows,
    board_today,
    distance_text,
    load_board_content,
    load_schedule,
)
from display.layout import board_geometry
from display.motion import PagedMotion, ScrollMotion, Track
from display.profiles import PROFILES, resolve_profile
from display.textimg import NO_LINE_START, FontBook, chunk_text, ellipsize, render_line, wrap_text
from protocol.model import Job

TODAY = dt.date(2026, 3, 9)


@pytest.fixture(scope="module")
def book() -> FontBook:
    return FontBook(find_cjk_font(None))


# -- text --------------------------------------------------------------------------------------

def test_wrapped_lines_fit_and_no_line_starts_with_closing_punctuation(book: FontBook) -> None:
    text = ("暴雨黄色预警：今明两天户外零工注意安全，服务站门口零工对接改到室内大厅。"
            "咨询电话0851-12333，工作日9:00-17:30。")
    for width in (200, 260, 333, 420, 600):
        lines = wrap_text(book, text, 40, width)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost
        assert all(book.width(line, 40) <= width for line in lines)
        assert not any(line[0] in NO_LINE_START for line in lines[1:])
    # a phone number is never cut in two when it fits a line
    assert any("0851-12333" in line for line in wrap_text(book, text, 40, 400))


def test_max_lines_and_ellipsis(book: FontBook) -> None:
    lines = wrap_text(book, "服务站办公时间：周一至周五 9:00-17:30，咨询电话0851-12333。", 40, 300, max_lines=2)
    assert len(lines) == 2 and lines[-1].endswith("…")
    short = ellipsize(book, "花溪永和餐饮管理有限责任公司", 40, 250)
    assert short.endswith("…") and book.width(short, 40) <= 250
    assert ellipsize(book, "帮厨", 40, 250) == "帮厨"


def test_sprites_share_a_band_so_rows_line_up(book: FontBook) -> None:
    a = render_line(book, "帮厨", 52, (255, 255, 255), (9, 30, 66))
    b = render_line(book, "4500-6000元/月", 52, (255, 200, 61), (9, 30, 66))
    assert a.height == b.height == book.band(52).height
    assert a.width == book.width("帮厨", 52)
    # opaque on the background colour: corners are background, the middle has ink
    assert a.getpixel((0, 0)) == (9, 30, 66)
    assert any(a.getpixel((x, a.height // 2)) != (9, 30, 66) for x in range(a.width))


def test_led_text_is_not_antialiased(book: FontBook) -> None:
    image = render_line(book, "保洁员 3000元/月", 32, (255, 40, 40), (0, 0, 0), antialias=False, height=32)
    assert image.height == 32
    assert {color for _, color in image.getcolors()} <= {(0, 0, 0), (255, 40, 40)}  # two colours: LED on or off


def test_chunks_cover_the_text_in_order(book: FontBook) -> None:
    text = "本周六上午城东社区文化广场招聘会，46家企业1280个岗位，欢迎参加。"
    chunks = chunk_text(book, text, 42, 500)
    assert len(chunks) > 1 and "".join(chunks) == text


# -- motion ------------------------------------------------------------------------------------

def test_scroll_offsets_are_whole_pixels_from_elapsed_time_and_loop() -> None:
    track = Track([100] * 10, 400)
    motion = ScrollMotion(track, 60.0)
    motion.start(0.0)
    assert motion.offset(0.5) == 30
    assert motion.offset(0.51) == 30  # 30.6 px: whole pixels only
    assert motion.offset(10.0) == 600
    assert motion.offset(20.0) == 1200 % 1000  # the list loops
    # a late frame lands where it should be, not one step further
    assert motion.offset(3.0) - motion.offset(1.0) == 120
    motion.start(5.0, offset=250)  # resume where it stopped
    assert motion.offset(5.0) == 250


def test_pages_hold_whole_rows_and_the_last_page_is_padded() -> None:
    track = Track([140] * 13, 6 * 140, paged=True)
    assert track.pages == [0, 840, 1680]
    assert track.total == 1680 + 840  # the last page (one row) does not show the list's start
    motion = PagedMotion(track, 0.8)
    assert motion.offset(0.0) == 0
    assert motion.flip(10.0)
    assert not motion.flip(10.1)  # one glide at a time
    assert motion.offset(10.0) == 0
    middle = motion.offset(10.4)
    assert 0 < middle < 840 and middle == int(middle)
    assert motion.offset(10.81) == 840 and not motion.moving
    motion.flip(20.0)
    motion.offset(21.0)
    motion.flip(30.0)
    assert motion.offset(31.0) == 0  # after the last page, on to the first one again


def test_a_list_that_fits_does_not_move() -> None:
    track = Track([140] * 4, 6 * 140, paged=True)
    assert not PagedMotion(track, 0.8).moves
    assert not ScrollMotion(Track([140] * 4, 840), 60).moves


# -- profiles and layout -----------------------------------------------------------------------

def test_profiles_and_overrides(station) -> None:
    settings = station.write('profile = "led-strip"\n')  # appended under [devices.board_screen]
    strip = resolve_profile(settings.devices.board_screen)
    # the station file sets width/height explicitly: they win for the profile it names
    assert (strip.name, strip.width, strip.height, strip.motion) == ("led-strip", 1920, 1080, "scroll")
    assert resolve_profile(None, profile="led-strip").upright_size == (256, 32)
    portrait = resolve_profile(settings.devices.board_screen, profile="tv-portrait")
    assert portrait.upright_size == (1080, 1920) and portrait.motion == "paged"
    assert resolve_profile(None, profile="tv-1080p", motion="scroll", max_fps=24).max_fps == 24
    with pytest.raises(ValueError, match="rotation must be"):
        resolve_profile(None, rotation=45)
    with pytest.raises(ValueError, match="unknown board profile"):
        resolve_profile(None, profile="tv-8k")


@pytest.mark.parametrize("name", ["tv-1080p", "tv-portrait"])
def test_tv_rows_are_readable_from_three_metres_and_pages_hold_whole_rows(book: FontBook, name: str) -> None:
    profile = PROFILES[name]
    assert profile.px(profile.body_px) >= 40 and profile.px(profile.title_px) >= 40
    geo = board_geometry(book, profile, paged=True)
    assert geo.list_zone[3] % geo.row_height == 0 and geo.list_zone[3] // geo.row_height >= 5
    x, y, w, h = geo.list_zone
    assert 0 <= x and x + w <= geo.width and geo.ticker[3] <= y and y + h <= geo.header[1]


def test_a_job_row_fits_its_zone_and_marks_todays_gig(book: FontBook) -> None:
    profile = PROFILES["tv-1080p"]
    geo = board_geometry(book, profile)
    content = sample_content(origin=(26.58, 106.71), jobs=60, today=TODAY)
    rows = board_rows([_hit(job) for job in content.jobs], TODAY)
    gig = next(r for r in rows if r.gig_today)
    painter = Painter(book, profile)
    art = tv_job_row(painter, gig, geo.row_width)
    assert art.extent == geo.row_height
    assert all(0 <= p.x and p.x + p.w <= geo.row_width for p in art.pieces)
    assert any(p.color == profile.palette.badge for p in art.pieces)  # the 今日零工 badge
    # sprites already known to the main thread are not rendered again
    again = Painter(book, profile, known=art.keys())
    again._sizes = painter._sizes
    tv_job_row(again, gig, geo.row_width)
    assert again.rendered == 0
    item = strip_job_item(Painter(book, PROFILES["led-strip"]), gig, 32, spacing=64)
    piece = item.pieces[0]
    assert piece.y >= 0 and piece.y + piece.h <= 32 and item.extent == piece.x + piece.w + 64
    # sprites are trimmed to their ink: no empty margin is drawn (and paid for) every frame
    assert piece.image is not None and piece.image.getbbox() == (0, 0, piece.w, piece.h)


# -- content -----------------------------------------------------------------------------------

def _hit(job: Job, km: float = 1.234):
    from content.store import JobHit

    return JobHit(job, km)


def test_distances_read_naturally() -> None:
    assert [distance_text(k) for k in (0.04, 0.35, 0.996, 1.25, 9.96, 23.4)] == [
        "40米", "350米", "1.0公里", "1.2公里", "10公里", "23公里"]


def test_todays_gigs_come_first_and_closed_jobs_are_left_out() -> None:
    content = sample_content(origin=(26.58, 106.71), jobs=120, today=TODAY)
    rows = board_rows([_hit(job) for job in content.jobs], TODAY)
    flags = [r.gig_today for r in rows]
    assert any(flags) and flags == sorted(flags, reverse=True)
    assert all(r.headcount.startswith("招") and r.salary for r in rows)
    later = board_rows([_hit(job) for job in content.jobs], TODAY + dt.timedelta(days=400))
    assert later == []


def test_with_an_unset_clock_the_board_uses_the_day_the_content_came() -> None:
    applied = dt.datetime(2026, 3, 9, 2, 0, tzinfo=dt.UTC)
    assert board_today(dt.datetime(1970, 1, 1, 8, 0), applied) == applied.astimezone().date()
    assert board_today(dt.datetime(2026, 5, 1, 8, 0), applied) == dt.date(2026, 5, 1)


def test_media_files_are_checked_for_presence_size_and_hash(tmp_path: Path) -> None:
    good = tmp_path / "good.mp4"
    good.write_bytes(b"video bytes" * 100)
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    checker = MediaChecker()
    assert checker.check(good, sha256=digest, size=1100) == ("", "")
    assert checker.check(tmp_path / "gone.mp4", sha256=digest, size=1100)[0] == "missing"
    assert checker.check(good, sha256=digest, size=999)[0] == "size"
    good.write_bytes(b"VIDEO BYTES" * 100)  # same size, damaged
    assert checker.check(good, sha256=digest, size=1100)[0] == "hash"


def test_board_content_from_a_real_store(station) -> None:
    settings = station.settings
    content = sample_content(origin=(settings.station.latitude, settings.station.longitude), jobs=80,
                             today=dt.date.today(), media_dir=settings.media_dir)
    content.documents["board_schedule"] = {"segments": [{"kind": "jobs", "seconds": "many"}]}
    broken = content.courses[1].media
    (settings.media_dir / broken.filename).write_bytes(b"\0" * broken.size)  # damaged on disk
    with open_store(settings) as store:
        store.replace_content(content, feed_id="f", version=7)
        now = dt.datetime.now()
        board = load_board_content(store, settings.media_dir, now=now)
        urgent, normal = board_announcements(store, now)
        assert board_announcements(store, dt.datetime(1970, 1, 2)) == ([], [])
    assert board.key == ("f", 7) and 0 < len(board.jobs) <= 80 and board.job_total == len(board.jobs)
    assert [v.id for v in board.videos] == [content.courses[0].id]
    assert [(p.item_id, p.reason) for p in board.media_problems] == [(content.courses[1].id, "hash")]
    assert board.schedule_source == "local" and "segments[0].seconds" in board.schedule_error
    assert [a.id for a in urgent] == ["notice-storm"]
    assert "notice-fair" in [a.id for a in normal] and "notice-training" not in [a.id for a in normal]
    assert load_schedule(None)[1] == "local"
    assert board.available()["video"] == 1 and board.available(videos=False)["video"] == 0
