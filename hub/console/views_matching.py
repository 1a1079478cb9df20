"""人岗匹配 in the console: 推荐岗位 for a registration, 匹配人员 for a job, the week's new jobs
with how many open registrations each fits (新岗位匹配), and 已推荐 in one click.

The rules are :mod:`hub.matching`'s; the jobs are those the last publication of each feed
carried (``console_published_items``), the registrations those still open (not purged, not
已就业 or 无需跟进) of the kinds matched. The registering station's place comes from the
published phone pages' station index (:func:`hub.mobile.pages.station_index`).

Permissions: ``registrations.view`` for both lists and for marking 已推荐 (as for follow-up).
Names are shown masked, as in the registrations list.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from common.privacy import mask_name
from hub.console.core import audit, console, requires
from hub.console.hubdata import ALL_STATIONS, refresh, upload_payloads
from hub.console.schema import items, published_items, registrations, service_counts
from hub.matching import (
    MATCHED_KINDS,
    MatchError,
    Seeker,
    match_publication,
    matching_people,
    recommend,
    seeker_from,
)
from hub.mobile.pages import station_index
from protocol.model import Job

bp = Blueprint("console_match", __name__, template_folder="templates")

CLOSED = ("已就业", "无需跟进")
RECOMMEND_LIMIT = 10
NEW_DAYS = 7  # 新岗位: published within the last week


def count_service(conn: Any, station_id: str, at: dt.datetime, metric: str) -> None:
    """Add one to a station's service count of the month of ``at`` (local time) and to the
    all-stations total: 推荐人次 (``recommended``) and 就业人数 (``employed``) of the 服务成效表."""
    month = at.astimezone().strftime("%Y-%m")
    c = service_counts
    for station in (station_id, ALL_STATIONS):
        key = (c.c.station_id == station, c.c.month == month, c.c.metric == metric)
        if conn.execute(c.update().where(*key).values(n=c.c.n + 1)).rowcount:
            continue
        try:
            with conn.begin_nested():
                conn.execute(c.insert().values(station_id=station, month=month, metric=metric, n=1))
        except sa.exc.IntegrityError:  # another worker counted it first
            conn.execute(c.update().where(*key).values(n=c.c.n + 1))


def _today() -> dt.date:
    return console().now().astimezone().date()


def published_jobs(conn: Any) -> list[Job]:
    """The jobs of every feed's last publication (each job once)."""
    keys = {row.item_key.split(":", 1)[1] for row in conn.execute(
        sa.select(published_items.c.item_key).where(published_items.c.item_key.like("job:%")))}
    jobs: dict[str, Job] = {}
    if not keys:
        return []
    query = sa.select(items.c.record_id, items.c.live_data).where(items.c.kind == "job", items.c.live_data.is_not(None))
    for row in conn.execute(query):
        if row.record_id in keys and row.record_id not in jobs:
            jobs[row.record_id] = Job.model_validate_json(row.live_data)
    return list(jobs.values())


def _origin(station_id: str) -> tuple[float, float] | None:
    entry = station_index(console().feeds_dir).get(station_id)
    try:
        return (float(entry["latitude"]), float(entry["longitude"])) if entry else None
    except (KeyError, TypeError, ValueError):
        return None


def _seeker(row: Any, payload: dict[str, Any], today: dt.date) -> Seeker:
    return seeker_from(row.upload_id, {**payload, "kind": row.reg_kind}, today=today, origin=_origin(row.station_id))


@bp.get("/registrations/<int:upload_id>/jobs")
@requires("registrations.view")
def reg_jobs(upload_id: int) -> Any:
    ctx = console()
    refresh(ctx.engine, ctx.vault)
    today = _today()
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(registrations).where(registrations.c.upload_id == upload_id)).first()
        if row is None:
            abort(404)
        payload = {} if row.purged_at else upload_payloads(conn, [upload_id], ctx.vault).get(upload_id, {})
        jobs = published_jobs(conn)
    problem = ""
    matches: list[Any] = []
    if row.purged_at:
        problem = "个人信息已清除的登记不再匹配岗位。"
    else:
        try:
            matches = recommend(_seeker(row, payload, today), jobs, today, limit=RECOMMEND_LIMIT)
        except MatchError as exc:
            problem = str(exc)
    return render_template("console/match_jobs.html", r=row, matches=matches, problem=problem,
                           located=_origin(row.station_id) is not None)


