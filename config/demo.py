"""``yizhan demo``: the whole station on loopback with simulated hardware.

The demo makes a station folder under ``demo-out/`` (settings, data dir), then starts each
part as its own process, exactly as a station runs them, and stops all of them on exit
or Ctrl-C. With no ``$DISPLAY`` it starts Xvfb, runs for a bounded time, and the windows
save screenshots into ``demo-out/``; with a display it opens the windows and runs until
Ctrl-C (or ``--seconds``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from config import exitcodes
from config.cli import CommandError, Context
from config.xvfb import VirtualDisplay, start_xvfb

DEMO_STATION = """\
# Made by 'yizhan demo': a station on loopback with simulated hardware.
[station]
id = "demo-gy-001"
name = "城东社区人社便民服务站"
kind = "服务站"
region = "520103"
address = "贵阳市云岩区中华北路108号"
latitude = 26.5830
longitude = 106.7135
radius_km = 3
hotline = "0851-12333"
complaint_phone = "0851-12345"
opening_hours = "周一至周五 9:00-12:00 14:00-17:30"

[storage]
data_dir = "data"
free_space_floor_mb = 50
"""


class Processes:
    """The demo's child processes: each in its own process group, all stopped together."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.xvfbs: list[VirtualDisplay] = []

    def start(self, name: str, argv: list[str], *, env: dict[str, str] | None = None,
              log: Path | None = None) -> subprocess.Popen[bytes]:
        out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.children.append((name, proc))
        return proc

    def stop(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 8
        for _, proc in reversed(self.children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for vd in self.xvfbs:
            vd.stop()


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo-out"),
                        help="where the demo station, logs and screenshots go (default: demo-out)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long (default: 25 s without a display, until Ctrl-C with one)")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace, ctx: Context) -> int:
    out: Path = args.out.resolve()
    headless = not os.environ.get("DISPLAY")
    seconds = args.seconds if args.seconds is not None else (25.0 if headless else 0.0)
    station_dir = out / "station"
    station_dir.mkdir(parents=True, exist_ok=True)
    (station_dir / "data").mkdir(exist_ok=True)
    config_path = station_dir / "station.toml"
    config_path.write_text(DEMO_STATION, encoding="utf-8")
    shots = out / "screenshots"
    shots.mkdir(exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()

    procs = Processes()
    try:
        env = {"KIVY_NO_ARGS": "1", "KIVY_HOME": str(out / "kivy-home"), "YIZHAN_CONFIG": str(config_path)}
        if headless:
            vd = start_xvfb(1920, 1080)
            procs.xvfbs.append(vd)
            env["DISPLAY"] = vd.display
            print(f"no display: running under Xvfb {vd.display} for {seconds:.0f} s")
        card = procs.start(
            "station card",
            [sys.executable, "-m", "display.card_app", "--config", str(config_path),
             "--screenshot-dir", str(shots), "--run-seconds", str(seconds or 0)],
            env=env, log=out / "station-card.log")
        deadline = time.monotonic() + seconds if seconds else None
        while card.poll() is None and (deadline is None or time.monotonic() < deadline + 15):
            time.sleep(0.2)
        if card.poll() is None:
            raise CommandError("the station card window did not stop in time")
        if card.returncode != 0:
            raise CommandError(f"the station card window failed (exit {card.returncode}); see {out}/station-card.log")
    except KeyboardInterrupt:
        print("stopping the demo")
        return exitcodes.INTERRUPTED
    finally:
        procs.stop()
    pictures = sorted(shots.glob("*.png"))
    print(f"screenshots ({len(pictures)}) in {shots}:")
    for picture in pictures:
        print(f"  {picture}")
    return exitcodes.OK if pictures or not headless else exitcodes.FAILURE
