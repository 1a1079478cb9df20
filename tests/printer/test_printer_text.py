"""Slip text: control characters never survive, columns follow the printer, wrapping keeps words whole."""

from __future__ import annotations

import re

import wcwidth
from hypothesis import given, settings
from hypothesis import strategies as st

from printer.text import (
    CLOSING,
    OPENING,
    REPLACEMENT,
    clip,
    clip_lines,
    columns,
    encode,
    pack,
    prepare,
    printable,
    sanitize,
    wrap,
)

ALL_CONTROLS = "".join(chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)])
HANZI = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
TEXTISH = st.text(alphabet=st.one_of(HANZI, st.sampled_from(list("abc XYZ0123456789-/.，。、；：！？）（《》“”…"))),
                  max_size=120)


def test_sanitize_removes_every_control_character_including_escpos_prefixes():
    dirty = "仓库\x1b@\x1d!\x11分拣\x10\x04\x01员\x1c&\x7f\x9b" + ALL_CONTROLS
    clean = sanitize(dirty)
    assert clean == "仓库@!分拣员&"
    assert not any(ch in ALL_CONTROLS for ch in clean)


def test_sanitize_keeps_line_breaks_only_when_asked():
    assert sanitize("第一行\r\n第二行\t末尾  ") == "第一行 第二行 末尾"
    assert sanitize("第一行\r\n第二行\n\n\n\n第三行", multiline=True) == "第一行\n第二行\n\n第三行"


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_no_content_can_produce_a_byte_below_0x20_or_0x7f(text):
    for charset in ("gbk", "gb18030"):
        data = encode(prepare(text, charset)[0])
        assert all(b >= 0x20 and b != 0x7F for b in data), data


def test_characters_outside_the_font_are_replaced_visibly_and_counted():
    text, replaced = printable("张😀明€", "gbk")
    assert text == f"张{REPLACEMENT}明{REPLACEMENT}"
    assert replaced == 2
    # A rare name character (CJK extension B) prints on a full GB18030 font, not on a GBK one.
    assert printable("王𠀀", "gb18030") == ("王𠀀", 0)
    assert printable("王𠀀", "gbk") == (f"王{REPLACEMENT}", 1)
    # Look-alikes are folded rather than replaced.
    assert printable("A•B", "gbk") == ("A·B", 0)


def test_columns_follow_the_printer_one_for_ascii_two_for_anything_double_byte():
    assert columns("4500-6000元/月") == 9 + 2 + 1 + 2
    assert columns("汉字") == wcwidth.wcswidth("汉字") == 4
    # wcwidth calls these ambiguous (1 column); the printer prints them in a 24-dot cell.
    assert columns("·—“”…×℃") == 14


def test_wrap_keeps_numbers_whole_and_punctuation_off_line_starts():
    text = "工资4500-6000元/月（包吃住），电话13812345678。联系人：王经理，地址：中华北路108号。"
    lines = wrap(text, 16)
    assert all(columns(line) <= 16 for line in lines)
    assert "".join(lines) == text
    joined = "\n".join(lines)
    for number in ("4500-6000", "13812345678", "108"):
        assert number in joined, (number, lines)
    assert not any(line[0] in CLOSING for line in lines)
    assert not any(line[-1] in OPENING for line in lines)


def test_wrap_breaks_at_spaces_in_ascii_text_and_cuts_only_an_overlong_word():
    lines = wrap("Hello world, this is https://example.org/a/very/long/path/that/cannot/fit", 16)
    assert lines[:3] == ["Hello world,", "this is", "https://example."]
    assert all(columns(line) <= 16 for line in lines)
    assert "".join(lines[2:]) == "https://example.org/a/very/long/path/that/cannot/fit"


@given(TEXTISH, st.integers(min_value=4, max_value=48))
@settings(max_examples=300, deadline=None)
def test_wrap_properties(text, width):
    text = sanitize(text)
    lines = wrap(text, width)
    assert all(columns(line) <= width for line in lines)
    # Nothing is lost: only spaces at the breaks disappear.
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    # An ASCII run shorter than a line is never split across lines.
    for word in re.findall(r"[!-~]+", text):
        if columns(word) <= width and len(word) > 1:
            assert any(word in line for line in lines), (word, lines)


PHRASE = st.tuples(st.sampled_from(["", "（", "《", "“"]), st.text(alphabet=HANZI, min_size=1, max_size=6),
                   st.sampled_from(["", "，", "。", "）", "》。", "”，", "、", "！？"]))


@given(st.lists(PHRASE, max_size=30), st.integers(min_value=8, max_value=48))
@settings(max_examples=300, deadline=None)
def test_wrap_never_starts_a_line_with_closing_or_ends_one_with_opening_punctuation(phrases, width):
    text = "".join(a + b + c for a, b, c in phrases)
    lines = wrap(text, width)
    assert "".join(lines) == text
    assert all(columns(line) <= width for line in lines)
    assert not any(line[0] in CLOSING for line in lines), lines
    assert not any(line[-1] in OPENING for line in lines), lines


def test_pack_keeps_short_phrases_whole():
    assert pack(["18-55岁", "限男性", "初中及以上"], 26) == ["18-55岁，限男性，", "初中及以上"]
    assert pack(["18-55岁", "限男性", "初中及以上"], 40) == ["18-55岁，限男性，初中及以上"]


def test_clip_and_clip_lines_mark_what_was_cut():
    assert clip("一二三四五六七八九十", 10) == "一二三四…"
    assert clip("一二三", 10) == "一二三"
    kept = clip_lines(wrap("一二三四五六七八九十" * 3, 10), 2, 10)
    assert len(kept) == 2 and kept[-1].endswith("…") and all(columns(k) <= 10 for k in kept)
