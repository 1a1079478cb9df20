"""Service counts (服务台账): registrations, slips printed, kiosk use and board plays of a day."""

from __future__ import annotations

import datetime as dt
import json

from config.cli import main
from content.outbox import record_proof_of_play, record_usage
from content.registrations import submit_registration
from content.stats import service_counts
from printer.queue import PrintQueue

PERSON = {"name": "张三丰", "id_number": "44010619900101123X", "gender": "男", "birth_date": "1990-01-01",
          "address": "贵州省贵阳市云岩区中华北路108号", "phone": "13812345678"}


def test_counts_of_a_day(station, capsys) -> None:
    settings = station.settings
    db = settings.db_path
    assert service_counts(db).registrations_total == 0  # empty database: all zero, no error
    for kind in ("求职", "求职", "返乡"):
        submit_registration(db, kind, PERSON, {"phone": PERSON["phone"]}, station_id=settings.station.id)
    queue = PrintQueue(db)
    printed = queue.submit("job", b"\x1b@slip", "岗位单 J1")
    queue.submit("receipt", b"\x1b@receipt", "回执")  # still queued: not counted as printed
    assert queue.claim(printed)
    queue.mark_sent(printed)
    queue.mark_printed(printed)
    record_usage(settings, "search", results=3)
    record_usage(settings, "search", results=0)
    record_usage(settings, "open_job")
    record_usage(settings, "rating", level="满意", score=4, services="print_job")
    record_proof_of_play(settings, "jobs", "page-1", dt.datetime.now(), 12.5)
    record_proof_of_play(settings, "video", "c1", dt.datetime.now(), 0, status="skipped")

    counts = service_counts(db)
    assert counts.registrations == {"求职": 2, "培训需求": 0, "返乡": 1, "零工": 0, "失业": 0}
    assert counts.ratings == {"非常满意": 0, "满意": 1, "基本满意": 0, "不满意": 0, "非常不满意": 0}
    assert counts.slips_printed == {"岗位推荐单": 1}
    assert counts.usage == {"search": 2, "open_job": 1}
    assert counts.board_plays == 1
    assert counts.outbox_waiting == 3 + 4 + 2  # registrations, usage events (a rating too), proof of play
    assert service_counts(db, dt.date.today() - dt.timedelta(days=1)).registrations_total == 0

    assert main(["stats", "--json", "--config", str(station.config_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["service"]["registrations_total"] == 3 and data["service"]["slips_total"] == 1
    assert main(["stats", "--config", str(station.config_path)]) == 0
    out = capsys.readouterr().out
    assert "登记 3 人次（求职 2，培训需求 0，返乡 1，零工 0，失业 0）" in out
    assert "张三丰" not in out and "44010619900101123X" not in out
