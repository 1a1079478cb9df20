"""Benchmark of the hub console at province scale.

A hub home on SQLite is filled with 3 000 stations (each with a heartbeat), 100 000
approved jobs and 1 000 000 registration uploads, plus a year of monthly service counts
per station. Then, through the real console served by waitress on loopback (logged in,
as a browser would be):

1. station list (page 1, and filtered to stations with alerts): p50/p95;
2. registrations list, filtered by station and kind, page 3: p50/p95;
3. the monthly 服务台账 and the 服务成效表: p50/p95;
4. a 10 000-row XLSX import (parse, validate every row, store as pending versions);
5. publishing the 100 000-job feed (build, sign, write, snapshot for the next diff);
6. the urgent path: several stations (real sync loops, each with its own data folder, an
   hour between regular syncs, the urgent check every 20 s, started at spread moments) hold
   the whole feed; an editor writes a 紧急通知, another reviewer approves it through the
   console, and the time until every station has it in its kiosk's and board's data is
   taken (``urgent_to_screen``: from the approval; ``urgent_from_creation``: from the form).

Also reported: how fast new uploads are folded into the console's tables (``refresh``), and
人岗匹配 of a publication (``hub.matching``): 1 000 new jobs against 100 000 open registrations
(made from kiosk-shaped payloads, registered at 300 stations up to 150 km apart; target 30 s);
and the phone pages (``hub.mobile``) a publication of 20 000 jobs writes per station; and SMS
push throughput (``hub.push``): 2 000 matches queued for consenting residents and sent over SMPP
3.4 to the local SMSC ('yizhan hub smsc', a process of its own), each marked sent after its answer.
Figures are from a shared 2-core machine and are noisy.

    .venv/bin/python bench/hub.py [--quick] [--stations-urgent N] [--urgent-only] [--matching-only] [--phone-only]
                            [--push-only]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import logging
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from hub.app import HubServer, create_app  # noqa: E402
from hub.console.auth import create_user  # noqa: E402
from hub.console.hubdata import refresh  # noqa: E402
from hub.console.items import import_rows, read_table  # noqa: E402
from hub.console.publishing import publish_group, save_group  # noqa: E402
from hub.console.schema import items, service_counts  # noqa: E402
from hub.publish import write_keypair  # noqa: E402

FIGURES: list[tuple[str, float, str]] = []
FEED = "bench-city"
PASSWORD = "Bench-passw0rd"
CATEGORIES = ("普工", "保洁", "保安", "餐饮", "物流", "建筑", "服务", "家政")
TITLES = ("保洁员", "普工", "保安员", "厨师", "叉车司机", "快递分拣员", "钢筋工", "导购", "育婴员", "电工")
KINDS = ("求职", "培训需求", "返乡", "零工")


def figure(name: str, value: float, unit: str) -> None:
    FIGURES.append((name, value, unit))


def timed(label: str) -> Any:
    class _T:
        def __enter__(self) -> _T:
            self.start = time.perf_counter()
            return self

        def __exit__(self, *exc: object) -> None:
            self.seconds = time.perf_counter() - self.start
            print(f"  {label}: {self.seconds:.1f} s", flush=True)

    return _T()


def job_row(i: int, today: dt.date, rng: random.Random) -> dict[str, Any]:
    low = rng.randrange(2000, 6000, 100)
    return {"id": f"job-{i:07d}", "title": TITLES[i % len(TITLES)], "employer": f"贵阳市第{i % 997}劳务有限公司",
            "category": CATEGORIES[i % len(CATEGORIES)], "kind": "全职", "salary_min": low, "salary_max": low + 800,
            "salary_unit": "月", "headcount": 1 + i % 9, "address": f"贵阳市云岩区中华北路{i % 300}号",
            "latitude": round(26.5 + rng.random() * 0.2, 6), "longitude": round(106.6 + rng.random() * 0.2, 6),
            "published": (today - dt.timedelta(days=10)).isoformat(),
            "valid_until": (today + dt.timedelta(days=60 + i % 90)).isoformat(), "contact_phone": "0851-12345678"}


def fill(engine: Any, home: Path, stations: int, jobs: int, registrations: int) -> None:
    rng = random.Random(13)
    today = dt.date.today()
    now = dt.datetime.now(dt.UTC)
    stamp = now.isoformat(timespec="seconds")
    with timed(f"{stations} stations with heartbeats"), engine.begin() as conn:
        rows = []
        for s in range(stations):
            beat = {"devices": {"printer": {"ok": s % 40 != 0, "detail": "缺纸" if s % 40 == 0 else ""},
                                "idcard": {"ok": s % 55 != 0, "detail": "online" if s % 55 else "error"}},
                    "outbox_depth": s % 7, "feed_id": FEED, "content_version": 1, "disk_free_mb": 2000 + s}
            seen = (now - dt.timedelta(minutes=5 if s % 30 else 300)).isoformat(timespec="seconds")
            rows.append({"id": f"st-{s:05d}", "name": f"第{s}号就业服务站", "token_sha256": hashlib.sha256(str(s).encode()).hexdigest(),
                         "created_at": stamp, "last_seen_at": seen, "last_heartbeat_at": seen,
                         "heartbeat_created_at": seen, "heartbeat": json.dumps(beat, ensure_ascii=False)})
        conn.execute(sa.text("INSERT INTO stations (id, name, token_sha256, created_at, last_seen_at, last_heartbeat_at,"
                             " heartbeat_created_at, heartbeat) VALUES (:id, :name, :token_sha256, :created_at,"
                             " :last_seen_at, :last_heartbeat_at, :heartbeat_created_at, :heartbeat)"), rows)
    with timed(f"{jobs} approved jobs"), engine.begin() as conn:
        save_group(conn, FEED, "全市驿站", ["520100"], [], stamp)
        batch = []
        for i in range(jobs):
            data = json.dumps(job_row(i, today, rng), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            digest = hashlib.sha256(f"job|1|{data}".encode()).hexdigest()
            batch.append({"kind": "job", "record_id": f"job-{i:07d}", "feed_id": FEED, "title": TITLES[i % len(TITLES)],
                          "data": data, "version": 1, "state": "approved", "author": "bench", "updated_at": stamp,
                          "reviewer": "bench2", "reviewed_at": stamp, "live_data": data, "live_digest": digest,
                          "live_until": json.loads(data)["valid_until"]})
            if len(batch) == 10_000:
                conn.execute(items.insert(), batch)
                batch = []
        if batch:
            conn.execute(items.insert(), batch)
    with timed(f"{registrations} registration uploads"):
        done = 0
        while done < registrations:
            n = min(50_000, registrations - done)
            with engine.begin() as conn:
                rows = []
                for k in range(done, done + n):
                    created = (now - dt.timedelta(minutes=k % 500_000)).isoformat(timespec="seconds")
                    payload = {"code": f"R{k:07d}", "kind": KINDS[k % 4], "station_id": f"st-{k % stations:05d}",
                               "person": {"name": "张三", "id_number": "520103199001011234", "phone": "13800000000"},
                               "answers": {"意向": TITLES[k % len(TITLES)]}}
                    rows.append({"key": f"bench-key-{k:010d}", "kind": "registration", "station_id": f"st-{k % stations:05d}",
                                 "created_at": created, "received_at": created,
                                 "payload": json.dumps(payload, ensure_ascii=False)})
                conn.execute(sa.text("INSERT INTO uploads (key, kind, station_id, created_at, received_at, payload)"
                                     " VALUES (:key, :kind, :station_id, :created_at, :received_at, :payload)"), rows)
            done += n
    with timed("fold uploads into the console (refresh)") as t:
        folded = refresh(engine)
    figure("console_refresh_rate", folded / t.seconds, "uploads/s")
    # A year of monthly service counts per station (what folded usage events become).
    with timed("a year of monthly service counts"), engine.begin() as conn:
        months = [(today.replace(day=1) - dt.timedelta(days=31 * m)).strftime("%Y-%m") for m in range(1, 12)]
        rows = [{"station_id": f"st-{s:05d}", "month": month, "metric": metric, "n": rng.randrange(0, 400)}
                for s in range(stations) for month in months
                for metric in ("uses", "views", "card_reads", "searches", "slips", "videos", "board_plays")]
        totals: dict[tuple[str, str], int] = {}
        for r in rows:  # the all-stations row the fold keeps beside each station's
            totals[(r["month"], r["metric"])] = totals.get((r["month"], r["metric"]), 0) + r["n"]
        rows += [{"station_id": "*", "month": m, "metric": k, "n": n} for (m, k), n in totals.items()]
        for start in range(0, len(rows), 20_000):
            conn.execute(service_counts.insert(), rows[start:start + 20_000])


def session(base: str, username: str = "bench") -> requests.Session:
    s = requests.Session()
    page = s.get(base + "console/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = s.post(base + "console/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
               allow_redirects=False)
    assert r.status_code == 302, r.text[:300]
    return s


def page_times(s: requests.Session, url: str, runs: int) -> tuple[float, float]:
    s.get(url).raise_for_status()  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = s.get(url)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def xlsx_import(engine: Any, rows: int) -> float:
    from openpyxl import Workbook

    today = dt.date.today()
    rng = random.Random(5)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    header = list(job_row(0, today, rng))
    ws.append(header)
    for i in range(rows):
        row = job_row(5_000_000 + i, today, rng)
        ws.append([row[h] for h in header])
    buf = io.BytesIO()
    wb.save(buf)
    start = time.perf_counter()
    table = read_table("岗位.xlsx", buf.getvalue())
    report = import_rows(engine, "job", FEED, "岗位.xlsx", table, "bench", dt.datetime.now(dt.UTC).isoformat(), today)
    seconds = time.perf_counter() - start
    assert report.created == rows and not report.refused, report.refused[:3]
    return seconds


def csrf(s: requests.Session, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', s.get(url).text).group(1)  # type: ignore[union-attr]


def urgent_path(server_url: str, tmp: Path, home: Path, store: Any, station_count: int, notices: int) -> None:
    """Approval (and creation) to every station's screens for ``notices`` urgent notices."""
    import threading

    from config.settings import load_settings
    from config.station import Station
    from config.station_file import write_station_file
    from content.sync_loop import URGENT_INTERVAL_S
    from hub.publish import load_key_file
    from protocol.feed import public_key_b64

    public = public_key_b64(load_key_file(home / "feed.key"))
    stations, loops = [], []
    print(f"\nthe urgent path: {station_count} stations take the whole feed first", flush=True)
    for n in range(station_count):
        path = write_station_file(tmp / f"station-{n}" / "station.toml", {
            "station.id": f"urgent-{n:02d}", "hub.feed_url": f"{server_url}feeds/{FEED}/", "hub.public_key": public,
            "hub.upload_url": f"{server_url}api/v1/", "hub.station_token": store.add_station(f"urgent-{n:02d}"),
            "hub.timeout_s": 30,
            "storage.media_quota_mb": 64})
        st = Station(load_settings(path))
        stations.append(st)
    arrived: dict[tuple[int, str], float] = {}
    lock = threading.Lock()
    wanted: dict[str, int] = {}

    def watcher(n: int, st: Station) -> Any:
        def on_status(status: Any) -> None:
            if status.last_result is None or status.last_result.status != "changed":
                return
            now = time.perf_counter()
            ids = {a.id for a in st.store.announcements("kiosk")} & {a.id for a in st.store.announcements("board")}
            with lock:
                for notice in wanted:
                    if notice in ids:
                        arrived.setdefault((n, notice), now)
        return on_status

    for n, st in enumerate(stations):
        loop = st.sync_loop(interval_s=3600, on_status=watcher(n, st))
        assert loop.run_feed_round(report=False).version >= 1
        loops.append(loop)
    for loop in loops:  # their checks fall at spread moments, as real stations' do
        loop.start()
        time.sleep(URGENT_INTERVAL_S / len(loops))
    editor, reviewer = session(server_url), session(server_url, "bench2")
    to_screen: list[float] = []
    from_creation: list[float] = []
    try:
        for k in range(notices):
            notice = f"storm-{k}"
            start = dt.datetime.now().astimezone()
            form = {"feed_id": FEED, "id": notice, "text": f"暴雨红色预警（第 {k + 1} 次演练）：今日室外招聘会改期",
                    "priority": "urgent", "target": "both", "csrf_token": csrf(editor, server_url + "console/password"),
                    "starts_at": (start - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                    "ends_at": (start + dt.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M")}
            created = time.perf_counter()
            with lock:
                wanted[notice] = k
            r = editor.post(server_url + "console/content/announcement/new", data=form, allow_redirects=False)
            assert r.status_code == 302, r.text[:300]
            page = reviewer.get(server_url + "console/review?urgency=urgent").text
            ids = re.findall(r'name="item" value="(\d+)"', page)
            approved = time.perf_counter()
            r = reviewer.post(server_url + "console/review", data={"item": ids, "decision": "approve",
                                                                    "csrf_token": csrf(reviewer, server_url + "console/password")})
            assert "紧急通知已立即单独发布" in r.text, r.text[:300]
            deadline = time.perf_counter() + 180
            while time.perf_counter() < deadline:
                with lock:
                    got = [arrived[(n, notice)] for n in range(len(stations)) if (n, notice) in arrived]
                if len(got) == len(stations):
                    break
                time.sleep(0.2)
            assert len(got) == len(stations), f"{notice}: {len(got)} of {len(stations)} stations within 180 s"
            to_screen += [t - approved for t in got]
            from_creation += [t - created for t in got]
            print(f"  {notice}: every station within {max(got) - approved:.1f} s of approval "
                  f"(median {statistics.median(got) - approved:.1f} s)", flush=True)
    finally:
        for loop in loops:
            loop.stop()
        for st in stations:
            st.close()
    to_screen.sort()
    from_creation.sort()
    p95 = to_screen[min(len(to_screen) - 1, int(len(to_screen) * 0.95))]
    print(f"  {len(to_screen)} arrivals: p50 {statistics.median(to_screen):.1f} s, p95 {p95:.1f} s, "
          f"max {to_screen[-1]:.1f} s from approval; max {from_creation[-1]:.1f} s from the editor's form")
    figure("urgent_to_screen_p95", round(p95, 1), "s")
    figure("urgent_to_screen_max", round(to_screen[-1], 1), "s")
    figure("urgent_from_creation_max", round(from_creation[-1], 1), "s")


def phone_pages(jobs: int = 20_000, stations: int = 5) -> None:
    """The phone pages of one publication (hub.mobile): time, files and bytes per station."""
    from content.sample import sample_content
    from hub.mobile.pages import write_pages

    today = dt.date.today()
    origin = (26.583, 106.7135)
    content = sample_content(origin=origin, jobs=jobs, seed=3, today=today)
    content.documents = {"stations": [{"id": f"st-{i:05d}", "name": "城东社区人社便民服务站", "latitude": origin[0] + i * 0.02,
                                       "longitude": origin[1], "hotline": "0851-12333"} for i in range(stations)]}
    with tempfile.TemporaryDirectory(prefix="yizhan-bench-phone-") as tmp:
        start = time.perf_counter()
        result = write_pages(content, Path(tmp), version=1, today=today, now=dt.datetime.now())
        took = time.perf_counter() - start
        first = max(p.stat().st_size for p in (Path(tmp) / "m" / "s").glob("*/index.html"))
    print(f"\nphone pages: {jobs} jobs, {stations} stations")
    print(f"{'per station':<40} {'value':>10}")
    print(f"{'seconds':<40} {took / stations:10.2f}")
    print(f"{'files':<40} {result.pages / stations:10.0f}")
    print(f"{'KB':<40} {result.bytes_written / stations / 1024:10.0f}")
    print(f"{'largest first page, KB':<40} {first / 1024:10.1f}")
    figure("phone_pages_seconds_per_station", round(took / stations, 2), "s")
    figure("phone_pages_files_per_station", round(result.pages / stations), "files")
    figure("phone_first_page_kb", round(first / 1024, 1), "KB")


def matching_publication(new_jobs: int = 1_000, open_registrations: int = 100_000) -> None:
    """人岗匹配 of one publication: each new job against every open registration (hub.matching)."""
    from common.geo import destination
    from hub.matching import match_publication, seeker_from
    from protocol.model import JOB_CATEGORIES, Job

    rng = random.Random(27)
    today = dt.date.today()
    centre = (26.58, 106.71)
    stations = [destination(*centre, rng.uniform(0, 360), rng.uniform(0, 150)) for _ in range(300)]
    jobs = []
    for i in range(new_jobs):
        lat, lon = destination(*centre, rng.uniform(0, 360), rng.uniform(0, 150))
        gig = rng.random() < 0.3
        jobs.append(Job(id=f"new-{i:05d}", title="岗位", employer="单位", category=rng.choice(JOB_CATEGORIES),
                        kind="零工" if gig else "全职", work_date=today + dt.timedelta(days=rng.randint(0, 6)) if gig else None,
                        salary_min=100 if gig else 3000, salary_max=rng.randint(120, 300) if gig else rng.randint(3000, 9000),
                        salary_unit="日" if gig else "月", latitude=lat, longitude=lon, published=today,
                        valid_until=today + dt.timedelta(days=60), age_max=rng.choice([None, 45, 55]),
                        gender=rng.choice(["不限", "不限", "男", "女"])))
    skills = ["搬运装卸", "保洁", "家政", "建筑小工", "装修", "农活", "送货", "餐饮帮工", "看护陪护", "其他"]
    seekers = []
    start = time.perf_counter()
    for i in range(open_registrations):
        kind = rng.choice(["求职", "零工", "返乡"])
        if kind == "零工":
            answers: dict[str, Any] = {"skills": rng.sample(skills, rng.randint(1, 3)),
                                       "days": rng.choice(["每天都可以", "只有周末", "今天明天", "随叫随到"]),
                                       "day_pay": rng.choice(["100元左右", "150元左右", "200元左右", "面议"])}
        else:
            answers = {"categories": rng.sample(JOB_CATEGORIES, rng.randint(1, 3)),
                       "salary": rng.choice(["面议", "3000-5000元", "5000-8000元", "8000元以上"]),
                       "available_from": today.isoformat(), "return_date": today.isoformat()}
        person = {"gender": rng.choice(["男", "女"]), "birth_date": f"{rng.randint(1966, 2006)}-06-01"}
        seekers.append(seeker_from(i, {"kind": kind, "person": person, "answers": answers}, today=today,
                                   origin=rng.choice(stations)))
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    found = match_publication(jobs, seekers, today)
    match_s = time.perf_counter() - start
    pairs = sum(len(keys) for keys in found.values())
    print(f"\n人岗匹配: {new_jobs} new jobs x {open_registrations} open registrations")
    print(f"{'step':<40} {'s':>8}")
    print(f"{'registrations read as seekers':<40} {read_s:8.2f}")
    print(f"{'matching the publication':<40} {match_s:8.2f}")
    print(f"  {len(found)} jobs fit someone; {pairs} job-registration pairs")
    figure(f"matching_{new_jobs}_jobs_x_{open_registrations}_registrations", round(match_s, 2), "s")


def push_throughput(messages: int = 2_000) -> None:
    """SMS push to the local SMSC: subscribe, queue and send ``messages`` matches (hub.push)."""
    import subprocess

    from hub.push.queue import CHINA, PushQueue, load_mac_key
    from hub.push.senders import PushSettings, SmppSender
    from hub.push.smsc import read_record
    from hub.storage import HubStore
    from protocol.model import Job

    with tempfile.TemporaryDirectory(prefix="yizhan-bench-push-") as tmp:
        home, record = Path(tmp) / "hub", Path(tmp) / "smsc.jsonl"
        store = HubStore(f"sqlite:///{home / 'hub.db'}", home=home)
        store.add_station("st-00001", "城东社区驿站")
        created = "2026-12-07T09:00:00+08:00"
        for start in range(0, messages, 500):
            store.ingest("st-00001", "registration", [{"key": f"reg-key-{i:08d}", "created_at": created, "payload": {
                "code": f"{i:08d}", "kind": "求职", "station_id": "st-00001", "person": {"phone": f"139{i:08d}"},
                "answers": {"categories": ["普工"]}, "sms_consent": True}} for i in range(start, min(start + 500, messages))])
        push = PushQueue(store, load_mac_key(home), weekly_cap=5)
        when = dt.datetime.now(CHINA).replace(hour=10)
        job = Job(id="pg-1", title="包装普工", employer="城东物流有限公司", category="普工", salary_min=4000,
                  salary_max=4500, latitude=26.58, longitude=106.71, published=when.date(),
                  valid_until=when.date() + dt.timedelta(days=30))
        start_s = time.perf_counter()
        push.subscribe_new(when)
        queued = push.enqueue({"pg-1": [r["id"] for r in store.uploads("registration")]}, {"pg-1": job}, when)
        queue_s = time.perf_counter() - start_s
        smsc = subprocess.Popen([sys.executable, "-m", "config.cli", "hub", "smsc", "--port", "0", "--record",
                                 str(record)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert smsc.stdout is not None
            port = int(re.search(r"127\.0\.0\.1:(\d+)", smsc.stdout.readline()).group(1))  # type: ignore[union-attr]
            threading_drain(smsc.stdout)
            start_s = time.perf_counter()
            result = push.run(SmppSender(PushSettings(port=port, source="10690001")), lambda: when, limit=messages)
            send_s = time.perf_counter() - start_s
        finally:
            smsc.kill()
            smsc.wait()
        received = len(read_record(record))
        store.close()
    print(f"\nSMS push: {queued} matches to the local SMSC over SMPP 3.4")
    print(f"{'step':<40} {'s':>8}")
    print(f"{'subscribe and queue':<40} {queue_s:8.2f}")
    print(f"{'send (submit_sm, marked sent on answer)':<40} {send_s:8.2f}")
    print(f"  sent {result.sent}, received by the SMSC {received}")
    figure("push_to_local_smsc", round(result.sent / send_s, 1), "messages/s")


def threading_drain(stream: Any) -> None:
    """Read a child's output in the background so that it never blocks on a full pipe."""
    import threading

    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 stations, 10 000 jobs, 100 000 registrations")
    parser.add_argument("--stations-urgent", type=int, default=6, help="simulated stations for the urgent path")
    parser.add_argument("--notices", type=int, default=3, help="urgent notices sent to them, one after another")
    parser.add_argument("--urgent-only", action="store_true", help="only the urgent path (with --quick's content)")
    parser.add_argument("--matching-only", action="store_true", help="only 人岗匹配 of a publication")
    parser.add_argument("--phone-only", action="store_true", help="only the phone pages of a publication")
    parser.add_argument("--push-only", action="store_true", help="only SMS push to the local SMSC")
    args = parser.parse_args()
    if args.matching_only or args.phone_only or args.push_only:
        if args.matching_only:
            matching_publication()
        if args.phone_only:
            phone_pages()
        if args.push_only:
            push_throughput()
        return report()
    stations, jobs, regs, import_rows_n = (300, 10_000, 100_000, 2_000) if args.quick else (3_000, 100_000, 1_000_000, 10_000)
    if args.urgent_only:
        stations, jobs, regs = 300, 10_000, 1_000
    runs = 10 if args.quick else 30
    logging.getLogger("waitress").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="yizhan-bench-hub-") as tmp:
        home = Path(tmp) / "hub"
        write_keypair(home)
        app = create_app(home)
        engine = app.extensions["console"].engine
        create_user(engine, "bench", PASSWORD, ["editor", "publisher", "operator", "registrar", "reviewer"])
        create_user(engine, "bench2", PASSWORD, ["reviewer"])  # approves the editor's urgent notices
        print(f"filling the hub: {stations} stations, {jobs} jobs, {regs} registrations", flush=True)
        fill(engine, home, stations, jobs, regs)

        print("publishing the whole feed", flush=True)
        start = time.perf_counter()
        _plan, version = publish_group(engine, home, home / "feeds", FEED, "bench", dt.datetime.now(dt.UTC))
        publish_s = time.perf_counter() - start
        print(f"  version {version} with {jobs} jobs: {publish_s:.1f} s")

        with HubServer(app, threads=4) as server:
            urgent_path(server.url, Path(tmp), home, app.extensions["hub_store"], args.stations_urgent, args.notices)
            if args.urgent_only:
                return report()
            s = session(server.url)
            base = server.url + "console/"
            month = dt.date.today().replace(day=1) - dt.timedelta(days=20)
            pages = [
                ("stations", "station list", base + "stations"),
                ("stations_alerts", "station list, alerts only", base + "stations?alert=any&page=2"),
                ("registrations", "registrations, station + kind filter, page 3",
                 base + f"registrations?station=st-{7:05d}&kind=求职&page=3"),
                ("registrations_all", "registrations, all, page 50", base + "registrations?page=50"),
                ("ledger", "monthly 服务台账", base + f"reports/ledger?month={month:%Y-%m}"),
                ("results", "服务成效表 (12 months)", base + f"reports/results?month={month:%Y-%m}"),
            ]
            print(f"\n{'page':<48} {'p50 ms':>8} {'p95 ms':>8}")
            for key, label, url in pages:
                p50, p95 = page_times(s, url, runs)
                print(f"{label:<48} {p50:8.0f} {p95:8.0f}", flush=True)
                figure(f"console_{key}_p95", round(p95), "ms")

        print(f"\nimporting a {import_rows_n}-row XLSX", flush=True)
        import_s = xlsx_import(engine, import_rows_n)
        print(f"  {import_s:.1f} s")
        figure(f"console_xlsx_import_{import_rows_n}_rows", round(import_s, 2), "s")
        figure(f"console_publish_{jobs}_jobs", round(publish_s, 2), "s")
    matching_publication()
    phone_pages()
    push_throughput()
    report()


def report() -> None:
    print()
    for name, value, unit in FIGURES:
        shown = f"{value:.0f}" if isinstance(value, float) and value >= 100 else f"{value}"
        print(f"FIGURE {name} {shown} {unit}")


if __name__ == "__main__":
    main()
