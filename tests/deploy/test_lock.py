"""The dependency lock agrees with pyproject.toml, and a disagreement is caught."""

from __future__ import annotations

import shutil
from pathlib import Path

from deploy import lock as locks


def test_the_locks_match_pyproject() -> None:
    assert locks.check() == []


def test_every_pyproject_dependency_is_pinned_with_hashes() -> None:
    pins = locks.read_pins(locks.ROOT / locks.RUNTIME_LOCK)
    for name in ("kivy", "ffpyplayer", "cryptography", "pydantic", "openpyxl"):
        assert name in pins, name
    assert "pytest" not in pins  # test tools stay out of the station's bundle
    assert "pytest" in locks.read_pins(locks.ROOT / locks.TEST_LOCK)


def _copy(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", locks.RUNTIME_LOCK, locks.TEST_LOCK):
        shutil.copy(locks.ROOT / name, tmp_path / name)
    return tmp_path


def test_a_dependency_added_without_relocking_fails(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tqdm>=4.66",', '"tqdm>=4.66",\n    "left-pad-zh>=1.0",'))
    problems = locks.check(root)
    assert any("requirements.lock" in p and "make lock" in p for p in problems)
    assert any("left-pad-zh" in p and "not locked" in p for p in problems)


def test_a_changed_specifier_fails_even_when_the_name_is_locked(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tqdm>=4.66"', '"tqdm>=4.67"'))
    assert any("other dependencies" in p for p in locks.check(root))


def test_a_pin_without_a_hash_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    lock = root / locks.RUNTIME_LOCK
    lock.write_text(lock.read_text() + "\nleft-pad-zh==1.0\n")
    assert any("without a hash" in p for p in locks.check(root))
