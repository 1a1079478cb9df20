"""Review at scale and publishing you can read: filters by import batch, submitter, kind and
urgency; a whole batch approved with per-item exceptions (each with its own reason), refused
when the batch changed after the page was opened; urgent notices pinned on top and, once
approved, published at once and alone; the exact change list before a confirmation that
publishes only what was shown, and each version's contents on its page."""

from __future__ import annotations

import io
import json
import re

import sqlalchemy as sa
from console_kit import FEED, PASSWORD, Console, post

from hub.console.auth import create_user
from protocol.feed import Manifest, decode_items

HEADER = "岗位编号,岗位名称,用人单位,岗位类别,用工形式,薪资下限（元）,薪资上限（元）,薪资单位,纬度,经度,发布日期,有效期至\n"


def _rows(prefix: str, n: int) -> str:
    return "".join(f"{prefix}-{i},保洁员{prefix}{i},云岩物业公司,保洁,全职,2200,2800,月,26.58,106.71,2026-11-01,2026-12-31\n"
                   for i in range(1, n + 1))


def _import(client, text: str) -> int:  # type: ignore[no-untyped-def]
    page = post(client, "/console/import", {"kind": "job", "feed_id": FEED,
                                             "file": (io.BytesIO(text.encode()), "jobs.csv")},
                content_type="multipart/form-data")
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return _last_batch(client)


def _last_batch(client) -> int:  # type: ignore[no-untyped-def]
    engine = client.application.extensions["console"].engine
    with engine.begin() as conn:
        return conn.execute(sa.text("SELECT max(id) FROM console_import_batches")).scalar_one()


def _states(console: Console) -> dict[str, tuple[str, str | None]]:
    with console.engine.begin() as conn:
        return {r.record_id: (r.state, r.reject_reason) for r in conn.execute(
            sa.text("SELECT record_id, state, reject_reason FROM console_items"))}


def _item_id(console: Console, record_id: str) -> int:
    with console.engine.begin() as conn:
        return conn.execute(sa.text("SELECT id FROM console_items WHERE record_id = :r"), {"r": record_id}).scalar_one()


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} on the page"
    return match.group(1)


def _feed(console: Console, feed_id: str = FEED) -> tuple[int, set[str]]:
    folder = console.home / "feeds" / feed_id
    manifest = Manifest.from_bytes((folder / "manifest.json").read_bytes())
    content, _ = decode_items((e, (folder / e.path).read_bytes()) for e in manifest.items)
    return manifest.version, {r.id for r in (*content.jobs, *content.announcements)}


def test_a_batch_approved_whole_with_exceptions_each_with_its_own_reason(console: Console) -> None:
    create_user(console.engine, "editor2", PASSWORD, ["editor"], "王编辑")
    first = _import(console.client("editor"), HEADER + _rows("a", 4))
    second = _import(console.client("editor2"), HEADER + _rows("b", 2))
    reviewer = console.client("reviewer")
    page = reviewer.get(f"/console/review?batch={first}").get_data(as_text=True)
    assert f"第 {first} 批" in page and "待审 4 条" in page and "待审 2 条" in page
    assert '<b id="review-total">4</b>' in page and "王编辑" in page
    assert '<b id="review-total">2</b>' in reviewer.get("/console/review?author=editor2").get_data(as_text=True)

    a2 = _item_id(console, "a-2")
    form = {"batch": str(first), "decision": "approve-all", "last_id": _hidden(page, "last_id"),
            "expected": _hidden(page, "expected"), f"reason-{a2}": "薪资与企业报送不符"}
    done = post(reviewer, "/console/review", form, follow_redirects=True).get_data(as_text=True)
    assert "通过 3 条，退回 1 条（其中 1 条按各自原因退回）" in done
    states = _states(console)
    assert [states[f"a-{i}"][0] for i in (1, 3, 4)] == ["approved"] * 3
    assert states["a-2"] == ("rejected", "薪资与企业报送不符")
    assert states["b-1"][0] == states["b-2"][0] == "pending", "another batch is not touched"
    # The reason reaches the editor's form of the returned item.
    assert "薪资与企业报送不符" in console.client("editor").get(f"/console/content/job/{a2}").get_data(as_text=True)

    # A batch that changed after the page was opened is refused whole; a whole rejection needs a reason.
    page = reviewer.get(f"/console/review?batch={second}").get_data(as_text=True)
    stale = {"batch": str(second), "decision": "approve-all", "last_id": _hidden(page, "last_id"), "expected": "3"}
    answer = post(reviewer, "/console/review", stale, follow_redirects=True).get_data(as_text=True)
    assert "筛选结果已有变化（打开页面时 3 条，现在 2 条）" in answer
    answer = post(reviewer, "/console/review", {**stale, "decision": "reject-all", "expected": "2"},
                  follow_redirects=True).get_data(as_text=True)
    assert "整批退回须填写退回原因" in answer
    assert _states(console)["b-1"][0] == "pending"
    post(reviewer, "/console/review", {**stale, "decision": "reject-all", "expected": "2", "reason": "单位未核验"})
    assert _states(console)["b-2"] == ("rejected", "单位未核验")


