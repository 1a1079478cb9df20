"""Benchmark of the feed: sync sizes and times, media download speed, resume after a cut, and a fault soak.

Everything runs on loopback against the reference hub (waitress, in its own process, with
the test suite's fault injection in front of it):

1. a first sync of a 10 000-job feed with about 20 MB of media;
2. a re-sync with nothing changed (requests, bytes, time);
3. a re-sync after 1% of the jobs changed (bytes as a fraction of the full sync), and the
   same figure for other shard sizes, computed from the encoded feed;
4. media download throughput of the sync client (resumable, hashed while it streams)
   against a plain streaming ``requests`` download of the same file from the same server;
5. the bytes fetched after a download is cut at 50%;
6. a soak of randomized runs (cuts, 500s, slow answers, corrupt files, hub down, the station
   process SIGKILLed mid-sync and mid-upload): registrations created, delivered, lost,
   duplicated, and any moment the station showed something other than a whole published set;
7. a key rotation (``rotate_key``) reaching simulated stations: the time from the rotation
   being published to every station trusting the new key (each syncs once, 4 at a time;
   in the field add one sync interval);
8. a registration reaching the hub while the feed trickles (a manifest sent one byte every
   0.5 s by a server of its own, the upload hub healthy): the time from the registration to
   the hub's receipt, with the station's background loop running as the kiosk runs it.

    .venv/bin/python bench/sync.py [--jobs 10000] [--media-mb 20] [--soak 1000] [--stations 50] [--quick]
                                   [--only trickle ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "feed"))

import requests  # noqa: E402
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential  # noqa: E402

from common.netutil import free_port, wait_for_port  # noqa: E402
from config.settings import load_settings  # noqa: E402
from config.station import Station, media_cache, open_store  # noqa: E402
from content.media import TRANSIENT, MediaCache, Transfer  # noqa: E402
from content.registrations import submit_registration  # noqa: E402
from content.sample import sample_content  # noqa: E402
from hub.keys import rotate_key  # noqa: E402
from hub.publish import load_key_file, publish_content, write_keypair  # noqa: E402
from hub.storage import HubStore  # noqa: E402
from protocol.feed import DEFAULT_SHARD_TARGET, Manifest, ManifestMedia, Scope, course_media, encode_items  # noqa: E402
from protocol.model import ContentSet, Course, MediaRef  # noqa: E402

ORIGIN = (26.5830, 106.7135)
PERSON = {"name": "测试", "id_number": "520103199001011234", "phone": "13800000000"}
FIGURES: list[tuple[str, float, str]] = []


def figure(name: str, value: float, unit: str) -> None:
    FIGURES.append((name, value, unit))


def mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


class Bench:
    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        self.tmp = tmp
        self.args = args
        self.home = tmp / "hub"
        self.key_path, self.public_key = write_keypair(self.home)
        self.key = load_key_file(self.key_path)
        self.media_src = tmp / "media-src"
        self.media_src.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.hub: subprocess.Popen | None = None
        self.rng = random.Random(args.seed)

    # -- the hub, in its own process -------------------------------------------------------
    def start_hub(self) -> None:
        self.hub = subprocess.Popen([sys.executable, str(ROOT / "tests" / "feed" / "feed_faults.py"),
                                     "--home", str(self.home), "--port", str(self.port)],
                                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout=30)

    def stop_hub(self) -> None:
        if self.hub is not None:
            self.hub.terminate()
            try:
                self.hub.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.hub.kill()
                self.hub.wait()
            self.hub = None

    def faults(self, rules: list[dict[str, Any]], *, reset_log: bool = True) -> None:
        requests.post(self.url + "__faults__", json={"rules": rules, "reset_log": reset_log}, timeout=10)

    def hub_log(self) -> list[dict[str, Any]]:
        return requests.get(self.url + "__faults__", timeout=10).json()["log"]

    # -- helpers -----------------------------------------------------------------------------
    def media(self, seed: int, size: int) -> MediaRef:
        data = random.Random(seed).randbytes(size)
        import hashlib

        ref = MediaRef(sha256=hashlib.sha256(data).hexdigest(), size=size, type="video/mp4", ext="mp4")
        (self.media_src / ref.filename).write_bytes(data)
        return ref

    def publish(self, feed: str, content: ContentSet) -> Manifest:
        files = {r.sha256: self.media_src / r.filename for r in course_media(content)}
        return publish_content(content, files, self.home / "feeds" / feed, key=self.key, feed_id=f"bench-{feed}",
                               scope=Scope(regions=["520100"])).manifest

    def station(self, name: str, feed: str, *, token: str = "", timeout: float = 10.0, port: int | None = None):
        from config.station_file import write_station_file

        base = f"http://127.0.0.1:{port or self.port}/"
        path = write_station_file(self.tmp / f"station-{name}" / "station.toml", {
            "station.id": name, "hub.feed_url": f"{base}feeds/{feed}/", "hub.public_key": self.public_key,
            "hub.upload_url": f"{base}api/v1/", "hub.station_token": token, "hub.timeout_s": timeout,
            "storage.media_quota_mb": 2048})
        return load_settings(path)


# -- 1-3: sync sizes -------------------------------------------------------------------------

def bench_sync(b: Bench) -> None:
    args = b.args
    print(f"== feed of {args.jobs} jobs and {args.media_mb} MB of media")
    t = time.perf_counter()
    content = sample_content(origin=ORIGIN, jobs=args.jobs, today=dt.date.today())
    total_media = int(args.media_mb * 1_000_000)
    sizes = [int(total_media * 0.6)] + [int(total_media * 0.1)] * 4
    content.courses = [Course(id=f"course-{i}", title=f"培训视频{i}", duration_s=120, media=b.media(100 + i, size))
                       for i, size in enumerate(sizes)]
    content.documents["board_schedule"] = {"version": 1, "default": ["jobs", "policies", "courses"]}
    manifest = b.publish("main", content)
    print(f"   generated and published in {time.perf_counter() - t:.1f} s: {len(manifest.items)} items "
          f"({mb(sum(i.size for i in manifest.items))}), {len(manifest.media)} media ({mb(total_media)}), "
          f"manifest {mb(len(manifest.to_bytes()))}")
    settings = b.station("bench-main", "main")
    client = Station(settings).sync_client()

    rows = []
    full = client.sync_once()
    assert full.status == "changed", full
    rows.append(("first sync", full))
    unchanged = client.sync_once()
    assert unchanged.status == "unchanged", unchanged
    rows.append(("re-sync, nothing changed", unchanged))

    rng = random.Random(3)
    jobs = list(content.jobs)
    for i in rng.sample(range(len(jobs)), len(jobs) // 100):
        jobs[i] = jobs[i].model_copy(update={"salary_max": jobs[i].salary_max + 100, "version": jobs[i].version + 1})
    changed_content = ContentSet(jobs=jobs, policies=content.policies, events=content.events,
                                 courses=content.courses, announcements=content.announcements,
                                 documents=content.documents)
    b.publish("main", changed_content)
    changed = client.sync_once()
    assert changed.status == "changed", changed
    rows.append(("re-sync, 1% of jobs changed", changed))
    client.close()
    with open_store(settings) as store:
        assert store.content_info().counts["jobs"] == args.jobs

    print(f"   {'':<30} {'requests':>9} {'bytes':>12} {'seconds':>8} {'items':>7} {'media':>6}")
    for label, r in rows:
        print(f"   {label:<30} {r.requests:>9} {r.bytes:>12} {r.duration_s:>8.2f} {r.items_fetched:>7} "
              f"{r.media_fetched:>6}")
    content_bytes = full.bytes - total_media
    pct_full = 100 * changed.bytes / full.bytes
    pct_content = 100 * changed.bytes / content_bytes
    print(f"   1% change fetched {pct_full:.2f}% of the full sync's bytes "
          f"({pct_content:.1f}% of the bytes without media); target <= 5% of the full sync")
    figure("sync_full_s", full.duration_s, "s")
    figure("sync_full_bytes", full.bytes, "bytes")
    figure("sync_full_requests", full.requests, "requests")
    figure("sync_unchanged_requests", unchanged.requests, "requests")
    figure("sync_unchanged_bytes", unchanged.bytes, "bytes")
    figure("sync_unchanged_ms", unchanged.duration_s * 1000, "ms")
    figure("sync_1pct_requests", changed.requests, "requests")
    figure("sync_1pct_bytes", changed.bytes, "bytes")
    figure("sync_1pct_pct_of_full", round(pct_full, 2), "%")
    figure("sync_1pct_pct_of_content_without_media", round(pct_content, 1), "%")
    shard_sweep(content, changed_content, total_media)


def shard_sweep(before: ContentSet, after: ContentSet, media_bytes: int) -> None:
    """What a 1% change costs for other shard sizes (computed from the encoded feeds, no network)."""
    print("   shard size sweep (bytes a 1% change re-fetches; manifest included):")
    print(f"   {'records/shard':>14} {'shards':>7} {'manifest':>10} {'re-fetch':>10} {'% of full':>10} "
          f"{'% w/o media':>12}")
    media = [ManifestMedia.from_ref(r) for r in course_media(after)]
    for target in (1, 4, DEFAULT_SHARD_TARGET, 32, 128):
        old_items, shards = encode_items(before, target=target)
        new_items, _ = encode_items(after, target=target, previous_shards=shards)
        manifest = Manifest(feed_id="x", version=2, generated_at=dt.datetime.now(dt.UTC), scope=Scope(regions=["*"]),
                            items=[i.entry for i in new_items], media=media, shards=shards)
        manifest_bytes = len(manifest.to_bytes())
        old = {i.entry.sha256 for i in old_items}
        refetch = manifest_bytes + sum(i.entry.size for i in new_items if i.entry.sha256 not in old)
        full = manifest_bytes + sum(i.entry.size for i in new_items) + media_bytes
        mark = "  <- used" if target == DEFAULT_SHARD_TARGET else ""
        print(f"   {target:>14} {shards['job']:>7} {manifest_bytes:>10} {refetch:>10} {100 * refetch / full:>9.2f}% "
              f"{100 * refetch / (full - media_bytes):>11.1f}%{mark}")


# -- 4-5: media download ------------------------------------------------------------------------

def bench_media(b: Bench) -> None:
    manifest = Manifest.from_bytes((b.home / "feeds" / "main" / "manifest.json").read_bytes())
    entry = max(manifest.media, key=lambda m: m.size)
    ref = entry.ref()
    url = f"{b.url}feeds/main/{entry.path}"
    print(f"== media download of one {mb(ref.size)} file, same server, same run")
    retrying = Retrying(stop=stop_after_attempt(5), wait=wait_random_exponential(multiplier=0.05, max=0.5),
                        retry=retry_if_exception_type(TRANSIENT), reraise=True)
    session = requests.Session()
    work = b.tmp / "dl"

    def ours() -> float:
        cache = MediaCache(work / "ours")
        cache.path(ref).unlink(missing_ok=True)
        t = time.perf_counter()
        cache.download(session, url, ref, timeout=(10, 10), retrying=retrying)
        elapsed = time.perf_counter() - t
        assert cache.verify(ref)
        cache.path(ref).unlink()
        return elapsed

    def plain() -> float:
        target = work / "plain.bin"
        target.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        with session.get(url, stream=True, timeout=(10, 10)) as response, target.open("wb") as f:
            response.raise_for_status()
            for chunk in response.iter_content(64 * 1024):
                f.write(chunk)
        elapsed = time.perf_counter() - t
        target.unlink()
        return elapsed

    ours(), plain()  # warm the page cache and the connection
    ours_times, plain_times = [], []
    for _ in range(b.args.rounds):
        ours_times.append(ours())
        plain_times.append(plain())
    ours_rate = ref.size / statistics.median(ours_times) / 1e6
    plain_rate = ref.size / statistics.median(plain_times) / 1e6
    ratio = ours_rate / plain_rate
    print(f"   {'':<44} {'MB/s (median of ' + str(b.args.rounds) + ')':>22}")
    print(f"   {'sync client (resumable, SHA-256 verified, fsync)':<44} {ours_rate:>22.1f}")
    print(f"   {'plain requests streaming download':<44} {plain_rate:>22.1f}")
    load = os.getloadavg()[0]
    print(f"   ratio {ratio:.2f} (target >= 0.8); load average {load:.1f} on {os.cpu_count()} CPUs")
    print("   (on loopback the hub and the client share the CPUs; hashing SHA-256 and the fsync before the")
    print("   rename are the difference, and they cost relatively more the faster the link)")
    figure("media_throughput_mb_s", round(ours_rate, 1), "MB/s")
    figure("media_plain_throughput_mb_s", round(plain_rate, 1), "MB/s")
    figure("media_throughput_ratio", round(ratio, 3), "ratio")

    # The same at a fast real link's speed (20 MB/s, about 160 Mbit/s): does verifying slow it down?
    rate = 20_000_000
    b.faults([{"match": f"/media/{ref.sha256}", "action": "throttle", "value": rate, "times": None}])
    slow_ours = [ours() for _ in range(3)]
    slow_plain = [plain() for _ in range(3)]
    b.faults([])
    slow_ratio = statistics.median(slow_plain) / statistics.median(slow_ours)
    print(f"   at {rate / 1e6:.0f} MB/s served: sync client {ref.size / statistics.median(slow_ours) / 1e6:.1f} MB/s, "
          f"plain {ref.size / statistics.median(slow_plain) / 1e6:.1f} MB/s, ratio {slow_ratio:.2f}")
    figure("media_throughput_ratio_at_20mb_s", round(slow_ratio, 3), "ratio")

    # Cut at 50%, then resume.
    b.faults([{"match": f"/media/{ref.sha256}", "action": "cut", "value": 0.5, "times": 1}])
    cache = MediaCache(work / "cut")
    cache.path(ref).unlink(missing_ok=True)
    transfer = Transfer()
    cache.download(session, url, ref, timeout=(10, 10), retrying=retrying, transfer=transfer)
    assert cache.verify(ref)
    seen = [s for s in b.hub_log() if s["path"].endswith(entry.path)]
    before_cut = seen[0]["body_bytes"]
    after_cut = sum(s["body_bytes"] for s in seen[1:])
    pct = 100 * after_cut / ref.size
    print(f"   cut at {100 * before_cut / ref.size:.0f}%: {len(seen) - 1} resumed request(s) "
          f"({', '.join(str(s['range']) for s in seen[1:])}) fetched {mb(after_cut)} = {pct:.1f}% of the file "
          f"(target <= 55%); total received {100 * transfer.bytes / ref.size:.1f}%")
    figure("resume_after_cut_pct_of_file", round(pct, 1), "%")
    b.faults([])
    session.close()


# -- 6: the soak ---------------------------------------------------------------------------------

FAULTS = [("none", 2.0), ("500", 2.0), ("cut", 2.5), ("slow", 1.0), ("corrupt", 1.0), ("down", 0.5),
          ("kill_sync", 2.0), ("kill_upload", 1.5)]


def bench_soak(b: Bench) -> None:
    runs = b.args.soak
    print(f"== fault soak: {runs} randomized runs")
    rng = b.rng
    store = HubStore(b.home / "hub.db")
    token = store.add_station("soak-01", "压力测试站")
    settings = b.station("soak-01", "soak", token=token, timeout=1.0)
    down_settings = b.station("soak-down", "soak", token=token, timeout=1.0, port=free_port())
    down_settings = down_settings.model_copy(update={"storage": settings.storage, "station": settings.station})

    content = sample_content(origin=ORIGIN, jobs=120, seed=11, today=dt.date.today())
    content.courses = [Course(id="course-a", title="培训视频甲", duration_s=30, media=b.media(1, 120_000)),
                       Course(id="course-b", title="培训视频乙", duration_s=30, media=b.media(2, 40_000))]
    published: dict[int, Any] = {}
    from feed_support import fingerprint

    def publish_next() -> None:
        manifest = b.publish("soak", content)
        published[manifest.version] = fingerprint(content)

    publish_next()
    quick = {"attempts": 3, "backoff_s": 0.005, "max_backoff_s": 0.02}
    client = Station(settings).sync_client(**quick)
    sender = Station(settings).sender(attempts=2, backoff_s=0.005, max_backoff_s=0.02)
    counts = {name: 0 for name, _ in FAULTS}
    interrupted = 0
    violations: list[str] = []
    names, weights = zip(*FAULTS, strict=True)
    started = time.perf_counter()
    logging.disable(logging.WARNING)  # expected failures would flood the output
    for run in range(runs):
        submit_registration(settings.db_path, rng.choice(["求职", "培训需求", "返乡", "零工"]), PERSON,
                            {"run": run}, station_id="soak-01")
        if run % 7 == 0:
            _soak_change_content(b, content, rng, run)
            publish_next()
        kind = rng.choices(names, weights)[0]
        counts[kind] += 1
        b.faults(_soak_fault_rules(kind, rng))
        if kind == "down":
            down = Station(down_settings).sync_client(**quick)
            down.sync_once()
            down.close()
            Station(down_settings).sender(attempts=1).deliver_once()
        elif kind.startswith("kill"):
            interrupted += kill_run(settings, quick, rng, kind)
        else:
            client.sync_once()
            sender.deliver_once()
        problem = check_shows_a_published_set(settings, published)
        if problem:
            violations.append(f"run {run} ({kind}): {problem}")
    logging.disable(logging.NOTSET)
    soak_s = time.perf_counter() - started

    # The network comes back: everything queued must arrive, and the feed must land.
    b.faults([])
    for _ in range(20):
        if sender.deliver_once().remaining == 0:
            break
    final = client.sync_once()
    client.close()
    sender.close()
    problem = check_shows_a_published_set(settings, published)
    if problem:
        violations.append(f"final: {problem}")

    import sqlite3

    conn = sqlite3.connect(settings.db_path)
    created = [r[0] for r in conn.execute("SELECT code FROM registrations")]
    conn.close()
    at_hub = [u["payload"]["code"] for u in store.uploads("registration", "soak-01")]
    delivered = len(set(created) & set(at_hub))
    lost = len(set(created) - set(at_hub))
    duplicated = len(at_hub) - len(set(at_hub))
    unknown = len(set(at_hub) - set(created))
    print("   runs by fault: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"   kills that interrupted a running sync/upload: {interrupted} of "
          f"{counts['kill_sync'] + counts['kill_upload']}")
    print(f"   {runs} runs in {soak_s:.1f} s; {len(published)} feed versions published; final sync: {final.status}, "
          f"station at version {final.version} of {max(published)}")
    print(f"   registrations created {len(created)}, delivered {delivered}, lost {lost}, duplicated {duplicated}, "
          f"unknown at hub {unknown}")
    print(f"   moments the station showed anything but a whole published set: {len(violations)}")
    for line in violations[:10]:
        print(f"     {line}")
    figure("soak_runs", runs, "runs")
    figure("soak_kills_interrupting", interrupted, "kills")
    figure("soak_registrations_created", len(created), "registrations")
    figure("soak_registrations_delivered", delivered, "registrations")
    figure("soak_registrations_lost", lost, "registrations")
    figure("soak_registrations_duplicated", duplicated, "registrations")
    figure("soak_content_violations", len(violations), "checks")


def _soak_change_content(b: Bench, content: ContentSet, rng: random.Random, run: int) -> None:
    """Change three jobs (and, every third time, a course's video) as a bureau editing its feed would."""
    jobs = list(content.jobs)
    for i in rng.sample(range(len(jobs)), 3):
        jobs[i] = jobs[i].model_copy(update={"headcount": jobs[i].headcount + 1,
                                             "version": jobs[i].version + 1})
    content.jobs = jobs
    if run % 21 == 0:
        content.courses = [content.courses[0].model_copy(
            update={"media": b.media(1000 + run, rng.randint(20_000, 200_000))}), content.courses[1]]


def _soak_fault_rules(kind: str, rng: random.Random) -> list[dict[str, Any]]:
    """The hub's fault rules for one soak run of fault ``kind``, on a randomly chosen path."""
    target = rng.choice([r"manifest\.json", r"manifest\.sig", "/items/", "/media/", "/api/v1/"])
    if kind == "500":
        return [{"match": target, "action": "status", "value": rng.choice([500, 502, 503]),
                 "times": rng.randint(1, 4)}]
    if kind == "cut":
        return [{"match": target, "action": "cut", "value": rng.uniform(0.05, 0.95), "times": rng.randint(1, 2)}]
    if kind == "slow":
        return [{"match": target, "action": "delay", "value": rng.uniform(0.02, 0.15), "times": 2}]
    if kind == "corrupt":
        return [{"match": rng.choice(["/items/", "/media/"]), "action": "corrupt", "times": rng.choice([1, None])}]
    if kind == "kill_sync":
        return [{"match": "/media/|/items/", "action": "throttle", "value": 2_000_000, "times": None}]
    if kind == "kill_upload":
        return [{"match": "/api/v1/", "action": "delay_after", "value": 0.25, "times": 1}]
    return []


def kill_run(settings: Any, quick: dict[str, Any], rng: random.Random, kind: str) -> int:
    """Run a sync and a delivery in a forked station process and SIGKILL it at a random moment.
    Returns 1 if it was still working when killed."""
    delay = rng.uniform(0.0, 0.12) if kind == "kill_sync" else rng.uniform(0.02, 0.3)
    pid = os.fork()
    if pid == 0:  # the station process
        try:
            logging.disable(logging.CRITICAL)
            child = Station(settings).sync_client(**quick)
            child.sync_once()
            Station(settings).sender(attempts=2, backoff_s=0.005).deliver_once()
        finally:
            os._exit(0)
    time.sleep(delay)
    finished, _ = os.waitpid(pid, os.WNOHANG)
    if finished:
        return 0
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return 1


def check_shows_a_published_set(settings: Any, published: dict[int, Any]) -> str | None:
    from feed_support import fingerprint

    with open_store(settings) as store:
        info = store.content_info()
        if info.version == 0:
            return None  # nothing applied yet: the station shows its empty state, not a half set
        shown = store.export_content()
    if info.version not in published:
        return f"version {info.version} was never published"
    if fingerprint(shown) != published[info.version]:
        return f"version {info.version} does not match what was published"
    cache = media_cache(settings)
    for course in shown.courses:
        if not cache.verify(course.media):
            return f"media of {course.id} missing or damaged"
    return None


# -- 7: key rotation -------------------------------------------------------------------------

def bench_rotation(b: Bench) -> None:
    from concurrent.futures import ThreadPoolExecutor

    n = b.args.stations
    print(f"== key rotation reaching {n} stations")
    b.publish("rot", sample_content(origin=ORIGIN, jobs=50, today=dt.date.today()))
    stations = [b.station(f"rot-{i:03d}", "rot") for i in range(n)]

    def sync(settings: Any) -> tuple[str, int, float]:
        client = Station(settings).sync_client(attempts=3, backoff_s=0.05)
        started = time.perf_counter()
        try:
            result = client.sync_once()
        finally:
            client.close()
        return result.status, result.version, time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=4) as pool:
        first = list(pool.map(sync, stations))
    assert all(status == "changed" for status, _, _ in first), first[:3]
    published = time.perf_counter()
    rotation = rotate_key(b.home)
    b.key = load_key_file(b.home / "feed.key")  # later publications sign with the new key
    rotated_in = time.perf_counter() - published
    with ThreadPoolExecutor(max_workers=4) as pool:
        after = list(pool.map(sync, stations))
    total = time.perf_counter() - published
    import sqlite3

    trusting = 0
    for settings in stations:
        with sqlite3.connect(settings.db_path) as conn:
            row = conn.execute("SELECT trusted_key FROM sync_trust WHERE id = 1").fetchone()
        trusting += bool(row and row[0] == rotation.public_key)
    per_station = statistics.median(t for _, _, t in after)
    print(f"   rotate-key (new key, signed record, {len(rotation.feeds)} feeds re-signed): {rotated_in:.2f} s")
    print(f"   {trusting}/{n} stations trust the new key; all synced {total:.2f} s after the rotation "
          f"(median sync {per_station * 1000:.0f} ms, 4 at a time)")
    figure("key_rotation_all_stations_s", round(total, 2), "s")
    figure("key_rotation_stations_trusting", trusting, f"of {n}")


