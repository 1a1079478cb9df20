"""Console pages for content: lists, the record form, CSV/XLSX import, review, employers, videos.

Permissions: editors write (``content.edit``), reviewers review (``content.review``),
editors, reviewers and publishers read (``content.view``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from hub.console.core import audit, console, requires
from hub.console.items import (
    CHOICE_NAMES,
    FIELDS,
    KIND_NAMES,
    STATE_NAMES,
    ImportFileError,
    clean_form,
    describe_errors,
    import_rows,
    needs_position,
    place,
    read_table,
    rule_of,
    save_item,
    validate,
    withdraw,
)
from hub.console.publishing import MEDIA_DIR, groups
from hub.console.regions import region_name
from hub.console.schema import employers as employers_t
from hub.console.schema import import_batches, item_versions, items

bp = Blueprint("console_content", __name__)
PER_PAGE = 20
EMPLOYER_STATES = ("待核验", "已核验", "核验未通过")


MAX_PAGE = 100_000  # a bigger page number would overflow the database's OFFSET


def page_args() -> int:
    try:
        return min(max(1, int(request.args.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


def _kind_or_404(kind: str) -> str:
    if kind not in FIELDS:
        abort(404)
    return kind


@bp.get("/content/<kind>")
@requires("content.view")
def item_list(kind: str) -> Any:
    kind = _kind_or_404(kind)
    ctx = console()
    q, state, feed = request.args.get("q", "").strip(), request.args.get("state", ""), request.args.get("feed", "")
    employer = request.args.get("employer", "").strip()
    where = [items.c.kind == kind]
    if employer and kind == "job":  # an employer's jobs, from the 用人单位 page
        where.append(items.c.data.contains(_employer_needle(employer), autoescape=True))
    if q:
        where.append(sa.or_(items.c.title.contains(q, autoescape=True), items.c.record_id.contains(q, autoescape=True)))
    if state in STATE_NAMES:
        where.append(items.c.state == state)
    if feed:
        where.append(items.c.feed_id == feed)
    page = page_args()
    with ctx.engine.begin() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(items).where(*where)).scalar_one()
        rows = list(conn.execute(sa.select(items.c.id, items.c.record_id, items.c.title, items.c.feed_id, items.c.state,
                                           items.c.version, items.c.author, items.c.updated_at, items.c.reject_reason,
                                           items.c.live_digest, items.c.live_until)
                                 .where(*where).order_by(items.c.updated_at.desc(), items.c.id.desc())
                                 .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
        feeds = groups(conn)
    today = ctx.now().astimezone().date().isoformat()
    args = {"kind": kind, "q": q, "state": state, "feed": feed, **({"employer": employer} if employer else {})}
    return render_template("console/item_list.html", kind=kind, kind_name=KIND_NAMES[kind], rows=rows, total=total,
                           page=page, pages=max(1, math.ceil(total / PER_PAGE)), args=args, feeds=feeds,
                           states=STATE_NAMES, today=today)


@bp.route("/content/<kind>/new", methods=["GET", "POST"])
@requires("content.edit")
def item_new(kind: str) -> Any:
    return _item_form(_kind_or_404(kind), None)


@bp.route("/content/<kind>/<int:item_id>/edit", methods=["GET", "POST"])
@requires("content.edit")
def item_edit(kind: str, item_id: int) -> Any:
    return _item_form(_kind_or_404(kind), item_id)


def _item_form(kind: str, item_id: int | None) -> Any:
    ctx = console()
    with ctx.engine.begin() as conn:
        feeds = groups(conn)
        row = None
        if item_id is not None:
            row = conn.execute(sa.select(items).where(items.c.id == item_id, items.c.kind == kind)).first()
            if row is None:
                abort(404)
    values: dict[str, Any] = json.loads(row.data) if row else {}
    feed_id = row.feed_id if row else (feeds[0].feed_id if feeds else "")
    errors: dict[str, str] = {}
    notes: dict[str, str] = {}
    if request.method == "POST":
        feed_id = request.form.get("feed_id", "")
        form = {f.name: request.form.get(f.name, "") for f in FIELDS[kind]}
        if row is not None:
            form["id"] = row.record_id  # a record's id never changes
        values = clean_form(kind, form, errors, notes)
        geo = _place_from_address(kind, values, errors, notes, feeds, feed_id)
        if kind == "course":
            values, media_error = _course_media(values, row)
            if media_error:
                errors["media"] = media_error
        if feed_id not in {f.feed_id for f in feeds}:
            errors["feed_id"] = "请选择发布范围"
        record, model_errors = validate(kind, values, today=ctx.now().astimezone().date())
        for name, message in model_errors.items():
            errors.setdefault(name, message)
        if errors:
            record = None
            # what could not be used is shown again as typed, beside its reason
            values.update({name: form[name] for name in errors if name in form})
        if record is not None and not errors:
            with ctx.engine.begin() as conn:
                if row is None and conn.execute(sa.select(items.c.id).where(items.c.kind == kind,
                                                                            items.c.record_id == record.id)).first():
                    errors["id"] = "编号已存在"
                else:
                    outcome = save_item(conn, kind, record, feed_id, g.user.username, ctx.now_iso(), geo=geo)
                    audit({"created": "新增内容", "changed": "修改内容", "unchanged": "保存内容（无变化）"}[outcome],
                          f"{kind}:{record.id}", conn=conn)
            if not errors:
                flash("已保存，等待审核" if outcome != "unchanged" else "内容没有变化")
                return redirect(url_for("console_content.item_list", kind=kind))
        flash(f"有 {len(errors)} 处需要修改：{describe_errors(kind, errors)}", "error")
    for name in ("starts_at", "ends_at"):
        if isinstance(values.get(name), str) and len(values[name]) >= 16:
            with contextlib.suppress(ValueError):
                values[name] = dt.datetime.fromisoformat(values[name]).astimezone().strftime("%Y-%m-%d %H:%M")
    return _form_page(kind, {"values": values, "errors": errors, "row": row, "feeds": feeds, "feed_id": feed_id,
                             "notes": notes})


def _form_page(kind: str, parts: dict[str, Any]) -> Any:
    """The item form; a job's carries the map picker when tiles are configured, and this page
    alone may then load them from their servers."""
    tiles = (current_app.extensions.get("console_map_tiles") or []) if kind == "job" else []
    page = make_response(render_template(
        "console/item_form.html", kind=kind, kind_name=KIND_NAMES[kind], fields=FIELDS[kind], **parts,
        rules={f.name: rule_of(kind, f) for f in FIELDS[kind]}, choice_names=CHOICE_NAMES,
        map_tiles=tiles, map_centre=_map_centre(parts["feeds"], parts["feed_id"])), 400 if parts["errors"] else 200)
    if tiles:
        from hub.console import CONTENT_SECURITY_POLICY

        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "img-src 'self' data: blob:", "img-src 'self' data: blob: " + " ".join(_tile_origins(tiles)))
    return page


def _tile_origins(tiles: list[str]) -> list[str]:
    """The tile servers' origins for the page's img-src ({s} in a host stands for any server)."""
    from urllib.parse import urlsplit

    out = []
    for template in tiles:
        parts = urlsplit(template.replace("{s}", "SERVER"))
        host = parts.netloc.replace("tSERVER.", "*.").replace("SERVER", "*")
        out.append(f"{parts.scheme}://{host}")
    return list(dict.fromkeys(out))


def _map_centre(feeds: list[Any], feed_id: str) -> tuple[float, float]:
    """Where the map opens for a job without a position: the feed group's region's centre."""
    from hub.console.geocode import PROVINCE_CENTRES

    regions = [r for f in feeds if f.feed_id == feed_id for r in str(f.regions or "").split(",") if r.strip()]
    for region in regions:
        if region.strip()[:2] in PROVINCE_CENTRES:
            _name, lat, lon = PROVINCE_CENTRES[region.strip()[:2]]
            return lat, lon
    return PROVINCE_CENTRES["11"][1], PROVINCE_CENTRES["11"][2]


def _place_from_address(kind: str, values: dict[str, Any], errors: dict[str, str], notes: dict[str, str],
                        feeds: list[Any], feed_id: str) -> tuple[str, str] | None:
    """A job typed with an address and no coordinates: placed by the geocoder (or a flagged stand-in)."""
    if not needs_position(kind, values, errors):
        return None
    from hub.console.geocode import Resolver

    ctx = console()
    regions = [r for f in feeds if f.feed_id == feed_id for r in str(f.regions or "").split(",") if r]
    geo = place(Resolver(ctx.engine, current_app.extensions.get("console_geocoder"), regions, ctx.now_iso()), values)
    if geo is None:
        return None
    if geo[0] == "用人单位地址":
        notes["address"] = "按登记的用人单位地址填写"
    note = f"按工作地点定位（{geo[0]}）" if not geo[1] else f"{geo[1]}；已暂用{geo[0]}，请核对"
    notes["latitude"] = notes["longitude"] = note
    return geo


def _course_media(values: dict[str, Any], row: Any) -> tuple[dict[str, Any], str]:
    """A course's uploaded video: checked, thumbnail made; kept under HOME/console-media/<sha256>.<ext>."""
    from hub.console.media import MediaCheckError, prepare_video

    upload = request.files.get("video")
    if upload is None or not upload.filename:
        if row is not None:
            old = json.loads(row.data)
            return {**values, **{k: old[k] for k in ("media", "thumbnail", "duration_s") if k in old}}, ""
        return values, "请选择要上传的视频文件"
    media_dir = console().home / MEDIA_DIR
    media_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=media_dir) as tmp:
        raw = Path(tmp) / ("upload" + Path(upload.filename).suffix.lower()[:6])
        upload.save(raw)
        try:
            video = prepare_video(raw, Path(tmp))
        except MediaCheckError as exc:
            return values, str(exc)
        refs = {}
        for name, path, mime in (("media", video.video, "video/mp4"), ("thumbnail", video.thumbnail, "image/png")):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            ext = path.suffix.lstrip(".")
            shutil.move(str(path), media_dir / f"{digest}.{ext}")
            refs[name] = {"sha256": digest, "size": (media_dir / f"{digest}.{ext}").stat().st_size, "type": mime, "ext": ext}
    return {**values, **refs, "duration_s": video.duration_s}, ""


