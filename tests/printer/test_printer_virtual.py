"""The virtual network printer: real TCP, DLE EOT answers by state, jobs to PNG, holding while out of paper."""

from __future__ import annotations

import json
import socket
import threading

import pytest
import zxingcpp
from PIL import Image

from config.settings import PrinterSettings
from printer import slips
from printer.connections import open_connection, read_status
from printer.profiles import get_profile
from printer.samples import SAMPLE_URL, sample_job, sample_station
from printer.status import PrinterState, encode
from printer.virtual import STATES, VirtualPrinter, send_control


@pytest.fixture
def vp(tmp_path):
    with VirtualPrinter(tmp_path / "out", dots=576) as printer:
        yield printer


def settings_for(printer: VirtualPrinter) -> PrinterSettings:
    # 10 s for a status reply: the virtual printer answers, but a busy machine may be slow to
    return PrinterSettings(kind="virtual", port=printer.port, timeout_s=2.0, status_timeout_s=10)


def job_bytes() -> bytes:
    return slips.job_slip(sample_job(), station=sample_station(), profile=get_profile("generic-80"),
                          slip_no="V-1").data


@pytest.mark.parametrize("state", [s for s in STATES if s not in ("silent", "garbled")])
def test_dle_eot_answers_follow_the_state_over_tcp(vp, state):
    vp.set_state(state)
    with socket.create_connection(("127.0.0.1", vp.port), timeout=2) as sock:
        answers = {}
        for n in (1, 2, 3, 4):
            sock.sendall(b"\x10\x04" + bytes([n]))
            answers[n] = sock.recv(1)[0]
    assert answers == encode(PrinterState(state))
    assert read_status(settings_for(vp)).state is PrinterState(state)


def test_status_is_answered_while_a_job_prints(vp, monkeypatch):
    """DLE EOT is a real-time command: a printer answers it while it prints. The virtual printer's
    head renders a job apart from the status replies (it held them back while it rendered, and a
    busy machine's status poll then timed out and read the printer as unknown)."""
    import printer.virtual as virtual

    rendering, release = threading.Event(), threading.Event()
    real_finish = virtual.Renderer.finish

    def slow_finish(self):
        rendering.set()
        assert release.wait(30)
        return real_finish(self)

    monkeypatch.setattr(virtual.Renderer, "finish", slow_finish)
    with socket.create_connection(("127.0.0.1", vp.port), timeout=2) as sock:
        sock.sendall(b"\x1b@long slip\n\x1dV\x01")
    assert rendering.wait(30)
    try:
        assert read_status(settings_for(vp)).state is PrinterState.READY
        assert vp.printed == [] and [j.number for j in vp.held] == [1]
    finally:
        release.set()
    assert [j.number for j in vp.wait_for_printed(1)] == [1]


def test_a_slips_png_appears_only_whole(vp, monkeypatch):
    """Staff (and `yizhan print virtual`'s users) take a slip's PNG in the folder as the slip done:
    one half written must never be there to open (a busy machine's test opened one and failed)."""
    from PIL import Image

    saving, release = threading.Event(), threading.Event()
    real_save = Image.Image.save

    def slow_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as half:  # the first bytes are out, the rest still coming
            half.write(b"\x89PNG\r\n")
        saving.set()
        assert release.wait(30)
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", slow_save)
    with socket.create_connection(("127.0.0.1", vp.port), timeout=2) as sock:
        sock.sendall(b"\x1b@whole slip\n\x1dV\x01")
    assert saving.wait(30)
    try:
        assert sorted(p.name for p in vp.out_dir.glob("slip-0001*")) == [
            "slip-0001.bin", "slip-0001.json", "slip-0001.png.part"]
    finally:
        release.set()
    (job,) = vp.wait_for_printed(1)
    with Image.open(job.png) as image:
        assert image.width == vp.dots
    assert sorted(p.name for p in vp.out_dir.glob("slip-0001*")) == ["slip-0001.bin", "slip-0001.json", "slip-0001.png"]


