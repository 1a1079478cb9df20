"""mypy over the rooms pyproject.toml's ``[tool.mypy]`` names: the contract, the leaf helpers,
the station's data and the hub, strict but for the modules listed there as not yet strict or not
yet covered. ``make lint`` runs the same check."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]


def test_the_configured_rooms_have_no_type_error() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--no-error-summary"],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"mypy found type errors:\n{result.stdout}{result.stderr}"


def test_the_contract_and_the_leaf_helpers_are_strict() -> None:
    config = _config()
    assert config["strict"] is True
    assert {"protocol", "common", "content", "hub"} <= set(config["files"])
    relaxed = [m for override in config.get("overrides", []) for m in override["module"]]
    assert not [m for m in relaxed if m.split(".")[0] in ("protocol", "common")], relaxed


CONFORMANCE = '''
from config.station import Station
from content.sync_loop import SyncLoop
from idcard.service import ReaderService
from kiosk.services import Part, PrinterPart, StationParts, SyncPart
from printer.queue import PrintService


def station(s: Station) -> StationParts:
    return s


def printer(p: PrintService) -> PrinterPart:
    return p


def sync(s: SyncLoop) -> SyncPart:
    return s


def reader(r: ReaderService) -> Part:
    return r
'''


def test_the_station_and_its_services_fit_the_kiosks_seams(tmp_path: Path) -> None:
    """kiosk.services.Services is typed by Protocols (the kiosk imports nothing of config/):
    what config/ hands it must fit them, as mypy sees it; a reader is no printer."""
    fits = tmp_path / "fits.py"
    fits.write_text(CONFORMANCE, encoding="utf-8")
    misfit = tmp_path / "misfit.py"
    misfit.write_text(CONFORMANCE + "\n\ndef wrong(r: ReaderService) -> PrinterPart:\n    return r\n",
                      encoding="utf-8")
    command = [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", "--no-error-summary"]
    good = subprocess.run([*command, str(fits)], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = subprocess.run([*command, str(misfit)], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert bad.returncode == 1 and 'expected "PrinterPart"' in bad.stdout, bad.stdout + bad.stderr
