"""Content items in the console: forms, validation with Chinese reasons, CSV/XLSX import, review.

Every record (job, policy, event, course, announcement) is validated by the same models
the feed uses (``protocol.model``), so nothing the console accepts can be refused at
publishing. A new or changed record waits for review (``pending``); a reviewer other than
its author approves it (it becomes ``live_data``, what publishing uses) or rejects it with
a reason the author sees. Each version is kept in ``console_item_versions``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine

from hub.console.schema import import_batches, item_versions, items
from protocol.model import (
    EDUCATION_LEVELS,
    EVENT_KINDS,
    GENDERS,
    JOB_CATEGORIES,
    JOB_KINDS,
    JOB_SOURCES,
    POLICY_CATEGORIES,
    RECORD_TYPES,
    SALARY_UNITS,
    Record,
)

KIND_NAMES = {"job": "岗位", "policy": "政策", "event": "招聘会/培训", "course": "培训视频", "announcement": "公告/紧急通知"}
STATE_NAMES = {"pending": "待审核", "approved": "已通过", "rejected": "已退回", "withdrawn": "已撤下"}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str = "text"  # text, textarea, int, float, date, datetime, choice
    choices: tuple[str, ...] = ()
    required: bool = False
    width: str = ""  # "wide" for a full-row field


FIELDS: dict[str, list[Field]] = {
    "job": [
        Field("id", "岗位编号", required=True), Field("title", "岗位名称", required=True),
        Field("employer", "用人单位", required=True), Field("category", "岗位类别", "choice", JOB_CATEGORIES, True),
        Field("kind", "用工形式", "choice", JOB_KINDS, True), Field("work_date", "零工日期", "date"),
        Field("salary_min", "薪资下限（元）", "int", required=True),
        Field("salary_max", "薪资上限（元）", "int", required=True),
        Field("salary_unit", "薪资单位", "choice", SALARY_UNITS, True),
        Field("headcount", "招聘人数", "int"), Field("address", "工作地点", width="wide"),
        Field("latitude", "纬度", "float"), Field("longitude", "经度", "float"),
        Field("age_min", "最低年龄", "int"), Field("age_max", "最高年龄", "int"),
        Field("gender", "性别要求", "choice", GENDERS), Field("education", "学历要求", "choice", EDUCATION_LEVELS),
        Field("requirements", "任职要求", "textarea", width="wide"), Field("benefits", "福利待遇", "textarea", width="wide"),
        Field("contact_name", "联系人"), Field("contact_phone", "联系电话"),
        Field("published", "发布日期", "date", required=True), Field("valid_until", "有效期至", "date", required=True),
        Field("source", "岗位来源", "choice", JOB_SOURCES), Field("url", "详情链接"),
    ],
    "policy": [
        Field("id", "政策编号", required=True), Field("title", "政策名称", required=True),
        Field("category", "政策类别", "choice", POLICY_CATEGORIES, True),
        Field("summary", "政策摘要", "textarea", width="wide"), Field("body", "政策原文", "textarea", width="wide"),
        Field("who_qualifies", "享受对象", "textarea", width="wide"),
        Field("how_to_apply", "办理流程", "textarea", width="wide"), Field("materials", "所需材料", "textarea", width="wide"),
        Field("effective_from", "生效日期", "date"), Field("effective_to", "截止日期", "date"),
        Field("hotline", "咨询电话"),
    ],
    "event": [
        Field("id", "活动编号", required=True), Field("title", "活动名称", required=True),
        Field("event_kind", "活动类型", "choice", EVENT_KINDS, True),
        Field("starts_at", "开始时间", "datetime", required=True), Field("ends_at", "结束时间", "datetime", required=True),
        Field("place", "地点", width="wide"), Field("organiser", "主办单位"),
        Field("employers", "参会企业数", "int"), Field("job_count", "提供岗位数", "int"),
        Field("registration", "报名方式", "textarea", width="wide"),
    ],
    "announcement": [
        Field("id", "公告编号", required=True), Field("text", "公告内容", "textarea", required=True, width="wide"),
        Field("priority", "紧急程度", "choice", ("normal", "urgent"), True),
        Field("target", "显示位置", "choice", ("both", "kiosk", "board"), True),
        Field("starts_at", "开始时间", "datetime", required=True), Field("ends_at", "结束时间", "datetime", required=True),
    ],
    "course": [
        Field("id", "视频编号", required=True), Field("title", "视频名称", required=True),
        Field("category", "课程类别"), Field("subtitle", "字幕/简介", "textarea", width="wide"),
    ],
}
CHOICE_NAMES = {"normal": "普通", "urgent": "紧急", "both": "一体机和大屏", "kiosk": "仅一体机", "board": "仅大屏"}

# Column headers of Chinese exports (employers' sheets, the provincial platform) -> fields.
HEADER_ALIASES: dict[str, str] = {f.label: f.name for fields in FIELDS.values() for f in fields}
HEADER_ALIASES.update({
    "职位名称": "title", "岗位": "title", "招聘单位": "employer", "单位名称": "employer", "企业名称": "employer",
    "工作地址": "address", "联系方式": "contact_phone", "招聘人数（人）": "headcount", "最低薪资": "salary_min",
    "最高薪资": "salary_max", "有效期": "valid_until", "发布时间": "published", "岗位要求": "requirements",
    "福利": "benefits", "类别": "category", "用工类型": "kind", "编号": "id",
    "地址": "address", "详细地址": "address", "单位地址": "address", "办公地址": "address", "工作地": "address",
    "公司名称": "employer", "用工单位": "employer", "招聘岗位": "title", "岗位名": "title",
    "月薪下限": "salary_min", "月薪上限": "salary_max", "薪资下限": "salary_min", "薪资上限": "salary_max",
    "需求人数": "headcount", "招聘数量": "headcount", "截止日期": "valid_until", "联系电话": "contact_phone",
    "电话": "contact_phone", "手机": "contact_phone", "岗位类型": "category",
})

_MESSAGES = {
    "missing": "必填", "int_parsing": "须为整数", "int_from_float": "须为整数", "float_parsing": "须为数字",
    "date_from_datetime_parsing": "看不懂这个日期；日期写法：2026-12-07、2026/12/07 或 2026年12月7日",
    "date_parsing": "看不懂这个日期；日期写法：2026-12-07、2026/12/07 或 2026年12月7日",
    "datetime_from_date_parsing": "看不懂这个时间；时间写法：2026-12-07 09:00",
    "datetime_parsing": "看不懂这个时间；时间写法：2026-12-07 09:00",
    "string_too_short": "不能为空", "string_too_long": "太长", "string_pattern_mismatch": "格式不正确",
    "extra_forbidden": "不是可识别的栏目", "greater_than_equal": "数值太小", "less_than_equal": "数值太大",
    "date_type": "看不懂这个日期；日期写法：2026-12-07、2026/12/07 或 2026年12月7日",
}
# Cross-field rules of the models (their English messages) -> (the field to mark, a Chinese sentence).
_VALUE_ERRORS = {
    "salary_max": ("salary_max", "不能低于薪资下限"), "age_max": ("age_max", "不能低于最低年龄"),
    "valid_until": ("valid_until", "不能早于发布日期"), "零工": ("work_date", "零工岗位须填写零工日期"),
    "ends_at": ("ends_at", "不能早于开始时间"), "finite": ("latitude", "经纬度须为有效数字"),
}

# Text limits of the feed's models (protocol.model), stated beside each field and checked
# before saving: a longer text is refused with its length, never cut.
TEXT_LIMITS: dict[str, dict[str, int]] = {
    "job": {"title": 60, "employer": 80, "address": 200, "requirements": 4000, "benefits": 4000,
            "contact_name": 80, "contact_phone": 20, "url": 500},
    "policy": {"title": 60, "summary": 4000, "body": 4000, "who_qualifies": 4000, "how_to_apply": 4000,
               "materials": 4000, "hotline": 20},
    "event": {"title": 60, "place": 200, "organiser": 200, "registration": 4000},
    "announcement": {"text": 300},
    "course": {"title": 60, "category": 200, "subtitle": 4000},
}
_MONEY = {"salary_min", "salary_max"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def rule_of(kind: str, f: Field) -> str:
    """The format rule shown next to a field, in Chinese."""
    from hub.console import formats

    if f.name == "id":
        return formats.ID_RULE
    if f.type == "date":
        return formats.DATE_RULE
    if f.type == "datetime":
        return formats.DATETIME_RULE
    if f.type == "int":
        return formats.AMOUNT_RULE if f.name in _MONEY else formats.INT_RULE
    if f.name == "latitude":
        return formats.LAT_RULE
    if f.name == "longitude":
        return formats.LON_RULE
    if f.name in ("contact_phone", "hotline"):
        return formats.PHONE_RULE
    if f.name == "url":
        return formats.URL_RULE
    limit = TEXT_LIMITS.get(kind, {}).get(f.name)
    if limit:
        return f"最多 {limit} 字，不能含表情符号"
    return ""


_OTHER_LABELS = {"media": "视频文件", "thumbnail": "视频封面", "duration_s": "视频时长", "feed_id": "发布范围",
                 "version": "版本号"}


def label_of(kind: str, name: str) -> str:
    for f in FIELDS.get(kind, []):
        if f.name == name:
            return f.label
    return _OTHER_LABELS.get(name, f"栏目「{name}」")


def zh_errors(kind: str, exc: ValidationError) -> dict[str, str]:
    """Pydantic's errors as {field: Chinese reason} (values never quoted: they may be personal)."""
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = str(error["loc"][0]) if error["loc"] else ""
        etype = error["type"]
        if etype == "literal_error":
            choices = next((f.choices for f in FIELDS.get(kind, []) if f.name == loc), ())
            msg = "须为以下之一：" + "、".join(CHOICE_NAMES.get(c, c) for c in choices)
        elif etype == "value_error":
            text = str(error.get("msg", ""))
            loc, msg = next((hit for key, hit in _VALUE_ERRORS.items() if key in text), (loc, "内容前后不一致"))
        elif etype == "missing" and kind == "job" and loc in ("latitude", "longitude"):
            msg = "请填写工作地点（保存时自动定位），或填写经纬度"
        else:
            msg = _bound_message(kind, loc, etype, error.get("ctx") or {})
        out.setdefault(loc or "_", msg)
    return out


