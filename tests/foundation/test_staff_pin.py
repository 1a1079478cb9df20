"""The staff PIN: at least 6 digits, hashed with argon2id at a cost that makes one guess take
0.5 s or more on the station's CPU; the older PBKDF2 hashes still open staff mode, and
``yizhan config check`` says to make them again. (The time of one guess is measured by
bench/pin.py, not asserted here: the cost is asserted through the hash's own parameters.)"""

from __future__ import annotations

import hashlib

import pytest
from settings_kit import MINIMAL

from common import exitcodes
from config import config_cli
from config.cli import main
from config.settings import (
    PIN_MEMORY_KIB,
    PIN_TIME_COST,
    check_pin,
    hash_pin,
    parse_settings,
    pin_cost,
    pin_needs_rehash,
)


def legacy_hash(pin: str, rounds: int = 1000) -> str:
    """A hash as older programs made it (PBKDF2-SHA256, 72 ms a guess at their 200 000 rounds)."""
    salt = bytes(range(16))
    return f"pbkdf2_sha256${rounds}${salt.hex()}${hashlib.pbkdf2_hmac('sha256', pin.encode(), salt, rounds).hex()}"


def test_the_pin_hash_is_argon2id_at_the_station_cost() -> None:
    digest = hash_pin("246810")
    cost = pin_cost(digest)
    assert cost is not None and cost["scheme"] == "argon2id"
    assert cost["memory_kib"] >= PIN_MEMORY_KIB >= 128 * 1024 and cost["time_cost"] >= PIN_TIME_COST >= 3
    assert check_pin("246810", digest) and not check_pin("246811", digest)
    assert not pin_needs_rehash(digest)


@pytest.mark.parametrize("pin", ["2468", "13579", "12345a", "１２３４５６", "1234567890123"])
def test_fewer_than_6_digits_or_anything_but_digits_is_refused(pin: str) -> None:
    with pytest.raises(ValueError, match="6 to 12 digits"):
        hash_pin(pin)


def test_an_older_pbkdf2_hash_still_works_and_is_reported(station, capsys: pytest.CaptureFixture[str]) -> None:
    old = legacy_hash("2468")
    assert check_pin("2468", old) and not check_pin("2469", old)  # a station's existing PIN still opens staff mode
    assert pin_needs_rehash(old) and pin_cost(old) == {"scheme": "pbkdf2_sha256", "rounds": 1000}
    settings = parse_settings(MINIMAL + f'\n[kiosk]\nstaff_pin_hash = "{old}"\n')
    assert settings.masked()["kiosk"]["staff_pin_hash"] == "pbkdf2_sha256$****"
    with station.config_path.open("a", encoding="utf-8") as f:
        f.write(f'\n[kiosk]\nstaff_pin_hash = "{old}"\n')
    assert main(["config", "check", str(station.config_path)]) == exitcodes.OK
    err = capsys.readouterr().err
    assert "warning: kiosk.staff_pin_hash" in err and "hash-pin" in err and old not in err


def test_a_weak_argon2_hash_is_reported_and_a_malformed_one_refused() -> None:
    weak = hash_pin("246810", time_cost=1, memory_kib=8)
    assert check_pin("246810", weak) and pin_needs_rehash(weak)
    with pytest.raises(Exception, match="not a well-formed PIN hash"):
        parse_settings(MINIMAL + '\n[kiosk]\nstaff_pin_hash = "$argon2id$v=19$m=oops"\n')
    assert not check_pin("246810", "$argon2id$v=19$m=oops") and not check_pin("246810", "")


def test_hash_pin_raises_the_cost_until_a_guess_takes_half_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    costs: list[int] = []

    def cheap(pin: str, *, time_cost: int) -> str:  # the real scheme, at a memory cost a test can afford
        costs.append(time_cost)
        return hash_pin(pin, time_cost=time_cost, memory_kib=8)

    monkeypatch.setattr(config_cli, "hash_pin", cheap)
    # A fast machine: a check at time cost t takes 0.05 * t seconds (injected clock).
    now = [0.0]
    pending: list[float] = []

    def clock() -> float:
        if pending:
            now[0] += pending.pop()
        else:
            pending.append(0.05 * costs[-1])
        return now[0]

    digest, took = config_cli.hash_pin_for_this_machine("246810", clock=clock)
    assert costs[0] == PIN_TIME_COST and costs[-1] > PIN_TIME_COST
    assert took >= 0.5 and pin_cost(digest)["time_cost"] == costs[-1] >= 10
    assert took == 0.05 * costs[-1]
