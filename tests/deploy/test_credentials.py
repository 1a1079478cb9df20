"""The station's secrets as systemd encrypted credentials: what a process is handed is what it
uses, a sealed key never gets a plain twin, and a token sealed by install leaves station.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import parse_settings
from content.outbox import OutboxError, load_or_create_key


@pytest.fixture
def sealed_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "credentials"
    monkeypatch.setenv("YIZHAN_CREDENTIALS", str(folder))
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    return folder


def test_the_handed_key_is_used_and_no_file_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handed = tmp_path / "handed"
    handed.mkdir()
    (handed / "outbox.key").write_bytes(b"k" * 32)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(handed))
    data = tmp_path / "data"
    assert load_or_create_key(data) == b"k" * 32
    assert not (data / "outbox.key").exists()


def test_a_sealed_key_not_handed_over_is_never_replaced_by_a_new_one(tmp_path: Path, sealed_dir: Path) -> None:
    sealed_dir.mkdir()
    (sealed_dir / "outbox.key.cred").write_bytes(b"sealed")
    data = tmp_path / "data"
    with pytest.raises(OutboxError, match="systemd"):
        load_or_create_key(data)
    assert not (data / "outbox.key").exists()  # a new key would not open what is queued


def test_the_token_comes_from_the_credential_when_the_file_has_none(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "station_token").write_text("tok-from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    text = '[station]\nid="s"\nname="测试站点"\nlatitude=1\nlongitude=1\n[hub]\nstation_token = ""\n'
    assert parse_settings(text).hub.station_token == "tok-from-systemd"
    assert parse_settings(text.replace('""', '"in-file"')).hub.station_token == "in-file"
