"""``yizhan print`` end to end: a station, its store, and the virtual printer on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from common import exitcodes
from common.netutil import free_port, wait_for_port
from config.cli import main
from config.station import Station
from printer.samples import SAMPLE_URL, sample_job
from printer.virtual import VirtualPrinter
from protocol.model import ContentSet

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def vp(tmp_path):
    with VirtualPrinter(tmp_path / "printed", dots=576, chinese_default=False) as printer:
        yield printer


@pytest.fixture
def cfg(station, vp):
    text = station.config_path.read_text(encoding="utf-8")
    station.config_path.write_text(text.replace('profile = "generic-80"', f'profile = "generic-80"\nport = {vp.port}'),
                                   encoding="utf-8")
    store = Station(station.settings).store
    store.replace_content(ContentSet(jobs=[sample_job(valid_until=sample_job().published.replace(year=2099))]))
    store.close()
    return str(station.config_path)


def run(cfg: str, *args: str) -> int:
    return main(["print", *args, "--config", cfg])


def test_profiles_lists_ours(cfg, capsys):
    assert run(cfg, "profiles", "--json") == exitcodes.OK
    names = [p["name"] for p in json.loads(capsys.readouterr().out)]
    assert {"generic-58", "generic-80", "xprinter-58", "xprinter-80", "gprinter-58", "epson-tm-t20"} <= set(names)


def test_status_follows_the_printer(cfg, vp, capsys):
    assert run(cfg, "status") == exitcodes.OK
    assert "ready - 打印机就绪" in capsys.readouterr().out
    vp.set_state("paper_out")
    assert run(cfg, "status", "--json") == exitcodes.UNAVAILABLE
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == "paper_out" and data["message"] == "打印机缺纸，请装纸" and data["replies"]["4"] == "0x7E"


def test_print_job_reaches_the_printer_and_its_qr_decodes(cfg, vp, capsys):
    assert run(cfg, "job", "J1001") == exitcodes.OK
    assert "已打印：岗位推荐单 J1001" in capsys.readouterr().out
    (job,) = vp.wait_for_printed(1)
    assert job.report.problems == [] and "仓库分拣员" in job.report.text and "距本站约" in job.report.text
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(job.png))] == [SAMPLE_URL]


def test_print_test_page_with_raster_qr(cfg, vp, capsys):
    assert run(cfg, "test", "--raster-qr") == exitcodes.OK
    (job,) = vp.wait_for_printed(1)
    assert job.report.rasters and not job.report.qr_codes and "打印测试" in job.report.text
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(job.png))] == ["https://example.org/yizhan/test"]


def test_unknown_job_is_a_clear_error(cfg, capsys):
    assert run(cfg, "job", "NOPE") == exitcodes.FAILURE
    assert "no job 'NOPE' in the station store" in capsys.readouterr().err


def test_out_of_paper_the_slip_waits_in_the_queue_and_prints_after_refill(cfg, vp, capsys):
    vp.set_state("paper_out")
    assert run(cfg, "job", "J1001", "--timeout", "0.3") == exitcodes.UNAVAILABLE
    out = capsys.readouterr().out
    assert "未能打印：打印机缺纸，请装纸" in out and "已保存在打印队列（队列号 1" in out
    assert run(cfg, "queue") == exitcodes.OK
    assert "排队中  岗位推荐单 J1001  (打印机缺纸，请装纸)" in capsys.readouterr().out
    vp.set_state("ready")
    assert run(cfg, "test") == exitcodes.OK  # the next print works the queue, oldest first
    jobs = vp.wait_for_printed(2)
    assert "岗位推荐单" in jobs[0].report.text and "打印测试" in jobs[1].report.text
    capsys.readouterr()
    assert run(cfg, "queue", "--json") == exitcodes.OK
    assert json.loads(capsys.readouterr().out) == []


def test_queue_actions_from_the_command_line(cfg, vp, capsys):
    vp.set_state("offline")
    run(cfg, "job", "J1001", "--timeout", "0")
    capsys.readouterr()
    assert run(cfg, "queue", "cancel", "1") == exitcodes.OK
    assert "1: 已取消" in capsys.readouterr().out
    assert run(cfg, "queue", "cancel", "1") == exitcodes.FAILURE
    assert "cancel applies only to queued / check slips" in capsys.readouterr().err
    assert run(cfg, "queue", "retry") == exitcodes.USAGE
    assert run(cfg, "queue", "retry", "1") == exitcodes.OK
    assert run(cfg, "queue", "reprint", "1") == exitcodes.OK
    assert "新副本（队列号 2）" in capsys.readouterr().out


def test_preview_writes_the_png_staff_see(cfg, tmp_path, capsys):
    out = tmp_path / "slip.png"
    assert run(cfg, "preview", "J1001", "-o", str(out)) == exitcodes.OK
    assert "generic-80, 576x" in capsys.readouterr().out
    image = Image.open(out)
    assert image.width == 576 and [r.text for r in zxingcpp.read_barcodes(image)] == [SAMPLE_URL]
    assert run(cfg, "preview", "test", "-o", str(tmp_path / "t58.png"), "--profile", "xprinter-58") == exitcodes.OK
    assert Image.open(tmp_path / "t58.png").width == 384
    assert run(cfg, "preview", "J1001", "-o", str(out), "--profile", "nope") == exitcodes.CONFIG


def test_for_card_prints_the_residents_masked_name(cfg, vp, station, capsys):
    from idcard.samples import SAMPLE_IDENTITIES
    from idcard.simulator import Simulator

    card = SAMPLE_IDENTITIES[0]
    with Simulator([card]) as reader:
        with open(cfg, "a", encoding="utf-8") as f:
            f.write(f'\n[devices.idcard]\nport = "{reader.path}"\npoll_interval_ms = 100\n')
        reader.place(0)
        assert run(cfg, "job", "J1001", "--for-card", "--card-timeout", "10") == exitcodes.OK
    out = capsys.readouterr().out
    assert card.name not in out
    (job,) = vp.wait_for_printed(1)
    masked = card.name[0] + "*" * (len(card.name) - 2) + card.name[-1]
    assert f"求职人：{masked}" in job.report.text and card.name not in job.report.text


def _ctrl_c_as_at_a_terminal() -> None:
    """In the child: Ctrl-C (SIGINT) acts as it does at a terminal. A suite started in the
    background of a non-interactive shell (`make test &`) runs with SIGINT ignored, which
    children inherit, and the printer would never see the Ctrl-C this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_virtual(station, tmp_path, *extra: str) -> tuple[int, str]:
    """Start `yizhan print virtual`, print one slip on it, stop it with Ctrl-C: (slip width, stdout)."""
    port, control = free_port(), free_port()
    out = tmp_path / "vp"
    proc = subprocess.Popen([sys.executable, "-m", "config.cli", "print", "virtual", "--config",
                             str(station.config_path), "--port", str(port), "--control-port", str(control),
                             "--out", str(out), *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_at_a_terminal)
    try:
        wait_for_port(port)
        wait_for_port(control)
        from printer.virtual import send_control

        assert send_control(control, "state paper_near_end") == "ok paper_near_end"
        import socket

        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"\x1b@\x1c&" + "你好".encode("gb18030") + b"\n\x1dV\x01")
        deadline = time.monotonic() + 60  # only a guard against a hang: a busy machine renders slowly
        while not (out / "slip-0001.png").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        width = Image.open(out / "slip-0001.png").width
    finally:
        os.kill(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)  # a guard against a hang, not a speed bound
    assert proc.returncode == 0, stderr
    assert f"on 127.0.0.1:{port}" in stdout and "slip 1:" in stdout
    return width, stdout


def test_yizhan_print_virtual_runs_until_interrupted(station, tmp_path):
    width, _ = _run_virtual(station, tmp_path, "--paper", "58")
    assert width == 384


def test_the_virtual_printer_has_the_dots_of_the_stations_printer_profile(station, tmp_path):
    """A TM-T88II prints 512 dots on 80 mm paper: staff training on the virtual printer see the
    station's slips as they will come out, not 576 dots wide."""
    station.config_path.write_text(station.config_path.read_text(encoding="utf-8").replace(
        'profile = "generic-80"', 'profile = "escpos:TM-T88II"'), encoding="utf-8")
    width, stdout = _run_virtual(station, tmp_path)
    assert width == 512 and "512 dots" in stdout


def test_printing_leaves_nothing_behind_in_tmp(cfg, vp, tmp_path):
    """python-escpos makes a temp folder for its capabilities cache on import; a box that prints for
    months must not collect one per command."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("ESCPOS_CAPABILITIES_PICKLE_DIR", None)
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "config.cli", "print", "status", "--config", cfg],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp.iterdir()) == []
