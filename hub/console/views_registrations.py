"""Console pages for residents' registrations: a masked list with filters and follow-up, the full
view (only ``registrations.full``, and every full view is in the audit log), and the
hand-off page (export for the provincial system, acknowledgment that purges, retention purge).

Permissions: ``registrations.view`` for the masked list and follow-up, ``registrations.full``
for the unmasked view, ``registrations.export`` for exports and purges.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from common.privacy import mask_address, mask_id_number, mask_name, mask_phone
from hub.console import handoff
from hub.console.answers import answer_rows
from hub.console.core import audit, console, requires
from hub.console.hubdata import refresh, upload_payloads
from hub.console.names import person as person_name
from hub.console.schema import registrations
from hub.console.views_content import page_args
from hub.console.views_matching import count_service
from hub.push.queue import PushError, PushQueue, consent_state, load_mac_key
from hub.storage import REGISTRATION_KINDS

bp = Blueprint("console_regs", __name__)
PER_PAGE = 20
FOLLOW_UP = ("待跟进", "已联系", "已推荐", "已就业", "无需跟进")
NOTE_LIMIT = 500
# What a follow-up note must not carry (it leaves in the hand-off file): an ID number (18 or 15
# digits), a mobile number, a landline with its area code; digits read through spaces and dashes.
_PERSONAL = [(re.compile(r"(?<!\d)\d{17}[\dX](?![\dX])|(?<!\d)\d{15}(?!\d)"), "身份证号"),
             (re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)"), "手机号码"),
             (re.compile(r"(?<!\d)0\d{2,3}\d{7,8}(?!\d)"), "电话号码")]


def personal_data_in(text: str) -> str:
    """The kind of personal data a free text carries ("身份证号", "手机号码", "电话号码"), or ""."""
    digits = re.sub(r"(?<=[\dX])[\s\-－—]+(?=[\dX])", "", unicodedata.normalize("NFKC", text).upper())
    return next((name for pattern, name in _PERSONAL if pattern.search(digits)), "")


def note_error(note: str) -> str:
    """Why a follow-up note cannot be saved (Chinese), or ""."""
    if len(note) > NOTE_LIMIT:
        return f"跟进备注最多 {NOTE_LIMIT} 字，现在有 {len(note)} 字"
    found = personal_data_in(note)
    if found:
        return f"跟进备注里像是有{found}：备注会随交接文件导出，请不要填写身份证号、电话等个人信息"
    return ""


def receipt_code(text: str) -> str:
    """A receipt code as typed or read off the slip ("7010 8956", full-width digits): the stored form."""
    return re.sub(r"[\s\-－—]+", "", unicodedata.normalize("NFKC", text)).upper()


def _masked(person: dict[str, Any]) -> dict[str, str]:
    return {"name": mask_name(str(person.get("name", ""))), "id_number": mask_id_number(str(person.get("id_number", ""))),
            "phone": mask_phone(str(person.get("phone", ""))), "address": mask_address(str(person.get("address", ""))),
            "gender": str(person.get("gender", "")), "birth_date": str(person.get("birth_date", ""))[:4] + "年"
            if person.get("birth_date") else ""}


def applied_for(payload: dict[str, Any]) -> str:
    """``应聘：<岗位>，<用人单位>`` for a registration made from a job's page (我想应聘), else empty."""
    job = payload.get("job")
    if not isinstance(job, dict) or not job.get("title"):
        return ""
    return f"应聘：{job['title']}，{job.get('employer', '')}".rstrip("，")


def unverified(payload: dict[str, Any]) -> bool:
    """No ID card was read at the kiosk: the phone number is all the registrar has."""
    return payload.get("verified") is False


