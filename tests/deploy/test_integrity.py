"""The running release's files against its signed wheel: an edit under lib/ is found."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from deploy_kit import InstalledStation

from config.doctor import check_program_files
from config.settings import load_settings
from deploy.integrity import check_release_files, running_release, verify_release_files
from deploy.release import file_sha256

FILES = {"station/__init__.py": b"", "station/run.py": b"print('hello')\n",
         "yizhan-9.9.dist-info/METADATA": b"Name: yizhan\nVersion: 9.9\n"}


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _release(tmp_path: Path) -> Path:
    """A release folder as install leaves it: the manifest, the wheel, lib/ unpacked by pip."""
    release = tmp_path / "releases" / "9.9"
    lib = release / "lib"
    record = "".join(f"{name},{_digest(data)},{len(data)}\n" for name, data in FILES.items())
    record += "yizhan-9.9.dist-info/RECORD,,\n"
    wheel = release / "yizhan-9.9-py3-none-any.whl"
    lib.mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in FILES.items():
            zf.writestr(name, data)
        zf.writestr("yizhan-9.9.dist-info/RECORD", record)
    for name, data in {**FILES, "yizhan-9.9.dist-info/RECORD": record.encode(),
                       "yizhan-9.9.dist-info/INSTALLER": b"pip\n", "bin/yizhan": b"#!/bin/python\n",
                       "station/__pycache__/run.cpython-311.pyc": b"\0"}.items():
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        (lib / name).write_bytes(data)
    manifest = {"version": "9.9", "project_wheel": wheel.name, "files": {wheel.name: {"sha256": file_sha256(wheel)}}}
    (release / "MANIFEST.json").write_text(json.dumps(manifest))
    return release


def test_an_untouched_release_has_no_problems(tmp_path: Path) -> None:
    result = verify_release_files(_release(tmp_path))
    assert result.problems == [] and result.signed and result.files == 3


def test_edited_missing_and_added_files_are_named(tmp_path: Path) -> None:
    release = _release(tmp_path)
    (release / "lib/station/run.py").write_text("print('patched on the box')\n")
    (release / "lib/station/__init__.py").unlink()
    (release / "lib/station/extra.py").write_text("")
    assert check_release_files(release) == ["缺失 station/__init__.py", "改动 station/run.py", "多出 station/extra.py"]


def test_a_wheel_that_is_not_the_signed_one_is_refused(tmp_path: Path) -> None:
    release = _release(tmp_path)
    with (release / "yizhan-9.9-py3-none-any.whl").open("ab") as f:
        f.write(b"\0")
    assert check_release_files(release) == ["yizhan-9.9-py3-none-any.whl 与签名清单不符"]


def test_without_the_wheel_pips_record_is_the_reference(tmp_path: Path) -> None:
    release = _release(tmp_path)
    (release / "yizhan-9.9-py3-none-any.whl").unlink()
    assert verify_release_files(release).signed is False and check_release_files(release) == []
    (release / "lib/station/run.py").write_text("print('patched')\n")
    assert check_release_files(release) == ["改动 station/run.py"]


def test_the_release_is_found_from_the_running_code(tmp_path: Path) -> None:
    release = _release(tmp_path)
    assert running_release(release / "lib/station/run.py", tmp_path / "no-current") == release
    os.symlink("releases/9.9", tmp_path / "current")
    assert running_release(Path(__file__), tmp_path / "current") == release.resolve()
    assert running_release(Path(__file__), tmp_path / "no-current") is None


@pytest.mark.slow
def test_an_edit_in_a_copy_of_the_installed_release_is_reported(installed: InstalledStation, tmp_path: Path) -> None:
    current = (installed.root / "opt/yizhan/current").resolve()
    copy = tmp_path / "releases" / current.name
    shutil.copytree(current, copy, symlinks=True)
    settings = load_settings(installed.root / "etc/yizhan/station.toml")
    assert check_release_files(copy, settings.hub.public_key) == []
    good = check_program_files(settings, running=copy / "lib/config/doctor.py")
    assert good.status == "ok" and "与签名清单一致" in good.detail
    with (copy / "lib/config/cli.py").open("a") as f:
        f.write("# changed on the box\n")
    assert check_release_files(copy, settings.hub.public_key) == ["改动 config/cli.py"]
    bad = check_program_files(settings, running=copy / "lib/config/doctor.py")
    assert bad.status == "fail" and bad.detail.endswith("1 个文件被改动：改动 config/cli.py，请重新安装该版本")
