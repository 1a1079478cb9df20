"""A full, read-only or failing data disk, said in one Chinese line instead of a traceback.

Counter staff cannot read ``sqlite3.OperationalError: disk I/O error``. Every command that
touches the station's data asks :func:`probe_writable` first (a real write, flushed to the
disk: creating an empty file succeeds on a full disk) and the ``yizhan`` entry point turns any
error that :func:`disk_problem` recognises into its line and a non-zero exit.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
from pathlib import Path

_ERRNO_TEXT = {
    errno.ENOSPC: "数据盘已满",
    errno.EDQUOT: "数据盘已满（超出磁盘配额）",
    errno.EROFS: "数据盘变成了只读（常见于存储卡或硬盘出错）",
    errno.EIO: "数据盘读写出错（存储卡或硬盘可能损坏）",
}
# What SQLite says when the file system under it fails (it hides the errno).
_SQLITE_TEXT = (
    ("database or disk is full", errno.ENOSPC),
    ("disk i/o error", errno.EIO),
    ("attempt to write a readonly database", errno.EROFS),
    ("readonly database", errno.EROFS),
)
ADVICE = {
    errno.ENOSPC: "请删除不需要的文件（如旧的导出、U 盘拷入的视频）或联系技术人员清理后重试",
    errno.EDQUOT: "请联系技术人员调整配额或清理文件后重试",
    errno.EROFS: "请重启设备；仍是只读请联系技术人员检查或更换存储卡/硬盘",
    errno.EIO: "请联系技术人员检查或更换存储卡/硬盘",
}
PROBE_BYTES = 4096


class DiskProblem(OSError):
    """The data disk cannot take a write; ``str()`` is the line for staff."""


def _errno_of(exc: BaseException) -> int | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _ERRNO_TEXT:
            return current.errno
        if isinstance(current, sqlite3.Error):
            text = str(current).lower()
            for marker, code in _SQLITE_TEXT:
                if marker in text:
                    return code
        current = current.__cause__ or current.__context__
    return None


def disk_problem(exc: BaseException, folder: str | Path | None = None) -> str | None:
    """The staff line for ``exc`` if it is the disk's fault (full, read-only, failing), else None."""
    if isinstance(exc, DiskProblem):
        return str(exc)
    code = _errno_of(exc)
    if code is None:
        return None
    where = f"（{folder}）" if folder else ""
    return f"{_ERRNO_TEXT[code]}{where}：本站无法保存数据。{ADVICE[code]}"


def probe_writable(folder: str | Path) -> str | None:
    """Write and flush a few KB in ``folder`` and remove them: None if that worked, else the
    staff line saying why not (a missing folder is made first, as the station would)."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path, prefix=".yizhan-write-check-")
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError as exc:
        found = disk_problem(exc, path)
        if found:
            return found
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"数据目录 {path} 不可写（权限不足）：请以服务用户运行，或由技术人员修正目录所有者"
        return f"数据目录 {path} 无法写入（{exc.strerror or exc}）：请联系技术人员"
    return None


def require_writable(folder: str | Path) -> None:
    """Raise :class:`DiskProblem` with the staff line if ``folder`` cannot take a write."""
    problem = probe_writable(folder)
    if problem:
        raise DiskProblem(problem)
