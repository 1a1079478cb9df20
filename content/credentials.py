"""The station's two secrets as systemd encrypted credentials, never beside the data.

The outbox key (it decrypts every queued registration) and the station token (it lets its
holder upload as the station) are sealed by ``yizhan install`` with ``systemd-creds``: bound
to the box's TPM2 when it has one, else to the host key ``/var/lib/systemd/credential.secret``.
The sealed files live in ``/etc/yizhan/credentials/``; the services get them decrypted in
``$CREDENTIALS_DIRECTORY`` (``LoadCredentialEncrypted=`` in their units' drop-ins), a
memory-only folder that only they can read. A command typed at a root shell gets them the
same way (:func:`unseal_into`), before it becomes the service user.

What a copy yields (PROTOCOL.md §7): the data folder alone, nothing; the whole disk of a box
without a TPM2, everything (the host key is on it); with a TPM2, nothing without the box.
Only the standard library here: the station's data (the outbox) and the installer use it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from common.files import write_atomic

SEALED_DIR = Path("/etc/yizhan/credentials")
OUTBOX_KEY = "outbox.key"
STATION_TOKEN = "station_token"
NAMES = (OUTBOX_KEY, STATION_TOKEN)


class CredentialError(Exception):
    """A credential cannot be sealed or opened; the message says which and why."""


def sealed_dir() -> Path:
    """Where the sealed credentials are (``$YIZHAN_CREDENTIALS`` moves it, for tests)."""
    return Path(os.environ.get("YIZHAN_CREDENTIALS", str(SEALED_DIR)))


def sealed(name: str) -> Path:
    return sealed_dir() / f"{name}.cred"


def is_sealed(name: str) -> bool:
    """Whether ``name`` is sealed on this box (a folder we may not look into counts as sealed)."""
    try:
        return sealed(name).exists()
    except PermissionError:
        return True


def credential(name: str) -> bytes | None:
    """The decrypted credential the service manager handed this process, or None."""
    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    if not folder:
        return None
    path = Path(folder) / name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def available() -> bool:
    return shutil.which("systemd-creds") is not None


def has_tpm2() -> bool:
    return available() and subprocess.run(["systemd-creds", "has-tpm2", "--quiet"], capture_output=True).returncode == 0


def protection() -> str:
    """How the secrets are kept: ``tpm2``, ``host`` (the host key on the same disk) or ``none``."""
    if not is_sealed(OUTBOX_KEY):
        return "none"
    return "tpm2" if has_tpm2() else "host"


def seal(name: str, secret: bytes, *, dest: Path | None = None) -> Path:
    """Encrypt ``secret`` as credential ``name`` (TPM2 if present, else the host key), written
    aside and renamed, root-only; decrypted once to check before it counts."""
    target = dest or sealed(name)
    # The folder may be listed by anyone (the service user checks whether a key is sealed);
    # each sealed file is root's alone.
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(target.parent, 0o755)

    def encrypt(part: Path) -> None:
        run = subprocess.run(["systemd-creds", "encrypt", f"--name={name}", "-", str(part)], input=secret,
                             capture_output=True)
        if run.returncode != 0:
            raise CredentialError(f"systemd-creds encrypt {name}: {run.stderr.decode(errors='replace').strip()}")
        os.chmod(part, 0o600)
        if unseal(name, part) != secret:
            raise CredentialError(f"{name}: the sealed credential does not decrypt to the secret")

    return write_atomic(target, encrypt, mode=0o600, aside=target.with_name(target.name + ".part"))


def unseal(name: str, path: Path | None = None) -> bytes:
    run = subprocess.run(["systemd-creds", "decrypt", f"--name={name}", str(path or sealed(name)), "-"],
                         capture_output=True)
    if run.returncode != 0:
        raise CredentialError(f"{name}: 不能解密（{run.stderr.decode(errors='replace').strip()}）："
                              "凭据只能在封存它的这台设备上解开")
    return run.stdout


def unseal_into(folder: Path, uid: int, gid: int) -> Path | None:
    """For a command run by hand as root: decrypt the sealed credentials into ``folder`` (on a
    memory file system), readable by ``uid`` only; None when nothing is sealed here."""
    present = [name for name in NAMES if is_sealed(name)]
    if not present:
        return None
    folder.mkdir(mode=0o700)
    for name in present:
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as f:
            f.write(unseal(name))
        os.chown(path, uid, gid)
    os.chown(folder, uid, gid)
    return folder
