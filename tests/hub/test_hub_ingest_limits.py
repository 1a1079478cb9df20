"""The upload API's edges: a valid station token is never held up by other clients' bad tokens
from the same address, and records are checked field by field (lengths, types, counts)
with a reason that names the field."""

from __future__ import annotations

import uuid
from pathlib import Path

import requests

from hub.app import HubServer, create_app
from hub.limits import UploadGuard


def test_a_valid_token_behind_the_same_address_as_20_bad_ones_gets_through() -> None:
    tokens = {"good-token": "s1"}
    guard = UploadGuard(tokens.get, clock=lambda: 1000.0)
    headers = {"CONTENT_LENGTH": "100"}
    for n in range(20):
        refusal = guard.check("POST", "/api/v1/heartbeats", {**headers, "AUTHORIZATION": f"Bearer guess-{n}"}, "10.0.0.1")
        assert refusal is not None and refusal.status == 401
    refusal = guard.check("POST", "/api/v1/heartbeats", {**headers, "AUTHORIZATION": "Bearer guess-21"}, "10.0.0.1")
    assert refusal is not None and refusal.status == 429
    assert guard.check("POST", "/api/v1/heartbeats", {**headers, "AUTHORIZATION": "Bearer good-token"}, "10.0.0.1") is None


def _item(payload: dict) -> dict:
    return {"key": str(uuid.uuid4()), "created_at": "2026-03-01T09:30:00+08:00", "payload": payload}


def test_records_are_checked_field_by_field(tmp_path: Path) -> None:
    app = create_app(tmp_path / "hub")
    store = app.extensions["hub_store"]
    token = store.add_station("s1")
    person = {"name": "测试", "id_number": "520103199002140027"}
    bad = [
        ({"code": "A1", "kind": "求职", "person": person, "answers": {"意向": [0] * 50_000}},
         "payload.answers.意向: at most 500 elements"),
        ({"code": "A2", "kind": "求职", "person": {**person, "name": "名" * 500}, "answers": {}},
         "payload.person.name: text of at most 64 characters"),
        ({"code": "A3", "kind": "求职", "person": {**person, "phone": 13698765432}, "answers": {}},
         "payload.person.phone: text of at most 32 characters"),
        ({"code": "A4", "kind": "求职", "person": person, "answers": {f"q{i}": "x" for i in range(150)}},
         "payload.answers: an object of at most 100 answers"),
        ({"code": "A5", "kind": "求职", "person": person, "answers": {"备注": "长" * 5000}},
         "payload.answers.备注: at most 4000 characters"),
    ]
    good = {"code": "A6", "kind": "求职", "person": person, "answers": {"意向": ["保洁", "保安"]}}
    with HubServer(app) as hub:
        answer = requests.post(hub.url + "api/v1/registrations", json={"items": [_item(p) for p, _ in bad] + [_item(good)]},
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * len(bad) + ["created"]
    for result, (_, reason) in zip(results, bad, strict=False):
        assert result["reason"].startswith(reason), result["reason"]
        assert "测试" not in result["reason"] and "5201031990" not in result["reason"]
    assert store.count("registration") == 1
    store.close()