def _bound_message(kind: str, loc: str, etype: str, ctx: dict[str, Any]) -> str:
    if etype == "less_than_equal":
        return f"不能大于 {ctx.get('le')}"
    if etype == "greater_than_equal":
        return f"不能小于 {ctx.get('ge')}"
    if etype == "string_too_long":
        return f"最多 {ctx.get('max_length')} 字"
    if etype == "string_pattern_mismatch":
        f = next((f for f in FIELDS.get(kind, []) if f.name == loc), None)
        rule = rule_of(kind, f) if f else ""
        return f"格式不正确：{rule}" if rule else "格式不正确"
    return _MESSAGES.get(etype, "不符合要求")


def describe_errors(kind: str, errors: dict[str, str]) -> str:
    return "；".join(v if k == "_" else f"{label_of(kind, k)}：{v}" for k, v in errors.items())


def clean_form(kind: str, form: dict[str, Any], errors: dict[str, str] | None = None,
               notes: dict[str, str] | None = None) -> dict[str, Any]:
    """Form or sheet cells -> the record's fields (empty = not given; numbers as numbers).

    Everyday forms (``2026/12/07``, ``3000元``, full-width digits) are normalised; a value that
    cannot be understood, a text over its limit or with characters the stations cannot show goes
    to ``errors`` ({field: Chinese reason}) and is left out of the result; ``notes`` gets
    {field: the normalised value} wherever it differs from what was typed.
    """
    from hub.console.formats import InputError, check_position

    errors = {} if errors is None else errors
    data: dict[str, Any] = {}
    types = {f.name: f.type for f in FIELDS[kind]}
    limits = TEXT_LIMITS.get(kind, {})
    for name, value in form.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name not in types and kind != "course":
            data[name] = value  # unknown columns are refused by the model, named in the report
            continue
        try:
            cleaned = _clean_cell(value, types.get(name), money=name in _MONEY, limit=limits.get(name, 0))
        except InputError as exc:
            errors[name] = str(exc)
            continue
        if cleaned is None:
            continue
        data[name] = cleaned
        if notes is not None and isinstance(value, str) and types.get(name) in ("date", "datetime", "int", "float"):
            shown = _shown(cleaned, types[name])
            if shown != value.strip():
                notes[name] = f"已理解为 {shown}"
    lat, lon = data.get("latitude"), data.get("longitude")
    if kind == "job" and isinstance(lat, float) and isinstance(lon, float):
        errors.update(check_position(lat, lon))
    _localize_schedule(data)
    return data


