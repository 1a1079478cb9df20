"""The durable print queue with the virtual printer: paper out and refill, process kills, staff actions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from config.settings import PrinterSettings
from printer import queue as pq
from printer.connections import connection_factory
from printer.queue import PrintQueue, PrintService, QueueError
from printer.status import PrinterState
from printer.virtual import VirtualPrinter

REPO = Path(__file__).resolve().parents[2]


def slip(word: str) -> bytes:
    return b"\x1b@\x1c&" + word.encode("gb18030") + b"\n\x1dVB\x50"


@pytest.fixture
def vp(tmp_path):
    with VirtualPrinter(tmp_path / "out", dots=576) as printer:
        yield printer


@pytest.fixture
def queue(tmp_path):
    q = PrintQueue(tmp_path / "station.db")
    yield q
    q.close()


# How long a status read waits for the virtual printer's answer: room for a machine whose cores are
# all busy (a printer that answers is waited for; only a silent one uses up the time).
ANSWER_S = 10.0


def service(queue: PrintQueue, vp: VirtualPrinter, *, status_timeout: float = ANSWER_S, **kw) -> PrintService:
    return PrintService(queue, connection_factory(PrinterSettings(kind="virtual", port=vp.port, timeout_s=2),
                                                  status_timeout=status_timeout), settle_s=0, poll_s=0.05, **kw)


def printed_texts(vp: VirtualPrinter) -> list[str]:
    return [job.report.text for job in vp.printed]


def test_a_submitted_slip_is_on_disk_before_anything_is_sent(tmp_path, queue):
    slip_id = queue.submit("job", slip("岗位"), "岗位推荐单 J1")
    other = PrintQueue(tmp_path / "station.db")  # another process would see the same
    assert [(s.id, s.state, s.label, s.size) for s in other.pending()] == [(slip_id, "queued", "岗位推荐单 J1",
                                                                           len(slip("岗位")))]
    assert other.data(slip_id) == slip("岗位")
    other.close()
    with pytest.raises(ValueError, match="empty slip"):
        queue.submit("job", b"", "nothing")


def test_paper_out_then_refill_prints_the_slip_exactly_once(vp, queue):
    seen: list[PrinterState] = []
    svc = service(queue, vp, on_status=lambda s: seen.append(s.state))
    vp.set_state("paper_out")
    slip_id = queue.submit("job", slip("缺纸时提交"), "岗位推荐单 J1")
    assert svc.process_once() == pq.WAITING
    assert svc.process_once() == pq.WAITING
    row = queue.get(slip_id)
    assert row.state == "queued" and row.last_error == "打印机缺纸，请装纸" and vp.jobs == []
    vp.set_state("ready")
    assert svc.process_once() == pq.PRINTED
    assert queue.get(slip_id).state == "printed" and printed_texts(vp) == ["缺纸时提交"]
    assert svc.process_once() == pq.IDLE
    assert printed_texts(vp) == ["缺纸时提交"]
    assert seen == [PrinterState.PAPER_OUT, PrinterState.READY]


def test_paper_running_out_during_the_slip_keeps_it_sent_until_the_status_is_clean(vp, queue):
    svc = service(queue, vp)
    vp.paper_left = 0  # the roll ends during the next slip
    slip_id = queue.submit("job", slip("半张"), "岗位推荐单 J2")
    second = queue.submit("job", slip("下一张"), "岗位推荐单 J3")
    assert svc.process_once() == pq.SENT
    assert queue.get(slip_id).state == "sent" and queue.get(second).state == "queued"
    assert svc.process_once() == pq.WAITING  # not marked printed, next slip not sent
    assert queue.get(slip_id).state == "sent" and len(vp.jobs) == 1
    vp.set_state("ready")  # staff load paper: the printer prints what it held
    vp.wait_for_printed(1)
    assert svc.process_once() == pq.PRINTED  # confirms the first, sends the second
    assert queue.get(slip_id).state == "printed" and queue.get(second).state == "printed"
    assert printed_texts(vp) == ["半张", "下一张"]


@pytest.mark.parametrize("state", ["cover_open", "offline", "cutter_error", "silent", "garbled"])
def test_nothing_is_sent_while_the_printer_is_not_clean_or_does_not_answer(vp, queue, state):
    svc = service(queue, vp, status_timeout=0.3 if state == "silent" else ANSWER_S)
    vp.set_state(state)
    slip_id = queue.submit("job", slip("等待"), "x")
    assert svc.process_once() == pq.WAITING
    assert queue.get(slip_id).state == "queued" and vp.jobs == []
    assert not svc.last_status.printable


def test_an_unreachable_printer_leaves_the_slip_queued(queue, free_port):
    svc = PrintService(queue, connection_factory(PrinterSettings(kind="network", port=free_port, timeout_s=0.5)),
                       settle_s=0)
    slip_id = queue.submit("job", slip("x"), "x")
    assert svc.process_once() == pq.UNAVAILABLE
    assert queue.get(slip_id).state == "queued" and svc.last_status.state is PrinterState.OFFLINE
    assert queue.get(slip_id).last_error.startswith("打印机脱机，请检查电源和连接线（无法连接打印机")


def test_a_printer_without_status_counts_a_completed_write_as_printed(tmp_path, queue):
    target = tmp_path / "lp0"
    target.write_bytes(b"")
    svc = PrintService(queue, connection_factory(PrinterSettings(kind="file", file_path=str(target))), settle_s=0)
    slip_id = queue.submit("job", slip("文件"), "x")
    assert svc.process_once() == pq.PRINTED
    assert target.read_bytes() == slip("文件") and queue.get(slip_id).state == "printed"


def test_the_worker_thread_prints_in_order_and_reports_status(vp, queue):
    seen = []
    svc = service(queue, vp, on_status=seen.append).start()
    try:
        ids = [svc.submit("job", slip(f"第{i}张"), f"slip {i}") for i in range(3)]
        vp.wait_for_printed(3)
        deadline = time.monotonic() + 5
        while any(queue.get(i).state != "printed" for i in ids) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        svc.stop()
    assert [queue.get(i).state for i in ids] == ["printed"] * 3
    assert printed_texts(vp) == ["第0张", "第1张", "第2张"]
    assert seen and seen[0].state is PrinterState.READY


def test_two_workers_on_one_queue_never_print_a_slip_twice(vp, tmp_path):
    queues = [PrintQueue(tmp_path / "station.db") for _ in range(2)]
    for i in range(8):
        queues[0].submit("job", slip(f"S{i}"), f"slip {i}")
    workers = [service(q, vp) for q in queues]

    def drain(worker):
        while worker.process_once() != pq.IDLE:
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    vp.wait_for_printed(8)
    assert sorted(printed_texts(vp)) == sorted(f"S{i}" for i in range(8))
    assert queues[0].counts() == {"printed": 8}
    for q in queues:
        q.close()


def test_staff_actions_apply_only_where_they_make_sense(queue):
    a = queue.submit("job", slip("a"), "a")
    b = queue.submit("job", slip("b"), "b")
    assert queue.cancel(a).state == "cancelled"
    with pytest.raises(QueueError, match="slip 1 is cancelled"):
        queue.cancel(a)
    assert queue.retry(a).state == "queued"
    with pytest.raises(QueueError, match="retry applies only to check / cancelled slips"):
        queue.retry(b)
    with pytest.raises(QueueError, match="no slip 99"):
        queue.confirm(99)
    copy = queue.reprint(b)
    assert queue.data(copy) == slip("b") and copy not in (a, b)
    assert [s.id for s in queue.pending()] == [a, b, copy]


def test_purge_removes_only_old_finished_slips(queue):
    done = queue.submit("job", slip("a"), "a")
    waiting = queue.submit("job", slip("b"), "b")
    queue.cancel(done)
    queue._conn.execute("UPDATE print_jobs SET updated_at = '2000-01-01T00:00:00'")
    assert queue.purge(30) == 1
    assert queue.get(done) is None and queue.get(waiting).state == "queued"


def test_the_service_purges_old_slips_when_it_starts(queue, vp):
    old = queue.submit("job", slip("旧"), "old")
    queue.cancel(old)
    queue._conn.execute("UPDATE print_jobs SET updated_at = '2000-01-01T00:00:00'")
    svc = service(queue, vp, retention_days=30)
    assert svc.process_once() == pq.IDLE
    assert queue.get(old) is None


KILLER = textwrap.dedent("""
    import os, signal, sys
    from config.settings import PrinterSettings
    from printer.connections import connection_factory
    from printer.queue import PrintQueue, PrintService

    db, port, point = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def checkpoint(step):
        if step == point:
            os.kill(os.getpid(), signal.SIGKILL)

    service = PrintService(PrintQueue(db), connection_factory(PrinterSettings(kind="virtual", port=port)),
                           settle_s=0, checkpoint=checkpoint)
    service.process_once()
    sys.exit(3)  # not reached when the kill point is hit
