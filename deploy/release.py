"""Offline release bundles: the project wheel, a wheelhouse, the lock, a signed manifest.

A bundle is one uncompressed tar (wheels are compressed already)::

    yizhan-<version>/MANIFEST.json   format, version, lock digest, SHA-256 and size of every file
    yizhan-<version>/MANIFEST.sig    base64 Ed25519 signature of the exact manifest bytes
    yizhan-<version>/requirements.lock
    yizhan-<version>/yizhan-<version>-py3-none-any.whl
    yizhan-<version>/wheels/*.whl    every locked dependency (Kivy and ffpyplayer included)

The signature is made with the hub's online key (``HOME/feed.key``, the key that signs the
feed's manifests), and a station checks it through the same trust object as its feed
(:mod:`protocol.trust`: the online key its root authorised, never a retired one). Installing needs no
network and no compiler: pip installs from ``wheels/`` with ``--no-index --require-hashes``.
A *code-only* bundle (``include_wheels=False``) leaves the wheelhouse out; it installs only
on a station that already holds the dependencies of the same lock (most upgrades).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.files import write_atomic
from deploy import lock as locks
from protocol.bundle import FORMAT, MANIFEST, SIGNATURE, VERSION_RE, ReleaseError, file_sha256, read_manifest
from protocol.feed import SignatureError, sign_manifest
from protocol.release_offer import version_key as version_key
from protocol.trust import TrustState, verify_release_manifest

PIP_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                 "manylinux_2_5_x86_64", "manylinux1_x86_64")


@dataclass(frozen=True)
class Release:
    """A verified bundle unpacked in ``root``."""

    root: Path
    version: str
    lock_sha256: str
    has_wheels: bool
    manifest: dict

    @property
    def lock(self) -> Path:
        return self.root / "requirements.lock"

    @property
    def project_wheel(self) -> Path:
        return self.root / self.manifest["project_wheel"]


def lock_hashes(lock: Path) -> dict[str, set[str]]:
    """``{name: {sha256, ...}}`` of a hashed requirements lock."""
    text = lock.read_text(encoding="utf-8")
    result: dict[str, set[str]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==", entry.strip())
        if match:
            result[locks.normalize(match.group(1))] = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", entry))
    return result


def download_wheelhouse(lock: Path, wheelhouse: Path, python: str = sys.executable) -> None:
    """Fetch every locked wheel for Linux x86_64 / CPython 3.11 (needs the package index)."""
    command = [python, "-m", "pip", "download", "-q", "--require-hashes", "--only-binary", ":all:", "--no-deps",
               "-r", str(lock), "-d", str(wheelhouse), "--python-version", locks.PYTHON_VERSION,
               "--implementation", "cp", "--abi", "cp311"]
    for platform in PIP_PLATFORMS:
        command += ["--platform", platform]
    subprocess.run(command, check=True)


SOURCE_IGNORE = (".venv", ".git", ".cache", "dist", "build", "tests", "bench", "demo-out", "*.egg-info",
                 "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "reports")


def copy_source(src: Path, dest: Path) -> Path:
    """The project's files without the checkout's leftovers (a stale ``build/`` would leak
    deleted modules into the wheel)."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*SOURCE_IGNORE))
    return dest


