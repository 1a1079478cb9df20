"""``yizhan doctor`` tells the truth about the devices and the disk, each fault made for real:
the virtual printer out of paper and its process frozen, a serial port where no reader
answers, a reader node the service user cannot open, a data disk filled to zero bytes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from common import exitcodes
from config.cli import main
from config.doctor import Surroundings, check_printer, check_reader, check_storage, run_checks
from deploy.privileges import Owner
from idcard.simulator import Simulator
from printer.virtual import VirtualPrinter

NOBODY = Owner("uid 4321", 4321, 4321, (4321,), "/")  # a service user with no account here


def _with(station, section: str, **values: object):
    """The station's settings with ``values`` set in ``section`` (the file edited as staff would)."""
    text = station.config_path.read_text(encoding="utf-8")
    lines = [f"{k} = {json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v}"
             for k, v in values.items()]
    head = f"[{section}]\n"
    if head in text:
        kept = []
        inside = False
        for line in text.splitlines():
            if line.strip().startswith("["):
                inside = line.strip() == head.strip()
            elif inside and line.split("=")[0].strip() in values:
                continue
            kept.append(line)
        text = "\n".join(kept) + "\n"
        text = text.replace(head, head + "\n".join(lines) + "\n", 1)
    else:
        text += "\n" + head + "\n".join(lines) + "\n"
    station.config_path.write_text(text, encoding="utf-8")
    return station.settings


# -- the printer -------------------------------------------------------------------------------
def test_printer_out_of_paper_is_not_a_pass(station, tmp_path: Path) -> None:
    with VirtualPrinter(tmp_path / "out") as printer:
        settings = _with(station, "devices.printer", kind="virtual", host="127.0.0.1", port=printer.port,
                         status_timeout_s=2)
        assert check_printer(settings).status == "ok"
        printer.set_state("paper_out")
        check = check_printer(settings)
        assert check.status == "fail" and check.name == "打印机"
        assert "缺纸" in check.detail and "请装纸" in check.detail
        printer.set_state("cover_open")
        assert "合上纸仓盖" in check_printer(settings).detail


