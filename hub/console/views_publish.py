"""Console pages for review and publishing: 信息审核 (filter by import batch, submitter, kind and
urgency; a whole selection approved or returned with per-item exceptions; urgent notices pinned
on top and published at once when approved), feed groups with the exact list of their pending
changes, publish now (after a confirmation of that list) or at a time, each version's contents,
and each group's board schedule. Permissions: ``content.review`` for 信息审核, ``publish`` for
the rest."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from hub.console.core import audit, console, iso, requires
from hub.console.publishing import (
    URGENT_MARK,
    changes,
    groups,
    is_urgent,
    plan,
    publish_group,
    publish_urgent,
    save_group,
    version_contents,
)
from hub.console.schema import import_batches, items, publications, schedules
from hub.publish import PublishError

bp = Blueprint("console_publish", __name__)
FEED_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@bp.get("/publish")
@requires("publish")
def overview() -> Any:
    ctx = console()
    today = ctx.now().astimezone().date()
    from hub.console.views_fleet import _published_versions

    on_disk = _published_versions(ctx.feeds_dir)
    with ctx.engine.begin() as conn:
        rows = [(grp, plan(conn, grp.feed_id, today), changes(conn, grp.feed_id, today)) for grp in groups(conn)]
        history = list(conn.execute(sa.select(publications).order_by(publications.c.id.desc()).limit(15)))
        waiting = list(conn.execute(sa.select(schedules).order_by(schedules.c.id.desc()).limit(10)))
    for grp, p, _ in rows:
        # A feed may also have been published from a folder (yizhan hub publish): its manifest tells.
        p.last_version = max(p.last_version, on_disk.get(grp.feed_id, (0,))[0])
    default_time = (ctx.now().astimezone() + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:00")
    return render_template("console/publish.html", rows=rows, history=history, schedules=waiting,
                           default_time=default_time, kinds=_kind_names(), shown=CHANGES_SHOWN)


CHANGES_SHOWN = 200  # per list on the overview; the group's own page lists every change


def _kind_names() -> dict[str, str]:
    from hub.console.items import KIND_NAMES

    return {**KIND_NAMES, "announcement": "公告/紧急通知"}


@bp.get("/publish/<feed_id>/changes")
@requires("publish")
def changes_page(feed_id: str) -> Any:
    """Every change the next version of a group brings, with the confirmation to publish it."""
    ctx = console()
    today = ctx.now().astimezone().date()
    with ctx.engine.begin() as conn:
        grp = next((x for x in groups(conn) if x.feed_id == feed_id), None)
        if grp is None:
            abort(404)
        p, what = plan(conn, feed_id, today), changes(conn, feed_id, today)
    return render_template("console/publish_changes.html", grp=grp, p=p, what=what, kinds=_kind_names())


@bp.get("/publish/<feed_id>/versions/<int:version>")
@requires("publish")
def version_page(feed_id: str, version: int) -> Any:
    """What one published version held, and what it added, changed and removed."""
    ctx = console()
    with ctx.engine.begin() as conn:
        row = conn.execute(sa.select(publications).where(publications.c.feed_id == feed_id,
                                                         publications.c.version == version)).first()
    if row is None:
        abort(404)
    contents = version_contents(ctx.home, feed_id, version)
    return render_template("console/publish_version.html", pub=row, contents=contents, kinds=_kind_names(),
                           shown=VERSION_ITEMS_SHOWN)


VERSION_ITEMS_SHOWN = 2000


@bp.post("/publish/groups")
@requires("publish")
def group_save() -> Any:
    ctx = console()
    feed_id = request.form.get("feed_id", "").strip()
    regions = [r for r in re.split(r"[,，\s]+", request.form.get("regions", "")) if r]
    stations = [s for s in re.split(r"[,，\s]+", request.form.get("stations", "")) if s]
    if not FEED_ID_RE.match(feed_id):
        flash("范围编号只能由字母、数字、点、下划线或连字符组成", "error")
        return redirect(url_for("console_publish.overview"))
    try:
        with ctx.engine.begin() as conn:
            save_group(conn, feed_id, request.form.get("title", "").strip()[:100], regions, stations, ctx.now_iso())
            audit("保存发布范围", feed_id, f"地区 {len(regions)} 个，驿站 {len(stations)} 个", conn=conn)
    except ValueError:
        flash("地区须为 6 位行政区划代码（或 * 表示全部），且地区和驿站至少填一项", "error")
        return redirect(url_for("console_publish.overview"))
    flash(f"发布范围 {feed_id} 已保存")
    return redirect(url_for("console_publish.overview"))


@bp.post("/publish/<feed_id>")
@requires("publish")
def publish_now(feed_id: str) -> Any:
    ctx = console()
    if request.form.get("confirm") != "yes":
        abort(400)
    try:
        the_plan, version = publish_group(ctx.engine, ctx.home, ctx.feeds_dir, feed_id, g.user.username, ctx.now(),
                                          expected=request.form.get("expected") or None)
    except PublishError as exc:
        flash(f"发布失败：{exc}", "error")
        return redirect(url_for("console_publish.overview"))
    audit("发布", feed_id, f"第 {version} 版：新增 {the_plan.added}，变更 {the_plan.changed}，下架 {the_plan.removed}")
    flash(f"已发布 {feed_id} 第 {version} 版（新增 {the_plan.added}，变更 {the_plan.changed}，下架 {the_plan.removed}），"
          "驿站下次同步即可收到")
    return redirect(url_for("console_publish.version_page", feed_id=feed_id, version=version))


@bp.post("/publish/<feed_id>/schedule")
@requires("publish")
def schedule(feed_id: str) -> Any:
    ctx = console()
    try:
        due = dt.datetime.fromisoformat(request.form.get("due_at", "")).astimezone()
    except ValueError:
        flash("请填写发布时间", "error")
        return redirect(url_for("console_publish.overview"))
    if due <= ctx.now():
        flash("定时发布的时间须晚于现在", "error")
        return redirect(url_for("console_publish.overview"))
    with ctx.engine.begin() as conn:
        if feed_id not in {grp.feed_id for grp in groups(conn)}:
            abort(404)
        conn.execute(schedules.insert().values(feed_id=feed_id, due_at=iso(due), by_user=g.user.username))
        audit("设置定时发布", feed_id, due.strftime("%Y-%m-%d %H:%M"), conn=conn)
    flash(f"已设置 {due.strftime('%Y-%m-%d %H:%M')} 定时发布 {feed_id}")
    return redirect(url_for("console_publish.overview"))


@bp.post("/publish/schedules/<int:schedule_id>/cancel")
@requires("publish")
def schedule_cancel(schedule_id: int) -> Any:
    ctx = console()
    with ctx.engine.begin() as conn:
        changed = conn.execute(schedules.update().where(schedules.c.id == schedule_id, schedules.c.state == "waiting")
                               .values(state="cancelled", result=f"{g.user.username} 取消")).rowcount
        if changed:
            audit("取消定时发布", str(schedule_id), conn=conn)
    flash("已取消定时发布" if changed else "该定时发布已执行或已取消")
    return redirect(url_for("console_publish.overview"))


@bp.route("/board", methods=["GET", "POST"])
@requires("publish")
def board() -> Any:
    """大屏节目单: a form of rows with a day's preview (hub/console/views_board.py)."""
    from hub.console.views_board import board_page

    return board_page()


