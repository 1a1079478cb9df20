"""The hub as ``deploy/hub/`` ships it: Debian's nginx with the shipped site (TLS with a CA
made here) in front of ``yizhan hub serve --workers 3`` (gunicorn) with the setting
yizhan-hub.service gives it (``YIZHAN_HUB_BEHIND_PROXY=1``). Checked from outside, as a
scanner or a resident's browser sees it: testssl.sh finds no weak suite and sees HSTS and no
version banner; the console is HTTPS only and its cookie ``Secure``; 30 guessed station
tokens are answered 429 however the three workers share them; a login from 127.0.0.2 is
audited as 127.0.0.2; nginx serves the console's static files, compressed, and compresses
no console page."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter

from common.netutil import free_port, wait_for_port
from hub.db import make_engine
from hub.localservers import LocalNginx
from hub.wsgi import prepare

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Passw0rd-test"
TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")


@dataclass
class Deployed:
    home: Path
    engine: sa.Engine
    nginx: LocalNginx
    hub: subprocess.Popen[bytes]

    @property
    def ca(self) -> str:
        return str(self.nginx.ca_file)

    def session(self, source: str = "127.0.0.1") -> requests.Session:
        """A client (a browser) that trusts the hub's CA, connecting from ``source``."""
        s = requests.Session()
        s.verify = self.ca
        s.trust_env = False  # (else $REQUESTS_CA_BUNDLE would win over verify)
        adapter = _SourceAdapter(source)
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        return s


