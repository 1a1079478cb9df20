"""The reader's status word SW3: what each value means, in English for logs and in
Chinese for the resident or staff member in front of the kiosk.

The table is data, not ``if`` chains, so a new vendor code is one line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Status:
    """One SW3 value. ``name`` is a stable short code used in events and logs."""

    code: int
    name: str
    en: str
    zh: str

    @property
    def ok(self) -> bool:
        return self.code in (SUCCESS, FIND_CARD_SUCCESS)

    def __str__(self) -> str:
        return f"0x{self.code:02X} {self.en}"


SUCCESS = 0x90
FIND_CARD_SUCCESS = 0x9F
NO_CONTENT = 0x91
NO_CARD = 0x80
SELECT_FAILED = 0x81
READ_FAILED = 0x41
SAM_SELF_TEST_FAILED = 0x60

ASK_TO_REPLACE = "读卡失败，请重新放置身份证"
ASK_FOR_STAFF = "读卡器故障，请联系工作人员"

_TABLE: tuple[tuple[int, str, str, str], ...] = (
    (0x90, "ok", "success", "操作成功"),
    (0x9F, "card_found", "card found", "已找到身份证"),
    (0x91, "no_content", "no such content on the card", "证件中没有此项信息"),
    (0x10, "bad_checksum_received", "the reader received data with a wrong checksum", "读卡器通信异常，正在重试"),
    (0x11, "bad_length_received", "the reader received data with a wrong length", "读卡器通信异常，正在重试"),
    (0x21, "bad_command", "the reader does not know this command", ASK_FOR_STAFF),
    (0x23, "unauthorised", "operation not authorised", ASK_FOR_STAFF),
    (0x24, "unrecognised_error", "unrecognised error in the reader", ASK_FOR_STAFF),
    (0x31, "card_auth_sam_failed", "the card failed to authenticate the SAM", ASK_TO_REPLACE),
    (0x32, "sam_auth_card_failed", "the SAM failed to authenticate the card", "无法验证此证件，请重新放置或联系工作人员"),
    (0x33, "verification_failed", "information verification error", ASK_TO_REPLACE),
    (0x40, "unknown_card_type", "unrecognised card type", "无法识别的证件类型，请放置居民身份证"),
    (0x41, "read_failed", "reading the card failed", ASK_TO_REPLACE),
    (0x47, "random_number_failed", "random number generation failed", ASK_TO_REPLACE),
    (0x60, "sam_self_test_failed", "the SAM self-test failed", "读卡器自检失败，请联系工作人员"),
    (0x66, "sam_not_authorised", "the SAM is not authorised", "读卡器未授权，请联系工作人员"),
    (0x80, "no_card", "no card found", "请将身份证放在感应区"),
    (0x81, "select_failed", "selecting the card failed", "请将身份证放稳，不要移动"),
)

STATUSES: dict[int, Status] = {code: Status(code, name, en, zh) for code, name, en, zh in _TABLE}


def lookup(code: int) -> Status:
    """The :class:`Status` for an SW3 value; unknown values get a generic but honest entry."""
    found = STATUSES.get(code)
    if found is not None:
        return found
    return Status(code, f"unknown_{code:02x}", f"unknown status 0x{code:02X}", ASK_FOR_STAFF)


# Problems below the status word (the bytes themselves), for events and messages.
TRANSPORT_MESSAGES: dict[str, tuple[str, str]] = {
    "timeout": ("no reply from the reader", "读卡器无响应，正在重试"),
    "checksum": ("reply with a wrong checksum", "读卡器通信异常，正在重试"),
    "length": ("reply with a wrong length", "读卡器通信异常，正在重试"),
    "truncated": ("reply cut short", "读卡器通信异常，正在重试"),
    "overlong": ("reply announcing an impossible length", "读卡器通信异常，正在重试"),
    "preamble": ("reply without the preamble", "读卡器通信异常，正在重试"),
    "unexpected_reply": ("reply that does not fit the command", "读卡器通信异常，正在重试"),
    "card_data": ("card text that does not validate", "无法识别此证件信息，请联系工作人员"),
}