# -- 信息审核 ---------------------------------------------------------------------------------
REVIEW_PER_PAGE = 50
REVIEW_CHUNK = 500  # items reviewed per transaction: SQLite's one writer is never held for long
URGENCY_NAMES = {"urgent": "紧急通知", "normal": "非紧急"}


def _review_filter() -> dict[str, str]:
    return {name: (request.values.get(name) or "").strip()[:64] for name in ("batch", "author", "kind", "urgency")}


def _urgent() -> Any:
    return sa.and_(items.c.kind == "announcement", items.c.data.contains(URGENT_MARK, autoescape=True))


def _review_where(f: dict[str, str]) -> list[Any]:
    from hub.console.items import KIND_NAMES

    where: list[Any] = [items.c.state == "pending"]
    if f["batch"].isdigit():  # a batch number past the INTEGER column's range matches no batch
        where.append(items.c.import_batch == int(f["batch"]) if len(f["batch"]) <= 9 else sa.false())
    if f["author"]:
        where.append(items.c.author == f["author"])
    if f["kind"] in KIND_NAMES:
        where.append(items.c.kind == f["kind"])
    if f["urgency"] == "urgent":
        where.append(_urgent())
    elif f["urgency"] == "normal":
        where.append(sa.not_(_urgent()))
    return where