class _SourceAdapter(HTTPAdapter):
    """Connections from another loopback address (the whole of 127.0.0.0/8 is this machine)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    from hub.console.auth import create_user

    home = tmp_path_factory.mktemp("deployed") / "hub"
    url = prepare(home)
    engine = make_engine(url)
    create_user(engine, "registrar", PASSWORD, ["registrar"], "登记员甲")
    port = free_port()
    env = {**os.environ, "YIZHAN_HUB_BEHIND_PROXY": "1"}
    hub = subprocess.Popen([sys.executable, "-m", "config.cli", "hub", "serve", "--home", str(home), "--workers", "3",
                            "--threads", "2", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, timeout=60)
        with LocalNginx(home, port) as nginx:
            yield Deployed(home=home, engine=engine, nginx=nginx, hub=hub)
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=30)
        engine.dispose()


def _login(client: requests.Session, base: str, password: str = PASSWORD) -> requests.Response:
    page = client.get(base + "console/login", timeout=30)
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post(base + "console/login", data={"username": "registrar", "password": password,
                                                     "csrf_token": token},
                       headers={"Referer": base + "console/login"}, allow_redirects=False, timeout=30)


def test_testssl_finds_no_weak_suite_and_sees_hsts_without_a_version_banner(deployed: Deployed,
                                                                             tmp_path: Path) -> None:
    if TESTSSL is None:
        pytest.fail("testssl.sh is missing (Debian's testssl.sh package; make setup installs it)")
    report = tmp_path / "testssl.json"
    started = time.monotonic()
    result = subprocess.run([TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--fast", "-p", "-s", "-f", "-h",
                             "--connect-timeout", "5", "--openssl-timeout", "5", "--jsonfile", str(report),
                             f"127.0.0.1:{deployed.nginx.tls_port}"],
                            capture_output=True, text=True, timeout=300)
    print(f"testssl.sh: exit {result.returncode} in {time.monotonic() - started:.1f} s")
    findings = {f["id"]: f for f in json.loads(report.read_text())}
    summary = {k: (f["severity"], f["finding"]) for k, f in findings.items()}
    for key, (severity, finding) in sorted(summary.items()):
        print(f"{key:28} {severity:8} {finding[:100]}")
    # Protocols: TLS 1.2 and 1.3 only.
    for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert summary[old][1].startswith("not offered"), (old, summary[old])
    assert summary["TLS1_2"][1].startswith("offered") and summary["TLS1_3"][1].startswith("offered")
    # Cipher categories: no NULL, anonymous, export, LOW, 3DES/IDEA, nor "average" (CBC) suites;
    # only AEAD suites with forward secrecy.
    for weak in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
                 "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"):
        assert summary[weak][1] == "not offered", (weak, summary[weak])
    assert summary["cipherlist_STRONG"][1] == "offered"
    assert summary["PFS"] == ("OK", "offered")
    assert "CBC" not in summary["PFS_ciphers"][1] and "SHA " not in summary["PFS_ciphers"][1] + " "
    # Headers: HSTS for two years, and neither nginx's version nor the application's name.
    assert summary["HSTS_time"][0] == "OK" and "63072000" in summary["HSTS_time"][1]
    assert summary["banner_server"][1] == "nginx"
    assert "banner_application" not in summary or "No application banner" in summary["banner_application"][1]
    # Nothing testssl rates worse than LOW.
    bad = {k: v for k, v in summary.items() if v[0] in ("MEDIUM", "HIGH", "CRITICAL")}
    assert not bad, bad


def test_the_console_is_https_only_and_its_cookie_secure(deployed: Deployed) -> None:
    nginx = deployed.nginx
    browser = deployed.session()
    plain = browser.get(nginx.url + "console/login", allow_redirects=False, timeout=30)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    assert "set-cookie" not in plain.headers and "csrf_token" not in plain.text
    for path in ("console/", "api/v1/status", ""):
        assert browser.get(nginx.url + path, allow_redirects=False, timeout=30).status_code == 301, path
    answer = _login(browser, nginx.https_url)
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert answer.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert browser.get(nginx.https_url + "console/registrations", timeout=30).status_code == 200
    # The logged-in cookie sent over plain HTTP (a browser would not): no console there, only the way to HTTPS.
    raw = requests.get(nginx.url + "console/registrations", allow_redirects=False, timeout=30,
                       cookies={"yizhan_console": browser.cookies["yizhan_console"]})
    assert raw.status_code == 301 and "登记" not in raw.text
    # Feeds may stay on HTTP (stations check them by signature): not redirected.
    assert requests.get(nginx.url + "feeds/none/manifest.json", allow_redirects=False, timeout=30).status_code == 404


def test_thirty_guessed_tokens_through_nginx_are_refused_429_by_three_workers(deployed: Deployed) -> None:
    client = deployed.session("127.0.0.3")
    body = json.dumps({"items": [{"key": "k" * 16, "created_at": "2026-03-01T09:30:00+08:00", "payload": {}}]})
    codes = []
    for n in range(30):
        answer = client.post(deployed.nginx.https_url + "api/v1/heartbeats", data=body, timeout=30,
                             headers={"Authorization": f"Bearer guess-{n}", "Content-Type": "application/json"})
        codes.append(answer.status_code)
        if answer.status_code == 429:
            assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert codes == [401] * 20 + [429] * 10
    # Another address is not held up by this one's guesses.
    other = deployed.session("127.0.0.4").post(deployed.nginx.https_url + "api/v1/heartbeats", data=body, timeout=30,
                                               headers={"Authorization": "Bearer guess-x"})
    assert other.status_code == 401
    # A body without Content-Length is refused before anything is read.
    chunked = client.post(deployed.nginx.https_url + "api/v1/heartbeats", data=iter([body.encode()]), timeout=30,
                          headers={"Authorization": "Bearer guess-y", "Content-Type": "application/json"})
    assert chunked.status_code == 411 and "Content-Length" in chunked.json()["error"]


def test_a_login_from_127_0_0_2_is_audited_as_127_0_0_2(deployed: Deployed) -> None:
    from hub.console.schema import audit_log

    browser = deployed.session("127.0.0.2")
    assert _login(browser, deployed.nginx.https_url, "Wrong-pass-1").status_code == 401
    assert _login(browser, deployed.nginx.https_url).status_code == 302
    with deployed.engine.connect() as conn:
        rows = list(conn.execute(sa.select(audit_log.c.action, audit_log.c.address)
                                 .where(audit_log.c.action.in_(["登录", "登录失败"])).order_by(audit_log.c.id)))
    assert [(r.action, r.address) for r in rows][-2:] == [("登录失败", "127.0.0.2"), ("登录", "127.0.0.2")]


def test_nginx_serves_the_static_files_compressed_and_no_console_page_compressed(deployed: Deployed) -> None:
    browser = deployed.session()
    assert _login(browser, deployed.nginx.https_url).status_code == 302
    for name, kind in (("console.css", "text/css"), ("console.js", "application/javascript")):
        static = browser.get(deployed.nginx.https_url + f"console/static/{name}", timeout=30,
                             headers={"Accept-Encoding": "gzip"})
        assert static.status_code == 200 and static.headers["Content-Type"] == kind
        assert static.headers["Content-Encoding"] == "gzip"
        assert static.content == (ROOT / "hub" / "console" / "static" / name).read_bytes()
        # From the disk by nginx: none of the headers the hub puts on every answer it makes.
        assert "X-Frame-Options" not in static.headers and "Set-Cookie" not in static.headers
    for path in ("console/", "console/registrations", "console/login", ""):
        page = browser.get(deployed.nginx.https_url + path, headers={"Accept-Encoding": "gzip"}, timeout=30)
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"], path
        assert "Content-Encoding" not in page.headers, path  # BREACH: no compression next to secrets


def test_the_server_header_carries_no_version_on_either_port(deployed: Deployed) -> None:
    for url in (deployed.nginx.url + "nothing", deployed.nginx.https_url + "feeds/nothing"):
        answer = requests.get(url, verify=deployed.ca, allow_redirects=False, timeout=30)
        assert answer.headers["Server"] == "nginx" and "nginx/" not in answer.text, url

