"""The durable print queue (table ``print_jobs`` in the station database) and its worker.

A slip is saved (fsynced) before anything is sent. :class:`PrintService` sends the oldest
queued slip only while the printer reports a printable status, and marks it printed
only after the bytes were written *and* the printer's status is clean again: when the
paper runs out in the middle of a slip the printer keeps the rest in its buffer, and
the slip is marked printed once paper is loaded and the status is back to ready.

States of a slip::

    queued --claim--> sending --write--> sent --status clean--> printed
                         |                  (status bad: stays sent until it is clean)
                         +-- write failed / process died here --> check
    queued/check --cancel--> cancelled          check/cancelled --retry--> queued
    check --confirm (staff saw it print)--> printed
    any --reprint--> a new queued copy

What a process kill does (each step is its own fsynced transaction):

* killed before ``sending`` is committed: the slip is still ``queued`` and is sent once
  after the restart;
* killed after ``sent`` is committed: the slip is never sent again; after the restart it
  is marked printed once the status is clean;
* killed while ``sending`` (between that commit and the ``sent`` commit, i.e. around the
  write itself): the slip may have printed whole, in part or not at all. It is *not*
  resent automatically - that would risk a double print - but moved to ``check``
  (需核对) and shown to staff, who confirm it or retry it. It is never lost. This window
  lasts as long as the write (milliseconds on USB/network; a raster slip at 9600 baud
  can take seconds).

``sending`` rows belong to the process that claimed them (pid + its start time); a
restart only moves the rows of processes that are gone, so the kiosk's worker and a
``yizhan print`` command can share the queue.

A printer switched off while it holds a slip in its buffer loses it, and cannot say so:
staff queue a new copy with :meth:`PrintQueue.reprint`.

Printers without status (a ``file`` connection, or a profile with ``status = false``)
cannot confirm anything: a completed write counts as printed.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from content.db import Database, TableOwner
from printer.connections import Connection, PrinterUnavailable
from printer.status import PrinterState, PrinterStatus, status_of

log = logging.getLogger(__name__)

STATES = ("queued", "sending", "sent", "printed", "check", "cancelled")
OPEN_STATES = ("queued", "sending", "sent", "check")
STATE_NAMES = {"queued": "排队中", "sending": "发送中", "sent": "已发送，等待打印机确认", "printed": "已打印",
               "check": "需核对：发送中断，请查看是否已出单", "cancelled": "已取消"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS print_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    data BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'sending', 'sent', 'printed', 'check', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    owner_pid INTEGER,
    owner_started REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    printed_at TEXT,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS print_jobs_state ON print_jobs (state, id);
"""


class QueueError(ValueError):
    """A staff action that does not apply (no such slip, or not in a state that allows it)."""


@dataclass(frozen=True)
class QueuedSlip:
    id: int
    kind: str
    label: str
    state: str
    attempts: int
    size: int
    created_at: str
    updated_at: str
    sent_at: str | None
    printed_at: str | None
    last_error: str

    @property
    def state_text(self) -> str:
        return STATE_NAMES[self.state]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "state": self.state,
                "state_text": self.state_text, "attempts": self.attempts, "bytes": self.size,
                "created_at": self.created_at, "sent_at": self.sent_at, "printed_at": self.printed_at,
                "last_error": self.last_error}


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def _me() -> tuple[int, float]:
    me = psutil.Process()
    return me.pid, me.create_time()


def _alive(pid: int | None, started: float | None) -> bool:
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        return started is None or abs(proc.create_time() - started) < 0.01
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


_COLUMNS = ("id, kind, label, state, attempts, length(data) AS size, created_at, updated_at, sent_at, "
            "printed_at, last_error")


# The print_jobs table's owner in the station database (version 1: the table as first released).
TABLES = TableOwner("print_queue", ("print_jobs",), (SCHEMA,))


