"""Production serving: the hub under gunicorn with several workers, the feed as static files behind a
real nginx (Debian's package, the shipped site file), and a station syncing through it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests

from common.netutil import free_port, wait_for_port
from config.cli import main
from config.station import open_store
from hub.app import HubServer, create_app
from hub.db import masked_url
from hub.localservers import LocalNginx
from hub.storage import HubStore
from protocol.feed import Manifest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "hub" / "example"


def test_hub_serve_with_gunicorn_workers(hub_database: str, tmp_path: Path) -> None:
    home = tmp_path / "hub"
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "config.cli", "hub", "serve", "--home", str(home),
                                "--database-url", hub_database, "--workers", "2", "--threads", "2",
                                "--port", str(port)], cwd=ROOT, stderr=subprocess.PIPE)
    store = None
    try:
        wait_for_port(port, timeout=60)
        assert _workers(process.pid, 2) == 2  # two worker processes
        store = HubStore(hub_database, home=home)
        token = store.add_station("gy-001")
        entry = {"key": str(uuid.uuid4()), "created_at": "2026-03-01T09:30:00+08:00",
                 "payload": {"code": "ABC234", "kind": "返乡", "person": {"name": "张三"}, "answers": {}}}
        answers: list[dict] = []

        def send() -> None:
            r = requests.post(f"http://127.0.0.1:{port}/api/v1/registrations", json={"items": [entry]},
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
            answers.append(r.json()["results"][0])

        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(a["status"] for a in answers) == ["created"] + ["duplicate"] * 7
        assert len({a["receipt"]["id"] for a in answers}) == 1
        assert store.count("registration") == 1
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/whoami", timeout=10,
                            headers={"Authorization": f"Bearer {token}"}).json() == {"station": "gy-001"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        if store:
            store.close()
    err = process.stderr.read().decode()
    assert "gunicorn, 2 worker processes" in err
    assert f"database {masked_url(hub_database)} (gunicorn" in err


def _workers(pid: int, expected: int) -> int:
    """The master's worker count once it has forked them all (gunicorn listens before forking)."""
    deadline = time.monotonic() + 60
    while len(psutil.Process(pid).children()) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(psutil.Process(pid).children())


@pytest.fixture
def behind_nginx(tmp_path: Path):
    """A hub home with the example feed published, the hub on waitress, nginx in front."""
    home = tmp_path / "hub"
    assert main(["hub", "keygen", "--home", str(home)]) == 0
    assert main(["hub", "publish", str(EXAMPLE), "--home", str(home)]) == 0
    app = create_app(home, behind_proxy=True)
    with HubServer(app) as hub, LocalNginx(home, hub.port) as nginx:
        yield home, app, nginx
    app.extensions["hub_store"].close()


