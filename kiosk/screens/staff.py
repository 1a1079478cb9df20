"""Staff mode: printer and its queue, the reader, sync and the outbox, today's counts, any job's slip.

Reached only through the PIN. Everything here shows state without personal data; 退出到桌面
stops the app (the station's service manager decides whether it restarts).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kivy.properties import ListProperty, StringProperty

from content.feed_client import feed_health
from kiosk.jobquery import JobFilter
from kiosk.screens.base import KioskScreen

log = logging.getLogger(__name__)

READER_STATES = {"online": "正常", "offline": "未连接", "error": "故障", "starting": "正在连接",
                 "stopped": "已停止", "absent": "未启用", "unknown": "未知"}
COUNT_NAMES = {"card_read": "读身份证", "card_error": "读卡失败", "job_view": "查看岗位", "print_job": "打印岗位单",
               "print_receipt": "打印回执", "print_event": "打印活动通知", "policy_view": "查看政策",
               "video_play": "播放视频"}


def local_time_text(value: Any) -> str:
    """``11月30日 14:05`` in the station's local time, for a datetime or an ISO string (UTC or not)."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    local = value.astimezone()  # a naive time is taken as local already
    return f"{local.month}月{local.day}日 {local:%H:%M}"


class StaffScreen(KioskScreen):
    printer_text = StringProperty("")
    reader_text = StringProperty("")
    sync_text = StringProperty("")
    counts_text = StringProperty("")
    slips = ListProperty([])
    letters = StringProperty("")
    job_hits = ListProperty([])

    def refresh(self) -> None:
        if not self.app.session.staff:
            return
        services = self.app.services
        status = services.printer_status()
        if services.printer is None:
            self.printer_text = "打印机：未启用" + (f"（{services.problems['printer']}）" if "printer" in services.problems else "")
        else:
            self.printer_text = f"打印机：{status.message if status else '还没有读到状态'}"
        self.slips = [{"slip_id": s.id, "text": f"#{s.id} {s.label} — {s.state_text}"
                       + (f"（{s.last_error}）" if s.last_error and s.state != "printed" else ""),
                       "can_retry": s.state in ("check", "cancelled"),
                       "can_cancel": s.state in ("queued", "check")} for s in services.print_queue()]
        state = services.reader_state()
        reader = f"读卡器：{READER_STATES.get(state, state)}"
        if "reader" in services.problems:
            reader += f"（{services.problems['reader']}）"
        if "audio" in services.problems:
            reader += f"\n朗读：{services.problems['audio']}"
        self.reader_text = reader
        self.sync_text = self._sync_text()
        self.counts_text = self._counts_text()
        self.search_jobs()

    def _sync_text(self) -> str:
        services = self.app.services
        status = services.sync_status()
        info = self.app.store.content_info()
        try:
            depth, oldest = services.outbox_depth()
        except Exception as exc:
            log.warning("outbox unavailable: %s", type(exc).__name__)
            depth, oldest = -1, None

        def get(name: str) -> Any:
            if isinstance(status, dict):
                return status.get(name)
            return getattr(status, name, None)

        lines = [
            f"内容版本：{info.feed_id or '无'} 第{info.version}版，{self.app.content_age() or '还没有内容'}",
            f"上次同步成功：{local_time_text(get('last_success_at')) or '从未'}",
            f"待上报：{depth} 条" + (f"，最早的已等 {int(oldest // 60)} 分钟" if oldest else ""),
        ]
        if not services.sync_configured:
            lines.append("没有配置内容源（hub.feed_url），本机离线使用")
        if get("last_error"):
            lines.append(f"上次错误：{get('last_error')}")
        lines += [f"内容问题：{p}" for p in feed_health(self.app.settings).problems]  # expiry, refused records, media
        return "\n".join(lines)

    def _counts_text(self) -> str:
        services = self.app.services
        try:
            registrations = services.today_counts()
        except Exception as exc:
            log.warning("registration counts unavailable: %s", type(exc).__name__)
            registrations = {}
        parts = [f"{kind}登记 {n}" for kind, n in registrations.items()]
        parts += [f"{COUNT_NAMES.get(k, k)} {n}" for k, n in sorted(self.app.counts.items())
                  if not k.startswith("registration_")]
        return f"今天（{dt.date.today():%m月%d日}）：" + "，".join(parts) if parts else "今天还没有服务记录"

    # -- actions -----------------------------------------------------------------------------
    def retry(self, slip_id: int) -> None:
        self.app.services.retry_slip(slip_id)
        self.refresh()

    def cancel(self, slip_id: int) -> None:
        self.app.services.cancel_slip(slip_id)
        self.refresh()

    def sync_now(self) -> None:
        if self.app.services.sync_now():
            self.app.notify("已开始同步", seconds=5)
        else:
            self.app.notify("同步服务没有运行（或本机没有配置同步）：请联系技术人员", seconds=8)

    def type_letter(self, letter: str) -> None:
        self.letters = JobFilter(letters=self.letters).type_letter(letter).letters
        self.search_jobs()

    def erase(self) -> None:
        self.letters = self.letters[:-1]
        self.search_jobs()

    def search_jobs(self) -> None:
        hits = self.app.store.search_jobs(self.letters, radius_km=None, limit=6)
        self.job_hits = [{"job_id": h.job.id, "text": f"{h.job.title}  {h.job.employer}  {h.job.salary_text()}"}
                         for h in hits]

    def print_job(self, job_id: str) -> None:
        job = self.app.store.get_job(job_id)
        if job is not None:
            self.app.print_job(job, self.app.store.job_distance_km(job))
            self.refresh()

    def leave_staff(self) -> None:
        self.app.session.staff = False
        self.app.go_home()

    def exit_to_desktop(self) -> None:
        log.info("staff closed the kiosk")
        self.app.stop()

    def forget(self) -> None:
        self.letters = ""
        self.job_hits = []
        self.slips = []

    def speech(self) -> str:
        return "工作人员页面。" + self.printer_text + "。" + self.reader_text
