"""Everyday input: dates, amounts and coordinates as people type them and as Excel writes them,
normalised (and shown back) or refused with a Chinese sentence naming the rule; nothing cut or
dropped without a word."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import sqlalchemy as sa
from console_kit import FEED, Console, post

JOB = {"feed_id": FEED, "id": "in-1", "title": "保洁员", "employer": "云岩物业公司", "category": "保洁", "kind": "全职",
       "salary_min": "2200", "salary_max": "2800", "salary_unit": "月", "latitude": "26.58", "longitude": "106.71",
       "published": "2026-11-01", "valid_until": "2026-12-31"}


def _saved(console: Console, record_id: str = "in-1") -> dict[str, Any] | None:
    with console.engine.begin() as conn:
        data = conn.execute(sa.text("SELECT data FROM console_items WHERE record_id = :r"), {"r": record_id}).scalar()
    return json.loads(data) if data else None


@pytest.mark.parametrize(("field", "typed", "stored"), [
    ("published", "2026/11/07", "2026-11-07"),           # what Excel writes to CSV
    ("valid_until", "2027年1月31日", "2027-01-31"),
    ("valid_until", "２０２６－１２－３１", "2026-12-31"),  # full-width digits from a Chinese input method
    ("published", "2026.11.7", "2026-11-07"),
    ("salary_min", "2000元", 2000),
    ("salary_max", "4,000", 4000),
    ("salary_max", "３０００", 3000),
    ("salary_max", "¥3,500元", 3500),
    ("salary_max", "0.5万", 5000),
    ("latitude", "２６．５８", 26.58),
])
def test_everyday_forms_are_stored_normalised(console: Console, field: str, typed: str, stored: Any) -> None:
    response = post(console.client("editor"), "/console/content/job/new", {**JOB, field: typed})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    assert _saved(console)[field] == stored  # type: ignore[index]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"published": "2026-02-30"}, "published", "没有这一天（2026 年 2 月 30 日）"),
    ({"published": "明天"}, "published", "看不懂这个日期；日期写法：2026-12-07、2026/12/07 或 2026年12月7日"),
    ({"salary_min": "3.5"}, "salary_min", "须为整数；整数，单位元"),
    ({"salary_min": "面议"}, "salary_min", "须为数字；整数，单位元"),
    ({"latitude": "106.71", "longitude": "26.58"}, "latitude", "纬度和经度填反了"),
    ({"latitude": "66.5"}, "latitude", "不在我国境内：纬度应在 3 到 54 之间"),
    ({"title": "保" * 5000}, "title", "最多 60 字，现有 5000 字，请删减 4940 字"),
    ({"title": "保洁员😀急招"}, "title", "含有驿站屏幕无法显示的表情符号"),
    ({"requirements": "身体健康，吃苦耐劳\n" * 500}, "requirements", "最多 4000 字"),
    ({"salary_min": "5000", "salary_max": "4000"}, "salary_max", "不能低于薪资下限"),
])
def test_what_cannot_be_used_is_refused_naming_the_rule(console: Console, changes: dict[str, str], field: str,
                                                       message: str) -> None:
    response = post(console.client("editor"), "/console/content/job/new", {**JOB, **changes})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="e-{field}">' in page and message in page.split(f'id="e-{field}">', 1)[1].split("</span>")[0]
    assert "_" + message not in page  # no raw key in front of the sentence
    assert _saved(console) is None  # nothing saved, nothing cut
    # what was typed is shown again for correcting (a 5 000-character title is not cut in the box)
    typed = changes[field]
    if "\n" not in typed:
        assert f'value="{typed}"' in page


def test_normalised_values_are_shown_back_next_to_their_fields(console: Console) -> None:
    response = post(console.client("editor"), "/console/content/job/new",
                    {**JOB, "published": "2026/11/07", "salary_max": "4,000元", "latitude": "106.71",
                     "longitude": "26.58"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'value="2026-11-07"' in page and "已理解为 2026-11-07" in page and "已理解为 4000" in page
    # every format rule stands next to its field, in Chinese
    assert 'id="r-published">日期写法：2026-12-07、2026/12/07 或 2026年12月7日' in page
    assert 'id="r-salary_min">整数，单位元' in page and 'id="r-title">最多 60 字' in page
    assert 'pattern=' not in page and "novalidate" in page  # no browser bubble in the browser's language


def test_an_announcement_with_written_times(console: Console) -> None:
    form = {"feed_id": FEED, "id": "n-1", "text": "今日暴雨，招聘会延期", "priority": "urgent", "target": "both",
            "starts_at": "2026年11月20日 上午9点", "ends_at": "2026/11/20 18:30"}
    assert post(console.client("editor"), "/console/content/announcement/new", form).status_code == 302
    saved = _saved(console, "n-1")
    assert saved["starts_at"].startswith("2026-11-20T09:00:00") and saved["ends_at"].startswith("2026-11-20T18:30")  # type: ignore[index]
    bad = post(console.client("editor"), "/console/content/announcement/new",
               {**form, "id": "n-2", "starts_at": "明天上午"}).get_data(as_text=True)
    assert "开始时间：看不懂这个时间；时间写法：2026-12-07 09:00" in bad


def test_an_import_in_everyday_forms_and_an_overlong_row(console: Console) -> None:
    sheet = ("岗位编号,岗位名称,用人单位,岗位类别,用工形式,薪资下限（元）,薪资上限（元）,薪资单位,纬度,经度,发布日期,有效期至\n"
             'e-1,保洁员,云岩物业公司,保洁,全职,2200元,"3,000",月,26.58,106.71,2026/11/07,2027年1月31日\n'
             f"e-2,{'长' * 5000},某公司,保洁,全职,２２００,2800,月,26.58,106.71,2026/11/07,2026/12/31\n"
             "e-3,店员,某超市,服务,全职,2200,2800,月,106.71,26.58,2026/11/07,2026/12/31\n")
    page = post(console.client("editor"), "/console/import",
                {"kind": "job", "feed_id": FEED, "file": (io.BytesIO(sheet.encode("gb18030")), "岗位.csv")},
                content_type="multipart/form-data").get_data(as_text=True)
    assert "第 3 行" in page and "岗位名称：最多 60 字，现有 5000 字" in page
    assert "第 4 行" in page and "纬度：纬度和经度填反了" in page
    saved = _saved(console, "e-1")
    assert saved is not None and (saved["salary_min"], saved["salary_max"]) == (2200, 3000)
    assert (saved["published"], saved["valid_until"]) == ("2026-11-07", "2027-01-31")
    assert _saved(console, "e-2") is None


def test_the_limits_beside_the_fields_are_the_feeds_own() -> None:
    """The console's stated limits are the models' (a longer text would be cut by the model)."""
    from hub.console.items import FIELDS, TEXT_LIMITS
    from protocol.model import RECORD_TYPES

    for kind, limits in TEXT_LIMITS.items():
        model = RECORD_TYPES[kind]
        names = {f.name for f in FIELDS[kind]}
        for name, limit in limits.items():
            assert name in names
            annotation = model.model_fields[name]
            value = "x" * (limit + 50)
            cut = annotation.metadata and [m for m in annotation.metadata if hasattr(m, "func")]
            if cut:
                assert len(cut[0].func(value)) == limit, (kind, name)
            else:
                assert any(getattr(m, "max_length", None) == limit for m in annotation.metadata), (kind, name)
