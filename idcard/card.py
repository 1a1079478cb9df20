"""The card's 256-byte text block (UCS-2 little-endian) and the :class:`IdentityCard` value.

Four layouts share the block, told apart by the character at bytes 248-249:
a space for the resident ID card, ``J`` for the Hong Kong/Macao/Taiwan residents'
residence permit, ``I`` for the 2017 foreigner's permanent residence card and ``Y`` for
the 2023 one. Fields are padded with spaces; only trailing padding is removed, because
names may contain inner spaces or ``·``.

Parsing validates what it reads (ID number check character, birth date agreeing with the
number, gender agreeing with the order code, dates that exist): a card whose text does
not validate raises :class:`~idcard.errors.CardDataError` and is not trusted.
Everything that prints a card masks it (name ``张*三``, ID ``4401**********123X``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any

from common.privacy import mask_address, mask_id_number, mask_name
from idcard import idnumber
from idcard.errors import CardDataError

TEXT_SIZE = 256
PHOTO_SIZE = 1024
NEWEST_ADDRESS_SIZE = 70
NO_EXPIRY = "长期"

# GB 3304: codes of China's nationalities as printed on the card (without the trailing 族).
NATIONS: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝", "08": "壮",
    "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白", "15": "土家", "16": "哈尼",
    "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤", "22": "畲", "23": "高山", "24": "拉祜",
    "25": "水", "26": "东乡", "27": "纳西", "28": "景颇", "29": "柯尔克孜", "30": "土", "31": "达斡尔",
    "32": "仫佬", "33": "羌", "34": "布朗", "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯",
    "39": "阿昌", "40": "普米", "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克",
    "46": "德昂", "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春",
    "53": "赫哲", "54": "门巴", "55": "珞巴", "56": "基诺", "97": "其他", "98": "外国血统中国籍人士",
}
NATION_CODES = {name: code for code, name in NATIONS.items()}

# GB/T 2261.1 gender codes.
GENDERS: dict[str, str] = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}
GENDER_CODES = {name: code for code, name in GENDERS.items()}


class CardType(enum.StrEnum):
    """The kind of card, with its marker character in the text block and its Chinese name."""

    RESIDENT = "resident"
    HMT_PERMIT = "hmt_permit"
    FOREIGN_2017 = "foreign_2017"
    FOREIGN_2023 = "foreign_2023"

    @property
    def marker(self) -> str:
        return _MARKERS[self]

    @property
    def label_zh(self) -> str:
        return _LABELS[self]


_MARKERS = {CardType.RESIDENT: " ", CardType.HMT_PERMIT: "J", CardType.FOREIGN_2017: "I", CardType.FOREIGN_2023: "Y"}
_LABELS = {
    CardType.RESIDENT: "居民身份证",
    CardType.HMT_PERMIT: "港澳台居民居住证",
    CardType.FOREIGN_2017: "外国人永久居留身份证（2017版）",
    CardType.FOREIGN_2023: "外国人永久居留身份证（2023版）",
}

# Layouts: (field, byte offset, byte size). Fields not listed are reserved and sent as spaces.
LAYOUTS: dict[CardType, tuple[tuple[str, int, int], ...]] = {
    CardType.RESIDENT: (
        ("name", 0, 30), ("gender", 30, 2), ("nation", 32, 4), ("birth", 36, 16), ("address", 52, 70),
        ("id_number", 122, 36), ("authority", 158, 30), ("valid_from", 188, 16), ("valid_to", 204, 16),
    ),
    CardType.HMT_PERMIT: (
        ("name", 0, 30), ("gender", 30, 2), ("birth", 36, 16), ("address", 52, 70),
        ("id_number", 122, 36), ("authority", 158, 30), ("valid_from", 188, 16), ("valid_to", 204, 16),
        ("permit_number", 220, 18), ("issue_count", 238, 4), ("type", 248, 2),
    ),
    CardType.FOREIGN_2017: (
        ("english_name", 0, 120), ("gender", 120, 2), ("id_number", 122, 30), ("nationality", 152, 6),
        ("name", 158, 30), ("valid_from", 188, 16), ("valid_to", 204, 16), ("birth", 220, 16),
        ("card_version", 236, 4), ("authority", 240, 8), ("type", 248, 2),
    ),
    # 2023 layout as described in the national immigration administration's adaptation notes;
    # the English name continues at 220 when it is longer than 35 characters.
    CardType.FOREIGN_2023: (
        ("name", 0, 30), ("gender", 30, 2), ("issue_count", 32, 4), ("birth", 36, 16),
        ("english_name", 52, 70), ("id_number", 122, 36), ("authority", 158, 30),
        ("valid_from", 188, 16), ("valid_to", 204, 16), ("english_name_more", 220, 22),
        ("nationality", 242, 6), ("type", 248, 2),
    ),
}

_FIELD_LABELS = {
    "name": "name", "gender": "gender code", "nation": "nation code", "birth": "birth date",
    "address": "address", "id_number": "ID number", "authority": "issuing authority",
    "valid_from": "valid-from date", "valid_to": "valid-to date", "permit_number": "permit number",
    "issue_count": "issue count", "english_name": "English name", "english_name_more": "English name",
    "nationality": "nationality code", "card_version": "card version", "type": "card type",
}


@dataclass(frozen=True, repr=False)
class IdentityCard:
    """What a card says. ``valid_to`` is None for a card valid for life (长期).

    ``repr``/``str`` and :meth:`masked_dict` never show the name, number or address in clear.
    """

    card_type: CardType
    name: str
    gender: str
    nation: str
    birth_date: date
    address: str
    id_number: str
    authority: str
    valid_from: date
    valid_to: date | None
    newest_address: str = ""
    photo_wlt: bytes = b""
    fingerprint: bytes = b""
    english_name: str = ""
    nationality: str = ""
    permit_number: str = ""
    issue_count: str = ""
    card_version: str = ""
    photo_bmp: bytes = b""

    def age(self, on: date) -> int:
        """Age in whole years on a given day."""
        years = on.year - self.birth_date.year
        if (on.month, on.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def is_expired(self, today: date) -> bool:
        """True once the last valid day has passed. A 长期 card never expires."""
        return self.valid_to is not None and today > self.valid_to

    def masked_dict(self, today: date | None = None) -> dict[str, Any]:
        """Every field as plain data for JSON, personal data masked; photo as a byte count."""
        today = today or date.today()
        return {
            "card_type": self.card_type.value,
            "card_type_zh": self.card_type.label_zh,
            "name": mask_name(self.name),
            "english_name": mask_name(self.english_name),
            "gender": self.gender,
            "nation": self.nation,
            "nationality": self.nationality,
            "birth_date": f"{self.birth_date.year:04d}-**-**",
            "age": self.age(today),
            "address": mask_address(self.address),
            "newest_address": mask_address(self.newest_address),
            "id_number": mask_id_number(self.id_number),
            "permit_number": mask_id_number(self.permit_number),
            "issue_count": self.issue_count,
            "card_version": self.card_version,
            "authority": self.authority,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else NO_EXPIRY,
            "expired": self.is_expired(today),
            "photo_wlt_bytes": len(self.photo_wlt),
            "photo_decoded": bool(self.photo_bmp),
            "fingerprint_bytes": len(self.fingerprint),
        }

    def __repr__(self) -> str:
        valid_to = self.valid_to.isoformat() if self.valid_to else NO_EXPIRY
        return (f"IdentityCard({self.card_type.value}, name={mask_name(self.name)!r}, "
                f"id_number={mask_id_number(self.id_number)!r}, gender={self.gender!r}, "
                f"valid_to={valid_to}, photo={len(self.photo_wlt)} B)")

    def __str__(self) -> str:
        return f"{self.card_type.label_zh} {mask_name(self.name)} {mask_id_number(self.id_number)}"


# -- parsing -----------------------------------------------------------------------------


def card_type_of(text: bytes) -> CardType:
    """The card type from the marker at bytes 248-249."""
    marker = text[248:250]
    if marker in (b"\x20\x00", b"\x00\x00"):
        return CardType.RESIDENT
    for card_type in (CardType.HMT_PERMIT, CardType.FOREIGN_2017, CardType.FOREIGN_2023):
        if marker == card_type.marker.encode("utf-16-le"):
            return card_type
    raise CardDataError(f"unknown card type marker {marker.hex(' ').upper()} at bytes 248-249")


def _field(text: bytes, name: str, offset: int, size: int) -> str:
    try:
        value = text[offset : offset + size].decode("utf-16-le")
    except UnicodeDecodeError:
        raise CardDataError(f"{_FIELD_LABELS[name]} field (bytes {offset}-{offset + size - 1}) "
                            "is not valid UCS-2") from None
    return value.rstrip(" \x00")


def _date(value: str, name: str) -> date:
    if len(value) != 8 or not value.isdigit():
        raise CardDataError(f"{_FIELD_LABELS[name]} field is not 8 digits (YYYYMMDD)")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise CardDataError(f"{_FIELD_LABELS[name]} field is not a calendar date") from None


def parse_text(text: bytes, *, photo: bytes = b"", fingerprint: bytes = b"", newest_address: str = "",
               today: date | None = None) -> IdentityCard:
    """Parse and validate a 256-byte text block; raise :class:`CardDataError` if it is not trustworthy."""
    text = bytes(text)
    if len(text) != TEXT_SIZE:
        raise CardDataError(f"text block is {len(text)} bytes, expected {TEXT_SIZE}")
    card_type = card_type_of(text)
    raw = {name: _field(text, name, offset, size) for name, offset, size in LAYOUTS[card_type]}

    gender_code = raw["gender"]
    if gender_code not in GENDERS:
        raise CardDataError(f"gender code {gender_code!r} is not one of 0, 1, 2, 9")
    gender = GENDERS[gender_code]
    birth = _date(raw["birth"], "birth")
    valid_from = _date(raw["valid_from"], "valid_from")
    valid_to = None if raw["valid_to"] == NO_EXPIRY else _date(raw["valid_to"], "valid_to")
    if valid_to is not None and valid_to < valid_from:
        raise CardDataError("valid-to date is before the valid-from date")
    if birth > valid_from:
        raise CardDataError("birth date is after the valid-from date")

    nation = ""
    if card_type is CardType.RESIDENT:
        if raw["nation"] not in NATIONS:
            raise CardDataError(f"nation code {raw['nation']!r} is not in GB 3304")
        nation = NATIONS[raw["nation"]]

    number = raw["id_number"]
    _check_number(card_type, number, birth, gender_code, today)

    english = raw.get("english_name", "")
    if raw.get("english_name_more"):
        english += raw["english_name_more"]
    name = raw["name"] or english
    if not name.strip():
        raise CardDataError("name field is empty")
    return IdentityCard(
        card_type=card_type,
        name=name,
        gender=gender,
        nation=nation,
        birth_date=birth,
        address=raw.get("address", ""),
        id_number=number,
        authority=raw["authority"],
        valid_from=valid_from,
        valid_to=valid_to,
        newest_address=newest_address,
        photo_wlt=bytes(photo),
        fingerprint=bytes(fingerprint),
        english_name=english,
        nationality=raw.get("nationality", ""),
        permit_number=raw.get("permit_number", ""),
        issue_count=raw.get("issue_count", ""),
        card_version=raw.get("card_version", ""),
    )


def _check_number(card_type: CardType, number: str, birth: date, gender_code: str, today: date | None) -> None:
    try:
        if card_type is CardType.FOREIGN_2017:
            idnumber.validate_foreign_2017(number, today=today)
            if number[7:13] != birth.strftime("%y%m%d"):
                raise CardDataError("birth date field does not match the birth date in the permit number")
            return
        idnumber.validate(number, today=today)
    except idnumber.InvalidIdNumber as exc:
        raise CardDataError(f"ID number does not validate: {exc}") from None
    is_permit = number[:6] in idnumber.PERMIT_REGIONS
    is_foreign = idnumber.is_foreign_2023(number)
    if card_type is CardType.RESIDENT and (is_permit or is_foreign):
        raise CardDataError("a resident ID card carries a residence-permit or foreigner number")
    if card_type is CardType.HMT_PERMIT and not is_permit:
        raise CardDataError("a residence permit number starts with 810000, 820000 or 830000")
    if card_type is CardType.FOREIGN_2023 and not is_foreign:
        raise CardDataError("a 2023 permanent residence number starts with 9")
    if idnumber.birth_date(number) != birth:
        raise CardDataError("birth date field does not match the birth date in the ID number")
    if gender_code in ("1", "2") and GENDERS[gender_code] != idnumber.gender(number):
        raise CardDataError("gender field does not match the order code of the ID number")


def decode_newest_address(data: bytes) -> str:
    """The appended address from a 'read newest address' reply (UCS-2 LE, space padded)."""
    try:
        return bytes(data).decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError:
        raise CardDataError("newest address is not valid UCS-2") from None


# -- building (for the simulator and tests) ----------------------------------------------


def _put(block: bytearray, name: str, offset: int, size: int, value: str) -> None:
    encoded = value.encode("utf-16-le")
    if len(encoded) > size:
        raise ValueError(f"{_FIELD_LABELS[name]} holds {size // 2} characters, got {len(value)}")
    block[offset : offset + size] = encoded + " ".encode("utf-16-le") * ((size - len(encoded)) // 2)


def build_text_block(card: IdentityCard) -> bytes:
    """The 256-byte text block a reader would return for ``card`` (inverse of :func:`parse_text`)."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_SIZE // 2))
    english, english_more = card.english_name, ""
    if card.card_type is CardType.FOREIGN_2023 and len(english) > 35:
        english, english_more = english[:35], english[35:]
    gender_code = GENDER_CODES.get(card.gender)
    if gender_code is None:
        raise ValueError(f"gender must be one of {', '.join(GENDER_CODES)}, got {card.gender!r}")
    values = {
        "name": card.name if card.card_type is not CardType.FOREIGN_2017 or card.name != card.english_name else "",
        "gender": gender_code,
        "birth": card.birth_date.strftime("%Y%m%d"),
        "address": card.address,
        "id_number": card.id_number,
        "authority": card.authority,
        "valid_from": card.valid_from.strftime("%Y%m%d"),
        "valid_to": card.valid_to.strftime("%Y%m%d") if card.valid_to else NO_EXPIRY,
        "permit_number": card.permit_number,
        "issue_count": card.issue_count,
        "english_name": english,
        "english_name_more": english_more,
        "nationality": card.nationality,
        "card_version": card.card_version,
        "type": card.card_type.marker,
    }
    if card.card_type is CardType.RESIDENT:
        if card.nation not in NATION_CODES:
            raise ValueError(f"nation must be a GB 3304 name such as 汉, got {card.nation!r}")
        values["nation"] = NATION_CODES[card.nation]
    for name, offset, size in LAYOUTS[card.card_type]:
        _put(block, name, offset, size, values[name])
    return bytes(block)


def encode_newest_address(address: str) -> bytes:
    """A newest-address field: 70 bytes of UCS-2 LE, space padded."""
    block = bytearray(NEWEST_ADDRESS_SIZE)
    _put(block, "address", 0, NEWEST_ADDRESS_SIZE, address)
    return bytes(block)
