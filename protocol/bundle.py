"""A release bundle as both sides read it: the tar's signed ``MANIFEST.json`` and the bundle's SHA-256.

The hub reads a bundle's manifest when it publishes the bundle (:mod:`hub.releases`); a station
reads it before it unpacks and verifies the bundle (:mod:`deploy.release`, which also builds
bundles). Reading needs nothing but the standard library: the manifest is found in the tar without
unpacking anything, and its signature is checked by the trust object (:mod:`protocol.trust`).
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from pathlib import Path
from typing import Any

FORMAT = "yizhan-release/1"
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
VERSION_RE = re.compile(r"^[0-9][A-Za-z0-9.+-]{0,40}$")


class ReleaseError(Exception):
    """A bundle cannot be built or used; the message says which file and why."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(bundle: Path) -> tuple[dict[str, Any], bytes, bytes]:
    """The manifest (parsed and raw) and the signature file of a bundle, without unpacking it."""
    try:
        with tarfile.open(bundle, "r:") as tar:
            names = {m.name.split("/", 1)[-1]: m for m in tar.getmembers() if "/" in m.name}
            if MANIFEST not in names or SIGNATURE not in names:
                raise ReleaseError(f"{bundle.name}: no {MANIFEST}/{SIGNATURE}: not a yizhan release bundle")
            manifest_file, signature_file = tar.extractfile(names[MANIFEST]), tar.extractfile(names[SIGNATURE])
            if manifest_file is None or signature_file is None:  # a directory or a link by that name
                raise ReleaseError(f"{bundle.name}: {MANIFEST}/{SIGNATURE} is not a file: not a yizhan release bundle")
            raw = manifest_file.read()
            sig = signature_file.read()
    except (tarfile.TarError, OSError) as exc:
        raise ReleaseError(f"{bundle}: cannot read the bundle ({exc})") from None
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise ReleaseError(f"{bundle.name}: {MANIFEST} is not JSON") from None
    if manifest.get("format") != FORMAT or not VERSION_RE.match(str(manifest.get("version", ""))):
        raise ReleaseError(f"{bundle.name}: unknown bundle format {manifest.get('format')!r}")
    return manifest, raw, sig
