"""Login throttling: growing delays per client address and per user name, never a lock.

A lock after N wrong passwords lets anyone lock anyone out (the administrator included) by
typing their name. Instead, each failed login is counted twice: for the client's address
and for the user name typed, whether or not such a user exists (so the answer to a delayed
attempt says nothing about which names are real). The first ``FREE`` failures cost nothing;
after that the next attempt on that key must wait 2, 4, 8 … seconds, up to a cap: 15
minutes for an address (a guesser's own address pays), one minute for a name (so the real
user, from another address, is kept out for at most a minute however hard someone else
tries). A key is forgotten an hour after its last failure; a successful login forgets the
name's count. Attempts refused for waiting are not counted and verify no password.
The counts live in the database, so every gunicorn worker sees the same ones; time is the
console's injected clock. The upload API's refused station tokens are counted in the same
table (:func:`api_token_wait`), per client address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.console.core import iso
from hub.console.schema import login_throttle
from hub.db import writing

FREE = 5
ADDRESS_CAP = dt.timedelta(minutes=15)
NAME_CAP = dt.timedelta(minutes=1)
FORGET = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Key:
    digest: str
    cap: dt.timedelta


def address_key(address: str) -> Key:
    return Key(_sha(f"addr:{address}"), ADDRESS_CAP)


def name_key(username: str) -> Key:
    return Key(_sha(f"user:{username.strip().lower()[:200]}"), NAME_CAP)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def delay(failures: int, cap: dt.timedelta) -> dt.timedelta:
    """How long after the last failure the next attempt must wait."""
    if failures < FREE:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=2 ** min(failures - FREE + 1, 30)), cap)


def wait_seconds(engine: Engine, keys: Sequence[Key], now: dt.datetime) -> int:
    """Seconds until an attempt on all of ``keys`` is allowed (0: now)."""
    by_digest = {k.digest: k for k in keys}
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(login_throttle).where(login_throttle.c.key_sha256.in_(by_digest))))
    wait = 0.0
    for row in rows:
        last = dt.datetime.fromisoformat(row.last_failed_at)
        if now - last >= FORGET:
            continue
        remaining = (last + delay(row.failures, by_digest[row.key_sha256].cap) - now).total_seconds()
        wait = max(wait, remaining)
    return math.ceil(wait) if wait > 0 else 0


def record_failure(engine: Engine, keys: Sequence[Key], now: dt.datetime) -> None:
    stamp = iso(now)
    t = login_throttle
    with writing(engine) as conn:
        # Forget what is old (the table holds at most an hour of failures).
        conn.execute(t.delete().where(t.c.last_failed_at < iso(now - FORGET)))
        for key in keys:
            row = conn.execute(sa.select(t.c.failures).where(t.c.key_sha256 == key.digest)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(t.insert().values(key_sha256=key.digest, failures=1, last_failed_at=stamp))
                    continue
                except sa.exc.IntegrityError:  # PostgreSQL: another worker counted this key first
                    pass
            conn.execute(t.update().where(t.c.key_sha256 == key.digest)
                         .values(failures=t.c.failures + 1, last_failed_at=stamp))


def forget(engine: Engine, keys: Sequence[Key]) -> None:
    with writing(engine) as conn:
        conn.execute(login_throttle.delete().where(login_throttle.c.key_sha256.in_([k.digest for k in keys])))


# Refused upload tokens per client address, for hubs served without waitress's header guard
# (gunicorn): counted in the same table, so every worker process sees one count. A fixed
# window: the first refusal opens it; the 21st refusal within it waits until it closes.
API_TOKEN_LIMIT = 20
API_TOKEN_WINDOW = dt.timedelta(seconds=60)


def api_key(address: str) -> Key:
    return Key(_sha(f"api-token:{address}"), API_TOKEN_WINDOW)


def api_token_wait(engine: Engine, address: str, now: dt.datetime) -> int:
    """Seconds an address must wait before its next unknown token is even looked at (0: now)."""
    key = api_key(address)
    with engine.connect() as conn:
        row = conn.execute(sa.select(login_throttle).where(login_throttle.c.key_sha256 == key.digest)).first()
    if row is None or row.failures < API_TOKEN_LIMIT:
        return 0
    remaining = (dt.datetime.fromisoformat(row.last_failed_at) + API_TOKEN_WINDOW - now).total_seconds()
    return math.ceil(remaining) if remaining > 0 else 0


def record_api_token_failure(engine: Engine, address: str, now: dt.datetime) -> None:
    """Count one refused token for ``address`` (``last_failed_at`` holds when its window opened)."""
    key = api_key(address)
    t = login_throttle
    with writing(engine) as conn:
        row = conn.execute(sa.select(t.c.failures, t.c.last_failed_at).where(t.c.key_sha256 == key.digest)).first()
        if row is not None and now - dt.datetime.fromisoformat(row.last_failed_at) < API_TOKEN_WINDOW:
            conn.execute(t.update().where(t.c.key_sha256 == key.digest).values(failures=t.c.failures + 1))
            return
        if row is not None:
            conn.execute(t.update().where(t.c.key_sha256 == key.digest).values(failures=1, last_failed_at=iso(now)))
            return
        try:
            with conn.begin_nested():
                conn.execute(t.insert().values(key_sha256=key.digest, failures=1, last_failed_at=iso(now)))
        except sa.exc.IntegrityError:  # another worker opened the window first
            conn.execute(t.update().where(t.c.key_sha256 == key.digest).values(failures=t.c.failures + 1))