class PrintQueue:
    """The queue in the station database; safe to share between threads.

    ``db``: the station :class:`~content.db.Database` (each thread on its own connection), or the
    database's path (opened here, closed by :meth:`close`).
    """

    def __init__(self, db: Database | str | Path) -> None:
        self._own: Database | None = None
        if not isinstance(db, Database):
            shared = Database.of_process(db)
            db = shared if shared is not None else Database(db, [TABLES])
            self._own = None if shared is not None else db
        self.db = db
        self.db_path = db.path
        self._lock = threading.RLock()

    @property
    def _conn(self) -> sqlite3.Connection:
        return self.db.conn()

    def close(self) -> None:
        if self._own is not None:
            self._own.close()

    @staticmethod
    def _row(row: sqlite3.Row) -> QueuedSlip:
        return QueuedSlip(**{key: row[key] for key in row.keys()})

    # -- adding and looking ------------------------------------------------------------
    def submit(self, kind: str, data: bytes, label: str) -> int:
        """Save a slip (fsynced) and return its id; it prints when the printer is ready."""
        if not data:
            raise ValueError("an empty slip cannot be queued")
        now = _now()
        with self._lock, self.db.transaction(durable=True):
            cur = self._conn.execute(
                "INSERT INTO print_jobs (kind, label, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (kind, label, bytes(data), now, now))
            return int(cur.lastrowid)

    def get(self, slip_id: int) -> QueuedSlip | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM print_jobs WHERE id = ?", (slip_id,)).fetchone()
        return self._row(row) if row else None

    def data(self, slip_id: int) -> bytes:
        with self._lock:
            row = self._conn.execute("SELECT data FROM print_jobs WHERE id = ?", (slip_id,)).fetchone()
        if row is None:
            raise QueueError(f"no slip {slip_id} in the print queue")
        return bytes(row["data"])

    def pending(self) -> list[QueuedSlip]:
        """Slips not yet printed or cancelled, oldest first."""
        marks = ",".join("?" * len(OPEN_STATES))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM print_jobs WHERE state IN ({marks}) ORDER BY id", OPEN_STATES).fetchall()
        return [self._row(r) for r in rows]

    def recent(self, limit: int = 20) -> list[QueuedSlip]:
        """The latest slips in any state, newest first."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM print_jobs ORDER BY id DESC LIMIT ?",
                                      (limit,)).fetchall()
        return [self._row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute("SELECT state, count(*) AS n FROM print_jobs GROUP BY state").fetchall()
        return {row["state"]: row["n"] for row in rows}

    # -- staff actions -----------------------------------------------------------------
    def _move(self, slip_id: int, allowed: tuple[str, ...], new: str, action: str, **extra: Any) -> QueuedSlip:
        sets = ", ".join(f"{key} = ?" for key in extra)
        with self._lock, self.db.transaction(durable=True):
            row = self._conn.execute("SELECT state FROM print_jobs WHERE id = ?", (slip_id,)).fetchone()
            if row is None:
                raise QueueError(f"no slip {slip_id} in the print queue")
            if row["state"] not in allowed:
                raise QueueError(f"slip {slip_id} is {row['state']} ({STATE_NAMES[row['state']]}); "
                                 f"{action} applies only to {' / '.join(allowed)} slips")
            self._conn.execute(
                f"UPDATE print_jobs SET state = ?, updated_at = ?{', ' + sets if sets else ''} WHERE id = ?",
                (new, _now(), *extra.values(), slip_id))
        slip = self.get(slip_id)
        assert slip is not None
        return slip

    def cancel(self, slip_id: int) -> QueuedSlip:
        """Take a slip that has not been sent (or needs checking) out of the queue."""
        return self._move(slip_id, ("queued", "check"), "cancelled", "cancel")

    def retry(self, slip_id: int) -> QueuedSlip:
        """Queue a slip again: one that needs checking and did not come out, or a cancelled one."""
        return self._move(slip_id, ("check", "cancelled"), "queued", "retry", last_error="")

    def confirm(self, slip_id: int) -> QueuedSlip:
        """Staff saw a slip that needed checking come out whole: mark it printed."""
        return self._move(slip_id, ("check",), "printed", "confirm", printed_at=_now())

    def reprint(self, slip_id: int) -> int:
        """Queue a new copy of any slip (e.g. one lost when a printer was switched off); its id."""
        with self._lock:
            row = self._conn.execute("SELECT kind, label, data FROM print_jobs WHERE id = ?", (slip_id,)).fetchone()
        if row is None:
            raise QueueError(f"no slip {slip_id} in the print queue")
        return self.submit(row["kind"], bytes(row["data"]), row["label"])

    def purge(self, older_than_days: int) -> int:
        """Delete printed and cancelled slips older than ``older_than_days``; returns how many."""
        cutoff = (dt.datetime.now() - dt.timedelta(days=older_than_days)).isoformat(timespec="seconds")
        with self._lock, self.db.transaction(durable=True):
            cur = self._conn.execute(
                "DELETE FROM print_jobs WHERE state IN ('printed', 'cancelled') AND updated_at < ?", (cutoff,))
            return cur.rowcount

    # -- the worker's steps (each one fsynced) -----------------------------------------
    def recover(self) -> list[int]:
        """Move ``sending`` slips of processes that are gone to ``check``; returns their ids."""
        moved = []
        with self._lock, self.db.transaction(durable=True):
            rows = self._conn.execute(
                "SELECT id, owner_pid, owner_started FROM print_jobs WHERE state = 'sending'").fetchall()
            for row in rows:
                if not _alive(row["owner_pid"], row["owner_started"]):
                    self._conn.execute(
                        "UPDATE print_jobs SET state = 'check', updated_at = ?, last_error = ? WHERE id = ?",
                        (_now(), "sending was interrupted (the printing process stopped)", row["id"]))
                    moved.append(row["id"])
        if moved:
            log.warning("print queue: slips %s were being sent when a process stopped; staff must check them",
                        moved)
        return moved

    def next_queued(self) -> QueuedSlip | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM print_jobs WHERE state = 'queued' ORDER BY id LIMIT 1").fetchone()
        return self._row(row) if row else None

    def sent(self) -> list[QueuedSlip]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM print_jobs WHERE state = 'sent' ORDER BY id").fetchall()
        return [self._row(r) for r in rows]

    def claim(self, slip_id: int) -> bool:
        """queued -> sending for this process; False if another worker took it first."""
        pid, started = _me()
        with self._lock, self.db.transaction(durable=True):
            cur = self._conn.execute(
                "UPDATE print_jobs SET state = 'sending', attempts = attempts + 1, owner_pid = ?, "
                "owner_started = ?, updated_at = ? WHERE id = ? AND state = 'queued'",
                (pid, started, _now(), slip_id))
            return cur.rowcount == 1

    def mark_sent(self, slip_id: int) -> None:
        now = _now()
        with self._lock, self.db.transaction(durable=True):
            self._conn.execute("UPDATE print_jobs SET state = 'sent', sent_at = ?, updated_at = ?, "
                               "last_error = '' WHERE id = ? AND state = 'sending'", (now, now, slip_id))

    def mark_printed(self, slip_id: int) -> None:
        now = _now()
        with self._lock, self.db.transaction(durable=True):
            self._conn.execute("UPDATE print_jobs SET state = 'printed', printed_at = ?, updated_at = ? "
                               "WHERE id = ? AND state IN ('sending', 'sent')", (now, now, slip_id))

    def mark_check(self, slip_id: int, error: str) -> None:
        with self._lock, self.db.transaction(durable=True):
            self._conn.execute("UPDATE print_jobs SET state = 'check', updated_at = ?, last_error = ? "
                               "WHERE id = ? AND state = 'sending'", (_now(), error[:500], slip_id))

    def note(self, slip_id: int, error: str) -> None:
        """Record why a slip waits (e.g. the printer is out of paper) without changing its state."""
        with self._lock, self.db.transaction(durable=True):
            self._conn.execute("UPDATE print_jobs SET last_error = ? WHERE id = ? AND last_error != ?",
                               (error[:500], slip_id, error[:500]))


# What one pass of the worker did.
IDLE, WAITING, UNAVAILABLE, SENT, PRINTED, INTERRUPTED = (
    "idle", "waiting", "unavailable", "sent", "printed", "interrupted")


class PrintService:
    """Sends queued slips to the printer, one at a time, and confirms them by status.

    ``connect`` opens a fresh :class:`~printer.connections.Connection` per pass.
    ``on_status(status)`` is called from the worker thread whenever the printer's status
    changes (a Kivy app must hop to its own thread with ``Clock.schedule_once``).
    ``checkpoint(step)`` is called after each durable step (``before_send``, ``sending``,
    ``written``, ``sent``, ``printed``) - a hook for fault-injection tests.
    ``retention_days``: printed and cancelled slips (they hold masked personal data) older
    than this are deleted when the service starts (``privacy.retention_days`` from settings).
    """

    def __init__(self, queue: PrintQueue, connect: Callable[[], Connection], *, use_status: bool = True,
                 poll_s: float = 3.0, settle_s: float = 1.0,
                 on_status: Callable[[PrinterStatus], None] | None = None,
                 checkpoint: Callable[[str], None] | None = None, retention_days: int | None = None) -> None:
        self.queue = queue
        self.connect = connect
        self.use_status = use_status
        self.poll_s = poll_s
        self.settle_s = settle_s
        self.on_status = on_status
        self.checkpoint = checkpoint or (lambda step: None)
        self.last_status: PrinterStatus | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()
        self._recovered = False
        self.retention_days = retention_days

    # -- status ------------------------------------------------------------------------
    def _report(self, status: PrinterStatus) -> PrinterStatus:
        changed = self.last_status is None or (self.last_status.state, self.last_status.detail) != (
            status.state, status.detail)
        self.last_status = status
        if changed:
            log.info("printer: %s (%s)", status.state.value, status.message)
            if self.on_status:
                try:
                    self.on_status(status)
                except Exception:
                    log.exception("on_status callback failed")
        return status

    def _status(self, conn: Connection) -> PrinterStatus | None:
        """The printer's status, or None when this printer cannot tell (then writes count)."""
        if not (self.use_status and conn.supports_status):
            return None
        return self._report(conn.status())

    # -- one pass ----------------------------------------------------------------------
    def process_once(self) -> str:
        """Do what can be done now: confirm sent slips, then send the next queued one."""
        with self._pass_lock:
            if not self._recovered:
                self.queue.recover()
                if self.retention_days is not None:
                    self.queue.purge(self.retention_days)
                self._recovered = True
            try:
                conn = self.connect()
            except PrinterUnavailable as exc:
                status = self._report(status_of(PrinterState.OFFLINE, str(exc)))
                waiting = self.queue.next_queued()
                if waiting is not None:
                    self.queue.note(waiting.id, f"{status.message}（{exc}）")
                return UNAVAILABLE
            with conn:
                return self._pass(conn)

    def _pass(self, conn: Connection) -> str:
        status = self._status(conn)
        for slip in self.queue.sent():
            if status is None or status.printable:
                self.queue.mark_printed(slip.id)
                log.info("print queue: slip %d printed", slip.id)
                self.checkpoint("printed")
            else:
                self.queue.note(slip.id, status.message)
                return WAITING
        slip = self.queue.next_queued()
        if slip is None:
            return IDLE
        if status is not None and not status.printable:
            self.queue.note(slip.id, status.message)
            return WAITING
        self.checkpoint("before_send")
        if not self.queue.claim(slip.id):
            return IDLE
        self.checkpoint("sending")
        try:
            conn.write(self.queue.data(slip.id))
        except PrinterUnavailable as exc:
            self.queue.mark_check(slip.id, str(exc))
            self._report(status_of(PrinterState.OFFLINE, str(exc)))
            return INTERRUPTED
        self.checkpoint("written")
        self.queue.mark_sent(slip.id)
        self.checkpoint("sent")
        if self.settle_s:
            time.sleep(self.settle_s)
        after = self._status(conn)
        if after is None or after.printable:
            self.queue.mark_printed(slip.id)
            log.info("print queue: slip %d printed", slip.id)
            self.checkpoint("printed")
            return PRINTED
        self.queue.note(slip.id, after.message)
        return SENT

    # -- synchronous use ---------------------------------------------------------------
    def submit(self, kind: str, data: bytes, label: str) -> int:
        slip_id = self.queue.submit(kind, data, label)
        self._wake.set()
        return slip_id

    def print_now(self, kind: str, data: bytes, label: str, *, timeout: float = 10.0) -> QueuedSlip:
        """Queue a slip and work the queue until it is printed or ``timeout`` passes.

        Returns the slip as it stands: ``printed``, or still waiting (with the reason in
        ``last_error`` and :attr:`last_status`) - it stays queued and prints later.
        """
        slip_id = self.queue.submit(kind, data, label)
        deadline = time.monotonic() + timeout
        while True:
            result = self.process_once()
            slip = self.queue.get(slip_id)
            assert slip is not None
            if slip.state in ("printed", "check", "cancelled") or time.monotonic() >= deadline:
                return slip
            if result in (IDLE, WAITING, UNAVAILABLE, SENT):
                time.sleep(min(self.poll_s, max(0.0, deadline - time.monotonic())))

    # -- background worker -------------------------------------------------------------
    def start(self) -> PrintService:
        if self._thread and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="print-service", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.process_once()
            except Exception:
                log.exception("print service pass failed")
                result = UNAVAILABLE
            if result in (PRINTED, INTERRUPTED) and not self._stop.is_set():
                continue
            self._wake.wait(self.poll_s)
            self._wake.clear()

