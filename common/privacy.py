"""Masking of personal data for screens, slips, logs and exceptions.

The rule of the house: an ID number, a name, a phone number or an address never appears
in clear in a log line, an exception or test output. Use these helpers wherever such a
value is shown or logged.
"""

from __future__ import annotations

import logging
import re

_ID_RE = re.compile(r"\b(\d{4})\d{10}(\d{3}[\dXx])\b")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_id_number(number: str) -> str:
    """``440106199001011234`` -> ``4401**********1234``. Short or odd input is masked whole."""
    number = (number or "").strip()
    if len(number) >= 15:
        return number[:4] + "*" * (len(number) - 8) + number[-4:]
    return "*" * len(number)


def mask_name(name: str) -> str:
    """``张三`` -> ``张*``; ``张三丰`` -> ``张*丰``; ``买买提·艾力`` -> ``买****力``."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``; other lengths keep only the last 4 digits."""
    digits = (phone or "").strip()
    if len(digits) == 11:
        return digits[:3] + "****" + digits[-4:]
    if len(digits) > 4:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "*" * len(digits)


def mask_address(address: str) -> str:
    """Keep the first 6 characters (province/city/district), mask the rest."""
    address = (address or "").strip()
    if len(address) <= 6:
        return address[:2] + "*" * max(0, len(address) - 2)
    return address[:6] + "*" * min(8, len(address) - 6)


def scrub(text: str) -> str:
    """Mask anything in free text that looks like an ID number or a mobile number."""
    text = _ID_RE.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


class ScrubbingFilter(logging.Filter):
    """A logging filter that masks ID and phone numbers in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_scrubbing(logger: logging.Logger | None = None) -> None:
    """Attach :class:`ScrubbingFilter` to every handler of ``logger`` (the root by default)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, ScrubbingFilter) for f in handler.filters):
            handler.addFilter(ScrubbingFilter())
