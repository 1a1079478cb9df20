"""Files that appear whole or not at all: written aside, made durable, renamed into place.

A reader (a station fetching a feed file, nginx serving one, a watcher of the virtual printer's
folder, the next start of the program after a power cut) sees either the old file or the new
one, never half of one. ``durable=True`` (the default) fsyncs the file before the rename and
the folder after it, so that the rename itself survives a power cut; files that are a cache,
verified again whenever they are read, can skip both.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

Writer = Callable[[Path], object]


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` survive a power cut (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file written by someone else (a tar writer, an image library) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def aside_path(path: Path, suffix: str = ".tmp") -> Path:
    """A name beside ``path`` that no other process or thread writing the same file uses."""
    return path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}{suffix}")


def write_atomic(path: Path, data: bytes | str | Writer, *, mode: int | None = None,
                 owner: tuple[int, int] | None = None, durable: bool = True,
                 aside: Path | None = None) -> Path:
    """Replace ``path`` with ``data`` in one rename; return ``path``.

    ``data`` is bytes, text (UTF-8), or a function that writes the aside file it is given (for
    a tar or an image made by a library). ``mode`` is set exactly (not through the umask) before
    any byte is written, so a secret is never readable by others even for a moment; ``owner``
    is a ``(uid, gid)`` given to the file before it takes the place of the old one. ``aside``
    names the file written aside (default: a name of this process and thread, ending ``.tmp``).
    """
    tmp = aside or aside_path(path)
    try:
        if callable(data):
            data(tmp)
            if mode is not None:
                os.chmod(tmp, mode)
            if durable:
                fsync_file(tmp)
        else:
            raw = data.encode("utf-8") if isinstance(data, str) else data
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if mode is not None else 0o666)
            with os.fdopen(fd, "wb") as f:
                if mode is not None:
                    os.fchmod(f.fileno(), mode)
                f.write(raw)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
        if owner is not None:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return path
