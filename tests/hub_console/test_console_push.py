"""'yizhan hub push' after a real publication, to 'yizhan hub smsc' run as staff run it: this week's
matches reach the resident who consented, once; a TD typed at the SMSC stops them; the desk's
退订 by number answers with the number masked."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_kit import FEED, Console

from common.geo import destination
from hub.console.publishing import publish_group
from hub.console.seed import seed_source
from hub.push.smsc import read_record

ROOT = Path(__file__).resolve().parents[2]
STATION = (26.58, 106.71)
MORNING = "2026-11-20T10:00:00+08:00"


def _published(console: Console, tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "documents").mkdir(parents=True)
    jobs = []
    for job_id, published in (("pg-old", "2026-11-01"), ("pg-new", "2026-11-18")):
        lat, lon = destination(*STATION, 90.0, 1.0)
        jobs.append({"id": job_id, "title": "包装普工", "employer": f"{job_id}公司", "category": "普工",
                     "salary_min": 4000, "salary_max": 4500, "latitude": lat, "longitude": lon,
                     "published": published, "valid_until": "2027-03-31"})
    (source / "jobs.json").write_text(json.dumps(jobs, ensure_ascii=False), encoding="utf-8")
    (source / "documents" / "stations.json").write_text(json.dumps([
        {"id": "s-1", "name": "城东社区服务站", "latitude": STATION[0], "longitude": STATION[1]}], ensure_ascii=False),
        encoding="utf-8")
    seed_source(console.engine, console.home, source, feed_id=FEED, regions=["520100"], now=console.clock())
    publish_group(console.engine, console.home, console.home / "feeds", FEED, "publisher", console.clock())
    console.store.add_station("s-1", "城东社区服务站")
    created = "2026-11-19T09:00:00+08:00"
    for number, consent in ((1, True), (2, False)):
        payload = {"code": f"4827193{number}", "kind": "求职", "station_id": "s-1", "created_at": created,
                   "person": {"name": "钱七妹", "phone": f"1351234567{number}", "gender": "女",
                              "birth_date": "1985-03-04"},
                   "answers": {"categories": ["普工"], "salary": "3000-5000元"}}
        if consent:
            payload["sms_consent"] = True
        answer = console.store.ingest("s-1", "registration", [{"key": f"reg-key-00000{number}", "created_at": created,
                                                                "payload": payload}])
        assert answer[0]["status"] == "created"


@pytest.fixture
def smsc(tmp_path: Path, free_port: int) -> Iterator[tuple[subprocess.Popen, int, Path]]:
    record = tmp_path / "smsc.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "config.cli", "hub", "smsc", "--port", str(free_port),
                                "--record", str(record)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    assert f"127.0.0.1:{free_port}" in process.stdout.readline()
    yield process, free_port, record
    process.kill()
    process.wait()


def _push(console: Console, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "config.cli", "hub", "push", "--home", str(console.home),
                           "--database-url", console.database_url, "--now", MORNING, *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_this_weeks_matches_reach_the_consenting_resident_once(console: Console, tmp_path: Path,
                                                               smsc: tuple[subprocess.Popen, int, Path]) -> None:
    process, port, record = smsc
    _published(console, tmp_path)
    with (console.home / "hub.toml").open("a", encoding="utf-8") as toml:
        toml.write(f"\n[push]\nport = {port}\nsource = \"10690001\"\nin_doubt_wait_s = 0\n")

    first = _push(console)
    assert first.returncode == 0, first.stderr
    assert "新排队 1 条，已发送 1 条" in first.stdout
    sent = read_record(record)
    # this week's job only (pg-old was published 19 days ago), to the resident who consented only
    assert [m["to"] for m in sent] == ["13512345671"] and "pg-new公司" in sent[0]["text"]
    assert sent[0]["text"].startswith("【城东社区服务站】") and sent[0]["text"].endswith("回复TD退订")
    assert "13512345671" not in first.stdout + first.stderr

    again = _push(console)
    assert "新排队 0 条，已发送 0 条" in again.stdout and len(read_record(record)) == 1

    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("td 13512345671\n")
    process.stdin.flush()
    while "发出 TD" not in (line := process.stdout.readline()):
        assert line, "the SMSC stopped"
    assert "135****5671" in line
    after = _push(console)
    assert "回复退订 1 人" in after.stdout

    desk = _push(console, "--stop-number", "13512345672")
    assert desk.returncode == 0 and desk.stdout.strip() == "135****5672 已退订，撤下待发 0 条"


def test_bad_push_settings_are_named(console: Console) -> None:
    (console.home / "hub.toml").write_text("[push]\nweekly_cap = 99\n", encoding="utf-8")
    answer = _push(console)
    assert answer.returncode == 2 and "weekly_cap 须为 0 到 50 的整数（收到 99）" in answer.stderr
