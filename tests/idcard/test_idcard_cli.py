"""``yizhan idcard read|status|simulate`` as staff and the demo use them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from common import exitcodes
from config.cli import main
from idcard.port import open_port
from idcard.protocol import Reader
from idcard.samples import SAMPLE_IDENTITIES
from idcard.simulator import Simulator, control_client

YIZHAN = str(Path(sys.executable).parent / "yizhan")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def no_station_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("YIZHAN_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./station.toml: --port alone must be enough


def assert_masked(text: str) -> None:
    for card in SAMPLE_IDENTITIES:
        for secret in (card.name, card.id_number, card.address, card.newest_address):
            if secret:
                assert secret not in text


def test_read_json_is_one_masked_object(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    sim.place(0)
    code = main(["idcard", "read", "--port", sim.path, "--json", "--timeout", "3"])
    out = capsys.readouterr()
    assert code == exitcodes.OK
    data = json.loads(out.out)
    assert data["name"] == "张*试" and data["id_number"] == "1199**********9910"
    assert data["card_type"] == "resident" and data["nation"] == "汉" and data["gender"] == "男"
    assert data["newest_address"].startswith("某某省某某市") and "*" in data["newest_address"]
    assert data["valid_to"] == "2036-05-20" and data["photo_wlt_bytes"] == 1024
    assert_masked(out.out + out.err)


def test_read_waits_for_the_card_and_prints_fields(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    threading.Timer(0.5, sim.place, (2,)).start()
    code = main(["idcard", "read", "--port", sim.path, "--timeout", "5"])
    out = capsys.readouterr()
    assert code == exitcodes.OK
    assert "请将身份证放在感应区" in out.err
    assert "证件类型：居民身份证" in out.out and "姓名：王*例" in out.out
    assert "有效期限：2013-10-01 至 长期" in out.out and "状态：有效" in out.out
    assert_masked(out.out + out.err)


def test_read_times_out_with_exit_1(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["idcard", "read", "--port", sim.path, "--timeout", "0.5"])
    assert code == exitcodes.FAILURE
    assert "no card was placed within 0.5 s" in capsys.readouterr().err


def test_read_failure_is_explained_in_chinese(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    sim.place(1)
    sim.read_failure(1)
    code = main(["idcard", "read", "--port", sim.path, "--timeout", "2"])
    assert code == exitcodes.FAILURE
    assert "读卡失败，请重新放置身份证" in capsys.readouterr().err


def test_missing_port_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["idcard", "read", "--port", str(tmp_path / "ttyNONE"), "--timeout", "1"])
    assert code == exitcodes.UNAVAILABLE
    assert "cannot open the ID card reader port" in capsys.readouterr().err
    assert main(["idcard", "status", "--port", str(tmp_path / "ttyNONE")]) == exitcodes.UNAVAILABLE


def test_silent_port_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        code = main(["idcard", "read", "--port", os.ttyname(slave), "--timeout", "1"])
    finally:
        os.close(master)
        os.close(slave)
    assert code == exitcodes.UNAVAILABLE
    assert "does not answer" in capsys.readouterr().err


def test_status_shows_the_sam(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["idcard", "status", "--port", sim.path]) == exitcodes.OK
    out = capsys.readouterr().out
    assert "SAM 编号：05.01-20240101-0000012345-1234567890" in out and "操作成功" in out
    sim.sam_failure(True)
    assert main(["idcard", "status", "--port", sim.path, "--json"]) == exitcodes.FAILURE
    data = json.loads(capsys.readouterr().out)
    assert data["sw3"] == "0x60" and data["status_zh"] == "读卡器自检失败，请联系工作人员" and data["sam_id"] == ""


def test_read_uses_the_station_settings(station, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    station.write(f'[devices.idcard]\nport = "{sim.path}"\nbaud = 115200\n')
    sim.place(5)
    code = main(["idcard", "read", "--config", str(station.config_path), "--json", "--timeout", "3"])
    assert code == exitcodes.OK
    data = json.loads(capsys.readouterr().out)
    assert data["card_type_zh"] == "港澳台居民居住证" and data["permit_number"] == "*********"


def test_read_without_port_or_settings_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["idcard", "read"]) == exitcodes.CONFIG
    assert "no station settings found" in capsys.readouterr().err


def test_simulate_prints_its_path_and_takes_commands(tmp_path: Path, free_port: int) -> None:
    process = subprocess.Popen([YIZHAN, "idcard", "simulate", "--control-port", str(free_port)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=tmp_path)
    try:
        path = process.stdout.readline().strip()
        assert Path(path).is_symlink()
        with open_port(path, 115200, timeout=1) as port:
            reader = Reader(port)
            assert not reader.find_card()
            process.stdin.write("place 1\n")
            process.stdin.flush()
            assert process.stdout.readline().startswith("ok placed card 1")
            assert reader.find_card()
            assert reader.read_card().id_number == SAMPLE_IDENTITIES[1].id_number
            with control_client(free_port) as control:
                assert control.remove() == "card removed"
                assert not reader.find_card()
                control.command("list")
                assert len(control.last_lines) == len(SAMPLE_IDENTITIES) + 1
                assert_masked("\n".join(control.last_lines))
                control.command("quit")
        assert process.wait(timeout=60) == 0  # a hang guard: a busy machine stops slowly
        assert not Path(path).exists()
    finally:
        process.kill()
        process.wait()


def test_simulate_json_link_place_and_sigterm(tmp_path: Path) -> None:
    link = tmp_path / "ttyIDCARD"
    process = subprocess.Popen([YIZHAN, "idcard", "simulate", "--json", "--link", str(link), "--place", "3",
                                "--baud", "57600"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        info = json.loads(process.stdout.readline())
        assert info["path"] == str(link) and info["baud"] == 57600 and info["control_port"] is None
        assert os.path.realpath(link) == info["device"]
        with open_port(str(link), 57600, timeout=1) as port:
            reader = Reader(port)
            assert reader.find_card()
            assert reader.read_card().name == "阿依古丽·测试"
        assert process.poll() is None  # an empty stdin (a background job) does not stop it
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # a hang guard: a busy machine stops slowly
    finally:
        process.kill()
        process.wait()
    assert not link.exists()


def test_simulate_quits_on_the_quit_command_from_stdin(tmp_path: Path) -> None:
    result = subprocess.run([YIZHAN, "idcard", "simulate"], input="status\nquit\n", capture_output=True,
                            text=True, cwd=tmp_path, timeout=10)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    path = lines[0]
    state = json.loads(lines[1].removeprefix("ok "))
    assert state["path"] == path and state["plugged"] and state["placed"] is None
    assert lines[-1] == "ok bye"
    assert not Path(path).exists() and not Path(path).parent.exists()


class NotAReader:
    """The far end of a pseudo-terminal that is not a GA/T 467 reader: it echoes what it gets
    (a loop-back plug, a modem with echo on) or answers with line noise."""

    def __init__(self, mode: str) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.mode = mode
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import random
        import select

        rng = random.Random(5)
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(self.master, 4096)
                if self.mode == "echo":
                    os.write(self.master, chunk)
                else:  # noise with near-misses of the preamble
                    os.write(self.master, bytes(rng.randrange(256) for _ in range(40)) + b"\xaa\xaa\xaa\x96")
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self.slave)


@pytest.mark.parametrize("mode", ["echo", "noise"])
def test_a_port_that_is_not_a_reader_exits_4_and_says_so(mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = NotAReader(mode)
    try:
        code = main(["idcard", "read", "--port", port.path, "--timeout", "2"])
    finally:
        port.close()
    err = capsys.readouterr().err
    assert code == exitcodes.UNAVAILABLE, err
    assert f"no GA/T 467 reader answers on {port.path}" in err
    assert "读卡失败" not in err


@pytest.mark.parametrize(("fault", "command"), [
    ("badsum", "read"), ("truncate", "read"), ("badsum", "find"), ("truncate", "select"), ("garbage", "read"),
])
def test_one_corrupt_reply_is_retried_within_the_timeout(sim: Simulator, fault: str, command: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    sim.place(0)
    {"badsum": sim.corrupt_next_checksum, "truncate": sim.truncate_next_frame,
     "garbage": sim.inject_garbage}[fault](command)
    code = main(["idcard", "read", "--port", sim.path, "--json", "--timeout", "5"])
    out = capsys.readouterr()
    assert code == exitcodes.OK, out.err
    assert json.loads(out.out)["name"] == "张*试"
    assert_masked(out.out + out.err)
