"""Odd input never gives a 500: a registration whose name carries a control character is
cleaned on the way in (the upload API) and on the way out (every spreadsheet), and a crawl
logged in with every role throws NUL, control characters, huge and negative numbers,
invalid UTF-8 and long text at every console route's path and query parameters (the
parameters are learned from what each page reads) and gets a page or a clear refusal, never
an error. Static files never open the session store."""

from __future__ import annotations

import io
import uuid
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from console_kit import PASSWORD, Console, post
from flask import Request
from openpyxl import load_workbook
from werkzeug.datastructures import ImmutableMultiDict

from hub.console.auth import create_user
from hub.console.core import ROLES

READ: set[str] = set()  # the query parameters the current request's view asked for


class _RecordingArgs(ImmutableMultiDict):  # type: ignore[type-arg]
    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # noqa: A002 (werkzeug's name)
        READ.add(key)
        return super().get(key, default, type)

    def getlist(self, key: Any, type: Any = None) -> Any:  # noqa: A002
        READ.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key: Any) -> Any:
        READ.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        READ.add(str(key))
        return super().__contains__(key)


class _RecordingRequest(Request):
    parameter_storage_class = _RecordingArgs


# Raw, already percent-encoded: NUL, bell, escape, DEL, invalid UTF-8, an encoded lone surrogate.
ODD_RAW = ["%00", "%E9%92%B1%E4%B8%83%07", "%1B%5B31m", "%7F", "%FF%FE", "%ED%A0%80", "a%00b"]
ODD = ["9223372036854775807", "9223372036854775808", "-9223372036854775809", "1" + "0" * 40, "-1", "0",
       "1e308", "NaN", "9" * 199, "x" * 5000, "9999-99-99", "0000-00", "99999-12", "' OR 1=1 --", "<b>", "../../etc"]
# Values that switch a page into another mode (an export, the full view) while another parameter is odd.
MODES = {"format": "xlsx", "full": "1"}
BIG_IDS = ["9223372036854775807", "9223372036854775808", "99999999999999999999999999", "0"]


def _person(name: str) -> dict[str, Any]:
    return {"name": name, "id_number": "520103197812120018", "phone": "13698765432", "address": "贵阳市云岩区"}


def _registration(code: str, name: str) -> dict[str, Any]:
    t = "2026-11-19T09:00:00+08:00"
    return {"key": str(uuid.uuid4()), "created_at": t,
            "payload": {"code": code, "kind": "求职", "station_id": "s-1", "created_at": t, "person": _person(name),
                        "answers": {"意向\u200e": "保洁\x1b[2J", "备注": "第一行\r\n第二行\t完"}}}


