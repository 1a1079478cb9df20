"""The 256-byte text block: four layouts, validation, and a card value that never shows itself in clear."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest

from idcard.card import CardType, IdentityCard, build_text_block, card_type_of, parse_text
from idcard.errors import CardDataError
from idcard.samples import SAMPLE_IDENTITIES

RESIDENT, LONG_TERM, DOT_NAME, EXPIRED, HMT, FOREIGN_2017, FOREIGN_2023 = (
    SAMPLE_IDENTITIES[i] for i in (0, 2, 3, 4, 5, 6, 7)
)


def ucs2(text: str, size: int) -> bytes:
    raw = text.encode("utf-16-le")
    return raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


def resident_block(**overrides: str) -> bytes:
    """A resident text block written field by field, independently of build_text_block."""
    fields = {
        "name": ("欧阳 测试", 30), "gender": ("1", 2), "nation": ("01", 4), "birth": ("19900307", 16),
        "address": ("某某省某某市示例区测试路1号", 70), "number": ("119999199003079910", 36),
        "authority": ("某某市公安局示例分局", 30), "from": ("20160520", 16), "to": ("20360520", 16),
        "reserved": ("", 36),
    }
    for key, value in overrides.items():
        fields[key] = (value, fields[key][1])
    block = b"".join(ucs2(value, size) for value, size in fields.values())
    assert len(block) == 256
    return block


def test_hand_built_resident_block_parses() -> None:
    card = parse_text(resident_block())
    assert card.card_type is CardType.RESIDENT
    assert card.name == "欧阳 测试"  # inner space kept, padding removed
    assert card.gender == "男" and card.nation == "汉"
    assert card.birth_date == date(1990, 3, 7)
    assert card.address == "某某省某某市示例区测试路1号"
    assert card.id_number == "119999199003079910"
    assert card.authority == "某某市公安局示例分局"
    assert (card.valid_from, card.valid_to) == (date(2016, 5, 20), date(2036, 5, 20))


@pytest.mark.parametrize("card", SAMPLE_IDENTITIES, ids=lambda c: c.card_type.value + "-" + c.id_number[-4:])
def test_every_sample_round_trips(card: IdentityCard) -> None:
    block = build_text_block(card)
    assert len(block) == 256
    parsed = parse_text(block, photo=card.photo_wlt, fingerprint=card.fingerprint,
                        newest_address=card.newest_address)
    assert parsed == card


def test_resident_layout_offsets() -> None:
    block = build_text_block(LONG_TERM)
    assert block[0:6].decode("utf-16-le") == LONG_TERM.name
    assert block[122:158].decode("utf-16-le") == LONG_TERM.id_number
    assert block[204:208].decode("utf-16-le") == "长期"
    assert block[248:250] == b"\x20\x00"
    assert card_type_of(block) is CardType.RESIDENT


def test_long_term_card_never_expires() -> None:
    card = parse_text(build_text_block(LONG_TERM))
    assert card.valid_to is None
    assert not card.is_expired(date(2099, 12, 31))


def test_expiry_is_inclusive_of_the_last_day() -> None:
    card = parse_text(build_text_block(EXPIRED))
    assert card.valid_to == date(2020, 1, 1)
    assert not card.is_expired(date(2020, 1, 1))
    assert card.is_expired(date(2020, 1, 2))


def test_age_counts_whole_years() -> None:
    card = parse_text(build_text_block(RESIDENT))  # born 1990-03-07
    assert card.age(date(2026, 3, 6)) == 35
    assert card.age(date(2026, 3, 7)) == 36


def test_name_with_middle_dot() -> None:
    card = parse_text(build_text_block(DOT_NAME))
    assert card.name == "阿依古丽·测试" and card.nation == "维吾尔"


def test_hmt_permit_layout() -> None:
    block = build_text_block(HMT)
    assert block[248:250].decode("utf-16-le") == "J"
    assert block[32:36] == " ".encode("utf-16-le") * 2  # no nation on a permit
    assert block[220:238].decode("utf-16-le") == "H90000001"
    card = parse_text(block)
    assert card.card_type is CardType.HMT_PERMIT
    assert card.permit_number == "H90000001" and card.issue_count == "01" and card.nation == ""


def test_foreign_2017_layout() -> None:
    block = build_text_block(FOREIGN_2017)
    assert block[0:38].decode("utf-16-le") == "SAMPLE, TEST PERSON"
    assert block[122:152].decode("utf-16-le") == "CAN119990010190"
    assert block[152:158].decode("utf-16-le") == "CAN"
    assert block[158:166].decode("utf-16-le") == "测试样本"
    assert block[220:236].decode("utf-16-le") == "19900101"
    assert block[248:250].decode("utf-16-le") == "I"
    card = parse_text(block)
    assert card.card_type is CardType.FOREIGN_2017
    assert (card.name, card.english_name, card.nationality) == ("测试样本", "SAMPLE, TEST PERSON", "CAN")


def test_foreign_2023_layout_and_long_english_name() -> None:
    long_name = "YANGBEN, CESHI ABCDEFGHIJ KLMNOPQRSTUVWX"  # 40 characters: spills over to offset 220
    card = dataclasses.replace(FOREIGN_2023, english_name=long_name)
    block = build_text_block(card)
    assert block[52:122].decode("utf-16-le") == long_name[:35]
    assert block[220:230].decode("utf-16-le") == long_name[35:]
    assert block[242:248].decode("utf-16-le") == "CAN"
    assert block[248:250].decode("utf-16-le") == "Y"
    parsed = parse_text(block)
    assert parsed.card_type is CardType.FOREIGN_2023
    assert parsed.english_name == long_name and parsed.name == "样本测试"


@pytest.mark.parametrize(("block", "message"), [
    (resident_block()[:250], "text block is 250 bytes, expected 256"),
    (resident_block()[:248] + "Q".encode("utf-16-le") + b"\x20\x00" * 3, "unknown card type marker 51 00"),
    (resident_block(birth="19900230"), "birth date field is not a calendar date"),
    (resident_block(birth="1990037"), r"birth date field is not 8 digits"),
    (resident_block(number="119999199003079911"), "ID number does not validate: check character is 1"),
    (resident_block(birth="19900308"), "birth date field does not match"),
    (resident_block(gender="2"), "gender field does not match"),
    (resident_block(gender="5"), "gender code '5' is not one of"),
    (resident_block(nation="60"), "nation code '60' is not in GB 3304"),
    (resident_block(to="20100101"), "valid-to date is before the valid-from date"),
    (resident_block(number="810000199003079917"), "carries a residence-permit or foreigner number"),
    (resident_block(name=""), "name field is empty"),
    (b"\x00\xd8" + resident_block()[2:], r"name field \(bytes 0-29\) is not valid UCS-2"),
])
def test_text_that_does_not_validate_is_refused(block: bytes, message: str) -> None:
    with pytest.raises(CardDataError, match=message) as info:
        parse_text(block)
    text = str(info.value)
    for secret in ("119999199003079910", "欧阳", "测试路"):
        assert secret not in text


def test_repr_str_and_json_are_masked() -> None:
    card = RESIDENT
    for shown in (repr(card), str(card), json.dumps(card.masked_dict(date(2026, 6, 1)), ensure_ascii=False),
                  repr([card]), f"{card}"):
        assert "张测试" not in shown
        assert "119999199003079910" not in shown
        assert "测试路1号" not in shown and "样本街8号" not in shown
    assert str(card) == "居民身份证 张*试 1199**********9910"
    data = card.masked_dict(date(2026, 6, 1))
    assert data["name"] == "张*试"
    assert data["id_number"] == "1199**********9910"
    assert data["birth_date"] == "1990-**-**" and data["age"] == 36
    assert data["valid_to"] == "2036-05-20" and data["expired"] is False
    assert data["photo_wlt_bytes"] == 1024 and data["fingerprint_bytes"] == 1024
    assert LONG_TERM.masked_dict()["valid_to"] == "长期"


def test_building_refuses_a_field_that_does_not_fit() -> None:
    card = dataclasses.replace(RESIDENT, name="一二三四五六七八九十一二三四五六")
    with pytest.raises(ValueError, match="name holds 15 characters, got 16"):
        build_text_block(card)
