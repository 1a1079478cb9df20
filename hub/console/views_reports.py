"""Console pages for the 服务台账 (per station, per month) and the 服务成效表 (per month, all
stations or one), with charts (Chart.js, vendored in ``static/``) and XLSX downloads laid
out like a bureau's own tables (openpyxl). Permission: ``reports.view`` (every role).
"""

from __future__ import annotations

import datetime as dt
import io
import math
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, g, render_template, request

from common.cells import safe_row
from hub.console.core import console, requires
from hub.console.hubdata import ALL_STATIONS, refresh, stations_t
from hub.console.names import station_name
from hub.console.schema import service_counts
from hub.console.sheets import fit_columns, print_ready, signed_line
from hub.console.views_content import page_args

bp = Blueprint("console_reports", __name__)
PER_PAGE = 30
METRICS = [("uses", "一体机服务人次"), ("views", "信息浏览"), ("card_reads", "读卡次数"), ("searches", "岗位查询"),
           ("slips", "打印单据"), ("reg:求职", "求职登记"), ("reg:培训需求", "培训需求登记"), ("reg:返乡", "返乡登记"),
           ("reg:零工", "零工登记"), ("videos", "视频播放"), ("board_plays", "大屏播放"),
           ("recommended", "推荐人次"), ("employed", "就业人数")]  # the last two from follow-ups (views_matching)
REG_METRICS = [m for m, _ in METRICS if m.startswith("reg:")]


def _month_arg(ctx: Any) -> str:
    month = request.args.get("month", "")
    try:
        dt.datetime.strptime(month, "%Y-%m")
        return month
    except ValueError:
        this_month: str = ctx.now().astimezone().strftime("%Y-%m")
        return this_month


def _first_month(ctx: Any) -> str:
    """The month of the hub's first service data (this month on a new hub)."""
    with ctx.engine.begin() as conn:
        first = conn.execute(sa.select(sa.func.min(service_counts.c.month))).scalar()
    this_month: str = ctx.now().astimezone().strftime("%Y-%m")
    return min(str(first), this_month) if first else this_month


def _choices(ctx: Any) -> list[str]:
    """The months to choose from, newest first: from the hub's first data to this month (at most 3 years)."""
    first = _first_month(ctx)
    return [m for m in _months_back(ctx.now().astimezone().strftime("%Y-%m"), 36) if m >= first][::-1]


def _months_back(month: str, n: int) -> list[str]:
    y, m = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def _ledger_where(month: str, station: str) -> list[Any]:
    where = [service_counts.c.month == month, service_counts.c.station_id != ALL_STATIONS]
    if station:
        where.append(service_counts.c.station_id.contains(station, autoescape=True))
    return where


