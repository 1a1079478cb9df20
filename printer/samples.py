"""Sample records for slip previews, the benchmark and the tests (fictitious employers and people)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from protocol.model import Event, Job

SAMPLE_URL = "https://jobs.example.gov.cn/gy/job/J1001"


@dataclass(frozen=True)
class SampleStation:
    """What a slip reads of the station that prints it (the station's settings have these too)."""

    id: str = "sample-station"
    name: str = "城东社区人社便民服务站"
    kind: str = "服务站"
    latitude: float = 26.5830
    longitude: float = 106.7135
    radius_km: float = 3.0
    hotline: str = "0851-12333"
    complaint_phone: str = ""
    address: str = "某某市某某区中华北路108号"
    opening_hours: str = ""


def sample_station(**changes: Any) -> SampleStation:
    """The sample station, with ``changes`` (e.g. ``hotline=""``)."""
    return replace(SampleStation(), **changes)


def sample_job(**changes: Any) -> Job:
    """A full-time job with every field a slip shows filled in."""
    values: dict[str, Any] = {
        "id": "J1001", "title": "仓库分拣员（长白班，包吃住）", "employer": "某某市示例物流有限公司",
        "category": "物流", "kind": "全职", "salary_min": 4500, "salary_max": 6000, "salary_unit": "月",
        "headcount": 5, "address": "某某市某某区中华北路108号示例物流园3号仓", "latitude": 26.600,
        "longitude": 106.720, "age_min": 18, "age_max": 45, "gender": "不限", "education": "初中",
        "requirements": "能吃苦耐劳，服从安排；会使用手持终端者优先。\n每天工作8小时，月休4天。",
        "benefits": "五险一金，包吃住，节日福利", "contact_name": "王经理", "contact_phone": "0851-85550000",
        "published": dt.date(2025, 3, 1), "valid_until": dt.date(2025, 4, 30), "url": SAMPLE_URL,
    }
    values.update(changes)
    return Job(**values)


def sample_gig(**changes: Any) -> Job:
    """A one-day 零工 job paid by the day."""
    values: dict[str, Any] = {"id": "G2001", "title": "小区绿化养护临时工", "employer": "某某物业服务有限公司",
                              "category": "其他", "kind": "零工", "work_date": dt.date(2025, 3, 8),
                              "salary_min": 180, "salary_max": 180, "salary_unit": "日", "requirements": "",
                              "benefits": "", "url": "https://jobs.example.gov.cn/gy/job/G2001"}
    values.update(changes)
    return sample_job(**values)


def sample_event(**changes: Any) -> Event:
    values: dict[str, Any] = {
        "id": "E301", "title": "2025年春风行动专场招聘会", "event_kind": "招聘会",
        "starts_at": dt.datetime(2025, 3, 15, 9, 0), "ends_at": dt.datetime(2025, 3, 15, 12, 0),
        "place": "某某区人力资源市场一楼大厅", "organiser": "某某区人力资源和社会保障局", "employers": 56,
        "job_count": 1200, "registration": "无需报名，请携带身份证和简历。"}
    values.update(changes)
    return Event(**values)
