"""Made tests/foundation/data/station_before_versions.db: run in a checkout of the code before versioned
migrations (commit 2a0c8b1), ``PYTHONPATH=. python make_station_before_versions.py OUT.db``."""
import sys, datetime as dt, sqlite3, shutil
from pathlib import Path
out = Path(sys.argv[1]); d = Path("/tmp/arch2_olddb"); shutil.rmtree(d, ignore_errors=True); d.mkdir()
db = d / "station.db"
from content.store import Store
from content.model import ContentSet
from content.registrations import submit_registration
from content.outbox import Outbox, record_usage
from printer.queue import PrintQueue
from content.sync import ensure_sync_schema
from content.db import connect, durable
from content.sample import sample_jobs, sample_policies
origin = (26.58, 106.71)
with Store(db, origin) as store:
    store.replace_content(ContentSet(jobs=sample_jobs(origin=origin, jobs=20), policies=sample_policies(dt.date(2026, 3, 1))), feed_id="gy", version=7)
PERSON = {"name": "赵六", "id_number": "520103197812120018", "phone": "13698765432"}
codes = [submit_registration(db, "求职", PERSON, {"n": i}, station_id="s1").code for i in range(3)]
record_usage(db, "search", query_len=2)
q = PrintQueue(db); q.submit("job", b"\x1b@slip", "岗位 1"); q.close()
conn = connect(db); ensure_sync_schema(conn)
with durable(conn):
    conn.execute("INSERT INTO sync_state (id, feed_url, feed_id, version, pinned_feed_id) VALUES (1, 'https://hub/feed/', 'gy', 7, 'gy')")
    conn.execute("INSERT INTO sync_high_water VALUES ('gy', 7)")
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.execute("VACUUM")
conn.close()
shutil.copy(db, out)
(out.parent / "outbox.key").write_bytes((d / "outbox.key").read_bytes())
print(codes)
