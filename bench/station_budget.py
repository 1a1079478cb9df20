"""The whole station on a budget box (issue 29): kiosk, board, sync and the print worker together
in ``yizhan.slice`` with ``CPUQuota=100%`` and ``MemoryMax=2G`` (one core, 2 GB) under a real
systemd (``../shared/tools/systemd-box``), through a day's load.

Run as ``.venv/bin/python bench/station.py --budget [--quick]`` (as root: it boots a box).

What runs, all of it the installed release in the box (``yizhan install`` of this checkout's
bundle, bench/station_box.py's helpers), the box's own hub on its loopback:

* the station's units as shipped, in the slice, the budget set at run time
  (``systemctl set-property --runtime yizhan.slice CPUQuota=100% MemoryMax=2G``);
* the devices outside the slice, as the hardware they stand for: the ID card simulator (a
  pseudo-terminal speaking GA/T 467 at wire speed, cards placed through its control port) and
  the virtual ESC/POS printer on 127.0.0.1:9100, which the print worker and the kiosk print to;
* the kiosk's unit runs the real app built as ``yizhan kiosk`` builds it (:mod:`config.faces`,
  Type=notify, the watchdog pinged from its loop) under :class:`kiosk.driver.Driver`, driven by
  this module's ``--face kiosk``: real touches through the window's input path, 500 visits
  (``--quick``: 100), each 找工作, two letters, a job, every second visit a printed slip, every
  fifth an ID card placed and a 求职登记 filled in and sent (the outbox, then the sync);
* the board's unit runs the real board (``yizhan display``) with a loop of short segments that
  includes a training video, its presented frames recorded from outside (``--face board``:
  ``Window.on_flip``, the board's own motion frame counter);
* the sync every 30 s against the hub, delivering the registrations and heartbeats.

The quota is counted over systemd's 100 ms period (``--quota-period`` sets
``CPUQuotaPeriodSec``): on a machine with two cores a quota may let the slice run on both for
half a period and then stop it. Measured with 10 ms the board fared no better (11.3 % of its
frames over the cap against 9.3 %) and fewer visits fit the time: what the board lacks under
the day is the core itself, not the quota's shape.

The day is compressed by running visits back to back (a pause of ``GAP_S`` between them), not by
moving any clock: every figure is real time in the box. Figures: watchdog kills and OOM kills
(the journal, ``NRestarts``/``Result``, the cgroups' ``memory.oom_control``), the peak memory of
each service's cgroup (cgroup v1 here: ``memory.max_usage_in_bytes``, page cache included, and
the main process's ``VmHWM``), card -> greeting p95 and tap -> list p90 as bench/kiosk.py
measures them, and the board's motion frames: the share presented later than 1.5 frame periods
of the cap after the one before (target <= 5 %) and the frame rate held while moving.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = "/opt/yizhan-bench"  # this module in the box
# What the faces write (the services may write only below /var/lib/yizhan).
OUT_DIR = os.environ.get("YIZHAN_BENCH_OUT", "/var/lib/yizhan/budget")
CARD_CONTROL_PORT = 7001
PRINTER_PORT = 9100
READER_LINK = "/run/yizhan-bench/ttyIDCARD"
GAP_S = 0.05  # a resident leaving and the next one stepping up (the kiosk keeps running frames)
SYNC_INTERVAL_S = 30
QUOTA_PERIOD = "100ms"  # systemd's default; see the module docstring
JOBS = 300
BOARD_ALONE_FRAMES = 100  # motion frames the board is measured alone for (about three page turns)
BOARD_ALONE_S = 150  # at most
FACE_UNITS = ("yizhan-kiosk.service", "yizhan-board.service")
BUDGET_UNITS = ("yizhan-session.service", *FACE_UNITS, "yizhan-sync.service", "yizhan-print.service")
LATE_FACTOR = 1.5  # a motion frame later than 1.5 periods of the cap missed its slot
STILL_GAP_S = 1.0  # a longer wait between motion frames is two moves (a page held still between)

# A board loop of about three minutes with every kind of segment, a training video included, on
# all day (the example's videos play only around lunchtime on weekdays).
BUDGET_SCHEDULE = {
    "version": 1,
    "on_hours": [],
    "segments": [
        {"id": "jobs-a", "kind": "jobs", "seconds": 40, "title": "附近岗位", "page_s": 8},
        {"id": "policy", "kind": "policy", "seconds": 12, "title": "政策速递"},
        {"id": "video", "kind": "video", "seconds": 45, "title": "技能培训"},
        {"id": "jobs-b", "kind": "jobs", "seconds": 40, "title": "附近岗位", "page_s": 8},
        {"id": "event", "kind": "event", "seconds": 10, "title": "招聘活动"},
        {"id": "station", "kind": "station", "seconds": 8, "title": "服务站信息"},
    ],
}


def pct(values: list[float], q: float) -> float:
    """The q-quantile as bench/kiosk.py takes it (nearest rank)."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


