"""One resident's visit at the kiosk: who is here (from the ID card) and what they are doing.

The session is the only place the kiosk keeps personal data, and it keeps it only as long
as the visit: :meth:`Session.clear` (called on the idle reset, on 结束 and after an
unexpected error) drops every reference. Its repr and every text meant for a screen or a
log use the masked forms from :mod:`common.privacy`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from common.privacy import mask_address, mask_id_number, mask_name


@dataclass(eq=False)
class Resident:
    """The resident whose ID card was read. Never printed or logged in clear."""

    name: str
    gender: str
    birth_date: dt.date
    address: str
    id_number: str
    nation: str = ""
    valid_to: dt.date | None = None  # None = 长期

    @classmethod
    def from_card(cls, card: Any) -> Resident:
        """Copy what the kiosk needs from an ``idcard.card.IdentityCard`` (or anything alike)."""
        return cls(
            name=str(card.name), gender=str(card.gender), birth_date=card.birth_date,
            address=str(getattr(card, "address", "") or ""), id_number=str(card.id_number),
            nation=str(getattr(card, "nation", "") or ""), valid_to=getattr(card, "valid_to", None),
        )

    def age(self, on: dt.date) -> int:
        years = on.year - self.birth_date.year
        if (on.month, on.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def is_expired(self, today: dt.date) -> bool:
        return self.valid_to is not None and self.valid_to < today

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_address(self) -> str:
        return mask_address(self.address)

    @property
    def title(self) -> str:
        """How the kiosk addresses the resident: ``张*先生`` / ``李*女士``."""
        suffix = {"男": "先生", "女": "女士"}.get(self.gender, "")
        return self.masked_name + suffix

    def __repr__(self) -> str:
        return f"Resident(name={self.masked_name!r}, id_number={self.masked_id!r})"

    __str__ = __repr__


@dataclass
class Session:
    """The current visit. ``clear()`` forgets everything about the resident."""

    resident: Resident | None = None
    started: float = field(default_factory=time.monotonic)
    # Registration in progress (kiosk.forms.FormState) - guarded by the idle countdown.
    form: Any = None
    # Where each training video was left, so that it resumes within the same visit.
    video_positions: dict[str, float] = field(default_factory=dict)
    # The last registration receipt code, shown on the confirmation screen.
    last_receipt: Any = None
    staff: bool = False

    @property
    def has_resident(self) -> bool:
        return self.resident is not None

    @property
    def busy(self) -> bool:
        """Whether there is anything to lose: a resident, a form, a staff login or video progress."""
        return bool(self.resident or self.form or self.staff or self.video_positions or self.last_receipt)

    def begin(self, resident: Resident) -> None:
        """A card was read: a new resident replaces whoever was here (and their form)."""
        self.clear()
        self.resident = resident

    def clear(self) -> None:
        self.resident = None
        self.form = None
        self.video_positions = {}
        self.last_receipt = None
        self.staff = False
        self.started = time.monotonic()

    def __repr__(self) -> str:
        return f"Session(resident={self.resident!r}, form={'yes' if self.form else 'no'}, staff={self.staff})"