def _notice(editor, record_id: str, priority: str) -> None:  # type: ignore[no-untyped-def]
    form = {"feed_id": FEED, "id": record_id, "text": f"{record_id} 今日暴雨，招聘会改期", "priority": priority,
            "target": "both", "starts_at": "2026-11-20T08:00", "ends_at": "2026-11-21T20:00"}
    assert post(editor, "/console/content/announcement/new", form).status_code == 302


def test_an_urgent_notice_is_pinned_then_published_at_once_and_alone(console: Console) -> None:
    editor = console.client("editor")
    _import(editor, HEADER + _rows("j", 3))
    _notice(editor, "n-normal", "normal")
    _notice(editor, "n-storm", "urgent")
    reviewer = console.client("reviewer")
    page = reviewer.get("/console/review").get_data(as_text=True)
    table = page[page.index('id="review-table"'):]
    assert "有 1 条紧急通知待审核" in page
    assert table.index("n-storm") < table.index("j-1") < table.index("n-normal"), "the urgent notice comes first"
    assert 'class="urgent-row"' in table[:table.index("j-1")]
    assert '<b id="review-total">1</b>' in reviewer.get("/console/review?urgency=urgent").get_data(as_text=True)
    assert '<b id="review-total">2</b>' in reviewer.get("/console/review?kind=announcement").get_data(as_text=True)

    # The jobs approved first wait for their publisher; the storm notice goes out alone, at once.
    jobs = [_item_id(console, f"j-{i}") for i in (1, 2, 3)]
    post(reviewer, "/console/review", {"item": jobs, "decision": "approve"})
    assert not (console.home / "feeds" / FEED / "manifest.json").exists()
    done = post(reviewer, "/console/review", {"item": [_item_id(console, "n-storm")], "decision": "approve"},
                follow_redirects=True).get_data(as_text=True)
    assert "紧急通知已立即单独发布" in done
    assert _feed(console) == (1, {"n-storm"})
    pointer = json.loads((console.home / "feeds" / FEED / "urgent").read_text())
    assert pointer["version"] == 1 and pointer["feed_id"] == FEED
    # The hub serves the pointer beside the manifest.
    served = console.app.test_client().get(f"/feeds/{FEED}/urgent")
    assert served.status_code == 200 and json.loads(served.data)["version"] == 1

    # The publisher reads the exact list before confirming: the three jobs, not the notice.
    publisher = console.client("publisher")
    page = publisher.get("/console/publish").get_data(as_text=True)
    added = re.findall(r'<tr class="added-entry"><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>', page)
    assert added == [("岗位", "j-1", "保洁员j1"), ("岗位", "j-2", "保洁员j2"), ("岗位", "j-3", "保洁员j3")]
    digest = _hidden(page, "expected")
    # Something approved after the list was shown: the confirmation no longer matches, nothing is published.
    post(reviewer, "/console/review", {"item": [_item_id(console, "n-normal")], "decision": "approve"})
    answer = post(publisher, f"/console/publish/{FEED}", {"confirm": "yes", "expected": digest},
                  follow_redirects=True).get_data(as_text=True)
    assert "请重新核对变更清单" in answer and _feed(console)[0] == 1
    page = publisher.get(f"/console/publish/{FEED}/changes").get_data(as_text=True)
    assert "n-normal" in page and "n-storm" not in page
    shown = post(publisher, f"/console/publish/{FEED}", {"confirm": "yes", "expected": _hidden(page, "expected")},
                 follow_redirects=True).get_data(as_text=True)
    assert f"已发布 {FEED} 第 2 版" in shown and "第 2 版" in shown
    assert _feed(console) == (2, {"j-1", "j-2", "j-3", "n-normal", "n-storm"})
    # The version's page lists what it held and what it changed.
    items = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td></tr>",
                       shown[shown.index('id="version-items"'):])
    assert sorted(items) == ["j-1", "j-2", "j-3", "n-normal", "n-storm"]
    assert shown.count('class="added-entry"') == 4
    first = publisher.get(f"/console/publish/{FEED}/versions/1").get_data(as_text=True)
    assert "n-storm" in first and "j-1" not in first


def test_a_whole_selection_leaves_the_reviewers_own_submissions_for_someone_else(console: Console) -> None:
    create_user(console.engine, "both", PASSWORD, ["editor", "reviewer"], "周编审")
    own = _import(console.client("both"), HEADER + _rows("own", 2))
    _import(console.client("editor"), HEADER + _rows("other", 3))
    both = console.client("both")
    page = both.get("/console/review").get_data(as_text=True)
    assert '<b id="review-total">5</b>' in page and "其中 2 条由您本人提交" in page and "共 3 条" in page
    form = {"decision": "approve-all", "last_id": _hidden(page, "last_id"), "expected": _hidden(page, "expected")}
    done = post(both, "/console/review", form, follow_redirects=True).get_data(as_text=True)
    assert "通过 3 条" in done and "未处理" not in done
    states = _states(console)
    assert [states[f"other-{i}"][0] for i in (1, 2, 3)] == ["approved"] * 3
    assert states["own-1"][0] == states["own-2"][0] == "pending"
    page = both.get(f"/console/review?batch={own}").get_data(as_text=True)
    assert 'id="batch-form"' not in page, "nothing in this batch is theirs to review"
    answer = post(both, "/console/review", {**form, "batch": str(own), "expected": "2"},
                  follow_redirects=True).get_data(as_text=True)
    assert "筛选结果中没有可由您审核的信息" in answer
