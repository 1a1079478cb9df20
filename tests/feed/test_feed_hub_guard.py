"""The hub under attack on loopback: what it reads, what it stores, where its home is.

Each test reproduces a fault found from outside: a relative home served 404s, a 100 MB
body was read before the 401, token guessing was not slowed, a deep JSON body gave a 500,
a token could post for another station, and hub.db held residents' data in clear.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import uuid
from pathlib import Path

import pytest
import requests
from feed_support import Hub, make_content

from config.station import Station
from hub.app import HubServer, create_app
from hub.limits import UploadGuard, json_depth_ok
from hub.publish import publish_content, write_keypair
from hub.storage import HubStore
from hub.vault import ENV_KEY, Vault, VaultError

PEOPLE = [
    {"name": "王秀兰", "id_number": "52010319650307242X", "phone": "13985012345", "address": "贵阳市云岩区北京路9号"},
    {"name": "欧阳建国", "id_number": "520103198811120031", "phone": "15008512345", "address": "贵阳市南明区花果园"},
]


def item(payload: dict, key: str | None = None) -> dict:
    return {"key": key or str(uuid.uuid4()), "created_at": "2026-03-01T09:30:00+08:00", "payload": payload}


def registration(person: dict, station_id: str = "s1", code: str = "ABC234") -> dict:
    return {"code": code, "kind": "求职", "station_id": station_id, "created_at": "2026-03-01T09:30:00+08:00",
            "person": person, "answers": {"意向": "保洁"}}


def raw_request(port: int, head: str, body_part: bytes = b"") -> bytes:
    """Send a request head and part of its body, then read whatever the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body_part)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


# -- 3. the README's own steps ------------------------------------------------------------

def test_a_relative_hub_home_serves_its_feeds_from_another_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    key_path, _ = write_keypair(Path("hub"))
    from content.sample import sample_content
    from hub.publish import load_key_file
    from protocol.feed import Scope

    publish_content(sample_content(origin=(26.58, 106.71), jobs=5, seed=1), {}, Path("hub/feeds/gy"),
                    key=load_key_file(key_path), feed_id="gy", scope=Scope(regions=["*"]))
    with HubServer(create_app("hub")) as server:
        response = requests.get(f"{server.url}feeds/gy/manifest.json", timeout=5)
        assert response.status_code == 200, response.text
        assert json.loads(response.content)["feed_id"] == "gy"
        assert requests.get(f"{server.url}feeds/gy/manifest.sig", timeout=5).status_code == 200
    home = tmp_path / "hub"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "hub.db").stat().st_mode) == 0o600


def test_the_hub_command_resolves_a_relative_home_against_the_working_directory(tmp_path: Path,
                                                                                monkeypatch) -> None:
    from config.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["hub", "keygen", "--home", "hub"]) == 0
    assert main(["hub", "station", "add", "s1", "--home", "hub"]) == 0
    assert (tmp_path / "hub" / "feed.key").exists() and (tmp_path / "hub" / "hub.db").exists()
    assert stat.S_IMODE((tmp_path / "hub").stat().st_mode) == 0o700


# -- 6. the hub takes only what it should --------------------------------------------------

def test_a_50_mb_body_without_a_token_is_answered_before_1_mb_is_read(hub: Hub) -> None:
    head = ("POST /api/v1/registrations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {50 * 1024 * 1024}\r\n\r\n")
    answer = raw_request(hub.server.port, head, b"[" * (256 * 1024))  # a quarter MB sent, then we wait
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"www-authenticate: bearer" in rest.lower()
    assert b"station token" in rest


