"""Do the files a release runs from still match what was signed?

An installed release keeps its signed ``MANIFEST.json`` and the project wheel it lists, and
runs from ``lib/``, where pip unpacked that wheel. The manifest signs the wheel's SHA-256, the
wheel carries a ``RECORD`` (SHA-256 of every file in it), so every file under ``lib/`` can be
traced to the signature: a file edited on the box (a "quick fix" under ``current/lib/``), one
deleted, or one added beside the project's code shows up here. When the wheel is no longer in
the release folder, the ``RECORD`` pip wrote at install time is the reference instead; it is
not covered by the signature, and :class:`FileCheck` says so.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from deploy.release import file_sha256

# What pip adds to a wheel's files when it installs one: its own notes in the .dist-info
# folder, and console scripts (lib/bin/ with ``--target``) written for this box's Python.
_PIP_ADDS = ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD")


@dataclass
class FileCheck:
    """The result for one release folder: problems (empty: all as signed) and what was compared."""

    problems: list[str] = field(default_factory=list)
    files: int = 0
    signed: bool = False  # compared with the wheel the manifest signs (else with pip's RECORD)


def _file_record_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def parse_record(text: str) -> dict[str, str]:
    """``{path: "sha256=..."}`` of a wheel RECORD; entries without a hash (RECORD itself) and
    paths outside the install folder (``../../bin/...``) are left out."""
    entries = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 2 and row[1] and not row[0].startswith(("/", "../")):
            entries[row[0]] = row[1]
    return entries


def _ignored(rel: str) -> bool:
    parts = rel.split("/")
    return "__pycache__" in parts or rel.endswith((".pyc", ".pyo")) or parts[0] == "bin"


def verify_release_files(release_dir: Path, public_key: str | None = None) -> FileCheck:
    """Compare ``release_dir/lib`` with the signed wheel's RECORD (see the module's notes)."""
    result = FileCheck()
    lib = release_dir / "lib"
    try:
        raw = (release_dir / "MANIFEST.json").read_bytes()
        manifest = json.loads(raw)
        wheel_name = manifest["project_wheel"]
        wheel_sha256 = manifest["files"][wheel_name]["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        result.problems.append(f"MANIFEST.json 无法读取（{exc}）")
        return result
    if public_key:
        from protocol.feed import SignatureError, verify_manifest

        try:
            verify_manifest(raw, (release_dir / "MANIFEST.sig").read_bytes(), public_key)
        except (OSError, SignatureError):
            result.problems.append("MANIFEST.json 的签名无效")
            return result
    dist_name = "-".join(wheel_name.split("-")[:2])  # yizhan-0.1.0-py3-none-any.whl -> yizhan-0.1.0
    dist_info = f"{dist_name}.dist-info"
    wheel = release_dir / wheel_name
    if wheel.is_file():
        if file_sha256(wheel) != wheel_sha256:
            result.problems.append(f"{wheel_name} 与签名清单不符")
            return result
        try:
            with zipfile.ZipFile(wheel) as zf:
                expected = parse_record(zf.read(f"{dist_info}/RECORD").decode("utf-8"))
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            result.problems.append(f"{wheel_name} 中没有可读的 RECORD（{exc}）")
            return result
        result.signed = True
    else:
        try:
            expected = parse_record((lib / dist_info / "RECORD").read_text(encoding="utf-8"))
        except OSError:
            result.problems.append(f"{wheel_name} 和 lib/{dist_info}/RECORD 都不在，无法核对程序文件")
            return result
    expected = {rel: digest for rel, digest in expected.items() if not _ignored(rel)}
    result.files = len(expected)
    for rel, digest in sorted(expected.items()):
        path = lib / rel
        if not path.is_file():
            result.problems.append(f"缺失 {rel}")
        elif _file_record_hash(path) != digest:
            result.problems.append(f"改动 {rel}")
    allowed = set(expected) | {f"{dist_info}/{name}" for name in _PIP_ADDS}
    if lib.is_dir():
        for path in sorted(lib.rglob("*")):
            rel = path.relative_to(lib).as_posix()
            if (path.is_file() or path.is_symlink()) and not _ignored(rel) and rel not in allowed:
                result.problems.append(f"多出 {rel}")
    return result


def check_release_files(release_dir: Path, public_key: str | None = None) -> list[str]:
    """Problems with the files under ``release_dir/lib`` (edited, missing, added); empty if none."""
    return verify_release_files(release_dir, public_key).problems


def running_release(code_file: Path, current: Path) -> Path | None:
    """The release folder the running code comes from (``.../releases/<v>/lib/<package>/...``),
    else the one ``current`` points at, else None (a checkout on a box without an install)."""
    for parent in code_file.resolve().parents:
        if parent.name == "lib" and parent.parent.parent.name == "releases":
            return parent.parent
    if current.is_dir():
        return current.resolve()
    return None
