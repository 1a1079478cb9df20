"""The print-queue worker service keeps "打印机恢复后自动打印" true without the kiosk.

A slip is queued with ``yizhan print test`` while the printer is out of paper (the command
says it will print when the printer is back, and exits). Then only the service's command
(``yizhan print serve``, the ExecStart of yizhan-print.service) runs; paper is loaded; the
slip prints.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from printer.queue import PrintQueue
from printer.virtual import VirtualPrinter

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "station" / "systemd" / "yizhan-print.service"


def _wait(predicate, what: str, limit: int = 1200) -> None:
    for _ in range(limit):  # waiting for an event; the bound only stops a broken test
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def test_a_slip_queued_while_out_of_paper_prints_when_paper_is_back(station, tmp_path: Path) -> None:
    printer = VirtualPrinter(tmp_path / "slips", control_port=None).start()
    try:
        config = station.config_path
        text = config.read_text().replace('[devices.printer]\nkind = "virtual"',
                                          f'[devices.printer]\nkind = "virtual"\nport = {printer.port}')
        config.write_text(text)
        settings = station.settings
        printer.set_state("paper_out")
        yizhan = str(Path(sys.executable).with_name("yizhan"))
        queued = subprocess.run([yizhan, "print", "test", "--timeout", "1", "--config", str(config)], capture_output=True, text=True,
                                timeout=120)
        assert "打印机恢复后自动打印" in queued.stdout, queued.stdout + queued.stderr
        assert printer.printed == []
        command = UNIT.read_text().split("ExecStart=/opt/yizhan/current/bin/yizhan ")[1].split("\n")[0].split()
        assert command == ["print", "serve"]
        worker = subprocess.Popen([yizhan, *command, "--config", str(config)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            printer.set_state("ready")  # paper loaded; nobody touches the kiosk
            _wait(lambda: len(printer.printed) == 1, "the slip printed")
            queue = PrintQueue(settings.db_path)
            try:
                _wait(lambda: queue.counts().get("printed") == 1, "the queue marked it printed")
            finally:
                queue.close()
        finally:
            worker.terminate()
            worker.wait(30)
    finally:
        printer.stop()
