"""Soak of the board player (display/): its memory over a simulated day with training videos.

The real board (``config.faces.board_app``, as ``yizhan display`` starts it) runs under a fresh
Xvfb (started here, as bench/board.py does) at 1920x1080 with the TV profile the settings give,
the station's default schedule (display/default_schedule.json: job list, policy and event
cards, a training video, the station card, on-hours 06:30-22:00, standby at night), 200 sample
jobs, the sample policies, events and announcements (the ticker) and two training videos.

The day is compressed through the clock the board is handed (display/schedule.py's ``Clock``:
segments, on-hours and proof of play all go by it): a :class:`SoakClock` runs ``--speed`` times
faster than real time while a job list, a card or the station card shows, ``--night-speed``
times while the standby card shows, and at real speed while a video plays, because decoding
cannot be compressed: a video segment takes as long as its video, in real and simulated time
alike (a video shorter than its 180 s slot ends the segment by itself, as on a real board). The
table says how much real time the simulated hours took and how much of it was video.

RSS and PSS (``/proc/self/smaps_rollup``) are sampled every few real seconds by the board process
itself, with the simulated hour; at the end it prints where the memory is (mappings grouped:
the heap, anonymous maps, thread stacks, Mesa's llvmpipe, the Python and Kivy libraries...).

The two sample videos last 10 s each: a real day's 180 s video slots hold 116 videos from 06:30 to
22:00, the soak's short ones about 180 (more openings and closings of the decoder than a real day,
in less real time).

Usage: ``.venv/bin/python bench/board_soak.py [--quick] [--hours H] [--speed S]``. The full run
(24 simulated hours from 06:00) takes about 50 minutes; ``--quick`` (2 simulated hours from
21:00: an hour of the loop, then standby) about 3. Prints a table and ends with ``FIGURE`` lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.board import make_station, print_table  # noqa: E402
from config.station import open_store  # noqa: E402

SAMPLE_EVERY_S = 2.0  # real seconds between memory samples


# ---------------------------------------------------------------------------------------------
# the compressed clock


class SoakClock:
    """Board time that runs ``rate`` times faster than real time; the rate may change at any moment.

    Both readings (wall time for the schedule's windows, monotonic for durations) move together;
    a rate change applies from the moment it is made. Safe to read from the board's worker thread.
    """

    def __init__(self, start: dt.datetime, rate: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._start = start
        self._real = time.monotonic()
        self._sim = 0.0  # simulated seconds since ``start`` at real time ``_real``
        self._rate = rate
        self.real_at_rate: dict[float, float] = {}  # real seconds spent at each rate

    def _advance(self) -> float:
        real = time.monotonic()
        spent = real - self._real
        self._sim += spent * self._rate
        self.real_at_rate[self._rate] = self.real_at_rate.get(self._rate, 0.0) + spent
        self._real = real
        return self._sim

    def simulated_s(self) -> float:
        with self._lock:
            return self._advance()

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self._advance()
            self._rate = rate

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=self.simulated_s())

    def monotonic(self) -> float:
        return 1000.0 + self.simulated_s()


# ---------------------------------------------------------------------------------------------
# memory readings


def smaps_rollup(pid: int | str = "self") -> dict[str, float]:
    """RSS, PSS and their anonymous/file parts from ``/proc/<pid>/smaps_rollup``, in MB."""
    out: dict[str, float] = {}
    wanted = {"Rss": "rss", "Pss": "pss", "Pss_Anon": "pss_anon", "Pss_File": "pss_file",
              "Anonymous": "anon", "Swap": "swap"}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in wanted:
                out[wanted[key]] = int(rest.split()[0]) / 1024
    return out


def mapping_groups(pid: int | str = "self") -> list[tuple[str, float, float]]:
    """(group, RSS MB, PSS MB) of the process's mappings, largest first: files by name, the heap,
    anonymous maps, stacks."""
    groups: dict[str, list[float]] = {}
    name = ""
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split(None, 5)
                name = parts[5].strip() if len(parts) > 5 else "[anon]"
                if name.startswith("/"):
                    name = _library_group(name)
                groups.setdefault(name, [0.0, 0.0])
            elif first == "Rss:":
                groups[name][0] += int(line.split()[1]) / 1024
            elif first == "Pss:":
                groups[name][1] += int(line.split()[1]) / 1024
    return sorted(((k, v[0], v[1]) for k, v in groups.items()), key=lambda g: -g[1])


def _library_group(path: str) -> str:
    base = os.path.basename(path)
    for key, label in (("libLLVM", "libLLVM (Mesa's llvmpipe)"), ("swrast_dri", "Mesa DRI driver"),
                       ("libgallium", "Mesa DRI driver"), ("/dri/", "Mesa DRI driver"),
                       ("libpython", "libpython"), ("ffpyplayer", "ffpyplayer/FFmpeg"),
                       ("libav", "ffpyplayer/FFmpeg"), ("libsw", "ffpyplayer/FFmpeg"),
                       ("kivy", "Kivy"), ("SDL2", "SDL2"), ("PIL", "Pillow"), ("pillow", "Pillow"),
                       ("/fonts/", "fonts"), (".ttf", "fonts"), (".ttc", "fonts"), (".otf", "fonts"),
                       ("/usr/lib/locale", "locale"), ("icu", "ICU")):
        if key in path:
            return label
    if ".so" in base or base.endswith(".so"):
        return "other shared libraries"
    return "other files"


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def thread_names() -> dict[str, int]:
    """The process's threads by name (llvmpipe-N, the decoder's, the board's worker...)."""
    names: dict[str, int] = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm", encoding="utf-8") as f:
                name = f.read().strip()
        except OSError:
            continue  # ended meanwhile
        names[name] = names.get(name, 0) + 1
    return names


def live_textures() -> dict[str, float]:
    """The Kivy textures alive now: how many, their pixels, and what llvmpipe holds for them (4 B/px)."""
    import gc

    from kivy.graphics.texture import Texture

    gc.collect()
    found = [o for o in gc.get_objects() if isinstance(o, Texture)]
    pixels = sum(t.width * t.height for t in found)
    wide = [t for t in found if t.width >= 1500]
    return {"count": len(found), "mpx": pixels / 1e6, "mb_at_4_bytes": pixels * 4 / 2**20,
            "wide_count": len(wide), "wide_mb": sum(t.width * t.height for t in wide) * 4 / 2**20}


# ---------------------------------------------------------------------------------------------
# parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 simulated hours from 21:00 (a few minutes)")
    parser.add_argument("--hours", type=float, default=None, help="simulated hours (default 24; quick 2)")
    parser.add_argument("--start", default=None, help="simulated start time HH:MM (default 06:00; quick 21:00)")
    parser.add_argument("--speed", type=float, default=60.0,
                        help="how much faster than real time jobs, cards and the station card go (default 60)")
    parser.add_argument("--night-speed", type=float, default=1200.0,
                        help="how much faster than real time the standby card goes (default 1200)")
    parser.add_argument("--video-seconds", type=float, default=None,
                        help="length of each of the two training videos (default 10)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    hours = args.hours if args.hours is not None else (2.0 if args.quick else 24.0)
    start = args.start or ("21:00" if args.quick else "06:00")
    video_s = args.video_seconds if args.video_seconds is not None else 10.0
    if hours <= 0 or args.speed < 1 or args.night_speed < 1 or video_s < 2:
        parser.error("--hours must be above 0, --speed and --night-speed at least 1, --video-seconds at least 2")
    from config.xvfb import start_xvfb

    started = time.monotonic()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="yizhan-bench-soak-") as tmp:
        root = Path(tmp)
        print(f"setting up a station with 200 jobs and two {video_s:g} s training videos ...", flush=True)
        config = make_station(root / "station", video_seconds=video_s)
        with open_store(_settings(config)) as store:  # the station's default schedule, not a feed's
            content = store.export_content()
            content.documents.pop("board_schedule", None)
            store.replace_content(content, feed_id="bench", version=store.content_info().version + 1)
        vd = start_xvfb(1920, 1080)
        try:
            env = {**os.environ, "DISPLAY": vd.display, "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
                   "KIVY_HOME": str(root / "kivy-home")}
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--config", str(config),
                   "--hours", str(hours), "--start", start, "--speed", str(args.speed),
                   "--night-speed", str(args.night_speed)]
            print(f"soak: {hours:g} simulated hours from {start} ...", flush=True)
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            result = None
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("SAMPLE "):
                    s = json.loads(line[7:])
                    print(f"  {s['sim_h']:5.2f} h  {s['clock']}  {s['showing']:<8} RSS {s['rss']:6.1f} MB  "
                          f"PSS {s['pss']:6.1f} MB  threads {s['threads']}", flush=True)
                elif line.startswith("RESULT "):
                    result = json.loads(line[7:])
            stderr = proc.stderr.read() if proc.stderr is not None else ""
            proc.wait()
            if result is None:
                raise RuntimeError(f"the board soak failed (exit {proc.returncode}):\n{stderr[-4000:]}")
        finally:
            vd.stop()
    report(result, time.monotonic() - started, load, video_s)
    return 0


