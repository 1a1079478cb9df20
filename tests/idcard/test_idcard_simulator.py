"""The simulator's own controls: text commands, the TCP control port, unplugging the device node."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from idcard.port import open_port
from idcard.protocol import Reader
from idcard.simulator import Simulator, SimulatorError, control_client


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.mark.parametrize(("line", "answer"), [
    ("place 99", "error no card 99: choose 0 to 7 ('list' shows them)"),
    ("place", "error bad arguments for 'place' (try 'help')"),
    ("slow soon", "error bad arguments for 'slow' (try 'help')"),
    ("slow -1", "error a delay cannot be negative"),
    ("badsum everything", "error unknown command 'everything': use one of reset_sam, sam_status, sam_id, "
                          "find, select, read, read_fingerprint, newest_address or any"),
    ("fly", "error unknown command 'fly' (try 'help')"),
    ("", "error empty command (try 'help')"),
])
def test_bad_commands_are_answered_with_an_error(sim: Simulator, line: str, answer: str) -> None:
    assert sim.handle_command(line) == [answer]


def test_faults_are_queued_and_cleared(sim: Simulator) -> None:
    assert sim.handle_command("badsum") == ["ok bad checksum on the next read reply"]
    assert sim.handle_command("truncate any") == ["ok the next reply will be cut short"]
    assert sim.handle_command("garbage find") == ["ok garbage before the next find reply"]
    assert sim.handle_command("readfail 2") == ["ok the next 2 read(s) will fail (0x41)"]
    assert sim.handle_command("samfail") == ["ok SAM self-test failure on"]
    state = sim.state()
    assert state["pending_faults"] == ["badsum:read", "truncate:any", "garbage:find"]
    assert state["read_failures"] == 2 and state["sam_failure"] is True
    assert sim.handle_command("clear") == ["ok faults cleared"]
    state = sim.state()
    assert state["pending_faults"] == [] and state["read_failures"] == 0 and not state["sam_failure"]


def test_unplug_makes_the_device_node_vanish(sim: Simulator) -> None:
    path, first = sim.path, sim.device
    assert os.path.realpath(path) == first
    sim.unplug()
    assert not os.path.lexists(path) and sim.device is None and not sim.plugged
    with pytest.raises(serial.SerialException):
        open_port(path, 115200)
    sim.replug()
    assert os.path.realpath(path) == sim.device
    with open_port(path, 115200, timeout=1) as port:
        assert Reader(port).sam_status().ok


def test_tcp_control_port(sim: Simulator) -> None:
    port = sim.serve_control(0)
    with control_client(port) as first, control_client(port) as second, \
            open_port(sim.path, 115200, timeout=1) as line:
        reader = Reader(line)
        assert first.place(4).startswith("placed card 4: 居民身份证 赵*期")
        assert reader.find_card()
        timing = second.timing()
        assert timing["placed_at"] <= timing["detected_at"]
        assert second.state()["requests"]["find"] == 1
        assert first.unplug() == "unplugged"
        assert not os.path.lexists(sim.path)
        assert second.replug().startswith(f"plugged in: {sim.path} -> /dev/pts/")
        with pytest.raises(SimulatorError, match="no card 8"):
            first.place(8)
        first.command("help")
        assert any("unplug / replug" in text for text in first.last_lines)


def test_stop_removes_the_link_and_its_folder() -> None:
    sim = Simulator()
    path = sim.start()
    folder = os.path.dirname(path)
    sim.stop()
    assert not os.path.lexists(path) and not os.path.exists(folder)


def test_link_never_replaces_a_real_file(tmp_path: Path) -> None:
    precious = tmp_path / "ttyIDCARD"
    precious.write_text("not a port")
    with pytest.raises(SimulatorError, match="exists and is not a symlink"):
        Simulator(link=precious).start()
    assert precious.read_text() == "not a port"


def test_in_process_port_behaves_like_a_cable() -> None:
    """``yizhansim://``: the reply logic through pyserial's URL handlers, unplug and all, no pty."""

    from idcard.clock import ManualClock
    from idcard.simulation.model import ReaderModel
    from idcard.simulation.protocol_yizhansim import serve_in_process, withdraw

    clock = ManualClock()
    model = ReaderModel(clock=clock)
    url = serve_in_process(model, "cable")
    assert url == "yizhansim://cable"
    try:
        with open_port(url, timeout=0.5) as port:
            reader = Reader(port, 0.5, clock)
            assert not reader.find_card()
            model.place(3)
            assert reader.find_card() and reader.read_card().name == "阿依古丽·测试"
            model.unplug()
            with pytest.raises(serial.SerialException, match="Input/output error"):
                reader.find_card()
        with pytest.raises(serial.SerialException, match="No such file or directory"):
            open_port(url)
        model.replug()
        with open_port(url, timeout=0.5) as port:
            assert Reader(port, 0.5, clock).sam_status().ok
        assert clock.monotonic() == 1000.0  # nothing waited
    finally:
        withdraw(url)
    with pytest.raises(serial.SerialException, match="no simulated reader"):
        open_port(url)
