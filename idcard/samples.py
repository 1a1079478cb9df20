"""Sample identities for the simulator, the demo and staff training.

Every person here is fictitious: names say 测试/样本/示例, addresses are 某某省某某市, and
the region codes of the resident numbers (xx9999) name no real county. The numbers still
carry correct check characters so that the whole reading path is exercised.
"""

from __future__ import annotations

import hashlib
from datetime import date

from idcard.card import PHOTO_SIZE, CardType, IdentityCard


def fake_bytes(seed: str, size: int) -> bytes:
    """Deterministic filler standing in for WLT photo or fingerprint data."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _photo(index: int) -> bytes:
    return fake_bytes(f"photo-{index}", PHOTO_SIZE)


SAMPLE_IDENTITIES: tuple[IdentityCard, ...] = (
    IdentityCard(
        card_type=CardType.RESIDENT, name="张测试", gender="男", nation="汉",
        birth_date=date(1990, 3, 7), address="某某省某某市示例区测试路1号",
        id_number="119999199003079910", authority="某某市公安局示例分局",
        valid_from=date(2016, 5, 20), valid_to=date(2036, 5, 20),
        newest_address="某某省某某市示例区样本街8号2单元", photo_wlt=_photo(0),
        fingerprint=fake_bytes("finger-0", 1024),
    ),
    IdentityCard(
        card_type=CardType.RESIDENT, name="李样本", gender="女", nation="回",
        birth_date=date(1986, 11, 23), address="某某省某某市示例县样本镇测试村3组",
        id_number="449999198611239924", authority="某某县公安局",
        valid_from=date(2019, 2, 11), valid_to=date(2039, 2, 11), photo_wlt=_photo(1),
    ),
    IdentityCard(
        card_type=CardType.RESIDENT, name="王示例", gender="男", nation="壮",
        birth_date=date(1958, 8, 8), address="某某自治区某某市示例区长寿路6号",
        id_number="45999919580808993X", authority="某某市公安局示例分局",
        valid_from=date(2013, 10, 1), valid_to=None, photo_wlt=_photo(2),
    ),
    IdentityCard(
        card_type=CardType.RESIDENT, name="阿依古丽·测试", gender="女", nation="维吾尔",
        birth_date=date(1995, 7, 15), address="某某自治区某某市示例区团结路12号",
        id_number="659999199507159944", authority="某某市公安局示例分局",
        valid_from=date(2018, 1, 1), valid_to=date(2028, 1, 1), photo_wlt=_photo(3),
    ),
    IdentityCard(
        card_type=CardType.RESIDENT, name="赵过期", gender="男", nation="汉",
        birth_date=date(1979, 4, 30), address="某某省某某市示例区旧城路4号",
        id_number="529999197904309952", authority="某某市公安局示例分局",
        valid_from=date(2000, 1, 1), valid_to=date(2020, 1, 1), photo_wlt=_photo(4),
    ),
    IdentityCard(
        card_type=CardType.HMT_PERMIT, name="陈港澳", gender="女", nation="",
        birth_date=date(1992, 9, 9), address="某某省某某市示例区湾区路9号",
        id_number="810000199209099905", authority="某某市公安局",
        valid_from=date(2022, 3, 1), valid_to=date(2027, 3, 1),
        permit_number="H90000001", issue_count="01", photo_wlt=_photo(5),
    ),
    IdentityCard(
        card_type=CardType.FOREIGN_2017, name="测试样本", gender="男", nation="",
        birth_date=date(1990, 1, 1), address="", id_number="CAN119990010190",
        authority="1100", valid_from=date(2017, 6, 1), valid_to=date(2027, 6, 1),
        english_name="SAMPLE, TEST PERSON", nationality="CAN", card_version="01", photo_wlt=_photo(6),
    ),
    IdentityCard(
        card_type=CardType.FOREIGN_2023, name="样本测试", gender="女", nation="",
        birth_date=date(1988, 8, 8), address="", id_number="911124198808089908",
        authority="国家移民管理局", valid_from=date(2024, 1, 1), valid_to=date(2034, 1, 1),
        english_name="YANGBEN, CESHI", nationality="CAN", issue_count="00", photo_wlt=_photo(7),
    ),
)

DESCRIPTIONS: tuple[str, ...] = (
    "居民身份证，有追加住址和指纹",
    "居民身份证，回族",
    "居民身份证，有效期长期",
    "居民身份证，姓名含“·”",
    "居民身份证，已过期",
    "港澳台居民居住证 (J)",
    "外国人永久居留身份证 2017 版 (I)",
    "外国人永久居留身份证 2023 版 (Y)",
)
