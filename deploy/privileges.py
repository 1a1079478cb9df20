"""Run as the station's service user, not as root, whenever the station's data is touched.

The services run as ``yizhan`` and own ``/var/lib/yizhan``. A command run by root against
that folder (``yizhan sync --once`` typed at a root shell) would leave ``station.db``,
its ``-wal``/``-shm`` files, ``feed/`` and ``media/`` owned by root, and every service would
then crash-loop on ``attempt to write a readonly database``. So a root process that is about
to touch the data either becomes the folder's owner for good (:func:`drop_to_owner`), or for a
moment (:func:`as_owner`, for root commands such as ``yizhan backup`` that read the store).
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class PrivilegeError(Exception):
    """Root could not become the data folder's owner; the message says how to run the command."""


@dataclass(frozen=True)
class Owner:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def data_owner(data_dir: Path) -> Owner | None:
    """The non-root user owning ``data_dir``, or None (no such folder, or root owns it).

    An owner with no account on this machine is taken by its uid and gid alone.
    """
    try:
        st = os.stat(data_dir)
    except OSError:
        return None
    if st.st_uid == 0:
        return None
    try:
        account = pwd.getpwuid(st.st_uid)
    except KeyError:
        # An owner with no account here (a station image built below --root, whose passwd is not
        # this machine's): become the folder's uid and gid all the same; what matters is that
        # nothing in it becomes root's.
        return Owner(f"uid {st.st_uid}", st.st_uid, st.st_gid, (st.st_gid,), str(data_dir))
    # getgrouplist reads /etc/group through NSS: the supplementary groups (dialout, lp, video)
    # the services get from their units' SupplementaryGroups= as well.
    groups = tuple(os.getgrouplist(account.pw_name, account.pw_gid))
    return Owner(account.pw_name, account.pw_uid, account.pw_gid, groups, account.pw_dir)


def run_hint(owner: str, argv: list[str]) -> str:
    command = " ".join(["yizhan", *argv])
    return f"请以 {owner} 用户运行：runuser -u {owner} -- {command}"


def drop_to_owner(data_dir: Path, argv: list[str], *, geteuid=os.geteuid, setgroups=os.setgroups,
                  setgid=os.setgid, setuid=os.setuid) -> Owner | None:
    """As root, become the owner of ``data_dir`` for the rest of the process; return it.

    Does nothing (returns None) when not root, or when the folder is missing or root's own.
    Raises :class:`PrivilegeError` (with a ``runuser`` line to type instead) if it cannot.
    """
    if geteuid() != 0:
        return None
    try:
        owner = data_owner(data_dir)
    except PrivilegeError as exc:
        raise PrivilegeError(f"{exc}\n不能以 root 运行此命令：它会把站点数据变成 root 所有，服务随之无法写入") from None
    if owner is None:
        return None
    try:
        setgroups(list(owner.groups))
        setgid(owner.gid)
        setuid(owner.uid)
    except OSError as exc:
        raise PrivilegeError(f"不能以 root 运行此命令（站点数据属于 {owner.name}，切换用户失败：{exc.strerror or exc}）。\n"
                             + run_hint(owner.name, argv)) from None
    # Programs and libraries that look for a home (Kivy's ~/.kivy) find the service user's, not root's.
    os.environ.update({"HOME": owner.home, "USER": owner.name, "LOGNAME": owner.name})
    return owner


@contextmanager
def as_owner(data_dir: Path) -> Iterator[Owner | None]:
    """As root, act as the owner of ``data_dir`` inside the block (effective ids only), then be
    root again; files SQLite makes meanwhile (``-wal``, ``-shm``) belong to the owner. Not root,
    or no such owner: the block runs unchanged."""
    owner = data_owner(data_dir) if os.geteuid() == 0 else None
    if owner is None:
        yield None
        return
    groups = os.getgroups()
    os.setgroups(list(owner.groups))
    os.setegid(owner.gid)
    os.seteuid(owner.uid)
    try:
        yield owner
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)