def test_a_registration_with_a_control_character_exports_fine(console: Console) -> None:
    token = console.store.add_station("s-1", "测试站")
    api = console.app.test_client()
    answer = api.post("/api/v1/registrations", json={"items": [_registration("C00001", "钱七\u0007")]},
                      headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json["results"][0]["status"] == "created"
    # A record stored before ingest cleaned anything (or by a relay's own store) is cleaned on the way out.
    legacy = _registration("C00002", "孙八\x00\x1f")
    assert console.store.ingest("s-1", "registration", [legacy])[0]["status"] == "created"
    stored = [u["payload"] for u in console.store.uploads("registration")]
    assert stored[0]["person"]["name"] == "钱七" and stored[1]["person"]["name"] == "孙八\x00\x1f"
    assert stored[0]["answers"] == {"意向": "保洁[2J", "备注": "第一行\n第二行 完"}
    registrar = console.client("registrar")
    detail = registrar.get("/console/registrations")
    assert detail.status_code == 200
    response = post(registrar, "/console/registrations/handoff/export", {"format": "xlsx"})
    assert response.status_code == 200, response.data[:300]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert sorted(r[4] for r in rows) == ["孙八", "钱七"]
    answers = {r[4]: (r[10], r[11]) for r in rows}  # one column per answer: 备注, 意向
    assert answers["钱七"] == ("第一行\n第二行 完", "保洁[2J")  # ingest: no ESC, no format mark, tab -> space


def test_the_reports_export_with_a_nul_station_and_a_huge_page_number(console: Console) -> None:
    client = console.client("registrar")
    refused = client.get("/console/reports/results?format=xlsx&station=%00")
    assert refused.status_code == 400 and "查询参数 station 含有控制字符" in refused.get_data(as_text=True)
    editor = console.client("editor")
    assert editor.get("/console/content/job?page=9223372036854775807").status_code == 200
    assert editor.get("/console/content/job/9223372036854775808").status_code == 404


def test_the_fuzz_crawl_of_every_console_parameter_finds_no_500(console: Console) -> None:
    create_user(console.engine, "everyone", PASSWORD, list(ROLES), "全部角色")
    token = console.store.add_station("s-1", "测试站")
    console.app.test_client().post("/api/v1/registrations", json={"items": [_registration("C00001", "钱七")]},
                                   headers={"Authorization": f"Bearer {token}"})
    with console.engine.connect() as conn:
        upload_id = conn.exec_driver_sql("SELECT min(id) FROM uploads").scalar_one()
    console.app.request_class = _RecordingRequest
    client = console.client("everyone")
    from hub.console.items import FIELDS

    answers: list[tuple[str, int]] = []
    failures: list[str] = []

    def get(url: str) -> None:
        response = client.get(url)
        answers.append((url, response.status_code))
        if response.status_code >= 500:
            failures.append(url)

    routes = [r for r in console.app.url_map.iter_rules()
              if r.rule.startswith("/console/") and "GET" in r.methods and r.endpoint != "console_home.static"]
    assert len(routes) >= 20
    for rule in routes:
        plausible = {"kind": next(iter(FIELDS)), "item_id": 1, "upload_id": upload_id, "station_id": "s-1",
                     "feed_id": "gy-test", "version": 1, "record_id": "job-1", "request_id": 1}
        for arg in rule.arguments:
            for odd in [*ODD_RAW, *ODD, *(BIG_IDS if arg.endswith("_id") else [])]:
                values = {**plausible, arg: odd}
                try:
                    url = rule.build(values, append_unknown=False)[1]
                except Exception:  # noqa: BLE001 (the int converter refuses what cannot be an id: fine)
                    continue
                get(url)
        url = rule.build(plausible, append_unknown=False)[1]
        READ.clear()
        get(url)
        keys = sorted(k for k in READ if isinstance(k, str))
        for key in keys:
            modes = "".join(f"&{k}={v}" for k, v in MODES.items() if k in keys and k != key)
            for odd in ODD_RAW:
                get(f"{url}?{key}={odd}{modes}")
            for odd in ODD:
                get(f"{url}?{quote(key)}={quote(odd)}{modes}")
        if keys:  # every parameter odd at once
            get(f"{url}?" + "&".join(f"{k}=%00{quote(ODD[0])}" for k in keys))
    print(f"{len(answers)} requests over {len(routes)} routes; status counts:",
          {code: sum(1 for _, c in answers if c == code) for code in sorted({c for _, c in answers})})
    assert failures == []
    assert any(code == 400 for _, code in answers) and any(code == 200 for _, code in answers)


def test_a_static_file_never_opens_the_session_store(console: Console) -> None:
    client = console.client("editor")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(console.engine, "before_cursor_execute", count)
    try:
        response = client.get("/console/static/console.css")
        assert response.status_code == 200
        assert statements == []
        assert "Cookie" not in response.headers.get("Vary", "") and "Set-Cookie" not in response.headers
        page = client.get("/console/")
        assert page.status_code == 200 and statements  # a page does look its user up
    finally:
        sa.event.remove(console.engine, "before_cursor_execute", count)
