"""Console pages for publishing: feed groups with their pending changes, publish now or at a time,
the history of versions, and each group's board schedule. Permission: ``publish``."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from hub.console.core import audit, console, iso, requires
from hub.console.publishing import (
    documents_of,
    groups,
    plan,
    publish_group,
    save_document,
    save_group,
)
from hub.console.schema import publications, schedules
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
        rows = [(grp, plan(conn, grp.feed_id, today)) for grp in groups(conn)]
        history = list(conn.execute(sa.select(publications).order_by(publications.c.id.desc()).limit(15)))
        waiting = list(conn.execute(sa.select(schedules).order_by(schedules.c.id.desc()).limit(10)))
    for grp, p in rows:
        # A feed may also have been published from a folder (yizhan hub publish): its manifest tells.
        p.last_version = max(p.last_version, on_disk.get(grp.feed_id, (0,))[0])
    default_time = (ctx.now().astimezone() + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:00")
    return render_template("console/publish.html", rows=rows, history=history, schedules=waiting,
                           default_time=default_time)


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
        the_plan, version = publish_group(ctx.engine, ctx.home, ctx.feeds_dir, feed_id, g.user.username, ctx.now())
    except PublishError as exc:
        flash(f"发布失败：{exc}", "error")
        return redirect(url_for("console_publish.overview"))
    audit("发布", feed_id, f"第 {version} 版：新增 {the_plan.added}，变更 {the_plan.changed}，下架 {the_plan.removed}")
    flash(f"已发布 {feed_id} 第 {version} 版（新增 {the_plan.added}，变更 {the_plan.changed}，下架 {the_plan.removed}），"
          "驿站下次同步即可收到")
    return redirect(url_for("console_publish.overview"))


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
    ctx = console()
    with ctx.engine.begin() as conn:
        feeds = groups(conn)
    feed_id = request.values.get("feed", feeds[0].feed_id if feeds else "")
    if feeds and feed_id not in {f.feed_id for f in feeds}:
        abort(404)
    text = ""
    if request.method == "POST":
        text = request.form.get("schedule", "")
        try:
            document = json.loads(text)
            if not isinstance(document, dict):
                raise ValueError
        except ValueError:
            flash("节目单须为 JSON 对象（格式见 content/PROTOCOL.md 的 board_schedule）", "error")
        else:
            save_document(ctx.home, feed_id, "board_schedule", document)
            audit("保存大屏节目单", feed_id)
            flash("节目单已保存，下次发布时生效")
            return redirect(url_for("console_publish.board", feed=feed_id))
    elif feed_id:
        document = documents_of(ctx.home, feed_id).get("board_schedule")
        text = json.dumps(document, ensure_ascii=False, indent=2) if document is not None else ""
    return render_template("console/board.html", feeds=feeds, feed_id=feed_id, text=text)
