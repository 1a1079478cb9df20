"""Names where staff read: a feed group's title for its id, a station's name for its id, a
person's display name for a login name. Looked up once per request (``flask.g``) and offered
to every template as ``feed_name``, ``station_name``, ``person`` and ``region_name``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import g

from hub.console.core import console


def _table(key: str) -> dict[str, str]:
    cache: dict[str, dict[str, str]] = g.setdefault("console_names", {})
    if key not in cache:
        from hub.console.schema import feed_groups, users
        from hub.storage import stations_table

        query = {"feed": sa.select(feed_groups.c.feed_id, feed_groups.c.title),
                 "station": sa.select(stations_table.c.id, stations_table.c.name),
                 "person": sa.select(users.c.username, users.c.display_name)}[key]
        with console().engine.begin() as conn:
            cache[key] = {str(a): str(b) for a, b in conn.execute(query) if b}
    return cache[key]


def feed_name(feed_id: Any) -> str:
    if not feed_id:
        return "—"
    return _table("feed").get(str(feed_id), str(feed_id))


def station_name(station_id: Any) -> str:
    if not station_id:
        return "—"
    return _table("station").get(str(station_id), str(station_id))


def person(username: Any) -> str:
    """A console user's display name; names that are not users (数据导入, 命令行) as they are."""
    if not username:
        return "—"
    return _table("person").get(str(username), str(username))


def audit_target(target: Any) -> str:
    """An audit record's target as read: ``job:c-1`` is 岗位 c-1."""
    from hub.console.items import KIND_NAMES

    text = str(target or "")
    kind, sep, rest = text.partition(":")
    return f"{KIND_NAMES[kind]} {rest}" if sep and kind in KIND_NAMES else text


def region_name(code: Any) -> str:
    """A region code (GB/T 2260) as its name: 520103 is 贵州省贵阳市云岩区."""
    from hub.console.regions import region_name as name_of

    return name_of(str(code)) if code else "—"


HELPERS = {"feed_name": feed_name, "station_name": station_name, "person": person, "audit_target": audit_target,
           "region_name": region_name}
