"""Citizen identity numbers (GB 11643-1999), in the style of python-stdnum.

An 18-character number is a 6-digit region code (GB/T 2260), an 8-digit birth date, a
3-digit order code (odd for men, even for women) and a check character: the weighted
sum of the first 17 digits, modulo 11, indexes ``"10X98765432"``.

The same scheme is used by the Hong Kong/Macao/Taiwan residence permit (region 810000,
820000, 830000) and by the 2023 foreigner's permanent residence card, whose 18-digit
number starts with ``9``, then a 2-digit province code and a 3-digit country code
(GB/T 2659) where a resident number has its region. The 2017 foreigner's card has a
15-character number: 3 letters (nationality), 4 digits (region), birth date YYMMDD and
2 digits; :func:`validate_foreign_2017` checks its form.

Error messages say what is wrong and never repeat the number itself.
Abolished region codes still appear on valid cards, so only the province part of the
region code is checked against the list.
"""

from __future__ import annotations

import re
from datetime import date

from common.privacy import mask_id_number

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
EARLIEST_BIRTH_YEAR = 1880

# First two digits of GB/T 2260 region codes (provinces, autonomous regions, municipalities,
# Taiwan 71, Hong Kong 81, Macao 82) and 83, used by residence permits for Taiwan residents.
PROVINCES: dict[str, str] = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古",
    "21": "辽宁", "22": "吉林", "23": "黑龙江",
    "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西", "37": "山东",
    "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏",
    "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏", "65": "新疆",
    "71": "台湾", "81": "香港", "82": "澳门", "83": "台湾",
}
PERMIT_REGIONS = {"810000": "香港", "820000": "澳门", "830000": "台湾"}


class InvalidIdNumber(ValueError):
    """The number is not a valid identity number; the message says why."""


class InvalidLength(InvalidIdNumber):
    """The number does not have 15 or 18 characters."""


class InvalidFormat(InvalidIdNumber):
    """A character, the region code or the birth date is not well formed."""


class InvalidChecksum(InvalidIdNumber):
    """The check character does not match the other 17 digits."""


class InvalidComponent(InvalidIdNumber):
    """A part of the number (region, birth date) is impossible."""


_SEPARATORS = re.compile(r"[\s\-]")
_NUMBER_18 = re.compile(r"^\d{17}[\dX]$")
_NUMBER_2017 = re.compile(r"^[A-Z]{3}\d{12}$")


def compact(number: str) -> str:
    """Remove spaces and hyphens, upper-case a trailing ``x``."""
    return _SEPARATORS.sub("", number or "").upper()


def calc_check_character(first17: str) -> str:
    """The check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise InvalidFormat("the check character is computed from exactly 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def _parse_date(digits: str, what: str) -> date:
    try:
        return date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise InvalidComponent(f"{what} is not a calendar date") from None


def is_foreign_2023(number: str) -> bool:
    """True for the form of a 2023 foreigner's permanent residence card number (starts with 9)."""
    return len(number) == 18 and number.startswith("9")


def validate(number: str, *, today: date | None = None) -> str:
    """Check an 18-character identity number; return it compacted or raise :class:`InvalidIdNumber`.

    Accepts resident numbers, residence-permit numbers (81/82/83) and 2023 foreigner numbers (9).
    """
    number = compact(number)
    if len(number) != 18:
        raise InvalidLength(f"an identity number has 18 characters, got {len(number)}")
    if not _NUMBER_18.match(number):
        raise InvalidFormat("an identity number is 17 digits followed by a digit or X")
    if is_foreign_2023(number):
        if number[1:3] not in PROVINCES:
            raise InvalidComponent(f"digits 2-3 of a permanent residence number are {number[1:3]}, "
                                   "which is not a province code")
    elif number[0:2] not in PROVINCES:
        raise InvalidComponent(f"region code starts with {number[0:2]}, which is not a province code")
    if not is_foreign_2023(number) and number[0:2] in ("81", "82", "83") and number[0:6] not in PERMIT_REGIONS:
        raise InvalidComponent("a residence permit number starts with 810000, 820000 or 830000")
    born = _parse_date(number[6:14], "the birth date in the number")
    today = today or date.today()
    if born > today:
        raise InvalidComponent("the birth date in the number is in the future")
    if born.year < EARLIEST_BIRTH_YEAR:
        raise InvalidComponent(f"the birth date in the number is before {EARLIEST_BIRTH_YEAR}")
    expected = calc_check_character(number[:17])
    if number[17] != expected:
        raise InvalidChecksum(f"check character is {number[17]} but the first 17 digits give {expected}")
    return number


def is_valid(number: str, *, today: date | None = None) -> bool:
    """True if :func:`validate` accepts the number."""
    try:
        validate(number, today=today)
    except InvalidIdNumber:
        return False
    return True


def validate_foreign_2017(number: str, *, today: date | None = None) -> str:
    """Check the form of a 2017 foreigner's permanent residence number (``AAA`` + 12 digits)."""
    number = compact(number)
    if len(number) != 15:
        raise InvalidLength(f"a 2017 permanent residence number has 15 characters, got {len(number)}")
    if not _NUMBER_2017.match(number):
        raise InvalidFormat("a 2017 permanent residence number is 3 letters followed by 12 digits")
    if number[3:5] not in PROVINCES:
        raise InvalidComponent(f"region code starts with {number[3:5]}, which is not a province code")
    birth_date_2017(number)  # raises if impossible
    return number


def birth_date_2017(number: str) -> date:
    """Month and day of birth in a 2017 foreigner number; the century is inferred (YYMMDD)."""
    number = compact(number)
    yy, mm, dd = int(number[7:9]), int(number[9:11]), int(number[11:13])
    today = date.today()
    century = 2000 if 2000 + yy <= today.year else 1900
    try:
        return date(century + yy, mm, dd)
    except ValueError:
        raise InvalidComponent("the birth date in the number is not a calendar date") from None


def birth_date(number: str) -> date:
    """Birth date encoded in an 18-character number."""
    number = compact(number)
    if len(number) != 18:
        raise InvalidLength(f"an identity number has 18 characters, got {len(number)}")
    return _parse_date(number[6:14], "the birth date in the number")


def gender(number: str) -> str:
    """``男`` (odd order code) or ``女`` (even) for an 18-character number."""
    number = compact(number)
    if len(number) != 18 or not number[16].isdigit():
        raise InvalidFormat("gender is read from the 17th digit of an 18-character number")
    return "男" if int(number[16]) % 2 else "女"


def region(number: str) -> str:
    """The 6-digit region code (for a 2023 foreigner number: ``9`` + province + country code)."""
    return compact(number)[:6]


def mask(number: str) -> str:
    """``110105194912310021`` -> ``1101**********0021`` (the house masking rule)."""
    return mask_id_number(compact(number))
