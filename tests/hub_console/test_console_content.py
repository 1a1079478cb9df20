"""Content from form and file to a signed feed: import with a row-by-row report, review by
someone else, the change summary, publishing, expiry, schedules, employers' credit codes."""

from __future__ import annotations

import datetime as dt
import io
import json

import sqlalchemy as sa
from console_kit import FEED, Console, post

from hub.console.publishing import run_due
from protocol.feed import Manifest, decode_items

HEADER = "岗位编号,岗位名称,用人单位,岗位类别,用工形式,薪资下限（元）,薪资上限（元）,薪资单位,纬度,经度,发布日期,有效期至\n"
GOOD = "job-a,保洁员,云岩物业公司,保洁,全职,2200,2800,月,26.58,106.71,2026-11-01,2026-12-31\n"
GOOD2 = "job-b,叉车司机,筑城物流公司,物流,全职,4500,6000,月,26.57,106.70,2026-11-01,2026-11-25\n"
BAD = "job-c,电工,某建筑公司,建筑,全职,5000,4000,月,26.57,106.70,2026-11-01,2026-12-31\n"


def _import(client, data: bytes, name: str = "jobs.csv", kind: str = "job"):  # type: ignore[no-untyped-def]
    return post(client, "/console/import", {"kind": kind, "feed_id": FEED, "file": (io.BytesIO(data), name)},
                content_type="multipart/form-data")


def _pending_ids(console: Console) -> list[int]:
    with console.engine.begin() as conn:
        return list(conn.execute(sa.text("SELECT id FROM console_items WHERE state = 'pending' ORDER BY id")).scalars())


def test_csv_import_reports_the_bad_row_and_keeps_the_good_ones(console: Console) -> None:
    editor = console.client("editor")
    page = _import(editor, (HEADER + GOOD + BAD + GOOD2).encode("gb18030")).get_data(as_text=True)
    assert "拒收" in page and "第 3 行" in page and "薪资上限（元）：不能低于薪资下限" in page
    assert "新增 <b>2</b>" in page
    assert len(_pending_ids(console)) == 2


def test_xlsx_import_with_the_provincial_platforms_headers(console: Console) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["编号", "职位名称", "招聘单位", "类别", "用工类型", "最低薪资", "最高薪资", "薪资单位", "纬度", "经度",
               "发布时间", "有效期", "未知栏目"])
    ws.append(["x-1", "厨师", "某餐饮公司", "餐饮", "全职", 4000, 5500, "月", 26.5, 106.7, "2026-11-02", "2026-12-30", None])
    ws.append(["x-2", "店员", "某超市", "服务", "临时工", 2000, 2500, "月", 26.5, 106.7, "2026-11-02", "2026-12-30", None])
    ws.append(["x-3", "保安", "某物业", "保安", "全职", 3000, 3500, "月", 26.5, 106.7, "2024-11-02", "2025-01-01", None])
    buf = io.BytesIO()
    wb.save(buf)
    page = _import(console.client("editor"), buf.getvalue(), "省平台导出.xlsx").get_data(as_text=True)
    assert "第 3 行" in page and "用工形式：须为以下之一：全职、兼职、零工" in page
    assert "第 4 行" in page and "已过期" in page
    assert len(_pending_ids(console)) == 1


def test_a_file_that_is_not_a_table_is_refused_whole(console: Console) -> None:
    response = _import(console.client("editor"), b"\x00\x01garbage", "jobs.xlsx")
    assert response.status_code == 400 and "不是有效的 Excel" in response.get_data(as_text=True)


def test_review_needs_someone_else_and_a_rejection_needs_a_reason(console: Console) -> None:
    for user in ("editor", "reviewer"):
        with console.engine.begin() as conn:
            conn.execute(sa.text("UPDATE console_users SET roles = 'editor,reviewer' WHERE username = :u"), {"u": user})
    editor = console.client("editor")
    _import(editor, (HEADER + GOOD + GOOD2).encode())
    a, b = _pending_ids(console)
    page = post(editor, "/console/review", {"item": [a], "decision": "approve"}, follow_redirects=True)
    assert "须由其他审核人员审核" in page.get_data(as_text=True)
    reviewer = console.client("reviewer")
    page = post(reviewer, "/console/review", {"item": [b], "decision": "reject"}, follow_redirects=True)
    assert "退回须填写原因" in page.get_data(as_text=True)
    post(reviewer, "/console/review", {"item": [b], "decision": "reject", "reason": "薪资与企业报送不符"})
    post(reviewer, "/console/review", {"item": [a], "decision": "approve"})
    listing = editor.get("/console/content/job?state=rejected").get_data(as_text=True)
    assert "退回原因：薪资与企业报送不符" in listing and "叉车司机" in listing
    with console.engine.begin() as conn:
        states = dict(conn.execute(sa.text("SELECT record_id, state FROM console_items")).all())
    assert states == {"job-a": "approved", "job-b": "rejected"}


def _feed(console: Console, feed: str = FEED) -> tuple[int, set[str]]:
    """The published version and the ids of every record in it, read from the feed's files."""
    folder = console.home / "feeds" / feed
    manifest = Manifest.from_bytes((folder / "manifest.json").read_bytes())
    content, problems = decode_items((i, (folder / i.path).read_bytes()) for i in manifest.items)
    assert not problems
    return manifest.version, {r.id for r in content.all_records()}


def _publish_page(console: Console) -> str:
    return console.client("publisher").get("/console/publish").get_data(as_text=True)