def _clean_native(value: Any, field_type: str | None, money: bool) -> Any:
    """A sheet's typed cell (date, number): as the field wants it, or as text to be parsed."""
    from hub.console import formats

    if isinstance(value, dt.datetime):
        return value.date().isoformat() if field_type == "date" else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if field_type == "int":
        if isinstance(value, float) and not value.is_integer():
            raise formats.InputError(f"须为整数；{formats.AMOUNT_RULE if money else formats.INT_RULE}")
        return int(value)
    if field_type == "float":
        return float(value)
    if field_type in ("date", "datetime"):
        return str(value)  # 20261207 in a number cell
    return value


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _shown(value: Any, field_type: str) -> str:
    if field_type == "datetime" and isinstance(value, str):
        return value[:16].replace("T", " ")
    return str(value)


def _clean_cell(value: Any, field_type: str | None, *, money: bool = False, limit: int = 0) -> Any:
    """One non-empty cell as its field's type wants it (None if nothing is left after stripping)."""
    from hub.console import formats

    if not isinstance(value, str):
        value = _clean_native(value, field_type, money)
    if not isinstance(value, str):
        return value
    value = value.strip()
    if value == "":
        return None
    if field_type == "int":
        return int(value) if value.isascii() and value.lstrip("-").isdigit() else formats.parse_int(value, money=money)
    if field_type == "float":
        return formats.parse_float(value)
    if field_type == "date":
        return value if _ISO_DATE.match(value) and _is_date(value) else formats.parse_date(value)
    if field_type == "datetime":
        return formats.parse_datetime(value)
    if field_type in ("text", "textarea") and (limit or not value.isprintable()):
        formats.check_text(value, limit, multiline=field_type == "textarea")
    return value