def _settings(config: Path):  # noqa: ANN202 - config.settings.Settings, imported late
    from config.settings import load_settings

    return load_settings(config)


def report(r: dict, took: float, load: float, video_s: float) -> None:
    samples = r["samples"]
    rss = [s["rss"] for s in samples]
    # the trend after the first simulated hour (start-up, first content load and the first video
    # are one-off), per simulated hour: least squares over the samples
    later = [s for s in samples if s["sim_h"] >= min(1.0, r["sim_h"] / 2)]
    slope = _hourly_slope(later)
    video_rss = [s["rss"] for s in samples if s["showing"] == "video"]
    video_threads = [s["threads"] for s in samples if s["showing"] == "video"]
    rows = [
        ("simulated time", f"{r['sim_h']:.2f} h", f"from {r['start']}, in {r['real_s'] / 60:.1f} min real time"),
        ("  real time with a video playing (not compressed)", f"{r['real_video_s'] / 60:.1f} min",
         f"{r['videos']} videos of {video_s:g} s"),
        ("  real time on jobs, cards, station card", f"{r['real_fast_s'] / 60:.1f} min",
         f"{r['speed']:g}x faster than real time"),
        ("  real time on the standby card (night)", f"{r['real_night_s'] / 60:.1f} min",
         f"{r['night_speed']:g}x faster than real time"),
        ("segments shown", str(r["switches"]), ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items()))),
        ("RSS at start (first jobs on screen)", f"{rss[0]:.1f} MB", ""),
        ("RSS peak", f"{max(rss):.1f} MB", "target <= 200 MB"),
        ("  RSS peak while a video plays", f"{max(video_rss, default=0.0):.1f} MB",
         f"threads then up to {max(video_threads, default=0)}"),
        ("RSS at the end", f"{rss[-1]:.1f} MB", f"PSS {samples[-1]['pss']:.1f} MB"),
        ("RSS trend after the first hour", f"{slope:+.2f} MB/h", "per simulated hour; target flat"),
        ("threads at the end", str(samples[-1]["threads"]), ""),
    ]
    print_table(rows, value_width=14)
    print()
    print("where the memory is at the end (mappings grouped, MB):")
    print(f"  {'group':<34} {'RSS':>7} {'PSS':>7}")
    for name, g_rss, g_pss in r["groups"][:14]:
        print(f"  {name[:34]:<34} {g_rss:7.1f} {g_pss:7.1f}")
    tex = r["textures"]
    print(f"  Kivy textures alive: {tex['count']:.0f}, {tex['mpx']:.1f} Mpx = {tex['mb_at_4_bytes']:.1f} MB at 4 B/px "
          f"in llvmpipe (in [heap]/[anon]); of them {tex['wide_count']:.0f} 1500+ px wide, {tex['wide_mb']:.1f} MB")
    print("  threads: " + ", ".join(f"{k} {v}" for k, v in sorted(r["thread_names"].items())))
    print(f"(soak took {took / 60:.1f} min; load average at the start {load:.2f} on {os.cpu_count()} cores)")
    print()
    print(f"FIGURE board_rss_start_mb {rss[0]:.1f} MB")
    print(f"FIGURE board_rss_peak_mb {max(rss):.1f} MB")
    print(f"FIGURE board_rss_end_mb {rss[-1]:.1f} MB")
    print(f"FIGURE board_pss_end_mb {samples[-1]['pss']:.1f} MB")
    print(f"FIGURE board_rss_slope_mb_per_simulated_hour {slope:.2f} MB/h")
    print(f"FIGURE board_soak_simulated_hours {r['sim_h']:.2f} h")
    print(f"FIGURE board_soak_real_minutes {r['real_s'] / 60:.1f} min")


