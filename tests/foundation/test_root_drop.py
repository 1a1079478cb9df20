"""A command root runs against the station's data becomes the data folder's owner first (or
refuses), so nothing it makes in the folder belongs to root and the services keep working."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from config.cli import build_parser, runs_as_root
from config.station_file import write_station_file
from deploy.privileges import PrivilegeError, drop_to_owner

REPO = Path(__file__).resolve().parents[2]




def _station(folder: Path, uid: int, gid: int) -> tuple[Path, Path]:
    data = folder / "data"
    data.mkdir(mode=0o750)
    os.chown(data, uid, gid)
    config = write_station_file(folder / "station.toml", {"storage.data_dir": str(data)})
    config.chmod(0o644)
    return config, data


def _yizhan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "config.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def test_root_commands_on_the_data_leave_it_to_its_owner(open_dir: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    config, data = _station(open_dir, nobody.pw_uid, nobody.pw_gid)
    sample = _yizhan("jobs", "sample", "--count", "20", "--no-media", "--config", str(config))
    assert sample.returncode == 0, sample.stderr[-2000:]
    search = _yizhan("jobs", "search", "保洁", "--radius", "all", "--config", str(config))
    assert search.returncode == 0, search.stderr[-2000:]
    sync = _yizhan("sync", "--once", "--no-progress", "--config", str(config))
    assert "PermissionError" not in sync.stderr and "readonly" not in sync.stderr
    made = [data, *data.rglob("*")]
    assert (data / "station.db").exists()
    not_theirs = [str(p.relative_to(open_dir)) for p in made if p.lstat().st_uid != nobody.pw_uid]
    assert not_theirs == []


def test_an_owner_with_no_account_here_is_taken_by_uid_and_gid(open_dir: Path) -> None:
    """A station image built below --root: its service user is in the image's passwd, not ours."""
    stranger = 4242420
    with pytest.raises(KeyError):
        pwd.getpwuid(stranger)
    config, data = _station(open_dir, stranger, stranger)
    run = _yizhan("jobs", "search", "保洁", "--config", str(config))
    assert run.returncode in (0, 1), run.stderr[-2000:]
    made = [data, *data.rglob("*")]
    assert all(p.lstat().st_uid == stranger for p in made), [str(p) for p in made if p.lstat().st_uid != stranger]


def test_a_failed_switch_refuses_with_the_line_to_type(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.getuid())
    if me.pw_uid == 0:  # root owns tmp_path; give the folder to a user, as install does
        nobody = pwd.getpwnam("nobody")
        os.chown(tmp_path, nobody.pw_uid, nobody.pw_gid)
        me = nobody
    calls: list[tuple] = []

    def refuse(uid: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    with pytest.raises(PrivilegeError) as caught:
        drop_to_owner(tmp_path, ["sync", "--once"], geteuid=lambda: 0, setgroups=lambda g: calls.append(("groups", g)),
                      setgid=lambda gid: calls.append(("gid", gid)), setuid=refuse)
    assert f"请以 {me.pw_name} 用户运行：runuser -u {me.pw_name} -- yizhan sync --once" in str(caught.value)
    assert calls[0] == ("groups", os.getgrouplist(me.pw_name, me.pw_gid)) and calls[1] == ("gid", me.pw_gid)


def test_not_root_changes_nothing(tmp_path: Path) -> None:
    def fail(*_: object) -> None:
        raise AssertionError("no change of user when not root")

    assert drop_to_owner(tmp_path, ["sync"], geteuid=lambda: 1000, setgroups=fail, setgid=fail, setuid=fail) is None


@pytest.mark.parametrize(("argv", "keeps_root"), [
    (["sync", "--once"], False), (["jobs", "search", "x"], False), (["doctor"], False), (["print", "serve"], False),
    (["upgrade", "selfcheck"], False), (["upgrade", "run"], True), (["upgrade", "status"], True),
    (["upgrade", "rollback"], True), (["install", "--bundle", "b.tar"], True), (["uninstall"], True),
    (["backup", "--to", "x"], True), (["restore", "x"], True), (["config", "show"], True), (["hub", "keygen"], True),
])
def test_which_commands_keep_root(argv: list[str], keeps_root: bool) -> None:
    assert runs_as_root(build_parser().parse_args(argv)) is keeps_root
