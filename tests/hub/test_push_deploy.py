"""deploy/hub's SMS push units as installed: systemd accepts them, and the example settings'
[push] table is one the hub takes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hub.push.senders import PushSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "hub"


def test_the_push_units_verify(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing (Debian's systemd package)")
    for unit in ("yizhan-hub-push.service", "yizhan-hub-push.timer"):
        text = (DEPLOY / unit).read_text(encoding="utf-8")
        (tmp_path / unit).write_text(text.replace("/opt/yizhan/.venv/bin/yizhan", str(Path(sys.executable).parent
                                                                                       / "yizhan")))
    assert "yizhan hub push" in (DEPLOY / "yizhan-hub-push.service").read_text(encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "yizhan-hub-push.timer"),
                             str(tmp_path / "yizhan-hub-push.service")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_example_push_settings_are_accepted() -> None:
    table = tomllib.loads((DEPLOY / "hub.toml.example").read_text(encoding="utf-8"))["push"]
    settings = PushSettings.from_table(table)
    assert settings.weekly_cap == 2 and settings.sender == "smpp"
