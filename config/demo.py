"""``yizhan demo``: the whole station on loopback with simulated hardware.

The demo makes a station folder under ``demo-out/`` (settings, data dir), then starts each
part as its own process, exactly as a station runs them, and stops all of them on exit
or Ctrl-C. With no ``$DISPLAY`` it starts Xvfb, runs for a bounded time, and the windows
save screenshots into ``demo-out/``; with a display it opens the windows and runs until
Ctrl-C (or ``--seconds``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import exitcodes
from common.netutil import free_port, wait_for_port
from config.command import CommandError, Context
from config.settings import hash_pin
from config.station_file import write_station_file
from config.xvfb import VirtualDisplay, start_xvfb
from display.profiles import PROFILES  # plain data, no Kivy

# The console's two demo users: username -> (password, name, roles).
CONSOLE_USERS = {"bianji": ("bianji2026", "张编辑", ("editor", "registrar")),
                 "shenhe": ("shenhe2026", "李审核", ("reviewer", "publisher", "operator", "admin"))}

DEMO_COMMENT = """Made by 'yizhan demo': a station on loopback with simulated hardware.
Staff PIN for the kiosk's staff mode in the demo: 246813."""
DEMO_PIN = "246813"
# Board profiles the headless demo also plays, for their screenshots (tv-1080p is the main board).
EXTRA_BOARD_PROFILES = ("tv-portrait", "led-panel", "led-strip")
FEED_ID = "gy-yunyan"



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
                        help="where the demo station, hub, logs and screenshots go (default: demo-out)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long (default: 75 s without a display, until Ctrl-C with one)")
    parser.add_argument("--jobs", type=int, default=300, help="sample jobs in the hub's feed (default 300)")
    parser.set_defaults(handler=_demo)