@pytest.fixture
def frozen_printer(tmp_path: Path) -> Iterator[int]:
    """A virtual printer in a process of its own, stopped with SIGSTOP: its socket still accepts
    (the kernel does that), nothing answers."""
    script = textwrap.dedent(f"""
        import sys, time
        from printer.virtual import VirtualPrinter
        p = VirtualPrinter({str(tmp_path / 'frozen')!r}).start()
        print(p.port, flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        port = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGSTOP)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()


def test_a_frozen_printer_is_said_to_give_no_answer(station, frozen_printer: int) -> None:
    settings = _with(station, "devices.printer", kind="virtual", host="127.0.0.1", port=frozen_printer,
                     status_timeout_s=1)
    check = check_printer(settings)
    assert check.status == "fail"
    assert "打印机无应答" in check.detail and "关掉打印机电源再打开" in check.detail


# -- the ID card reader ------------------------------------------------------------------------
def test_a_port_where_no_reader_answers_fails(station) -> None:
    master, slave = os.openpty()  # a serial line with nothing on the other end
    try:
        settings = _with(station, "devices.idcard", enabled=True, port=os.ttyname(slave), reply_timeout_s=0.3)
        check = check_reader(settings)
        assert check.status == "fail" and check.name == "身份证读卡器"
        assert "读卡器没有应答" in check.detail and "USB 线" in check.detail
    finally:
        os.close(master)
        os.close(slave)
    settings = _with(station, "devices.idcard", port="/dev/null")
    check = check_reader(settings)
    assert check.status == "fail" and "打不开读卡器端口 /dev/null" in check.detail
    settings = _with(station, "devices.idcard", port="/dev/ttyNOPE9")
    assert "不存在" in check_reader(settings).detail


def test_a_simulated_reader_answers(station) -> None:
    simulator = Simulator()
    try:
        settings = _with(station, "devices.idcard", enabled=True, port=simulator.start(), reply_timeout_s=1)
        check = check_reader(settings)
        assert check.status == "ok" and "应答正常" in check.detail
    finally:
        simulator.stop()


def test_a_reader_the_kiosk_holds_is_not_probed(station) -> None:
    """The kiosk's reader service holds the port (exclusively): doctor reads the state it last
    published instead of cutting into its polling, and the service stays online throughout."""
    import time

    from config.station import Station

    simulator = Simulator()
    try:
        settings = _with(station, "devices.idcard", enabled=True, port=simulator.start(), reply_timeout_s=1)
        service = Station(settings).reader_service(live=True)
        service.start()
        try:
            deadline = time.monotonic() + 20
            while service.state != "online":
                assert time.monotonic() < deadline, service.state
                time.sleep(0.05)
            check = check_reader(settings)
            assert check.status == "ok", check
            assert "自助机正在使用读卡器" in check.detail and "读卡器应答正常" in check.detail
            assert service.state == "online"
        finally:
            service.stop(timeout=10)
        # Once the kiosk let go, doctor asks the reader itself again.
        check = check_reader(settings)
        assert check.status == "ok" and check.detail.startswith("读卡器应答正常")
    finally:
        simulator.stop()


def test_a_node_the_service_user_cannot_open_fails_though_root_can(station) -> None:
    simulator = Simulator()
    try:
        # The pty itself (the simulator's symlink sits in a folder only root may enter).
        node = Path(os.path.realpath(simulator.start()))
        settings = _with(station, "devices.idcard", enabled=True, port=str(node), reply_timeout_s=1)
        node.chmod(0o600)
        os.chown(node, 0, 0)
        assert os.geteuid() == 0  # root opens it; the service user would not
        check = check_reader(Surroundings(settings, service_user=NOBODY))
        assert check.status == "fail"
        assert "服务用户 uid 4321打不开" in check.detail and "dialout" in check.detail
        node.chmod(0o666)
        again = check_reader(Surroundings(settings, service_user=NOBODY))
        assert again.status == "ok", again
    finally:
        simulator.stop()


def test_the_service_user_is_the_data_folders_owner(station, open_dir: Path) -> None:
    """Without being told, the doctor checks as the owner of the data folder."""
    master, slave = os.openpty()
    try:
        data = open_dir / "data"
        data.mkdir()
        os.chown(data, NOBODY.uid, NOBODY.gid)
        node = os.ttyname(slave)
        os.chmod(node, 0o600)
        _with(station, "storage", data_dir=str(data))
        settings = _with(station, "devices.idcard", enabled=True, port=node, reply_timeout_s=0.3)
        [check] = run_checks(settings, checks=(check_reader,))
        assert check.status == "fail" and "服务用户 uid 4321" in check.detail
    finally:
        os.close(master)
        os.close(slave)


# -- a full disk -------------------------------------------------------------------------------
@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs filled to its last byte."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    with (folder / "filler").open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    with contextlib.suppress(OSError), (folder / "filler2").open("wb") as f:
        while True:
            f.write(b"\0")
            f.flush()


def test_a_full_disk_is_a_line_in_every_command(station, full_disk: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from config.station import Station

    settings = _with(station, "storage", data_dir=str(full_disk / "data"), free_space_floor_mb=0)
    Station(settings).close()  # the station has run before: its database exists
    _fill(full_disk)
    check = check_storage(settings)
    assert check.status == "fail" and "数据盘已满" in check.detail and "删除不需要的文件" in check.detail

    code = main(["doctor", "--config", str(station.config_path)])
    out, err = capsys.readouterr()
    assert code == exitcodes.FAILURE and "✗ 数据盘" in out and "Traceback" not in out + err
    monkeypatch.setenv("DISPLAY", ":0")
    for argv in (["sync", "--once", "--no-progress"], ["print", "test"], ["kiosk", "--windowed"]):
        code = main([*argv, "--config", str(station.config_path)])
        out, err = capsys.readouterr()
        assert code == exitcodes.UNAVAILABLE, argv
        assert "数据盘已满" in err and "Traceback" not in out + err, argv


def test_a_read_only_disk_is_said_so(station, full_disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = _with(station, "storage", data_dir=str(full_disk / "data"))
    settings.data_dir.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(full_disk)], check=True)
    assert "只读" in check_storage(settings).detail
    code = main(["sync", "--once", "--no-progress", "--config", str(station.config_path)])
    assert code == exitcodes.UNAVAILABLE and "只读" in capsys.readouterr().err
