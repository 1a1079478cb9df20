"""The 服务台账 and 服务成效表 count what stations uploaded, per station and month, and download
as bureau-style XLSX tables."""

from __future__ import annotations

import io

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
    assert '"visits": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 5]' in page  # October (s-2) and November (s-1)
    one = client.get("/console/reports/results?month=2026-11&station=s-2").get_data(as_text=True)
    assert '"visits": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]' in one
