"""The 服务台账 and 服务成效表 count what stations uploaded, per station and month, and download
as bureau-style XLSX tables."""

from __future__ import annotations

import io

import sqlalchemy as sa
from console_kit import Console


def _uploads(console: Console) -> None:
    store = console.store
    for sid in ("s-1", "s-2"):
        store.add_station(sid, f"{sid}站")
    t = "2026-11-05T10:00:00+08:00"
    events = ["card_read", "card_read", "print_job", "job_view", "video_play"]
    store.ingest("s-1", "event", [{"key": f"ev-key-{i:04d}", "created_at": t, "payload": {"event": e}}
                                   for i, e in enumerate(events)])
    store.ingest("s-2", "event", [{"key": "ev-key-9999", "created_at": "2026-10-05T10:00:00+08:00",
                                   "payload": {"event": "card_read"}}])
    store.ingest("s-1", "proof_of_play", [
        {"key": "pop-key-0001", "created_at": t, "payload": {"item_kind": "job", "item_id": "j", "started_at": t,
                                                              "duration_s": 8}},
        {"key": "pop-key-0002", "created_at": t, "payload": {"item_kind": "course", "item_id": "c", "started_at": t,
                                                              "duration_s": 0, "status": "skipped"}}])
    store.ingest("s-1", "registration", [{"key": "reg-key-0001", "created_at": t, "payload": {
        "code": "AB2345", "kind": "零工", "person": {"name": "周八"}, "answers": {}}}])


def test_the_ledger_counts_each_station_for_the_month(console: Console) -> None:
    _uploads(console)
    client = console.client("editor")
    page = client.get("/console/reports/ledger?month=2026-11").get_data(as_text=True)
    row = page.split("<td>s-1</td>")[1].split("</tr>")[0]
    cells = [c.split(">")[-1] for c in row.split("</td>")[1:-1]]
    # 一体机服务人次, 信息浏览, 读卡, 查询, 单据, 求职, 培训, 返乡, 零工, 视频, 大屏, 登记合计
    assert cells[:11] == ["5", "1", "2", "0", "1", "0", "0", "0", "1", "1", "1"]
    assert "<td>s-2</td>" not in page  # its only use was in October
    response = client.get("/console/reports/ledger?month=2026-11&format=xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["A1"].value == "基层就业服务驿站服务台账（2026年11月）"
    assert [c.value for c in sheet[3]][:4] == ["驿站编号", "驿站名称", "一体机服务人次", "信息浏览"]
    assert sheet["A4"].value == "s-1" and sheet["A5"].value == "合计"


def test_the_results_table_sums_every_station_by_month(console: Console) -> None:
    _uploads(console)
    client = console.client("admin")
    page = client.get("/console/reports/results?month=2026-11").get_data(as_text=True)
    assert "chart.umd.min.js" in page and '"labels"' in page
    # from the hub's first data (October, s-2), not twelve months of zeros
    assert '"visits": [1, 5]' in page and "近 2 个月服务趋势" in page
    one = client.get("/console/reports/results?month=2026-11&station=s-2").get_data(as_text=True)
    assert '"visits": [1, 0]' in one


def test_the_months_offered_start_at_the_hubs_first_data(console: Console) -> None:
    client = console.client("editor")
    page = client.get("/console/reports/ledger").get_data(as_text=True)
    assert ">2026年11月</option>" in page and "2026年10月" not in page  # a new hub: this month only
    _uploads(console)
    page = client.get("/console/reports/ledger").get_data(as_text=True)
    months = [part.split("</option>")[0].split(">")[-1] for part in page.split('<option value="')[1:]
              if part[:4].isdigit()]
    assert months == ["2026年11月", "2026年10月"]


def test_the_ledger_xlsx_prints_as_filed(console: Console) -> None:
    from openpyxl import load_workbook

    _uploads(console)
    long_name = "贵阳市云岩区中华北路街道城东社区人力资源和社会保障服务站"
    with console.engine.begin() as conn:
        conn.execute(sa.text("UPDATE stations SET name = :name WHERE id = 's-1'"), {"name": long_name})
    response = console.client("editor").get("/console/reports/ledger?month=2026-11&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["B4"].value == long_name
    assert sheet.column_dimensions["B"].width >= len(long_name) * 2  # the name is not cut
    assert all(sheet.column_dimensions[c].width >= 10 for c in "CDEFGHIJKLMN")
    setup = sheet.page_setup
    assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.print_title_rows == "$3:$3"
    signed = sheet.cell(row=sheet.max_row, column=1).value
    assert signed == "填报人：编辑甲    审核人：__________    日期：2026年11月20日"
    assert sheet.oddFooter.left.text == signed
