"""Slip layouts: job slips (岗位推荐单), registration receipts (登记回执), event notices, test slips.

Each layout returns a :class:`Slip`: the ESC/POS bytes for one printer profile plus what
the queue and the screens need to know about it. Layouts work in display columns (a
hanzi is two) at the current ``GS !`` width, so the same code fits 58 mm (32 columns)
and 80 mm (48 columns). Personal data is masked here, on paper, whatever the caller
passes: a resident's name as ``张*丰``, an ID number as ``4401**********123X``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from common.geo import distance_text
from common.privacy import mask_id_number, mask_name
from printer.escpos import SlipBuilder
from printer.profiles import PrinterProfile
from printer.text import columns, pad_between, prepare, sanitize
from protocol.model import Event, Job

RECEIPT_KINDS = {"求职": "求职登记", "培训需求": "培训需求登记", "返乡": "返乡登记", "零工": "零工登记",
                 "失业": "失业登记"}
WEEKDAYS = "一二三四五六日"
GENDER_TEXT = {"不限": "性别不限", "男": "限男性", "女": "限女性"}


@dataclass(frozen=True)
class Slip:
    """One slip ready to print. ``label`` names it in the queue and never holds personal data."""

    kind: str  # job | receipt | event | test
    data: bytes
    label: str
    slip_no: str
    profile: str
    qr_data: str = ""
    replaced: int = 0  # characters printed as □ (not in the printer's font)

    def __repr__(self) -> str:
        return f"Slip({self.kind}, {self.label!r}, {len(self.data)} bytes, no. {self.slip_no})"


def new_slip_no(now: dt.datetime | None = None) -> str:
    """A slip number staff can read out: date, time and 4 random hex digits (``250301-1032-7F3A``)."""
    now = now or dt.datetime.now()
    return f"{now:%y%m%d-%H%M}-{secrets.token_hex(2).upper()}"


def _date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _when(moment: dt.datetime) -> str:
    return f"{moment.year}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}"


def _header(b: SlipBuilder, station: Any, title: str) -> None:
    b.init().align("center").bold(True)
    b.text(station.name, max_lines=2)
    b.bold(False)
    if station.hotline:
        b.text(f"服务热线 {station.hotline}")
    b.feed_dots(8)
    b.size(2, 2).bold(True)
    b.text(title, max_lines=1)
    b.size(1, 1).bold(False)
    b.align("left").rule("-")


def _footer(b: SlipBuilder, now: dt.datetime, slip_no: str) -> None:
    b.align("left").rule("-")
    left, right = f"打印 {_when(now)}", f"单号 {slip_no}"
    if columns(left) + columns(right) + 1 <= b.columns:
        b.raw_line(pad_between(left, right, b.columns))
    else:
        b.text(left)
        b.text(right)
    b.cut()


def _qr(b: SlipBuilder, url: str, caption: str, native: bool | None) -> str:
    clean = prepare(url)[0]
    if not clean:
        return ""
    b.qr(clean, native=native)
    b.align("center").text(caption)
    b.align("left")
    return clean


def job_slip(job: Job, *, station: Any, profile: PrinterProfile, slip_no: str,
             distance_km: float | None = None, resident_name: str | None = None,
             now: dt.datetime | None = None, native_qr: bool | None = None, page_url: str = "") -> Slip:
    """A job slip (岗位推荐单) for ``job``, printed by ``station`` on a ``profile`` printer.

    ``resident_name`` (masked here in any case) adds a line for the resident the slip was
    printed for after an ID card read. ``native_qr`` overrides the profile's QR choice. The QR
    code carries the job's own link, else ``page_url`` (the job on the station's phone page,
    ``protocol.phone.phone_page_url``).
    """
    now = now or dt.datetime.now()
    b = SlipBuilder(profile)
    _header(b, station, "岗位推荐单")
    b.size(2, 2).bold(True)
    b.text(job.title, max_lines=3)
    b.size(1, 1).bold(False)
    b.feed_dots(6)
    b.field("单位", job.employer, max_lines=2)
    b.bold(True).size(1, 2)
    b.field("薪资", job.salary_text())
    b.size(1, 1).bold(False)
    kind = job.kind
    if job.work_date is not None:
        kind += f"（{job.work_date.month}月{job.work_date.day}日 周{WEEKDAYS[job.work_date.weekday()]}）"
    b.field_items("类型", [kind, f"招{job.headcount}人"], sep="  ")
    if job.address:
        b.field("地址", job.address, max_lines=3)
    if distance_km is not None:
        b.field("距离", f"距本站约{distance_text(distance_km)}")
    education = "学历不限" if job.education == "不限" else (
        job.education if job.education.endswith("以上") else f"{job.education}及以上")
    b.field_items("要求", [job.age_text(), GENDER_TEXT[job.gender], education])
    if job.requirements:
        b.field("说明", job.requirements, multiline=True, max_lines=4)
    if job.benefits:
        b.field("福利", job.benefits, multiline=True, max_lines=2)
    contact = " ".join(part for part in (job.contact_name, job.contact_phone) if part)
    if contact:
        b.bold(True).field("联系", contact, max_lines=2)
        b.bold(False)
    b.field("有效期至", _date(job.valid_until))
    qr_data = ""
    if job.url or page_url:
        b.rule("-")
        qr_data = _qr(b, job.url or page_url, "手机扫码查看岗位详情", native_qr)
    if resident_name:
        b.rule("-")
        b.bold(True).field("求职人", mask_name(sanitize(resident_name)))
        b.bold(False)
        b.text("请带好本单和身份证前往应聘")
    _footer(b, now, slip_no)
    return Slip("job", b.getvalue(), f"岗位推荐单 {job.id}", slip_no, profile.name, qr_data, b.replaced)


def receipt_slip(kind: str, *, name: str, id_number: str, receipt_code: str, station: Any,
                 profile: PrinterProfile, created_at: dt.datetime, next_steps: str, status_url: str = "",
                 slip_no: str | None = None, now: dt.datetime | None = None,
                 native_qr: bool | None = None, job: str = "") -> Slip:
    """A registration receipt (登记回执) for a 求职 / 培训需求 / 返乡 / 零工 registration.

    ``job``: the job applied for (我想应聘: ``岗位，用人单位``); ``name`` and ``id_number`` empty:
    no ID card was read, the receipt says 未核验."""
    if kind not in RECEIPT_KINDS:
        raise ValueError(f"unknown registration kind {kind!r}; known: {', '.join(RECEIPT_KINDS)}")
    code = prepare(receipt_code)[0]
    if not code:
        raise ValueError("a receipt needs its receipt code")
    now = now or dt.datetime.now()
    slip_no = slip_no or code
    b = SlipBuilder(profile)
    _header(b, station, "登记回执")
    b.field("登记事项", RECEIPT_KINDS[kind])
    if job:
        b.field("应聘岗位", job, max_lines=3)
    if name:
        b.field("姓名", mask_name(sanitize(name)))
        b.field("身份证号", mask_id_number(prepare(id_number)[0]))
    else:
        b.field("身份", "未核验（没有读身份证）")
    b.field("登记站点", station.name, max_lines=2)
    b.field("登记时间", _when(created_at))
    b.feed_dots(8)
    b.align("center").text("回执编号")
    b.bold(True).size(2, 2).text(code, max_lines=2)
    b.size(1, 1).bold(False).align("left")
    b.feed_dots(8)
    if next_steps:
        b.bold(True).text("后续事项")
        b.bold(False)
        b.text(next_steps, multiline=True, max_lines=8)
    qr_data = ""
    if status_url:
        b.rule("-")
        qr_data = _qr(b, status_url, "扫码查询办理进度", native_qr)
    if station.hotline:
        b.align("center").text(f"如有疑问请拨打 {station.hotline}")
        b.align("left")
    _footer(b, now, slip_no)
    return Slip("receipt", b.getvalue(), f"登记回执 {RECEIPT_KINDS[kind]} {code}", slip_no, profile.name,
                qr_data, b.replaced)


def event_slip(event: Event, *, station: Any, profile: PrinterProfile, slip_no: str, url: str = "",
               now: dt.datetime | None = None, native_qr: bool | None = None) -> Slip:
    """A notice for a 招聘会 or 培训班 for residents to take home."""
    now = now or dt.datetime.now()
    b = SlipBuilder(profile)
    _header(b, station, "招聘会" if event.event_kind == "招聘会" else "培训班")
    b.size(2, 2).bold(True)
    b.text(event.title, max_lines=3)
    b.size(1, 1).bold(False)
    b.feed_dots(6)
    start, end = event.starts_at, event.ends_at
    when = f"{_date(start.date())} 周{WEEKDAYS[start.weekday()]} {start:%H:%M}"
    when += f"-{end:%H:%M}" if end.date() == start.date() else f" 至 {_date(end.date())} {end:%H:%M}"
    b.bold(True).field("时间", when, max_lines=2)
    b.bold(False)
    if event.place:
        b.field("地点", event.place, max_lines=3)
    if event.organiser:
        b.field("主办", event.organiser, max_lines=2)
    if event.employers or event.job_count:
        scale = "，".join(part for part in (
            f"{event.employers}家单位" if event.employers else "",
            f"{event.job_count}个岗位" if event.job_count else "") if part)
        b.field("规模", scale)
    if event.registration:
        b.field("报名", event.registration, multiline=True, max_lines=4)
    qr_data = ""
    if url:
        b.rule("-")
        qr_data = _qr(b, url, "手机扫码查看详情", native_qr)
    _footer(b, now, slip_no)
    return Slip("event", b.getvalue(), f"{event.event_kind} {event.id}", slip_no, profile.name, qr_data,
                b.replaced)


def test_slip(*, station: Any, profile: PrinterProfile, slip_no: str, now: dt.datetime | None = None,
              qr_data: str = "https://example.org/yizhan/test", native_qr: bool | None = None) -> Slip:
    """A test page: profile facts, a column ruler, Chinese text at every size we use, a QR code."""
    now = now or dt.datetime.now()
    b = SlipBuilder(profile)
    _header(b, station, "打印测试")
    b.field("型号配置", profile.name)
    b.field("纸宽", f"{profile.paper_width} mm，{profile.dots} 点，{profile.columns} 列")
    b.field("二维码", "打印机内置" if (profile.native_qr if native_qr is None else native_qr) else "图像")
    b.raw_line("".join(str(i % 10) for i in range(1, b.columns + 1)))
    b.raw_line("汉字" * (b.columns // 4))
    b.text("中文：你好，欢迎来到就业服务站！标点“引号”（括号）《书名》。")
    b.size(1, 2).text("倍高：岗位薪资 4500-6000元/月")
    b.size(2, 2).bold(True).text("倍宽倍高 加粗")
    b.size(1, 1).bold(False)
    b.rule("-")
    printed = _qr(b, qr_data, "扫码测试", native_qr)
    _footer(b, now, slip_no)
    return Slip("test", b.getvalue(), f"测试页 {profile.name}", slip_no, profile.name, printed, b.replaced)
test_slip.__test__ = False  # a slip layout, not a test
