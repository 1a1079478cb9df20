"""The dependency locks: every package pinned with hashes, for Debian 12 / Python 3.11 x86_64.

Three files at the top of the repository, all written by ``make lock`` (uv's resolver), one per
way the project is installed:

* ``requirements-station.lock``  the shared core and the ``station`` extra: what a station's
  release bundle carries (Kivy, the printer and reader libraries; no web server, no database
  driver);
* ``requirements-hub.lock``      the shared core and the ``hub`` extra: what a hub installs
  (Flask, waitress, gunicorn, SQLAlchemy, psycopg; no Kivy);
* ``requirements-dev.lock``      everything (``station``, ``hub``, ``test``, ``bench``): what
  ``make setup`` installs for development, tests and benchmarks.

The dev lock is resolved first; the station and hub locks are resolved under its versions, so a
package both use is the same version everywhere and the tests run what a station or a hub runs.

Each file starts with a ``# yizhan-deps-sha256:`` line, the digest of the dependency lists in
``pyproject.toml`` it was made from. :func:`check` compares it (and every pin against its
specifier, and the side locks against the dev lock) so that a dependency added to pyproject
without ``make lock`` fails a test and makes ``make setup`` fall back to an unlocked install
with a warning. Standard library only: ``make setup`` runs this before the virtualenv exists
(``python3 -m deploy.lock check``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATION_LOCK = "requirements-station.lock"
HUB_LOCK = "requirements-hub.lock"
DEV_LOCK = "requirements-dev.lock"
RUNTIME_LOCK = STATION_LOCK  # the lock a station's release bundle carries (as requirements.lock)
# Each lock and the extras it adds to the shared core; the dev lock first (the others follow its versions).
LOCKS: dict[str, tuple[str, ...]] = {
    DEV_LOCK: ("station", "hub", "test", "bench"),
    STATION_LOCK: ("station",),
    HUB_LOCK: ("hub",),
}
_TITLES = {DEV_LOCK: "Everything for development: the station, the hub, the test tools and the benchmarks",
           STATION_LOCK: "A station's dependencies (what its release bundle carries)",
           HUB_LOCK: "A hub's dependencies"}
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"  # Debian 12 has glibc 2.36
DIGEST_PREFIX = "# yizhan-deps-sha256: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def requirements(root: Path, extras: tuple[str, ...]) -> list[str]:
    """The requirement strings of the shared core and ``extras``, as pyproject.toml lists them."""
    project = _project(root)
    wanted = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        wanted += optional.get(extra, [])
    return wanted


def deps_digest(root: Path = ROOT, *, extras: tuple[str, ...]) -> str:
    """The digest of what a lock is made from (order and spacing do not matter)."""
    project = _project(root)
    optional = project.get("optional-dependencies", {})
    data: dict[str, object] = {
        "python": project.get("requires-python", ""),
        "dependencies": sorted(d.replace(" ", "") for d in project.get("dependencies", []))}
    for extra in extras:
        data[extra] = sorted(d.replace(" ", "") for d in optional.get(extra, []))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lock: Path) -> dict[str, str]:
    """``{normalized name: version}`` of a lock file; raises ValueError on a pin without hashes."""
    pins: dict[str, str] = {}
    text = lock.read_text(encoding="utf-8")
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = _PIN.match(entry.strip())
        if not match:
            continue
        if "--hash=sha256:" not in entry:
            raise ValueError(f"{lock.name}: {match.group(1)} is pinned without a hash")
        pins[normalize(match.group(1))] = match.group(3)
    return pins


def recorded_digest(lock: Path) -> str | None:
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line[len(DIGEST_PREFIX):].strip()
    return None


def _check_one(root: Path, name: str, extras: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    lock = root / name
    if not lock.exists():
        return [f"{name} is missing: run 'make lock'"], {}
    problems = []
    if recorded_digest(lock) != deps_digest(root, extras=extras):
        problems.append(f"{name} was made from other dependencies than pyproject.toml lists: run 'make lock'")
    try:
        pins = read_pins(lock)
    except ValueError as exc:
        return [*problems, str(exc)], {}
    for requirement in requirements(root, extras):
        match = _NAME.match(requirement)
        if match and normalize(match.group(1)) not in pins:
            problems.append(f"{name}: {match.group(1)} (from pyproject.toml) is not locked: run 'make lock'")
    return problems, pins


def check(root: Path = ROOT) -> list[str]:
    """Problems that make the locks disagree with pyproject.toml or with each other (empty: they agree)."""
    problems: list[str] = []
    pins_of: dict[str, dict[str, str]] = {}
    for name, extras in LOCKS.items():
        found, pins_of[name] = _check_one(root, name, extras)
        problems += found
    dev = pins_of.get(DEV_LOCK, {})
    for name in (STATION_LOCK, HUB_LOCK):
        for package, version in sorted(pins_of.get(name, {}).items()):
            if dev and dev.get(package) != version:
                problems.append(f"{name}: {package} {version} differs from {DEV_LOCK} "
                                f"({dev.get(package, 'not there')}): run 'make lock'")
    return problems


def _compile(root: Path, uv: str, name: str, extras: tuple[str, ...], constraints: Path | None) -> str:
    """uv's resolution of the core and ``extras``; the lock's current pins are kept where they still fit."""
    command = [uv, "pip", "compile", "pyproject.toml", "--generate-hashes", "--quiet",
               "--python-version", PYTHON_VERSION, "--python-platform", PLATFORM,
               "--custom-compile-command", "make lock", "--no-emit-index-url", "--output-file", name]
    for extra in extras:
        command += ["--extra", extra]
    if constraints is not None:
        command += ["--constraints", str(constraints)]
    subprocess.run(command, cwd=root, check=True, capture_output=True, text=True)
    text = (root / name).read_text(encoding="utf-8")
    if constraints is not None:  # uv names the constraints file in its "via" notes: name what it stands for
        text = text.replace(str(constraints), f"{DEV_LOCK}'s versions")
    return "\n".join(line for line in text.splitlines() if not line.startswith(DIGEST_PREFIX)
                     and not line.startswith("# " + _TITLES[name])) + "\n"


def write(root: Path = ROOT, uv: str | None = None) -> None:
    """Resolve the three locks with uv (needs the package index) and write them."""
    uv = uv or shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    with tempfile.TemporaryDirectory() as tmp:
        constraints: Path | None = None
        for name, extras in LOCKS.items():
            body = _compile(root, uv, name, extras, constraints)
            header = (f"# {_TITLES[name]}, pinned with hashes for Python {PYTHON_VERSION} on {PLATFORM}.\n"
                      f"{DIGEST_PREFIX}{deps_digest(root, extras=extras)}\n")
            (root / name).write_text(header + body, encoding="utf-8")
            print(f"wrote {name}: {len(read_pins(root / name))} packages")
            if name == DEV_LOCK:
                constraints = Path(tmp) / "dev-pins.txt"
                constraints.write_text("".join(f"{package}=={version}\n"
                                               for package, version in read_pins(root / name).items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.lock", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("check", "write"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "write":
        write()
        return 0
    problems = check()
    if not args.quiet:
        for problem in problems:
            print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
