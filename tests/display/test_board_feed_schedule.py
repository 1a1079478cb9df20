"""The board schedule the hub's example feed carries is one the board accepts."""

from __future__ import annotations

import json

from display.schedule import parse_schedule
from hub.example import EXAMPLE_DIR, example_board_schedule


def test_example_feed_schedule_is_valid_for_the_board() -> None:
    committed = json.loads((EXAMPLE_DIR / "documents" / "board_schedule.json").read_text(encoding="utf-8"))
    assert committed == example_board_schedule()
    schedule = parse_schedule(committed)
    kinds = [segment.kind for segment in schedule.segments]
    assert kinds.count("jobs") == 2 and "video" in kinds
    video = next(s for s in schedule.segments if s.kind == "video")
    assert video.when and video.when[0].days == (1, 2, 3, 4, 5)  # videos only at weekday lunchtime
