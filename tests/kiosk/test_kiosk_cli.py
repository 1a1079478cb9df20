"""``yizhan kiosk`` as the demo runs it: a bounded run, and the scripted tour with its screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.display

YIZHAN = [str(Path(sys.executable).with_name("yizhan"))]  # the installed command, as the demo runs it


def run(args: list[str], station, display: str | None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    if display:
        env["DISPLAY"] = display
    return subprocess.run([*YIZHAN, "--config", str(station.config_path), "kiosk", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).parents[2])


def test_the_scripted_tour_saves_every_screen_prints_and_registers(xvfb, station, tmp_path):
    from content.outbox import Outbox
    from printer.virtual import VirtualPrinter

    shots = tmp_path / "shots"
    with VirtualPrinter(tmp_path / "slips") as printer:
        station.write("[kiosk]\nread_aloud = false\n")
        text = station.config_path.read_text(encoding="utf-8").replace(
            'kind = "virtual"', f'kind = "virtual"\nport = {printer.port}')
        station.config_path.write_text(text, encoding="utf-8")
        result = run(["--script", "demo", "--screenshot-dir", str(shots), "--run-seconds", "100"], station, xvfb)
        assert result.returncode == 0, result.stderr[-2000:]
        printed = printer.wait_for_printed(2, timeout=20)  # the job slip and the registration receipt
    names = [p.name for p in sorted(shots.glob("*.png"))]
    assert names == ["01-home.png", "02-jobs.png", "03-jobs-bj.png", "04-job.png", "05-job-printed.png",
                     "06-resident.png", "07-register.png", "08-form-phone.png", "09-form-categories.png",
                     "10-consent.png", "11-done.png", "12-rating.png", "13-home-after.png",
                     "14-landscape-home.png", "15-landscape-jobs-bj.png", "16-landscape-resident.png",
                     "17-landscape-register.png", "18-landscape-form-phone.png", "19-landscape-form-choices.png"]
    assert "19 screens saved" in result.stdout
    for name in names:
        with Image.open(shots / name) as image:
            assert image.size == ((1920, 1080) if "landscape" in name else (1080, 1920))
    assert all(job.png.is_file() for job in printed)
    settings = station.settings
    with Outbox(settings.db_path, key_dir=settings.data_dir) as outbox:
        assert [e.payload["kind"] for e in outbox.pending("registration")] == ["求职"]
    assert "张测试" not in result.stdout + result.stderr
    assert "119999199003079910" not in result.stdout + result.stderr


def test_a_bounded_run_exits_cleanly(xvfb, station):
    result = run(["--run-seconds", "2", "--windowed"], station, xvfb, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_without_a_display_it_says_what_to_do(station):
    result = run(["--run-seconds", "1"], station, None, timeout=60)
    assert result.returncode == 4
    assert "no X display" in result.stderr and "xvfb-run" in result.stderr


def test_bad_run_seconds_is_a_usage_error(xvfb, station):
    result = run(["--run-seconds", "0"], station, xvfb, timeout=60)
    assert result.returncode == 2 and "--run-seconds must be more than 0" in result.stderr