def _localize_schedule(data: dict[str, Any]) -> None:
    """Give naive start/end times the bureau's offset: events and announcements are local-time schedules."""
    for name in ("starts_at", "ends_at"):
        if isinstance(data.get(name), str):
            try:
                t = dt.datetime.fromisoformat(data[name])
                data[name] = (t if t.tzinfo else t.astimezone()).isoformat()
            except ValueError:
                pass


def validate(kind: str, data: dict[str, Any], *, today: dt.date | None = None) -> tuple[Record | None, dict[str, str]]:
    cls = RECORD_TYPES[kind]
    try:
        record = cls.model_validate(data)
    except ValidationError as exc:
        return None, zh_errors(kind, exc)
    if today is not None and kind == "job" and record.valid_until < today:  # type: ignore[attr-defined]
        return None, {"valid_until": "已过期"}
    return record, {}


def check(kind: str, form: dict[str, Any], *, today: dt.date | None = None,
          notes: dict[str, str] | None = None) -> tuple[Record | None, dict[str, Any], dict[str, str]]:
    """Clean and validate one form or sheet row: (the record or None, the cleaned values, errors).

    Errors of reading a value come first (a date that cannot be read is not also "必填")."""
    errors: dict[str, str] = {}
    data = clean_form(kind, form, errors, notes)
    record, model_errors = validate(kind, data, today=today)
    for name, message in model_errors.items():
        errors.setdefault(name, message)
    return (record if not errors else None), data, errors