@bp.get("/content/<kind>/<int:item_id>")
@requires("content.view")
def item_detail(kind: str, item_id: int) -> Any:
    ctx = console()
    with ctx.engine.begin() as conn:
        row = conn.execute(sa.select(items).where(items.c.id == item_id, items.c.kind == kind)).first()
        if row is None:
            abort(404)
        versions = list(conn.execute(sa.select(item_versions).where(item_versions.c.item_id == item_id)
                                     .order_by(item_versions.c.version.desc())))
    return render_template("console/item_detail.html", kind=kind, kind_name=KIND_NAMES[kind], row=row,
                           data=json.loads(row.data), fields=FIELDS[kind], versions=versions, choice_names=CHOICE_NAMES)


@bp.post("/content/<kind>/<int:item_id>/withdraw")
@requires("content.edit")
def item_withdraw(kind: str, item_id: int) -> Any:
    ctx = console()
    with ctx.engine.begin() as conn:
        row = conn.execute(sa.select(items.c.record_id).where(items.c.id == item_id, items.c.kind == kind)).first()
        if row is None:
            abort(404)
        withdraw(conn, item_id, g.user.username, ctx.now_iso())
        audit("撤下内容", f"{kind}:{row.record_id}", conn=conn)
    flash(f"{row.record_id} 已撤下，下次发布时从驿站移除")
    return redirect(url_for("console_content.item_list", kind=kind))