def test_nginx_serves_the_published_feed_with_validators_ranges_and_cache_headers(behind_nginx) -> None:
    home, _app, nginx = behind_nginx
    feed = home / "feeds" / "gy-yunyan"
    base = nginx.url + "feeds/gy-yunyan/"
    first = requests.get(base + "manifest.json", timeout=10)
    assert first.status_code == 200 and first.headers["Server"].startswith("nginx")
    assert first.content == (feed / "manifest.json").read_bytes()
    assert first.headers["ETag"] and first.headers["Cache-Control"] == "no-cache"
    again = requests.get(base + "manifest.json", headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert again.status_code == 304 and again.content == b"" and "Content-Length" not in again.headers
    manifest = Manifest.from_bytes(first.content)
    media = manifest.media[0]
    whole = requests.get(base + media.path, timeout=10)
    assert whole.status_code == 200 and len(whole.content) == media.size
    assert whole.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    part = requests.get(base + media.path, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{media.size}"
    item = requests.get(base + manifest.items[0].path, timeout=10)
    assert "immutable" in item.headers["Cache-Control"] and item.headers["Content-Type"] == "application/json"
    (feed / "items" / "half.json.tmp").write_bytes(b"{")
    assert requests.get(base + "items/half.json.tmp", timeout=10).status_code == 404
    for path in ("feeds/../feed.key", "feeds/gy-yunyan/../../feed.key", "feeds/%2e%2e/hub.db", "feed.key"):
        leaked = requests.get(nginx.https_url + path, timeout=10, verify=nginx.ca_file)
        assert leaked.status_code == 404 and b"PRIVATE KEY" not in leaked.content, path
        plain = requests.get(nginx.url + path, timeout=10, allow_redirects=False)  # 404, or off to HTTPS
        assert plain.status_code in (301, 404) and b"PRIVATE KEY" not in plain.content, path


def test_nginx_serves_the_phone_pages_cacheable_and_never_a_half_written_folder(behind_nginx) -> None:
    home, _app, nginx = behind_nginx
    feed = home / "feeds" / "gy-yunyan"
    page = requests.get(nginx.https_url + "feeds/gy-yunyan/m/s/gy-yunyan-001/", timeout=10, verify=nginx.ca_file)
    assert page.status_code == 200 and page.headers["Server"].startswith("nginx")
    assert page.headers["Cache-Control"] == "public, max-age=300" and page.headers["ETag"]
    assert "城东社区人社便民服务站" in page.content.decode() and "text/html" in page.headers["Content-Type"]
    (feed / "mobile" / ".9.new").mkdir()
    (feed / "mobile" / ".9.new" / "index.html").write_text("half", encoding="utf-8")
    hidden = requests.get(nginx.https_url + "feeds/gy-yunyan/mobile/.9.new/index.html", timeout=10,
                          verify=nginx.ca_file)
    assert hidden.status_code == 404


def test_uploads_and_status_pass_through_nginx_to_the_hub(behind_nginx) -> None:
    _home, app, nginx = behind_nginx
    token = app.extensions["hub_store"].add_station("gy-001", "城东")
    beat = {"key": str(uuid.uuid4()), "created_at": "2026-03-01T09:30:00+08:00", "payload": {"content_version": 3}}
    answer = requests.post(nginx.https_url + "api/v1/heartbeats", json={"items": [beat]},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10, verify=nginx.ca_file)
    assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "created"
    beats = {s.id: s.heartbeat for s in app.extensions["hub_store"].stations()}
    assert beats["gy-001"]["content_version"] == 3
    # the stations' status is for console staff: through nginx too, a visitor meets the login
    visitor = requests.get(nginx.https_url, timeout=10, verify=nginx.ca_file)
    assert visitor.url.endswith("/console/login?next=/console/status") and "城东" not in visitor.text
    refused = requests.post(nginx.https_url + "api/v1/heartbeats", json={"items": [beat]}, timeout=10,
                            verify=nginx.ca_file)
    assert refused.status_code == 401  # the hub's own answer, passed through


def test_a_station_syncs_through_nginx(behind_nginx, station) -> None:
    home, _app, nginx = behind_nginx
    public = (home / "feed.pub").read_text().strip()
    config = str(station.config_path)
    station.write(f'[hub]\nfeed_url = "{nginx.url}feeds/gy-yunyan/"\npublic_key = "{public}"\ntimeout_s = 5\n')
    assert main(["sync", "--once", "--no-progress", "--config", config]) == 0
    with open_store(station.settings) as store:
        info = store.content_info()
        assert (info.feed_id, info.version) == ("gy-yunyan", 1)
        assert store.export_content().jobs
    assert main(["sync", "--once", "--config", config]) == 5  # unchanged: nginx answered 304
    assert main(["hub", "publish", str(EXAMPLE), "--home", str(home)]) == 0  # version 2
    assert main(["sync", "--once", "--no-progress", "--config", config]) == 0
    with open_store(station.settings) as store:
        assert store.content_info().version == 2
    assert "error" not in nginx.error_log().lower().replace("error_log", "")


def test_a_4_mb_upload_without_a_token_through_nginx_is_answered_401_never_502(behind_nginx) -> None:
    _home, _app, nginx = behind_nginx
    body = b'{"items": [' + b" " * (4 * 1024 * 1024) + b"]}"
    for _ in range(10):  # a reset connection loses the answer now and then: ask often
        started = time.monotonic()
        answer = requests.post(nginx.https_url + "api/v1/registrations", data=body,
                               headers={"Content-Type": "application/json"}, timeout=30, verify=nginx.ca_file)
        elapsed = time.monotonic() - started
        print(f"4 MB without a token: HTTP {answer.status_code} in {elapsed:.3f} s")
        assert answer.status_code == 401 and "station token" in answer.json()["error"]
        assert elapsed < 10  # generous: the answer comes from the headers (about 0.02 s here)
    assert "502" not in nginx.error_log()


def test_the_nginx_site_streams_uploads_with_the_hubs_own_limit() -> None:
    from hub.app import MAX_BODY

    site = (ROOT / "deploy" / "hub" / "nginx-site.conf").read_text(encoding="utf-8")
    api = site.split("location /api/ {")[1].split("}")[0]
    assert "proxy_request_buffering off;" in api
    size = api.split("client_max_body_size")[1].split(";")[0].strip()
    assert size.endswith("m") and int(size[:-1]) * 1024 * 1024 == MAX_BODY


def test_nginx_passes_the_hubs_401_before_the_body_has_arrived(behind_nginx) -> None:
    """A client that has sent the headers of a 4 MB upload and 64 KB of it hears 401 at once:
    nginx no longer waits for (and stores) the whole body before the hub sees the headers."""
    import socket
    import ssl

    _home, _app, nginx = behind_nginx
    head = (f"POST /api/v1/registrations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {4 * 1024 * 1024}\r\n\r\n").encode("latin-1")
    started = time.monotonic()
    context = ssl.create_default_context(cafile=str(nginx.ca_file))
    with socket.create_connection(("127.0.0.1", nginx.tls_port), timeout=20) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        sock.sendall(head + b" " * (64 * 1024))
        answer = sock.recv(65536)
    print(f"401 after {time.monotonic() - started:.3f} s with 64 KB of 4 MB sent")
    assert answer.startswith(b"HTTP/1.1 401"), answer[:100]
