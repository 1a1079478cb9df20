"""The dependency lock: every package pinned with hashes, for Debian 12 / Python 3.11 x86_64.

Two files at the top of the repository, both written by ``make lock`` (uv's resolver):

* ``requirements.lock``       the station's dependencies: what a release bundle carries;
* ``requirements-test.lock``  the same plus the ``test`` extra: what ``make setup`` installs.

Each starts with a ``# yizhan-deps-sha256:`` line, the digest of the dependency lists in
``pyproject.toml`` it was made from. :func:`check` compares it (and every pin against its
specifier) so that a dependency added to pyproject without ``make lock`` fails a test and
makes ``make setup`` fall back to an unlocked install with a warning. Standard library
only: ``make setup`` runs this before the virtualenv exists (``python3 -m deploy.lock check``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = "requirements.lock"
TEST_LOCK = "requirements-test.lock"
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"  # Debian 12 has glibc 2.36
DIGEST_PREFIX = "# yizhan-deps-sha256: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def _project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def deps_digest(root: Path = ROOT, *, with_test: bool) -> str:
    """The digest of what a lock is made from (order and spacing do not matter)."""
    project = _project(root)
    data = {"python": project.get("requires-python", ""),
            "dependencies": sorted(d.replace(" ", "") for d in project.get("dependencies", []))}
    if with_test:
        data["test"] = sorted(d.replace(" ", "") for d in project.get("optional-dependencies", {}).get("test", []))
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


def check(root: Path = ROOT) -> list[str]:
    """Problems that make the locks disagree with pyproject.toml (empty: they agree)."""
    problems = []
    for name, with_test in ((RUNTIME_LOCK, False), (TEST_LOCK, True)):
        lock = root / name
        if not lock.exists():
            problems.append(f"{name} is missing: run 'make lock'")
            continue
        if recorded_digest(lock) != deps_digest(root, with_test=with_test):
            problems.append(f"{name} was made from other dependencies than pyproject.toml lists: run 'make lock'")
        try:
            pins = read_pins(lock)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        project = _project(root)
        wanted = list(project.get("dependencies", []))
        if with_test:
            wanted += project.get("optional-dependencies", {}).get("test", [])
        for requirement in wanted:
            match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
            if match and normalize(match.group(1)) not in pins:
                problems.append(f"{name}: {match.group(1)} (from pyproject.toml) is not locked: run 'make lock'")
    return problems


def write(root: Path = ROOT, uv: str | None = None) -> None:
    """Resolve both locks with uv (needs the package index) and write them."""
    uv = uv or shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    for name, with_test in ((RUNTIME_LOCK, False), (TEST_LOCK, True)):
        command = [uv, "pip", "compile", "pyproject.toml", "--generate-hashes", "--quiet",
                   "--python-version", PYTHON_VERSION, "--python-platform", PLATFORM,
                   "--custom-compile-command", "make lock", "--no-emit-index-url"]
        if with_test:
            command += ["--extra", "test"]
        out = subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout
        header = (f"# The station's dependencies{' and the test tools' if with_test else ''}, pinned with hashes "
                  f"for Python {PYTHON_VERSION} on {PLATFORM}.\n{DIGEST_PREFIX}{deps_digest(root, with_test=with_test)}\n")
        (root / name).write_text(header + out, encoding="utf-8")
        print(f"wrote {name}: {len(read_pins(root / name))} packages")


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
