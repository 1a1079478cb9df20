"""The example source folder (``hub/example/``) and how it is made.

``yizhan hub example OUT_DIR`` writes a small source folder from the sample content: jobs,
policies, events, announcements, two narrated training courses (150 s slide videos with a spoken track, and thumbnails) and
a ``board_schedule`` document. The committed example was made with::

    yizhan hub example hub/example --date 2026-11-30
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hub.source import write_source_folder
from protocol.feed import Scope
from protocol.model import ContentSet

EXAMPLE_DIR = Path(__file__).parent / "example"
EXAMPLE_DATE = dt.date(2026, 11, 30)  # the day the committed example was written for


def example_board_schedule() -> dict[str, Any]:
    """A board playlist as carried in the feed, in the shape ``display/SCHEDULE.md`` defines:
    on from 06:30 to 22:00, training videos only around lunchtime on weekdays."""
    return {
        "version": 1,
        "on_hours": [{"from": "06:30", "to": "22:00"}],
        "segments": [
            {"id": "jobs-a", "kind": "jobs", "seconds": 120, "title": "附近岗位", "page_s": 12},
            {"id": "policy", "kind": "policy", "seconds": 25, "title": "政策速递"},
            {"id": "jobs-b", "kind": "jobs", "seconds": 120, "title": "附近岗位", "page_s": 12},
            {"id": "event", "kind": "event", "seconds": 20, "title": "招聘活动"},
            {"id": "video", "kind": "video", "seconds": 180, "title": "技能培训",
             "when": [{"from": "11:30", "to": "13:30", "days": [1, 2, 3, 4, 5]}]},
            {"id": "station", "kind": "station", "seconds": 15, "title": "服务站信息"},
        ],
    }


def write_example(out: str | Path, *, jobs: int = 40, origin: tuple[float, float] = (26.5830, 106.7135),
                  feed_id: str = "gy-yunyan", region: str = "520103", today: dt.date | None = None,
                  video_seconds: float | None = None) -> Path:
    """Write the folder; ``video_seconds`` (default 150) is each training video's length."""
    from content.sample import TRAINING_VIDEO_FPS, TRAINING_VIDEO_SECONDS, sample_content, sample_courses

    today = today or dt.date.today()
    content: ContentSet = sample_content(origin=origin, jobs=jobs, today=today)
    # The example must keep publishing long after it was written: its jobs stay valid for three years.
    until = today + dt.timedelta(days=3 * 365)
    content.jobs = [j.model_copy(update={"valid_until": max(j.valid_until, until)}) for j in content.jobs]
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="yizhan-example-") as tmp:
        # Two narrated training videos of real length (slides at two frames a second and a
        # 16 kbit/s spoken track), so that the kiosk's video screen and the board's video
        # segment can be judged with sound.
        content.courses = sample_courses(Path(tmp), seconds=video_seconds or TRAINING_VIDEO_SECONDS,
                                         size=(320, 240), fps=TRAINING_VIDEO_FPS, narrate=True)
        content.documents["board_schedule"] = example_board_schedule()
        if out.exists():
            shutil.rmtree(out)
        write_source_folder(content, tmp, out, feed_id=feed_id, scope=Scope(regions=[region]),
                            title="贵阳市云岩区就业服务内容（示例）")
    return out
