"""``yizhan backup`` and ``yizhan restore``: the store, the outbox key and the settings in one
encrypted file; queued registrations survive the trip to a fresh box; a wrong passphrase or a
damaged file changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pwd
import sqlite3
from pathlib import Path

import pytest

from config.cli import main
from config.settings import load_settings
from config.station_file import write_station_file
from content.outbox import Outbox
from content.registrations import submit_registration
from deploy import restore_cli
from deploy.backup import BackupError, WrongPassphrase, make_backup, read_backup, restore_backup

PASSPHRASE = "驿站-备份-口令-2026"
PERSON = {"name": "测试人员", "phone": "13800000000"}  # made up
NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _tree(folder: Path) -> dict[str, tuple]:
    facts = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        body = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        facts[str(path.relative_to(folder))] = (st.st_mode, st.st_uid, st.st_gid, body)
    return facts


@pytest.fixture
def station_a(tmp_path: Path) -> Path:
    """A station with one registration queued for the hub and one media file."""
    config = write_station_file(tmp_path / "a" / "station.toml", {"station.id": "backup-station-01"})
    settings = load_settings(config)
    submit_registration(settings.db_path, "求职", PERSON, {"意向岗位": "保洁"}, station_id=settings.station.id)
    (settings.media_dir / "ab").mkdir(parents=True)
    (settings.media_dir / "ab" / "abcd.mp4").write_bytes(b"video" * 1000)
    return config


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore_cli, "services_running", lambda root: False)


def _backup(config: Path, out: Path, passphrase_file: Path, *more: str) -> Path:
    code = main(["backup", "--config", str(config), "--to", str(out), "--passphrase-file", str(passphrase_file),
                 "--json", *more])
    assert code == 0
    return out


def _made(capsys) -> Path:
    return Path(json.loads(capsys.readouterr().out)["file"])


def test_queued_registrations_survive_backup_and_restore_on_a_fresh_box(station_a: Path, passphrase_file: Path,
                                                                           tmp_path: Path, capsys) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    _backup(station_a, usb, passphrase_file, "--with-media")
    made = _made(capsys)
    assert made.parent == usb and made.name.startswith("yizhan-backup-station-01-") and made.suffix == ".yzbak"
    assert stat_mode(made) == 0o600 and not list(usb.glob(".*"))
    raw = made.read_bytes()
    assert "测试人员".encode() not in raw and b"outbox" not in raw  # nothing readable without the passphrase

    box = tmp_path / "b"
    write_station_file(box / "station.toml", {"station.id": "placeholder"})
    nobody = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
    if nobody:
        os.chown(box / "data", nobody.pw_uid, nobody.pw_gid)
    code = main(["restore", str(made), "--config", str(box / "station.toml"), "--root", str(tmp_path),
                 "--passphrase-file", str(passphrase_file)])
    assert code == 0, capsys.readouterr().err
    assert "已恢复站点 backup-station-01" in capsys.readouterr().out
    assert (box / "station.toml").read_bytes() == station_a.read_bytes()
    data = box / "data"
    key = data / "outbox.key"
    assert key.read_bytes() == (station_a.parent / "data" / "outbox.key").read_bytes() and stat_mode(key) == 0o600
    assert (data / "media" / "ab" / "abcd.mp4").read_bytes() == b"video" * 1000
    if nobody:
        assert {p.stat().st_uid for p in [data, *data.rglob("*")]} == {nobody.pw_uid}
    with Outbox(data / "station.db", key_dir=data) as outbox:
        [entry] = outbox.pending("registration")
    assert entry.personal and entry.payload["person"] == PERSON and entry.payload["station_id"] == "backup-station-01"


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_wrong_passphrase_changes_nothing(station_a: Path, passphrase_file: Path, tmp_path: Path, capsys) -> None:
    _backup(station_a, tmp_path / "backup.yzbak", passphrase_file)
    box = tmp_path / "b"
    write_station_file(box / "station.toml", {"station.id": "other-station"})
    (box / "data" / "station.db").write_bytes(b"the box's own store")
    before = _tree(box)
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    code = main(["restore", str(tmp_path / "backup.yzbak"), "--config", str(box / "station.toml"),
                 "--root", str(tmp_path), "--passphrase-file", str(wrong)])
    assert code == 1 and "备份口令不对" in capsys.readouterr().err
    assert _tree(box) == before


def test_a_damaged_or_cut_file_is_refused_before_anything_is_written(station_a: Path, tmp_path: Path) -> None:
    settings = load_settings(station_a)
    made = make_backup(data_dir=settings.data_dir, config=station_a, out=tmp_path / "b.yzbak", passphrase=PASSPHRASE,
                       station_id="s", version="0", with_media=True, now=NOW, scrypt_n=1 << 10)
    assert read_backup(made, PASSPHRASE).meta["station_id"] == "s"
    with pytest.raises(WrongPassphrase):
        read_backup(made, "another passphrase")
    raw = made.read_bytes()
    flipped, cut = tmp_path / "flipped.yzbak", tmp_path / "cut.yzbak"
    flipped.write_bytes(raw[:-100] + bytes([raw[-100] ^ 1]) + raw[-99:])
    cut.write_bytes(raw[: len(raw) - 17])
    target = tmp_path / "fresh-data"
    for bad in (flipped, cut):
        with pytest.raises(BackupError, match="已损坏或不完整"):
            read_backup(bad, PASSPHRASE)
        with pytest.raises(BackupError, match="已损坏或不完整"):
            restore_backup(bad, PASSPHRASE, data_dir=target, owner=None, config=None, config_owner=None)
        assert not target.exists()


def test_a_failure_while_staging_leaves_the_store_alone(station_a: Path, tmp_path: Path) -> None:
    settings = load_settings(station_a)
    made = make_backup(data_dir=settings.data_dir, config=station_a, out=tmp_path / "b.yzbak", passphrase=PASSPHRASE,
                       station_id="s", version="0", with_media=False, now=NOW, scrypt_n=1 << 10)
    box = tmp_path / "box-data"
    box.mkdir()
    (box / "station.db").write_bytes(b"old")
    before = _tree(box)

    def crash(step: str) -> None:
        raise OSError(f"power cut at {step}")

    with pytest.raises(OSError, match="power cut"):
        restore_backup(made, PASSPHRASE, data_dir=box, owner=None, config=None, config_owner=None, fault=crash)
    assert _tree(box) == before


def test_the_backup_sees_writes_still_in_the_wal(station_a: Path, tmp_path: Path) -> None:
    settings = load_settings(station_a)
    writer = sqlite3.connect(settings.db_path)  # open: its write stays in station.db-wal, unchecked-pointed
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        submit_registration(settings.db_path, "返乡", PERSON, {}, station_id="backup-station-01")
        made = make_backup(data_dir=settings.data_dir, config=station_a, out=tmp_path / "b.yzbak",
                           passphrase=PASSPHRASE, station_id="s", version="0", with_media=False, now=NOW,
                           scrypt_n=1 << 10)
    finally:
        writer.close()
    target = tmp_path / "restored"
    restore_backup(made, PASSPHRASE, data_dir=target, owner=None, config=None, config_owner=None)
    with Outbox(target / "station.db", key_dir=target) as outbox:
        assert len(outbox.pending("registration")) == 2


def test_restore_refuses_while_the_services_run(station_a: Path, passphrase_file: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _backup(station_a, tmp_path / "backup.yzbak", passphrase_file)
    monkeypatch.setattr(restore_cli, "services_running", lambda root: True)
    box = tmp_path / "b"
    write_station_file(box / "station.toml")
    argv = ["restore", str(tmp_path / "backup.yzbak"), "--config", str(box / "station.toml"), "--root", str(tmp_path),
            "--passphrase-file", str(passphrase_file)]
    assert main(argv) == 1 and "systemctl stop yizhan.target" in capsys.readouterr().err
    assert not (box / "data" / "station.db").exists()
    assert main([*argv, "--force"]) == 0 and (box / "data" / "station.db").exists()


def test_a_short_passphrase_is_refused(station_a: Path, tmp_path: Path, capsys) -> None:
    short = tmp_path / "short"
    short.write_text("1234\n")
    assert main(["backup", "--config", str(station_a), "--to", str(tmp_path), "--passphrase-file", str(short)]) == 1
    assert "口令太短" in capsys.readouterr().err and not list(tmp_path.glob("*.yzbak"))




def test_root_backs_up_without_leaving_root_files_in_the_data(open_dir: Path, tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    config = write_station_file(open_dir / "station.toml", {"station.id": "backup-station-01"})
    data = open_dir / "data"
    submit_registration(data / "station.db", "求职", PERSON, {}, station_id="backup-station-01")
    for path in [data, *data.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    made = make_backup(data_dir=data, config=config, out=tmp_path, passphrase=PASSPHRASE, station_id="s",
                       version="0", with_media=False, now=NOW, scrypt_n=1 << 10)
    assert read_backup(made, PASSPHRASE).members[:4] == ["backup.json", "station.toml", "data/station.db",
                                                         "data/outbox.key"]
    assert [p.name for p in data.rglob("*") if p.lstat().st_uid != nobody.pw_uid] == []