def test_publishing_shows_the_changes_then_signs_a_new_version(console: Console) -> None:
    editor, reviewer, publisher = console.client("editor"), console.client("reviewer"), console.client("publisher")
    _import(editor, (HEADER + GOOD + GOOD2).encode())
    post(reviewer, "/console/review", {"item": _pending_ids(console), "decision": "approve"})
    page = _publish_page(console)
    assert '<b class="added">2</b>' in page and '<b class="removed">0</b>' in page
    assert post(publisher, f"/console/publish/{FEED}", {"confirm": "yes"}).status_code == 302
    assert _feed(console) == (1, {"job-a", "job-b"})
    assert "自上次发布以来没有变化" in _publish_page(console)

    # A change waits for review: the published version stays until it is approved.
    changed = HEADER + GOOD.replace("2800", "3000") + GOOD2
    _import(editor, changed.encode())
    assert "自上次发布以来没有变化" in _publish_page(console)
    post(reviewer, "/console/review", {"item": _pending_ids(console), "decision": "approve"})
    page = _publish_page(console)
    assert '<b class="changed">1</b>' in page and '<b class="added">0</b>' in page

    # job-b is valid until 2026-11-25: six days later it leaves the feed by itself.
    console.clock.advance(days=6)
    publisher = console.client("publisher")  # the old session has expired meanwhile
    page = _publish_page(console)
    assert '<b class="removed">1</b>' in page and "已过期自动下架 1" in page
    post(publisher, f"/console/publish/{FEED}", {"confirm": "yes"})
    assert _feed(console) == (2, {"job-a"})


def test_a_scheduled_publication_runs_when_its_time_comes(console: Console) -> None:
    editor, reviewer, publisher = console.client("editor"), console.client("reviewer"), console.client("publisher")
    _import(editor, (HEADER + GOOD).encode())
    post(reviewer, "/console/review", {"item": _pending_ids(console), "decision": "approve"})
    past = post(publisher, f"/console/publish/{FEED}/schedule", {"due_at": "2026-11-19T08:00"}, follow_redirects=True)
    assert "须晚于现在" in past.get_data(as_text=True)
    due = (console.clock() + dt.timedelta(hours=3)).astimezone().strftime("%Y-%m-%dT%H:%M")  # the form is local time
    post(publisher, f"/console/publish/{FEED}/schedule", {"due_at": due})
    ctx = console.app.extensions["console"]
    assert run_due(ctx.engine, ctx.home, ctx.feeds_dir, console.clock()) == []
    assert not (console.home / "feeds" / FEED / "manifest.json").exists()
    console.clock.advance(hours=3)
    (done,) = run_due(ctx.engine, ctx.home, ctx.feeds_dir, console.clock())
    assert "第 1 版" in done[1]
    assert (console.home / "feeds" / FEED / "manifest.json").exists()
    assert run_due(ctx.engine, ctx.home, ctx.feeds_dir, console.clock()) == []  # runs once


def test_employers_credit_code_is_checked_with_gb32100(console: Console) -> None:
    editor = console.client("editor")
    bad = post(editor, "/console/employers", {"name": "某公司", "uscc": "91110108551385082A"})
    assert bad.status_code == 400 and "统一社会信用代码不正确" in bad.get_data(as_text=True)
    good = post(editor, "/console/employers", {"name": "某公司", "uscc": "91110108551385082Q"})
    assert good.status_code == 302
    again = post(editor, "/console/employers", {"name": "某公司", "uscc": "91110108551385082Q"})
    assert "已登记" in again.get_data(as_text=True)
    post(console.client("reviewer"), "/console/employers/1/status", {"status": "已核验"})
    assert "已核验" in editor.get("/console/employers").get_data(as_text=True)


def test_an_urgent_notice_for_chosen_stations_through_the_form(console: Console) -> None:
    publisher = console.client("publisher")
    post(publisher, "/console/publish/groups", {"feed_id": "urgent-s1", "title": "一号站", "stations": "s-1"})
    editor = console.client("editor")
    form = {"feed_id": "urgent-s1", "id": "n-1", "text": "今日暴雨，招聘会改期", "priority": "urgent", "target": "both",
            "starts_at": "2026-11-20T08:00", "ends_at": "2026-11-20T20:00"}
    assert post(editor, "/console/content/announcement/new", form).status_code == 302
    # Approved, an urgent notice is published at once (no publisher step): version 1 is there.
    post(console.client("reviewer"), "/console/review", {"item": _pending_ids(console), "decision": "approve"})
    manifest = Manifest.from_bytes((console.home / "feeds" / "urgent-s1" / "manifest.json").read_bytes())
    assert manifest.scope.stations == ["s-1"] and _feed(console, "urgent-s1") == (1, {"n-1"})
    bad = post(editor, "/console/content/announcement/new", {**form, "id": "n-2", "ends_at": "2026-11-19T08:00"})
    assert bad.status_code == 400 and "结束时间：不能早于开始时间" in bad.get_data(as_text=True)


def test_audit_log_records_who_did_what(console: Console) -> None:
    _import(console.client("editor"), (HEADER + GOOD).encode())
    post(console.client("reviewer"), "/console/review", {"item": _pending_ids(console), "decision": "approve"})
    page = console.client("admin").get("/console/admin/audit").get_data(as_text=True)
    assert "批量导入" in page and "审核通过" in page and "岗位 job-a" in page
    assert json.dumps  # the log page is the administrator's only view of it
