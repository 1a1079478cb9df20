"""Benchmark of the slip printer: build time, bytes per slip, wire time, end to end to the virtual printer.

Run alone: ``.venv/bin/python bench/printer.py [--quick]``. Measures

* the time to build a job slip's ESC/POS bytes (target: p95 <= 20 ms), 58 and 80 mm;
* the bytes of one job slip with the printer's own QR code (GS ( k), with a raster QR
  image, and as one whole-slip raster image, with the ratios between them;
* the time those bytes take on a serial line at 9600 and 115200 baud (10 bits a byte, 8N1,
  computed from the size: the printing itself comes on top);
* end to end: a slip submitted to the durable queue until the virtual printer on loopback
  has rendered it to a PNG.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.settings import PrinterSettings  # noqa: E402
from printer import slips  # noqa: E402
from printer.connections import connection_factory  # noqa: E402
from printer.escpos import INIT, raster_command  # noqa: E402
from printer.preview import render  # noqa: E402
from printer.profiles import get_profile  # noqa: E402
from printer.queue import PrintQueue, PrintService  # noqa: E402
from printer.samples import sample_job, sample_station  # noqa: E402
from printer.virtual import VirtualPrinter  # noqa: E402

BAUDS = (9600, 115200)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def build_times(profile_name: str, runs: int, native: bool) -> list[float]:
    profile, station = get_profile(profile_name), sample_station()
    jobs = [sample_job(id=f"J{i}", url=f"https://jobs.example.gov.cn/gy/job/J{i:05d}") for i in range(runs)]
    times = []
    for job in jobs:
        start = time.perf_counter()
        slips.job_slip(job, station=station, profile=profile, slip_no="250301-1032-7F3A", distance_km=2.3,
                       resident_name="张三丰", native_qr=native)
        times.append((time.perf_counter() - start) * 1000)
    return times


def sizes(profile_name: str) -> dict[str, int]:
    profile, station, job = get_profile(profile_name), sample_station(), sample_job()
    native = slips.job_slip(job, station=station, profile=profile, slip_no="X", native_qr=True).data
    raster = slips.job_slip(job, station=station, profile=profile, slip_no="X", native_qr=False).data
    image, _ = render(native, profile.dots)
    whole = INIT + raster_command(image) + b"\x1dVB\x50"
    return {"native QR": len(native), "raster QR": len(raster), "whole-slip raster": len(whole)}


def end_to_end(runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        done = threading.Event()
        printer = VirtualPrinter(Path(tmp) / "out", dots=576, chinese_default=False,
                                 on_job=lambda job: done.set()).start()
        queue = PrintQueue(Path(tmp) / "station.db")
        service = PrintService(queue, connection_factory(PrinterSettings(kind="virtual", port=printer.port)),
                               settle_s=0, poll_s=1.0).start()
        profile, station = get_profile("generic-80"), sample_station()
        times = []
        try:
            for i in range(runs):
                slip = slips.job_slip(sample_job(id=f"J{i}"), station=station, profile=profile, slip_no=str(i))
                done.clear()
                start = time.perf_counter()
                service.submit(slip.kind, slip.data, slip.label)
                if not done.wait(10):
                    raise TimeoutError("the virtual printer did not print the slip within 10 s")
                times.append((time.perf_counter() - start) * 1000)
        finally:
            service.stop()
            queue.close()
            printer.stop()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    runs = 50 if args.quick else 300
    e2e_runs = 10 if args.quick else 40

    figures: list[tuple[str, float, str]] = []
    print(f"job slip build time ({runs} slips each, ms)")
    print(f"  {'profile':<12} {'QR':<7} {'p50':>7} {'p95':>7} {'max':>7}")
    for name in ("generic-58", "generic-80"):
        for native in (True, False):
            build_times(name, 5, native)  # warm caches (fonts are not involved; qrcode tables are)
            t = build_times(name, runs, native)
            p50, p95 = statistics.median(t), percentile(t, 95)
            print(f"  {name:<12} {'native' if native else 'raster':<7} {p50:7.2f} {p95:7.2f} {max(t):7.2f}")
            if native:
                figures += [(f"printer_build_{name}_p50", p50, "ms"), (f"printer_build_{name}_p95", p95, "ms")]
    print("  target: p95 <= 20 ms")

    print("\nbytes per job slip and wire time at 8N1 (bytes * 10 / baud)")
    print(f"  {'profile':<12} {'kind':<18} {'bytes':>7} {'x native':>9} " + " ".join(f"{b:>9}" for b in BAUDS))
    for name in ("generic-58", "generic-80"):
        measured = sizes(name)
        base = measured["native QR"]
        for kind, size in measured.items():
            wire = [size * 10 / baud for baud in BAUDS]
            print(f"  {name:<12} {kind:<18} {size:7d} {size / base:9.1f} "
                  + " ".join(f"{w:8.2f}s" for w in wire))
            key = kind.replace(" ", "_").replace("-", "_").lower()
            figures.append((f"printer_bytes_{name}_{key}", size, "bytes"))
            if name == "generic-80":
                for baud, w in zip(BAUDS, wire, strict=True):
                    figures.append((f"printer_send_{name}_{key}_{baud}", w, "s"))
        figures.append((f"printer_ratio_{name}_whole_raster_vs_native", measured["whole-slip raster"] / base, "x"))
        figures.append((f"printer_ratio_{name}_raster_qr_vs_native", measured["raster QR"] / base, "x"))

    print(f"\nend to end: queue submit -> virtual printer PNG written ({e2e_runs} slips, ms)")
    t = end_to_end(e2e_runs)
    p50, p95 = statistics.median(t), percentile(t, 95)
    print(f"  p50 {p50:.1f}  p95 {p95:.1f}  max {max(t):.1f}")
    figures += [("printer_e2e_virtual_p50", p50, "ms"), ("printer_e2e_virtual_p95", p95, "ms")]

    print()
    for name, value, unit in figures:
        name = name.replace("-", "_")
        print(f"FIGURE {name} {value:.3f} {unit}" if unit != "bytes" else f"FIGURE {name} {value:.0f} {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