# -- 8: uploads while the feed trickles --------------------------------------------------------

def bench_trickle(b: Bench) -> None:
    from trickle_server import Body, TrickleServer

    print("== a registration while the feed trickles (1 byte every 0.5 s)")
    b.publish("slow", sample_content(origin=ORIGIN, jobs=50, today=dt.date.today()))
    manifest = (b.home / "feeds" / "slow" / "manifest.json").read_bytes()
    trickle = TrickleServer({"/manifest.json": Body(manifest, step=1)}, interval_s=0.5).start()
    store = HubStore(b.home / "hub.db")
    token = store.add_station("slow-01", "慢速内容源测试站")
    settings = b.station("slow-01", "slow", token=token)
    settings = settings.model_copy(update={"hub": settings.hub.model_copy(
        update={"feed_url": trickle.url})})
    station = Station(settings)
    loop = station.sync_loop(interval_s=300)
    times = []
    try:
        loop.start()
        trickle.bodies["/manifest.json"].started.wait(30)
        while trickle.bodies["/manifest.json"].sent < 4:  # the feed is well into its trickle
            time.sleep(0.1)
        for _ in range(b.args.trickle_rounds):
            rounds = loop.status.delivery_rounds
            started = time.perf_counter()
            submit_registration(settings.db_path, "求职", PERSON, {}, station_id="slow-01")
            loop.deliver_now()  # what the kiosk does after a registration
            status = loop.wait_rounds(-1, rounds, timeout=60)
            while status.last_delivery is None or status.outbox_depth:
                rounds = status.delivery_rounds
                status = loop.wait_rounds(-1, rounds, timeout=60)
            times.append(time.perf_counter() - started)
        still = loop.status.syncing and loop.status.feed_rounds == 0
        sent = trickle.bodies["/manifest.json"].sent
    finally:
        trickle.stop()
        loop.stop(timeout=20)
        store.close()
    median = statistics.median(times)
    print(f"   {len(times)} registrations reached the hub in {median * 1000:.0f} ms (median), "
          f"max {max(times) * 1000:.0f} ms; the feed round still running: {still} "
          f"({sent} of {len(manifest)} manifest bytes received meanwhile)")
    print("   (one thread for both, as before: the registration waited for the manifest, up to the fetch's "
          "120 s deadline, and without the deadline for ever)")
    figure("registration_to_hub_while_feed_trickles_ms", round(median * 1000, 1), "ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--media-mb", type=float, default=20.0)
    parser.add_argument("--soak", type=int, default=1000, help="randomized fault runs (default 1000)")
    parser.add_argument("--rounds", type=int, default=15, help="download rounds for the throughput median")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--stations", type=int, default=50, help="stations for the key rotation (default 50)")
    parser.add_argument("--trickle-rounds", type=int, default=5,
                        help="registrations sent while the feed trickles (default 5)")
    parser.add_argument("--only", choices=("sync", "media", "soak", "rotation", "trickle"), action="append",
                        help="run only these parts (repeatable; default all)")
    parser.add_argument("--quick", action="store_true", help="2 000 jobs, 5 MB of media, 150 soak runs")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.media_mb, args.soak, args.rounds, args.stations = 2000, 5.0, 150, 5, 10
    logging.basicConfig(level=logging.ERROR)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="yizhan-bench-sync-") as tmp:
        b = Bench(Path(tmp), args)
        b.start_hub()
        try:
            parts = {"sync": bench_sync, "media": bench_media, "soak": bench_soak, "rotation": bench_rotation,
                     "trickle": bench_trickle}
            for name, run in parts.items():
                if not args.only or name in args.only:
                    run(b)
        finally:
            b.stop_hub()
    print(f"== total {time.perf_counter() - started:.0f} s")
    for name, value, unit in FIGURES:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        print(f"FIGURE {name} {shown} {unit}")


if __name__ == "__main__":
    main()
