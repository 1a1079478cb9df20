"""The outbox and registrations on the station: durable, encrypted, purged, and delivered in batches."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import time

import pytest
from feed_support import Hub, hub_toml

from config.station import Station, open_store
from content.db import connect, durable
from content.outbox import (
    Outbox,
    OutboxError,
    record_heartbeat,
    record_proof_of_play,
    record_usage,
)
from content.registrations import (
    CODE_ALPHABET,
    RegistrationError,
    count_registrations,
    grouped_code,
    purge_registrations,
    recent_registrations,
    submit_registration,
)

PERSON = {"name": "赵六", "id_number": "520103197812120018", "gender": "男", "birth_date": "1978-12-12",
          "address": "贵州省贵阳市云岩区中华北路108号3单元", "phone": "13698765432"}


def test_a_registration_gives_a_short_unambiguous_receipt(station) -> None:
    settings = station.settings
    receipts = [submit_registration(settings.db_path, "求职", PERSON, {"意向": "保洁"}, station_id="s1")
                for _ in range(30)]
    codes = [r.code for r in receipts]
    assert len(set(codes)) == 30
    assert all(len(c) == 8 and c.isdigit() and set(c) <= set(CODE_ALPHABET) for c in codes)  # digits only
    assert grouped_code(codes[0]) == f"{codes[0][:4]} {codes[0][4:]}"  # read out in groups of four
    assert receipts[0].kind == "求职" and dt.datetime.fromisoformat(receipts[0].created_at).tzinfo
    for secret in (PERSON["name"], PERSON["id_number"], PERSON["phone"]):
        assert secret not in repr(receipts[0])


def test_personal_data_is_encrypted_at_rest_with_a_private_key_file(station) -> None:
    settings = station.settings
    submit_registration(settings.db_path, "返乡", PERSON, {"打算": "在家附近务工"}, station_id="s1")
    key = settings.data_dir / "outbox.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and len(key.read_bytes()) == 32
    conn = connect(settings.db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = b"".join(p.read_bytes() for p in settings.data_dir.glob("station.db*"))
    for secret in (PERSON["name"], PERSON["id_number"], PERSON["phone"], PERSON["address"], "在家附近务工"):
        assert secret.encode("utf-8") not in raw
    with Outbox(settings.db_path) as outbox:
        (entry,) = outbox.pending("registration")
    assert entry.payload["person"] == PERSON and entry.payload["kind"] == "返乡"
    assert PERSON["name"] not in repr(entry)


def test_registration_and_its_outbox_entry_commit_together(station) -> None:
    settings = station.settings
    conn = connect(settings.db_path)
    outbox = Outbox(conn, key_dir=settings.data_dir)
    with pytest.raises(RuntimeError), durable(conn):
        outbox.add("event", {"event": "x"}, conn=conn)
        raise RuntimeError("the record it describes failed")
    assert outbox.depth() == 0
    with durable(conn):
        outbox.add("event", {"event": "y"}, conn=conn)
    assert outbox.depth() == 1
    conn.close()


def test_a_bad_registration_is_refused_without_quoting_personal_data(station) -> None:
    db = station.settings.db_path
    with pytest.raises(RegistrationError, match="kind must be one of"):
        submit_registration(db, "旅游", PERSON, {}, station_id="s1")  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="unknown person field") as exc:
        submit_registration(db, "求职", {**PERSON, "wechat": "zhao6-secret"}, {}, station_id="s1")
    assert "zhao6-secret" not in str(exc.value)
    with pytest.raises(RegistrationError, match="person.name is required"):
        submit_registration(db, "求职", {"phone": "13698765432"}, {}, station_id="s1")
    with pytest.raises(RegistrationError, match="person.phone must be text") as exc:
        submit_registration(db, "求职", {**PERSON, "phone": 13698765432}, {}, station_id="s1")
    assert "13698765432" not in str(exc.value)
    assert count_registrations(db) == {"求职": 0, "培训需求": 0, "返乡": 0, "零工": 0, "失业": 0}


def test_counts_by_kind_and_since(station) -> None:
    db = station.settings.db_path
    for kind in ("求职", "求职", "零工", "培训需求"):
        submit_registration(db, kind, PERSON, {}, station_id="s1")
    assert count_registrations(db) == {"求职": 2, "培训需求": 1, "返乡": 0, "零工": 1, "失业": 0}
    later = dt.datetime.now().astimezone() + dt.timedelta(seconds=1)
    assert sum(count_registrations(db, since=later).values()) == 0


def test_delivery_in_batches_then_personal_data_is_purged(station, hub: Hub) -> None:
    token = hub.store.add_station("test-station-01")
    settings = station.write(hub_toml(hub, token=token))
    codes = [submit_registration(settings.db_path, "零工", PERSON, {"n": i}, station_id=settings.station.id).code
             for i in range(25)]
    for i in range(7):
        record_usage(settings, "search", query_len=2, results=i)
    record_proof_of_play(settings, "job", "job-1", dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC), 12.5)
    with open_store(settings) as store:
        record_heartbeat(settings, devices={"printer": {"ok": True}}, station_name=settings.station.name,
                         content_info=store.content_info)
    sender = Station(settings).sender(batch_size=10)
    result = sender.deliver_once()
    assert (result.status, result.sent, result.remaining) == ("delivered", 34, 0)
    registrations = hub.store.uploads("registration")
    assert sorted(u["payload"]["code"] for u in registrations) == sorted(codes)
    assert registrations[0]["payload"]["person"] == PERSON
    assert len(hub.faults.requests_to("/api/v1/registrations")) == 3  # 25 in batches of 10
    pop = hub.store.uploads("proof_of_play")[0]["payload"]
    assert (pop["item_id"], pop["duration_s"]) == ("job-1", 12.5)
    beat = hub.store.uploads("heartbeat")[0]["payload"]
    assert beat["station_name"] == settings.station.name and "content_version" in beat
    conn = sqlite3.connect(settings.db_path)
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE personal = 1 AND payload IS NOT NULL").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM registrations WHERE personal IS NOT NULL").fetchone()[0] == 0
    conn.close()
    # what statistics need stays: the kinds and times, and the staff list shows they were delivered
    assert count_registrations(settings.db_path)["零工"] == 25
    latest = recent_registrations(settings.db_path, limit=3)
    assert all(r.delivered and r.purged and r.name_masked == "" for r in latest)


def test_personal_data_is_purged_at_the_retention_limit_even_unsent(station) -> None:
    settings = station.settings
    submit_registration(settings.db_path, "求职", PERSON, {}, station_id="s1")
    record_usage(settings, "home")
    assert recent_registrations(settings.db_path)[0].name_masked == "赵*"
    with Outbox(settings.db_path) as outbox:
        assert outbox.purge(30)["expired"] == 0  # young entries stay
        result = outbox.purge(30, now=time.time() + 31 * 86400)
        assert result["expired"] == 1  # and the registration's own copy with it (its table's trigger)
        assert outbox.depth() == 1  # the usage event is not personal and still goes
        assert outbox.counts() == {"queued": {"event": 1}}  # the erased entry is gone from the queue
    summary = recent_registrations(settings.db_path)[0]
    assert summary.purged and summary.name_masked == "" and not summary.delivered
    assert purge_registrations(settings.db_path, 30) == 0


def test_outbox_depth_and_oldest_age(station) -> None:
    with Outbox(station.settings.db_path) as outbox:
        assert (outbox.depth(), outbox.oldest_age_s()) == (0, None)
        outbox.add("event", {"event": "a"})
        time.sleep(0.05)
        outbox.add("event", {"event": "b"})
        assert outbox.depth() == 2 and outbox.oldest_age_s() >= 0.05
        with pytest.raises(OutboxError, match="unknown outbox kind"):
            outbox.add("photo", {})


def test_usage_records_are_scrubbed_of_anything_personal(station) -> None:
    record_usage(station.settings, "search", query="13698765432 520103197812120018")
    with Outbox(station.settings.db_path) as outbox:
        (entry,) = outbox.pending("event")
    assert "13698765432" not in entry.payload["query"] and "520103197812120018" not in entry.payload["query"]


def test_a_damaged_key_file_is_reported(station) -> None:
    settings = station.settings
    submit_registration(settings.db_path, "求职", PERSON, {}, station_id="s1")
    (settings.data_dir / "outbox.key").write_bytes(b"short")
    with Outbox(settings.db_path) as outbox, pytest.raises(OutboxError, match="32-byte key"):
        outbox.pending("registration")


def test_keys_sort_in_the_order_records_were_made_and_the_hub_accepts_them() -> None:
    """Time-ordered keys put each new row at the end of the key index (a few pages written per batch
    instead of one page per row); they stay unique and in the form the hub's API takes."""
    import re

    from content.outbox import new_key
    from hub.storage import KEY_RE

    start = 1_796_000_000_000_000_000  # ns, late 2026
    keys = [new_key(start + n * 1_000_000) for n in (0, 1, 2, 250, 86_400_000)]  # ms, then a day later
    assert keys == sorted(keys)
    many = {new_key() for _ in range(10_000)}
    assert len(many) == 10_000
    assert all(KEY_RE.match(k) for k in keys)
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", k) for k in keys)
