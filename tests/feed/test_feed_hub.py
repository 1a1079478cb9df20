"""The reference hub over real HTTP: conditional GET, ranges, uploads with tokens and idempotency, status page."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import requests
from feed_support import Hub, make_content

from config.cli import main


@pytest.fixture
def published(hub: Hub) -> Hub:
    hub.publish(make_content(hub, jobs=30))
    return hub


def item(payload: dict, key: str | None = None) -> dict:
    return {"key": key or str(uuid.uuid4()), "created_at": "2026-03-01T09:30:00+08:00", "payload": payload}


def registration(code: str = "ABC234") -> dict:
    return {"code": code, "kind": "求职", "station_id": "s1", "created_at": "2026-03-01T09:30:00+08:00",
            "person": {"name": "张三"}, "answers": {}}


def test_manifest_is_served_with_validators_and_revalidated(published: Hub) -> None:
    url = published.feed_url + "manifest.json"
    first = requests.get(url, timeout=5)
    assert first.status_code == 200
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    assert "no-cache" in first.headers["Cache-Control"]
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
    assert again.status_code == 304 and again.content == b""
    since = requests.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]}, timeout=5)
    assert since.status_code == 304


def test_media_ranges_and_immutable_caching(published: Hub) -> None:
    entry = published.manifest().media[0]
    url = published.feed_url + entry.path
    whole = requests.get(url, timeout=5)
    assert whole.status_code == 200 and len(whole.content) == entry.size
    assert "immutable" in whole.headers["Cache-Control"]
    part = requests.get(url, headers={"Range": "bytes=1000-"}, timeout=5)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 1000-{entry.size - 1}/{entry.size}"
    assert part.content == whole.content[1000:]
    beyond = requests.get(url, headers={"Range": f"bytes={entry.size + 10}-"}, timeout=5)
    assert beyond.status_code == 416


@pytest.mark.parametrize("path", ["../hub.db", "..%2Fhub.db", "%2e%2e/feed.key", "items/../../../feed.key"])
def test_nothing_outside_the_feed_folder_is_served(published: Hub, path: str) -> None:
    response = requests.get(published.feed_url + path, timeout=5)
    assert response.status_code == 404
    assert b"PRIVATE KEY" not in response.content and b"SQLite" not in response.content


def test_uploads_need_a_station_token(hub: Hub) -> None:
    url = hub.url + "api/v1/events"
    body = {"items": [item({"event": "search"})]}
    assert requests.post(url, json=body, timeout=5).status_code == 401
    bad = requests.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert bad.status_code == 401 and "token" in bad.json()["error"]
    assert hub.store.count() == 0


def test_a_duplicate_key_stores_once_and_answers_with_the_first_receipt(hub: Hub) -> None:
    token = hub.store.add_station("s1", "城东")
    headers = {"Authorization": f"Bearer {token}"}
    url = hub.url + "api/v1/registrations"
    entry = item(registration())
    first = requests.post(url, json={"items": [entry]}, headers=headers, timeout=5)
    second = requests.post(url, json={"items": [entry]}, headers=headers, timeout=5)
    assert first.status_code == second.status_code == 200
    a, b = first.json()["results"][0], second.json()["results"][0]
    assert (a["status"], b["status"]) == ("created", "duplicate")
    assert a["receipt"] == b["receipt"]
    assert hub.store.count("registration") == 1


def test_each_item_of_a_batch_gets_its_own_answer(hub: Hub) -> None:
    token = hub.store.add_station("s1")
    other = hub.store.add_station("s2")
    url = hub.url + "api/v1/registrations"
    # a key already used by another station (its payload names no station)
    taken = item({k: v for k, v in registration("TAKEN2").items() if k != "station_id"})
    requests.post(url, json={"items": [taken]}, headers={"Authorization": f"Bearer {other}"}, timeout=5)
    batch = [item(registration("GOOD22")), item({"kind": "求职"}), {"key": "x", "payload": {}}, taken,
             item({**registration("BADK22"), "kind": "旅游"})]
    answer = requests.post(url, json={"items": batch}, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 200
    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses == ["created", "rejected", "rejected", "rejected", "rejected"]
    reasons = [r.get("reason", "") for r in answer.json()["results"]]
    assert "payload.code" in reasons[1] and "key" in reasons[2]
    assert "another record" in reasons[3] and "payload.kind" in reasons[4]
    assert [u["payload"]["code"] for u in hub.store.uploads("registration", "s1")] == ["GOOD22"]


@pytest.mark.parametrize("body, message", [
    (b"not json", "body must be JSON"),
    (json.dumps({"items": []}).encode(), "1 to 500"),
    (json.dumps({"items": [{}] * 501}).encode(), "1 to 500"),
])
def test_a_malformed_upload_is_refused_whole(hub: Hub, body: bytes, message: str) -> None:
    token = hub.store.add_station("s1")
    response = requests.post(hub.url + "api/v1/events", data=body, timeout=5,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 400 and message in response.json()["error"]


def test_unknown_endpoint(hub: Hub) -> None:
    response = requests.post(hub.url + "api/v1/photos", json={"items": []}, timeout=5)
    assert response.status_code == 404 and "registrations" in response.json()["error"]


def test_status_page_lists_stations_with_heartbeat_version_and_health(published: Hub) -> None:
    token = published.store.add_station("gy-001", "城东社区服务站")
    published.store.add_station("gy-002", "<b>西门</b>")
    beat = {"feed_id": "gy-test", "content_version": 7, "outbox_depth": 3,
            "devices": {"printer": {"ok": False, "detail": "缺纸"}, "idcard": {"ok": True}},
            "feed": {"expired": True, "problems": ["内容已过有效期（2026-03-01 08:00）"]}}
    requests.post(published.url + "api/v1/heartbeats", json={"items": [item(beat)]},
                  headers={"Authorization": f"Bearer {token}"}, timeout=5).raise_for_status()
    staff = _staff(published)
    page = staff.get(published.url, timeout=5)  # / leads staff to /console/status
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    html = page.text
    assert "城东社区服务站" in html and "第 7 版" in html and "缺纸" in html and "秒前" in html
    assert "内容已过有效期（2026-03-01 08:00）" in html  # the station's own view of its feed
    assert "&lt;b&gt;西门&lt;/b&gt;" in html  # names are escaped, never markup
    assert "从未" in html  # gy-002 never sent a heartbeat
    assert "gy-test" in html  # the published feed and its version
    status = staff.get(published.url + "console/status.json", timeout=5).json()
    one = next(s for s in status["stations"] if s["id"] == "gy-001")
    assert one["content_version"] == 7 and one["outbox_depth"] == 3 and not one["stale"]
    assert {"device": "printer", "ok": False, "detail": "缺纸"} in one["devices"]
    assert status["feeds"][0]["version"] == 1
    assert requests.post(published.url, timeout=5).status_code == 405  # read-only


def test_the_status_page_and_json_are_for_console_staff_only(published: Hub) -> None:
    published.store.add_station("gy-001", "城东社区服务站")
    page = requests.get(published.url, timeout=5)
    assert page.url.endswith("/console/login?next=/console/status") and "gy-001" not in page.text
    for path in ("api/v1/status", "console/status.json"):
        answer = requests.get(published.url + path, timeout=5)
        assert answer.status_code == 401 and "登录" in answer.json()["error"] and "gy-001" not in answer.text
    assert "gy-001" in _staff(published).get(published.url + "console/status.json", timeout=5).text


def _staff(hub: Hub) -> requests.Session:
    """A logged-in 站点运维 (a console session, as a browser keeps it)."""
    from hub.console.auth import create_user

    create_user(hub.store.engine, "ops", "Yunwei-2026-station", ["operator"], "运维甲")
    session = requests.Session()
    form = session.get(hub.url + "console/login", timeout=5).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    assert token, "no CSRF token on the login page"
    answer = session.post(hub.url + "console/login", timeout=10, allow_redirects=False,
                          data={"username": "ops", "password": "Yunwei-2026-station", "csrf_token": token.group(1)},
                          headers={"Referer": hub.url + "console/login"})
    assert answer.status_code == 302, answer.text[:300]
    return session


def test_an_older_heartbeat_arriving_late_does_not_replace_a_newer_one(hub: Hub) -> None:
    token = hub.store.add_station("s1")
    headers = {"Authorization": f"Bearer {token}"}
    new = {**item({"content_version": 9}), "created_at": "2026-03-01T10:00:00+08:00"}
    old = {**item({"content_version": 8}), "created_at": "2026-03-01T09:00:00+08:00"}
    for entry in (new, old):
        requests.post(hub.url + "api/v1/heartbeats", json={"items": [entry]}, headers=headers, timeout=5)
    assert hub.store.stations()[0].heartbeat["content_version"] == 9


def test_cli_station_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "hub")
    assert main(["hub", "station", "add", "gy-001", "--name", "城东", "--home", home, "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert len(token) >= 40
    assert main(["hub", "station", "add", "gy-001", "--home", home]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["hub", "station", "list", "--home", home]) == 0
    assert "gy-001" in capsys.readouterr().out
    from hub.storage import HubStore

    store = HubStore(tmp_path / "hub" / "hub.db")
    assert store.station_for_token(token) == "gy-001"
    assert token not in (tmp_path / "hub" / "hub.db").read_bytes().decode("latin-1")  # only its hash is kept
    assert main(["hub", "station", "remove", "gy-001", "--home", home]) == 0
    assert store.station_for_token(token) is None


def test_hub_serve_runs_under_waitress_and_stops_on_sigterm(tmp_path: Path, free_port: int) -> None:
    import signal
    import subprocess
    import sys

    from common.netutil import wait_for_port

    root = Path(__file__).resolve().parents[2]
    home = tmp_path / "hub"
    assert main(["hub", "keygen", "--home", str(home)]) == 0
    assert main(["hub", "publish", str(root / "hub" / "example"), "--home", str(home)]) == 0
    process = subprocess.Popen([sys.executable, "-m", "config.cli", "hub", "serve", "--home", str(home),
                                "--port", str(free_port)], cwd=root, stderr=subprocess.PIPE)
    try:
        wait_for_port(free_port, timeout=20)
        base = f"http://127.0.0.1:{free_port}/"
        assert requests.get(base + "healthz", timeout=5).json() == {"ok": True}
        served = requests.get(base + "feeds/gy-yunyan/manifest.json", timeout=5)
        assert served.status_code == 200 and served.headers["Server"] == "yizhan-hub"
        assert served.content == (home / "feeds" / "gy-yunyan" / "manifest.json").read_bytes()
        assert "登录" in requests.get(base, timeout=5).text  # the status is for console staff
        phone = requests.get(base + "feeds/gy-yunyan/m/s/gy-yunyan-001/", timeout=5)
        assert phone.status_code == 200 and "城东社区人社便民服务站" in phone.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)  # a hang guard, not a speed bound
    assert b"feeds from" in process.stderr.read()
