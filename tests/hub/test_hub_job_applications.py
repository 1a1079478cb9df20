"""我想应聘 at the hub's upload edge: the job a registration applies for and the unverified mark
are checked field by field like the rest of the record (the kiosk-to-inbox flow itself is
tests/kiosk/test_kiosk_apply.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

from hub.app import create_app

JOB = {"id": "job-7-000104", "title": "开荒保洁", "employer": "龙洞堡众合家政服务有限公司"}


def _item(payload: dict) -> dict:
    return {"key": str(uuid.uuid4()), "created_at": "2026-03-01T09:30:00+08:00",
            "payload": {"kind": "求职", "answers": {}, **payload}}


def test_a_job_reference_and_the_unverified_mark_are_checked(tmp_path: Path) -> None:
    app = create_app(tmp_path / "hub")
    store = app.extensions["hub_store"]
    store.add_station("s1")
    phone = {"phone": "13698765432"}
    items = [
        _item({"code": "J1", "person": phone, "job": {"id": "job-1", "title": "保洁"}}),
        _item({"code": "J2", "person": phone, "job": {**JOB, "title": "岗" * 300}}),
        _item({"code": "J3", "person": phone, "job": JOB, "verified": "否"}),
        _item({"code": "J4", "person": phone, "job": JOB, "verified": False}),
        _item({"code": "J5", "person": {"name": "测试", **phone}, "job": JOB}),
    ]
    results = store.ingest("s1", "registration", items)
    assert [r["status"] for r in results] == ["rejected", "rejected", "rejected", "created", "created"]
    assert all(r["reason"].startswith("payload.job: an object of id, title and employer") for r in results[:2])
    assert results[2]["reason"] == "payload.verified: true or false"
    assert all("13698765432" not in str(r) for r in results)
    stored = {u["payload"]["code"]: u["payload"] for u in store.uploads("registration")}
    assert stored["J4"]["job"] == JOB and stored["J4"]["verified"] is False
    store.close()