def test_a_silent_or_garbled_printer_reads_as_unknown_quickly(vp):
    vp.set_state("silent")
    status = read_status(settings_for(vp), status_timeout=0.3)
    assert status.state is PrinterState.UNKNOWN and not status.printable and "no reply" in status.detail
    vp.set_state("garbled")
    status = read_status(settings_for(vp), status_timeout=0.3)
    assert status.state is PrinterState.UNKNOWN and "invalid reply 0x00" in status.detail


def test_nothing_listening_reads_as_offline(free_port):
    status = read_status(PrinterSettings(kind="network", port=free_port, timeout_s=0.5))
    assert status.state is PrinterState.OFFLINE and "无法连接打印机" in status.detail


def test_a_job_is_rendered_to_png_with_its_bytes_and_report(vp):
    data = job_bytes()
    with open_connection(settings_for(vp)) as conn:
        conn.write(data)
        assert conn.status().state is PrinterState.READY  # answered after the job, on the same connection
    (job,) = vp.wait_for_printed(1)
    assert job.data == data and job.png.name == "slip-0001.png"
    assert job.png.with_suffix(".bin").read_bytes() == data
    report = json.loads(job.png.with_suffix(".json").read_text(encoding="utf-8"))
    assert report["problems"] == [] and report["qr_codes"] == [SAMPLE_URL] and report["cuts"] == 1
    image = Image.open(job.png)
    assert image.width == 576
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [SAMPLE_URL]


def test_jobs_end_at_a_cut_or_when_the_connection_closes(vp):
    with socket.create_connection(("127.0.0.1", vp.port), timeout=2) as sock:
        sock.sendall(b"\x1b@first\n\x1dV\x01\x1b@second\n\x1dVB\x10\x1b@third\n")
    jobs = vp.wait_for_printed(3)
    assert [j.report.text for j in jobs] == ["first", "second", "third"]
    # A connection that only asks for status makes no job.
    read_status(settings_for(vp))
    assert len(vp.jobs) == 3


def test_out_of_paper_it_holds_jobs_and_prints_them_in_order_once_refilled(vp):
    vp.set_state("paper_out")
    for count, word in enumerate((b"one", b"two"), start=1):
        with socket.create_connection(("127.0.0.1", vp.port), timeout=2) as sock:
            sock.sendall(b"\x1b@" + word + b"\n\x1dV\x01")
        # each connection is served by a thread of its own: the next is sent once this one is in
        vp.wait_for_received(count)
    assert len(vp.held) == 2 and vp.printed == [] and not list(vp.out_dir.glob("*.png"))
    vp.set_state("ready")
    assert [j.report.text for j in vp.wait_for_printed(2)] == ["one", "two"]


def test_the_roll_can_run_out_in_the_middle_of_a_job(vp):
    vp.paper_left = 1
    for count, word in enumerate((b"one", b"two"), start=1):
        with socket.create_connection(("127.0.0.1", vp.port), timeout=2) as sock:
            sock.sendall(b"\x1b@" + word + b"\n\x1dV\x01")
        vp.wait_for_received(count)
    vp.wait_for_printed(1)  # the first one, printed by the head once received
    assert vp.state == "paper_out" and len(vp.printed) == 1 and [j.number for j in vp.held] == [2]
    vp.set_state("ready")
    vp.wait_for_printed(2)
    assert vp.paper_left is None  # a fresh roll


def test_control_port_switches_state_and_reports(vp):
    assert send_control(vp.control_port, "state") == "state ready"
    assert send_control(vp.control_port, "state cover_open") == "ok cover_open"
    assert read_status(settings_for(vp)).state is PrinterState.COVER_OPEN
    assert send_control(vp.control_port, "state on_fire").startswith("error unknown printer state 'on_fire'")
    status = json.loads(send_control(vp.control_port, "status"))
    assert status == {"state": "cover_open", "printed": 0, "held": 0, "port": vp.port, "dots": 576}
    assert send_control(vp.control_port, "paper 3") == "ok paper 3" and vp.paper_left == 3
    assert send_control(vp.control_port, "dance").startswith("error unknown command 'dance'")
