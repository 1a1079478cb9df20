"""The live state of the station's running parts, for the one process that sends the heartbeat.

The print service, the reader (in the kiosk) and the kiosk itself each run in their own
process; the heartbeat goes out from one (``yizhan sync``). Each part writes what it last saw
to ``DATA_DIR/live/<part>.json`` when it changes (whole or not at all), with the id and start
time of the process that wrote it. A reader of the files believes a state only while that
process still runs: a part that died is reported as stopped, never as its last good state.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

FOLDER = "live"


def _me() -> tuple[int, float]:
    me = psutil.Process()
    return me.pid, me.create_time()


def _alive(pid: Any, started: Any) -> bool:
    try:
        proc = psutil.Process(int(pid))
        return started is None or abs(proc.create_time() - float(started)) < 0.01
    except (psutil.NoSuchProcess, psutil.AccessDenied, TypeError, ValueError):
        return False


def publish(data_dir: str | Path, part: str, *, ok: bool, detail: str, now: float | None = None,
            **extra: Any) -> None:
    """Record ``part``'s state as seen by this process (best effort: a full disk must not stop
    the part that reports it)."""
    folder = Path(data_dir) / FOLDER
    pid, started = _me()
    record = {"ok": bool(ok), "detail": str(detail)[:200], "at": now if now is not None else time.time(),
              "pid": pid, "started": started, **extra}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{part}-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.replace(name, folder / f"{part}.json")
    except OSError:
        return


def read(data_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Every part's last state, ``{part: {"ok", "detail", "at"}}``; a part whose process has
    ended is ``ok: False`` with the reason."""
    folder = Path(data_dir) / FOLDER
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict):
            continue
        state = {"ok": bool(record.get("ok")), "detail": str(record.get("detail", "")), "at": record.get("at")}
        if not _alive(record.get("pid"), record.get("started")):
            state.update(ok=False, detail=f"报告{PART_NAMES.get(path.stem, path.stem)}状态的程序已停止（最后状态："
                                          f"{state['detail'] or '无'}）")
        out[path.stem] = state
    return out


PART_NAMES = {"printer": "打印机", "idcard": "读卡器", "audio": "声音"}
