"""Screens off at night: the commands go out at the schedule's edges, to the real tools'
command lines, recorded by fake ``cec-client`` and ``xset`` programs put first on PATH."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from config.cli import main
from config.station import screen_schedule

FAKE = """#!/bin/sh
# records how it was called and what it was told on stdin
{{ printf '%s' "$(basename "$0")"; for a in "$@"; do printf ' %s' "$a"; done
   if [ "$(basename "$0")" = cec-client ]; then printf ' <<'; tr '\\n' ';' ; fi; echo; }} >> {log}
"""


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "commands.log"
    for name in ("cec-client", "xset"):
        (bin_dir / name).write_text(FAKE.format(log=log))
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log.write_text("")
    return log


def _commands(log: Path) -> list[str]:
    lines = log.read_text().splitlines()
    log.write_text("")
    return lines


def test_commands_at_the_edges_only(station, recorded: Path) -> None:
    settings = station.write('[screens]\nboard_on = "07:30-20:00"\nkiosk_on = "08:30-18:00"\n'
                             'days = [1, 2, 3, 4, 5, 6]\ncec_port = "/dev/ttyACM0"\n')
    schedule = screen_schedule(settings)
    monday = dt.datetime(2026, 11, 30)
    minutes = [monday + dt.timedelta(minutes=m) for m in range(0, 24 * 60 * 7, 1)]  # a whole week, minute by minute
    issued: list[tuple[dt.datetime, list[str]]] = []
    for now in minutes:
        lines = []
        if schedule.apply(now):
            lines = _commands(recorded)
            issued.append((now, lines))
    # the first call sets a known state (night: both off), then only the edges
    first_at, first = issued[0]
    assert first_at == monday
    assert "cec-client -s -d 1 /dev/ttyACM0 <<standby 0;" in first
    assert "xset -display :0 dpms force off" in first and "xset -display :0 dpms 0 0 300" in first
    edges = [(when.strftime("%a %H:%M"), lines) for when, lines in issued[1:]]
    assert [e[0] for e in edges[:4]] == ["Mon 07:30", "Mon 08:30", "Mon 18:00", "Mon 20:00"]
    assert edges[0][1] == ["cec-client -s -d 1 /dev/ttyACM0 <<on 0;as;"]
    assert edges[1][1] == ["xset -display :0 -dpms", "xset -display :0 dpms force on"]
    assert edges[2][1][-1] == "xset -display :0 dpms force off"
    assert edges[3][1] == ["cec-client -s -d 1 /dev/ttyACM0 <<standby 0;"]
    # six open days, four edges each; Sunday (7) stays dark: nothing after Saturday 20:00
    assert len(edges) == 6 * 4
    assert edges[-1][0] == "Sat 20:00"


def test_an_unset_clock_keeps_the_screens_on(station, recorded: Path) -> None:
    schedule = screen_schedule(station.settings)
    assert schedule.apply(dt.datetime(1970, 1, 1, 3, 0)) == ["board on", "kiosk on"]
    assert "cec-client -s -d 1 <<on 0;as;" in _commands(recorded)


def test_a_bad_schedule_is_refused_with_the_key_named(station, capsys) -> None:
    with station.config_path.open("a", encoding="utf-8") as f:
        f.write('\n[screens]\nboard_on = "20:00-07:30"\n')
    assert main(["screens", "status", "--config", str(station.config_path)]) == 3
    assert "screens.board_on: must be HH:MM-HH:MM with the start before the end" in capsys.readouterr().err


def test_screens_on_and_off_by_hand(station, recorded: Path, capsys) -> None:
    assert main(["screens", "off", "--config", str(station.config_path)]) == 0
    assert "cec-client -s -d 1 <<standby 0;" in _commands(recorded)
    assert main(["screens", "status", "--config", str(station.config_path)]) == 0
    assert "下次变化" in capsys.readouterr().out
