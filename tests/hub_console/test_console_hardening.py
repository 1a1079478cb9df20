"""The console's hardening: security headers on every answer (a CSP that forbids inline script,
no framing, no sniffing, no-store on pages with personal data), a session cookie that is
``Secure`` over HTTPS (through the configured proxy only), one answer for every failed login,
growing delays instead of a lock an outsider could trigger, and 40 parallel logins on the
SQLite hub answered without one HTTP 500."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import requests
from console_kit import PASSWORD, TOKEN_RE, Console, csrf_token
from flask.testing import FlaskClient

from hub.app import HubServer
from hub.limits import trust_proxy

TEMPLATES = Path(__file__).resolve().parents[2] / "hub" / "console" / "templates"
PAGES = {"registrar": ["/console/", "/console/registrations", "/console/registrations/handoff",
                       "/console/reports/results", "/console/password"],
         "admin": ["/console/admin/users", "/console/stations"], "publisher": ["/console/publish"],
         "reviewer": ["/console/review"], "editor": ["/console/content/job", "/console/import"]}


def _client(console: Console, address: str = "127.0.0.1") -> FlaskClient:
    client = console.app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login(client: FlaskClient, username: str, password: str = PASSWORD, **kw):  # type: ignore[no-untyped-def]
    token = csrf_token(client)
    return client.post("/console/login", data={"username": username, "password": password, "csrf_token": token}, **kw)


def _without_token(page: bytes) -> bytes:
    return TOKEN_RE.sub(b"", re.sub(rb'name="csrf-token" content="[^"]+"', b"", page))


def test_every_console_page_carries_the_security_headers_and_no_inline_script(console: Console) -> None:
    for role, paths in PAGES.items():
        client = console.client(role)
        for path in [*paths, "/console/login"]:
            response = client.get(path)
            assert response.status_code == 200, path
            csp = response.headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "unsafe-inline" not in \
                csp.split("script-src")[1].split(";")[0], path
            assert response.headers["X-Frame-Options"] == "DENY", path
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            assert response.headers["Cache-Control"] == "no-store", path
            html = response.get_data(as_text=True)
            # Scripts only from files (a JSON data block is not a script), and no event handler attributes.
            for tag in re.findall(r"<script\b[^>]*>", html):
                assert " src=" in tag or 'type="application/json"' in tag, (path, tag)
            assert not re.search(r"\son[a-z]+\s*=", html), path
    static = console.client().get("/console/static/console.js")
    assert static.status_code == 200 and static.headers["Cache-Control"] != "no-store"
    assert static.headers["X-Content-Type-Options"] == "nosniff"
    # No template can bring inline script back on a page this test does not open.
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\son[a-z]+\s*=|javascript:", text), template.name
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert " src=" in tag or 'type="application/json"' in tag, (template.name, tag)


def test_the_session_cookie_is_secure_over_https_through_the_configured_proxy_only(console: Console) -> None:
    def cookie(address: str, headers: dict[str, str]) -> str:
        client = _client(console, address)
        # (A browser sends the Referer; Flask-WTF requires it on forms posted over HTTPS.)
        response = _login(client, "editor", headers={"Referer": "https://localhost/console/login", **headers})
        assert response.status_code == 302
        (value,) = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("yizhan_console=")]
        return value

    # A hub not set up behind a proxy believes nobody's X-Forwarded-Proto: anyone can write it.
    assert "Secure" not in cookie("127.0.0.1", {"X-Forwarded-Proto": "https"})
    trust_proxy(console.app)  # [hub] behind_proxy = true, as yizhan-hub.service sets it
    assert "Secure" in cookie("127.0.0.1", {"X-Forwarded-Proto": "https"})  # the shipped nginx over TLS
    assert "Secure" not in cookie("127.0.0.1", {"X-Forwarded-Proto": "http"})
    assert "Secure" not in cookie("127.0.0.1", {})
    assert "HttpOnly" in cookie("127.0.0.1", {"X-Forwarded-Proto": "https"})
    secure = console.app.test_client()
    response = secure.post("/console/login", base_url="https://hub.example/", data={
        "username": "editor", "password": PASSWORD,
        "csrf_token": TOKEN_RE.search(secure.get("/console/login", base_url="https://hub.example/").data).group(1).decode()},
        headers={"Referer": "https://hub.example/console/login"})
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]


def test_every_failed_login_gets_the_same_answer(console: Console) -> None:
    with console.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE console_users SET active = 0 WHERE username = 'reviewer2'")
    answers = []
    for i, (username, password) in enumerate([("nobody", "Wrong-pass-1"), ("editor", "Wrong-pass-1"),
                                              ("reviewer2", PASSWORD), ("admin", "")]):
        response = _login(_client(console, f"198.51.100.{i + 1}"), username, password)
        answers.append((response.status_code, _without_token(response.data)))
    assert len(set(answers)) == 1 and answers[0][0] == 401
    assert "用户名或密码错误" in answers[0][1].decode() and "锁定" not in answers[0][1].decode()


def test_failed_logins_are_delayed_per_address_and_per_name_and_never_lock_the_real_user(console: Console) -> None:
    attacker = _client(console, "203.0.113.66")
    for _ in range(5):
        assert _login(attacker, "admin", "Wrong-pass-1").status_code == 401
    # The sixth at once waits 2 s; the answer is the same whether the name exists or not.
    delayed = _login(attacker, "admin", PASSWORD)
    assert delayed.status_code == 429 and delayed.headers["Retry-After"] == "2"
    assert "登录失败次数过多，请 2 秒后再试" in delayed.get_data(as_text=True)
    other = _client(console, "203.0.113.67")
    for _ in range(5):
        _login(other, "no-such-user", "Wrong-pass-1")
    unknown = _login(other, "no-such-user", "Wrong-pass-1")
    assert (unknown.status_code, _without_token(unknown.data)) == (429, _without_token(delayed.data))
    # The attacker's address is delayed for every name; the delay doubles with each failure.
    assert _login(attacker, "editor", PASSWORD).status_code == 429
    waits = []
    for _ in range(12):
        response = _login(attacker, "admin", "Wrong-pass-1")
        assert response.status_code == 429
        waits.append(int(response.headers["Retry-After"]))
        console.clock.advance(seconds=waits[-1])
        assert _login(attacker, "admin", "Wrong-pass-1").status_code == 401
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]  # the address's cap: 15 minutes
    assert int(_login(attacker, "editor", PASSWORD).headers["Retry-After"]) == 900  # the address's cap
    # The real administrator, from the office, waits at most a minute, never 15.
    office = _client(console, "198.51.100.20")
    response = _login(office, "admin", PASSWORD)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) <= 60
    console.clock.advance(seconds=60)
    assert _login(office, "admin", PASSWORD).status_code == 302
    # Success forgets the name's failures: the next wrong password is free again.
    assert _login(_client(console, "198.51.100.21"), "admin", "Wrong-pass-1").status_code == 401
    assert _login(_client(console, "198.51.100.21"), "admin", PASSWORD).status_code == 302


def test_logins_behind_the_proxy_are_counted_per_forwarded_address(console: Console) -> None:
    trust_proxy(console.app)
    proxy = _client(console, "127.0.0.1")
    for _ in range(5):
        _login(proxy, f"nobody{_}", "Wrong-pass-1", headers={"X-Forwarded-For": "203.0.113.66"})
    assert _login(proxy, "editor", PASSWORD, headers={"X-Forwarded-For": "203.0.113.66"}).status_code == 429
    assert _login(proxy, "editor", PASSWORD, headers={"X-Forwarded-For": "198.51.100.20"}).status_code == 302


def test_forty_parallel_logins_on_the_real_server_give_no_error(console: Console) -> None:
    results: list[int] = []
    with HubServer(console.app, threads=8) as hub:
        def log_in(n: int) -> None:
            with requests.Session() as s:
                page = s.get(hub.url + "console/login", timeout=60)
                token = TOKEN_RE.search(page.content).group(1).decode()
                user = ("editor", "reviewer", "publisher", "operator", "registrar", "admin")[n % 6]
                answer = s.post(hub.url + "console/login", data={"username": user, "password": PASSWORD,
                                                                 "csrf_token": token},
                                allow_redirects=False, timeout=60)
                results.append(answer.status_code)

        start = threading.Barrier(40)

        def run(n: int) -> None:
            start.wait()
            log_in(n)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == [302] * 40, sorted(results)