def _filters() -> tuple[dict[str, str], list[Any]]:
    args = {k: request.args.get(k, "").strip() for k in ("station", "kind", "status", "since", "until", "code")}
    where: list[Any] = []
    if args["station"]:
        where.append(registrations.c.station_id == args["station"])
    if args["kind"] in REGISTRATION_KINDS:
        where.append(registrations.c.reg_kind == args["kind"])
    if args["status"] in FOLLOW_UP:
        where.append(registrations.c.status == args["status"])
    if args["since"]:
        where.append(registrations.c.received_at >= args["since"])
    if args["until"]:
        where.append(registrations.c.received_at < args["until"] + "T99")
    if args["code"]:
        where.append(registrations.c.code == receipt_code(args["code"]))
    return args, where


@bp.get("/registrations")
@requires("registrations.view")
def reg_list() -> Any:
    ctx = console()
    refresh(ctx.engine, ctx.vault)
    args, where = _filters()
    page = page_args()
    with ctx.engine.begin() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(registrations).where(*where)).scalar_one()
        rows = list(conn.execute(sa.select(registrations).where(*where)
                                 .order_by(registrations.c.received_at.desc(), registrations.c.upload_id.desc())
                                 .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
        payloads = upload_payloads(conn, [r.upload_id for r in rows if not r.purged_at], ctx.vault)
    shown = []
    for r in rows:
        p = payloads.get(r.upload_id, {})
        person = p.get("person") if isinstance(p.get("person"), dict) else {}
        shown.append((r, _masked(person) if person else None, applied_for(p), unverified(p)))
    return render_template("console/registrations.html", rows=shown, total=total, page=page, args=args,
                           pages=max(1, math.ceil(total / PER_PAGE)), kinds=REGISTRATION_KINDS, statuses=FOLLOW_UP)


@bp.get("/registrations/<int:upload_id>")
@requires("registrations.view")
def reg_detail(upload_id: int) -> Any:
    return _detail_page(upload_id, request.args.get("full") == "1")


def _detail_page(upload_id: int, full: bool, refused: dict[str, str] | None = None) -> Any:
    """The registration's page; ``refused``: a follow-up that was not saved (status, note, error)."""
    ctx = console()
    if full and not g.user.can("registrations.full"):
        abort(403)
    refresh(ctx.engine, ctx.vault)
    with ctx.engine.begin() as conn:
        row = conn.execute(sa.select(registrations).where(registrations.c.upload_id == upload_id)).first()
        if row is None:
            abort(404)
        payload = upload_payloads(conn, [upload_id], ctx.vault).get(upload_id, {})
    person = payload.get("person") if isinstance(payload.get("person"), dict) else {}
    answers = payload.get("answers") if isinstance(payload.get("answers"), dict) else {}
    if full and person:
        audit("查看登记完整信息", f"登记 {row.code}", f"驿站 {row.station_id}")
    shown = {k: str(v) for k, v in person.items()} if full else (_masked(person) if person else {})
    sms = "未同意" if row.purged_at else consent_state(ctx.engine, upload_id, payload)
    return render_template("console/registration.html", r=row, person=shown, answers=answer_rows(answers), full=full,
                           applied=applied_for(payload), unverified=unverified(payload), sms=sms,
                           statuses=FOLLOW_UP, refused=refused or {}, note_limit=NOTE_LIMIT,
                           updated_by=person_name(row.updated_by)), (400 if refused else 200)


@bp.post("/registrations/<int:upload_id>/follow-up")
@requires("registrations.view")
def reg_follow_up(upload_id: int) -> Any:
    ctx = console()
    status = request.form.get("status", "")
    if status not in FOLLOW_UP:
        abort(400)
    note = request.form.get("note", "").strip()
    error = note_error(note)
    if error:
        return _detail_page(upload_id, False, {"status": status, "note": note, "error": error})
    refresh(ctx.engine, ctx.vault)
    with ctx.engine.begin() as conn:
        row = conn.execute(sa.select(registrations.c.code, registrations.c.status, registrations.c.station_id)
                           .where(registrations.c.upload_id == upload_id)).first()
        if row is None:
            abort(404)
        conn.execute(registrations.update().where(registrations.c.upload_id == upload_id).values(
            status=status, note=note, updated_at=ctx.now_iso(), updated_by=g.user.username))
        if status == "已就业" and row.status != "已就业":  # 就业人数 of the 服务成效表
            count_service(conn, row.station_id, ctx.now(), "employed")
        audit("登记跟进", f"登记 {row.code}", status, conn=conn)
    flash(f"登记 {row.code} 已标记为「{status}」")
    return redirect(request.form.get("back") if (request.form.get("back") or "").startswith("/console/")
                    else url_for("console_regs.reg_detail", upload_id=upload_id))


@bp.post("/registrations/<int:upload_id>/sms-stop")
@requires("registrations.view")
def reg_sms_stop(upload_id: int) -> Any:
    """退订 at the registrar's desk: the resident's number gets no push any more, from any registration."""
    from flask import current_app

    ctx = console()
    with ctx.engine.connect() as conn:
        code = conn.execute(sa.select(registrations.c.code).where(registrations.c.upload_id == upload_id)).scalar()
    if code is None:
        abort(404)
    push = PushQueue(current_app.extensions["hub_store"], load_mac_key(ctx.home))
    push.subscribe_new(ctx.now())
    try:
        dropped = push.stop_registration(upload_id, "registrar", ctx.now())
    except PushError as exc:
        flash(str(exc))
    else:
        audit("短信推送退订", f"登记 {code}", f"撤下待发 {dropped} 条")
        flash(f"登记 {code} 的手机号已退订短信推送，撤下待发 {dropped} 条")
    return redirect(url_for("console_regs.reg_detail", upload_id=upload_id))


@bp.get("/registrations/handoff")
@requires("registrations.export")
def export_page() -> Any:
    ctx = console()
    refresh(ctx.engine, ctx.vault)
    with ctx.engine.begin() as conn:
        waiting = conn.execute(sa.select(sa.func.count()).select_from(registrations).where(
            registrations.c.handoff_id.is_(None), registrations.c.purged_at.is_(None))).scalar_one()
        unacked = conn.execute(sa.select(sa.func.count()).select_from(registrations).where(
            registrations.c.handoff_id.is_not(None), registrations.c.purged_at.is_(None))).scalar_one()
    return render_template("console/handoff.html", waiting=waiting, unacked=unacked, batches=handoff.batches(ctx.engine),
                           retention=ctx.retention_days)


@bp.post("/registrations/handoff/export")
@requires("registrations.export")
def export_file() -> Any:
    ctx = console()
    fmt = request.form.get("format", "xlsx")
    try:
        result = handoff.export(ctx.engine, fmt, g.user.username, ctx.now(), vault=ctx.vault, address=_address())
    except handoff.HandoffError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console_regs.export_page"))
    mimetype = {"csv": "text/csv; charset=utf-8", "json": "application/json",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[fmt]
    return Response(result.data, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={result.file_name}", "Cache-Control": "no-store"})


@bp.post("/registrations/handoff/<int:handoff_id>/ack")
@requires("registrations.export")
def export_ack(handoff_id: int) -> Any:
    ctx = console()
    try:
        purged = handoff.ack(ctx.engine, handoff_id, g.user.username, ctx.now(), address=_address())
    except handoff.HandoffError as exc:
        flash(str(exc), "error")
    else:
        flash(f"交接批次 {handoff_id} 已确认，清除了 {purged} 条登记的个人信息")
    return redirect(url_for("console_regs.export_page"))


@bp.post("/registrations/handoff/purge")
@requires("registrations.export")
def export_purge() -> Any:
    ctx = console()
    purged = handoff.purge_expired(ctx.engine, ctx.retention_days, g.user.username, ctx.now(), vault=ctx.vault,
                                   address=_address())
    flash(f"已清除 {purged} 条超过 {ctx.retention_days} 天的登记个人信息")
    return redirect(url_for("console_regs.export_page"))


def _address() -> str:
    """The browser's address, as the audit log records a page's own actions."""
    return (request.remote_addr or "")[:64]
