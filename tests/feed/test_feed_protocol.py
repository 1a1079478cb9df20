"""content/PROTOCOL.md: its example manifest and signature are real and verify as documented."""

from __future__ import annotations

import re
from pathlib import Path

from hub.example import EXAMPLE_DIR
from hub.source import read_source_folder
from protocol.feed import Manifest, verify_manifest

PROTOCOL = Path(__file__).resolve().parents[2] / "content" / "PROTOCOL.md"


def test_the_documented_manifest_verifies_with_the_documented_key() -> None:
    text = PROTOCOL.read_text(encoding="utf-8")
    manifest_bytes = text.split("```json\n", 1)[1].split("```", 1)[0].encode("utf-8")
    public_key = re.search(r"public key is\s+`([A-Za-z0-9+/=]{44})`", text).group(1)
    signature = re.search(r"```\n([A-Za-z0-9+/=]{88})\n```", text).group(1)
    verify_manifest(manifest_bytes, signature.encode("ascii"), public_key)
    manifest = Manifest.from_bytes(manifest_bytes)
    assert manifest.feed_id == "gy-yunyan" and manifest.scope.regions == ["520103"]
    # the media it lists are the example folder's files
    _, media, _ = read_source_folder(EXAMPLE_DIR)
    assert {m.sha256 for m in manifest.media} == set(media)


def test_every_endpoint_the_hub_serves_is_documented() -> None:
    from hub.storage import UPLOAD_KINDS

    text = PROTOCOL.read_text(encoding="utf-8")
    for endpoint in UPLOAD_KINDS:
        assert f"`POST {endpoint}`" in text
