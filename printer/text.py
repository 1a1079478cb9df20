"""Slip text: making untrusted text safe and printable, measuring it in columns, wrapping it.

Three rules every string on a slip goes through, in this order:

1. :func:`sanitize` removes every control character (C0 incl. ESC/GS/DLE/FS, DEL, C1) and
   format/private/unassigned code points, so no byte of content can become a printer
   command. After it, a GB18030-encoded string holds no byte below 0x20 and no 0x7F.
2. :func:`printable` replaces each character the printer's font does not hold with a
   visible ``□`` (U+25A1, in every GB font): a name with a rare character prints as
   ``张□明``, never as ``张明``. A few look-alikes are folded first (``•`` -> ``·``).
   Slips (:class:`printer.escpos.SlipBuilder`) do better: they keep such characters and
   print their line as an image drawn with a CJK font (:mod:`printer.glyphs`); only a
   character no installed font draws becomes ``□``.
3. :func:`wrap` breaks lines by display columns, never inside a run of ASCII (a number,
   a phone number, a URL) and never with closing punctuation (，。、）》 …) at the start of a
   line or opening punctuation (（《“ …) at the end of one (kinsoku).

Columns: in Chinese mode an ESC/POS printer prints one byte (ASCII) in a 12-dot cell and
every double-byte character in a 24-dot cell. So every non-ASCII character counts two
columns here. wcwidth agrees for hanzi but counts East Asian "ambiguous" characters
(·—“”…×℃) as one, which would overflow the paper; :func:`columns` uses the printer's rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import wcwidth

REPLACEMENT = "□"
# Characters that would otherwise be replaced, folded to a look-alike the GB fonts hold.
FOLD = str.maketrans({"\u2022": "·", "\u30fb": "·", "\u301c": "～", "\u00a0": " ", "\u2212": "-",
                      "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2027": "·", "\u200b": None})
# Kinsoku: these never start a line (they stay with what precedes them) ...
CLOSING = set("，。、；：！？）》」』】〕〉〗”’…—·％‰℃°,.;:!?)]}>%、｡｣～")
# ... and these never end one (they go with what follows).
OPENING = set("（《「『【〔〈〖“‘([{<")
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_SPACES = re.compile(r"[ \t]+")
# Four-byte GB18030 characters a full GB18030 font holds: the CJK extension blocks.
_CJK_EXTENSIONS = ((0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2EBEF), (0x30000, 0x3134F))


def sanitize(text: object, *, multiline: bool = False) -> str:
    """Untrusted text -> text without any control character (so without any command byte).

    Tabs become spaces; line breaks become spaces, or ``\\n`` with ``multiline``; runs of
    spaces collapse. The result is NFC-normalised and stripped.
    """
    if text is None:
        return ""
    raw = unicodedata.normalize("NFC", str(text)).replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for ch in raw:
        if ch in "\n\u2028\u2029\x85":
            out.append("\n" if multiline else " ")
        elif ch in "\t\x0b\x0c":
            out.append(" ")
        elif unicodedata.category(ch) in _DROP_CATEGORIES:
            continue
        else:
            out.append(ch)
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(out).split("\n")]
    if not multiline:
        return lines[0]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def in_font(ch: str, charset: str = "gbk") -> bool:
    """Whether the printer's font (``gbk`` or ``gb18030``) holds ``ch``."""
    code = ord(ch)
    if 0x20 <= code < 0x7F:
        return True
    if code < 0x80:
        return False
    try:
        encoded = ch.encode("gb18030")
    except UnicodeEncodeError:
        return False
    if len(encoded) == 2:
        if charset == "gb18030":
            return True
        try:
            return ch.encode("gbk") == encoded
        except UnicodeEncodeError:
            return False
    return charset == "gb18030" and any(lo <= code <= hi for lo, hi in _CJK_EXTENSIONS)


def printable(text: str, charset: str = "gbk") -> tuple[str, int]:
    """``text`` with every character outside the font replaced by ``□``; and how many were."""
    text = text.translate(FOLD)
    replaced = 0
    out = []
    for ch in text:
        if ch == "\n" or in_font(ch, charset):
            out.append(ch)
        else:
            out.append(REPLACEMENT)
            replaced += 1
    return "".join(out), replaced


def prepare(text: object, charset: str = "gbk", *, multiline: bool = False) -> tuple[str, int]:
    """:func:`sanitize` then :func:`printable`: what every string from outside goes through."""
    return printable(sanitize(text, multiline=multiline), charset)


