"""The month's 服务成效表 for a station that is offline or reports on paper.

``yizhan stats report --month 2026-11`` writes three files for the month, one row per day
and a total row (the daily counts are :func:`content.stats.service_counts`):

* ``服务成效-<station>-<month>.csv``  UTF-8 with a BOM, so that Excel opens it in Chinese;
* ``服务成效-<station>-<month>.xlsx`` the same table with a title, for printing (openpyxl);
* ``服务成效-<station>-<month>.png``  a bar chart of registrations, slips and kiosk use per day
  (Pillow, the station's CJK font).

The counts carry no personal data: they are counts.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.cells import safe_row
from content.registrations import REGISTRATION_KINDS
from content.stats import service_counts

COLUMNS = ("日期", *(f"{k}登记" for k in REGISTRATION_KINDS), "登记合计", "岗位推荐单", "登记回执", "打印合计",
           "自助机使用", "大屏播放")


@dataclass
class MonthReport:
    station_id: str
    station_name: str
    month: dt.date  # the first day
    rows: list[list[Any]]  # one per day, in COLUMNS order (日期 as text)

    @property
    def total(self) -> list[Any]:
        return ["合计", *(sum(row[i] for row in self.rows) for i in range(1, len(COLUMNS)))]

    @property
    def stem(self) -> str:
        return f"服务成效-{self.station_id}-{self.month:%Y-%m}"


def parse_month(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"--month must be YYYY-MM (e.g. 2026-11), got {text!r}") from None


def month_report(db_path: Path, month: dt.date, *, station_id: str, station_name: str) -> MonthReport:
    days = calendar.monthrange(month.year, month.month)[1]
    rows = []
    for n in range(1, days + 1):
        day = month.replace(day=n)
        c = service_counts(db_path, day)
        regs = [c.registrations.get(k, 0) for k in REGISTRATION_KINDS]
        job, receipt = c.slips_printed.get("岗位推荐单", 0), c.slips_printed.get("登记回执", 0)
        rows.append([day.isoformat(), *regs, sum(regs), job, receipt, c.slips_total, sum(c.usage.values()),
                     c.board_plays])
    return MonthReport(station_id, station_name, month, rows)


def write_csv(report: MonthReport, path: Path) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(safe_row(COLUMNS))
        writer.writerows(safe_row(row) for row in report.rows)
        writer.writerow(safe_row(report.total))
    return path


def write_xlsx(report: MonthReport, path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = f"{report.month:%Y-%m}"
    sheet.append(safe_row([f"{report.station_name} 服务成效表（{report.month:%Y年%m月}）"]))
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(safe_row(COLUMNS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in report.rows:
        sheet.append(safe_row(row))
    sheet.append(safe_row(report.total))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 12
    for letter in "BCDEFGHIJK"[: len(COLUMNS) - 1]:
        sheet.column_dimensions[letter].width = 11
    sheet.freeze_panes = "B3"
    book.save(path)
    return path


def write_chart(report: MonthReport, path: Path, font_path: Path | None) -> Path:
    """Grouped bars per day: registrations, slips printed, kiosk use (kiosk use on its own scale
    would hide the others, so every series shares one axis and the legend gives the totals)."""
    from PIL import Image, ImageDraw, ImageFont

    series = (("登记", COLUMNS.index("登记合计"), (31, 119, 180)), ("打印", COLUMNS.index("打印合计"), (255, 127, 14)),
              ("自助机使用", COLUMNS.index("自助机使用"), (44, 160, 44)))
    width, height, left, right, top, bottom = 1400, 700, 80, 30, 90, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    def font(size: int) -> Any:
        return ImageFont.truetype(str(font_path), size) if font_path else ImageFont.load_default()

    draw.text((left, 20), f"{report.station_name} 服务成效（{report.month:%Y年%m月}）", fill="black", font=font(28))
    peak = max([row[i] for row in report.rows for _, i, _ in series] + [1])
    plot_w, plot_h = width - left - right, height - top - bottom
    for step in range(5):  # y grid and labels
        value = peak * step / 4
        y = top + plot_h - plot_h * step / 4
        draw.line([(left, y), (width - right, y)], fill=(225, 225, 225))
        draw.text((10, y - 10), f"{value:.0f}", fill="black", font=font(16))
    slot = plot_w / len(report.rows)
    bar = max(1.0, slot * 0.8 / len(series))
    for d, row in enumerate(report.rows):
        x0 = left + d * slot + slot * 0.1
        for s, (_, index, colour) in enumerate(series):
            h = plot_h * row[index] / peak
            draw.rectangle([x0 + s * bar, top + plot_h - h, x0 + (s + 1) * bar - 1, top + plot_h], fill=colour)
        if (d + 1) % 5 == 0 or d == 0:
            draw.text((x0, top + plot_h + 8), f"{d + 1}日", fill="black", font=font(16))
    draw.line([(left, top + plot_h), (width - right, top + plot_h)], fill="black")
    x = left
    for name, index, colour in series:
        label = f"{name} 共 {report.total[index]}"
        draw.rectangle([x, 62, x + 18, 80], fill=colour)
        draw.text((x + 24, 58), label, fill="black", font=font(18))
        x += 40 + int(draw.textlength(label, font=font(18)))
    image.save(path)
    return path


def write_report(report: MonthReport, out_dir: Path, font_path: Path | None) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_csv(report, out_dir / f"{report.stem}.csv"), write_xlsx(report, out_dir / f"{report.stem}.xlsx"),
            write_chart(report, out_dir / f"{report.stem}.png", font_path)]
