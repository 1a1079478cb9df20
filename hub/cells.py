"""Spreadsheet cells that cannot run: the one guard every CSV and XLSX the hub writes uses.

Excel and WPS read a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (CSV and XLSX alike: openpyxl stores such a string as a formula). A
resident's name or a station's name is text from outside, so every text cell an export
writes goes through :func:`safe_cell`, which puts ``'`` in front, as OWASP recommends
("CSV Injection"). Numbers are left alone: a real negative number stays a number. This
module imports nothing of the project's (a leaf helper: the station's reports use it too).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet may hold it: text that would start a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """:func:`safe_cell` for each cell of a row."""
    return [safe_cell(v) for v in values]
