"""Settings changed from the console (:mod:`content.care`), applied to the station's settings file.

Only the settings listed here may be changed from afar: secrets (the upload token, keys) and
what could cut the station off its hub (its addresses) never. Each setting is checked as the
settings file itself is (the whole file parsed again with the new value): a value the file
would refuse is refused, with the reason, and the others are applied. The file is rewritten in
one rename, its other lines and comments kept; the running programs take the new values when
they next start.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from common.privacy import scrub
from config.settings import SettingsError, parse_settings

#: The console's list (``hub.care.REMOTE_KEYS``) and the staff PIN's hash.
REMOTE_KEYS = frozenset({
    "station.name", "station.address", "station.hotline", "station.complaint_phone", "station.opening_hours",
    "hub.sync_interval_s", "kiosk.idle_timeout_s", "kiosk.countdown_s", "kiosk.elder_mode", "kiosk.read_aloud",
    "screens.board_on", "screens.kiosk_on", "kiosk.staff_pin_hash",
})
_ERROR_RE = re.compile(r"^[^:]*:\s*[\w.]+:\s*")  # "station.toml: kiosk.idle_timeout_s: "


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    raise TypeError(f"不支持的取值类型：{type(value).__name__}")


def set_value(text: str, dotted: str, value: Any) -> str:
    """``text`` (a settings file) with ``section.key`` set to ``value``, every other line kept."""
    section, _, name = dotted.rpartition(".")
    line = f"{name} = {toml_value(value)}"
    lines = text.splitlines()
    try:
        head = next(i for i, s in enumerate(lines) if s.strip() == f"[{section}]")
    except StopIteration:
        return text.rstrip("\n") + f"\n\n[{section}]\n{line}\n"
    key_re = re.compile(rf"^\s*{re.escape(name)}\s*=")
    for i in range(head + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if key_re.match(lines[i]):
            lines[i] = line
            return "\n".join(lines) + "\n"
    lines.insert(head + 1, line)
    return "\n".join(lines) + "\n"


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


def apply_remote_settings(path: str | Path, changes: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Apply what may be applied of ``changes`` to the settings file at ``path``; returns the
    keys applied and ``{key: reason}`` for those refused (reasons in Chinese, for the console)."""
    path = Path(path)
    applied: list[str] = []
    refused: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [], {k: f"读不出本站设置文件（{exc.strerror or exc}）" for k in changes}
    for key, value in changes.items():
        if key not in REMOTE_KEYS:
            refused[key] = "这项设置不能远程修改"
            continue
        try:
            candidate = set_value(text, key, value)
            parse_settings(candidate, name=path.name, base_dir=path.resolve().parent)
        except TypeError as exc:
            refused[key] = str(exc)
            continue
        except SettingsError as exc:
            refused[key] = _reason(exc, value)
            continue
        text = candidate
        applied.append(key)
    if applied:
        try:
            _write(path, text)
        except OSError as exc:
            reason = f"本站设置文件写不进去（{exc.strerror or exc}）"
            return [], {**refused, **{k: reason for k in applied}}
    return applied, refused


def _write(path: Path, text: str) -> None:
    from common.files import write_atomic

    st = path.stat()
    write_atomic(path, text, mode=st.st_mode & 0o7777, owner=(st.st_uid, st.st_gid) if os.geteuid() == 0 else None)
