"""Encryption at rest of the residents' personal data the hub receives (registrations).

A station encrypts registrations in its outbox; the hub must not undo that by storing them
as plain JSON. :class:`Vault` seals each registration payload with AES-256-GCM before it
is written to ``uploads.payload`` and opens it only when it is read for an export.

The data key is 32 random bytes, made on first use:

- by default in ``HOME/keys/registrations.key`` (folder 0700, file 0600): a copy of the
  database alone (a backup, a stolen disk image without the key file) reveals nothing;
- with ``YIZHAN_HUB_DATA_KEY`` set (base64 of 32 bytes, e.g. from the bureau's secret
  store or a systemd credential), the data key is kept *wrapped* by that key in
  ``HOME/keys/registrations.key.wrapped``: nothing on the hub's disk can open the data.

Sealed rows look like ``yv1:<base64 of nonce | ciphertext>``; rows written before the
vault existed (plain JSON) are still read.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_KEY = "YIZHAN_HUB_DATA_KEY"
KEYS_DIR = "keys"
KEY_NAME = "registrations.key"
WRAPPED_NAME = "registrations.key.wrapped"
PREFIX = "yv1:"
_AAD = b"yizhan-hub-registration/1"
_WRAP_AAD = b"yizhan-hub-data-key/1"


class VaultError(Exception):
    """The data key is missing, unusable or does not open a stored record."""


class Vault:
    """Seals and opens registration payloads with one data key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise VaultError("the registration data key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def for_home(cls, home: Path) -> Vault:
        """The vault of a hub home folder (key made on first use; see the module docstring)."""
        keys = Path(home) / KEYS_DIR
        keys.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(keys, 0o700)
        envelope = os.environ.get(ENV_KEY, "").strip()
        if envelope:
            return cls(_wrapped_key(keys / WRAPPED_NAME, _decode_env_key(envelope)))
        return cls(_plain_key(keys / KEY_NAME))

    def seal(self, payload: dict[str, Any]) -> str:
        """What is stored in ``uploads.payload`` for a registration."""
        nonce = secrets.token_bytes(12)
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return PREFIX + base64.b64encode(nonce + self._aead.encrypt(nonce, data, _AAD)).decode("ascii")

    def unseal(self, stored: str) -> dict[str, Any]:
        """The payload of a stored row; legacy plain-JSON rows are returned as they are."""
        if not stored.startswith(PREFIX):
            legacy: dict[str, Any] = json.loads(stored)
            return legacy
        try:
            blob = base64.b64decode(stored[len(PREFIX):], validate=True)
            data = self._aead.decrypt(blob[:12], blob[12:], _AAD)
        except (ValueError, InvalidTag):
            raise VaultError("a stored registration does not open with this hub's data key "
                             "(wrong key file or YIZHAN_HUB_DATA_KEY?)") from None
        payload: dict[str, Any] = json.loads(data.decode("utf-8"))
        return payload


def _decode_env_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise VaultError(f"{ENV_KEY} must be base64 of 32 random bytes (e.g. 'openssl rand -base64 32')")
    return key


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 holding ``data``; if another process made it first, keep theirs."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # fails if it exists: two first uses never make two keys
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _plain_key(path: Path) -> bytes:
    if not path.exists():
        _write_new(path, base64.b64encode(secrets.token_bytes(32)) + b"\n")
    os.chmod(path, 0o600)
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise VaultError(f"{path} is not a registration data key (base64 of 32 bytes)")
    return key


def _wrapped_key(path: Path, kek: bytes) -> bytes:
    aead = AESGCM(kek)
    if not path.exists():
        nonce = secrets.token_bytes(12)
        _write_new(path, base64.b64encode(nonce + aead.encrypt(nonce, secrets.token_bytes(32), _WRAP_AAD)) + b"\n")
    os.chmod(path, 0o600)
    try:
        blob = base64.b64decode(path.read_bytes().strip(), validate=True)
        return aead.decrypt(blob[:12], blob[12:], _WRAP_AAD)
    except (ValueError, InvalidTag):
        raise VaultError(f"{path} does not open with {ENV_KEY} (a different key was set?)") from None