def _yizhan(*args: str, env: dict[str, str] | None = None, log: Path | None = None) -> dict:
    """Run one ``yizhan`` command to completion and return its ``--json`` output."""
    result = subprocess.run([sys.executable, "-m", "config.cli", *args, "--json"], capture_output=True,
                            text=True, env={**os.environ, **(env or {})}, timeout=300, stdin=subprocess.DEVNULL)
    if log is not None:
        with log.open("a", encoding="utf-8") as out:
            out.write(f"$ yizhan {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode not in (exitcodes.OK, exitcodes.UNCHANGED):
        raise CommandError(f"'yizhan {' '.join(args)}' failed (exit {result.returncode}): "
                           f"{result.stderr.strip().splitlines()[-1:] or ''}")
    try:
        return json.loads(result.stdout) if result.stdout.strip() else {}
    except json.JSONDecodeError:
        return {}


def _shorten_for_demo(source: Path) -> None:
    """A demo lasts a minute, not a day: a board loop of short segments that plays at any
    hour, and the urgent notice moved to interrupt the board half a minute in."""
    schedule = {"version": 1, "segments": [
        {"id": "jobs", "kind": "jobs", "seconds": 20, "page_s": 6, "title": "附近岗位"},
        {"id": "policy", "kind": "policy", "seconds": 8, "title": "政策速递"},
        {"id": "event", "kind": "event", "seconds": 8, "title": "招聘活动"},
        {"id": "video", "kind": "video", "seconds": 10, "title": "技能培训"},
        {"id": "station", "kind": "station", "seconds": 5, "title": "服务站信息"},
    ]}
    (source / "documents").mkdir(exist_ok=True)
    (source / "documents" / "board_schedule.json").write_text(json.dumps(schedule, ensure_ascii=False),
                                                              encoding="utf-8")
    path = source / "announcements.json"
    notices = json.loads(path.read_text(encoding="utf-8"))
    start = dt.datetime.now().replace(microsecond=0) + dt.timedelta(seconds=45)
    for notice in notices:
        if notice.get("priority") == "urgent":
            notice["starts_at"] = start.isoformat()
            notice["ends_at"] = (start + dt.timedelta(seconds=12)).isoformat()
    path.write_text(json.dumps(notices, ensure_ascii=False, indent=1), encoding="utf-8")


def _wait_for_line(proc: subprocess.Popen[bytes], log: Path, pattern: str, timeout: float = 30) -> str:
    """Wait until the process's log has a line matching ``pattern``; return the first group."""
    deadline = time.monotonic() + timeout
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        if log.exists():
            match = regex.search(log.read_text(encoding="utf-8", errors="replace"))
            if match:
                return match.group(1)
        if proc.poll() is not None:
            raise CommandError(f"a demo process stopped early (exit {proc.returncode}); see {log}")
        time.sleep(0.1)
    raise CommandError(f"a demo process did not start in {timeout:.0f} s; see {log}")


def _console_setup(hub_home: Path) -> None:
    """The console: the sample content as approved and published, and the two demo users."""
    from hub.console.auth import create_user
    from hub.console.seed import seed_source
    from hub.db import make_engine, migrate, sqlite_url

    engine = make_engine(sqlite_url(hub_home))
    migrate(engine)
    seed_source(engine, hub_home, hub_home / "source", feed_id=FEED_ID, title="云岩区各驿站", regions=["520103"],
                published=True)
    for username, (password, name, roles) in CONSOLE_USERS.items():
        create_user(engine, username, password, list(roles), name)
    engine.dispose()


def _console_screenshots(base: str, out_dir: Path, work: Path, delivered: threading.Event) -> None:
    """Every console page in Chromium; the registrations' pages once the station has delivered."""
    from hub.console.browser import demo_screenshots

    users = {"editor": ("bianji", CONSOLE_USERS["bianji"][0]), "reviewer": ("shenhe", CONSOLE_USERS["shenhe"][0])}
    try:
        demo_screenshots(base, users, out_dir, work, later=("登记跟进", "登记详情", "交接与清除"), ready=delivered)
    except Exception as exc:  # screenshots are a by-product: the station demo goes on without them
        print(f"    console screenshots failed: {exc}", file=sys.stderr)


def _demo(args: argparse.Namespace, ctx: Context) -> int:
    out: Path = args.out.resolve()
    headless = not os.environ.get("DISPLAY")
    seconds = args.seconds if args.seconds is not None else (75.0 if headless else 0.0)
    station_dir, hub_home, logs, shots = out / "station", out / "hub", out / "logs", out / "screenshots"
    for old in (station_dir, hub_home, logs, shots):
        shutil.rmtree(old, ignore_errors=True)
        old.mkdir(parents=True)
    (station_dir / "data").mkdir()
    config_path = station_dir / "station.toml"
    env = {"KIVY_NO_ARGS": "1", "KIVY_HOME": str(out / "kivy-home"), "YIZHAN_CONFIG": str(config_path),
           "PYTHONUNBUFFERED": "1"}
    py = [sys.executable, "-m", "config.cli"]
    procs = Processes()
    started = time.monotonic()
    try:
        print("1/6 hub: signing key, sample content, signed feed, station token")
        key = _yizhan("hub", "keygen", "--home", str(hub_home), log=logs / "hub-setup.log")
        _yizhan("hub", "example", str(hub_home / "source"), "--jobs", str(args.jobs), "--feed-id", FEED_ID,
                log=logs / "hub-setup.log")
        _shorten_for_demo(hub_home / "source")
        _yizhan("hub", "publish", str(hub_home / "source"), "--home", str(hub_home), "--region", "520103",
                log=logs / "hub-setup.log")
        # The console's tables and the station's token are in different tables: set both up at once.
        setup = threading.Thread(target=_console_setup, args=(hub_home,), daemon=True)
        setup.start()
        token = _yizhan("hub", "station", "add", "demo-gy-001", "--name", "城东社区人社便民服务站",
                        "--home", str(hub_home), log=logs / "hub-setup.log")["token"]
        setup.join()
        hub_port, printer_port = free_port(), free_port()
        hub = procs.start("hub", [*py, "hub", "serve", "--home", str(hub_home), "--port", str(hub_port)],
                          env=env, log=logs / "hub.log")

        print("2/6 simulated ID card reader and virtual printer")
        reader_link = station_dir / "ttyIDCARD"
        sim_log = logs / "idcard-simulator.log"
        sim = procs.start("idcard simulator", [*py, "idcard", "simulate", "--link", str(reader_link),
                                               "--control-port", "0"], env=env, log=sim_log)
        control_port = _wait_for_line(sim, sim_log, r"commands also on 127\.0\.0\.1:(\d+)")
        slips = shots / "slips"
        procs.start("virtual printer", [*py, "print", "virtual", "--port", str(printer_port), "--out", str(slips),
                                        "--paper", "80"], env=env, log=logs / "virtual-printer.log")
        hub_url = f"http://127.0.0.1:{hub_port}/"
        write_station_file(config_path, {
            "station.id": "demo-gy-001", "storage.free_space_floor_mb": 50,
            "hub.feed_url": f"{hub_url}feeds/{FEED_ID}/", "hub.public_key": key["public_key"],
            "hub.upload_url": f"{hub_url}api/v1/", "hub.station_token": token, "hub.sync_interval_s": 15,
            "hub.timeout_s": 5, "devices.idcard.port": str(reader_link), "devices.printer.host": "127.0.0.1",
            "devices.printer.port": printer_port, "devices.board_screen.profile": "tv-1080p",
            "devices.board_screen.qr_url": f"{hub_url}feeds/{FEED_ID}/m/s/demo-gy-001/", "kiosk.staff_pin_hash": hash_pin(DEMO_PIN),
            "kiosk.read_aloud": False}, comment=DEMO_COMMENT)
        wait_for_port(hub_port)
        wait_for_port(printer_port)

        print("3/6 first sync from the hub")
        _yizhan("sync", "--once", "--no-progress", env=env, log=logs / "sync.log")
        procs.start("sync", [*py, "sync", "--no-progress"], env=env, log=logs / "sync.log")

        print("4/6 board and kiosk" + (" under Xvfb" if headless else ""))
        run = ["--run-seconds", str(seconds)] if seconds else []
        board_env, kiosk_env = dict(env), dict(env)
        if headless:
            board_x, kiosk_x = start_xvfb(1920, 1080), start_xvfb(1920, 1920)  # the kiosk tours portrait and landscape
            procs.xvfbs += [board_x, kiosk_x]
            board_env["DISPLAY"], kiosk_env["DISPLAY"] = board_x.display, kiosk_x.display
        board = procs.start("board", [*py, "display", "--screenshot-dir", str(shots / "board"), *run],
                            env=board_env, log=logs / "board.log")
        boards = [("board", board)]
        if headless:
            # The other board profiles play the same feed beside it, each in a virtual screen of its
            # own size, at a low frame cap (a screenshot per segment needs no smooth motion).
            for name in EXTRA_BOARD_PROFILES:
                profile = PROFILES[name]
                screen = start_xvfb(profile.width, profile.height)
                procs.xvfbs.append(screen)
                boards.append((f"board {name}", procs.start(
                    f"board-{name}", [*py, "display", "--profile", name, "--max-fps", "8",
                                      "--screenshot-dir", str(shots / f"board-{name}"), *run],
                    env={**env, "DISPLAY": screen.display}, log=logs / f"board-{name}.log")))
        kiosk_args = ["--screenshot-dir", str(shots / "kiosk"), "--idcard-control", control_port]
        if headless:
            kiosk_args += ["--script", "demo"]
        kiosk = procs.start("kiosk", [*py, "kiosk", *kiosk_args, *run], env=kiosk_env, log=logs / "kiosk.log")

        print(f"5/6 running: hub http://127.0.0.1:{hub_port}/ , staff PIN {DEMO_PIN}"
              + (f", for {seconds:.0f} s" if seconds else ", Ctrl-C stops everything"))
        print(f"    console http://127.0.0.1:{hub_port}/console/ users: "
              + "; ".join(f"{u} / {p} ({n})" for u, (p, n, _r) in CONSOLE_USERS.items()))
        # Console screenshots in Chromium while the station runs (the pages of registrations
        # are taken again once the station has delivered what residents registered).
        delivered = threading.Event()
        console_shots = threading.Thread(target=_console_screenshots, daemon=True,
                                         args=(f"http://127.0.0.1:{hub_port}/", shots / "hub", out, delivered))
        console_shots.start()
        deadline = started + seconds + 60 if seconds else None
        watched = [*boards, ("kiosk", kiosk)]
        while (any(p.poll() is None for _n, p in watched)
               and (deadline is None or time.monotonic() < deadline)):
            if hub.poll() is not None:
                raise CommandError(f"the hub stopped (exit {hub.returncode}); see {logs}/hub.log")
            time.sleep(0.25)
        failed = [(name, p.returncode) for name, p in watched if p.poll() not in (None, 0)]
        if failed:
            raise CommandError(", ".join(f"the {n} failed (exit {c})" for n, c in failed) + f"; see {logs}")
        print("6/6 delivering what residents registered; console screenshots")
        _yizhan("sync", "--once", "--no-progress", env=env, log=logs / "sync.log")
        delivered.set()
        console_shots.join(timeout=180)
    except KeyboardInterrupt:
        print("stopping the demo")
        return exitcodes.INTERRUPTED
    finally:
        procs.stop()
    pictures = sorted(shots.rglob("*.png"))
    print(f"screenshots ({len(pictures)}) in {shots}:")
    for picture in pictures:
        print(f"  {picture.relative_to(out)}")
    print(f"logs in {logs}")
    errors = server_errors(logs / "hub.log")
    if errors:
        # A 500 is a fault even when every page was drawn (it was "database is locked" once).
        print(f"the hub answered {len(errors)} request(s) with a server error (500): {'; '.join(errors[:5])}"
              f"; see {logs / 'hub.log'}", file=sys.stderr)
        return exitcodes.FAILURE
    return exitcodes.OK if pictures or not headless else exitcodes.FAILURE


# Flask logs every request it answers with a 500 as "Exception on <path> [<METHOD>]" with the
# traceback; waitress logs a failure below Flask as "Exception while serving <path>".
SERVER_ERROR_RE = re.compile(r"Exception on (\S+) \[([A-Z]+)\]|Exception while serving (\S+)")


def server_errors(log: Path) -> list[str]:
    """The requests a hub's log shows answered with a server error, as "METHOD path"."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = SERVER_ERROR_RE.search(line)
        if match:
            found.append(f"{match.group(2)} {match.group(1)}" if match.group(1) else match.group(3))
    return found
