"""The demo starts under Xvfb, writes a screenshot that is not blank, and stops in time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageStat


def test_demo_headless_writes_screenshots(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "config.cli", "demo", "--out", str(tmp_path / "demo-out"), "--seconds", "30"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert elapsed < 60
    shot_dir = tmp_path / "demo-out" / "screenshots"
    shots = sorted(shot_dir.rglob("*.png"))
    assert shots, result.stdout
    # Every window of the station showed something: the board, the kiosk, and a printed slip.
    assert list((shot_dir / "board").glob("*.png")), result.stdout
    assert list((shot_dir / "kiosk").glob("*.png")), result.stdout
    for profile in ("tv-portrait", "led-panel", "led-strip"):  # every other board profile too
        assert list((shot_dir / f"board-{profile}").glob("*.png")), profile
    assert str(tmp_path / "demo-out" / "screenshots") in result.stdout
    for shot in shots:
        image = Image.open(shot).convert("L")
        # A blank or black frame has almost no variation; a card with text has plenty.
        assert ImageStat.Stat(image).stddev[0] > 10, f"{shot.name} looks blank"
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout
    assert leftover.strip() == "", "demo left processes behind"