@bp.get("/review")
@requires("content.review")
def review_list() -> Any:
    from hub.console.items import CHOICE_NAMES, FIELDS, KIND_NAMES
    from hub.console.views_content import page_args

    ctx = console()
    f = _review_filter()
    where = _review_where(f)
    page = page_args()
    count = sa.select(sa.func.count()).select_from(items)
    with ctx.engine.begin() as conn:
        total = conn.execute(count.where(*where)).scalar_one()
        own = conn.execute(count.where(*where, items.c.author == g.user.username)).scalar_one()
        last_id = conn.execute(sa.select(sa.func.max(items.c.id)).where(*where)).scalar() or 0
        rows = list(conn.execute(sa.select(items).where(*where)
                                 .order_by(sa.case((_urgent(), 0), else_=1), items.c.id)
                                 .limit(REVIEW_PER_PAGE).offset((page - 1) * REVIEW_PER_PAGE)))
        urgent_waiting = conn.execute(count.where(items.c.state == "pending", _urgent())).scalar_one()
        waiting = conn.execute(sa.select(items.c.import_batch, items.c.author, sa.func.count().label("n"))
                               .where(items.c.state == "pending")
                               .group_by(items.c.import_batch, items.c.author)).all()
        batch_ids = sorted({w.import_batch for w in waiting if w.import_batch is not None}, reverse=True)
        batch_rows = {b.id: b for b in conn.execute(sa.select(import_batches).where(import_batches.c.id.in_(batch_ids)))}
    batches = [(b, batch_rows.get(b), sum(w.n for w in waiting if w.import_batch == b)) for b in batch_ids]
    authors = sorted({w.author for w in waiting})
    parsed = [(r, json.loads(r.data), is_urgent(r)) for r in rows]
    args = {k: v for k, v in f.items() if v}
    return render_template("console/review.html", rows=parsed, total=total, own=own, last_id=last_id, page=page,
                           pages=max(1, math.ceil(total / REVIEW_PER_PAGE)), args=args, f=f, kinds=KIND_NAMES,
                           fields=FIELDS, choice_names=CHOICE_NAMES, batches=batches, authors=authors,
                           urgency_names=URGENCY_NAMES, urgent_waiting=urgent_waiting)


def _targets(decision: str, f: dict[str, str], reasons: dict[int, str]) -> list[int] | str:
    """The items a review decision covers, or why it covers none (a Chinese sentence)."""
    if decision not in ("approve-all", "reject-all"):
        ids = {int(i) for i in request.form.getlist("item") if i.isdigit()}
        return sorted(ids | reasons.keys()) or "请先勾选要审核的信息"
    try:
        last_id, expected = int(request.form.get("last_id", "")), int(request.form.get("expected", ""))
    except ValueError:
        return "整批审核缺少页面信息，请刷新后重试"
    with console().engine.begin() as conn:
        rows = conn.execute(sa.select(items.c.id, items.c.author).where(*_review_where(f), items.c.id <= last_id)
                            .order_by(items.c.id)).all()
    if len(rows) != expected:
        return f"筛选结果已有变化（打开页面时 {expected} 条，现在 {len(rows)} 条），请刷新后再整批审核"
    # The reviewer's own submissions stay for another reviewer (the page says so); they are not errors here.
    return [r.id for r in rows if r.author != g.user.username] or "筛选结果中没有可由您审核的信息"


