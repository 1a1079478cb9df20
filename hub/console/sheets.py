"""Spreadsheets that print as a bureau files them: column widths from what the cells hold and
the page set up for A4 landscape with the 填报人/审核人/日期 line. Used by the hand-off file and
the 服务台账/服务成效表 downloads; free of Flask."""

from __future__ import annotations

from typing import Any

BLANK = "__________"


def text_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a hanzi or full-width sign counts two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def signed_line(who: str, day: str) -> str:
    """填报人：张编辑    审核人：__________    日期：2026年12月7日"""
    return f"填报人：{who or BLANK}    审核人：{BLANK}    日期：{day or BLANK}"


def fit_columns(ws: Any, first_row: int, cap: int = 40) -> None:
    """Every column as wide as its longest cell from ``first_row`` on (long texts wrap at ``cap``)."""
    widths: dict[str, int] = {}
    for row in ws.iter_rows(min_row=first_row):
        for cell in row:
            if cell.value is not None and hasattr(cell, "column_letter"):
                widths[cell.column_letter] = max(widths.get(cell.column_letter, 0), text_width(str(cell.value)))
    for letter, width in widths.items():
        ws.column_dimensions[letter].width = min(max(width, 4) + 2, cap)


def print_ready(ws: Any, header_row: int, signed: tuple[str, str]) -> None:
    """A4 landscape, every column on one page's width (as many pages down as it takes), the
    header row repeated on each page, the 填报人/审核人/日期 line and page numbers in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.left.text = signed_line(*signed)
    ws.oddFooter.right.text = "第 &P 页，共 &N 页"
