"""The console's tables, declared with SQLAlchemy Core and created by the hub's migration runner.

Every table here belongs to the console (owner ``console`` in ``schema_migrations``). The
DDL comes from SQLAlchemy, so one declaration gives SQLite and standard PostgreSQL the same
schema (autoincrement keys, indexes); times are ISO 8601 UTC strings like the hub's own
``stations``/``uploads`` tables, so they sort as text on both.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.db import Migrations, register

metadata = sa.MetaData()
S = sa.String

users = sa.Table(
    "console_users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", S(64), nullable=False, unique=True),
    sa.Column("display_name", S(64), nullable=False, server_default=""),
    sa.Column("password_hash", S(200), nullable=False),
    sa.Column("roles", S(200), nullable=False, server_default=""),  # comma-separated role codes
    sa.Column("active", sa.Integer, nullable=False, server_default="1"),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", S(40)),
    sa.Column("must_change_password", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", S(40), nullable=False),
    sa.Column("last_login_at", S(40)),
)

sessions = sa.Table(
    "console_sessions", metadata,
    sa.Column("token_sha256", S(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", S(40), nullable=False),
    sa.Column("last_seen_at", S(40), nullable=False),
    sa.Column("ended_at", S(40)),
)

audit_log = sa.Table(
    "console_audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", S(40), nullable=False),
    sa.Column("username", S(64), nullable=False),
    sa.Column("action", S(64), nullable=False),
    sa.Column("target", S(200), nullable=False, server_default=""),
    sa.Column("detail", S(500), nullable=False, server_default=""),
    sa.Column("address", S(64), nullable=False, server_default=""),
    sa.Index("console_audit_by_time", "at"),
)

feed_groups = sa.Table(
    "console_feed_groups", metadata,
    sa.Column("feed_id", S(64), primary_key=True),
    sa.Column("title", S(100), nullable=False, server_default=""),
    sa.Column("regions", S(500), nullable=False, server_default=""),   # comma-separated GB/T 2260 codes
    sa.Column("stations", S(2000), nullable=False, server_default=""),  # comma-separated station ids
    sa.Column("created_at", S(40), nullable=False),
)

employers = sa.Table(
    "console_employers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", S(100), nullable=False),
    sa.Column("uscc", S(18), nullable=False, unique=True),  # 统一社会信用代码
    sa.Column("region", S(12), nullable=False, server_default=""),
    sa.Column("contact", S(64), nullable=False, server_default=""),
    sa.Column("status", S(16), nullable=False, server_default="待核验"),
    sa.Column("note", S(500), nullable=False, server_default=""),
    sa.Column("created_at", S(40), nullable=False),
    sa.Column("updated_at", S(40), nullable=False),
    sa.Column("updated_by", S(64), nullable=False, server_default=""),
    # Where the employer is (from its address, as for jobs): a job of theirs that cannot be
    # placed is offered this position.
    sa.Column("address", S(200), nullable=False, server_default=""),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("geo_precision", S(40), nullable=False, server_default=""),
    sa.Column("geo_flag", S(200), nullable=False, server_default=""),
)

# One row per content record (kind + record id). ``data`` is the newest version (maybe
# waiting for review); ``live_data`` the last approved one, which is what gets published.
items = sa.Table(
    "console_items", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", S(16), nullable=False),
    sa.Column("record_id", S(64), nullable=False),
    sa.Column("feed_id", S(64), nullable=False),
    sa.Column("title", S(200), nullable=False, server_default=""),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", S(16), nullable=False),  # pending / approved / rejected / withdrawn
    sa.Column("author", S(64), nullable=False),
    sa.Column("updated_at", S(40), nullable=False),
    sa.Column("reviewer", S(64)),
    sa.Column("reviewed_at", S(40)),
    sa.Column("reject_reason", S(500)),
    sa.Column("live_data", sa.Text),
    sa.Column("live_digest", S(64)),
    sa.Column("live_until", S(10)),  # a job's valid_until: expired jobs leave the feed
    sa.Column("import_batch", sa.Integer),
    # A job's position: how precise (the geocoder's level, or how it was chosen) and, when it
    # is a stand-in (no geocoder, or it failed), why the reviewer should check it.
    sa.Column("geo_precision", S(40), nullable=False, server_default=""),
    sa.Column("geo_flag", S(200), nullable=False, server_default=""),
    sa.UniqueConstraint("kind", "record_id", name="console_items_record"),
    sa.Index("console_items_by_state", "state", "id"),
    sa.Index("console_items_by_feed", "feed_id", "kind"),
)

item_versions = sa.Table(
    "console_item_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("console_items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("author", S(64), nullable=False),
    sa.Column("created_at", S(40), nullable=False),
    sa.Column("outcome", S(16), nullable=False, server_default="pending"),
    sa.Column("reviewer", S(64)),
    sa.Column("reason", S(500)),
    sa.Index("console_item_versions_by_item", "item_id", "version"),
)

import_batches = sa.Table(
    "console_import_batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("file_name", S(200), nullable=False),
    sa.Column("kind", S(16), nullable=False),
    sa.Column("feed_id", S(64), nullable=False),
    sa.Column("author", S(64), nullable=False),
    sa.Column("at", S(40), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("accepted", sa.Integer, nullable=False),
    sa.Column("unchanged", sa.Integer, nullable=False),
    sa.Column("refused", sa.Integer, nullable=False),
    sa.Column("report", sa.Text, nullable=False),  # JSON list of {row, id, reason}
)

publications = sa.Table(
    "console_publications", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("feed_id", S(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("at", S(40), nullable=False),
    sa.Column("by_user", S(64), nullable=False),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("added", sa.Integer, nullable=False),
    sa.Column("changed", sa.Integer, nullable=False),
    sa.Column("removed", sa.Integer, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
    sa.Index("console_publications_by_feed", "feed_id", "version"),
)

# What the last publication of each feed carried: item key -> digest (for the diff).
published_items = sa.Table(
    "console_published_items", metadata,
    sa.Column("feed_id", S(64), primary_key=True),
    sa.Column("item_key", S(100), primary_key=True),
    sa.Column("digest", S(64), nullable=False),
)

schedules = sa.Table(
    "console_schedules", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("feed_id", S(64), nullable=False),
    sa.Column("due_at", S(40), nullable=False),
    sa.Column("by_user", S(64), nullable=False),
    sa.Column("state", S(16), nullable=False, server_default="waiting"),  # waiting / running / done / failed / cancelled
    sa.Column("result", S(500), nullable=False, server_default=""),
    sa.Column("claimed_at", S(40), nullable=False, server_default=""),  # when a scheduler took it (step 4)
    sa.Index("console_schedules_due", "state", "due_at"),
)

# Registrations as the console sees them: one row per registration upload (the payload
# stays in ``uploads``), with follow-up status and the hand-off batch it left in.
registrations = sa.Table(
    "console_registrations", metadata,
    sa.Column("upload_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("station_id", S(64), nullable=False),
    sa.Column("reg_kind", S(16), nullable=False),
    sa.Column("code", S(16), nullable=False, server_default=""),
    sa.Column("received_at", S(40), nullable=False),
    sa.Column("status", S(16), nullable=False, server_default="待跟进"),
    sa.Column("note", S(500), nullable=False, server_default=""),
    sa.Column("updated_at", S(40)),
    sa.Column("updated_by", S(64)),
    sa.Column("handoff_id", sa.Integer),
    sa.Column("purged_at", S(40)),
    sa.Index("console_registrations_by_time", "received_at"),
    sa.Index("console_registrations_by_station", "station_id", "received_at"),
    sa.Index("console_registrations_by_kind", "reg_kind", "received_at"),
    sa.Index("console_registrations_by_status", "status", "received_at"),
)

handoffs = sa.Table(
    "console_handoffs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", S(40), nullable=False),
    sa.Column("by_user", S(64), nullable=False),
    sa.Column("format", S(8), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("sha256", S(64), nullable=False),
    sa.Column("acked_at", S(40)),
    sa.Column("purged", sa.Integer, nullable=False, server_default="0"),
)

# Service counts per station and month (YYYY-MM, local time), folded in from registrations,
# usage events and proof of play: what the 台账 and 服务成效表 are made of. Station "*" holds
# the totals of all stations, kept as the counts are folded, so the 成效表 reads a few rows.
service_counts = sa.Table(
    "console_service_counts", metadata,
    sa.Column("station_id", S(64), primary_key=True),
    sa.Column("month", S(7), primary_key=True),
    sa.Column("metric", S(32), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Index("console_service_counts_by_month", "month"),
)

# How far the console has read the hub's ``uploads`` table (highest upload id folded in).
watermarks = sa.Table(
    "console_watermarks", metadata,
    sa.Column("name", S(32), primary_key=True),
    sa.Column("upto", sa.Integer, nullable=False),
)


# Failed logins: one row per client address and one per user name tried (known or not), keyed
# by the SHA-256 of "addr:…" / "user:…" so that what someone typed as a name is not kept.
# Made by step 5 (not by _create_all, which must stay what step 1 made).
_throttle_metadata = sa.MetaData()
login_throttle = sa.Table(
    "console_login_throttle", _throttle_metadata,
    sa.Column("key_sha256", S(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failed_at", S(40), nullable=False),
)


# Every geocoder answer, by address: an address is asked once.
geocode_cache = sa.Table(
    "console_geocode_cache", metadata,
    sa.Column("address", S(200), primary_key=True),
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    sa.Column("precision", S(40), nullable=False),
    sa.Column("source", S(40), nullable=False),
    sa.Column("at", S(40), nullable=False),
)


def _create_all(conn: Connection) -> None:
    metadata.create_all(conn)
    conn.execute(watermarks.insert().values(name="uploads", upto=0))


# Step 2, for a province (a million registrations, 3 000 stations): lists filtered by station
# and kind at once, and the monthly ledger read from the index alone.
_STEP2 = """
CREATE INDEX console_registrations_by_station_kind ON console_registrations (station_id, reg_kind, received_at);
CREATE INDEX console_service_counts_month_rows ON console_service_counts (month, station_id, metric, n)
"""

# Step 3: the day the retention purge last ran, claimed by one worker per day (see
# publishing.claim_daily) so that gunicorn's N schedulers purge once, not N times.
_STEP3 = "INSERT INTO console_watermarks (name, upto) VALUES ('daily_purge', 0)"



def _step4(conn: Connection) -> None:
    """When a scheduler claimed each schedule, so that one its process never finished can be
    told apart (publishing.RUNNING_LIMIT). A database made at step 1 by this code has it already."""
    columns = {c["name"] for c in sa.inspect(conn).get_columns("console_schedules")}
    if "claimed_at" not in columns:
        conn.execute(sa.text("ALTER TABLE console_schedules ADD COLUMN claimed_at VARCHAR(40) NOT NULL DEFAULT ''"))


def _step5(conn: Connection) -> None:
    """Failed logins per client address and per user name (``hub.console.throttle``)."""
    login_throttle.create(conn, checkfirst=True)


def _step6(conn: Connection) -> None:
    """Positions from addresses: the geocoder's cache, a job's precision and its 位置待核实 flag."""
    geocode_cache.create(conn, checkfirst=True)
    columns = {c["name"] for c in sa.inspect(conn).get_columns("console_items")}
    for name, size in (("geo_precision", 40), ("geo_flag", 200)):
        if name not in columns:
            conn.execute(sa.text(f"ALTER TABLE console_items ADD COLUMN {name} VARCHAR({size}) NOT NULL DEFAULT ''"))


def _step7(conn: Connection) -> None:
    """Employers' addresses and positions."""
    columns = {c["name"] for c in sa.inspect(conn).get_columns("console_employers")}
    for name, kind in (("address", "VARCHAR(200) NOT NULL DEFAULT ''"), ("latitude", "FLOAT"), ("longitude", "FLOAT"),
                       ("geo_precision", "VARCHAR(40) NOT NULL DEFAULT ''"),
                       ("geo_flag", "VARCHAR(200) NOT NULL DEFAULT ''")):
        if name not in columns:
            conn.execute(sa.text(f"ALTER TABLE console_employers ADD COLUMN {name} {kind}"))


MIGRATIONS = register(Migrations("console", [_create_all, _STEP2, _STEP3, _step4, _step5, _step6, _step7]))