@bp.route("/import", methods=["GET", "POST"])
@requires("content.edit")
def import_page() -> Any:
    ctx = console()
    report = None
    with ctx.engine.begin() as conn:
        feeds = groups(conn)
    if request.method == "POST":
        kind = request.form.get("kind", "job")
        feed_id = request.form.get("feed_id", "")
        upload = request.files.get("file")
        if kind not in ("job", "policy", "event", "announcement"):
            flash("请选择导入的信息类型", "error")
        elif feed_id not in {f.feed_id for f in feeds}:
            flash("请选择发布范围", "error")
        elif upload is None or not upload.filename:
            flash("请选择要导入的文件", "error")
        else:
            try:
                rows = read_table(upload.filename, upload.read())
            except ImportFileError as exc:
                flash(f"{upload.filename}：{exc}", "error")
            else:
                report = import_rows(ctx.engine, kind, feed_id, upload.filename, rows, g.user.username, ctx.now_iso(),
                                     ctx.now().astimezone().date(), current_app.extensions.get("console_geocoder"))
                audit("批量导入", f"导入批次 {report.batch_id}",
                      f"{KIND_NAMES[kind]}：共 {report.rows} 行，新增 {report.created}，更新 {report.changed}，"
                      f"未变 {report.unchanged}，拒收 {len(report.refused)}")
    with ctx.engine.begin() as conn:
        batches = list(conn.execute(sa.select(import_batches).order_by(import_batches.c.id.desc()).limit(10)))
        flagged = conn.execute(sa.select(sa.func.count()).select_from(items).where(
            items.c.kind == "job", items.c.geo_flag != "", items.c.state != "withdrawn")).scalar_one()
    return render_template("console/import.html", feeds=feeds, report=report, batches=batches, kinds=KIND_NAMES,
                           fields=FIELDS, flagged=flagged,
                           geocoder=current_app.extensions.get("console_geocoder") is not None), (
        200 if request.method == "GET" or report else 400)