def test_a_body_over_the_endpoint_limit_is_refused_before_it_is_read(hub: Hub) -> None:
    token = hub.store.add_station("s1")
    head = (f"POST /api/v1/registrations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {2 * 1024 * 1024}\r\n\r\n")
    answer = raw_request(hub.server.port, head, b" " * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"registrations accepts at most" in answer


def test_1000_wrong_tokens_are_throttled_with_retry_after(tmp_path: Path) -> None:
    now = [1000.0]
    app = create_app(tmp_path / "hub", clock=lambda: now[0])
    store: HubStore = app.extensions["hub_store"]
    good = store.add_station("s1")
    url_of = "api/v1/heartbeats"
    body = {"items": [item({"at": "2026-03-01T09:30:00+08:00"})]}
    with HubServer(app) as server, requests.Session() as session:
        statuses = []
        for n in range(1000):
            r = session.post(server.url + url_of, json=body, headers={"Authorization": f"Bearer guess-{n}"}, timeout=5)
            statuses.append(r.status_code)
        assert statuses[:20] == [401] * 20
        assert set(statuses[20:]) == {429}
        last = session.post(server.url + url_of, json=body, headers={"Authorization": "Bearer guess"}, timeout=5)
        assert 1 <= int(last.headers["Retry-After"]) <= 60
        # A right token is never held up by the bad tokens of others behind the same address.
        ok = session.post(server.url + url_of, json=body, headers={"Authorization": f"Bearer {good}"}, timeout=5)
        assert ok.status_code == 200 and ok.json()["results"][0]["status"] == "created"


def test_a_station_sending_too_often_is_told_when_to_come_back() -> None:
    now = [0.0]
    guard = UploadGuard(lambda token: "s1" if token == "t1" else None, clock=lambda: now[0], per_station=(3, 60.0))
    headers = {"AUTHORIZATION": "Bearer t1", "CONTENT_LENGTH": "100"}
    assert [guard.check("POST", "/api/v1/events", headers, "10.0.0.1") for _ in range(3)] == [None] * 3
    refusal = guard.check("POST", "/api/v1/events", headers, "10.0.0.1")
    assert refusal is not None and refusal.status == 429 and refusal.retry_after == 60
    now[0] += 60.5
    assert guard.check("POST", "/api/v1/events", headers, "10.0.0.1") is None


def test_a_200000_deep_json_body_is_a_400_not_a_500(hub: Hub) -> None:
    token = hub.store.add_station("s1")
    deep = b'{"items": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    response = requests.post(hub.url + "api/v1/events", data=deep, timeout=10,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "too deep" in response.json()["error"]
    assert json_depth_ok(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')  # brackets inside strings do not count


def test_a_token_cannot_post_for_another_station(hub: Hub) -> None:
    token = hub.store.add_station("s1")
    hub.store.add_station("s2")
    batch = [item(registration(PEOPLE[0], station_id="s2")), item(registration(PEOPLE[1], station_id="s1"))]
    answer = requests.post(hub.url + "api/v1/registrations", json={"items": batch}, timeout=5,
                           headers={"Authorization": f"Bearer {token}"})
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "created"]
    assert "station_id" in results[0]["reason"]
    stored = hub.store.uploads("registration")
    assert [(u["station_id"], u["payload"]["person"]["name"]) for u in stored] == [("s1", PEOPLE[1]["name"])]


# -- 5. personal data at rest ----------------------------------------------------------------

def _hub_files(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file() and not p.name.endswith(".key"))


@pytest.mark.parametrize("envelope", [False, True])
def test_the_hub_database_is_grep_clean_of_residents_data(tmp_path: Path, monkeypatch, envelope: bool) -> None:
    if envelope:
        monkeypatch.setenv(ENV_KEY, base64.b64encode(os.urandom(32)).decode())
    else:
        monkeypatch.delenv(ENV_KEY, raising=False)
    home = tmp_path / "hub"
    app = create_app(home)
    token = app.extensions["hub_store"].add_station("s1")
    with HubServer(app) as server:
        batch = [item(registration(p, code=f"CODE{i}2")) for i, p in enumerate(PEOPLE)]
        answer = requests.post(server.url + "api/v1/registrations", json={"items": batch}, timeout=5,
                               headers={"Authorization": f"Bearer {token}"})
        assert [r["status"] for r in answer.json()["results"]] == ["created", "created"]
    everything = _hub_files(home)  # hub.db, its WAL, every other file in the home
    for person in PEOPLE:
        for field in ("name", "id_number", "phone", "address"):
            assert person[field].encode("utf-8") not in everything, field
            assert json.dumps(person[field]).encode() not in everything, field
    # Opened again (a restart), the hub reads them back for an export.
    names = [u["payload"]["person"]["name"] for u in HubStore(home / "hub.db").uploads("registration")]
    assert names == [p["name"] for p in PEOPLE]
    keys = home / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for key_file in keys.iterdir():
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (keys / "registrations.key.wrapped").exists() == envelope
    assert (keys / "registrations.key").exists() != envelope


def test_the_vault_reads_legacy_rows_and_refuses_a_wrong_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    vault = Vault.for_home(tmp_path)
    assert vault.unseal('{"code": "OLD234"}') == {"code": "OLD234"}
    sealed = vault.seal({"person": {"name": "王秀兰"}})
    assert "王秀兰" not in sealed and vault.unseal(sealed) == {"person": {"name": "王秀兰"}}
    with pytest.raises(VaultError, match="does not open"):
        Vault(os.urandom(32)).unseal(sealed)


def test_a_station_syncs_and_uploads_through_the_guarded_hub(station, hub: Hub) -> None:
    """The guard lets a real station through: feed down, registrations up."""
    from feed_support import client_for, hub_toml

    from content.registrations import submit_registration

    token = hub.store.add_station("test-station-01")
    settings = station.write(hub_toml(hub, token=token))
    hub.publish(make_content(hub, jobs=10))
    assert client_for(settings).sync_once().status == "changed"
    submit_registration(settings.db_path, "求职", PEOPLE[0], {"意向": "保洁"}, station_id=settings.station.id)
    sender = Station(settings).sender(attempts=2, backoff_s=0.01)
    try:
        assert sender.deliver_once().sent == 1
    finally:
        sender.close()
    assert hub.store.uploads("registration")[0]["payload"]["person"]["id_number"] == PEOPLE[0]["id_number"]
