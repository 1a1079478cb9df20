"""The station's trust, kept in its database (the I/O side of :mod:`protocol.trust`).

The trust object itself decides and touches nothing; this module reads what the sync tables
keep and hands it over (:func:`read_trust`), and writes back a state the feed client has
made sure of (:func:`save_trust`):

- ``sync_trust`` (one row): ``root_key`` is the ``hub.public_key`` the chain started from
  (the anchor), ``trusted_key`` the root now, ``online_key`` / ``online_sequence`` the
  authorised online key (empty for a hub without roles), ``retired_keys`` a JSON list,
  ``rotations`` the key changes followed;
- ``sync_state.pinned_feed_id`` and ``sync_high_water``: the pinned feed and the highest
  version accepted per feed (written by the feed client with the content it applies).

The upgrader and the installer read the same state read-only (:func:`load_trust_state`).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

from content.db import durable
from protocol.trust import TrustError, TrustState

# Columns sync_trust gained with key roles (added in place to an older station's table).
ROLE_COLUMNS = {"online_key": "TEXT", "online_sequence": "INTEGER", "retired_keys": "TEXT"}


def add_role_columns(conn: sqlite3.Connection) -> None:
    """Migration step of the sync tables: the key-role columns of ``sync_trust``."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(sync_trust)")}
    for name, sql_type in ROLE_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE sync_trust ADD COLUMN {name} {sql_type}")


def _rows(conn: sqlite3.Connection, sql: str) -> list[Any]:
    try:
        return list(conn.execute(sql))
    except sqlite3.OperationalError as exc:
        if "no such" in str(exc):  # tables (or the role columns) not there yet: a new or older station
            return []
        raise


def read_trust(conn: sqlite3.Connection, anchor: str, *, feed_id_setting: str = "") -> TrustState:
    """The state kept in the station database, for ``hub.public_key`` = ``anchor`` (an open
    connection; tables not there yet = a new station)."""
    trust = _rows(conn, "SELECT root_key, trusted_key, rotations, online_key, online_sequence, retired_keys "
                        "FROM sync_trust WHERE id = 1")
    if not trust:  # an older station's table, before the role columns
        trust = [(*row, None, None, None) for row in _rows(conn, "SELECT root_key, trusted_key, rotations "
                                                                 "FROM sync_trust WHERE id = 1")]
    pinned = _rows(conn, "SELECT pinned_feed_id FROM sync_state WHERE id = 1")
    high = {str(r[0]): int(r[1]) for r in _rows(conn, "SELECT feed_id, version FROM sync_high_water")}
    stored: dict[str, Any] = {"anchor": anchor, "pinned_feed_id": pinned[0][0] if pinned else "", "high_water": high}
    if trust:
        kept_anchor, root, rotations, online, sequence, retired = tuple(trust[0])
        if retired is None:  # kept by the first release: only the anchor was known to be retired
            retired = json.dumps([kept_anchor] if root != kept_anchor else [])
        stored.update(anchor=kept_anchor, root_key=root, rotations=rotations or 0, online_key=online or "",
                      online_sequence=sequence or 0, retired_keys=json.loads(retired))
    return TrustState.restore(anchor, stored, feed_id_setting=feed_id_setting)


def save_trust(conn: sqlite3.Connection, state: TrustState) -> None:
    """Keep the key part of ``state`` (the feed part is kept with the content applied)."""
    with durable(conn):
        conn.execute(
            "INSERT INTO sync_trust (id, root_key, trusted_key, rotations, changed_at, online_key, online_sequence,"
            " retired_keys) VALUES (1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " root_key = excluded.root_key, trusted_key = excluded.trusted_key, rotations = excluded.rotations,"
            " changed_at = excluded.changed_at, online_key = excluded.online_key,"
            " online_sequence = excluded.online_sequence, retired_keys = excluded.retired_keys",
            (state.anchor, state.root_key, state.rotations, dt.datetime.now().astimezone().isoformat(timespec="seconds"),
             state.online_key, state.online_sequence, json.dumps(list(state.retired_keys))))


def load_trust_state(db_path: str | Path, *, root_key: str, feed_id: str = "") -> TrustState:
    """The station's current trust, read-only from its database ``db_path`` (``settings.db_path``:
    ``<storage.data_dir>/station.db``), for the upgrader and the installer. ``root_key`` is
    ``hub.public_key`` (the anchor) and ``feed_id`` is ``hub.feed_id`` from the settings.

    No database yet (a new station) gives the state at the anchor. A database that exists but
    cannot be read raises :class:`TrustError` (``trust_unreadable``): falling back to the
    anchor would trust a key the station may have retired."""
    path = Path(db_path)
    if not path.exists():
        return TrustState.start(root_key, feed_id=feed_id)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return read_trust(conn, root_key, feed_id_setting=feed_id)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise TrustError(f"cannot read the station's trusted key from {path}: {exc}", "trust_unreadable") from None