@bp.post("/import/relocate")
@requires("content.edit")
def import_relocate() -> Any:
    """重新定位: the jobs flagged 位置待核实 asked again, once the geocoder answers."""
    from hub.console.items import relocate_flagged

    ctx = console()
    geocoder = current_app.extensions.get("console_geocoder")
    if geocoder is None:
        flash("没有配置地址解析服务（hub.toml 的 [geocoder]），无法重新定位", "error")
        return redirect(url_for("console_content.import_page"))
    placed, left = relocate_flagged(ctx.engine, geocoder, g.user.username, ctx.now_iso(), ctx.now().astimezone().date())
    audit("重新定位岗位", "位置待核实的岗位", f"定位 {placed} 个，仍待核实 {left} 个")
    flash(f"重新定位了 {placed} 个岗位，已进入待审核" + (f"；仍有 {left} 个位置待核实" if left else ""),
          "message" if placed or not left else "warning")
    return redirect(url_for("console_content.import_page"))


@bp.post("/employers")
@requires("content.edit")
def employer_add() -> Any:
    ctx = console()
    errors: dict[str, str] = {}
    form = {k: request.form.get(k, "").strip() for k in ("name", "uscc", "region", "contact", "address")}
    if not form["name"]:
        errors["name"] = "请填写单位名称"
    for key, label, limit in (("name", "单位名称", 100), ("contact", "联系人", 64), ("address", "单位地址", 200)):
        if len(form[key]) > limit:
            errors[key] = f"{label}最多 {limit} 字，现在有 {len(form[key])} 字"
    if form["region"] and region_name(form["region"]) == form["region"]:
        errors["region"] = f"所在地区代码须为 6 位行政区划代码（如 520103 即贵阳市云岩区），没有 {form['region'][:20]} 这个地区"
    try:
        form["uscc"] = uscc.validate(form["uscc"])
    except StdnumError:
        errors["uscc"] = "统一社会信用代码不正确（应为 18 位，末位校验码按 GB 32100 计算）"
    if not errors:
        with ctx.engine.begin() as conn:
            if conn.execute(sa.select(employers_t.c.id).where(employers_t.c.uscc == form["uscc"])).first():
                errors["uscc"] = "该统一社会信用代码已登记"
        if not errors:
            position = _employer_position(form)
            try:
                with ctx.engine.begin() as conn:
                    conn.execute(employers_t.insert().values(**form, **position, created_at=ctx.now_iso(),
                                                             updated_at=ctx.now_iso(), updated_by=g.user.username))
                    audit("新增用人单位", form["uscc"], conn=conn)
            except sa.exc.IntegrityError:  # added by someone else meanwhile
                flash("该统一社会信用代码已登记", "error")
                return _employers_page(form, {"uscc": "该统一社会信用代码已登记"}), 400
            placed = ""
            if position:
                placed = (f"；位置：{position['geo_precision']}" if not position["geo_flag"]
                          else f"；{position['geo_flag']}，已暂用{position['geo_precision']}")
            flash(f"已添加用人单位：{form['name']}（待核验）{placed}")
            return redirect(url_for("console_content.employers"))
    flash("；".join(errors.values()), "error")
    return _employers_page(form, errors), 400