@bp.post("/review")
@requires("content.review")
def review_action() -> Any:
    ctx = console()
    decision = request.form.get("decision", "")
    approve = decision in ("approve", "approve-all")
    reason = request.form.get("reason", "").strip()
    f = _review_filter()
    back = redirect(url_for("console_publish.review_list", **{k: v for k, v in f.items() if v}))
    # A reason typed on a row is that row's exception: it is returned with its own reason.
    reasons = {int(k[7:]): v.strip() for k, v in request.form.items()
               if k.startswith("reason-") and k[7:].isdigit() and v.strip()}
    targets = _targets(decision, f, reasons)
    if isinstance(targets, str):
        flash(targets, "error")
        return back
    if decision == "reject-all" and not reason:
        flash("整批退回须填写退回原因", "error")
        return back
    done = {"approved": 0, "rejected": 0}
    problems: list[str] = []
    urgent: list[int] = []
    for start in range(0, len(targets), REVIEW_CHUNK):
        with ctx.engine.begin() as conn:
            for item_id in targets[start:start + REVIEW_CHUNK]:
                yes = approve and item_id not in reasons
                row = _review_one(conn, item_id, yes, reasons.get(item_id, reason), problems)
                if row is None:
                    continue
                done["approved" if yes else "rejected"] += 1
                if yes and is_urgent(row):
                    urgent.append(item_id)
    scope = f"导入批次 {f['batch']}" if f["batch"].isdigit() else "所选信息"
    if decision.endswith("-all"):
        audit("整批审核", scope, f"通过 {done['approved']} 条，退回 {done['rejected']} 条")
    if any(done.values()):
        exceptions = f"（其中 {len(reasons)} 条按各自原因退回）" if reasons and approve else ""
        flash(f"通过 {done['approved']} 条，退回 {done['rejected']} 条{exceptions}" if done["approved"] and
              done["rejected"] else f"{'通过' if done['approved'] else '退回'} {max(done.values())} 条{exceptions}")
    if problems:
        flash("；".join(problems[:5]) + (f" 等 {len(problems)} 条未处理" if len(problems) > 5 else ""), "error")
    for item_id in urgent:
        _publish_urgent_now(item_id)
    return back


def _review_one(conn: Any, item_id: int, approve: bool, reason: str, problems: list[str]) -> Any:
    from hub.console.items import ReviewError, review

    try:
        row = review(conn, item_id, g.user.username, approve, reason, console().now_iso())
    except ReviewError as exc:
        problems.append(str(exc))
        return None
    audit("审核通过" if approve else "审核退回", f"{row.kind}:{row.record_id}", f"第 {row.version} 版", conn=conn)
    return row


def _publish_urgent_now(item_id: int) -> None:
    """An approved 紧急通知 goes out at once, alone; stations see it at their next urgent check."""
    ctx = console()
    try:
        version = publish_urgent(ctx.engine, ctx.home, ctx.feeds_dir, item_id, g.user.username, ctx.now())
    except (PublishError, ValueError, OSError) as exc:
        flash(f"紧急通知未能立即发布：{exc}；请到统一发布页发布", "error")
        return
    with ctx.engine.begin() as conn:
        row = conn.execute(sa.select(items.c.feed_id, items.c.record_id).where(items.c.id == item_id)).one()
    audit("紧急发布", row.feed_id, f"第 {version} 版：仅含紧急通知 {row.record_id}")
    from hub.console.names import feed_name

    flash(f"紧急通知已立即单独发布（{feed_name(row.feed_id)} 第 {version} 版），驿站将在一分钟内收到")
