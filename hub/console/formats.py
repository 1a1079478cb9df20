"""Everyday input as people type it and as Excel writes it, normalised for the feed's models.

Dates: ``2026-12-07``, ``2026/12/07`` (Excel's CSV), ``2026.12.07``, ``20261207``, ``2027年1月31日``;
times added as ``09:00``, ``9点``, ``9时30分``, ``下午3点``. Amounts: ``4000``, ``4,000``, ``3000元``,
``¥3000``, ``0.5万``, full-width digits. Each parser returns the normalised value or raises
:class:`InputError` with a Chinese sentence naming the rule (never quoting the value: a cell may
hold personal data). Text is checked against its field's limit and for characters the stations
cannot show (emoji, control characters) instead of being cut or stripped without a word.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from protocol.model import clean_text

DATE_RULE = "日期写法：2026-12-07、2026/12/07 或 2026年12月7日"
DATETIME_RULE = "时间写法：2026-12-07 09:00 或 2026年12月7日 9:00（北京时间）"
AMOUNT_RULE = "整数，单位元；可写 4000、4,000 或 4000元"
INT_RULE = "整数"
LAT_RULE = "可不填：按工作地点自动定位；填写则为小数，如 26.58（我国境内在 3 到 54 之间）"
LON_RULE = "可不填：按工作地点自动定位；填写则为小数，如 106.71（我国境内在 73 到 136 之间）"
PHONE_RULE = "数字、空格、+ 和 -，最多 20 位"
ID_RULE = "字母、数字和 . _ : -，最多 64 位，保存后不能修改"
URL_RULE = "以 http:// 或 https:// 开头，最多 500 字"

# China's extent (with a margin): a point outside is a typo, most often latitude and longitude swapped.
CHINA_LAT = (3.0, 54.0)
CHINA_LON = (73.0, 136.0)

_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATETIME_RE = re.compile(
    r"^(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?|\d{8})\s*(?:T|\s)?\s*"
    r"(上午|下午|晚上|中午)?\s*(\d{1,2})\s*(?:[:时点])\s*(?:(\d{1,2})\s*分?)?\s*(?::(\d{1,2}))?\s*$")
_WHITESPACE = re.compile(r"\s+")
_AMOUNT_UNITS = ("元/月", "元/天", "元/日", "元/时", "元/小时", "元/件", "元", "块", "人", "名", "岁", "个", "家")


class InputError(ValueError):
    """A value that cannot be understood; the message is a Chinese sentence naming the rule."""


def _half_width(text: str) -> str:
    """Full-width digits, letters and punctuation as their ASCII forms (NFKC), trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def parse_date(value: str) -> str:
    """A written date -> ``YYYY-MM-DD``."""
    text = _half_width(value)
    match = _DATE_RE.match(text) or _COMPACT_DATE_RE.match(text)
    if match is None:
        with_time = _DATETIME_RE.match(text)
        if with_time is None or with_time.group(4) not in ("0", "00") or with_time.group(5) not in (None, "0", "00"):
            raise InputError(f"看不懂这个日期；{DATE_RULE}")
        return parse_date(with_time.group(1))  # Excel's "2026/12/07 0:00"
    year, month, day = (int(part) for part in match.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise InputError(f"没有这一天（{year} 年 {month} 月 {day} 日）；{DATE_RULE}") from None


def parse_datetime(value: str) -> str:
    """A written date and time -> ``YYYY-MM-DDTHH:MM:SS`` (naive: the bureau's local time), or an
    ISO time with its offset kept."""
    text = _half_width(value)
    if "T" in text and re.search(r"[+-]\d{2}:?\d{2}$|Z$", text):
        try:
            return dt.datetime.fromisoformat(text).isoformat()
        except ValueError:
            pass
    match = _DATETIME_RE.match(text)
    if match is None:
        try:
            parse_date(text)
        except InputError:
            raise InputError(f"看不懂这个时间；{DATETIME_RULE}") from None
        raise InputError(f"请写上几点几分；{DATETIME_RULE}")
    day = parse_date(match.group(1))
    half, hour, minute, second = match.group(2), int(match.group(3)), int(match.group(4) or 0), int(match.group(5) or 0)
    if half in ("下午", "晚上") and hour < 12:
        hour += 12
    elif half == "中午" and hour < 6:
        hour += 12
    if hour > 23 or minute > 59 or second > 59:
        raise InputError(f"没有这个钟点；{DATETIME_RULE}")
    return f"{day}T{hour:02d}:{minute:02d}:{second:02d}"


def parse_int(value: str, *, money: bool = False) -> int:
    """``4,000``, ``3000元``, ``¥3000``, ``0.5万``, ``３０００`` -> an integer."""
    text = _half_width(value).replace(",", "").replace("，", "").replace(" ", "").lstrip("¥$")
    for unit in _AMOUNT_UNITS:
        if text.endswith(unit):
            text = text[: -len(unit)]
            break
    factor = 1
    if text.endswith("万"):
        factor, text = 10_000, text[:-1]
    elif text.endswith("千"):
        factor, text = 1_000, text[:-1]
    rule = AMOUNT_RULE if money else INT_RULE
    try:
        number = float(text) * factor
    except ValueError:
        raise InputError(f"须为数字；{rule}") from None
    if number != number or not number.is_integer():
        raise InputError(f"须为整数；{rule}")
    return int(number)


def parse_float(value: str) -> float:
    text = _half_width(value).replace("°", "").replace(" ", "")
    try:
        number = float(text)
    except ValueError:
        raise InputError("须为小数，如 26.58") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError("须为有效数字，如 26.58")
    return number


def check_position(latitude: float, longitude: float) -> dict[str, str]:
    """Errors for a point that is not in China, naming a swap when the two values are swapped."""
    lat_ok = CHINA_LAT[0] <= latitude <= CHINA_LAT[1]
    lon_ok = CHINA_LON[0] <= longitude <= CHINA_LON[1]
    if lat_ok and lon_ok:
        return {}
    if CHINA_LAT[0] <= longitude <= CHINA_LAT[1] and CHINA_LON[0] <= latitude <= CHINA_LON[1]:
        message = "纬度和经度填反了：纬度在前（如 26.58），经度在后（如 106.71）"
        return {"latitude": message, "longitude": message}
    errors = {}
    if not lat_ok:
        errors["latitude"] = "不在我国境内：纬度应在 3 到 54 之间，如 26.58"
    if not lon_ok:
        errors["longitude"] = "不在我国境内：经度应在 73 到 136 之间，如 106.71"
    return errors


def check_text(value: str, limit: int, *, multiline: bool = False) -> str:
    """The text as the feed will keep it, or :class:`InputError` if anything would be cut or dropped."""
    kept = clean_text(value, multiline=multiline)
    if _WHITESPACE.sub("", unicodedata.normalize("NFC", value)) != _WHITESPACE.sub("", kept):
        dropped = {ch for ch in set(value) if not ch.isspace() and clean_text(ch) == ""}
        emoji = any(ord(ch) > 0xFFFF or 0x2600 <= ord(ch) <= 0x27BF or 0xFE00 <= ord(ch) <= 0xFE0F for ch in dropped)
        raise InputError(f"含有驿站屏幕无法显示的{'表情符号' if emoji else '控制字符'}（共 {len(dropped)} 种），请删除后再提交")
    if limit and len(kept) > limit:
        raise InputError(f"最多 {limit} 字，现有 {len(kept)} 字，请删减 {len(kept) - limit} 字")
    return kept