@bp.get("/employers")
@requires("content.view")
def employers() -> Any:
    return _employers_page({}, {})


def _employers_page(form: dict[str, str], errors: dict[str, str]) -> Any:
    ctx = console()
    q, status = request.args.get("q", "").strip(), request.args.get("status", "")
    where = []
    if q:
        where.append(sa.or_(employers_t.c.name.contains(q, autoescape=True), employers_t.c.uscc.contains(q.upper())))
    if status in EMPLOYER_STATES:
        where.append(employers_t.c.status == status)
    page = page_args()
    with ctx.engine.begin() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(employers_t).where(*where)).scalar_one()
        rows = list(conn.execute(sa.select(employers_t).where(*where).order_by(employers_t.c.id.desc())
                                 .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
        jobs = {r.name: conn.execute(sa.select(sa.func.count()).select_from(items).where(
            items.c.kind == "job", items.c.data.contains(_employer_needle(r.name), autoescape=True))).scalar_one()
            for r in rows}
    return render_template("console/employers.html", rows=rows, total=total, page=page, form=form, errors=errors,
                           jobs=jobs,
                           pages=max(1, math.ceil(total / PER_PAGE)), args={"q": q, "status": status},
                           states=EMPLOYER_STATES, fmt=uscc.format)


@bp.post("/employers/<int:employer_id>/status")
@requires("content.review")
def employer_status(employer_id: int) -> Any:
    ctx = console()
    status = request.form.get("status", "")
    if status not in EMPLOYER_STATES:
        abort(400)
    with ctx.engine.begin() as conn:
        row = conn.execute(sa.select(employers_t.c.uscc).where(employers_t.c.id == employer_id)).first()
        if row is None:
            abort(404)
        conn.execute(employers_t.update().where(employers_t.c.id == employer_id).values(
            status=status, note=request.form.get("note", "")[:500], updated_at=ctx.now_iso(), updated_by=g.user.username))
        audit("核验用人单位", row.uscc, status, conn=conn)
    flash(f"已标记为「{status}」")
    return redirect(url_for("console_content.employers"))


def _employer_needle(name: str) -> str:
    """How a job's stored record (compact JSON) names its employer."""
    return f'"employer":{json.dumps(name, ensure_ascii=False)}'


def _employer_position(form: dict[str, str]) -> dict[str, Any]:
    """An employer's position from its address (as a job's), or nothing without an address."""
    if not form["address"]:
        return {}
    from hub.console.geocode import Resolver

    ctx = console()
    regions = [form["region"]] if form["region"] else []
    spot, flag = Resolver(ctx.engine, current_app.extensions.get("console_geocoder"), regions,
                          ctx.now_iso()).locate(form["address"], "")
    return {"latitude": round(spot.latitude, 6), "longitude": round(spot.longitude, 6),
            "geo_precision": spot.precision, "geo_flag": flag}