def _open_seekers(conn: Any, ctx: Any, today: dt.date) -> tuple[list[Seeker], dict[int, Any]]:
    rows = list(conn.execute(sa.select(registrations).where(
        registrations.c.purged_at.is_(None), registrations.c.reg_kind.in_(MATCHED_KINDS),
        registrations.c.status.not_in(CLOSED))))
    payloads = upload_payloads(conn, [r.upload_id for r in rows], ctx.vault)
    seekers = []
    for row in rows:
        try:
            seekers.append(_seeker(row, payloads.get(row.upload_id, {}), today))
        except MatchError:
            continue
    return seekers, payloads


@bp.get("/matching")
@requires("registrations.view")
def new_jobs() -> Any:
    """新岗位的匹配人员: each job published in the last week with how many open registrations it fits."""
    ctx = console()
    refresh(ctx.engine, ctx.vault)
    today = _today()
    with ctx.engine.connect() as conn:
        fresh = [j for j in published_jobs(conn) if j.published >= today - dt.timedelta(days=NEW_DAYS)]
        seekers, _payloads = _open_seekers(conn, ctx, today)
    found = match_publication(fresh, seekers, today)
    listed = sorted(((job, len(found.get(job.id, []))) for job in fresh if job.is_open(today)),
                    key=lambda pair: (-pair[1], -pair[0].published.toordinal(), pair[0].id))
    return render_template("console/match_new.html", listed=listed, days=NEW_DAYS)


@bp.get("/jobs/<record_id>/people")
@requires("registrations.view")
def job_people(record_id: str) -> Any:
    ctx = console()
    refresh(ctx.engine, ctx.vault)
    today = _today()
    with ctx.engine.connect() as conn:
        job = next((j for j in published_jobs(conn) if j.id == record_id), None)
        if job is None:
            abort(404, description="这个岗位不在已发布的内容里")
        seekers, payloads = _open_seekers(conn, ctx, today)
        rows = {r.upload_id: r for r in conn.execute(sa.select(registrations).where(
            registrations.c.upload_id.in_([seeker.key for seeker in seekers])))} if seekers else {}
    people = []
    for seeker, distance in matching_people(job, seekers, today):
        row = rows[seeker.key]
        person = payloads.get(row.upload_id, {}).get("person") or {}
        people.append({"r": row, "name": mask_name(str(person.get("name", ""))), "distance": distance})
    return render_template("console/match_people.html", job=job, people=people)


@bp.post("/registrations/<int:upload_id>/recommend")
@requires("registrations.view")
def reg_recommend(upload_id: int) -> Any:
    """已推荐 in one click: the registration's follow-up becomes 已推荐, the job named in the note."""
    ctx = console()
    job_id = request.form.get("job", "")
    with ctx.engine.begin() as conn:
        job = next((j for j in published_jobs(conn) if j.id == job_id), None)
        row = conn.execute(sa.select(registrations.c.code, registrations.c.note, registrations.c.purged_at,
                                     registrations.c.station_id).where(registrations.c.upload_id == upload_id)).first()
        if row is None or job is None:
            abort(404)
        if row.purged_at:
            abort(409, description="个人信息已清除的登记不能再推荐岗位")
        line = f"推荐岗位：{job.title}（{job.employer}）"
        note = row.note if line in row.note else (f"{row.note}\n{line}" if row.note else line)
        if line not in row.note:  # one 推荐人次 per job recommended to a registration
            count_service(conn, row.station_id, ctx.now(), "recommended")
        conn.execute(registrations.update().where(registrations.c.upload_id == upload_id).values(
            status="已推荐", note=note[:500], updated_at=ctx.now_iso(), updated_by=g.user.username))
        audit("登记跟进", f"登记 {row.code}", f"已推荐 {job.id}", conn=conn)
    flash(f"登记 {row.code} 已标记为「已推荐」：{job.title}")
    back = request.form.get("back") or ""
    return redirect(back if back.startswith("/console/") and not back.startswith("//")
                    else url_for("console_match.reg_jobs", upload_id=upload_id))