def record_json(record: Record) -> str:
    return json.dumps(record.model_dump(mode="json", exclude_none=True, exclude={"version"}), ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"))


def _title(kind: str, record: Record) -> str:
    return str(getattr(record, "title", None) or getattr(record, "text", ""))[:200]


def save_item(conn: Connection, kind: str, record: Record, feed_id: str, author: str, now: str,
              batch: int | None = None, geo: tuple[str, str] | None = None) -> str:
    """Store a validated record as a new version waiting for review: created, changed or unchanged."""
    return save_items(conn, kind, [record], feed_id, author, now, batch, {record.id: geo} if geo else None)[0]


def needs_position(kind: str, data: dict[str, Any], errors: dict[str, str]) -> bool:
    """A job with an address (or an employer) and neither coordinate typed (nor refused)."""
    return (kind == "job" and bool(str(data.get("address", "")).strip() or str(data.get("employer", "")).strip())
            and "latitude" not in data and "longitude" not in data and "latitude" not in errors
            and "longitude" not in errors)


def place(resolver: Any, data: dict[str, Any]) -> tuple[str, str] | None:
    """Put the position of a job's address into ``data``: (precision, 位置待核实 reason or "").
    A job without an address is placed at its registered employer's (the address filled in
    from it); None when there is none (the job then asks for its 工作地点)."""
    employer = str(data.get("employer", ""))
    if str(data.get("address", "")).strip():
        spot, flag = resolver.locate(str(data["address"]), employer)
    else:
        site = resolver.employer_site(employer)
        if site is None:
            return None
        (spot, data["address"]), flag = site, ""
    data["latitude"], data["longitude"] = round(spot.latitude, 6), round(spot.longitude, 6)
    return spot.precision, flag


def _kept_position(kind: str, row: Any, data: str, typed: tuple[str, str]) -> tuple[str, str]:
    """A changed job whose coordinates are the stored ones keeps their precision and 位置待核实 flag
    (fixing a title does not vouch for a stand-in position); new coordinates count as typed."""
    if kind != "job":
        return typed
    before, after = json.loads(row.data), json.loads(data)
    same = all(before.get(k) == after.get(k) for k in ("latitude", "longitude"))
    return (row.geo_precision, row.geo_flag) if same and row.geo_precision else typed


def save_items(conn: Connection, kind: str, records: list[Record], feed_id: str, author: str, now: str,
               batch: int | None = None, geo: dict[str, tuple[str, str]] | None = None) -> list[str]:
    """:func:`save_item` for many records in a few statements (an import of 10 000 rows).

    ``geo``: {record id: (precision, 位置待核实 reason or "")} for jobs placed from their address."""
    geo = geo or {}
    typed = ("填写的坐标", "") if kind == "job" else ("", "")
    existing: dict[str, Any] = {}
    ids = [r.id for r in records]
    for start in range(0, len(ids), 500):
        for row in conn.execute(sa.select(items.c.id, items.c.record_id, items.c.data, items.c.version, items.c.state,
                                          items.c.feed_id, items.c.geo_precision, items.c.geo_flag)
                                .where(items.c.kind == kind, items.c.record_id.in_(ids[start:start + 500]))):
            existing[row.record_id] = row
    outcomes: list[str] = []
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    for record in records:
        data = record_json(record)
        until = str(getattr(record, "valid_until", "") or "") or None
        row = existing.get(record.id)
        if row is None:
            new_rows.append({"kind": kind, "record_id": record.id, "feed_id": feed_id, "title": _title(kind, record),
                             "data": data, "version": 1, "state": "pending", "author": author, "updated_at": now,
                             "live_until": until, "import_batch": batch,
                             "geo_precision": geo.get(record.id, typed)[0], "geo_flag": geo.get(record.id, typed)[1]})
            outcomes.append("created")
        elif row.data == data and row.feed_id == feed_id and row.state != "withdrawn":
            outcomes.append("unchanged")
        else:
            precision, flag = geo.get(record.id) or _kept_position(kind, row, data, typed)
            changed_rows.append({"b_id": row.id, "b_data": data, "b_version": row.version + 1,
                                 "b_title": _title(kind, record), "b_feed": feed_id,
                                 "b_precision": precision, "b_flag": flag})
            versions.append({"item_id": row.id, "version": row.version + 1, "data": data, "author": author,
                             "created_at": now})
            outcomes.append("changed")
    if new_rows:
        conn.execute(items.insert(), new_rows)
        created_ids: dict[str, int] = {}
        new_ids = [r["record_id"] for r in new_rows]
        for start in range(0, len(new_ids), 500):
            created_ids.update(conn.execute(sa.select(items.c.record_id, items.c.id).where(
                items.c.kind == kind, items.c.record_id.in_(new_ids[start:start + 500]))).tuples().all())
        versions += [{"item_id": created_ids[r["record_id"]], "version": 1, "data": r["data"], "author": author,
                      "created_at": now} for r in new_rows]
    if changed_rows:
        conn.execute(items.update().where(items.c.id == sa.bindparam("b_id")).values(
            data=sa.bindparam("b_data"), version=sa.bindparam("b_version"), state="pending", author=author,
            updated_at=now, title=sa.bindparam("b_title"), feed_id=sa.bindparam("b_feed"), reviewer=None,
            reviewed_at=None, reject_reason=None, import_batch=batch, geo_precision=sa.bindparam("b_precision"),
            geo_flag=sa.bindparam("b_flag")), changed_rows)
    if versions:
        conn.execute(item_versions.insert(), versions)
    return outcomes


class ReviewError(ValueError):
    """A review that is not allowed (own item, not pending); the message is Chinese."""


def review(conn: Connection, item_id: int, reviewer: str, approve: bool, reason: str, now: str) -> Any:
    row = conn.execute(sa.select(items).where(items.c.id == item_id)).first()
    if row is None:
        raise ReviewError("没有这条内容")
    if row.state != "pending":
        raise ReviewError(f"{row.record_id} 不在待审核状态")
    if row.author == reviewer:
        raise ReviewError(f"{row.record_id} 由您本人提交，须由其他审核人员审核")
    if not approve and not reason.strip():
        raise ReviewError("退回须填写原因")
    values: dict[str, Any] = {"reviewer": reviewer, "reviewed_at": now}
    if approve:
        digest = hashlib.sha256(f"{row.kind}|{row.version}|{row.data}".encode()).hexdigest()
        until = json.loads(row.data).get("valid_until") if row.kind == "job" else None
        values.update(state="approved", live_data=row.data, live_digest=digest, live_until=until, reject_reason=None)
    else:
        values.update(state="rejected", reject_reason=reason.strip()[:500])
    conn.execute(items.update().where(items.c.id == item_id).values(**values))
    conn.execute(item_versions.update().where(item_versions.c.item_id == item_id,
                                              item_versions.c.version == row.version)
                 .values(outcome="approved" if approve else "rejected", reviewer=reviewer,
                         reason=None if approve else reason.strip()[:500]))
    return row


def withdraw(conn: Connection, item_id: int, author: str, now: str) -> None:
    """Take a record out of the next publication (a reviewed removal is not needed: less is safe)."""
    conn.execute(items.update().where(items.c.id == item_id).values(state="withdrawn", live_data=None,
                                                                    live_digest=None, updated_at=now))


# -- import -----------------------------------------------------------------------------

class ImportFileError(ValueError):
    """The file as a whole cannot be read; the message is Chinese."""


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    batch_id: int | None = None
    flagged: list[dict[str, Any]] = field(default_factory=list)  # placed by a stand-in: 位置待核实
    filled: list[dict[str, Any]] = field(default_factory=list)  # columns the sheet left out

    @property
    def accepted(self) -> int:
        return self.created + self.changed


def read_table(file_name: str, data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a CSV (UTF-8 or GB18030) or XLSX sheet as (sheet row number, {field: cell})."""
    name = file_name.lower()
    if name.endswith(".xlsx"):
        # python-calamine (Rust) reads a 10 000-row sheet several times faster than openpyxl,
        # which the console still uses to write its tables.
        from python_calamine import CalamineWorkbook

        try:
            sheet_rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python(
                skip_empty_area=False)
        except Exception as exc:  # calamine raises several kinds for a file that is not a workbook
            raise ImportFileError(f"不是有效的 Excel（.xlsx）文件：{type(exc).__name__}") from None
        if not sheet_rows or not any(str(c).strip() for c in sheet_rows[0]):
            raise ImportFileError("表格是空的")
        keys = [_field_of(h) for h in sheet_rows[0]]
        out = []
        for number, cells in enumerate(sheet_rows[1:], start=2):
            if all(c is None or str(c).strip() == "" for c in cells):
                continue
            out.append((number, {k: c for k, c in zip(keys, cells, strict=False) if k}))
        return out
    if name.endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                raise ImportFileError("文件编码既不是 UTF-8 也不是 GB18030") from None
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if not header:
            raise ImportFileError("表格是空的")
        keys = [_field_of(h) for h in header]
        out = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(keys):
                out.append((number, {"__error__": "本行的格子比表头多"}))
                continue
            out.append((number, {k: c for k, c in zip(keys, cells, strict=False) if k}))
        return out
    raise ImportFileError("只能导入 .csv 或 .xlsx 文件")


def _field_of(header: Any) -> str:
    text = str(header or "").strip().lstrip("\ufeff")
    return HEADER_ALIASES.get(text, text)


def import_rows(engine: Engine, kind: str, feed_id: str, file_name: str, rows: list[tuple[int, dict[str, Any]]],
                author: str, now: str, today: dt.date, geocoder: Any = None) -> ImportReport:
    """Validate every row; store the good ones as pending versions; report every refused row.

    Jobs: a row with an address and no coordinates is placed by the geocoder (see
    :mod:`hub.console.geocode`); an employer's sheet without 编号/类别/薪资上限/发布日期/有效期 is
    completed (a stable id from employer, title and address; 其他; the lower salary; today; 60
    days) and the filled columns are listed in the report."""
    from hub.console.geocode import Resolver

    report = ImportReport(rows=len(rows))
    good: list[tuple[int, Record]] = []
    seen: set[str] = set()
    geo: dict[str, tuple[str, str]] = {}
    with engine.begin() as conn:
        regions = _feed_regions(conn, feed_id)
    resolver = Resolver(engine, geocoder, regions, now)
    cleaned = []
    for number, row in rows:
        if "__error__" in row:
            report.refused.append({"row": number, "id": "", "reason": row["__error__"]})
            continue
        errors: dict[str, str] = {}
        data = clean_form(kind, row, errors)
        cleaned.append((number, data, errors, _complete_job(data, set(row), today) if kind == "job" else []))
    # the new addresses asked several at a time, before the rows are placed one by one
    resolver.prefetch(str(data.get("address", "")) for _n, data, errors, _f in cleaned
                      if needs_position(kind, data, errors))
    for number, data, errors, filled in cleaned:
        spot = place(resolver, data) if needs_position(kind, data, errors) else None
        record, model_errors = validate(kind, data, today=today)
        for name, message in model_errors.items():
            errors.setdefault(name, message)
        rid = str(data.get("id", ""))[:64]
        if errors or record is None:
            report.refused.append({"row": number, "id": rid, "reason": describe_errors(kind, errors)})
            continue
        if record.id in seen:
            report.refused.append({"row": number, "id": rid, "reason": "编号与本表前面的行重复"})
            continue
        seen.add(record.id)
        good.append((number, record))
        if spot is not None:
            geo[record.id] = spot
            if spot[1]:
                report.flagged.append({"row": number, "id": record.id, "title": _title(kind, record), "reason": spot[1],
                                       "precision": spot[0]})
        if filled:
            report.filled.append({"row": number, "id": record.id, "fields": "、".join(filled)})
    with engine.begin() as conn:
        batch = conn.execute(import_batches.insert().values(
            file_name=file_name[:200], kind=kind, feed_id=feed_id, author=author, at=now, rows=len(rows),
            accepted=0, unchanged=0, refused=len(report.refused), report="[]")).inserted_primary_key[0]
        report.batch_id = int(batch)
        for outcome in save_items(conn, kind, [record for _number, record in good], feed_id, author, now,
                                  batch=report.batch_id, geo=geo):
            setattr(report, outcome, getattr(report, outcome) + 1)
        conn.execute(import_batches.update().where(import_batches.c.id == batch).values(
            accepted=report.accepted, unchanged=report.unchanged,
            report=json.dumps(report.refused, ensure_ascii=False)))
    return report


def relocate_flagged(engine: Engine, geocoder: Any, author: str, now: str, today: dt.date,
                     limit: int = 5000) -> tuple[int, int]:
    """Ask again for the jobs flagged 位置待核实 (the service was down, or had no key, at their
    import): each one now placed becomes a new version waiting for review, with its new
    position. Returns (placed, still flagged)."""
    from hub.console.geocode import Resolver

    with engine.begin() as conn:
        rows = list(conn.execute(sa.select(items.c.record_id, items.c.feed_id, items.c.data).where(
            items.c.kind == "job", items.c.geo_flag != "", items.c.state != "withdrawn")
            .order_by(items.c.id).limit(limit)))
    resolver = Resolver(engine, geocoder, [], now)
    jobs = [(r.record_id, r.feed_id, json.loads(r.data)) for r in rows]
    resolver.prefetch(str(data.get("address", "")) for _rid, _feed, data in jobs)
    placed: dict[str, list[tuple[Record, tuple[str, str]]]] = {}
    for _rid, feed_id, data in jobs:
        if not str(data.get("address", "")).strip():
            continue
        spot, flag = resolver.locate(str(data["address"]), "")
        if flag:
            continue
        data["latitude"], data["longitude"] = round(spot.latitude, 6), round(spot.longitude, 6)
        record, errors = validate("job", data, today=today)
        if record is not None and not errors:
            placed.setdefault(feed_id, []).append((record, (spot.precision, "")))
    with engine.begin() as conn:
        for feed_id, found in placed.items():
            save_items(conn, "job", [record for record, _geo in found], feed_id, author, now,
                       geo={record.id: geo for record, geo in found})
    count = sum(len(found) for found in placed.values())
    return count, len(rows) - count


def _feed_regions(conn: Connection, feed_id: str) -> list[str]:
    from hub.console.schema import feed_groups

    text = conn.execute(sa.select(feed_groups.c.regions).where(feed_groups.c.feed_id == feed_id)).scalar()
    return [r.strip() for r in str(text or "").split(",") if r.strip() and r.strip() != "*"]


def _complete_job(data: dict[str, Any], columns: set[str], today: dt.date) -> list[str]:
    """Fill the columns an employer's sheet does not have (a blank cell in a column the sheet has
    is refused as usual); the labels of the filled fields."""
    filled = []
    if "id" not in columns and data.get("title") and data.get("employer"):
        seed = f"{data['employer']}|{data['title']}|{data.get('address', '')}"
        data["id"] = "imp-" + hashlib.sha256(seed.encode()).hexdigest()[:12]
        filled.append("岗位编号")
    if "category" not in columns:
        data["category"] = "其他"
        filled.append("岗位类别（其他）")
    if "salary_max" not in columns and isinstance(data.get("salary_min"), int):
        data["salary_max"] = data["salary_min"]
        filled.append("薪资上限（同下限）")
    if "published" not in columns:
        data["published"] = today.isoformat()
        filled.append("发布日期（今天）")
    if "valid_until" not in columns:
        data["valid_until"] = (today + dt.timedelta(days=60)).isoformat()
        filled.append("有效期（60 天）")
    return filled
