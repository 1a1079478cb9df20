"""Benchmark: ID card placed -> ``CardRead`` delivered, and the CPU cost of idle polling.

The simulated reader runs in its own process (``yizhan idcard simulate``) and releases
bytes at wire speed; the reader service runs here, as in the kiosk. For each read the
latency runs from the find-card request that first sees the card (timed by the
simulator) to the moment the event reaches the callback. The floor is the wire time of
the same bytes: find, select, read (10-byte request + 1295-byte reply) and newest
address exchanges, at 10 bits per byte. The wait for the next poll after placing a card
(0-300 ms) is shown separately: it is the polling interval, not the service's cost.

Idle CPU: the service polls an empty reader for a while; the CPU time of this process
(the service thread does all the work here) divided by the wall time.

    .venv/bin/python bench/idcard.py            # 200 reads, 10 s idle (about 2 minutes)
    .venv/bin/python bench/idcard.py --quick    # 50 reads, 5 s idle
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from common.netutil import free_port, wait_for_port  # noqa: E402
from idcard import protocol  # noqa: E402
from idcard.frames import Response  # noqa: E402
from idcard.samples import SAMPLE_IDENTITIES  # noqa: E402
from idcard.service import CardRead, CardRemoved, ReaderEvent, ReaderOnline, ReaderService  # noqa: E402
from idcard.simulator import control_client, read_reply_data, wire_time  # noqa: E402

TARGET_OVERHEAD_MS = 15.0
TARGET_IDLE_CPU_PCT = 1.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def exchange_bytes(index: int) -> int:
    """Bytes on the wire for one card read of sample ``index`` as the service does it."""
    card = SAMPLE_IDENTITIES[index]
    request = len(protocol.FIND_CARD.encode())
    find = request + len(Response(0x9F, bytes(4)).encode())
    select = request + len(Response(0x90, bytes(8)).encode())
    read = request + len(Response(0x90, read_reply_data(card, fingerprint=False)).encode())
    if card.newest_address:
        address = request + len(Response(0x90, bytes(70)).encode())
    else:
        address = request + len(Response(0x91).encode())
    return find + select + read + address


def start_simulator(baud: int, control_port: int) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-c", "import sys; from config.cli import main; sys.exit(main())",
               "idcard", "simulate", "--json", "--baud", str(baud), "--control-port", str(control_port)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    info = json.loads(process.stdout.readline())
    wait_for_port(control_port)
    return process, info["path"]


def wait_for(events: queue.Queue[tuple[ReaderEvent, float]], kind: type[ReaderEvent],
             timeout: float = 5.0) -> tuple[ReaderEvent, float]:
    deadline = time.monotonic() + timeout
    while True:
        event, at = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(event, kind):
            return event, at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--quick", action="store_true", help="50 reads and 5 s of idle polling")
    args = parser.parse_args()
    if args.quick:
        args.reads, args.idle_seconds = 50, 5.0

    control_port = free_port()
    simulator, path = start_simulator(args.baud, control_port)
    events: queue.Queue[tuple[ReaderEvent, float]] = queue.Queue()
    service = ReaderService(path, baud=args.baud, poll_interval=0.3, reply_timeout=1.0,
                            on_event=lambda event: events.put((event, time.monotonic())))
    try:
        with control_client(control_port) as control:
            service.start()
            wait_for(events, ReaderOnline)

            # -- idle polling CPU -------------------------------------------------------
            time.sleep(1.0)
            sim_process = psutil.Process(simulator.pid)
            finds_before = control.state()["requests"].get("find", 0)
            sim_cpu_before = sum(sim_process.cpu_times()[:2])
            cpu_before, wall_before = time.process_time(), time.monotonic()
            time.sleep(args.idle_seconds)
            cpu_used, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
            sim_cpu = sum(sim_process.cpu_times()[:2]) - sim_cpu_before
            polls = control.state()["requests"].get("find", 0) - finds_before
            idle_cpu_pct = 100 * cpu_used / wall

            # -- placed -> delivered --------------------------------------------------------
            latencies, floors, overheads, waits = [], [], [], []
            phase = random.Random(467)
            for i in range(args.reads):
                index = i % len(SAMPLE_IDENTITIES)
                time.sleep(phase.uniform(0, 0.3))  # residents do not place cards in step with the polls
                control.place(index)
                event, delivered = wait_for(events, CardRead)
                assert event.card.id_number == SAMPLE_IDENTITIES[index].id_number, "wrong card delivered"
                timing = control.timing()
                latency = delivered - timing["detected_at"]
                floor = wire_time(exchange_bytes(index), args.baud)
                latencies.append(latency * 1000)
                floors.append(floor * 1000)
                overheads.append((latency - floor) * 1000)
                waits.append((timing["detected_at"] - timing["placed_at"]) * 1000)
                control.remove()
                wait_for(events, CardRemoved)
    finally:
        service.stop()
        simulator.terminate()
        simulator.wait(timeout=10)

    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    floor50, floor95 = percentile(floors, 50), percentile(floors, 95)
    over50, over95 = percentile(overheads, 50), percentile(overheads, 95)
    read_reply = len(Response(0x90, read_reply_data(SAMPLE_IDENTITIES[1], fingerprint=False)).encode())

    print(f"ID card reader over the simulator at {args.baud} baud, {args.reads} reads "
          f"(all {len(SAMPLE_IDENTITIES)} sample cards in turn), poll interval 300 ms")
    print(f"read reply {read_reply} B = {wire_time(read_reply, args.baud) * 1000:.1f} ms on the wire; "
          f"whole read {exchange_bytes(1)}-{exchange_bytes(0)} B incl. find, select, newest address")
    print()
    print(f"{'':38}{'p50':>10}{'p95':>10}{'max':>10}")
    print(f"{'detected -> CardRead delivered (ms)':38}{p50:>10.1f}{p95:>10.1f}{max(latencies):>10.1f}")
    print(f"{'wire-time floor, same bytes (ms)':38}{floor50:>10.1f}{floor95:>10.1f}{max(floors):>10.1f}")
    print(f"{'overhead above the floor (ms)':38}{over50:>10.1f}{over95:>10.1f}{max(overheads):>10.1f}")
    print(f"{'placed -> detected, poll wait (ms)':38}{percentile(waits, 50):>10.1f}"
          f"{percentile(waits, 95):>10.1f}{max(waits):>10.1f}")
    print(f"latency / floor at p50: {p50 / floor50:.3f}x")
    print(f"overhead at p95 {over95:.1f} ms (target <= {TARGET_OVERHEAD_MS:.0f} ms): "
          f"{'met' if over95 <= TARGET_OVERHEAD_MS else 'NOT met'}")
    print()
    print(f"idle polling for {wall:.1f} s: {polls} find-card polls ({polls / wall:.2f}/s), "
          f"reader side {cpu_used * 1000:.0f} ms CPU = {idle_cpu_pct:.3f} % of a core "
          f"(target < {TARGET_IDLE_CPU_PCT:.0f} %: {'met' if idle_cpu_pct < TARGET_IDLE_CPU_PCT else 'NOT met'}); "
          f"simulator process {100 * sim_cpu / wall:.3f} %")
    print()
    print(f"FIGURE idcard_read_latency_p50 {p50:.1f} ms")
    print(f"FIGURE idcard_read_latency_p95 {p95:.1f} ms")
    print(f"FIGURE idcard_wire_floor_p50 {floor50:.1f} ms")
    print(f"FIGURE idcard_overhead_p95 {over95:.1f} ms")
    print(f"FIGURE idcard_latency_over_floor_p50 {p50 / floor50:.3f} ratio")
    print(f"FIGURE idcard_idle_cpu {idle_cpu_pct:.3f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
