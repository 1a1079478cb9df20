"""Everything the kiosk uses outside itself, built from the settings: store, reader, printer, sync.

The kiosk must keep working when a device is missing or broken, so each part is built
on its own; one that cannot start is left out with a reason (shown on the staff screen)
and the kiosk says so instead of failing. Device callbacks are passed in by the app,
which moves them onto Kivy's clock. Slow writes that the resident need not wait for
(usage events, status reads) run on one background worker thread. No Kivy here.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from common.privacy import scrub
from content.store import Store
from content.visit_lock import LOCK_NAME, VisitLock
from kiosk.status import PRINTER_DOWN

log = logging.getLogger("kiosk.services")
Callback = Callable[[Any], None]

if TYPE_CHECKING:
    from content.db import Database
    from content.outbox import Outbox
    from content.sync_loop import SyncStatus
    from printer.queue import PrinterStatus, PrintQueue


# The parts' seams: what the kiosk calls of each part it is handed (config.station.Station and
# the services it builds satisfy them; a test passes its own).
class Part(Protocol):
    """A part the kiosk starts and stops with itself (the reader, the printer, the sync loop)."""

    def start(self) -> object: ...
    def stop(self) -> None: ...


class PrinterPart(Part, Protocol):
    """The print service: slips queued durably, sent one at a time (printer.queue.PrintService)."""

    queue: PrintQueue
    last_status: PrinterStatus | None

    def submit(self, kind: str, data: bytes, label: str) -> int: ...
    def wake(self) -> None: ...


class SyncPart(Part, Protocol):
    """The sync loop when it runs in the kiosk's process (content.sync_loop.SyncLoop)."""

    @property
    def status(self) -> SyncStatus: ...
    def sync_now(self) -> None: ...


class StationParts(Protocol):
    """The process's station (config.station.Station): the settings, the database and its
    tables' owners, and the device and sync factories the kiosk calls."""

    @property
    def settings(self) -> Any: ...  # config.settings.Settings (the kiosk does not import config/)
    @property
    def store(self) -> Store: ...
    @property
    def db(self) -> Database: ...
    @property
    def outbox(self) -> Outbox: ...

    def kiosk_runs_sync(self) -> bool: ...
    def reader_service(self, on_event: Callable[[Any], None] | None = None, *, live: bool = False) -> Part: ...
    def print_service(self, *, live: bool = False, on_status: Callback | None = None) -> PrinterPart: ...
    def sync_loop(self, *, on_status: Callback | None = None, health: Callable[[], Any] | None = None) -> SyncPart: ...
    def sync_status(self) -> dict[str, Any]: ...
    def close(self) -> None: ...

NEXT_STEPS = {
    "求职": "工作人员会在3个工作日内电话联系您，为您推荐合适的岗位。请保持手机畅通。",
    "培训需求": "开班前工作人员会电话通知您上课时间和地点。符合条件的可以申领培训补贴。",
    "返乡": "工作人员会联系您，介绍本地岗位、创业扶持和培训政策。",
    "零工": "有合适的零工会电话通知您。也可以每天来站里看“今日零工”。",
    "失业": "请在30天内带上身份证和原单位解除或终止劳动合同的证明（离职证明），到服务站窗口，"
            "工作人员会帮您完成失业登记；符合条件的可以申领失业保险金。",
}
# 我想应聘: a 求职 registration for one job
APPLY_NEXT_STEPS = "工作人员会把您推荐给这家用人单位，并在3个工作日内电话联系您。请保持手机畅通。"


