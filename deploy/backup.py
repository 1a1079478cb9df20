"""A station's backup: its store, its outbox key, its settings (and media, if asked) in one
file encrypted with a passphrase, to keep on a USB stick or another machine.

Losing ``outbox.key`` loses every registration still queued (they are encrypted with it), so
the key travels with the store; the file is useless without the passphrase. The store is
copied with SQLite's backup API, page by page through the database's own locks: consistent
while the services keep writing.

File format (``yizhan-backup/1``)::

    b"YIZHAN-BACKUP\\n" | 4-byte big-endian header length | header (JSON) | chunks

The header names the KDF (scrypt) with its parameters and salt, a 7-byte nonce prefix and a
check value of the passphrase. The key is scrypt(passphrase) -> 64 bytes: the first 32 are the
AES-256-GCM key, SHA-256 of the other 32 is the check (a wrong passphrase is told apart from a
damaged file before anything is decrypted). The plaintext, an uncompressed tar, is cut into
1 MiB chunks, each sealed with AES-GCM under nonce ``prefix | counter (4 bytes) | last flag``
with the header as associated data (the STREAM construction, as in ``age``): chunks cannot be
reordered, dropped or cut off at the end without the last one failing to open. The tar holds
``backup.json`` (what and whose), ``station.toml``, ``data/station.db``, ``data/outbox.key``
and, with media, ``data/media/<files>``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from common.files import fsync_dir, write_atomic
from content import credentials
from deploy.privileges import as_owner

FORMAT = "yizhan-backup/1"
MAGIC = b"YIZHAN-BACKUP\n"
SUFFIX = ".yzbak"
CHUNK = 1 << 20
TAG = 16
SCRYPT_N = 1 << 15  # 32 MiB and about 0.1 s on a station box; stored in the header, so it can grow
MIN_PASSPHRASE = 8
DB_FILE = "station.db"
KEY_FILE = "outbox.key"  # content.outbox.KEY_FILE (deploy/ does not import the station's data)


class BackupError(Exception):
    """A backup cannot be made or read; the message (Chinese) says why and what to do."""


class WrongPassphrase(BackupError):
    """The passphrase does not open this backup (told apart from a damaged file by a check value)."""


# -- the encrypted stream ----------------------------------------------------------------------

def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    okm = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return okm[:32], hashlib.sha256(b"yizhan-backup/1 passphrase check" + okm[32:]).digest()


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= 1 << 32:
        raise BackupError("备份太大（超过 4 PiB）")
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class _SealingWriter(io.RawIOBase):
    """A write-only stream that encrypts what it is given into ``out``, chunk by chunk."""

    def __init__(self, out: IO[bytes], passphrase: str, *, n: int = SCRYPT_N) -> None:
        salt, self._prefix = os.urandom(16), os.urandom(7)
        self._key, check = _derive(passphrase, salt, n, 8, 1)
        header = json.dumps({"format": FORMAT, "kdf": {"name": "scrypt", "n": n, "r": 8, "p": 1,
                                                       "salt": base64.b64encode(salt).decode()},
                             "nonce_prefix": base64.b64encode(self._prefix).decode(), "chunk": CHUNK,
                             "check": base64.b64encode(check).decode()}).encode()
        self._aad = MAGIC + len(header).to_bytes(4, "big") + header
        self._out = out
        self._out.write(self._aad)
        self._buffer = bytearray()
        self._counter = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:  # keep one chunk back: the last must be sealed as last
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        self._out.write(AESGCM(self._key).encrypt(_nonce(self._prefix, self._counter, last), chunk, self._aad))
        self._counter += 1

    def finish(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()


def _read_header(f: IO[bytes]) -> tuple[dict, bytes]:
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise BackupError("这不是驿站的备份文件（文件头不对）")
    size = int.from_bytes(f.read(4), "big")
    if not 0 < size < 65536:
        raise BackupError("备份文件头已损坏")
    raw = f.read(size)
    try:
        header = json.loads(raw)
    except ValueError:
        raise BackupError("备份文件头已损坏") from None
    if header.get("format") != FORMAT:
        raise BackupError(f"不认识的备份格式 {header.get('format')!r}（需要更新的驿站版本？）")
    return header, MAGIC + size.to_bytes(4, "big") + raw


class _OpeningReader(io.RawIOBase):
    """A read-only stream of the verified plaintext; raises BackupError on any damage."""

    def __init__(self, f: IO[bytes], passphrase: str) -> None:
        header, self._aad = _read_header(f)
        try:
            kdf = header["kdf"]
            if kdf["name"] != "scrypt" or not 2 <= kdf["n"] <= 1 << 22 or kdf["r"] > 64 or kdf["p"] > 16:
                raise BackupError("备份文件头中的密钥参数不合理")
            self._key, check = _derive(passphrase, base64.b64decode(kdf["salt"]), kdf["n"], kdf["r"], kdf["p"])
            self._prefix = base64.b64decode(header["nonce_prefix"])
            self._chunk = int(header["chunk"])
            expected = base64.b64decode(header["check"])
        except (KeyError, TypeError, ValueError):
            raise BackupError("备份文件头已损坏") from None
        if not hmac.compare_digest(check, expected):
            raise WrongPassphrase("备份口令不对：请检查口令（区分大小写）后重试；没有改动任何文件")
        self._f = f
        self._counter = 0
        self._plain = b""
        self._pending = f.read(self._chunk + TAG)
        self._done = False

    def readable(self) -> bool:
        return True

    def _next(self) -> bool:
        if self._done:
            return False
        sealed = self._pending
        self._pending = self._f.read(self._chunk + TAG)
        last = not self._pending
        try:
            self._plain = AESGCM(self._key).decrypt(_nonce(self._prefix, self._counter, last), sealed, self._aad)
        except InvalidTag:
            raise BackupError("备份文件已损坏或不完整（校验不通过）：请换一份备份；没有改动任何文件") from None
        self._counter += 1
        self._done = last
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._plain:
            if not self._next():
                return 0
        n = min(len(buffer), len(self._plain))
        buffer[:n] = self._plain[:n]
        self._plain = self._plain[n:]
        return n


def read_passphrase(passphrase_file: Path | None, *, confirm: bool, stdin: IO[str] | None = None) -> str:
    """The passphrase from ``--passphrase-file`` (its first line), else asked on the terminal
    without echo (twice when making a backup), else the first line of stdin."""
    import getpass
    import sys

    stdin = stdin or sys.stdin
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise BackupError(f"读不到口令文件 {passphrase_file}：{exc.strerror or exc}") from None
        passphrase = text.split("\n", 1)[0].rstrip("\r")
    elif stdin.isatty():
        passphrase = getpass.getpass("备份口令：")
        if confirm and getpass.getpass("再输入一次口令：") != passphrase:
            raise BackupError("两次输入的口令不一样")
    else:
        passphrase = stdin.readline().rstrip("\r\n")
    if not passphrase:
        raise BackupError("没有口令：用 --passphrase-file 文件，或在终端输入")
    return passphrase


# -- making a backup ---------------------------------------------------------------------------

@dataclass
class BackupInfo:
    """What a backup holds (``backup.json``) and the settings file in it."""

    meta: dict[str, Any]
    station_toml: bytes
    members: list[str] = field(default_factory=list)


def backup_name(station_id: str, now: dt.datetime) -> str:
    return f"yizhan-{station_id}-{now:%Y%m%d-%H%M%S}{SUFFIX}"


def snapshot_database(db: Path, dest: Path) -> None:
    """A consistent copy of the station database (SQLite's online backup, WAL included)."""
    # An ordinary connection (a read-only one cannot always open a WAL database): it only reads,
    # and the copy is one step, so one read transaction sees one consistent state.
    source = sqlite3.connect(f"{db.resolve().as_uri()}?mode=rw", uri=True)
    try:
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _media_files(media: Path) -> Iterator[Path]:
    if media.is_dir():
        for path in sorted(media.rglob("*")):
            if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
                yield path


def make_backup(*, data_dir: Path, config: Path, out: Path, passphrase: str, station_id: str, version: str,
                with_media: bool, now: dt.datetime, scrypt_n: int = SCRYPT_N) -> Path:
    """Write the encrypted backup to ``out`` (a folder: a dated file in it); return the file."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"口令太短：至少 {MIN_PASSPHRASE} 个字符")
    db = data_dir / DB_FILE
    key = data_dir / KEY_FILE
    sealed_key = not key.is_file() and credentials.is_sealed(credentials.OUTBOX_KEY)
    for needed in (db, config, *(() if sealed_key else (key,))):
        if not needed.is_file():
            raise BackupError(f"{needed} 不存在：这里没有可备份的驿站数据")
    target = out / backup_name(station_id, now) if out.is_dir() else out
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} 不存在（U 盘插好并挂载了吗？）")
    meta = {"format": FORMAT, "station_id": station_id, "created_at": now.isoformat(timespec="seconds"),
            "software_version": version, "data_dir": str(data_dir), "with_media": with_media}
    with as_owner(data_dir):
        # The snapshot is made as the data's owner, beside the data: SQLite's -wal/-shm files,
        # if it makes them, are the services' (a root-owned -shm stops them).
        work = Path(tempfile.mkdtemp(prefix=".backup-", dir=data_dir))
        try:
            snapshot_database(db, work / DB_FILE)
        except sqlite3.Error as exc:
            shutil.rmtree(work, ignore_errors=True)
            raise BackupError(f"读取 {db} 失败：{exc}") from None
    try:
        settings_text = _with_sealed_token(config.read_bytes())
        if sealed_key:  # sealed on this box: the backup carries it, under the passphrase only
            key = work / KEY_FILE
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(credentials.unseal(credentials.OUTBOX_KEY))
    except credentials.CredentialError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise BackupError(str(exc)) from None

    def write_sealed(partial: Path) -> None:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw:
            sealed = _SealingWriter(raw, passphrase, n=scrypt_n)
            with tarfile.open(fileobj=sealed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                _add_bytes(tar, "backup.json", json.dumps(meta, ensure_ascii=False, indent=1).encode(), now)
                _add_bytes(tar, "station.toml", settings_text, now)
                tar.add(work / DB_FILE, f"data/{DB_FILE}", recursive=False, filter=_plain_member)
                tar.add(key, f"data/{KEY_FILE}", recursive=False, filter=_plain_member)
                if with_media:
                    for path in _media_files(data_dir / "media"):
                        rel = path.relative_to(data_dir).as_posix()
                        tar.add(path, f"data/{rel}", recursive=False, filter=_plain_member)
            sealed.finish()

    try:
        write_atomic(target, write_sealed, aside=target.with_name(f".{target.name}.part"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _plain_member(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _with_sealed_token(config: bytes) -> bytes:
    """The settings file with the station token put back in, when this box sealed it (a backup
    must restore onto another box, which seals it again)."""
    if not credentials.is_sealed(credentials.STATION_TOKEN):
        return config
    token = credentials.unseal(credentials.STATION_TOKEN).decode("utf-8").strip()
    return re.sub(r'(?m)^(\s*station_token\s*=\s*)""[^\n]*$', lambda m: m.group(1) + json.dumps(token),
                  config.decode("utf-8")).encode("utf-8")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, now: dt.datetime) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(now.timestamp())
    tar.addfile(info, io.BytesIO(data))


# -- reading and restoring ---------------------------------------------------------------------

def _member_path(name: str) -> PurePosixPath:
    """Only the names a backup is made of; anything else (``..``, absolute, links) is damage."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"备份中有不允许的路径 {name!r}")
    allowed = name in ("backup.json", "station.toml", f"data/{DB_FILE}", f"data/{KEY_FILE}") or (
        len(path.parts) >= 3 and path.parts[:2] == ("data", "media"))
    if not allowed:
        raise BackupError(f"备份中有不认识的文件 {name!r}")
    return path


def _members(path: Path, passphrase: str) -> Iterator[tuple[PurePosixPath, IO[bytes]]]:
    try:
        f = path.open("rb")
    except OSError as exc:
        raise BackupError(f"打不开 {path}：{exc.strerror or exc}") from None
    with f:
        reader = io.BufferedReader(_OpeningReader(f, passphrase), buffer_size=CHUNK)
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    rel = _member_path(member.name)
                    if not member.isfile():
                        raise BackupError(f"备份中的 {member.name} 不是普通文件")
                    data = tar.extractfile(member)
                    assert data is not None
                    yield rel, data
        except tarfile.TarError as exc:
            raise BackupError(f"备份内容已损坏（{exc}）") from None


def read_backup(path: Path, passphrase: str) -> BackupInfo:
    """Decrypt and check the whole file without writing anything; what it holds."""
    meta: dict[str, Any] | None = None
    toml = b""
    names = []
    for rel, data in _members(path, passphrase):
        name = rel.as_posix()
        names.append(name)
        if name == "backup.json":
            try:
                meta = json.loads(data.read())
            except ValueError:
                raise BackupError("备份中的 backup.json 已损坏") from None
        elif name == "station.toml":
            toml = data.read()
        else:
            while data.read(CHUNK):
                pass
    for needed in ("backup.json", "station.toml", f"data/{DB_FILE}", f"data/{KEY_FILE}"):
        if needed not in names:
            raise BackupError(f"备份不完整：缺少 {needed}")
    assert meta is not None
    return BackupInfo(meta, toml, names)


@dataclass(frozen=True)
class FileOwner:
    uid: int
    gid: int


def restore_backup(path: Path, passphrase: str, *, data_dir: Path, owner: FileOwner | None,
                   config: Path | None, config_owner: FileOwner | None, config_mode: int = 0o640,
                   fault: Callable[[str], None] | None = None) -> list[str]:
    """Put the backup's files in place; return what was written. Call :func:`read_backup`
    first: this reads the file again and stages everything before the first file moves.

    ``owner`` (None: leave as made) owns the data files; ``config`` None keeps the settings
    file as it is. Stale ``station.db-wal``/``-shm`` are removed before the store is replaced
    (SQLite would replay the old log into the restored database).
    """
    created = not data_dir.exists()
    if created:
        data_dir.mkdir(parents=True, mode=0o750)
        _own(data_dir, owner, 0o750)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
    changes: list[str] = []
    try:
        staged: list[PurePosixPath] = []
        toml = None
        for rel, data in _members(path, passphrase):
            if rel.parts[0] == "data":
                dest = staging.joinpath(*rel.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with dest.open("wb") as out:
                    shutil.copyfileobj(data, out, CHUNK)
                    out.flush()
                    os.fsync(out.fileno())
                staged.append(rel)
            elif rel.name == "station.toml":
                toml = data.read()
        if fault:
            fault("staged")
        for stale in (f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}-journal"):
            (data_dir / stale).unlink(missing_ok=True)
        for rel in sorted(staged, key=lambda r: r.as_posix() != f"data/{DB_FILE}"):
            inside = PurePosixPath(*rel.parts[1:])
            dest = data_dir.joinpath(*inside.parts)
            for level in reversed(dest.relative_to(data_dir).parents[:-1]):  # media, media/ab, ...
                if not (data_dir / level).is_dir():
                    (data_dir / level).mkdir()
                    _own(data_dir / level, owner, 0o750)
            source = staging.joinpath(*rel.parts)
            _own(source, owner, 0o600 if inside.name == KEY_FILE else 0o640)
            os.replace(source, dest)
            changes.append(str(dest))
        for directory in {data_dir, *(data_dir.joinpath(*PurePosixPath(*r.parts[1:]).parts).parent for r in staged)}:
            fsync_dir(directory)
        if config is not None and toml is not None:
            if not config.exists() or config.read_bytes() != toml:
                chown = config_owner is not None and os.geteuid() == 0
                write_atomic(config, toml, mode=config_mode, aside=config.with_name(f".{config.name}.restore"),
                             owner=(config_owner.uid, config_owner.gid) if chown and config_owner else None)
                changes.append(str(config))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not changes:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return changes


def _own(path: Path, owner: FileOwner | None, mode: int) -> None:
    if owner is not None and os.geteuid() == 0:
        os.chown(path, owner.uid, owner.gid)
    os.chmod(path, mode)
