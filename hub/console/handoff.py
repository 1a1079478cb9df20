"""Hand-off of residents' registrations to the provincial system, and their purge at the hub.

``export`` writes every registration not yet handed over into one file (CSV, XLSX or
JSON; personal data decrypted only here, in the file) and records it as a hand-off batch.
``ack`` is the province's acknowledgment of a batch: the personal data of that batch is
purged (the upload row and its idempotency key stay, with only kind, receipt code and
time, so a late resend is still a duplicate and the reports still count it). ``purge``
removes the personal data of every registration older than the retention limit, handed
over or not. Each export, acknowledgment and purge is written to the console's audit log
with counts and batch ids only, never personal data. Used by ``yizhan hub registrations``
and the console's export page.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.cells import safe_row
from common.files import write_atomic
from hub.console.answers import ANSWER_LABELS, answer_rows
from hub.console.core import audit_engine, iso
from hub.console.hubdata import refresh, replace_payload, upload_payloads
from hub.console.schema import handoffs, registrations, users
from hub.console.sheets import fit_columns, print_ready
from hub.db import scrub

FORMATS = ("csv", "xlsx", "json")
# The fixed columns; each answer the kiosk asked gets a column of its own between 住址 and 跟进状态.
COLUMNS = [("code", "登记编号"), ("kind", "登记类型"), ("station_id", "驿站编号"), ("received_at", "接收时间"),
           ("name", "姓名"), ("id_number", "公民身份号码"), ("gender", "性别"), ("birth_date", "出生日期"),
           ("phone", "联系电话"), ("address", "住址")]
TAIL = [("status", "跟进状态"), ("note", "跟进备注")]

# Where a purge overwrites personal data: the sealed payloads (uploads) and the follow-up notes.
PURGED_TABLES = ("uploads", "console_registrations")


class HandoffError(Exception):
    """An export, acknowledgment or purge that cannot be done; the message says why (Chinese)."""


@dataclass
class Export:
    handoff_id: int
    count: int
    sha256: str
    data: bytes
    fmt: str

    @property
    def file_name(self) -> str:
        return f"registrations-handoff-{self.handoff_id}.{self.fmt}"


def _rows(engine: Engine, ids_rows: list[Any], vault: Any) -> list[dict[str, Any]]:
    with engine.begin() as conn:
        payloads = upload_payloads(conn, [r.upload_id for r in ids_rows], vault)
    out = []
    for r in ids_rows:
        p = payloads.get(r.upload_id, {})
        person = p.get("person") if isinstance(p.get("person"), dict) else {}
        answers = p.get("answers") if isinstance(p.get("answers"), dict) else {}
        out.append({"code": r.code, "kind": r.reg_kind, "station_id": r.station_id,
                    "received_at": local_time(r.received_at),
                    **{k: str(person.get(k, "")) for k in ("name", "id_number", "gender", "birth_date", "phone",
                                                          "address")},
                    "answers": dict(answer_rows(answers)), "status": r.status, "note": r.note})
    return out


def local_time(value: str | None) -> str:
    """A stored UTC time as the bureau's clock reads it: 2026-12-07 17:05."""
    if not value:
        return ""
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone().strftime("%Y-%m-%d %H:%M")


