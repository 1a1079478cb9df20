"""Load test of the hub at province scale: 20 000 simulated stations on loopback.

The hub runs as it would in production: ``yizhan hub serve --workers N`` (gunicorn) behind
Debian's nginx with the shipped site file (``deploy/hub/nginx-site.conf``), the feed as
static files that nginx serves. For SQLite and for PostgreSQL (a durable cluster: fsync
on), in one run:

1. steady traffic plus the festival peak (返乡登记), open loop: every station sends a
   heartbeat every 5 minutes and polls the feed manifest with a conditional GET every
   5 minutes (so 20 000 stations make 66.7 heartbeats/s and 66.7 polls/s), and
   registrations arrive at 50/s. Time is compressed by running only a slice of the
   5-minute cycle; the rates are the real ones. Latency is measured from when each
   request was due (no coordinated omission);
2. a capacity ramp: the same mix at 2x and 4x (``--ramp``) to find where p99 passes
   200 ms or errors appear, and which process is the first bottleneck;
3. the peak again with the hub (gunicorn master and workers) SIGKILLed and restarted twice:
   every simulated station retries a registration until it has a receipt, as the outbox
   does. Registrations created vs stored: lost and duplicated.

CPU and memory of the hub (gunicorn), the database and nginx are sampled with psutil. The
load generator shares the two cores with all of them: the figures are noisy and low.

    .venv/bin/python bench/hub_load.py [--stations 20000] [--seconds 40] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psutil  # noqa: E402

from common.netutil import free_port, wait_for_port  # noqa: E402
from hub.localservers import LocalNginx, LocalPostgres  # noqa: E402
from hub.storage import HubStore, stations_table, token_hash  # noqa: E402

PERIOD_S = 300.0  # heartbeat and manifest poll period of a real station
PEAK_REG_PER_S = 50.0  # 返乡登记 festival peak, for 20 000 stations
P99_TARGET_MS = 200.0


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    body_304: int = 0
    abandoned: int = 0

    def add(self, endpoint: str, ms: float, status: int | None) -> None:
        self.latencies.setdefault(endpoint, []).append(ms)
        self.statuses.setdefault(endpoint, {})
        key = status if status is not None else 0
        self.statuses[endpoint][key] = self.statuses[endpoint].get(key, 0) + 1

    def error(self, endpoint: str) -> None:
        self.errors[endpoint] = self.errors.get(endpoint, 0) + 1

    def pct(self, endpoint: str, q: float) -> float:
        values = sorted(self.latencies.get(endpoint, []))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))]

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())


class Hub:
    """``yizhan hub serve --workers`` in its own process group (so it can be killed whole)."""

    def __init__(self, home: Path, url: str, port: int, workers: int, threads: int) -> None:
        self.home, self.url, self.port, self.workers, self.threads = home, url, port, workers, threads
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "config.cli", "hub", "serve", "--home", str(self.home), "--database-url", self.url,
             "--workers", str(self.workers), "--threads", str(self.threads), "--port", str(self.port)],
            cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout=60)
        deadline = time.monotonic() + 60
        while len(self.processes()) < self.workers + 1 and time.monotonic() < deadline:
            time.sleep(0.1)

    def processes(self) -> list[psutil.Process]:
        if not self.process or self.process.poll() is not None:
            return []
        try:
            master = psutil.Process(self.process.pid)
            return [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL master and workers at once: a crash, not a shutdown."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Sampler:
    """CPU seconds and RSS of groups of processes between two moments."""

    def __init__(self, groups: dict[str, Any]) -> None:
        self.groups = groups
        self.start_cpu: dict[str, float] = {}
        self.start_t = 0.0
        self.peak_rss: dict[str, float] = {}

    def _procs(self, name: str) -> list[psutil.Process]:
        return self.groups[name]()

    def _cpu(self, name: str) -> float:
        total = 0.0
        for p in self._procs(name):
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def begin(self) -> None:
        # cpu_times of processes that exit during the window are lost; the hub is not
        # restarted while a sampler runs.
        self.start_cpu = {name: self._cpu(name) for name in self.groups}
        self.start_t = time.monotonic()
        self.peak_rss = {name: 0.0 for name in self.groups}

    def sample_rss(self) -> None:
        for name in self.groups:
            rss = 0.0
            for p in self._procs(name):
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
            self.peak_rss[name] = max(self.peak_rss.get(name, 0.0), rss / 2**20)

    def end(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.start_t
        return {name: (self._cpu(name) - self.start_cpu[name]) / elapsed for name in self.groups}


def register_stations(store: HubStore, count: int) -> list[str]:
    """Stations and tokens in bulk (the CLI's one-by-one path would take minutes here)."""
    tokens = [f"bench-token-{i:06d}-{uuid.uuid4().hex[:8]}" for i in range(count)]
    rows = [{"id": f"st-{i:06d}", "name": f"驿站{i}", "token_sha256": token_hash(t), "created_at": "2026-01-01T00:00:00",
             "relay": 0} for i, t in enumerate(tokens)]
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            conn.execute(stations_table.insert(), rows[start:start + 2000])
    return tokens


async def run_load(*, base: str, manifest_url: str, tokens: list[str], seconds: float, scale: float,
                   reg_rate: float, stats: Stats, created: dict[str, str], outstanding: dict[str, Any],
                   registrations: bool = True, retry_until_acked: bool = False, on_tick: Any = None,
                   grace_s: float = 60.0) -> None:
    """Open-loop load for ``seconds``: heartbeats, manifest polls and registrations at real rates x scale."""
    n = len(tokens)
    beat_rate = n / PERIOD_S * scale
    poll_rate = n / PERIOD_S * scale
    # Feed polls and uploads have their own connection pools: real stations each have their
    # own connections, so uploads queued behind a slow hub must not delay a poll to nginx.
    connector = aiohttp.TCPConnector(limit=2000, limit_per_host=2000, keepalive_timeout=30)
    feed_connector = aiohttp.TCPConnector(limit=500, limit_per_host=500, keepalive_timeout=30)
    timeout = aiohttp.ClientTimeout(total=30)
    rng = random.Random(7)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session, \
            aiohttp.ClientSession(connector=feed_connector, timeout=timeout) as feed_session:
        async with feed_session.get(manifest_url) as first:
            shared_etag = first.headers.get("ETag", "")
            await first.read()
        stations = _Stations(base=base, manifest_url=manifest_url, tokens=tokens, session=session,
                             feed_session=feed_session, shared_etag=shared_etag, stats=stats, created=created,
                             outstanding=outstanding, retry_until_acked=retry_until_acked)
        streams: list[tuple[float, Any]] = [(beat_rate, stations.heartbeat), (poll_rate, stations.poll)]
        if registrations:
            streams.append((reg_rate * scale, stations.register))
        pending = await _open_loop(streams, stations=n, seconds=seconds, rng=rng, on_tick=on_tick)
        if pending:
            # Requests still queued after the grace time are abandoned (counted as errors); a
            # registration among them stays outstanding and is sent again by drain().
            _done, late = await asyncio.wait(pending, timeout=grace_s)
            for task in late:
                task.cancel()
            stats.abandoned += len(late)


class _Stations:
    """The simulated stations' requests (heartbeat, manifest poll, registration), each timed from when it was due."""

    def __init__(self, *, base: str, manifest_url: str, tokens: list[str], session: aiohttp.ClientSession,
                 feed_session: aiohttp.ClientSession, shared_etag: str, stats: Stats, created: dict[str, str],
                 outstanding: dict[str, Any], retry_until_acked: bool) -> None:
        self.base, self.manifest_url, self.tokens = base, manifest_url, tokens
        self.session, self.feed_session = session, feed_session
        self.shared_etag = shared_etag
        self.etag: dict[int, str] = {}
        self.stats, self.created, self.outstanding = stats, created, outstanding
        self.retry_until_acked = retry_until_acked

    async def heartbeat(self, i: int, due: float) -> None:
        """Station ``i`` reports its health (not retried: the next beat replaces it)."""
        item = {"key": str(uuid.uuid4()), "created_at": "2026-02-10T09:00:00+08:00",
                "payload": {"content_version": 1, "outbox_depth": 0, "devices": {"printer": {"ok": True}}}}
        await self.post("heartbeat", "heartbeats", self.tokens[i], item, due, retry=False)

    async def poll(self, i: int, due: float) -> None:
        """Station ``i`` asks for the manifest with its ETag (a 304 when nothing changed)."""
        stats = self.stats
        headers = {"If-None-Match": self.etag.get(i, self.shared_etag)}
        try:
            async with self.feed_session.get(self.manifest_url, headers=headers) as r:
                body = await r.read()
                stats.add("manifest", (time.monotonic() - due) * 1000, r.status)
                if r.status == 304:
                    stats.body_304 += len(body)
                elif r.status == 200:
                    self.etag[i] = r.headers.get("ETag", "")
                else:
                    stats.error("manifest")
        except (TimeoutError, aiohttp.ClientError):
            stats.error("manifest")

    async def register(self, i: int, due: float) -> None:
        """Station ``i`` uploads a registration, remembered as created and outstanding until acked."""
        code = uuid.uuid4().hex[:10].upper()
        item = {"key": str(uuid.uuid4()), "created_at": "2026-02-10T09:00:00+08:00",
                "payload": {"code": code, "kind": "返乡", "person": {"name": "测试"}, "answers": {"n": i}}}
        self.created[item["key"]] = code
        self.outstanding[item["key"]] = (self.tokens[i], item)
        await self.post("registration", "registrations", self.tokens[i], item, due, retry=self.retry_until_acked)

    async def post(self, endpoint: str, path: str, token: str, item: dict[str, Any], due: float, *,
                   retry: bool) -> None:
        """Upload one item; with ``retry``, until the hub acknowledges it."""
        stats = self.stats
        delay = 0.2
        while True:
            try:
                async with self.session.post(f"{self.base}api/v1/{path}", json={"items": [item]},
                                             headers={"Authorization": f"Bearer {token}"}) as r:
                    body = await r.json(content_type=None) if r.status == 200 else None
                    if r.status == 200 and body["results"][0]["status"] in ("created", "duplicate"):
                        stats.add(endpoint, (time.monotonic() - due) * 1000, r.status)
                        self.outstanding.pop(item["key"], None)
                        return
                    stats.error(endpoint)
            except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
                stats.error(endpoint)
            if not retry:
                return
            # As the station outbox does: back off and send the same key again.
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def _open_loop(streams: list[tuple[float, Any]], *, stations: int, seconds: float, rng: random.Random,
                     on_tick: Any) -> set[asyncio.Task[None]]:
    """Start every stream's requests when they are due, whether or not earlier ones have answered
    (open loop); returns the tasks still running at the end."""
    pending: set[asyncio.Task[None]] = set()
    start = time.monotonic()
    next_due = [start + rng.random() / rate for rate, _ in streams]
    counters = [rng.randrange(stations) for _ in streams]
    last_tick = start
    while True:
        k = min(range(len(streams)), key=lambda j: next_due[j])
        due = next_due[k]
        if due - start >= seconds:
            break
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        rate, fn = streams[k]
        # Each stream walks through the stations in turn: every station gets its turn.
        counters[k] = (counters[k] + 1) % stations
        task = asyncio.create_task(fn(counters[k], due))
        pending.add(task)
        task.add_done_callback(pending.discard)
        next_due[k] = due + 1.0 / rate
        if on_tick and time.monotonic() - last_tick >= 1.0:
            last_tick = time.monotonic()
            await on_tick(last_tick - start)
    return pending


async def drain(base: str, outstanding: dict[str, Any]) -> int:
    """Send every registration without a receipt again (same key) until each has one, as the outbox does."""
    rounds = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while outstanding and rounds < 100:
            rounds += 1
            for key, (token, item) in list(outstanding.items()):
                try:
                    async with session.post(f"{base}api/v1/registrations", json={"items": [item]},
                                            headers={"Authorization": f"Bearer {token}"}) as r:
                        if r.status == 200 and (await r.json())["results"][0]["status"] in ("created", "duplicate"):
                            outstanding.pop(key, None)
                except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
                    await asyncio.sleep(0.5)
    return rounds


def stored_registrations(url: str, home: Path) -> tuple[int, dict[str, int]]:
    store = HubStore(url, home=home)  # registrations are sealed at rest: read them through the store
    rows = store.uploads("registration")
    store.close()
    codes: dict[str, int] = {}
    for row in rows:
        code = row["payload"]["code"]
        codes[code] = codes.get(code, 0) + 1
    return len(rows), codes


def row(label: str, stats: Stats, seconds: float) -> str:
    parts = [f"{label:<34} {stats.requests / seconds:7.0f} req/s"]
    for ep in ("heartbeat", "manifest", "registration"):
        if ep in stats.latencies:
            parts.append(f"{ep} p50 {stats.pct(ep, 0.5):6.1f} p99 {stats.pct(ep, 0.99):7.1f} ms")
    parts.append(f"errors {sum(stats.errors.values())}, abandoned {stats.abandoned}")
    return " | ".join(parts)


def run_database(kind: str, args: argparse.Namespace, work: Path, figures: dict[str, float],
                 notes: list[str]) -> None:
    home = work / kind
    pg: LocalPostgres | None = None
    if kind == "postgresql":
        pg = LocalPostgres(durable=True, max_connections=300).start()
        url = pg.create_database("hub")
    else:
        url = f"sqlite:///{home / 'hub.db'}"
    hub = nginx = None
    try:
        from config.cli import main

        quiet = open(os.devnull, "w")  # noqa: SIM115
        stdout, sys.stdout = sys.stdout, quiet
        try:
            main(["hub", "keygen", "--home", str(home)])
            main(["hub", "publish", str(ROOT / "hub" / "example"), "--home", str(home)])
        finally:
            sys.stdout = stdout
        store = HubStore(url, home=home)
        tokens = register_stations(store, args.stations)
        store.close()
        workers = args.workers if kind == "postgresql" else args.sqlite_workers
        hub = Hub(home, url, free_port(), workers, args.threads)
        hub.start()
        nginx = LocalNginx(home, hub.port, workers=1).start()
        base = nginx.url
        manifest_url = f"{base}feeds/gy-yunyan/manifest.json"
        me = psutil.Process()
        pg_procs = (lambda: [psutil.Process(pg.postmaster_pid()),
                             *psutil.Process(pg.postmaster_pid()).children()]) if pg else (lambda: [])
        nginx_procs = lambda: [psutil.Process(nginx.process.pid), *psutil.Process(nginx.process.pid).children()]  # noqa: E731
        groups = {"hub": hub.processes, "database": pg_procs, "nginx": nginx_procs, "load generator": lambda: [me]}
        created: dict[str, str] = {}
        outstanding: dict[str, Any] = {}

        def holds(st: Stats) -> bool:
            return not st.errors and not st.abandoned and all(
                st.pct(ep, 0.99) <= P99_TARGET_MS for ep in st.latencies)

        # 1 + 2: steady traffic with the peak, ramped: always up to 1x (20 000 stations), then on
        # until a step misses the target.
        results: list[tuple[float, Stats, dict[str, float], dict[str, float]]] = []
        for scale in sorted({1.0, *args.ramp}):
            if results and results[-1][0] >= 1.0 and not holds(results[-1][1]):
                break
            stats = Stats()
            sampler = Sampler(groups)
            sampler.begin()

            async def tick(_t: float, s: Sampler = sampler) -> None:
                s.sample_rss()

            asyncio.run(run_load(base=base, manifest_url=manifest_url, tokens=tokens, seconds=args.seconds,
                                 scale=scale, reg_rate=PEAK_REG_PER_S * args.stations / 20000, stats=stats,
                                 created=created, outstanding=outstanding, retry_until_acked=True, on_tick=tick))
            cpu = sampler.end()
            sampler.sample_rss()
            results.append((scale, stats, cpu, dict(sampler.peak_rss)))
            label = f"{kind} x{scale:g} ({int(args.stations * scale)} stations)"
            print(row(label, stats, args.seconds), flush=True)
            print("    cpu (cores): " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
                  + " | rss MB: " + ", ".join(f"{k} {v:.0f}" for k, v in sampler.peak_rss.items()), flush=True)

        _scale, base_stats, _base_cpu, base_rss = next(r for r in results if r[0] == 1.0)
        per_k = args.stations / 1000
        figures[f"hub_load_{kind}_rps"] = base_stats.requests / args.seconds
        for ep in ("heartbeat", "manifest", "registration"):
            figures[f"hub_load_{kind}_{ep}_p50"] = base_stats.pct(ep, 0.5)
            figures[f"hub_load_{kind}_{ep}_p99"] = base_stats.pct(ep, 0.99)
        figures[f"hub_load_{kind}_errors"] = sum(base_stats.errors.values())
        figures[f"hub_load_{kind}_manifest_304_body_bytes"] = base_stats.body_304
        # The cost side is taken from the lightest step: there the servers did all the work
        # offered, so CPU seconds per station are not understated by a saturated hub.
        light_scale, _st, light_cpu, _rss = results[0]
        server_cores = light_cpu["hub"] + light_cpu["database"] + light_cpu["nginx"]
        light_k = args.stations * light_scale / 1000
        figures[f"hub_load_{kind}_server_cores_per_1000_stations"] = server_cores / light_k
        figures[f"hub_load_{kind}_hub_cpu_per_1000_stations"] = light_cpu["hub"] / light_k
        figures[f"hub_load_{kind}_db_cpu_per_1000_stations"] = light_cpu["database"] / light_k
        # What the CPU cost alone allows on a dedicated machine like this one (2 cores kept
        # below 70% busy); the latency figures also carry the other tenants' load.
        figures[f"hub_load_{kind}_stations_per_2_cores_cpu_bound"] = (
            2 * 0.7 / (server_cores / (light_k * 1000)) if server_cores else 0.0)
        figures[f"hub_load_{kind}_hub_rss_mb"] = base_rss["hub"]
        figures[f"hub_load_{kind}_server_rss_mb_per_1000_stations"] = (
            base_rss["hub"] + base_rss["database"] + base_rss["nginx"]) / per_k
        held = [s for s, st, _c, _r in results if holds(st)]
        best = max(held) if held else 0.0
        figures[f"hub_load_{kind}_stations_held"] = best * args.stations
        worst_scale, worst_stats, worst_cpu, _ = results[-1]
        busiest = max((k for k in worst_cpu if k != "load generator"), key=lambda k: worst_cpu[k])
        slow_ep = max(worst_stats.latencies, key=lambda ep: worst_stats.pct(ep, 0.99))
        notes.append(f"{kind}: at x{worst_scale:g} the busiest server process group is '{busiest}' "
                     f"({worst_cpu[busiest]:.2f} cores; load generator {worst_cpu['load generator']:.2f}); "
                     f"slowest endpoint: {slow_ep} (p99 {worst_stats.pct(slow_ep, 0.99):.0f} ms)")

        # 3: the peak with the hub killed and restarted twice.
        kill_stats = Stats()
        kill_created: dict[str, str] = {}
        kills = [args.seconds * 0.3, args.seconds * 0.6]

        restarts: list[asyncio.Future[None]] = []

        async def killer(t: float) -> None:
            if kills and t >= kills[0]:
                kills.pop(0)
                hub.kill()
                # Restarted in the background (as systemd would): the stations keep sending meanwhile.
                restarts.append(asyncio.get_running_loop().run_in_executor(None, hub.start))

        asyncio.run(run_load(base=base, manifest_url=manifest_url, tokens=tokens, seconds=args.seconds, scale=1.0,
                             reg_rate=PEAK_REG_PER_S * args.stations / 20000, stats=kill_stats,
                             created=kill_created, outstanding=outstanding, retry_until_acked=True,
                             on_tick=killer))
        print(row(f"{kind} peak, hub killed twice", kill_stats, args.seconds), flush=True)
        if hub.process is None or hub.process.poll() is not None or len(hub.processes()) < 2:
            hub.start()
        created.update(kill_created)
        waiting = len(outstanding)
        rounds = asyncio.run(drain(base, outstanding))
        print(f"    {waiting} registrations had no receipt yet when the load stopped; sent again: "
              f"{'all acknowledged' if not outstanding else f'{len(outstanding)} still without receipt'} "
              f"({rounds} round(s))", flush=True)
        stored, codes = stored_registrations(url, home)
        lost = sum(1 for code in created.values() if code not in codes)
        doubled = sum(n - 1 for n in codes.values() if n > 1)
        print(f"    registrations created {len(created)}, stored {stored}, lost {lost}, duplicated {doubled}; "
              f"requests refused or cut while the hub was down (then retried): {sum(kill_stats.errors.values())}",
              flush=True)
        figures[f"hub_load_{kind}_registrations_created"] = len(created)
        figures[f"hub_load_{kind}_registrations_stored"] = stored
        figures[f"hub_load_{kind}_lost"] = lost
        figures[f"hub_load_{kind}_duplicated"] = doubled
        figures[f"hub_load_{kind}_kill_registration_p99"] = kill_stats.pct("registration", 0.99)
    finally:
        if nginx:
            nginx.stop()
        if hub:
            hub.stop()
        if pg:
            pg.stop()


UNITS = {"rps": "req/s", "p50": "ms", "p99": "ms", "errors": "requests", "bytes": "bytes", "stations": "stations",
         "mb": "MB", "created": "records", "stored": "records", "lost": "records", "duplicated": "records",
         "held": "stations", "ratio": "ratio", "bound": "stations"}


def unit(name: str) -> str:
    if name.endswith("cpu_bound"):
        return "stations"
    if "cpu" in name or "cores" in name:
        return "cores"
    if "rss_mb" in name:
        return "MB"
    return UNITS.get(name.rsplit("_", 1)[-1], "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each load phase")
    parser.add_argument("--ramp", type=float, nargs="*", default=[0.25, 0.5, 2.0, 4.0],
                        help="load multiples besides 1x (run in order; stops after the first miss above 1x)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes (PostgreSQL)")
    parser.add_argument("--sqlite-workers", type=int, default=1,
                        help="gunicorn worker processes on SQLite (one writer process is its best case)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--nice", type=int, default=0,
                        help="run the servers and the load generator at this nice level (e.g. -5 on a machine "
                             "shared with other work, as root)")
    parser.add_argument("--quick", action="store_true", help="2 000 stations, 10 s phases, ramp to 2x only")
    args = parser.parse_args()
    if args.quick:
        args.stations, args.seconds, args.ramp = 2000, 10.0, [2.0]
    if any(s <= 0 for s in args.ramp):
        parser.error("--ramp: multiples must be above 0")
    logging.basicConfig(level=logging.WARNING)
    if args.nice:
        os.nice(args.nice)  # inherited by every server this run starts
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the servers are stopped
    print(f"hub load: {args.stations} stations, {args.seconds:g} s per phase, gunicorn {args.workers}x{args.threads} "
          f"(SQLite {args.sqlite_workers}x{args.threads}), nice {args.nice}, "
          f"{os.cpu_count()} cores shared with the load generator (figures are noisy)", flush=True)
    print(f"  per 1x: heartbeats {args.stations / PERIOD_S:.1f}/s, manifest polls {args.stations / PERIOD_S:.1f}/s "
          f"(nginx, If-None-Match), registrations {PEAK_REG_PER_S * args.stations / 20000:.1f}/s", flush=True)
    figures: dict[str, float] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="yizhan-hub-load-") as tmp:
        for kind in args.databases:
            run_database(kind, args, Path(tmp), figures, notes)
    for note in notes:
        print("bottleneck: " + note)
    if "hub_load_sqlite_registration_p99" in figures and "hub_load_postgresql_registration_p99" in figures:
        figures["hub_load_pg_vs_sqlite_registration_p99_ratio"] = (
            figures["hub_load_postgresql_registration_p99"] / max(figures["hub_load_sqlite_registration_p99"], 0.001))
    for name, value in figures.items():
        print(f"FIGURE {name} {value:.3f} {unit(name)}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
