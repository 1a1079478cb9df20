"""The dependency locks agree with pyproject.toml and with each other, each side's lock holds
only that side's packages, and every third-party import is declared for the side that makes it."""

from __future__ import annotations

import ast
import importlib.metadata
import shutil
import sys
from pathlib import Path

import pytest

from deploy import lock as locks

ROOT = locks.ROOT
SERVER_PACKAGES = ("flask", "werkzeug", "gunicorn", "waitress", "psycopg", "psycopg-binary", "sqlalchemy", "aiohttp")
# The rooms each side installs and runs, and the extras that must declare their imports.
# config/ runs the station (the hub's commands are loaded by name, and fail with a clear line
# when the hub's packages are missing); deploy/ installs a station and is imported by both.
SIDES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "core": (("protocol", "common", "deploy"), ()),
    "station": (("kiosk", "display", "printer", "idcard", "content", "config"), ("station",)),
    "hub": (("hub",), ("hub",)),
    "bench": (("bench",), ("station", "hub", "bench")),
}
# Modules that run only in development, with the extra that brings what they import.
DEV_ONLY = {"hub/console/browser.py": "test"}  # Chromium through Selenium: the demo's screenshots, console tests
# Declared packages no module imports by name, and who uses them.
INDIRECT = {"pyusb": "python-escpos talks to USB slip printers through it"}


def _declared(extras: tuple[str, ...]) -> set[str]:
    return {locks.normalize(locks._NAME.match(r).group(1)) for r in locks.requirements(ROOT, extras)}


def _third_party_imports(rooms: tuple[str, ...]) -> dict[str, set[str]]:
    """``{distribution: {file, ...}}`` of every third-party import under ``rooms``, inside functions too."""
    ours = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} | {"bench", "tests"}
    ours |= {p.stem for folder in ("bench", "tests") for p in (ROOT / folder).rglob("*.py")}  # put on sys.path
    distributions = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for room in rooms:
        for path in sorted((ROOT / room).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in ours or top == "__future__":
                        continue
                    for dist in distributions.get(top, [top]):
                        found.setdefault(locks.normalize(dist), set()).add(rel)
    return found


def test_the_locks_match_pyproject() -> None:
    assert locks.check() == []


def test_each_side_locks_only_its_own_packages() -> None:
    station = locks.read_pins(ROOT / locks.STATION_LOCK)
    hub = locks.read_pins(ROOT / locks.HUB_LOCK)
    dev = locks.read_pins(ROOT / locks.DEV_LOCK)
    for name in ("kivy", "ffpyplayer", "pyserial", "python-escpos", "cryptography", "pydantic", "argon2-cffi"):
        assert name in station, name
    assert [name for name in SERVER_PACKAGES if name in station] == []  # a station carries no server stack
    for name in ("flask", "gunicorn", "waitress", "psycopg", "sqlalchemy", "cryptography", "pydantic"):
        assert name in hub, name
    assert [name for name in ("kivy", "pyserial", "python-escpos", "pypinyin") if name in hub] == []  # nor a hub Kivy
    for lock in (station, hub):
        assert "pytest" not in lock and "aiohttp" not in lock  # test and benchmark tools stay out
    assert {"pytest", "aiohttp", "kivy", "flask"} <= set(dev)
    assert set(station) | set(hub) <= set(dev)  # make setup installs what either side runs


@pytest.mark.parametrize("side", list(SIDES))
def test_every_third_party_import_is_declared_for_its_side(side: str) -> None:
    rooms, extras = SIDES[side]
    declared = _declared(extras)
    test_tools = _declared(("test",))
    undeclared = {}
    for dist, files in _third_party_imports(rooms).items():
        if dist in declared:
            continue
        files = {f for f in files if not (f in DEV_ONLY and dist in _declared((DEV_ONLY[f],)))}
        if files and not (side == "bench" and dist in test_tools):
            undeclared[dist] = sorted(files)
    assert undeclared == {}, f"imported on the {side} side but not declared in {extras or 'dependencies'}"


def test_every_declared_package_is_imported_on_its_side() -> None:
    core_rooms, _ = SIDES["core"]
    for side in ("core", "station", "hub"):
        rooms, extras = SIDES[side]
        imported = set(_third_party_imports(rooms + (core_rooms if side != "core" else ())))
        listed = _declared(extras) - (_declared(()) if side != "core" else set())
        unused = sorted(listed - imported - set(INDIRECT))
        assert unused == [], f"declared for the {side} side but imported by none of {rooms}"


def _copy(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", *locks.LOCKS):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_dependency_added_without_relocking_fails(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tqdm>=4.66",', '"tqdm>=4.66",\n    "left-pad-zh>=1.0",'))
    problems = locks.check(root)
    assert any(locks.STATION_LOCK in p and "make lock" in p for p in problems)
    assert any(locks.STATION_LOCK in p and "left-pad-zh" in p and "not locked" in p for p in problems)
    assert not any(locks.HUB_LOCK in p for p in problems)  # the hub's side did not change


def test_a_changed_specifier_fails_even_when_the_name_is_locked(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tqdm>=4.66"', '"tqdm>=4.67"'))
    assert any("other dependencies" in p for p in locks.check(root))


def test_a_pin_without_a_hash_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    lock = root / locks.STATION_LOCK
    lock.write_text(lock.read_text() + "\nleft-pad-zh==1.0\n")
    assert any("without a hash" in p for p in locks.check(root))


def test_a_side_lock_at_another_version_than_the_dev_lock_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    lock = root / locks.HUB_LOCK
    version = locks.read_pins(lock)["flask"]
    lock.write_text(lock.read_text().replace(f"flask=={version}", "flask==0.0.1", 1))
    assert any(p.startswith(f"{locks.HUB_LOCK}: flask 0.0.1 differs from {locks.DEV_LOCK}") for p in locks.check(root))


def test_the_hub_modules_a_station_checks_for_are_the_hub_extras_own() -> None:
    from config.sides import HUB_MODULES

    distributions = importlib.metadata.packages_distributions()
    checked = {locks.normalize(dist) for name in HUB_MODULES for dist in distributions[name]}
    hub_only = _declared(("hub",)) - _declared(("station",))
    assert checked == hub_only & set(_third_party_imports(("hub",)))


def test_the_station_modules_a_hub_checks_for_are_the_station_extras_own() -> None:
    from config.sides import STATION_MODULES

    distributions = importlib.metadata.packages_distributions()
    checked = {locks.normalize(dist) for name in STATION_MODULES for dist in distributions[name]}
    station_only = _declared(("station",)) - _declared(("hub",))
    assert checked == station_only & (set(_third_party_imports(SIDES["station"][0])) | set(INDIRECT))
