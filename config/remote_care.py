"""Settings changed from the console (:mod:`content.care`), kept for the station to read.

Only the settings in :data:`config.settings.REMOTE_KEYS` may be changed from afar: secrets (the
upload token, keys) and what could cut the station off its hub (its addresses) never. Each
setting is checked as the settings file itself is (the file parsed again with the new value
over it): a value the file would refuse is refused, with the reason, and the others are kept
in ``remote-settings.toml`` in the data folder (on a box ``/etc/yizhan/station.toml`` is
root's and the services cannot write it), which :func:`config.settings.load_settings` reads
over the file. The running programs take the new values when they next start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from common.privacy import scrub
from config.settings import (
    REMOTE_KEYS,
    REMOTE_SETTINGS_FILE,
    SettingsError,
    parse_settings,
    toml_set,
    with_remote_settings,
)

_ERROR_RE = re.compile(r"^[^:]*:\s*[\w.]+:\s*")  # "station.toml: kiosk.idle_timeout_s: "

_RULES = (  # the settings file's own messages (config.settings), said in Chinese for the console
    (re.compile(r"must be >= ([^\s,]+)"), "须不小于 {0}"),
    (re.compile(r"must be > ([^\s,]+)"), "须大于 {0}"),
    (re.compile(r"must be <= ([^\s,]+)"), "须不大于 {0}"),
    (re.compile(r"must be < ([^\s,]+)"), "须小于 {0}"),
    (re.compile(r"at most (\d+) characters"), "最多 {0} 个字"),
    (re.compile(r"at least (\d+) characters"), "至少 {0} 个字"),
    (re.compile(r"HH:MM-HH:MM"), "须写成“时:分-时:分”（如 08:30-18:00），开始早于结束"),
    (re.compile(r"valid integer"), "须为整数"),
    (re.compile(r"valid boolean"), "须为“是”或“否”"),
)


def _reason(exc: SettingsError, value: Any) -> str:
    """Why the settings file refuses ``value``, in Chinese where the rule is known."""
    detail = _ERROR_RE.sub("", str(exc).splitlines()[0], count=1)
    shown = scrub(str(value))
    shown = shown if len(shown) <= 30 else shown[:30] + "…"
    for pattern, text in _RULES:
        found = pattern.search(detail)
        if found:
            return f"本站不接受这个值：{text.format(*found.groups())}（收到 {shown}）"
    return f"本站不接受这个值（{scrub(detail)[:160]}）"


def apply_remote_settings(path: str | Path, changes: dict[str, Any], data_dir: str | Path
                          ) -> tuple[list[str], dict[str, str]]:
    """Keep what may be kept of ``changes`` for the station whose settings file is ``path``;
    returns the keys applied and ``{key: reason}`` for those refused (in Chinese, for the console)."""
    path, remote = Path(path), Path(data_dir) / REMOTE_SETTINGS_FILE
    applied: list[str] = []
    refused: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
        kept = remote.read_text(encoding="utf-8") if remote.exists() else ""
    except OSError as exc:
        return [], {k: f"读不出本站设置文件（{exc.strerror or exc}）" for k in changes}
    for key, value in changes.items():
        if key not in REMOTE_KEYS:
            refused[key] = "这项设置不能远程修改"
            continue
        try:
            candidate = toml_set(kept, key, value)
            parse_settings(with_remote_settings(text, candidate), name=path.name, base_dir=path.resolve().parent)
        except TypeError as exc:
            refused[key] = str(exc)
            continue
        except SettingsError as exc:
            refused[key] = _reason(exc, value)
            continue
        kept = candidate
        applied.append(key)
    if applied:
        try:
            _write(remote, kept)
        except OSError as exc:
            reason = f"本站的远程设置写不进去（{exc.strerror or exc}）"
            return [], {**refused, **{k: reason for k in applied}}
    return applied, refused


def _write(path: Path, text: str) -> None:
    from common.files import write_atomic

    write_atomic(path, "# 由管理后台远程设置，覆盖 station.toml 中的同名设置（config/remote_care.py）\n" + text
                 if not text.startswith("#") else text, mode=0o640)
