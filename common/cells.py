"""Spreadsheet cells that cannot run, and text without control characters: the guards every
CSV and XLSX the hub writes, and every record it takes in, go through.

Excel and WPS read a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (CSV and XLSX alike: openpyxl stores such a string as a formula). A
resident's name or a station's name is text from outside, so every text cell an export
writes goes through :func:`safe_cell`, which puts ``'`` in front, as OWASP recommends
("CSV Injection"), and drops the control characters an XLSX file cannot hold at all (one
``\\x07`` in one name would otherwise make every export fail). Numbers are left alone: a real
negative number stays a number.

:func:`clean_text` and :func:`clean_tree` are what the upload API does to every string of a
record before it is stored, as the station's printer does before it prints: control and
format characters (bell, NUL, escape, bidirectional overrides, lone surrogates) are
dropped, tabs become spaces, line breaks become ``\\n``. Characters the Unicode tables of
this Python do not know yet are kept: a rare character in a person's name is not noise.
A leaf helper: it imports nothing of the project's, and the station's reports use it too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What XML 1.0 (so an XLSX sheet) cannot hold: C0 controls other than tab, LF and CR.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udfff]")
_DROP = {"Cc", "Cf", "Cs"}


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet may hold it: text without the characters a sheet cannot
    store, and with a leading ``'`` if it would start a formula."""
    if isinstance(value, str):
        value = _XML_ILLEGAL.sub("", value)
        if value.startswith(FORMULA_STARTS):
            return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """:func:`safe_cell` for each cell of a row."""
    return [safe_cell(v) for v in values]


def clean_text(text: str) -> str:
    """``text`` without control or format characters; tabs become spaces, CR/CRLF and the
    Unicode line separators become ``\\n``. Nothing else changes (no trimming, no folding)."""
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text.replace("\r\n", "\n"):
        if ch in "\n\r\u2028\u2029\x85":
            out.append("\n")
        elif ch in "\t\x0b\x0c":
            out.append(" ")
        elif unicodedata.category(ch) not in _DROP:
            out.append(ch)
    return "".join(out)


def clean_tree(value: Any) -> Any:
    """A JSON value with :func:`clean_text` applied to every string in it, object keys included."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_tree(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_tree(v) for k, v in value.items()}
    return value
