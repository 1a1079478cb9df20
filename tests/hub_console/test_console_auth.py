"""Login, CSRF, login delays and session expiry, with the console's clock moved by the test."""

from __future__ import annotations

import sqlalchemy as sa
from console_kit import PASSWORD, Console, csrf_token, login, post


def _audit(console: Console) -> list[tuple[str, str, str]]:
    with console.engine.begin() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT username, action, target FROM console_audit_log ORDER BY id"))]


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(console: Console) -> None:
    client = console.client("publisher")
    response = client.post("/console/publish/groups", data={"feed_id": "evil", "regions": "*"})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    response = client.post("/console/publish/groups", data={"feed_id": "evil", "regions": "*", "csrf_token": "forged"})
    assert response.status_code == 400
    with console.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM console_feed_groups WHERE feed_id = 'evil'")).scalar_one() == 0
    assert post(client, "/console/publish/groups", {"feed_id": "good", "regions": "*"}).status_code == 302
    # A login form without a token is refused too (no login CSRF).
    fresh = console.app.test_client()
    assert fresh.post("/console/login", data={"username": "editor", "password": PASSWORD}).status_code == 400


def test_five_wrong_passwords_cost_a_short_wait_not_a_lock(console: Console) -> None:
    client = console.app.test_client()
    for _attempt in range(5):
        page = login(client, "editor", "wrong-pass-1").get_data(as_text=True)
        assert "用户名或密码错误" in page and "锁定" not in page and "再错" not in page
    # The sixth attempt, even with the right password, waits two seconds; then it is let in.
    response = login(client, "editor", PASSWORD)
    assert response.status_code == 429 and "请 2 秒后再试" in response.get_data(as_text=True)
    console.clock.advance(seconds=2)
    assert login(client, "editor", PASSWORD).status_code == 302
    assert ("-", "登录失败", "editor") in _audit(console)


def test_an_administrator_can_end_the_wait_of_an_account(console: Console) -> None:
    for n in range(6):
        client = console.app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"  # spread over addresses: only the name waits
        assert login(client, "editor", "wrong-pass-1").status_code == 401
        if n == 4:
            console.clock.advance(seconds=2)  # the wait after five failures
    assert login(console.app.test_client(), "editor", PASSWORD).status_code == 429
    admin = console.client("admin")
    with console.engine.begin() as conn:
        user_id = conn.execute(sa.text("SELECT id FROM console_users WHERE username = 'editor'")).scalar_one()
    assert post(admin, f"/console/admin/users/{user_id}", {"action": "unlock"}).status_code == 302
    assert login(console.app.test_client(), "editor", PASSWORD).status_code == 302


def test_a_session_ends_after_idling_and_at_logout(console: Console) -> None:
    client = console.client("editor")
    assert client.get("/console/").status_code == 200
    console.clock.advance(minutes=29)
    assert client.get("/console/").status_code == 200  # activity renews the idle time
    console.clock.advance(minutes=29)
    assert client.get("/console/").status_code == 200
    console.clock.advance(minutes=31)
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
    assert "登录已超时" in client.get(response.headers["Location"]).get_data(as_text=True)

    client = console.client("editor")
    token = csrf_token(client, "/console/password")
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/").status_code == 302


def test_a_session_lasts_at_most_twelve_hours_even_when_used(console: Console) -> None:
    client = console.client("editor")
    for _ in range(12):
        console.clock.advance(minutes=25)
        assert client.get("/console/").status_code == 200
    for _ in range(17):
        console.clock.advance(minutes=25)
        client.get("/console/")
    assert client.get("/console/").status_code == 302


def test_password_change_and_a_reset_password_must_be_changed(console: Console) -> None:
    client = console.client("editor")
    bad = post(client, "/console/password", {"old": PASSWORD, "new": "short1", "again": "short1"})
    assert bad.status_code == 400 and "至少 8 位" in bad.get_data(as_text=True)
    ok = post(client, "/console/password", {"old": PASSWORD, "new": "NewPassw0rd", "again": "NewPassw0rd"})
    assert ok.status_code == 302
    assert login(console.app.test_client(), "editor", PASSWORD).status_code == 401
    assert login(console.app.test_client(), "editor", "NewPassw0rd").status_code == 302

    admin = console.client("admin")
    with console.engine.begin() as conn:
        user_id = conn.execute(sa.text("SELECT id FROM console_users WHERE username = 'registrar'")).scalar_one()
    page = admin.get("/console/")  # noqa: F841
    reset = post(admin, f"/console/admin/users/{user_id}", {"action": "reset"}, follow_redirects=True)
    temp = reset.get_data(as_text=True).split("临时密码：")[1].split("（")[0]
    client = console.app.test_client()
    assert login(client, "registrar", temp).status_code == 302
    response = client.get("/console/registrations")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/password")