def _hourly_slope(samples: list[dict]) -> float:
    if len(samples) < 3:
        return 0.0
    xs = [s["sim_h"] for s in samples]
    ys = [s["rss"] for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


# ---------------------------------------------------------------------------------------------
# child: the board itself


def child(args: argparse.Namespace) -> int:
    from display.profiles import resolve_profile
    from display.window import configure_kivy

    settings = _settings(Path(args.config))
    profile = resolve_profile(settings.devices.board_screen)
    configure_kivy(profile)
    hour, minute = (int(v) for v in args.start.split(":"))
    today = dt.date.today()
    clock = SoakClock(dt.datetime.combine(today, dt.time(hour, minute)), rate=args.speed)
    result = soak(settings, profile, clock, hours=args.hours, speed=args.speed, night_speed=args.night_speed)
    result["start"] = args.start
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def soak(settings, profile, clock: SoakClock, *, hours: float, speed: float, night_speed: float) -> dict:  # noqa: ANN001
    from config.faces import board_app
    from display.harness import run_script

    limit_s = hours * 3600
    out: dict = {"speed": speed, "night_speed": night_speed}
    samples: list[dict] = []
    kinds: dict[str, int] = {}
    real0 = time.monotonic()

    def showing_kind(app) -> str:  # noqa: ANN001
        return app.showing.segment.slot.kind if app.showing is not None else "-"

    def sample(app) -> None:  # noqa: ANN001
        mem = smaps_rollup()
        now = clock.now()
        s = {"sim_h": clock.simulated_s() / 3600, "real_s": time.monotonic() - real0, "rss": mem["rss"],
             "pss": mem["pss"], "anon": mem.get("anon", 0.0), "threads": threads(),
             "showing": showing_kind(app), "clock": f"{now:%H:%M}"}
        samples.append(s)
        print("SAMPLE " + json.dumps(s), flush=True)

    def script(app):  # noqa: ANN001, ANN202
        yield lambda: app.showing is not None and app.showing.segment.item_kind == "jobs" or clock.simulated_s() > 3600
        yield 2.0
        sample(app)
        last_sample = time.monotonic()
        last_switch = app.switches
        while clock.simulated_s() < limit_s:
            kind = showing_kind(app)
            clock.set_rate(1.0 if kind == "video" else night_speed if kind == "standby" else speed)
            if app.switches != last_switch:
                last_switch = app.switches
                kinds[kind] = kinds.get(kind, 0) + 1
            if time.monotonic() - last_sample >= SAMPLE_EVERY_S:
                sample(app)
                last_sample = time.monotonic()
            yield 0.02
        sample(app)
        out["groups"] = [(n, round(r, 1), round(p, 1)) for n, r, p in mapping_groups()]
        out["textures"] = live_textures()
        out["thread_names"] = thread_names()

    app = board_app(settings, profile, clock=clock, poll_s=2.0, tick_s=0.05)
    run_script(app, script, timeout=600.0)
    rates = clock.real_at_rate
    out.update(samples=samples, sim_h=clock.simulated_s() / 3600, real_s=time.monotonic() - real0,
               real_video_s=rates.get(1.0, 0.0), real_fast_s=rates.get(speed, 0.0),
               real_night_s=rates.get(night_speed, 0.0), switches=app.switches, kinds=kinds,
               videos=kinds.get("video", 0))
    return out


if __name__ == "__main__":
    sys.exit(main())
