"""大屏节目单 as a form: rows of 节目, 标题, 时长, 时段 written as people write them, mistakes
named by row and column in Chinese, a day's running order previewed, and the saved document
one the board itself accepts (display/schedule.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from console_kit import FEED, Console, post

from display.schedule import parse_schedule
from hub.console.board_form import BoardFormError, Row, document_of, parse_seconds, parse_windows, rows_of
from hub.console.publishing import documents_of, save_document


@pytest.mark.parametrize("typed, seconds", [("30", 30), ("30秒", 30), ("2分钟", 120), ("1分30秒", 90),
                                            ("２分", 120), (" 45 秒 ", 45)])
def test_durations_as_people_write_them(typed: str, seconds: int) -> None:
    assert parse_seconds(typed) == seconds


@pytest.mark.parametrize("typed, message", [("", "须为时长"), ("半分钟", "须为时长"), ("2", "现在是 2 秒"),
                                            ("61分钟", "现在是 3660 秒")])
def test_a_duration_out_of_rule_is_named(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_seconds(typed)


def test_time_windows_as_people_write_them() -> None:
    assert parse_windows("") == [] and parse_windows("全天") == []
    assert parse_windows("工作日 １１：３０－１３：３０、周末 9:00~10:00") == [
        {"from": "11:30", "to": "13:30", "days": [1, 2, 3, 4, 5]}, {"from": "09:00", "to": "10:00", "days": [6, 7]}]
    assert parse_windows("周五至周一 22:00-06:00") == [{"from": "22:00", "to": "06:00", "days": [5, 6, 7, 1]}]
    with pytest.raises(ValueError, match="看不懂“中午”"):
        parse_windows("中午")
    with pytest.raises(ValueError, match="25:00 不是一天中的时间"):
        parse_windows("23:00-25:00")


def test_mistakes_are_named_by_row_and_column() -> None:
    with pytest.raises(BoardFormError) as caught:
        document_of([Row("jobs", "附近岗位", "2", ""), Row("", "", "", ""), Row("tv", "好" * 41, "30", "中午")], "8点")
    assert caught.value.errors == {
        "row-1-seconds": "第 1 行 时长：须在 3 秒到 60 分钟之间，现在是 2 秒",
        "row-3-kind": "第 3 行 节目：请从列表中选择",
        "row-3-title": "第 3 行 标题：最多 40 字，现在有 41 字",
        "row-3-when": "第 3 行 时段：看不懂“中午”；不填为全天；如 11:30-13:30，多段用顿号隔开，可在前面写 工作日、周末 或 周一至周五",
        "on_hours": "开机时段：看不懂“8点”；不填为全天；如 11:30-13:30，多段用顿号隔开，可在前面写 工作日、周末 或 周一至周五"}


def test_a_stored_schedule_comes_back_whole_through_the_form() -> None:
    stored = {"version": 1, "on_hours": [{"from": "06:30", "to": "22:00"}],
              "urgent": {"mode": "turns", "first_s": 90, "turn_s": 20, "every": 2},
              "segments": [{"id": "jobs-a", "kind": "jobs", "seconds": 120, "title": "附近岗位", "page_s": 12},
                           {"id": "video", "kind": "video", "seconds": 180,
                            "when": [{"from": "11:30", "to": "13:30", "days": [1, 2, 3, 4, 5]}]},
                           {"kind": "station", "seconds": 15,
                            "when": [{"from": "08:00", "to": "09:00", "days": [1, 3]}]}]}
    rows, on_hours = rows_of(stored)
    assert [(r.kind, r.seconds, r.when) for r in rows] == [
        ("jobs", "2分钟", ""), ("video", "3分钟", "工作日 11:30-13:30"),
        ("station", "15秒", "周一 08:00-09:00、周三 08:00-09:00")]
    again = document_of(rows, on_hours, stored)
    assert again["urgent"] == stored["urgent"] and again["segments"][:2] == stored["segments"][:2]
    parse_schedule(again)  # the board accepts it


def _form(rows: list[tuple[str, str, str, str]], on_hours: str = "", action: str = "save", **extra: str) -> dict[str, Any]:
    form: dict[str, Any] = {"feed": FEED, "row_count": str(len(rows)), "on_hours": on_hours, "action": action,
                            "day": "1", **extra}
    for i, (kind, title, seconds, when) in enumerate(rows):
        form.update({f"kind-{i}": kind, f"title-{i}": title, f"seconds-{i}": seconds, f"when-{i}": when,
                     f"order-{i}": str(i + 1)})
    return form


ROWS = [("jobs", "附近岗位", "2分钟", ""), ("policy", "政策速递", "25秒", ""),
        ("video", "技能培训", "3分钟", "工作日 11:30-13:30"), ("", "", "", "")]


def test_the_page_saves_rows_and_previews_a_day(console: Console) -> None:
    publisher = console.client("publisher")
    page = publisher.get(f"/console/board?feed={FEED}").get_data(as_text=True)
    assert 'id="board-default"' in page and "<textarea" not in page
    saved = post(publisher, "/console/board", _form(ROWS, "06:30-22:00"))
    assert saved.status_code == 302
    document = documents_of(console.home, FEED)["board_schedule"]
    schedule = parse_schedule(document)
    assert [(s.kind, s.seconds) for s in schedule.segments] == [("jobs", 120), ("policy", 25), ("video", 180)]
    monday = publisher.get(f"/console/board?feed={FEED}&day=1").get_data(as_text=True)
    day = monday.split('id="board-day"')[1].split("</table>")[0]
    assert "00:00–06:30" in day and "待机画面" in day
    assert "11:30–13:30</td><td>岗位信息「附近岗位」 2分钟 → 政策信息「政策速递」 25秒 → 培训视频「技能培训」 3分钟" in day
    assert "一轮 5分25秒" in day and "一轮 2分25秒" in day
    saturday = publisher.get(f"/console/board?feed={FEED}&day=6").get_data(as_text=True)
    assert "培训视频" not in saturday.split('id="board-day"')[1] and "周六的播放顺序" in saturday


def test_a_wrong_row_is_named_and_nothing_is_saved(console: Console) -> None:
    publisher = console.client("publisher")
    save_document(console.home, FEED, "board_schedule", {"version": 1, "segments": [{"kind": "jobs", "seconds": 60}]})
    refused = post(publisher, "/console/board", _form([("jobs", "", "1秒", ""), ("video", "", "3分钟", "中午")]))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "有 2 处需要修改" in page
    assert "第 1 行 时长：须在 3 秒到 60 分钟之间，现在是 1 秒" in page and "第 2 行 时段：看不懂“中午”" in page
    assert 'value="1秒"' in page  # what was typed stays in the box
    assert page.count('name="kind-') == 2 + 3  # the two rows and three blank ones, not more each time
    assert documents_of(console.home, FEED)["board_schedule"]["segments"] == [{"kind": "jobs", "seconds": 60}]


def test_preview_shows_back_what_was_understood_without_saving(console: Console) -> None:
    publisher = console.client("publisher")
    page = post(publisher, "/console/board", _form([("jobs", "", "90", "")], action="preview")).get_data(as_text=True)
    assert 'value="1分30秒"' in page and 'id="board-preview"' in page
    assert "board_schedule" not in documents_of(console.home, FEED)
    # the order column reorders
    form = _form([("jobs", "", "60", ""), ("policy", "", "30", "")])
    form.update({"order-0": "2", "order-1": "1"})
    assert post(publisher, "/console/board", form).status_code == 302
    assert [s["kind"] for s in documents_of(console.home, FEED)["board_schedule"]["segments"]] == ["policy", "jobs"]
    assert json.dumps(documents_of(console.home, FEED)).count("seconds") == 2
