"""Every console route states its permission, and every role gets exactly what it may: the
page (or a redirect/400 for a form without data) when permitted, 403 when not, and the login
page when not logged in."""

from __future__ import annotations

import re

import pytest
from console_kit import PASSWORD, Console, csrf_token, login

from hub.console.core import PERMISSIONS, ROLES
from hub.console.items import FIELDS
from protocol.model import Job

OPEN_ENDPOINTS = {"console_auth.login", "console_auth.logout", "console_home.static",
                  # the hub's station status under /console/ checks fleet.view itself (401 JSON,
                  # or the login page): tests/hub/test_hub_serving.py walks it
                  "status_json", "status_page"}


def _sample_values(console: Console) -> dict[str, str]:
    """Real ids for every URL variable, so each route reaches its view."""
    console.store.add_station("s-1", "测试站")
    import sqlalchemy as sa

    from hub.console.items import save_item
    from hub.console.schema import employers

    job = Job(id="job-1", title="保洁员", employer="某物业公司", category="保洁", salary_min=2000, salary_max=2600,
              latitude=26.5, longitude=106.7, published="2026-11-01", valid_until="2026-12-31")
    with console.engine.begin() as conn:
        save_item(conn, "job", job, "gy-test", "editor", "2026-11-20T02:00:00+00:00")
        conn.execute(employers.insert().values(name="某物业公司", uscc="91110108551385082Q", created_at="x",
                                               updated_at="x"))
        item_id = conn.execute(sa.text("SELECT id FROM console_items")).scalar_one()
    return {"kind": "job", "item_id": str(item_id), "station_id": "s-1", "employer_id": "1", "feed_id": "gy-test",
            "schedule_id": "1", "handoff_id": "1", "upload_id": "1", "user_id": "1", "filename": "console.css",
            "request_id": "1", "version": "1", "record_id": "job-1"}


def _routes(console: Console) -> list[tuple[str, str, str | None]]:
    values = _sample_values(console)
    out = []
    for rule in console.app.url_map.iter_rules():
        if not rule.rule.startswith("/console"):
            continue
        view = console.app.view_functions[rule.endpoint]
        permission = getattr(view, "permission", None)
        if rule.endpoint not in OPEN_ENDPOINTS:
            assert permission in PERMISSIONS, f"{rule.endpoint} states no permission"
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path, permission))
    return out


def test_every_route_with_every_role(console: Console) -> None:
    routes = _routes(console)
    assert len(routes) > 35
    kinds_seen = {p for _, p, _ in routes if "/content/" in p}
    assert kinds_seen  # the content routes are walked (with kind=job)
    for role in [None, *ROLES]:
        client = console.app.test_client()
        if role:
            assert login(client, role).status_code == 302
        for method, path, permission in routes:
            if path.endswith("/logout") or permission is None:
                continue
            if method == "GET":
                response = client.get(path)
            else:
                response = client.post(path, data={"csrf_token": csrf_token(client)})
            allowed = role is not None and role in PERMISSIONS[permission]
            where = f"{role or 'anonymous'} {method} {path} ({permission})"
            if role is None:
                assert response.status_code == 302 and "/console/login" in response.headers["Location"], where
            elif allowed:
                assert response.status_code in (200, 302, 400, 404), f"{where}: {response.status_code}"
                assert response.status_code != 403, where
            else:
                assert response.status_code == 403, f"{where}: {response.status_code}"
                assert "没有权限" in response.get_data(as_text=True)


def test_navigation_shows_only_what_the_role_may_open(console: Console) -> None:
    page = console.client("editor").get("/console/").get_data(as_text=True)
    assert "批量导入" in page and "信息审核" not in page and "用户与角色" not in page
    page = console.client("admin").get("/console/").get_data(as_text=True)
    assert "用户与角色" in page and "批量导入" not in page


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_every_kind_has_a_list_and_a_form(console: Console, kind: str) -> None:
    client = console.client("editor")
    assert client.get(f"/console/content/{kind}").status_code == 200
    assert client.get(f"/console/content/{kind}/new").status_code == 200
    assert client.get("/console/content/nothing").status_code == 404


def test_password_is_not_stored_and_wrong_ones_do_not_say_which_part_was_wrong(console: Console) -> None:
    import sqlalchemy as sa

    with console.engine.begin() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM console_users WHERE username = 'editor'")).scalar_one()
    assert PASSWORD not in stored and stored.startswith("$argon2")
    client = console.app.test_client()
    unknown = login(client, "nobody", PASSWORD).get_data(as_text=True)
    wrong = login(client, "editor", "wrong-password1").get_data(as_text=True)
    assert "用户名或密码错误" in unknown and "用户名或密码错误" in wrong
