"""GB 11643 identity numbers: validation that says what is wrong, and never repeats the number."""

from __future__ import annotations

from datetime import date

import pytest

from idcard import idnumber
from idcard.idnumber import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

TODAY = date(2026, 6, 1)


@pytest.mark.parametrize("number", [
    "11010519491231002X",  # the example in GB 11643 itself
    "932682198501010017",  # 2023 foreigner's card, official sample (Saudi man, Jiangsu)
    "911124198108030024",  # 2023 foreigner's card, official sample (Canadian woman, Beijing)
    "119999199003079910",
    "45999919580808993X",
    "810000199209099905",  # Hong Kong residents' residence permit
])
def test_valid_numbers(number: str) -> None:
    assert idnumber.validate(number, today=TODAY) == number
    assert idnumber.is_valid(number, today=TODAY)


def test_compact_accepts_spaces_hyphens_and_lower_case_x() -> None:
    assert idnumber.validate("110105 19491231 002x", today=TODAY) == "11010519491231002X"
    assert idnumber.compact(" 1101-0519491231002x ") == "11010519491231002X"


def test_check_character() -> None:
    assert idnumber.calc_check_character("11010519491231002") == "X"
    assert idnumber.calc_check_character("93268219850101001") == "7"


def test_wrong_check_character_says_which_is_expected() -> None:
    with pytest.raises(InvalidChecksum, match="check character is 3 but the first 17 digits give X") as info:
        idnumber.validate("110105194912310023", today=TODAY)
    assert "110105194912310023" not in str(info.value)


@pytest.mark.parametrize(("number", "error", "message"), [
    ("1101051949123100", InvalidLength, "18 characters, got 16"),
    ("1101051949123100211", InvalidLength, "18 characters, got 19"),
    ("11010519491231A02X", InvalidFormat, "17 digits followed by a digit or X"),
    ("X10105194912310021", InvalidFormat, "17 digits followed by a digit or X"),
    ("771234194912310028", InvalidComponent, "region code starts with 77"),
    ("999234194912310028", InvalidComponent, "digits 2-3 of a permanent residence number are 99"),
    ("009999194912310028", InvalidComponent, "region code starts with 00"),
    ("110105194902300021", InvalidComponent, "not a calendar date"),
    ("110105203001010021", InvalidComponent, "in the future"),
    ("110105187001010021", InvalidComponent, "before 1880"),
    ("811234199209099905", InvalidComponent, "810000, 820000 or 830000"),
])
def test_invalid_numbers_say_what_is_wrong(number: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        idnumber.validate(number, today=TODAY)
    assert number not in str(info.value)
    assert not idnumber.is_valid(number, today=TODAY)


def test_every_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        idnumber.validate("123", today=TODAY)


def test_birth_date_gender_region_and_mask() -> None:
    assert idnumber.birth_date("11010519491231002X") == date(1949, 12, 31)
    assert idnumber.gender("11010519491231002X") == "女"
    assert idnumber.gender("932682198501010017") == "男"
    assert idnumber.region("11010519491231002X") == "110105"
    assert idnumber.mask("11010519491231002x") == "1101**********002X"


def test_2017_foreigner_number_form() -> None:
    assert idnumber.validate_foreign_2017("can119990010190") == "CAN119990010190"
    assert idnumber.birth_date_2017("CAN119990010190") == date(1990, 1, 1)
    with pytest.raises(InvalidFormat, match="3 letters followed by 12 digits"):
        idnumber.validate_foreign_2017("C1N119990010190")
    with pytest.raises(InvalidLength, match="15 characters, got 14"):
        idnumber.validate_foreign_2017("CAN11999001019")
    with pytest.raises(InvalidComponent, match="not a calendar date"):
        idnumber.validate_foreign_2017("CAN119990023190")
