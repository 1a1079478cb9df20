"""The example's training videos are narrated and minutes long (the board's video segment and the
kiosk's video screen play them); ``yizhan hub example`` makes them so, the same bytes each time."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from hub.example import EXAMPLE_DIR, write_example


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type:format=duration",
                          "-of", "json", str(path)], check=True, capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


def loudest_db(path: Path) -> float:
    out = subprocess.run(["ffmpeg", "-nostdin", "-i", str(path), "-af", "volumedetect", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120).stderr
    return float(out.split("max_volume:")[1].split("dB")[0])


def test_the_committed_example_has_two_narrated_videos_of_minutes():
    courses = json.loads((EXAMPLE_DIR / "courses.json").read_text(encoding="utf-8"))
    assert len(courses) == 2
    for course in courses:
        video = EXAMPLE_DIR / course["media"]
        info = probe(video)
        assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"], course["id"]
        assert float(info["format"]["duration"]) >= 120 and course["duration_s"] >= 120
        assert video.stat().st_size < 400_000  # small: slides and a low-bitrate voice
        assert loudest_db(video) > -20  # someone speaks (silence would be about -91 dB)


def test_hub_example_writes_narrated_videos_the_same_way_twice(tmp_path):
    first = write_example(tmp_path / "a", jobs=5, video_seconds=12)
    again = write_example(tmp_path / "b", jobs=5, video_seconds=12)
    for video in sorted((first / "media").glob("*.mp4")):
        info = probe(video)
        assert {s["codec_type"] for s in info["streams"]} == {"audio", "video"}
        assert abs(float(info["format"]["duration"]) - 12) < 0.5
        assert video.read_bytes() == (again / "media" / video.name).read_bytes()
