"""`yizhan stats report --month`: the month's 服务成效表 as CSV, XLSX and a PNG chart."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3

from openpyxl import load_workbook
from PIL import Image

from config.cli import main
from content.outbox import record_usage
from content.registrations import submit_registration
from printer.queue import PrintQueue

PERSON = {"name": "李秀英", "id_number": "52010319850312002X", "gender": "女", "birth_date": "1985-03-12",
          "address": "贵州省贵阳市云岩区", "phone": "13900001111"}


def _on(day: dt.date, hour: int = 10) -> float:
    return dt.datetime.combine(day, dt.time(hour)).astimezone().timestamp()


def test_month_report_files(station, tmp_path, capsys) -> None:
    settings = station.settings
    db = settings.db_path
    nov3, nov17, dec1 = dt.date(2026, 11, 3), dt.date(2026, 11, 17), dt.date(2026, 12, 1)
    for kind in ("求职", "零工", "求职"):
        submit_registration(db, kind, PERSON, {"phone": PERSON["phone"]}, station_id=settings.station.id)
    queue = PrintQueue(db)
    slip = queue.submit("job", b"\x1b@slip", "岗位单")
    queue.claim(slip)
    queue.mark_sent(slip)
    queue.mark_printed(slip)
    queue.close()
    for _ in range(4):
        record_usage(settings, "search", results=2)
    conn = sqlite3.connect(db)
    with conn:  # spread the records over the month (and one into December, which must not count)
        ids = [r[0] for r in conn.execute("SELECT rowid FROM registrations ORDER BY rowid")]
        for rowid, day in zip(ids, (nov3, nov3, dec1), strict=True):
            conn.execute("UPDATE registrations SET created_ts = ? WHERE rowid = ?", (_on(day), rowid))
        conn.execute("UPDATE print_jobs SET printed_at = ?", (f"{nov17}T11:00:00+08:00",))
        conn.execute("UPDATE outbox SET created_ts = ? WHERE kind = 'event'", (_on(nov17),))
    conn.close()

    out = tmp_path / "reports"
    assert main(["stats", "report", "--month", "2026-11", "--out", str(out), "--config", str(station.config_path)]) == 0
    text = capsys.readouterr().out
    assert "2026-11 服务成效：登记 2 人次，打印 1 张，自助机使用 4 次" in text
    stem = f"服务成效-{settings.station.id}-2026-11"
    with (out / f"{stem}.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0][:7] == ["日期", "求职登记", "培训需求登记", "返乡登记", "零工登记", "失业登记", "登记合计"]
    assert len(rows) == 1 + 30 + 1
    assert rows[3][:7] == ["2026-11-03", "1", "0", "0", "1", "0", "2"]
    assert rows[17][0] == "2026-11-17" and rows[17][9:11] == ["1", "4"]
    assert rows[-1] == ["合计", "1", "0", "0", "1", "0", "2", "1", "0", "1", "4", "0"]
    sheet = load_workbook(out / f"{stem}.xlsx").active
    assert "服务成效表（2026年11月）" in sheet["A1"].value
    assert [c.value for c in sheet[sheet.max_row]] == ["合计", 1, 0, 0, 1, 0, 2, 1, 0, 1, 4, 0]
    with Image.open(out / f"{stem}.png") as chart:
        assert chart.size == (1400, 700)
        # the bars of the 3rd and the 17th are drawn in the series' colours
        colours = {colour for _, colour in chart.getcolors(1_000_000)}
        assert {(31, 119, 180), (255, 127, 14), (44, 160, 44)} <= colours
    for path in out.iterdir():
        data = path.read_bytes()
        assert b"52010319850312002X" not in data and "李秀英".encode() not in data


def test_a_bad_month_is_refused(station, capsys) -> None:
    assert main(["stats", "report", "--month", "2026/11", "--config", str(station.config_path)]) == 2
    assert "--month must be YYYY-MM" in capsys.readouterr().err
