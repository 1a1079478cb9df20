"""Proof of play: every segment and video the board showed (what, when, for how long) -> the outbox.

The board adds a :class:`Play` to a :class:`PlayBuffer` when something leaves the screen
(or is skipped). The buffer writes its plays to the station's outbox in one durable
transaction per batch (content/outbox.py), from the board's worker thread, when it holds
``max_plays`` plays or its oldest play is ``max_age_s`` old, and when the board stops. A
board changes segment every few seconds all day: one commit per play wrote ~16 KB each,
half of what a busy station wrote to its SD card in a day; a batch of 30 writes a few
pages. The price is that a power cut loses at most the last batch of plays (counts on
the report, never residents' data). Records reach the hub with the next sync; nothing
is deleted before the hub has acknowledged it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from content.outbox import OutboxTarget, RecordBuffer, proof_of_play_payload, record_proof_of_play

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


def _fields(play: Play, profile: str, content_version: int) -> dict[str, Any]:
    fields: dict[str, Any] = {"segment": play.segment, "status": play.status, "profile": profile,
                              "content_version": content_version, **play.extra}
    if play.reason:
        fields["reason"] = play.reason
    return fields


def record_play(target: OutboxTarget, play: Play, *, profile: str = "", content_version: int = 0) -> str:
    """Queue ``play`` in the outbox at once; returns the record's idempotency key."""
    return record_proof_of_play(target, play.item_kind, play.item_id, play.started_at,
                                play.duration_s, **_fields(play, profile, content_version))


class PlayBuffer(RecordBuffer):
    """The board's plays waiting to be written together (see the module docstring)."""

    def __init__(self, target: OutboxTarget, *, profile: str = "", max_plays: int = 30,
                 max_age_s: float = 300.0, monotonic: Callable[[], float]) -> None:
        super().__init__(target, "proof_of_play", max_records=max_plays, max_age_s=max_age_s,
                         monotonic=monotonic)
        self.profile = profile

    def add(self, play: Play, *, content_version: int = 0) -> bool:
        """Take ``play``; True when the batch is due to be flushed."""
        return self.add_payload(proof_of_play_payload(play.item_kind, play.item_id, play.started_at, play.duration_s,
                                                      **_fields(play, self.profile, content_version)))
