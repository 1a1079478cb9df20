"""Benchmark of the staff PIN hash: what one guess costs an attacker who copied station.toml.

Run alone: ``.venv/bin/python bench/pin.py [--rounds 5]``. Measures, on this machine's CPU,
one wrong-PIN check (what each offline guess costs) for

* the older PBKDF2-SHA256 hash (200 000 rounds, still accepted and reported as to be re-hashed);
* argon2id at the station's cost (``config.settings.PIN_*``: 128 MiB, time cost 3, one lane);
* argon2id at the cost ``yizhan config hash-pin`` chooses here (raised until a check takes 0.5 s);

and the time one core needs to try every 4- and 6-digit PIN at each. The target: one guess
of at least 0.5 s on a station's CPU. Ends with ``FIGURE`` lines.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.config_cli import hash_pin_for_this_machine  # noqa: E402
from config.settings import PIN_ROUNDS, check_pin, hash_pin, pin_cost  # noqa: E402

PIN, WRONG = "246810", "135790"


def one_check_s(stored: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        assert not check_pin(WRONG, stored)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def legacy(pin: str) -> str:
    salt = bytes(16)
    return f"pbkdf2_sha256${PIN_ROUNDS}${salt.hex()}${hashlib.pbkdf2_hmac('sha256', pin.encode(), salt, PIN_ROUNDS).hex()}"


def span(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="checks per scheme (median)")
    args = parser.parse_args()
    calibrated, _ = hash_pin_for_this_machine(PIN)
    rows = [("pbkdf2_sha256, 200 000 rounds (older)", legacy(PIN)),
            ("argon2id, station cost", hash_pin(PIN)),
            ("argon2id, as `config hash-pin` sets it here", calibrated)]
    print(f"{'scheme':46} {'cost':28} {'one guess':>10} {'all 4 digits':>13} {'all 6 digits':>13}")
    figures = {}
    for name, stored in rows:
        cost = pin_cost(stored) or {}
        shown = (f"{cost['memory_kib'] // 1024} MiB, t={cost['time_cost']}, p={cost['parallelism']}"
                 if cost.get("scheme") == "argon2id" else f"{cost.get('rounds')} rounds")
        guess = one_check_s(stored, args.rounds)
        figures[name] = guess
        print(f"{name:46} {shown:28} {guess * 1000:8.0f} ms {span(guess * 1e4):>13} {span(guess * 1e6):>13}")
    station = figures["argon2id, station cost"]
    print(f"target: one guess >= 500 ms on the station's CPU; at the station cost this CPU takes "
          f"{station * 1000:.0f} ms, and `config hash-pin` raises the cost where a CPU is faster")
    print(f"FIGURE pin_guess_ms {station * 1000:.0f} ms")
    print(f"FIGURE pin_guess_calibrated_ms {figures['argon2id, as `config hash-pin` sets it here'] * 1000:.0f} ms")
    print(f"FIGURE pin_guess_pbkdf2_ms {figures['pbkdf2_sha256, 200 000 rounds (older)'] * 1000:.0f} ms")
    print(f"FIGURE pin_6_digits_one_core_days {station * 1e6 / 86400:.1f} days")


if __name__ == "__main__":
    main()
