"""Run the station's flows with every log at DEBUG and scan everything written for the
personal data used: the card's name and ID number, the phone given at registration.

Flows: reading a card from the reader simulator, registering (stored, then delivered to
the hub by ``yizhan sync --once``), printing, the status commands, the doctor, the
monthly report. Scanned: every command's stdout and stderr, the hub's log records (it runs
in this process), and every text file the station wrote besides its encrypted database.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

from config.cli import main
from content.registrations import submit_registration
from hub.app import HubServer, create_app
from hub.storage import HubStore
from idcard.samples import SAMPLE_IDENTITIES
from printer.virtual import VirtualPrinter

CARD = SAMPLE_IDENTITIES[0]
PHONE = "13912345678"
SECRETS = (CARD.name, CARD.id_number, PHONE, CARD.id_number[:6] + CARD.id_number[-6:])


def _run(*args: str, timeout: float = 120) -> str:
    yizhan = str(Path(sys.executable).with_name("yizhan"))
    done = subprocess.run([yizhan, "-v", *args], capture_output=True, text=True, timeout=timeout)
    return done.stdout + done.stderr


def test_no_personal_data_in_any_log(station, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "hub"
    assert main(["hub", "keygen", "--home", str(home)]) == 0
    assert main(["hub", "example", str(home / "source"), "--jobs", "5"]) == 0
    assert main(["hub", "publish", str(home / "source"), "--home", str(home)]) == 0
    token = HubStore(home / "hub.db").add_station("test-station-01", "城东")
    public = (home / "feed.pub").read_text().strip()
    server = HubServer(create_app(home)).start()
    printer = VirtualPrinter(tmp_path / "slips", control_port=None).start()
    link = tmp_path / "ttyIDCARD"
    yizhan = str(Path(sys.executable).with_name("yizhan"))
    simulator = subprocess.Popen([yizhan, "-v", "idcard", "simulate", "--link", str(link), "--place", "0",
                                  "--no-timing"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs: list[str] = []
    try:
        config = station.config_path
        config.write_text(config.read_text().replace('[devices.printer]\nkind = "virtual"',
                                                     f'[devices.printer]\nkind = "virtual"\nport = {printer.port}')
                          + f'\n[hub]\nfeed_url = "{server.url}feeds/gy-yunyan/"\npublic_key = "{public}"\n'
                            f'upload_url = "{server.url}api/v1/"\nstation_token = "{token}"\n'
                            f'\n[devices.idcard]\nport = "{link}"\n')
        settings = station.settings
        for _ in range(600):  # wait for the simulator's port to appear
            if link.exists():
                break
            time.sleep(0.05)
        outputs.append(_run("idcard", "read", "--timeout", "30", "--config", str(config)))
        assert "**********" in outputs[-1]  # the card was read, masked
        person = {"name": CARD.name, "id_number": CARD.id_number, "gender": CARD.gender,
                  "birth_date": CARD.birth_date.isoformat(), "address": CARD.address, "phone": PHONE}
        submit_registration(settings.db_path, "求职", person, {"phone": PHONE}, station_id=settings.station.id,
                            key_dir=settings.data_dir)
        outputs.append(_run("sync", "--once", "--config", str(config)))
        assert HubStore(home / "hub.db").count("registration") == 1, outputs[-1]  # delivered
        for args in (("print", "test", "--timeout", "5"), ("sync", "--status"), ("stats",), ("doctor",),
                     ("stats", "report", "--month", "2026-11", "--out", str(tmp_path / "reports")),
                     ("upgrade", "status")):
            outputs.append(_run(*args, "--config", str(config)))
    finally:
        simulator.terminate()
        outputs.append(simulator.communicate(timeout=30)[0])
        printer.stop()
        server.stop()
    texts = {f"command {i}": text for i, text in enumerate(outputs)}
    texts["hub log"] = caplog.text
    for path in [*settings.data_dir.rglob("*"), *(tmp_path / "reports").rglob("*")]:
        if path.is_file() and path.suffix not in (".db", ".db-wal", ".db-shm", ".key", ".png", ".xlsx"):
            texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    leaks = [(where, secret) for where, text in texts.items() for secret in SECRETS if secret in text]
    assert not leaks, f"personal data in clear: {[(w, s[:2] + '…') for w, s in leaks]}"
    assert any("sync" in t for t in outputs)  # the scan saw real output