# ---------------------------------------------------------------------------------------------
# in the box: the kiosk's day


class _Flips:
    """Times of the frames the window presented, and of the switch to the greeting."""

    def __init__(self, app: Any) -> None:
        from kivy.core.window import Window

        self.flips: list[float] = []
        self.switched: list[float] = []
        Window.bind(on_flip=lambda *_a: self.flips.append(time.perf_counter()))
        app.bind(screen_name=self._screen)

    def _screen(self, _app: Any, name: str) -> None:
        if name == "resident":
            self.switched.append(time.perf_counter())


def _card_to_greeting(driver: Any, flips: _Flips, place: Any) -> float:
    """ms from a card placed to the last frame of the greeting (bench/kiosk.py's measure)."""
    app = driver.app
    reads = app.counts.get("card_read", 0)
    flips.switched.clear()
    del flips.flips[:-1]
    began = time.perf_counter()
    place()
    driver.until(lambda: app.counts.get("card_read", 0) > reads and app.screen_name == "resident",
                 timeout=15, what="the greeting")
    first = len(flips.flips)
    quiet = 0
    for _frame in range(30):  # until three frames in a row present nothing
        before = len(flips.flips)
        driver.frame()
        quiet = quiet + 1 if len(flips.flips) == before else 0
        if quiet == 3:
            break
    shown = [t for t in flips.flips[max(0, first - 1):] if t >= flips.switched[0]]
    return (shown[-1] - began) * 1000 if shown else (time.perf_counter() - began) * 1000


def _reach(driver: Any, widget: Any) -> None:
    """Tap ``widget``, first scrolling the page to it on a short (landscape) screen."""
    fit = getattr(driver.app.screen, "fit", None)
    if fit is not None and fit.do_scroll_y:
        fit.scroll_to(widget, padding=0, animate=False)
        driver.pump(frames=2)
    driver.tap(widget, frames=1)


def _register(driver: Any) -> None:
    """求职登记 from the greeting to 登记成功, as kiosk/demo.py's tour fills it in."""
    from kiosk.demo import DEMO_PHONE

    app = driver.app
    _reach(driver, app.screen.ids.register_button)
    _reach(driver, next(w for w in driver.walk(app.screen) if "求职登记" in str(getattr(w, "text", ""))
                        and hasattr(w, "trigger_action")))
    form = app.screen
    for digit in DEMO_PHONE:
        _reach(driver, form.ids.keypad.key(digit))
    _reach(driver, form.ids.next_button)
    for value in ("保洁", "家政"):
        _reach(driver, form.ids.choices.chip_for(value))
    _reach(driver, form.ids.next_button)
    _reach(driver, form.ids.choices.chip_for("3000-5000元"))
    _reach(driver, form.ids.next_button)
    _reach(driver, form.ids.choices.children[-1])  # 马上就可以
    _reach(driver, form.ids.next_button)
    driver.until(lambda: app.screen_name == "consent", what="the consent notice")
    _reach(driver, app.screen.ids.accept_button)
    driver.until(lambda: app.screen_name == "done", timeout=15, what="the confirmation")