def ledger_rows(month: str, station: str = "", *, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """One row per station for the month, pivoted in SQL (portable CASE) so a page reads 30 rows."""
    ctx = console()
    c = service_counts.c
    columns = [sa.func.sum(sa.case((c.metric == key, c.n), else_=0)).label(f"m{i}") for i, (key, _) in enumerate(METRICS)]
    q = (sa.select(c.station_id, *columns).where(*_ledger_where(month, station)).group_by(c.station_id)
         .order_by(c.station_id))
    if limit is not None:
        q = q.limit(limit).offset(offset)
    with ctx.engine.begin() as conn:
        found = list(conn.execute(q))
        ids = [r.station_id for r in found]
        names: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            names.update(conn.execute(sa.select(stations_t.c.id, stations_t.c.name)
                                      .where(stations_t.c.id.in_(ids[start:start + 500]))).tuples().all())
    rows = []
    for r in found:
        values = {key: int(getattr(r, f"m{i}") or 0) for i, (key, _) in enumerate(METRICS)}
        rows.append({"station_id": r.station_id, "name": names.get(r.station_id, ""), **values,
                     "reg_total": sum(values[k] for k in REG_METRICS)})
    return rows


def _ledger_totals(month: str, station: str) -> tuple[int, dict[str, int]]:
    c = service_counts.c
    with console().engine.begin() as conn:
        count = conn.execute(sa.select(sa.func.count(sa.distinct(c.station_id)))
                             .where(*_ledger_where(month, station))).scalar_one()
        sums = dict(conn.execute(sa.select(c.metric, sa.func.sum(c.n)).where(*_ledger_where(month, station))
                                 .group_by(c.metric)).tuples().all())
    totals = {k: int(sums.get(k, 0) or 0) for k, _ in METRICS}
    totals["reg_total"] = sum(totals[k] for k in REG_METRICS)
    return count, totals


@bp.get("/reports/ledger")
@requires("reports.view")
def ledger() -> Any:
    ctx = console()
    refresh(ctx.engine, ctx.vault)
    month, station = _month_arg(ctx), request.args.get("station", "").strip()
    count, totals = _ledger_totals(month, station)
    if request.args.get("format") == "xlsx":
        return _xlsx_response(_ledger_xlsx(month, ledger_rows(month, station), totals, _signed(ctx)),
                              f"服务台账-{month}.xlsx")
    page = page_args()
    shown = ledger_rows(month, station, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template("console/ledger.html", month_choices=_choices(ctx), rows=shown, totals=totals, month=month,
                           metrics=METRICS, total=count, page=page, pages=max(1, math.ceil(count / PER_PAGE)),
                           args={"month": month, "station": station})


def results_series(end_month: str, station: str = "", months: int = 12, first: str = "") -> dict[str, Any]:
    """Up to ``months`` months ending with ``end_month``, none before ``first`` (the hub's first data)."""
    ctx = console()
    span = [m for m in _months_back(end_month, months) if m >= first] or [end_month]
    where = [service_counts.c.month >= span[0], service_counts.c.month <= span[-1],
             service_counts.c.station_id == (station or ALL_STATIONS)]
    series: dict[str, dict[str, int]] = {m: {} for m in span}
    with ctx.engine.begin() as conn:
        for r in conn.execute(sa.select(service_counts.c.month, service_counts.c.metric,
                                        sa.func.sum(service_counts.c.n).label("n"))
                              .where(*where).group_by(service_counts.c.month, service_counts.c.metric)):
            series[r.month][r.metric] = int(r.n)
        active = conn.execute(sa.select(sa.func.count(sa.distinct(service_counts.c.station_id)))
                              .where(service_counts.c.month == end_month,
                                     service_counts.c.station_id != ALL_STATIONS)).scalar_one()
    return {"months": span, "series": series, "active": active}


@bp.get("/reports/results")
@requires("reports.view")
def results() -> Any:
    ctx = console()
    refresh(ctx.engine, ctx.vault)
    month, station = _month_arg(ctx), request.args.get("station", "").strip()
    data = results_series(month, station, first=_first_month(ctx))
    table = [{"month": m, **{k: data["series"][m].get(k, 0) for k, _ in METRICS},
              "reg_total": sum(data["series"][m].get(k, 0) for k in REG_METRICS)} for m in data["months"]]
    if request.args.get("format") == "xlsx":
        return _xlsx_response(_results_xlsx(month, station, table, _signed(ctx)), f"服务成效表-{month}.xlsx")
    current = table[-1]
    previous = table[-2] if len(table) > 1 else {k: 0 for k in current}
    chart = {"labels": [m[2:].replace("-", "年") + "月" for m in data["months"]],
             "visits": [r["uses"] for r in table], "registrations": [r["reg_total"] for r in table],
             "slips": [r["slips"] for r in table], "plays": [r["board_plays"] + r["videos"] for r in table],
             "kinds": [current[k] for k in REG_METRICS], "kind_labels": [k[4:] for k in REG_METRICS]}
    return render_template("console/results.html", month_choices=_choices(ctx), table=table, month=month, station=station, metrics=METRICS,
                           current=current, previous=previous, chart=chart, active=data["active"])


def _xlsx_response(data: bytes, name: str) -> Response:
    from urllib.parse import quote

    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


def _signed(ctx: Any) -> tuple[str, str]:
    """(填报人, 日期): who downloads the table, and today by the hub's clock."""
    day = ctx.now().astimezone().date()
    return g.user.display_name or g.user.username, f"{day.year}年{day.month}月{day.day}日"


def _sheet(title: str, subtitle: str, headers: list[str], rows: list[list[Any]], total: list[Any] | None,
           signed: tuple[str, str] = ("", "")) -> bytes:
    """A bureau-style table: a merged title row, a subtitle row, bold bordered headers, a total row,
    the 填报人/审核人/日期 line under it; printed A4 landscape on one page's width."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    width = len(headers)
    ws.append(safe_row([title]))
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(safe_row([subtitle]))
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    ws["A2"].alignment = Alignment(horizontal="right")
    ws.append(safe_row(headers))
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for cell in ws[3]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DCE6F1")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        ws.append(safe_row(row))
    if total is not None:
        ws.append(safe_row(total))
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    for row in ws.iter_rows(min_row=3, max_row=ws.max_row, max_col=width):
        for cell in row:
            cell.border = border
    for cell in ws[3]:
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    fit_columns(ws, 4, cap=64)  # from the data rows (the merged title rows do not widen a column)
    for i in range(1, width + 1):  # headers wrap to two lines rather than widen a column of numbers
        letter = ws.cell(row=3, column=i).column_letter
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, 10)
    last = ws.max_row + 2
    ws.cell(row=last, column=1, value=signed_line(*signed))
    ws.merge_cells(start_row=last, start_column=1, end_row=last, end_column=width)
    ws.freeze_panes = "A4"
    print_ready(ws, 3, signed)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _ledger_xlsx(month: str, rows: list[dict[str, Any]], totals: dict[str, int], signed: tuple[str, str]) -> bytes:
    headers = ["驿站编号", "驿站名称"] + [label for _, label in METRICS] + ["登记合计"]
    body = [[r["station_id"], r["name"]] + [r[k] for k, _ in METRICS] + [r["reg_total"]] for r in rows]
    total = ["合计", f"{len(rows)} 个驿站"] + [totals[k] for k, _ in METRICS] + [totals["reg_total"]]
    y, m = month.split("-")
    return _sheet(f"基层就业服务驿站服务台账（{y}年{int(m)}月）", f"填报单位：{_bureau()}　统计月份：{y}年{int(m)}月",
                  headers, body, total, signed)


def _results_xlsx(month: str, station: str, table: list[dict[str, Any]], signed: tuple[str, str]) -> bytes:
    headers = ["月份"] + [label for _, label in METRICS] + ["登记合计"]
    body = [[r["month"]] + [r[k] for k, _ in METRICS] + [r["reg_total"]] for r in table]
    total = ["合计"] + [sum(r[k] for r in table) for k, _ in METRICS] + [sum(r["reg_total"] for r in table)]
    scope = f"驿站：{station_name(station)}" if station else "全部驿站"
    return _sheet("基层就业服务驿站服务成效表", f"填报单位：{_bureau()}　范围：{scope}　截至 {month}", headers, body, total,
                  signed)


def _bureau() -> str:
    from flask import current_app

    return str(current_app.config.get("CONSOLE_BUREAU", ""))
