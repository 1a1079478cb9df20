"""Release bundles and `yizhan install` into a temporary root.

The session's first install makes a real virtualenv from the bundle's ~60 wheels with
pip ``--no-index --require-hashes`` (no network): about 30 s on an idle machine, so these
tests are marked slow; the upgrade tests reuse that installed root.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

import pytest
from deploy_kit import REPO, WHEELHOUSE, Built, InstalledStation, run_yizhan

from config.cli import main
from deploy import lock as locks
from deploy.install import install
from deploy.release import ReleaseError, read_manifest, unpack

pytestmark = pytest.mark.slow


def _tree(root: Path) -> dict[str, tuple]:
    """Everything an install leaves, as comparable facts (not under the environments)."""
    facts = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.startswith("opt/yizhan/envs/"):
            continue
        st = path.lstat()
        what = os.readlink(path) if path.is_symlink() else (path.read_bytes() if path.is_file() else b"")
        facts[rel] = (stat.S_IFMT(st.st_mode), st.st_mode & 0o7777, st.st_uid, st.st_gid, st.st_mtime_ns, what)
    return facts


def test_the_bundle_is_signed_and_lists_every_file(built: Built) -> None:
    manifest, _, _ = read_manifest(built.full_bundle)
    names = {n.lower() for n in manifest["files"]}
    assert manifest["wheels"] is True and "requirements.lock" in names
    assert any(n.startswith("wheels/kivy-") for n in names) and any(n.startswith("wheels/ffpyplayer-") for n in names)
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())


def test_the_bundle_carries_the_station_side_only(built: Built) -> None:
    manifest, _, _ = read_manifest(built.full_bundle)
    wheels = {locks.normalize(PurePosixPath(name).name.split("-")[0]) for name in manifest["files"]
              if name.startswith("wheels/")}
    assert wheels == set(locks.read_pins(REPO / locks.STATION_LOCK))
    server = {"flask", "werkzeug", "gunicorn", "waitress", "psycopg", "psycopg-binary", "sqlalchemy", "aiohttp"}
    assert sorted(wheels & server) == []
    assert {"kivy", "ffpyplayer", "pyserial", "python-escpos"} <= wheels


def test_the_installed_station_runs_without_the_hubs_packages(installed: InstalledStation, tmp_path: Path) -> None:
    root = installed.root
    (env_python,) = root.glob("opt/yizhan/envs/*/bin/python")
    probe = subprocess.run([str(env_python), "-c", "import flask"], capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "No module named 'flask'" in probe.stderr
    launcher = root / "opt/yizhan/current/bin/yizhan"
    listed = run_yizhan(launcher, "--help")
    assert listed.returncode == 0 and "kiosk" in listed.stdout and "not installed here" in listed.stdout
    for command in (["hub", "serve", "--home", str(tmp_path / "hub"), "--port", "0"], ["demo"]):
        run = run_yizhan(launcher, *command)
        assert run.returncode == 1, run.stderr
        assert run.stderr.startswith(f"yizhan {command[0]}: 本机没有安装中心平台的软件包（缺少 flask）")
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "hub").exists()


def test_a_hub_installs_from_its_own_lock_without_the_stations_packages(built: Built, tmp_path: Path) -> None:
    env = tmp_path / "hub-env"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(env)], check=True, timeout=120)
    pip = [str(env / "bin/python"), "-m", "pip", "install", "-q", "--no-index"]
    subprocess.run([*pip, "--require-hashes", "--find-links", str(WHEELHOUSE), "-r", str(REPO / locks.HUB_LOCK)],
                   check=True, timeout=600)
    (wheel,) = (built.workdir / "wheel").glob("yizhan-*.whl")
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, timeout=300)
    probe = subprocess.run([str(env / "bin/python"), "-c", "import kivy"], capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "No module named 'kivy'" in probe.stderr
    yizhan = env / "bin/yizhan"
    keygen = run_yizhan(yizhan, "hub", "keygen", "--home", str(tmp_path / "hub"))
    assert keygen.returncode == 0, keygen.stderr
    assert (tmp_path / "hub/feed.key").is_file()
    kiosk = run_yizhan(yizhan, "kiosk")
    assert kiosk.returncode == 1 and kiosk.stderr.startswith("yizhan kiosk: 本机没有安装站点的软件包")
    assert "Traceback" not in kiosk.stderr


def test_a_tampered_bundle_is_refused(built: Built, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    with tarfile.open(built.full_bundle) as src, tarfile.open(bad, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.endswith("requirements.lock"):
                data += b"\n# changed\n"
                member.size = len(data)
            import io

            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(ReleaseError, match="requirements.lock does not match its SHA-256"):
        unpack(bad, tmp_path / "out", public_key=built.public_key)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ReleaseError, match="signature refused"):
        from protocol.feed import generate_private_key, public_key_b64

        unpack(built.full_bundle, tmp_path / "out", public_key=public_key_b64(generate_private_key()))


def test_install_makes_a_working_station(installed: InstalledStation, built: Built) -> None:
    root = installed.root
    launcher = root / "opt/yizhan/current/bin/yizhan"
    run = run_yizhan(launcher, "--version")
    assert run.returncode == 0 and run.stdout.strip() == f"yizhan {built.version}"
    # non-editable: the code runs from the release, not from this checkout
    where = run_yizhan(launcher, "upgrade", "--help")
    assert where.returncode == 0
    lib = root / f"opt/yizhan/releases/{built.version}/lib"
    assert (lib / "config" / "cli.py").is_file() and not list(lib.glob("__editable__*"))
    passwd = (root / "etc/passwd").read_text()
    user = next(line.split(":") for line in passwd.splitlines() if line.startswith("yizhan:"))
    uid, gid = int(user[2]), int(user[3])
    data = root / "var/lib/yizhan"
    assert (data.stat().st_uid, data.stat().st_mode & 0o777) == (uid, 0o750)
    key = data / "outbox.key"
    assert (key.stat().st_uid, key.stat().st_mode & 0o777, key.stat().st_size) == (uid, 0o600, 32)
    conf = root / "etc/yizhan/station.toml"
    assert (conf.stat().st_uid, conf.stat().st_gid, conf.stat().st_mode & 0o777) == (0, gid, 0o640)
    assert os.readlink(root / "opt/yizhan/current") == f"releases/{built.version}"
    assert (root / "etc/udev/rules.d/70-yizhan.rules").is_file()
    xinitrc = root / "opt/yizhan/current/lib/deploy/station/session/xinitrc"  # the session unit runs it
    assert os.access(xinitrc, os.X_OK)
    wants = root / "etc/systemd/system/yizhan.target.wants"
    assert {p.name for p in wants.iterdir()} >= {"yizhan-kiosk.service", "yizhan-board.service",
                                                  "yizhan-sync.service", "yizhan-print.service"}
    assert (root / "etc/systemd/system/multi-user.target.wants/yizhan.target").is_symlink()


def test_a_second_install_changes_nothing(installed: InstalledStation, built: Built, capsys) -> None:
    before = _tree(installed.root)
    report = install(bundle=built.full_bundle, config=installed.config, root=installed.root)
    assert report.changes == []
    assert _tree(installed.root) == before
    # and through the command line, as a county IT person would run it
    code = main(["install", "--bundle", str(built.full_bundle), "--config", str(installed.config),
                 "--root", str(installed.root), "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out) == {"changes": [], "warnings": []}
    assert _tree(installed.root) == before


def test_install_refuses_a_bundle_signed_by_another_key(installed: InstalledStation, built: Built,
                                                         tmp_path: Path, capsys) -> None:
    from protocol.feed import generate_private_key, public_key_b64

    code = main(["install", "--bundle", str(built.full_bundle), "--config", str(installed.config),
                 "--root", str(installed.root), "--public-key", public_key_b64(generate_private_key())])
    assert code == 1 and "signature refused" in capsys.readouterr().err


def test_doctor_checks_the_installed_station(installed: InstalledStation, built: Built) -> None:
    from config.settings import load_settings
    from deploy.checks import check_release, check_udev, check_units

    settings = load_settings(installed.root / "etc/yizhan/station.toml")
    units = check_units(settings, installed.root)
    assert units.status == "ok" and "8 个服务已启用" in units.detail
    release = check_release(settings, installed.root)
    assert release.status == "ok" and release.detail.startswith(f"{built.version}（已核对签名，")
    assert check_udev(settings, installed.root).status == "ok"
    lock = installed.root / f"opt/yizhan/releases/{built.version}/requirements.lock"
    original = lock.read_bytes()
    try:
        lock.write_bytes(original + b"\n")
        bad = check_release(settings, installed.root)
        assert bad.status == "fail" and "requirements.lock 与签名清单不一致" in bad.detail
    finally:
        lock.write_bytes(original)
    link = installed.root / "etc/systemd/system/yizhan.target.wants/yizhan-print.service"
    target = os.readlink(link)
    link.unlink()
    try:
        assert check_units(settings, installed.root).detail.startswith("没有启用：yizhan-print.service：")
    finally:
        os.symlink(target, link)


def test_doctor_on_a_checkout_skips_the_box_checks(station) -> None:
    from deploy.checks import check_release, check_units

    assert check_units(station.settings, station.root).status == "skip"
    assert check_release(station.settings, station.root).status == "skip"
