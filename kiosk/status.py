"""What the kiosk says about its devices and its content, in plain Chinese (no Kivy here).

Each function turns a device event or a status object into the line a resident reads:
the reader hint in the bottom bar, the printer message, the card problem, the offline
banner ("内容更新于 …").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

READER_READY = "请放身份证：放在屏幕下方的感应区"
READER_OFFLINE = "读卡器没有连接，暂时不能读身份证。请找工作人员"


def reader_message(event: Any) -> tuple[str, str, str]:
    """(text, level, state) for a reader event; level is "info" or "error"."""
    kind = type(event).__name__
    if kind == "ReaderOnline":
        return READER_READY, "info", "online"
    if kind == "ReaderOffline":
        return READER_OFFLINE, "error", "offline"
    if kind == "ReaderError":
        zh = (getattr(event, "message_zh", "") or "没有读出身份证").rstrip("。")
        if "平放" not in zh:
            zh += "。请把身份证平放在感应区，不要移动"
        return zh, "error", "online"
    return READER_READY, "info", "online"


def card_problem(resident: Any, today: dt.date) -> str:
    """What is wrong with the card for registering, in words, or "" when nothing is."""
    if resident.is_expired(today):
        valid_to = resident.valid_to
        return (f"您的身份证已经过期（有效期到{valid_to.year}年{valid_to.month}月{valid_to.day}日），"
                "不能在这里登记。请带上身份证到窗口，工作人员会帮您办理；也可以先看看岗位。")
    return ""


PRINTER_DOWN = "打印机暂时不能用，请用手机扫码或找工作人员"


def printer_message(status: Any) -> tuple[str, str]:
    """(text, level) a resident sees for a ``printer.status.PrinterStatus``; ("", "info") for nothing.

    Residents get one calm line saying what they can do instead; the cause ("缺纸",
    "脱机"...) is for staff (the staff screen, ``yizhan doctor``, the heartbeat). A printer
    that is only running low on paper still prints: nothing to tell the resident.
    """
    if status is None or getattr(status, "printable", False):
        return "", "info"
    return PRINTER_DOWN, "info"


def content_age_text(info: Any) -> str:
    """``内容更新于 11月20日 14:30`` from the store's ``content_info()``; "" when never updated."""
    applied = getattr(info, "applied_at", None) if info is not None else None
    if applied is None:
        return ""
    local = applied.astimezone() if applied.tzinfo else applied
    return f"内容更新于 {local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _status_value(status: Any, *names: str) -> Any:
    for name in names:
        if isinstance(status, dict) and name in status:
            return status[name]
        if hasattr(status, name):
            return getattr(status, name)
    return None


def offline_text(sync_status: Any, info: Any, *, configured: bool, now: dt.datetime,
                 interval_s: float) -> str:
    """The small banner saying content comes from the last update, when the station is offline.

    Offline means: no hub configured, the last sync attempt failed, or no successful sync
    for two intervals. Online, the banner is empty.
    """
    age = content_age_text(info) or "还没有收到过内容"
    if not configured:
        return f"离线使用中，{age}"
    error = _status_value(sync_status, "last_error", "error")
    last_ok = _status_value(sync_status, "last_success_at", "last_success")
    if isinstance(last_ok, str):
        try:
            last_ok = dt.datetime.fromisoformat(last_ok)
        except ValueError:
            last_ok = None
    if isinstance(last_ok, dt.datetime) and last_ok.tzinfo is None:
        last_ok = last_ok.astimezone()  # a naive time is the station's local time
    stale = last_ok is None or (now - last_ok).total_seconds() > 2 * interval_s
    if error or stale:
        return f"网络暂时不通，显示的是上次更新的内容（{age}）"
    return ""
