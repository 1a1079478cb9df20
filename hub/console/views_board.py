"""The 大屏节目单 page: the board schedule of a feed group as a form of rows (节目, 标题, 时长,
时段) with the board's 开机时段 and a preview of a day's running order; saving writes the
group's ``board_schedule`` document, which the next publication carries to the stations.
The route (and its permission, ``publish``) is ``console_publish.board``; this is its page."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from hub.console.board_form import (
    DURATION_RULE,
    KINDS,
    WEEKDAYS,
    WINDOW_RULE,
    BoardFormError,
    Row,
    day_preview,
    document_of,
    rows_of,
)
from hub.console.core import audit, console
from hub.console.publishing import documents_of, groups, save_document

BLANK_ROWS = 3  # empty rows under the schedule for new segments


def _posted_rows(previous: list[Row]) -> list[Row]:
    """The form's rows in the order of their 顺序 numbers; each keeps the stored segment's hidden
    settings (id, paging) when it is still the same kind of segment."""
    count = request.form.get("row_count", "")
    rows = []
    for index in range(min(int(count), 200) if count.isdigit() else 0):
        got = {name: request.form.get(f"{name}-{index}", "") for name in ("kind", "title", "seconds", "when", "order")}
        origin = previous[index] if index < len(previous) else None
        extra = dict(origin.extra) if origin is not None and origin.kind == got["kind"] else {}
        order = got["order"].strip()
        rank = float(order) if order.replace(".", "", 1).isdigit() else float(index + 1)
        rows.append((rank, index, Row(got["kind"], got["title"], got["seconds"], got["when"], extra)))
    return [row for _rank, _index, row in sorted(rows, key=lambda r: (r[0], r[1]))]


def board_page() -> Any:
    ctx = console()
    with ctx.engine.begin() as conn:
        feeds = groups(conn)
    feed_id = request.values.get("feed", feeds[0].feed_id if feeds else "")
    if feeds and feed_id not in {f.feed_id for f in feeds}:
        abort(404)
    stored = documents_of(ctx.home, feed_id).get("board_schedule") if feed_id else None
    stored = stored if isinstance(stored, dict) else None
    rows, on_hours = rows_of(stored)
    errors: dict[str, str] = {}
    document = stored
    weekday = request.values.get("day", "")
    weekday_n = int(weekday) if weekday in {"1", "2", "3", "4", "5", "6", "7"} else ctx.now().astimezone().isoweekday()
    if request.method == "POST" and feed_id:
        rows, on_hours = _posted_rows(rows), request.form.get("on_hours", "")
        try:
            document = document_of(rows, on_hours, stored)
        except BoardFormError as exc:
            errors, document = exc.errors, None
            flash(f"节目单有 {len(errors)} 处需要修改，未保存", "error")
        else:
            if request.form.get("action") == "save":
                save_document(ctx.home, feed_id, "board_schedule", document)
                audit("保存大屏节目单", feed_id, f"{len(document['segments'])} 个节目")
                flash("节目单已保存，下次发布时送达驿站大屏")
                return redirect(url_for("console_publish.board", feed=feed_id, day=weekday_n))
            rows, on_hours = rows_of(document)  # previewed: shown back as understood
    while rows and not (rows[-1].kind or rows[-1].title.strip() or rows[-1].seconds.strip() or rows[-1].when.strip()):
        rows = rows[:-1]  # the blank rows a refused form came with: fresh ones follow
    return render_template("console/board.html", feeds=feeds, feed_id=feed_id, rows=rows + [Row()] * BLANK_ROWS,
                           on_hours=on_hours, errors=errors, kinds=KINDS, weekdays=WEEKDAYS, weekday=weekday_n,
                           preview=day_preview(document, weekday_n) if document and document.get("segments") else [],
                           duration_rule=DURATION_RULE, window_rule=WINDOW_RULE, stored=stored is not None,
                           text=json.dumps(document, ensure_ascii=False, indent=2) if document else ""), (
                               400 if errors else 200)
