"""The demo starts under Xvfb, writes screenshots that are not blank and slips that printed, and stops by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageStat


def test_demo_headless_writes_screenshots(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    # The demo is bounded by its own --seconds and ends by itself; the timeout only catches a hang
    # (a busy machine makes it slower, which is not a fault).
    result = subprocess.run(
        [sys.executable, "-m", "config.cli", "demo", "--out", str(tmp_path / "demo-out"), "--seconds", "30"],
        env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    shot_dir = tmp_path / "demo-out" / "screenshots"
    shots = sorted(shot_dir.rglob("*.png"))
    assert shots, result.stdout
    # Every window of the station showed something: the board, the kiosk, and a printed slip.
    assert list((shot_dir / "board").glob("*.png")), result.stdout
    assert list((shot_dir / "kiosk").glob("*.png")), result.stdout
    for profile in ("tv-portrait", "led-panel", "led-strip"):  # every other board profile too
        assert list((shot_dir / f"board-{profile}").glob("*.png")), profile
    # The kiosk's tour printed slips on the virtual printer, which rendered each one it received.
    slips = sorted((shot_dir / "slips").glob("slip-*.png"))
    assert slips, result.stdout
    assert all(Image.open(p).size[0] in (384, 512, 576) for p in slips)  # a slip's width in dots
    for report in sorted((shot_dir / "slips").glob("slip-*.json")):
        printed = json.loads(report.read_text(encoding="utf-8"))
        assert printed["cuts"] >= 1 and printed["problems"] == [], (report.name, printed["problems"])
    assert str(tmp_path / "demo-out" / "screenshots") in result.stdout
    for shot in shots:
        image = Image.open(shot).convert("L")
        # A blank or black frame has almost no variation; a card with text has plenty.
        assert ImageStat.Stat(image).stddev[0] > 10, f"{shot.name} looks blank"
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout
    assert leftover.strip() == "", "demo left processes behind"