def encode(text: str) -> bytes:
    """GB18030 bytes of already :func:`prepare`-d text (ASCII stays one byte)."""
    return text.encode("gb18030")


def char_columns(ch: str) -> int:
    """Columns one character takes on the printer: 1 for ASCII, 2 for anything double-byte."""
    if ch.isascii():
        return 1
    # Zero-width marks still occupy a full cell once encoded; wide ones are 2 either way.
    return max(2, wcwidth.wcwidth(ch))


def columns(text: str) -> int:
    """Display columns of ``text`` on the printer (a hanzi is 2)."""
    return sum(1 if ch.isascii() else char_columns(ch) for ch in text)


def _units(paragraph: str) -> list[str]:
    """Unbreakable pieces: ASCII runs, single characters, spaces; punctuation glued by kinsoku."""
    raw = re.findall(r" +|[!-~]+|.", paragraph)
    units: list[str] = []
    carry = ""  # opening punctuation waiting for what follows it
    for piece in raw:
        if piece.startswith(" "):
            if carry:
                units.append(carry)
                carry = ""
            units.append(" ")
        elif len(piece) == 1 and piece in OPENING:
            carry += piece
        elif piece[0] in CLOSING and units and not carry:
            if units[-1] == " " and len(units) > 1:
                units.pop()
                units[-1] += " "
            if units[-1] != " ":
                units[-1] += piece
            else:
                units.append(piece)
        else:
            units.append(carry + piece)
            carry = ""
    if carry:
        units.append(carry)
    return units


def _hard_split(unit: str, width: int) -> list[str]:
    parts, current, used = [], "", 0
    for ch in unit:
        w = char_columns(ch)
        if used + w > width and current:
            parts.append(current)
            current, used = "", 0
        current += ch
        used += w
    if current:
        parts.append(current)
    return parts


def wrap(text: str, width: int) -> list[str]:
    """Break ``text`` into lines of at most ``width`` columns (see the module docstring).

    Only a piece longer than a whole line (a very long URL) is ever cut inside.
    ``\\n`` starts a new line; an empty text gives no lines.
    """
    if width < 2:
        raise ValueError(f"cannot wrap to {width} columns: a hanzi needs 2")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, used, space = "", 0, False
        for unit in _units(paragraph):
            if unit == " ":
                space = bool(line)
                continue
            w = columns(unit)
            gap = 1 if space else 0
            if used + gap + w <= width:
                line += " " * gap + unit
                used += gap + w
            else:
                if line:
                    lines.append(line)
                pieces = _hard_split(unit, width) if w > width else [unit]
                lines.extend(pieces[:-1])
                line, used = pieces[-1], columns(pieces[-1])
            space = False
        if line or not paragraph:
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def pack(phrases: Iterable[str], width: int, sep: str = "，") -> list[str]:
    """Short phrases joined by ``sep`` into lines, never breaking a phrase that fits on a line.

    For lists such as ``18-55岁，限男性，初中及以上``: plain wrapping could leave ``上``
    alone on a line; here the separator stays at the end of the line it closes.
    """
    lines: list[str] = []
    line = ""
    items = [p for p in phrases if p]
    for index, phrase in enumerate(items):
        piece = phrase + (sep if index < len(items) - 1 else "")
        if columns(line) + columns(piece) <= width:
            line += piece
            continue
        if line:
            lines.append(line)
        if columns(piece) <= width:
            line = piece
        else:
            parts = wrap(piece, width)
            lines.extend(parts[:-1])
            line = parts[-1] if parts else ""
    if line:
        lines.append(line)
    return lines


def clip(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to fit ``width`` columns, ending with ``…`` when something was cut."""
    if columns(text) <= width:
        return text
    room = width - columns(ellipsis)
    out, used = "", 0
    for ch in text:
        if used + char_columns(ch) > room:
            break
        out += ch
        used += char_columns(ch)
    return out + ellipsis


def clip_lines(lines: Iterable[str], max_lines: int, width: int) -> list[str]:
    """At most ``max_lines`` lines; the last one shown ends with ``…`` when lines were left out."""
    lines = list(lines)
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    last = kept[-1]
    kept[-1] = clip(last + "……", width) if columns(last) + 2 > width else last + "…"
    return kept


def pad_between(left: str, right: str, width: int) -> str:
    """``left`` and ``right`` on one line, right-aligned to ``width`` columns (if both fit)."""
    gap = width - columns(left) - columns(right)
    if gap < 1:
        return left + " " + right
    return left + " " * gap + right
