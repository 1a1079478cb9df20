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
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from common.files import write_atomic

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
        write_atomic(folder / f"{part}.json", json.dumps(record, ensure_ascii=False), mode=0o600, durable=False)
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


# -- 立即同步 from another process -------------------------------------------------------------
# On a box the sync loop runs in ``yizhan sync`` (yizhan-sync.service), not in the kiosk: the
# staff screen's 立即同步 and ``yizhan sync --now`` wake it with SIGUSR1, sent to the process
# that announced itself in ``live/sync.proc`` (its id and start time, so a reused id is never
# signalled).
SYNC_PROC = "sync.proc"
WAKE_SIGNAL = signal.SIGUSR1


def announce_sync(data_dir: str | Path, wake: Callable[[], None]) -> None:
    """Called by the running sync process (main thread): ``wake()`` runs on a wake request."""
    signal.signal(WAKE_SIGNAL, lambda _sig, _frame: wake())
    pid, started = _me()
    folder = Path(data_dir) / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / SYNC_PROC, json.dumps({"pid": pid, "started": started}), mode=0o600, durable=False)
    except OSError:
        return


def request_sync(data_dir: str | Path) -> bool:
    """Ask the running sync process to sync and deliver now; False when none runs (or it
    cannot be reached)."""
    try:
        record = json.loads((Path(data_dir) / FOLDER / SYNC_PROC).read_text(encoding="utf-8"))
        pid, started = int(record["pid"]), record.get("started")
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not _alive(pid, started):
        return False
    try:
        os.kill(pid, WAKE_SIGNAL)
    except OSError:
        return False
    return True
