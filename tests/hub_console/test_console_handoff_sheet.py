"""The hand-off file as a bureau files it: the XLSX opened with openpyxl and read column by
column (local times, one column per answer, widths that fit, A4 landscape on one page's
width with the 填报人/审核人/日期 line), the real actor and address of a web export in the
audit log, follow-up notes that carry an ID or phone number refused, receipt codes found as
printed on the slip."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from console_kit import Console, post
from openpyxl import load_workbook

from hub.console.sheets import text_width

PEOPLE = [
    {"name": "赵六", "id_number": "520103197812120018", "gender": "男", "birth_date": "1978-12-12",
     "address": "贵州省贵阳市云岩区中华北路108号3单元", "phone": "13698765432"},
    {"name": "钱七妹", "id_number": "52010319850304002X", "gender": "女", "birth_date": "1985-03-04",
     "address": "贵州省贵阳市南明区花果园2栋", "phone": "13512345678"},
]
ANSWERS = [  # as the kiosk sends them (kiosk/forms.py keys)
    {"categories": ["保洁", "保安"], "salary": "3000-4000", "channel": "kiosk",
     "consent": {"version": 2, "accepted_at": "2026-11-19T09:00:00+08:00"}},
    {"skills": ["搬运"], "days": ["周六", "周日"], "day_pay": "200", "channel": "counter"},
]


@pytest.fixture
def shanghai(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hub's clock in Beijing time, as a bureau's server runs."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _ingest(console: Console) -> None:
    console.store.add_station("s-1", "城东社区驿站")
    items = [{"key": f"reg-key-{i:06d}", "created_at": "2026-11-19T09:00:00+08:00",
              "payload": {"code": f"7010895{i}", "kind": ("求职", "零工")[i], "station_id": "s-1",
                          "created_at": "2026-11-19T09:00:00+08:00", "person": PEOPLE[i], "answers": ANSWERS[i]}}
             for i in range(2)]
    assert all(r["status"] == "created" for r in console.store.ingest("s-1", "registration", items))


def test_the_handoff_xlsx_read_column_by_column(console: Console, shanghai: None) -> None:
    _ingest(console)
    registrar = console.client("registrar")
    response = post(registrar, "/console/registrations/handoff/export", {"format": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    with console.engine.begin() as conn:
        received = conn.execute(sa.text("SELECT received_at FROM uploads ORDER BY id")).scalars().all()
    local = [dt.datetime.fromisoformat(r).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
             for r in received]
    columns = {sheet.cell(row=1, column=c).value: [sheet.cell(row=r, column=c).value for r in (2, 3)]
               for c in range(1, sheet.max_column + 1)}
    assert list(columns) == ["登记编号", "登记类型", "驿站编号", "接收时间", "姓名", "公民身份号码", "性别", "出生日期",
                             "联系电话", "住址", "想做的工作", "期望工资", "能做的活", "可以干活的日子", "期望日薪",
                             "个人信息授权", "登记渠道", "跟进状态", "跟进备注"]
    assert columns["登记编号"] == ["70108950", "70108951"] and columns["登记类型"] == ["求职", "零工"]
    assert columns["驿站编号"] == ["s-1", "s-1"]
    assert columns["接收时间"] == local and all("T" not in t and "+" not in t for t in local)
    assert columns["姓名"] == ["赵六", "钱七妹"]
    assert columns["公民身份号码"] == ["520103197812120018", "52010319850304002X"]
    assert columns["性别"] == ["男", "女"] and columns["出生日期"] == ["1978-12-12", "1985-03-04"]
    assert columns["联系电话"] == ["13698765432", "13512345678"]
    assert columns["住址"] == [PEOPLE[0]["address"], PEOPLE[1]["address"]]
    # one answer per column, empty where that form did not ask it
    assert columns["想做的工作"] == ["保洁、保安", None] and columns["期望工资"] == ["3000-4000", None]
    assert columns["能做的活"] == [None, "搬运"] and columns["可以干活的日子"] == [None, "周六、周日"]
    assert columns["期望日薪"] == [None, "200"]
    assert columns["个人信息授权"] == ["已同意（说明第 2 版，2026-11-19 09:00）", None]
    assert columns["登记渠道"] == ["自助一体机", "窗口"] and columns["跟进状态"] == ["待跟进", "待跟进"]
    # every column wide enough for what it holds (a hanzi counts two)
    for c in range(1, sheet.max_column + 1):
        letter = sheet.cell(row=1, column=c).column_letter
        longest = max(text_width(str(sheet.cell(row=r, column=c).value or "")) for r in (1, 2, 3))
        assert sheet.column_dimensions[letter].width >= min(longest, 38), letter
    # printed: A4 landscape, all columns on one page's width, header repeated, signed lines
    setup = sheet.page_setup
    assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == ("landscape", 9, 1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.print_title_rows == "$1:$1"
    footer = sheet.oddFooter.left.text
    assert footer.startswith("填报人：登记专员甲") and "审核人：" in footer
    assert "日期：2026年11月20日" in footer  # the hub's (injected) clock, in local time


def test_a_web_export_is_audited_with_its_user_and_address(console: Console) -> None:
    _ingest(console)
    post(console.client("registrar"), "/console/registrations/handoff/export", {"format": "csv"})
    post(console.client("registrar"), "/console/registrations/handoff/1/ack")
    with console.engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT action, username, address FROM console_audit_log "
                                    "WHERE action IN ('导出登记', '确认交接并清除') ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("导出登记", "registrar", "127.0.0.1"),
                                        ("确认交接并清除", "registrar", "127.0.0.1")]


NOTES_REFUSED = [
    ("本人身份证 520103197812120018 已核对", "身份证号"), ("身份证号５２０１０３１９８５０３０４００２ｘ", "身份证号"),
    ("回电 136 9876 5432", "手机号码"), ("+86-135-1234-5678 下午联系", "手机号码"), ("座机 0851-86123456", "电话号码")]


def test_a_follow_up_note_with_personal_data_is_refused(console: Console) -> None:
    _ingest(console)
    registrar = console.client("registrar")
    for note, kind in NOTES_REFUSED:
        response = post(registrar, "/console/registrations/1/follow-up", {"status": "已联系", "note": note})
        page = response.get_data(as_text=True)
        assert response.status_code == 400 and f"跟进备注里像是有{kind}" in page and "（未保存）" in page, note
    with console.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT status, note FROM console_registrations WHERE upload_id = 1")).one() \
            == ("待跟进", "")


def test_an_ordinary_note_is_kept_and_a_long_one_named(console: Console) -> None:
    _ingest(console)
    registrar = console.client("registrar")
    ok = post(registrar, "/console/registrations/1/follow-up",
              {"status": "已推荐", "note": "12月7日推荐到云岩物业保洁岗，月薪3000元，面试2号楼201室"})
    assert ok.status_code == 302
    long = post(registrar, "/console/registrations/1/follow-up", {"status": "已推荐", "note": "好" * 501})
    assert long.status_code == 400 and "跟进备注最多 500 字，现在有 501 字" in long.get_data(as_text=True)
    with console.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT note FROM console_registrations WHERE upload_id = 1")).scalar_one() \
            .startswith("12月7日推荐")


def test_a_receipt_code_is_found_as_printed(console: Console) -> None:
    _ingest(console)
    registrar = console.client("registrar")
    for typed in ("70108951", "7010 8951", "7010-8951", "７０１０ ８９５１"):
        page = registrar.get("/console/registrations", query_string={"code": typed}).get_data(as_text=True)
        assert "共 1 条" in page and "70108951" in page and "70108950" not in page, typed