""")


def run_and_kill(db: Path, vp: VirtualPrinter, point: str) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLER, str(db), str(vp.port), point], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr


@pytest.mark.parametrize(("point", "printed_before_restart", "state_after_restart"), [
    ("before_send", 0, "printed"),  # nothing durable happened: sent once after the restart
    ("written", 1, "check"),  # printed, not yet marked: never resent, staff confirm
    ("sent", 1, "printed"),  # marked sent: confirmed by status after the restart, never resent
    ("printed", 1, "printed"),
])
def test_a_process_kill_never_prints_a_slip_twice(vp, tmp_path, point, printed_before_restart, state_after_restart):
    db = tmp_path / "station.db"
    queue = PrintQueue(db)
    slip_id = queue.submit("job", slip("只打一次"), "岗位推荐单 J9")
    run_and_kill(db, vp, point)
    if printed_before_restart:
        vp.wait_for_printed(1)
    assert len(vp.jobs) == printed_before_restart
    # The station restarts: a new worker in a new process works the queue.
    svc = service(queue, vp)
    for _ in range(3):
        svc.process_once()
    vp.wait_for_printed(1)
    time.sleep(0.2)
    assert printed_texts(vp) == ["只打一次"]
    row = queue.get(slip_id)
    assert row.state == state_after_restart
    if state_after_restart == "check":
        assert "interrupted" in row.last_error
        assert queue.confirm(slip_id).state == "printed"
    assert printed_texts(vp) == ["只打一次"]
    queue.close()


def test_the_remaining_window_a_kill_while_sending_asks_staff_and_loses_nothing(vp, tmp_path):
    # Killed after 'sending' was committed but before the bytes left: the slip did not print.
    db = tmp_path / "station.db"
    queue = PrintQueue(db)
    slip_id = queue.submit("job", slip("中断"), "岗位推荐单 J10")
    run_and_kill(db, vp, "sending")
    svc = service(queue, vp)
    assert svc.process_once() == pq.IDLE
    row = queue.get(slip_id)
    assert row.state == "check" and vp.jobs == []  # not resent on its own: it might have printed
    queue.retry(slip_id)  # staff see nothing came out and retry
    assert svc.process_once() == pq.PRINTED
    vp.wait_for_printed(1)
    assert printed_texts(vp) == ["中断"] and queue.get(slip_id).state == "printed"
    queue.close()