def build_project_wheel(src: Path, out: Path, python: str = sys.executable) -> Path:
    """The project's wheel, built from a clean copy of ``src`` without network (setuptools from the venv)."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.glob("yizhan-*.whl"))
    with tempfile.TemporaryDirectory() as tmp:
        clean = copy_source(src, Path(tmp) / "src")
        run = subprocess.run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                              "-w", str(out.resolve()), str(clean)], capture_output=True, text=True)
    if run.returncode != 0:
        raise ReleaseError(f"could not build the project wheel from {src}: {run.stderr.strip()[-500:]}")
    made = sorted(set(out.glob("yizhan-*.whl")) - before) or sorted(out.glob("yizhan-*.whl"))
    return max(made, key=lambda p: p.stat().st_mtime)


def pick_wheels(lock: Path, wheelhouse: Path) -> list[Path]:
    """The wheelhouse files whose hashes the lock names, one per locked package."""
    by_hash = {file_sha256(p): p for p in wheelhouse.glob("*.whl")}
    chosen, missing = [], []
    for name, hashes in sorted(lock_hashes(lock).items()):
        found = [by_hash[h] for h in hashes if h in by_hash]
        if not found:
            missing.append(name)
        else:
            chosen.append(found[0])
    if missing:
        raise ReleaseError(f"{wheelhouse}: no wheel matching the lock for {', '.join(missing)} "
                           "(run 'make release' with network once, or pip download them)")
    return chosen


def build_bundle(out_dir: Path, *, key: Ed25519PrivateKey, project_wheel: Path, lock: Path,
                 wheelhouse: Path | None, notes: str = "", now: dt.datetime | None = None) -> Path:
    """Write ``out_dir/yizhan-<version>.tar`` and return its path."""
    match = re.match(r"^yizhan-([^-]+)-", project_wheel.name)
    if not match or not VERSION_RE.match(match.group(1)):
        raise ReleaseError(f"{project_wheel.name}: not a yizhan wheel with a version")
    version = match.group(1)
    top = f"yizhan-{version}"
    files: dict[str, Path] = {"requirements.lock": lock, project_wheel.name: project_wheel}
    if wheelhouse is not None:
        for wheel in pick_wheels(lock, wheelhouse):
            files[f"wheels/{wheel.name}"] = wheel
    manifest = {
        "format": FORMAT, "version": version,
        "created_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "python": locks.PYTHON_VERSION, "platform": locks.PLATFORM,
        "lock_sha256": file_sha256(lock), "project_wheel": project_wheel.name,
        "wheels": wheelhouse is not None, "notes": notes,
        "files": {name: {"sha256": file_sha256(path), "size": path.stat().st_size} for name, path in sorted(files.items())},
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{top}.tar"

    def write_bundle(part: Path) -> None:
        with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in ((MANIFEST, manifest_bytes), (SIGNATURE, sign_manifest(manifest_bytes, key))):
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
            for name, path in sorted(files.items()):
                info = tar.gettarinfo(str(path), f"{top}/{name}")
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode, info.mtime = 0o644, 0
                with path.open("rb") as f:
                    tar.addfile(info, f)

    return write_atomic(target, write_bundle, aside=target.with_suffix(".tar.part"))


def verify_signature(bundle: Path, raw: bytes, signature: bytes, trust: TrustState | str) -> None:
    """The bundle's ``MANIFEST.sig`` checked by the station's trust object (a bare key is the
    trust of a station that starts from it: that key signs, or the online key it authorised)."""
    state = TrustState.start(trust) if isinstance(trust, str) else trust
    try:
        verify_release_manifest(state, raw, signature)
    except SignatureError as exc:
        raise ReleaseError(f"{bundle.name}: signature refused: {exc}") from None


def _safe_member_path(bundle: Path, member: tarfile.TarInfo, top: str) -> PurePosixPath:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or not member.name.startswith(top + "/") or "\\" in member.name:
        raise ReleaseError(f"{bundle.name}: unexpected file {member.name!r}")
    if not (member.isfile() or member.isdir()):
        raise ReleaseError(f"{bundle.name}: {member.name!r} is a link or device, not a plain file")
    return name


def extract_files(bundle: Path, dest: Path, top: str) -> None:
    """Unpack a bundle's plain files below ``dest``, refusing anything else.

    Written out by hand rather than with ``extractall(filter="data")``: Debian 12's Python
    is 3.11.2, and the extraction filters only exist from 3.11.4. Every name must lie under
    ``top/`` with no ``..`` or absolute part; links, devices and FIFOs are refused whole; the
    files get mode 0644 whatever the archive says, and no owner from it.
    """
    try:
        with tarfile.open(bundle, "r:") as tar:
            for member in tar:
                name = _safe_member_path(bundle, member, top)
                target = dest.joinpath(*name.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise ReleaseError(f"{bundle.name}: cannot read {member.name!r}")
                with source, open(target, "xb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                os.chmod(target, 0o644)
    except FileExistsError as exc:
        raise ReleaseError(f"{bundle.name}: a file appears twice ({Path(exc.filename).name})") from None
    except (tarfile.TarError, OSError) as exc:
        raise ReleaseError(f"{bundle}: cannot unpack the bundle ({exc})") from None


def unpack(bundle: Path, dest: Path, *, public_key: TrustState | str | None) -> Release:
    """Verify the signature (when a trust or a root key is given) and every file's hash, then unpack into ``dest``.

    ``dest`` is created fresh; nothing is left there when a check fails.
    """
    manifest, raw, sig = read_manifest(bundle)
    if public_key:
        verify_signature(bundle, raw, sig, public_key)
    version = manifest["version"]
    top = f"yizhan-{version}"
    if dest.exists():
        shutil.rmtree(dest)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        extract_files(bundle, staging, top)
        root = staging / top
        listed = set(manifest["files"])
        present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {MANIFEST, SIGNATURE}
        if present != listed:
            extra, missing = sorted(present - listed), sorted(listed - present)
            raise ReleaseError(f"{bundle.name}: files do not match the manifest (extra {extra}, missing {missing})")
        for name, meta in manifest["files"].items():
            if file_sha256(root / name) != meta["sha256"]:
                raise ReleaseError(f"{bundle.name}: {name} does not match its SHA-256 in the manifest")
        root.replace(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Release(root=dest, version=version, lock_sha256=manifest["lock_sha256"],
                   has_wheels=bool(manifest["wheels"]), manifest=manifest)


def signature_b64(data: bytes, key: Ed25519PrivateKey) -> bytes:
    return base64.b64encode(key.sign(data))


def main(argv: list[str] | None = None) -> int:
    """``python -m deploy.release`` (``make release``): build the bundle into ``dist/``."""
    import argparse

    from protocol.feed import generate_private_key, load_private_key, private_key_pem

    parser = argparse.ArgumentParser(prog="python -m deploy.release", description="build an offline release bundle")
    parser.add_argument("--key", type=Path, default=Path(".cache/release-key.pem"),
                        help="Ed25519 private key (PEM), e.g. the hub's feed key (made if missing)")
    parser.add_argument("--out", type=Path, default=Path("dist"))
    parser.add_argument("--wheelhouse", type=Path, default=Path(".cache/wheelhouse"))
    parser.add_argument("--no-download", action="store_true", help="use the wheelhouse as it is")
    parser.add_argument("--no-check", action="store_true", help="skip the lock-against-pyproject check")
    parser.add_argument("--download-only", action="store_true",
                        help="only fill the wheelhouse, with the hub's wheels too (make setup does, for the "
                        "bundle tests and the hub's offline install)")
    args = parser.parse_args(argv)
    problems = [] if args.no_check else locks.check()
    if problems:
        raise SystemExit("\n".join(problems))
    lock = locks.ROOT / locks.RUNTIME_LOCK
    if not args.no_download:
        download_wheelhouse(lock, args.wheelhouse)
        if args.download_only:
            download_wheelhouse(locks.ROOT / locks.HUB_LOCK, args.wheelhouse)
    if args.download_only:
        return 0
    if args.key.exists():
        key = load_private_key(args.key.read_bytes())
    else:
        args.key.parent.mkdir(parents=True, exist_ok=True)
        key = generate_private_key()
        args.key.write_bytes(private_key_pem(key))
        args.key.chmod(0o600)
        print(f"made a new signing key {args.key} (use the hub's feed key for real releases)")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_project_wheel(locks.ROOT, Path(tmp))
        bundle = build_bundle(args.out, key=key, project_wheel=wheel, lock=lock, wheelhouse=args.wheelhouse)
    manifest, _, _ = read_manifest(bundle)
    size = bundle.stat().st_size / 1e6
    print(f"{bundle}: version {manifest['version']}, {len(manifest['files'])} files, {size:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
