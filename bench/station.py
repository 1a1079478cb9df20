"""Station operations benchmark: start-up to screens drawn, disk written per busy day, upgrade time
(under a real systemd: install to screens, code-only OTA, display recovery: bench/station_box.py).

Runs alone (``.venv/bin/python bench/station.py [--quick]``), on its own Xvfb and a hub on
127.0.0.1. Figures are noisy on a shared 2-core machine: compare runs on the same box.

* services started -> drawn: ``yizhan kiosk`` and ``yizhan display`` started as systemd
  would (``NOTIFY_SOCKET`` set), until each sends READY=1, which the apps send on the tick
  after their first frame was drawn (Kivy under Xvfb, software GL);
* disk written per day at a busy station: 500 visits (each a few kiosk events, one in five
  a registration, one in two a printed slip; its usage events written in one batch at the
  end of the visit, as the kiosk does), the board's proof of play every 12 s for 12 h (in
  batches of 30, as the board does),
  a heartbeat every 5 min, and one log line per event through the rate limiter, against a
  real store: the bytes the process wrote (``/proc/self/io`` wchar) and the growth of the
  files. Target (issue 15): <= 50 MB/day;
* upgrade: a release bundle downloaded from the hub over loopback with the resumable,
  verified download, installed beside the current release and switched to (a code-only
  bundle on a station that has the lock's environment: the usual upgrade), and, without
  --quick, a full bundle's download (every wheel).

``--budget`` runs instead the whole station on a one-core, 2 GB box (issue 29): the units in
``yizhan.slice`` with ``CPUQuota=100%`` and ``MemoryMax=2G`` under a real systemd, through a
day's visits, board loop and syncs (bench/station_budget.py says what and how).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "deploy"))



def write_station(folder: Path) -> Path:
    from config.station_file import write_station_file

    (folder / "data").mkdir(parents=True, exist_ok=True)
    return write_station_file(folder / "station.toml", {
        "station.id": "bench-station", "storage.data_dir": str(folder / "data"),
        "devices.idcard.port": "/nonexistent/ttyIDCARD", "kiosk.read_aloud": False})


def time_to_drawn(config: Path, runs: int) -> dict[str, list[float]]:
    from deploy.watchdog import SimulatedWatchdog

    yizhan = str(Path(sys.executable).with_name("yizhan"))
    results: dict[str, list[float]] = {"kiosk": [], "board": []}
    for _ in range(runs):
        for name, command in (("kiosk", [yizhan, "kiosk", "--windowed"]), ("board", [yizhan, "display"])):
            dog = SimulatedWatchdog([*command, "--config", str(config)], timeout_s=60,
                                    env={"KIVY_NO_CONSOLELOG": "1", "KIVY_NO_ARGS": "1"})
            try:
                started = time.perf_counter()
                dog.start(now=0)
                message = dog.wait_message(timeout=180)
                elapsed = time.perf_counter() - started
                if message is None or "READY=1" not in message:
                    raise SystemExit(f"{name} never said READY (got {message!r})")
                results[name].append(elapsed)
            finally:
                dog.close()
    return results


def io_written() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def busy_day(folder: Path, visits: int) -> tuple[int, int, dict[str, int]]:
    """Simulate a day's writes; return (bytes the process wrote, growth of the data folder)."""
    import datetime as dt

    from config.settings import load_settings
    from content.outbox import RecordBuffer, record_heartbeat, record_usage, usage_payload
    from content.registrations import submit_registration
    from deploy.logs import RateLimitFilter
    from display.proof import Play, PlayBuffer
    from printer.queue import PrintQueue

    settings = load_settings(write_station(folder))
    log_path = folder / "station.log"
    handler = logging.FileHandler(log_path)
    day_clock = [0.0]  # the simulated day's time, so that the rate limiter sees a day, not seconds
    handler.addFilter(RateLimitFilter(clock=lambda: day_clock[0]))
    logger = logging.getLogger("bench.station")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    person = {"name": "测试", "id_number": "52010319850312002X", "gender": "女", "birth_date": "1985-03-12",
              "address": "贵阳市", "phone": "13900001111"}
    record_usage(settings, "warmup")  # create the tables before measuring
    queue = PrintQueue(settings.db_path)
    usage = RecordBuffer(settings, "event", max_records=30, max_age_s=120)

    def size() -> int:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    before_io, before_size = io_written(), size()
    parts: dict[str, int] = {}
    mark = io_written()

    def part(name: str) -> None:
        nonlocal mark
        now = io_written()
        parts[name] = parts.get(name, 0) + now - mark
        mark = now

    for visit in range(visits):
        day_clock[0] = 8 * 3600 + visit * (10 * 3600 / visits)  # visits spread over 10 opening hours
        for event in ("wake", "open_jobs", "search", "open_job"):
            # as the kiosk does (kiosk/services.py): batched, written when the visit ends at the latest
            if usage.add_payload(usage_payload(event, source="kiosk", results=visit % 50)):
                usage.flush()
            part("kiosk usage events")
            logger.info("kiosk event %s", event)
            part("log lines")
        usage.flush()
        part("kiosk usage events")
        if visit % 5 == 0:
            submit_registration(settings.db_path, "求职", person, {"phone": person["phone"]},
                                station_id=settings.station.id, key_dir=settings.data_dir)
            part("registrations")
        if visit % 2 == 0:
            slip = queue.submit("job", b"\x1b@" + b"x" * 1200, "岗位推荐单")
            queue.claim(slip)
            queue.mark_sent(slip)
            queue.mark_printed(slip)
            part("print queue")
            logger.info("slip %s printed", slip)
            part("log lines")
    share = visits / 500  # the board and heartbeats scaled like the visits, so that --quick scales evenly
    board_clock = [0.0]
    plays = PlayBuffer(settings, profile="tv-1080p", monotonic=lambda: board_clock[0])
    for n in range(int(12 * 3600 // 12 * share)):
        board_clock[0] = n * 12.0  # the board as it runs: a segment every 12 s, batched writes
        if plays.add(Play("jobs", f"page-{n % 20}", dt.datetime.now(), 12.0, segment="jobs")):
            plays.flush()
    plays.flush()
    part("board proof of play")
    for beat in range(int(24 * 12 * share)):
        day_clock[0] = 86_400 + beat * 300
        record_heartbeat(settings, devices={"printer": {"ok": True}}, software_version="0.1.0")
        part("heartbeats")
        logger.warning("hub unreachable: %s", "connection refused")
        part("log lines")
    queue.close()
    handler.close()
    return io_written() - before_io, size() - before_size, parts


def upgrade_times(work: Path, full: bool) -> dict[str, float]:
    from deploy_kit import Built, seed_root

    from deploy import lock as locks
    from deploy import release
    from deploy.install import Layout, Report, ensure_env, install_release
    from deploy.upgrade import Upgrader
    from hub.app import HubServer, create_app
    from hub.releases import publish_release
    from protocol.feed import generate_private_key, private_key_pem, public_key_b64

    key = generate_private_key()
    built = Built(key, public_key_b64(key), Path(), "0.1.0", work)
    home = work / "hub"
    feed = home / "feeds" / "bench"
    feed.mkdir(parents=True)
    (feed / "manifest.json").write_text("{}")  # only the release offer is fetched here
    (home / "feed.key").write_bytes(private_key_pem(key))
    server = HubServer(create_app(home)).start()
    figures: dict[str, float] = {}
    try:
        root = work / "box"
        seed_root(root)
        layout = Layout(root=root)
        # the station already runs 0.1.0 with the lock's environment (made here from the
        # project's own wheelhouse; not timed)
        wheel = release.build_project_wheel(ROOT, work / "w0")
        full_bundle = release.build_bundle(work / "d0", key=key, project_wheel=wheel,
                                           lock=ROOT / locks.RUNTIME_LOCK, wheelhouse=ROOT / ".cache" / "wheelhouse")
        install_release(layout, full_bundle, public_key=built.public_key, report=Report())
        layout.current.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("releases/0.1.0", layout.current)
        config = write_station(work / "station")

        class Up:
            def restart(self) -> None: ...

            def problems(self) -> list[str]:
                return []

        code_bundle = built.code_bundle("0.1.1")
        publish_release(feed, code_bundle, key)
        upgrader = Upgrader(layout, feed_url=f"{server.url}feeds/bench/", public_key=built.public_key,
                            station_id="bench-station", config=config, services=Up())
        started = time.perf_counter()
        offer = upgrader.fetch_offer()
        path = upgrader.download(offer)
        downloaded = time.perf_counter()
        result = upgrader._round()
        switched = time.perf_counter()
        assert result.status == "ok", result
        figures["code_bundle_mb"] = code_bundle.stat().st_size / 1e6
        figures["code_download_s"] = downloaded - started
        figures["code_install_switch_check_s"] = switched - downloaded
        del path, ensure_env
        if full:
            publish_release(feed, full_bundle, key)
            shutil.rmtree(layout.data / "upgrade" / "downloads", ignore_errors=True)
            started = time.perf_counter()
            upgrader.download(upgrader.fetch_offer())
            figures["full_bundle_mb"] = full_bundle.stat().st_size / 1e6
            figures["full_download_s"] = time.perf_counter() - started
    finally:
        server.stop()
    return figures


def run_budget(quick: bool, quota_period: str) -> int:
    """``--budget``: kiosk, board, sync and the print worker in ``yizhan.slice`` with CPUQuota=100% and
    MemoryMax=2G, under a real systemd, through a day's visits (see bench/station_budget.py)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from station_budget import run_budget as budget

    return budget(quick, quota_period)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, smaller day, code-only upgrade")
    parser.add_argument("--budget", action="store_true",
                        help="the whole station in a one-core, 2 GB slice under a real systemd through a day's "
                             "load (bench/station_budget.py; as root, about 12 minutes, --quick about 5)")
    parser.add_argument("--quota-period", default="100ms",
                        help="with --budget: the CPU quota's period (CPUQuotaPeriodSec; 100ms is systemd's default)")
    args = parser.parse_args()
    if args.budget:
        return run_budget(args.quick, args.quota_period)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="yizhan-bench-kivy-"))
    from config.xvfb import start_xvfb

    display = start_xvfb(1920, 1920)
    os.environ["DISPLAY"] = display.display
    work = Path(tempfile.mkdtemp(prefix="yizhan-bench-station-"))
    try:
        drawn = time_to_drawn(write_station(work / "ui"), 1 if args.quick else 3)
        visits = 100 if args.quick else 500
        wrote, grew, parts = busy_day(work / "day", visits)
        scale = 500 / visits  # per day at 500 visits
        upgrade = upgrade_times(work / "upgrade", full=not args.quick)
    finally:
        display.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'what':<44}{'value':>12}")
    for name, values in drawn.items():
        print(f"{'start -> ' + name + ' drawn (READY), median s':<44}{sorted(values)[len(values) // 2]:>12.2f}")
    print(f"{'busy day: bytes written (wchar), MB':<44}{wrote / 1e6 * scale:>12.1f}")
    for name, value in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"{'  of which ' + name + ', MB':<44}{value / 1e6 * scale:>12.2f}")
    print(f"{'busy day: data folder growth, MB':<44}{grew / 1e6 * scale:>12.1f}")
    for name, value in upgrade.items():
        print(f"{'upgrade: ' + name:<44}{value:>12.2f}")
    print(f"FIGURE kiosk_drawn_s {sorted(drawn['kiosk'])[len(drawn['kiosk']) // 2]:.2f} s")
    print(f"FIGURE board_drawn_s {sorted(drawn['board'])[len(drawn['board']) // 2]:.2f} s")
    print(f"FIGURE disk_written_per_day {wrote / 1e6 * scale:.1f} MB")
    print(f"FIGURE log_written_per_day {parts.get('log lines', 0) / 1e6 * scale:.2f} MB")
    print(f"FIGURE upgrade_code_download_s {upgrade['code_download_s']:.2f} s")
    print(f"FIGURE upgrade_code_install_switch_s {upgrade['code_install_switch_check_s']:.2f} s")
    if "full_download_s" in upgrade:
        print(f"FIGURE upgrade_full_download_s {upgrade['full_download_s']:.2f} s")
        print(f"FIGURE upgrade_full_bundle_mb {upgrade['full_bundle_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