def _leave(driver: Any) -> None:
    """The resident leaves from the top bar's 首页; a 好差评 asked is skipped."""
    app = driver.app
    if app.screen_name != "home":
        driver.tap(app.root.ids.home_button, frames=1)
    if app.rating.active:
        driver.tap(app.rating.ids.skip_rating_button, frames=1)


def _visit(driver: Any, n: int, flips: _Flips, card: Any, out: dict[str, Any]) -> None:
    app = driver.app
    home = app.sm.get_screen("home")
    began = time.perf_counter()
    driver.tap(home.ids.tile_jobs, frames=1)
    out["tap_ms"].append((time.perf_counter() - began) * 1000)
    jobs = app.screen
    for key in ("b", "j", "删除", "删除") if n % 2 == 0 else ("p", "g", "删除", "删除"):
        driver.tap(jobs.ids.keyboard.key(key), frames=1)  # a search typed, then cleared for the whole list
    found = driver.find(cls="JobCard")
    if found:
        driver.tap(found[0])
        driver.until(lambda: app.screen_name == "job", what="the job detail")
        if n % 2 == 0:
            driver.tap(app.screen.ids.print_button)
            driver.until(lambda: "打印" in app.notice_text or "排队" in app.notice_text, timeout=15,
                         what="the print message")
            out["slips"] += 1
            driver.pump(0.1)  # the slip on its way (only an ended visit, 结束, drops unprinted ones)
    if n % 5 == 0:
        _leave(driver)
        out["card_ms"].append(_card_to_greeting(driver, flips, lambda: card.place(n // 5 % 3)))
        try:
            _register(driver)
            out["registrations"] += 1
        finally:
            card.remove()
            driver.pump(0.1)  # the reader notices the card gone while the next residents search
            if app.screen_name == "done":
                driver.tap(app.screen.ids.finish_button, frames=1)
    _leave(driver)


def kiosk_day(visits: int, seconds: float, card_port: int) -> int:
    """The kiosk's unit: the real app, driven through ``visits`` visits (at most ``seconds``),
    then kept running (its loop, its watchdog) until the unit is stopped."""
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    from config.settings import load_settings
    from kiosk import boot

    settings = load_settings(os.environ["YIZHAN_CONFIG"])
    boot.prepare(settings, kiosk_mode=None)
    from config.faces import kiosk_app, kiosk_parts
    from idcard.simulator import control_client
    from kiosk.driver import Driver, DriverError

    out_file = Path(OUT_DIR) / "kiosk.json"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"tap_ms": [], "card_ms": [], "visits": 0, "slips": 0, "registrations": 0,
                           "failed": [], "done": False}
    card = control_client(card_port)
    with kiosk_parts(settings) as services:
        app = kiosk_app(settings, services)
        driver = Driver(app)
        driver.start()
        flips = _Flips(app)
        driver.until(lambda: app.reader_state == "online", timeout=60, what="the ID card reader online")
        began = time.monotonic()
        for n in range(visits):
            if time.monotonic() - began > seconds:
                break
            try:
                _visit(driver, n, flips, card, out)
            except DriverError as exc:  # said in the results; the next resident starts from home
                out["failed"].append(f"visit {n}: {exc}")
                app.reset_visit("bench")
            out["visits"] = n + 1
            driver.pump(GAP_S)
        out.update(done=True, seconds=time.monotonic() - began, errors_handled=app.errors_handled)
        out_file.write_text(json.dumps(out))
        while True:  # the station keeps running until the bench stops the unit
            driver.pump(1.0)


# ---------------------------------------------------------------------------------------------
# in the box: the board, its frames recorded


class BoardFrames:
    """The board's presented frames: those that carried motion (its MotionDriver counted a frame
    since the one before), how long after the previous motion frame each came, against the cap."""

    def __init__(self, app: Any, out_file: Path) -> None:
        self.app = app
        self.out_file = out_file
        self.flips = 0
        self.motion_frames = 0
        self.motion_s = 0.0
        self.late = 0
        self.worst_ms = 0.0
        self.caps: dict[str, int] = {}
        self._last_count = 0
        self._last_motion: float | None = None

    def flipped(self, *_args: Any) -> None:
        from display.driver import LOOP_RESOLUTION_S, loop_fps

        now = time.perf_counter()
        self.flips += 1
        motion = getattr(self.app, "driver", None)
        if motion is None or motion.frames == self._last_count:
            return
        self._last_count = motion.frames
        previous, self._last_motion = self._last_motion, now
        loop = loop_fps()
        if previous is None or not 0 < loop < 1000 or now - previous > STILL_GAP_S:
            return
        # The loop runs a little slower than the cap so that frames never come faster than it
        # (display.driver.capped_loop_fps): the cap is the frame rate that loop rate stands for.
        cap = 1.0 / (1.0 / loop - 1.8 * LOOP_RESOLUTION_S)
        interval = now - previous
        self.motion_frames += 1
        self.motion_s += interval
        self.worst_ms = max(self.worst_ms, interval * 1000)
        self.late += interval > LATE_FACTOR / cap
        self.caps[f"{cap:.0f}"] = self.caps.get(f"{cap:.0f}", 0) + 1

    def write(self, *_args: Any) -> None:
        self.out_file.write_text(json.dumps({
            "flips": self.flips, "motion_frames": self.motion_frames, "motion_s": self.motion_s,
            "late": self.late, "worst_ms": self.worst_ms, "caps": self.caps,
            "switches": getattr(self.app, "switches", 0),
            "max_fps": self.app.profile.max_fps, "scroll_fps": self.app.profile.scroll_fps}))


_KEEP: list[Any] = []


def board_watch() -> int:
    """The board's unit: ``yizhan display`` as shipped, its frames recorded from outside."""
    import config.faces as faces
    from config.cli import main

    out_file = Path(OUT_DIR) / "board.json"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    build = faces.board_app

    def instrumented(*args: Any, **kwargs: Any) -> Any:
        from kivy.clock import Clock
        from kivy.core.window import Window

        app = build(*args, **kwargs)
        frames = BoardFrames(app, out_file)
        _KEEP.append(frames)  # Kivy holds bound methods weakly: the recorder must outlive this call
        Window.bind(on_flip=frames.flipped)
        Clock.schedule_interval(frames.write, 5.0)
        return app

    faces.board_app = instrumented  # run_board builds through this name
    return main(["display"])


# ---------------------------------------------------------------------------------------------
# the host: the box, the budget, the day, the figures


def _dropin(face: str, extra: str) -> str:
    return ("[Service]\nExecStart=\n"
            f"ExecStart=/bin/sh -c 'exec env PYTHONPATH=/opt/yizhan/current/lib "
            f"/opt/yizhan/envs/*/bin/python -P "
            f"{BENCH_DIR}/station_budget.py --face {face} {extra}'\n")


def _cgroup(box: Any, controller: str, unit: str, name: str) -> str:
    path = f"/sys/fs/cgroup/{controller}/yizhan.slice/{'' if unit == 'yizhan.slice' else unit + '/'}{name}"
    done = box.run("cat", path, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def _vm_hwm_mb(box: Any, pid: str) -> float:
    if pid in ("", "0"):
        return float("nan")
    status = box.run("cat", f"/proc/{pid}/status", check=False).stdout
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _set_content(station: Any) -> None:
    """A station's worth of content (300 jobs, as bench/kiosk.py) and the budget's board loop in
    the example feed, published again (a new version) before install."""
    from config.cli import main

    source = station.work / "source"
    if main(["hub", "example", str(source), "--jobs", str(JOBS)]) != 0:
        raise SystemExit("could not write the example content")
    (source / "documents" / "board_schedule.json").write_text(json.dumps(BUDGET_SCHEDULE, ensure_ascii=False))
    if main(["hub", "publish", str(source), "--home", str(station.work / "hub")]) != 0:
        raise SystemExit("could not publish the budget's content")
    station.box.cp(station.work / "hub" / "feeds", "/root/hub")


def _register_station(station: Any) -> None:
    """The station registered at the box's hub (its upload token) and its uploads sent there, so that
    the day's registrations, events and heartbeats really leave the station."""
    import tomllib

    from box_kit import HUB_PORT, HUB_YIZHAN, STATION_ID

    from config.station_file import write_station_file

    added = station.box.run(HUB_YIZHAN, "hub", "station", "add", STATION_ID, "--home", "/root/hub", "--json")
    settings: dict[str, Any] = {}

    def flatten(table: dict[str, Any], prefix: str) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                flatten(value, f"{prefix}{key}.")
            else:
                settings[f"{prefix}{key}"] = value

    flatten(tomllib.loads(station.config.read_text(encoding="utf-8")), "")
    settings.update({"hub.station_token": json.loads(added.stdout)["token"],
                     "hub.upload_url": f"http://127.0.0.1:{HUB_PORT}/api/v1/"})
    write_station_file(station.config, settings)


def _start_devices(box: Any, config_in_box: str) -> None:
    box.run("systemd-run", "--unit=bench-printer", "/root/y/bin/yizhan", "--config", config_in_box, "print",
            "virtual", "--port", str(PRINTER_PORT), "--out", "/root/slips")


def _start_reader(box: Any) -> None:
    """The reader simulator as the service user (its pseudo-terminal is then the kiosk's to open)."""
    box.run("systemd-run", "--unit=bench-idcard", "--uid=yizhan", "-p", "RuntimeDirectory=yizhan-bench",
            "/opt/yizhan/current/bin/yizhan", "idcard", "simulate", "--control-port", str(CARD_CONTROL_PORT),
            "--link", READER_LINK)
    box.wait_for(lambda: box.run("test", "-e", READER_LINK, check=False).returncode == 0, timeout_s=60,
                 what="the simulated ID card reader")


def _read_json(box: Any, name: str) -> dict[str, Any]:
    done = box.run("cat", f"{OUT_DIR}/{name}", check=False)
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else {}


def run_budget(quick: bool, quota_period: str = QUOTA_PERIOD) -> int:
    """Boot the box, install, set the budget, run the day, print the table and FIGURE lines."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "box")]
    from box_kit import BoxError, prepare_station_box

    visits = 100 if quick else 500
    day_s = 200 if quick else 720  # a ceiling on the real time the visits may take
    work = Path(tempfile.mkdtemp(prefix="yizhan-bench-budget-"))
    started = time.monotonic()
    station = prepare_station_box(work, **{
        "hub.sync_interval_s": SYNC_INTERVAL_S, "kiosk.read_aloud": False,
        "devices.idcard.enabled": True, "devices.idcard.port": READER_LINK,
        "devices.printer.enabled": True, "devices.printer.kind": "virtual", "devices.printer.host": "127.0.0.1",
        "devices.printer.port": PRINTER_PORT})
    box = station.box
    try:
        _set_content(station)
        _register_station(station)
        config_in_box = box.cp(station.config, "/root/bench-config")
        _start_devices(box, config_in_box)
        done = station.install()
        if done.returncode != 0:
            raise SystemExit(f"install failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        box.wait_for(box.faces_up, timeout_s=300, what="both screens drawn")
        set_up_s = time.monotonic() - started
        _start_reader(box)
        box.run("systemctl", "set-property", "--runtime", "yizhan.slice", "CPUQuota=100%", "MemoryMax=2G",
                f"CPUQuotaPeriodSec={quota_period}")
        box.run("mkdir", "-p", BENCH_DIR)
        box.cp(Path(__file__).resolve(), BENCH_DIR)
        box.write("/etc/systemd/system/yizhan-board.service.d/budget.conf", _dropin("board", ""))
        box.write("/etc/systemd/system/yizhan-kiosk.service.d/budget.conf", _dropin(
            "kiosk", f"--visits {visits} --seconds {day_s} --card-port {CARD_CONTROL_PORT}"))
        box.run("systemctl", "daemon-reload")
        box.run("rm", "-rf", OUT_DIR)
        # New cgroups, so that their peaks are the day's. The board first, alone for a while
        # beside the kiosk's idle home screen: what the budget leaves it without residents.
        box.run("systemctl", "restart", "yizhan-board.service")
        alone_from = time.monotonic()
        with contextlib.suppress(BoxError):  # fewer turns in that time: the table says how many were measured
            box.wait_for(lambda: _read_json(box, "board.json").get("motion_frames", 0) >= BOARD_ALONE_FRAMES,
                         timeout_s=BOARD_ALONE_S, what="the board's page turns")
        board_alone = _read_json(box, "board.json")
        board_alone["seconds"] = time.monotonic() - alone_from
        box.run("systemctl", "restart", "yizhan-kiosk.service")
        restarts_before = {u: box.show(u).get("NRestarts", "0") for u in BUDGET_UNITS}
        day_start = time.monotonic()
        box.wait_for(lambda: _read_json(box, "kiosk.json").get("done", False), timeout_s=day_s + 300,
                     what="the kiosk's day")
        day_real_s = time.monotonic() - day_start
        figures = _collect(box, restarts_before)
        figures["day_real_s"] = day_real_s
        figures["board_alone"] = board_alone
        figures["set_up_s"] = set_up_s
    except BaseException:
        print(box.run("journalctl", "--no-pager", "-n", "80", "-u", "yizhan-kiosk", "-u", "yizhan-board",
                      check=False).stdout, file=sys.stderr)
        raise
    finally:
        box.stop()
        shutil.rmtree(work, ignore_errors=True)  # the bundles and the hub's copy: hundreds of MB
    return _report(figures, visits, quick)


def _collect(box: Any, restarts_before: dict[str, str]) -> dict[str, Any]:
    kiosk = _read_json(box, "kiosk.json")
    board = _read_json(box, "board.json")
    if not board:
        print(box.run("journalctl", "--no-pager", "-n", "60", "-u", "yizhan-board", check=False).stdout,
              file=sys.stderr)
    units: dict[str, dict[str, Any]] = {}
    for unit in BUDGET_UNITS:
        info = box.show(unit)
        units[unit] = {
            "restarts": int(info.get("NRestarts", "0")) - int(restarts_before.get(unit, "0")),
            "result": info.get("Result", "?"), "state": info.get("ActiveState", "?"),
            "peak_mb": int(_cgroup(box, "memory", unit, "memory.max_usage_in_bytes") or 0) / 2**20,
            "oom_kills": _oom_kills(_cgroup(box, "memory", unit, "memory.oom_control")),
            "hwm_mb": _vm_hwm_mb(box, info.get("MainPID", "0")),
        }
    journal = box.run("journalctl", "--no-pager", check=False).stdout
    stat = dict(line.split() for line in _cgroup(box, "cpu", "yizhan.slice", "cpu.stat").splitlines() if line)
    slips = box.sh("ls /root/slips 2>/dev/null | grep -c '\\.png$' || true", check=False).stdout.strip()
    sync = box.run("/opt/yizhan/current/bin/yizhan", "sync", "--status", "--json", check=False).stdout
    return {
        "kiosk": kiosk, "board": board, "units": units,
        "watchdog_kills": journal.count("Watchdog timeout"),
        "oom_journal": sum("oom" in line.lower() and "yizhan" in line for line in journal.splitlines()),
        "quota_us": _cgroup(box, "cpu", "yizhan.slice", "cpu.cfs_quota_us"),
        "period_us": _cgroup(box, "cpu", "yizhan.slice", "cpu.cfs_period_us"),
        "limit_bytes": _cgroup(box, "memory", "yizhan.slice", "memory.limit_in_bytes"),
        "slice_peak_mb": int(_cgroup(box, "memory", "yizhan.slice", "memory.max_usage_in_bytes") or 0) / 2**20,
        "slice_failcnt": _cgroup(box, "memory", "yizhan.slice", "memory.failcnt"),
        "throttled": stat, "slips_printed": int(slips or 0), "sync": _sync_status(sync),
        "syncs": journal.count("content.feed_client: sync:"),
    }


def _motion(board: dict[str, Any]) -> tuple[int, float, float]:
    """Motion frames, the share of them over the cap (%), the frame rate held while moving."""
    frames = int(board.get("motion_frames", 0))
    late = 100 * board.get("late", 0) / frames if frames else float("nan")
    held = frames / board["motion_s"] if board.get("motion_s") else float("nan")
    return frames, late, held


def _sync_status(text: str) -> dict[str, Any]:
    try:
        return json.loads(text)
    except ValueError:
        return {"last_status": f"no status: {text[:200]!r}"}


def _oom_kills(oom_control: str) -> int:
    for line in oom_control.splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def _report(f: dict[str, Any], visits: int, quick: bool) -> int:
    kiosk, board, units = f["kiosk"], f["board"], f["units"]
    restarts = sum(u["restarts"] for u in units.values())
    oom = sum(u["oom_kills"] for u in units.values()) + sum(u["result"] == "oom-kill" for u in units.values())
    alone = f["board_alone"]
    alone_motion, alone_late, alone_fps = _motion(alone)
    day = {k: board.get(k, 0) - alone.get(k, 0) for k in ("motion_frames", "late", "motion_s")}
    motion, late_share, fps_held = _motion(day)
    quota = (f"{int(f['quota_us']) / int(f['period_us']):.2f} core" if f["quota_us"] not in ("", "-1")
             else "none")
    limit = int(f["limit_bytes"] or 0) / 2**30
    throttled_s = int(f["throttled"].get("throttled_time", 0)) / 1e9
    print(f"station on a budget box ({'quick, ' if quick else ''}{kiosk.get('visits', 0)} of {visits} visits in "
          f"{kiosk.get('seconds', 0):.0f} s real time; set-up {f['set_up_s']:.0f} s)")
    rows = [
        ("yizhan.slice CPU quota (cgroup v1 cpu.cfs_quota_us/period)", quota),
        ("  the quota's period (CPUQuotaPeriodSec)", f"{int(f['period_us']) / 1000:.0f} ms"),
        ("yizhan.slice memory limit (memory.limit_in_bytes)", f"{limit:.2f} GiB"),
        ("slice throttled by the quota (periods / s)",
         f"{f['throttled'].get('nr_throttled', '?')} of {f['throttled'].get('nr_periods', '?')} / {throttled_s:.1f} s"),
        ("watchdog kills (journal) / restarts (NRestarts)", f"{f['watchdog_kills']} / {restarts}"),
        ("OOM kills (memory.oom_control, Result) / journal lines", f"{oom} / {f['oom_journal']}"),
        ("slice memory peak / limit hits (failcnt)", f"{f['slice_peak_mb']:.0f} MB / {f['slice_failcnt']}"),
        ("visits / slips asked / printed / registrations",
         f"{kiosk.get('visits', 0)} / {kiosk.get('slips', 0)} / {f['slips_printed']} / "
         f"{kiosk.get('registrations', 0)}"),
        ("visits that failed a step", f"{len(kiosk.get('failed', []))}"),
        ("sync rounds / content version, jobs / last round / left in the outbox",
         f"{f['syncs']} / v{f['sync'].get('version')}, {f['sync'].get('counts', {}).get('jobs')} / "
         f"{f['sync'].get('last_status')} / {f['sync'].get('outbox_depth')}"),
        ("tap 找工作 -> list drawn p50 / p90", f"{pct(kiosk.get('tap_ms', []), 0.5):.0f} / "
                                                f"{pct(kiosk.get('tap_ms', []), 0.9):.0f} ms"),
        ("card placed -> greeting drawn p50 / p95", f"{pct(kiosk.get('card_ms', []), 0.5):.0f} / "
                                                   f"{pct(kiosk.get('card_ms', []), 0.95):.0f} ms"),
        (f"board alone {alone.get('seconds', 0):.0f} s: motion frames / over the cap / fps held",
         f"{alone_motion} / {alone_late:.1f} % / {alone_fps:.1f}"),
        ("board in the day: motion frames / over the cap (> 1.5 periods)", f"{motion} / {day['late']} "
                                                               f"({late_share:.1f} %)"),
        ("board in the day: fps held while moving / cap", f"{fps_held:.1f} / {board.get('max_fps', '?')} "
                                              f"(caps seen {board.get('caps', {})})"),
        ("board segments switched / worst motion gap", f"{board.get('switches', 0)} / "
                                                       f"{board.get('worst_ms', 0):.0f} ms"),
    ]
    for unit, u in units.items():
        rows.append((f"{unit}: cgroup peak / VmHWM / restarts / result",
                     f"{u['peak_mb']:.0f} / {u['hwm_mb']:.0f} MB / {u['restarts']} / {u['result']}"))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    for failure in kiosk.get("failed", [])[:5]:
        print(f"  failed: {failure}")
    print(f"FIGURE budget_visits {kiosk.get('visits', 0)} count")
    print(f"FIGURE budget_day_real_s {f['day_real_s']:.0f} s")
    print(f"FIGURE budget_watchdog_kills {f['watchdog_kills']} count")
    print(f"FIGURE budget_restarts {restarts} count")
    print(f"FIGURE budget_oom_kills {oom} count")
    print(f"FIGURE budget_board_frames_over_cap {late_share:.1f} percent")
    print(f"FIGURE budget_board_fps_held {fps_held:.1f} fps")
    print(f"FIGURE budget_board_alone_frames_over_cap {alone_late:.1f} percent")
    print(f"FIGURE budget_board_alone_fps_held {alone_fps:.1f} fps")
    print(f"FIGURE budget_card_to_greeting_p95_ms {pct(kiosk.get('card_ms', []), 0.95):.0f} ms")
    print(f"FIGURE budget_tap_to_list_p90_ms {pct(kiosk.get('tap_ms', []), 0.9):.0f} ms")
    print(f"FIGURE budget_slice_memory_peak_mb {f['slice_peak_mb']:.0f} MB")
    print(f"FIGURE budget_slice_throttled_s {throttled_s:.1f} s")
    for unit, u in units.items():
        name = unit.removeprefix("yizhan-").removesuffix(".service")
        print(f"FIGURE budget_peak_memory_{name}_mb {u['peak_mb']:.0f} MB")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--face", choices=("kiosk", "board"), help=argparse.SUPPRESS)
    parser.add_argument("--visits", type=int, default=500, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=600, help=argparse.SUPPRESS)
    parser.add_argument("--card-port", type=int, default=CARD_CONTROL_PORT, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--quota-period", default=QUOTA_PERIOD)
    args = parser.parse_args()
    if args.face is None:
        return run_budget(args.quick, args.quota_period)
    try:
        if args.face == "kiosk":
            return kiosk_day(args.visits, args.seconds, args.card_port)
        return board_watch()
    except BaseException:
        # Kivy takes sys.stderr into its log: say what went wrong where the journal sees it.
        import traceback

        traceback.print_exc(file=sys.__stderr__)
        raise


if __name__ == "__main__":
    sys.exit(main())