@dataclass
class Services:
    """The kiosk's outside world. Build with :meth:`from_station`; tests may pass their own parts."""

    settings: Any
    store: Store
    station: StationParts | None = None  # the database, outbox and device factories
    reader: Part | None = None  # idcard.service.ReaderService
    printer: PrinterPart | None = None  # printer.queue.PrintService
    sync: SyncPart | None = None  # content.sync_loop.SyncLoop
    problems: dict[str, str] = field(default_factory=dict)
    visit_slips: list[int] = field(default_factory=list)  # ids of the current resident's slips
    _work: queue.Queue = field(default_factory=queue.Queue, repr=False)
    _worker: threading.Thread | None = field(default=None, repr=False)
    _sync_status: Any = field(default=None, repr=False)
    _printer_status: Any = field(default=None, repr=False)
    _profile: Any = field(default=None, repr=False)
    _on_printer_status: Callback | None = field(default=None, repr=False)
    _usage: Any = field(default=None, repr=False)  # content.outbox.RecordBuffer of usage events
    visit_lock: VisitLock | None = None  # held while a visit is open (an upgrade waits for it)

    def __post_init__(self) -> None:
        from content.outbox import RecordBuffer

        # Usage events are counts: written in batches (SD card wear), at the latest when the visit ends.
        self._usage = RecordBuffer(self.outbox, "event", max_records=30, max_age_s=120)

    @classmethod
    def from_station(cls, station: StationParts, *, reader: bool = True, printer: bool = True,
                     sync: bool | None = None) -> Services:
        """The kiosk's parts from the process's ``config.station.Station`` (built once at start).
        ``sync``: run a sync loop here; by default only where no sync service runs beside
        the kiosk (``Station.kiosk_runs_sync``): a station sends one heartbeat, from one process."""
        settings = station.settings
        if sync is None:
            sync = station.kiosk_runs_sync()
        services = cls(settings=settings, store=station.store, station=station,
                       visit_lock=VisitLock(Path(settings.data_dir) / LOCK_NAME))
        if reader and settings.devices.idcard.enabled:
            services._build("reader", services._make_reader)
        if printer and settings.devices.printer.enabled:
            services._build("printer", services._make_printer)
        if sync and (settings.hub.feed_url or settings.hub.upload_url):
            services._build("sync", services._make_sync)
        return services

    def _build(self, name: str, make: Callable[[], Any]) -> None:
        try:
            setattr(self, name, make())
        except Exception as exc:  # one broken device must not keep the kiosk from starting
            self.problems[name] = scrub(f"{type(exc).__name__}: {exc}")[:200]
            log.warning("kiosk: %s unavailable: %s", name, self.problems[name])

    @property
    def outbox(self) -> Any:
        """Where usage events and registrations go: the station's outbox (or its database file)."""
        return self.station.outbox if self.station is not None else self.settings

    @property
    def db(self) -> Any:
        return self.station.db if self.station is not None else self.settings.db_path

    def _make_reader(self) -> Any:
        return self.station.reader_service(on_event=self._reader_event, live=True)

    def _make_printer(self) -> Any:
        from printer.profiles import profile_for

        self._profile = profile_for(self.settings.devices.printer)
        return self.station.print_service(on_status=self._printer_event, live=True)

    def _make_sync(self) -> Any:
        return self.station.sync_loop(on_status=self._sync_event, health=self.health)

    # -- life cycle --------------------------------------------------------------------------
    def start(self, *, on_reader_event: Callback, on_printer_status: Callback, on_sync_status: Callback) -> None:
        """Start the devices and the sync loop; callbacks run on device threads."""
        self._on_reader_event = on_reader_event
        self._on_printer_status = on_printer_status
        self._on_sync_status = on_sync_status
        self._worker = threading.Thread(target=self._work_loop, name="kiosk-worker", daemon=True)
        self._worker.start()
        for name in ("reader", "printer", "sync"):
            part = getattr(self, name)
            if part is None:
                continue
            try:
                part.start()
            except Exception as exc:
                self.problems[name] = scrub(f"{type(exc).__name__}: {exc}")[:200]
                log.warning("kiosk: %s did not start: %s", name, self.problems[name])
                setattr(self, name, None)
        self.later(self._read_sync_status)

    def mark_visit(self, in_use: bool) -> None:
        """Tell other processes (the upgrader) whether a resident is mid-visit."""
        if self.visit_lock is not None:
            self.visit_lock.hold(in_use)

    def stop(self) -> None:
        self.mark_visit(False)
        for name in ("reader", "printer", "sync"):
            part = getattr(self, name)
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    log.exception("kiosk: stopping %s failed", name)
        self.later(self.flush_usage)
        if self._worker is not None:
            self._work.put(None)
            self._worker.join(timeout=10)
            self._worker = None
        self.store.close()
        if self.station is not None:
            self.station.close()  # the process's database: every thread's connection

    # -- background work ---------------------------------------------------------------------
    def later(self, job: Callable[[], Any]) -> None:
        """Run ``job`` on the worker thread (in order, one at a time)."""
        if self._worker is None:
            job()
        else:
            self._work.put(job)

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until the worker has done everything queued so far (tests, shutdown)."""
        if self._worker is None:
            return
        done = threading.Event()
        self._work.put(self.flush_usage)
        self._work.put(done.set)
        done.wait(timeout)

    def _work_loop(self) -> None:
        while True:
            job = self._work.get()
            if job is None:
                return
            try:
                job()
            except Exception:
                log.exception("kiosk: background job failed")

    # -- device events -----------------------------------------------------------------------
    def _reader_event(self, event: Any) -> None:
        callback = getattr(self, "_on_reader_event", None)
        if callback is not None:
            callback(event)

    def _printer_event(self, status: Any) -> None:
        self._printer_status = status
        if self._on_printer_status is not None:
            self._on_printer_status(status)

    def _sync_event(self, status: Any) -> None:
        self._sync_status = status
        callback = getattr(self, "_on_sync_status", None)
        if callback is not None:
            callback(status)

    # -- status ------------------------------------------------------------------------------
    @property
    def sync_configured(self) -> bool:
        return bool(self.settings.hub.feed_url)

    def sync_status(self) -> Any:
        """The last sync status: from the loop when it runs here, else as last stored."""
        if self.sync is not None:
            return self.sync.status
        return self._sync_status

    def refresh_sync_status(self) -> None:
        """Re-read the stored sync status in the background (another process may sync)."""
        if self.sync is None:
            self.later(self._read_sync_status)

    def _read_sync_status(self) -> None:
        if self.sync is not None:
            return
        try:
            self._sync_status = self.station.sync_status()
        except Exception as exc:
            log.warning("kiosk: sync status unavailable: %s", scrub(str(exc))[:200])

    def sync_now(self) -> bool:
        """Sync now: this kiosk's own loop, or (on a box) the running ``yizhan sync`` woken by a
        signal; False when neither runs."""
        if self.sync is None:
            from content.live import request_sync

            return request_sync(self.settings.data_dir)
        self.sync.sync_now()
        return True

    def printer_status(self) -> Any:
        if self.printer is None:
            return None
        return self._printer_status or getattr(self.printer, "last_status", None)

    def reader_state(self) -> str:
        if self.reader is None:
            return "absent"
        return getattr(self.reader, "state", "unknown")

    def health(self) -> dict[str, Any]:
        """Device health for the sync loop's heartbeat (no personal data)."""
        out: dict[str, Any] = {}
        status = self.printer_status()
        if self.printer is not None:
            out["printer"] = {"ok": bool(status is None or status.printable),
                              "detail": getattr(status, "message", "") if status else ""}
        if self.reader is not None:
            out["idcard"] = {"ok": self.reader_state() == "online", "detail": self.reader_state()}
        if "audio" in self.problems:
            out["audio"] = {"ok": False, "detail": self.problems["audio"]}
        return out

    def publish_audio(self) -> None:
        """The sound output's state for the heartbeat sent by the sync service (only when it changes)."""
        problem = self.problems.get("audio", "")
        if self.station is None or problem == getattr(self, "_audio_published", None):
            return
        from content.live import publish

        self._audio_published = problem
        publish(self.settings.data_dir, "audio", ok=not problem, detail=problem or "朗读正常")

    def outbox_depth(self) -> tuple[int, float | None]:
        from content.outbox import open_outbox

        with open_outbox(self.outbox) as outbox:
            return outbox.depth(), outbox.oldest_age_s()

    # -- usage and registrations -------------------------------------------------------------
    def record_usage(self, event: str, **fields: Any) -> None:
        """Queue a usage event for the hub (batched, written in the background; never personal data)."""
        from content.outbox import usage_payload

        if self._usage.add_payload(usage_payload(event, source="kiosk", **fields)):
            self.later(self.flush_usage)

    def flush_usage(self) -> None:
        """Write the usage events taken so far (end of a visit, shutdown, a full batch)."""
        try:
            self._usage.flush()
        except Exception as exc:  # kept in the buffer; the next flush retries them
            log.warning("kiosk: usage events not written yet: %s", scrub(str(exc))[:200])

    def submit_registration(self, kind: str, person: dict[str, str], answers: dict[str, Any], *,
                            job: dict[str, str] | None = None, verified: bool = True,
                            sms_consent: bool = False) -> Any:
        """Store the registration and its outbox entry durably; returns the Receipt.

        ``job``: the job applied for (我想应聘); ``verified`` False: no card was read;
        ``sms_consent``: 同意短信推送岗位信息 was ticked."""
        from content.registrations import submit_registration

        return submit_registration(self.db, kind, person, answers, station_id=self.settings.station.id,
                                   key_dir=self.settings.data_dir, job=job, verified=verified,
                                   sms_consent=sms_consent)

    def today_counts(self) -> dict[str, int]:
        """Registrations made today per kind (staff screen)."""
        from content.registrations import count_registrations

        midnight = dt.datetime.combine(dt.date.today(), dt.time()).astimezone()
        return count_registrations(self.db, since=midnight)

    # -- printing ----------------------------------------------------------------------------
    def _submit_slip(self, slip: Any, what: str) -> tuple[bool, str]:
        if self.printer is None:
            reason = "没有连接打印机" if "printer" not in self.problems else "打印机暂时不能用"
            return False, f"{reason}，请用手机扫二维码保存，或找工作人员"
        status = self.printer_status()
        if status is not None and not status.printable:
            # Not queued: it would come out later, into an empty room (a receipt with the
            # resident's masked name among them). The cause is on the staff screen.
            return False, PRINTER_DOWN
        self.visit_slips.append(self.printer.submit(slip.kind, slip.data, slip.label))
        return True, f"正在打印{what}，请在打印机出口取"

    def end_visit(self) -> int:
        """The resident has gone: their slips that have not printed yet never print on their own.

        They are cancelled, which keeps them in the queue: staff can reprint one on request
        (重试 on the staff screen). Returns how many were held back.
        """
        self.later(self.flush_usage)
        held = 0
        slips, self.visit_slips = self.visit_slips, []
        if self.printer is None:
            return 0
        from printer.queue import QueueError

        for slip_id in slips:
            slip = self.printer.queue.get(slip_id)
            if slip is None or slip.state not in ("queued", "check"):
                continue
            try:
                self.printer.queue.cancel(slip_id)
                held += 1
            except QueueError:  # printed in the meantime: nothing to hold back
                continue
        if held:
            log.info("visit ended: %d slip(s) not printed were held for staff", held)
        return held

    def print_job(self, job: Any, *, distance_km: float | None = None, resident_name: str | None = None
                  ) -> tuple[bool, str]:
        """Queue a job slip; (queued, what to tell the resident)."""
        if self.printer is None:
            return self._submit_slip(None, "岗位单")
        from printer.slips import job_slip, new_slip_no
        from protocol.phone import phone_page_url

        slip = job_slip(job, station=self.settings.station, profile=self._profile, slip_no=new_slip_no(),
                        distance_km=distance_km, resident_name=resident_name,
                        page_url=phone_page_url(self.settings.hub.feed_url, self.settings.station.id, job.id))
        return self._submit_slip(slip, "岗位单")

    def print_event(self, event: Any) -> tuple[bool, str]:
        if self.printer is None:
            return self._submit_slip(None, "招聘会通知")
        from printer.slips import event_slip, new_slip_no

        slip = event_slip(event, station=self.settings.station, profile=self._profile, slip_no=new_slip_no())
        return self._submit_slip(slip, "通知单")

    def print_receipt(self, receipt: Any, resident: Any, job: dict[str, str] | None = None) -> tuple[bool, str]:
        """The registration's receipt; ``resident`` None (an application without the card): 未核验."""
        if self.printer is None:
            return self._submit_slip(None, "登记回执")
        from content.registrations import grouped_code
        from printer.slips import receipt_slip

        created = dt.datetime.fromisoformat(receipt.created_at)
        slip = receipt_slip(receipt.kind, name=resident.name if resident else "",
                            id_number=resident.id_number if resident else "",
                            receipt_code=grouped_code(receipt.code), station=self.settings.station, profile=self._profile,
                            created_at=created, next_steps=APPLY_NEXT_STEPS if job else NEXT_STEPS.get(receipt.kind, ""),
                            job=f"{job['title']}，{job['employer']}" if job else "")
        return self._submit_slip(slip, "登记回执")

    def print_queue(self) -> list[Any]:
        """Recent slips for the staff screen."""
        if self.printer is None:
            return []
        return self.printer.queue.recent(12)

    def retry_slip(self, slip_id: int) -> None:
        self.printer.queue.retry(slip_id)
        self.printer.wake()

    def cancel_slip(self, slip_id: int) -> None:
        self.printer.queue.cancel(slip_id)
