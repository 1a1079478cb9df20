"""Proof of play: every segment and video the board showed (what, when, for how long) -> the outbox.

The board calls :func:`record_play` from its worker thread when something leaves the
screen (or is skipped). The record goes into the station's outbox in one durable
transaction (content/outbox.py) and reaches the hub with the next sync; nothing is
deleted before the hub has acknowledged it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from content.outbox import record_proof_of_play

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Play:
    """One showing. ``status``: played | interrupted | skipped (with ``reason``)."""

    item_kind: str  # jobs | policy | event | video | station | standby | urgent
    item_id: str
    started_at: dt.datetime
    duration_s: float
    segment: str = ""
    status: str = "played"
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def record_play(settings_or_db: Any, play: Play, *, profile: str = "", content_version: int = 0) -> str:
    """Queue ``play`` in the outbox; returns the record's idempotency key."""
    fields: dict[str, Any] = {"segment": play.segment, "status": play.status, "profile": profile,
                              "content_version": content_version, **play.extra}
    if play.reason:
        fields["reason"] = play.reason
    return record_proof_of_play(settings_or_db, play.item_kind, play.item_id, play.started_at,
                                play.duration_s, **fields)
