"""CJK font discovery and the masking helpers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from common.fonts import FontNotFoundError, find_cjk_font
from common.privacy import ScrubbingFilter, mask_address, mask_id_number, mask_name, mask_phone, scrub


def test_font_found_through_fontconfig() -> None:
    path = find_cjk_font()
    assert path.is_file() and path.suffix.lower() in (".ttf", ".ttc", ".otf")


def test_configured_font_wins(tmp_path: Path) -> None:
    font = tmp_path / "my.ttf"
    font.write_bytes(b"\0")
    assert find_cjk_font(font) == font


def test_configured_font_missing_names_the_file_and_package(tmp_path: Path) -> None:
    with pytest.raises(FontNotFoundError, match=r"does not exist.*apt-get install fonts-wqy-microhei"):
        find_cjk_font(tmp_path / "missing.ttf")


def test_known_paths_used_without_fontconfig(tmp_path: Path) -> None:
    font = tmp_path / "wqy-microhei.ttc"
    font.write_bytes(b"\0")
    assert find_cjk_font(use_fontconfig=False, known_paths=(str(tmp_path / "x.ttf"), str(font))) == font


def test_no_font_at_all_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(FontNotFoundError, match="apt-get install fonts-wqy-microhei"):
        find_cjk_font(use_fontconfig=False, known_paths=(str(tmp_path / "none.ttf"),))


def test_masks() -> None:
    assert mask_id_number("44010619900101123X") == "4401**********123X"
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("张三") == "张*"
    assert mask_name("买买提·艾力") == "买****力"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_address("贵州省贵阳市云岩区中华北路108号") == "贵州省贵阳市********"


def test_log_scrubbing(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("yizhan.test.scrub")
    handler_filter = ScrubbingFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        logger.warning("card %s phone %s", "44010619900101123X", "13812345678")
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert "44010619900101123X" not in caplog.text and "13812345678" not in caplog.text
    assert "4401**********123X" in caplog.text and "138****5678" in caplog.text
    assert scrub("no numbers here") == "no numbers here"