def columns_for(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(key, header) of every column: the fixed ones, one per answer asked (in the kiosk's order,
    then others as they come), then the follow-up."""
    order = {label: i for i, label in enumerate(ANSWER_LABELS.values())}
    seen: dict[str, int] = {}
    for row in rows:
        for label in row["answers"]:
            seen.setdefault(label, len(order) + len(seen))
    labels = sorted(seen, key=lambda label: order.get(label, seen[label]))
    return COLUMNS + [(f"answer:{label}", label) for label in labels] + TAIL


def _cell(row: dict[str, Any], key: str) -> Any:
    return row["answers"].get(key[7:], "") if key.startswith("answer:") else row[key]


def _encode(rows: list[dict[str, Any]], fmt: str, signed: tuple[str, str] = ("", "")) -> bytes:
    """The file in ``fmt``; ``signed``: (填报人, 日期) for the printed page's footer."""
    columns = columns_for(rows)
    if fmt == "json":
        return json.dumps([{label: _cell(row, k) for k, label in columns} for row in rows], ensure_ascii=False,
                          indent=1).encode("utf-8")
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        writer.writerow([label for _, label in columns])
        for row in rows:
            writer.writerow(safe_row(_cell(row, k) for k, _ in columns))
        # BOM: Chinese Excel opens UTF-8 CSV correctly only with it.
        return ("\ufeff" + buf.getvalue()).encode("utf-8")
    return _xlsx(rows, columns, signed)


def _xlsx(rows: list[dict[str, Any]], columns: list[tuple[str, str]], signed: tuple[str, str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = "求职登记交接"
    ws.append([label for _, label in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        # Text cells: an ID number as a number would lose its last digits in Excel.
        ws.append(safe_row(str(_cell(row, k)) for k, _ in columns))
    fit_columns(ws, 1)
    for line in ws.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    ws.freeze_panes = "A2"
    print_ready(ws, 1, signed)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export(engine: Engine, fmt: str, by_user: str, now: dt.datetime, *, vault: Any = None,
           address: str = "cli") -> Export:
    """Hand over every registration not yet handed over (and not purged) as one new batch.
    ``vault`` (the hub's ``hub.vault.Vault``) opens the sealed payloads; ``address``: where the
    request came from, for the audit log (``cli`` on the command line)."""
    if fmt not in FORMATS:
        raise HandoffError(f"格式须为 {', '.join(FORMATS)}")
    refresh(engine, vault)
    with engine.begin() as conn:
        waiting = list(conn.execute(sa.select(registrations).where(registrations.c.handoff_id.is_(None),
                                                                   registrations.c.purged_at.is_(None))
                                    .order_by(registrations.c.upload_id)))
    if not waiting:
        raise HandoffError("没有待交接的登记")
    with engine.begin() as conn:
        who = conn.execute(sa.select(users.c.display_name).where(users.c.username == by_user)).scalar()
    day = now.astimezone().date()
    data = _encode(_rows(engine, waiting, vault), fmt, (str(who or by_user), f"{day.year}年{day.month}月{day.day}日"))
    digest = hashlib.sha256(data).hexdigest()
    with engine.begin() as conn:
        hid = int(conn.execute(handoffs.insert().values(at=iso(now), by_user=by_user, format=fmt, count=len(waiting),
                                                        sha256=digest)).inserted_primary_key[0])
        ids = [r.upload_id for r in waiting]
        for start in range(0, len(ids), 500):
            conn.execute(registrations.update().where(registrations.c.upload_id.in_(ids[start:start + 500]))
                         .values(handoff_id=hid))
    audit_engine(engine, iso(now), by_user, "导出登记", f"交接批次 {hid}",
                 f"{len(waiting)} 条，{fmt.upper()}，SHA-256 {digest[:16]}", address=address)
    return Export(handoff_id=hid, count=len(waiting), sha256=digest, data=data, fmt=fmt)


def _purge(engine: Engine, where: Any, now: dt.datetime) -> int:
    stamp = iso(now)
    with engine.begin() as conn:
        rows = list(conn.execute(sa.select(registrations.c.upload_id, registrations.c.reg_kind, registrations.c.code)
                                 .where(where, registrations.c.purged_at.is_(None))))
        for r in rows:
            replace_payload(conn, r.upload_id, {"kind": r.reg_kind, "code": r.code, "purged_at": stamp})
        ids = [r.upload_id for r in rows]
        for start in range(0, len(ids), 500):
            conn.execute(registrations.update().where(registrations.c.upload_id.in_(ids[start:start + 500]))
                         .values(purged_at=stamp, note=""))
    return len(rows)


def ack(engine: Engine, handoff_id: int, by_user: str, now: dt.datetime, *, address: str = "cli") -> int:
    """The province acknowledged a batch: purge its personal data at the hub. Returns how many."""
    with engine.begin() as conn:
        batch = conn.execute(sa.select(handoffs).where(handoffs.c.id == handoff_id)).first()
    if batch is None:
        raise HandoffError(f"没有交接批次 {handoff_id}")
    if batch.acked_at:
        raise HandoffError(f"交接批次 {handoff_id} 已于 {batch.acked_at} 确认")
    purged = _purge(engine, registrations.c.handoff_id == handoff_id, now)
    with engine.begin() as conn:
        conn.execute(handoffs.update().where(handoffs.c.id == handoff_id).values(acked_at=iso(now), purged=purged))
    audit_engine(engine, iso(now), by_user, "确认交接并清除", f"交接批次 {handoff_id}", f"清除 {purged} 条个人信息",
                 address=address)
    scrub(engine, PURGED_TABLES)
    return purged


def purge_expired(engine: Engine, retention_days: int, by_user: str, now: dt.datetime, *, vault: Any = None,
                  address: str = "cli") -> int:
    """Purge the personal data of every registration received more than ``retention_days`` ago."""
    if retention_days < 1:
        raise HandoffError("保留天数至少为 1")
    refresh(engine, vault)
    cutoff = iso(now - dt.timedelta(days=retention_days))
    purged = _purge(engine, registrations.c.received_at < cutoff, now)
    audit_engine(engine, iso(now), by_user, "到期清除登记", f"保留 {retention_days} 天", f"清除 {purged} 条个人信息",
                 address=address)
    if purged:
        scrub(engine, PURGED_TABLES)
    return purged


def batches(engine: Engine, limit: int = 50) -> list[Any]:
    with engine.begin() as conn:
        return list(conn.execute(sa.select(handoffs).order_by(handoffs.c.id.desc()).limit(limit)))


def write_export(result: Export, out: Path) -> Path:
    path = out / result.file_name if out.is_dir() else out
    return write_atomic(path, result.data, mode=0o600)
