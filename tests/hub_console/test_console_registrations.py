"""Registrations in the console: masked by default, full view only for registrars and logged,
follow-up, and the hand-off to the provincial system (export, acknowledgment that purges,
retention purge) from the console and from ``yizhan hub registrations``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import sqlalchemy as sa
from console_kit import Console, post

from config.cli import main
from hub.console import handoff

PEOPLE = [
    {"name": "赵六", "id_number": "520103197812120018", "gender": "男", "birth_date": "1978-12-12",
     "address": "贵州省贵阳市云岩区中华北路108号3单元", "phone": "13698765432"},
    {"name": "钱七妹", "id_number": "52010319850304002X", "gender": "女", "birth_date": "1985-03-04",
     "address": "贵州省贵阳市南明区花果园2栋", "phone": "13512345678"},
]
SECRETS = [v for p in PEOPLE for k, v in p.items() if k in ("name", "id_number", "phone", "address")]


def _ingest(console: Console, n: int = 2, start: int = 0, created: str = "2026-11-19T09:00:00+08:00") -> None:
    if not any(s.id == "s-1" for s in console.store.stations()):
        console.store.add_station("s-1", "测试站")
    items = [{"key": f"reg-key-{start + i:06d}", "created_at": created,
              "payload": {"code": f"C{start + i:05d}", "kind": "求职", "station_id": "s-1", "created_at": created,
                          "person": PEOPLE[(start + i) % 2], "answers": {"意向": "保洁"}}} for i in range(n)]
    results = console.store.ingest("s-1", "registration", items)
    assert all(r["status"] == "created" for r in results)


def _audit_text(console: Console) -> str:
    with console.engine.begin() as conn:
        return json.dumps([list(r) for r in conn.execute(sa.text("SELECT * FROM console_audit_log"))], ensure_ascii=False)


def test_the_list_is_masked_and_the_full_view_is_logged(console: Console) -> None:
    _ingest(console)
    page = console.client("registrar").get("/console/registrations").get_data(as_text=True)
    assert "赵*" in page and "5201**********0018" in page and "136****5432" in page
    assert not any(s in page for s in SECRETS)
    admin = console.client("admin")
    detail = admin.get("/console/registrations/1").get_data(as_text=True)
    assert "赵*" in detail and "赵六" not in detail
    assert admin.get("/console/registrations/1?full=1").status_code == 403
    registrar = console.client("registrar")
    full = registrar.get("/console/registrations/1?full=1").get_data(as_text=True)
    assert "赵六" in full and "520103197812120018" in full
    log = _audit_text(console)
    assert "查看登记完整信息" in log and "C00000" in log
    assert not any(s in log for s in SECRETS)


def test_follow_up_status_and_filters(console: Console) -> None:
    _ingest(console, 3)
    registrar = console.client("registrar")
    post(registrar, "/console/registrations/2/follow-up", {"status": "已推荐", "note": "推荐到云岩物业保洁岗"})
    page = registrar.get("/console/registrations?status=已推荐").get_data(as_text=True)
    assert "C00001" in page and "C00000" not in page and "共 1 条" in page
    assert post(registrar, "/console/registrations/2/follow-up", {"status": "乱写"}).status_code == 400


def test_export_then_acknowledgment_purges_personal_data_but_keeps_the_receipt(console: Console) -> None:
    _ingest(console, 2)
    registrar = console.client("registrar")
    response = post(registrar, "/console/registrations/handoff/export", {"format": "csv"})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [r["公民身份号码"] for r in rows] == [PEOPLE[0]["id_number"], PEOPLE[1]["id_number"]]
    assert rows[0]["意向"] == "保洁"  # one column per answer
    again = post(registrar, "/console/registrations/handoff/export", {"format": "csv"}, follow_redirects=True)
    assert "没有待交接的登记" in again.get_data(as_text=True)

    post(registrar, "/console/registrations/handoff/1/ack")
    stored = json.dumps([p for p in console.store.uploads("registration")], ensure_ascii=False)
    assert not any(s in stored for s in SECRETS)
    assert "C00000" in stored
    page = registrar.get("/console/registrations").get_data(as_text=True)
    assert "个人信息已清除" in page
    # A late resend of a purged registration is still answered as a duplicate.
    _resend = console.store.ingest("s-1", "registration", [{"key": "reg-key-000000", "created_at": "2026-11-19T09:00:00+08:00",
                                                           "payload": {"code": "C00000", "kind": "求职", "person": PEOPLE[0]}}])
    assert _resend[0]["status"] == "duplicate"
    log = _audit_text(console)
    assert "导出登记" in log and "确认交接并清除" in log
    assert not any(s in log for s in SECRETS)


def test_retention_purges_old_registrations_whether_handed_over_or_not(console: Console) -> None:
    _ingest(console, 1, start=0)
    engine = console.engine
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE uploads SET received_at = '2026-10-01T00:00:00+00:00'"))
    _ingest(console, 1, start=1)
    now = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert handoff.purge_expired(engine, 30, "测试", now, vault=console.app.extensions["console"].vault) == 1
    payloads = {u["payload"]["code"]: u["payload"] for u in console.store.uploads("registration")}
    assert "person" not in payloads["C00000"] and payloads["C00001"]["person"]["name"] == "钱七妹"


def test_the_command_line_exports_acknowledges_and_purges(console: Console, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _ingest(console, 2)
    # The command line finds the hub's database as a deployment would: from the environment.
    monkeypatch.setenv("YIZHAN_HUB_DATABASE_URL", console.database_url)
    home = str(console.home)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["hub", "registrations", "export", "--format", "xlsx", "--out", str(out), "--home", home]) == 0
    (path,) = out.glob("*.xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    assert sheet["F1"].value == "公民身份号码" and sheet["F2"].value == PEOPLE[0]["id_number"]
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert main(["hub", "registrations", "ack", "1", "--home", home]) == 0
    assert main(["hub", "registrations", "ack", "1", "--home", home]) != 0
    assert main(["hub", "registrations", "purge", "--days", "30", "--home", home]) == 0
    output = capsys.readouterr()
    assert "清除了 2 条" in output.out
    assert not any(s in output.out + output.err for s in SECRETS)
