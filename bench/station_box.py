"""The station under a real systemd (``../shared/tools/systemd-box``): install to screens drawn,
a code-only OTA's size and time beside the full bundle's, and recovery after the display
server dies.

    .venv/bin/python bench/station_box.py          (as root; boots a throwaway systemd)

1. ``yizhan install`` of the full bundle (bootstrapped from the bundle with Debian's
   /usr/bin/python3 as the README says) until kiosk and board are both active, which for
   their ``Type=notify`` units means READY=1: the first frame drawn;
2. a code-only bundle (same lock: no wheels) offered through the feed; ``yizhan upgrade run``
   from start to ``ok``: download, install beside, switch, restart, selfcheck and the health
   check's settle time (20 s here, 60 s on a box), so the settle time is reported apart;
3. the display server killed (kill -9 of the session's Xvfb) until both faces are active
   again with new processes (their first frame drawn on the new display).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "box")]

SETTLE_S = 20


def main() -> int:
    from box_kit import FACES, prepare_station_box

    work = Path(tempfile.mkdtemp(prefix="yizhan-bench-box-"))
    station = prepare_station_box(work)
    box = station.box
    try:
        start = time.monotonic()
        done = station.install()
        if done.returncode != 0:
            raise SystemExit(f"install failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        box.wait_for(box.faces_up, timeout_s=300, what="both screens drawn")
        install_s = time.monotonic() - start

        code = station.code_bundle("9.9.1")
        station.offer(code)
        start = time.monotonic()
        run = box.run("/opt/yizhan/current/bin/yizhan", "upgrade", "run", "--settle-s", str(SETTLE_S), "--json",
                      check=False, timeout=900)
        ota_s = time.monotonic() - start
        if json.loads(run.stdout or "{}").get("status") != "ok":
            raise SystemExit(f"the code-only OTA did not pass: {run.stdout}{run.stderr}")
        box.wait_for(box.faces_up, timeout_s=120, what="both screens after the OTA")

        recoveries = []
        for _ in range(3):
            old = {unit: box.show(unit)["MainPID"] for unit in FACES}
            # The display server running (a MainPID of 0 is a session between runs: kill -9 0 would
            # kill the command itself).
            box.wait_for(lambda: box.show("yizhan-session.service").get("MainPID", "0") != "0", timeout_s=120,
                         what="the display server running")
            box.run("kill", "-9", box.show("yizhan-session.service")["MainPID"])
            start = time.monotonic()
            box.wait_for(lambda old=old: box.faces_up(old), timeout_s=120, what="both screens back")
            recoveries.append(time.monotonic() - start)
    finally:
        box.stop()
    full = next((work / "dist").glob("yizhan-*.tar"))
    full_mb, code_mb = full.stat().st_size / 1e6, code.stat().st_size / 1e6
    recovery = sorted(recoveries)[len(recoveries) // 2]
    rows = [
        ("yizhan install -> both screens drawn, s", f"{install_s:.1f}"),
        ("full bundle, MB", f"{full_mb:.1f}"),
        ("code-only OTA bundle, MB (target <= 2)", f"{code_mb:.2f}"),
        ("code-only / full bundle", f"{code_mb / full_mb:.3f}"),
        (f"code-only OTA run, s (of which settle {SETTLE_S} s)", f"{ota_s:.1f}"),
        ("display server killed -> both screens, s", " / ".join(f"{r:.1f}" for r in recoveries)),
    ]
    print(f"{'what':<52}{'value':>16}")
    for name, value in rows:
        print(f"{name:<52}{value:>16}")
    print(f"FIGURE box_install_to_screens_s {install_s:.1f} s")
    print(f"FIGURE ota_code_bundle_mb {code_mb:.2f} MB")
    print(f"FIGURE ota_code_vs_full_ratio {code_mb / full_mb:.3f} x")
    print(f"FIGURE ota_code_run_s {ota_s:.1f} s")
    print(f"FIGURE ota_code_run_without_settle_s {ota_s - SETTLE_S:.1f} s")
    print(f"FIGURE display_recovery_s {recovery:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
