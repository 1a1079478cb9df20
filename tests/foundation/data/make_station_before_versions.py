"""Makes ``station_before_versions.db``: the database a station made before versioned migrations.

Run it in a checkout of that code (commit 2a0c8b1), from its top folder:
``PYTHONPATH=. python make_station_before_versions.py OUT.db``; it also writes ``outbox.key``
beside OUT.db (the data key the registrations were encrypted with).
"""

# content.sync exists only in the old code this script runs in: ruff cannot find it and would sort it as third-party.
from __future__ import annotations  # noqa: I001

import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

from content.sync import ensure_sync_schema  # type: ignore[attr-defined]  # the older code's

from content.db import connect, durable
from protocol.model import ContentSet
from content.outbox import record_usage
from content.registrations import submit_registration
from content.sample import sample_jobs, sample_policies
from content.store import Store
from printer.queue import PrintQueue

PERSON = {"name": "赵六", "id_number": "520103197812120018", "phone": "13698765432"}


def main(out: Path) -> None:
    folder = Path(tempfile.mkdtemp())
    db = folder / "station.db"
    origin = (26.58, 106.71)
    with Store(db, origin) as store:
        store.replace_content(ContentSet(jobs=sample_jobs(origin=origin, jobs=20),
                                         policies=sample_policies(dt.date(2026, 3, 1))), feed_id="gy", version=7)
    for i in range(3):
        submit_registration(db, "求职", PERSON, {"n": i}, station_id="s1")
    record_usage(db, "search", query_len=2)
    queue = PrintQueue(db)
    queue.submit("job", b"\x1b@slip", "岗位 1")
    queue.close()
    conn = connect(db)
    ensure_sync_schema(conn)
    with durable(conn):
        conn.execute("INSERT INTO sync_state (id, feed_url, feed_id, version, pinned_feed_id) "
                     "VALUES (1, 'https://hub/feed/', 'gy', 7, 'gy')")
        conn.execute("INSERT INTO sync_high_water VALUES ('gy', 7)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("VACUUM")
    conn.close()
    shutil.copy(db, out)
    shutil.copy(folder / "outbox.key", out.parent / "outbox.key")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
