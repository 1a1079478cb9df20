"""``yizhan restore FILE``: put a station back from a ``yizhan backup`` file (see :mod:`deploy.backup`).

The whole file is decrypted and checked before anything is written; the services must be
stopped (``systemctl stop yizhan.target``) unless ``--force``: the store is replaced under them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

from common import exitcodes
from common.files import write_atomic
from config.command import CommandError, Context
from content import credentials

SERVICE_USER = "yizhan"  # deploy.install.SERVICE_USER


def services_running(root: Path) -> bool:
    """True if the station's services run on this box (``systemctl is-active yizhan.target``)."""
    systemctl = shutil.which("systemctl")
    if root != Path("/") or systemctl is None:
        return False
    state = subprocess.run([systemctl, "is-active", "yizhan.target"], capture_output=True, text=True, timeout=30)
    return state.stdout.strip() in ("active", "activating", "reloading", "deactivating")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the backup file (.yzbak)")
    parser.add_argument("--passphrase-file", type=Path, metavar="FILE",
                        help="read the passphrase from FILE's first line (default: asked without echo, or stdin)")
    parser.add_argument("--keep-config", action="store_true",
                        help="keep this box's settings file; restore only the data into its data dir")
    parser.add_argument("--force", action="store_true", help="restore even though the services are running")
    parser.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    parser.set_defaults(handler=_restore)


def _settings_file(args: argparse.Namespace) -> Path:
    from config.settings import SettingsError, find_settings_file

    explicit = getattr(args, "config", None)
    if explicit or args.root == Path("/"):
        try:
            return find_settings_file(explicit)
        except SettingsError:
            pass
    return args.root / "etc/yizhan/station.toml"


def _on_box(root: Path, path: Path) -> Path:
    if root == Path("/") or path.is_relative_to(root):
        return path
    return root / str(path).lstrip("/")


def _service_ids(root: Path) -> tuple[int, int] | None:
    try:
        lines = (root / "etc/passwd").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":")
        if parts[0] == SERVICE_USER and len(parts) > 3:
            return int(parts[2]), int(parts[3])
    return None


def _restore(args: argparse.Namespace, ctx: Context) -> int:
    from config.settings import SettingsError, load_settings, parse_settings
    from deploy.backup import BackupError, FileOwner, read_backup, read_passphrase, restore_backup

    if not args.force and services_running(args.root):
        raise CommandError("驿站服务正在运行：先运行 systemctl stop yizhan.target，恢复后再 "
                           "systemctl start yizhan.target（或加 --force）")
    config = _settings_file(args)
    try:
        passphrase = read_passphrase(args.passphrase_file, confirm=False)
        info = read_backup(args.file, passphrase)
    except (BackupError, OSError) as exc:
        raise CommandError(str(exc)) from None
    try:
        if args.keep_config:
            settings = load_settings(config)
        else:
            settings = parse_settings(info.station_toml.decode("utf-8"), name=f"{args.file.name}:station.toml",
                                      base_dir=config.parent)
    except (SettingsError, UnicodeDecodeError) as exc:
        raise CommandError(f"备份中的站点设置不能用：{exc}", exitcodes.CONFIG) from None
    data_dir = _on_box(args.root, settings.storage.data_dir)
    if data_dir.exists():
        st = data_dir.stat()
        owner = FileOwner(st.st_uid, st.st_gid)
    else:
        ids = _service_ids(args.root)
        owner = FileOwner(*ids) if ids else FileOwner(os.getuid(), os.getgid())
    if config.exists():
        st = config.stat()
        config_owner, config_mode = FileOwner(st.st_uid, st.st_gid), st.st_mode & 0o777
    else:
        config.parent.mkdir(parents=True, exist_ok=True)
        config_owner, config_mode = FileOwner(0 if os.geteuid() == 0 else os.getuid(), owner.gid), 0o640
    try:
        written = restore_backup(args.file, passphrase, data_dir=data_dir, owner=owner,
                                 config=None if args.keep_config else config, config_owner=config_owner,
                                 config_mode=config_mode)
    except (BackupError, OSError) as exc:
        raise CommandError(f"{exc}") from None
    if args.root == Path("/") and credentials.available() and credentials.sealed_dir().is_dir():
        written += _seal_again(data_dir, config if not args.keep_config else None)
    meta = info.meta
    other = args.keep_config and meta.get("station_id") != settings.station.id
    note = f"\n注意：备份来自站点 {meta.get('station_id')}，本机设置是 {settings.station.id}" if other else ""
    start = "\n现在可以启动服务：systemctl start yizhan.target" if args.root == Path("/") else ""
    ctx.emit({"station_id": meta.get("station_id"), "created_at": meta.get("created_at"), "data_dir": str(data_dir),
              "written": written},
             f"已恢复站点 {meta.get('station_id')}（备份于 {meta.get('created_at')}）到 {data_dir}："
             f"{len(written)} 个文件{note}{start}")
    return exitcodes.OK


def _seal_again(data_dir: Path, config: Path | None) -> list[str]:
    """This box keeps its secrets sealed: the restored key (and token) are sealed here in turn
    and their plain copies removed, as ``yizhan install`` does."""
    from deploy.install import Layout, Report, seal_outbox_key, seal_station_token

    report = Report()
    try:
        if config is not None and config.exists():
            from config.settings import load_settings

            text = seal_station_token(config.read_bytes(), load_settings(config).hub.station_token, report)
            if text != config.read_bytes():
                st = config.stat()
                write_atomic(config, text, mode=st.st_mode & 0o7777, owner=(st.st_uid, st.st_gid),
                             aside=config.with_name(f".{config.name}.sealed"))
        seal_outbox_key(Layout(data_dir=data_dir), report)
    except credentials.CredentialError as exc:
        raise CommandError(f"已恢复，但没能重新封存密钥：{exc}（请运行 yizhan install 重新封存）") from None
    return report.changes
