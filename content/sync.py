"""The feed sync, by its older name: :mod:`content.feed_client` (the client and the feed's health),
:mod:`content.uplink` (heartbeat and outbox delivery) and :mod:`content.sync_loop` (the loop).

Nothing is defined here; the names below are kept for the modules that import them from here.
"""

from __future__ import annotations

from content.feed_client import (
    BANNER_TEXT,
    REASONS,
    TABLES,
    FeedHealth,
    SyncClient,
    SyncProgress,
    SyncResult,
    ensure_sync_schema,
    feed_health,
    safe_url,
    stale_notices,
)
from content.sync_loop import SyncLoop, SyncStatus, read_status
from content.uplink import DeliveryResult, Sender

__all__ = ["BANNER_TEXT", "REASONS", "TABLES", "DeliveryResult", "FeedHealth", "Sender", "SyncClient", "SyncLoop",
           "SyncProgress", "SyncResult", "SyncStatus", "ensure_sync_schema", "feed_health", "read_status",
           "safe_url", "stale_notices"]
