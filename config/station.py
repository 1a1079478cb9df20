"""The composition root: one :class:`Station` per process, built once from the settings.

This is the one place where the parts are wired. It opens the station database once (every
table owner's migrations run here, in :data:`OWNERS` order) and hands each part the explicit,
typed arguments it takes: the libraries below never read the settings themselves. Entry points
(the ``*_cli`` modules, the kiosk and board apps) build a Station and take what they need.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from config.settings import Settings
from content import feed_client, registrations
from content import outbox as outbox_module
from content.db import Database, TableOwner
from content.feed_client import FeedHealth, SyncClient, SyncResult, feed_health
from content.health import DateFetcher, HealthSources, hub_date, station_health
from content.media import MediaCache
from content.outbox import Outbox
from content.store import Store
from content.sync_loop import SyncLoop, read_status
from content.uplink import Sender, queue_heartbeat
from printer import queue as print_queue_module
from printer.queue import PrintQueue, PrintService

if TYPE_CHECKING:
    from content.care import CareClient
    from deploy.screens import ScreenSchedule
    from idcard.service import ReaderService

log = logging.getLogger(__name__)

# Every table of the station database and its one owner, in the order their migrations run
# (the registrations' trigger reads the outbox, so the outbox comes first).
OWNERS: tuple[TableOwner, ...] = (
    Store.TABLES,
    outbox_module.TABLES,
    registrations.TABLES,
    feed_client.TABLES,
    print_queue_module.TABLES,
)


def media_cache(settings: Settings, **overrides: Any) -> MediaCache:
    """The station's media cache (``overrides``: e.g. a ``disk_usage`` hook for tests and benchmarks)."""
    storage = settings.storage
    options: dict[str, Any] = {"quota_bytes": storage.media_quota_mb * 1024 * 1024,
                               "floor_bytes": storage.free_space_floor_mb * 1024 * 1024, **overrides}
    return MediaCache(settings.media_dir, **options)


def screen_schedule(settings: Settings, run: Callable[..., None] | None = None) -> ScreenSchedule:
    """The screens' on/off schedule from ``[screens]`` (``run``: how commands run; tests record them)."""
    from deploy.screens import Hours, Screen, ScreenSchedule

    s, devices = settings.screens, settings.devices
    screens = [
        Screen("board", Hours.parse(s.board_on), s.board_method, devices.board_screen.display or ":0", s.cec_port),
        Screen("kiosk", Hours.parse(s.kiosk_on), s.kiosk_method, devices.kiosk_screen.display or ":0",
               wake_s=s.kiosk_wake_s),
    ]
    return ScreenSchedule(screens, set(s.days), *([run] if run is not None else []))


@contextmanager
def open_store(settings: Settings) -> Iterator[Store]:
    """The station's store for one block (a command that needs only the content), closed after it."""
    with Station(settings) as station:
        yield station.store


class Station:
    """The station's parts, built once from ``settings``; close it when the process ends.

    The database, the store and the outbox are opened at once (a broken database fails here,
    at start, with its reason); the print queue, the media cache and the sync parts when first
    asked for. Devices and loops are made by the ``*_service``/``sync_*`` methods: a caller that
    cannot use one (a missing printer) goes on without it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.db_path, OWNERS, process=True)
        st = settings.station
        self.store = Store(self.db, (st.latitude, st.longitude), st.radius_km)
        self.outbox = Outbox(self.db, key_dir=settings.data_dir)

    # -- parts made on first use ---------------------------------------------------------
    @cached_property
    def print_queue(self) -> PrintQueue:
        return PrintQueue(self.db)

    @cached_property
    def media(self) -> MediaCache:
        return self.media_cache()

    def media_cache(self, **overrides: Any) -> MediaCache:
        """The media cache (``overrides``: e.g. a ``disk_usage`` hook for tests and benchmarks)."""
        return media_cache(self.settings, **overrides)

    # -- devices -------------------------------------------------------------------------
    def print_service(self, *, live: bool = False, **kwargs: Any) -> PrintService:
        """The printer service on this station's queue, for ``[devices.printer]`` (``live``: a
        long-running service, whose status the heartbeat reports, see :mod:`content.live`)."""
        from printer.connections import connection_factory
        from printer.profiles import profile_for

        printer = self.settings.devices.printer
        kwargs.setdefault("retention_days", self.settings.privacy.retention_days)
        if live:
            kwargs["on_status"] = self._live_printer(kwargs.get("on_status"))
        return PrintService(self.print_queue, connection_factory(printer), use_status=profile_for(printer).status,
                            **kwargs)

    def reader_service(self, on_event: Callable[[Any], None] | None = None, *, live: bool = False,
                       **kwargs: Any) -> ReaderService:
        """The ID-card reader service for ``[devices.idcard]`` (a photo decoder that cannot be
        loaded is logged and the service works without it; ``live``: its state is published for
        the heartbeat, see :mod:`content.live`)."""
        if live:
            on_event = self._live_reader(on_event)
        from idcard.errors import PhotoDecoderError
        from idcard.photo import load_decoder
        from idcard.service import ReaderService

        conf = self.settings.devices.idcard
        decoder = None
        if conf.photo_decoder:
            try:
                decoder = load_decoder(conf.photo_decoder)
            except PhotoDecoderError as exc:
                log.warning("photos will not be decoded: %s", exc)
        return ReaderService(conf.port, baud=conf.baud, poll_interval=conf.poll_interval_ms / 1000,
                             reply_timeout=conf.reply_timeout_s, on_event=on_event, photo_decoder=decoder, **kwargs)

    # -- the feed and the uplink ---------------------------------------------------------
    def sync_client(self, **overrides: Any) -> SyncClient:
        """The feed client (``overrides``: ``attempts``, ``backoff_s``, ``media``, ... for tests)."""
        hub, st = self.settings.hub, self.settings.station
        kwargs: dict[str, Any] = dict(
            feed_url=hub.feed_url, public_key=hub.public_key, station_id=st.id, region=st.region,
            db=self.db, data_dir=self.settings.data_dir, media=self.media, store=self.store,
            timeout_s=hub.timeout_s, feed_id=hub.feed_id, allow_insecure_http=hub.allow_insecure_http,
            ca_bundle=hub.ca_bundle, max_invalid_percent=hub.max_invalid_percent)
        kwargs.update(overrides)
        return SyncClient(**kwargs)

    def sender(self, **kwargs: Any) -> Sender:
        """The outbox's sender to ``hub.upload_url``."""
        hub = self.settings.hub
        return Sender(self.outbox, upload_url=hub.upload_url, token=hub.station_token, timeout_s=hub.timeout_s,
                      ca_bundle=hub.ca_bundle, retention_days=self.settings.privacy.retention_days,
                      station_id=self.settings.station.id, **kwargs)

    def feed_health(self, **kwargs: Any) -> FeedHealth:
        """The feed's expiry, refused records and missing media (``now``, ``check_media``)."""
        return feed_health(self.settings, **kwargs)

    def sync_status(self) -> dict[str, Any]:
        """What ``yizhan sync --status`` and the staff screen show."""
        return read_status(self.db, self.store, self.outbox, feed_url=self.settings.hub.feed_url,
                           pinned_feed_id=self.settings.hub.feed_id, health=self.feed_health())

    def health(self, live_devices: dict[str, Any] | None = None, *, fetch_date: DateFetcher = hub_date
               ) -> dict[str, Any]:
        """The heartbeat's health fields (``live_devices``: the caller's view of them, if it has one)."""
        return station_health(self.health_sources(), live_devices, fetch_date=fetch_date)

    def health_sources(self) -> HealthSources:
        settings = self.settings

        def live_devices() -> dict[str, dict[str, Any]]:
            """The devices as the running parts last saw them (the print service's last status,
            the reader's last answer); an enabled device no running part reports on says so."""
            from content.live import read as read_live

            result = read_live(settings.data_dir)
            devices = settings.devices
            for name, enabled, what in (("printer", devices.printer.enabled, "打印服务（yizhan print serve）"),
                                        ("idcard", devices.idcard.enabled, "自助机程序（yizhan kiosk）")):
                if enabled and name not in result:
                    result[name] = {"ok": False, "detail": f"没有运行中的{what}报告状态"}
                elif not enabled:
                    result.pop(name, None)
            return result

        return HealthSources(db_path=settings.db_path, data_dir=settings.data_dir, media_dir=settings.media_dir,
                             feed_url=settings.hub.feed_url, content_info=self.store.content_info,
                             devices=live_devices)

    def _live_printer(self, then: Callable[[Any], None] | None) -> Callable[[Any], None]:
        from content.live import publish

        data_dir = self.settings.data_dir

        def report(status: Any) -> None:
            publish(data_dir, "printer", ok=status.printable, detail=status.message, state=status.state.value)
            if then is not None:
                then(status)

        return report

    def _live_reader(self, then: Callable[[Any], None] | None) -> Callable[[Any], None]:
        from content.live import publish

        data_dir = self.settings.data_dir

        def report(event: Any) -> None:
            if event.kind == "reader_online":
                publish(data_dir, "idcard", ok=True, detail="读卡器应答正常")
            elif event.kind == "reader_offline":
                publish(data_dir, "idcard", ok=False, detail=f"读卡器断开：{event.reason}"[:200])
            elif event.kind == "reader_error":
                publish(data_dir, "idcard", ok=False, detail=event.message_zh)
            elif event.kind == "card_read":
                publish(data_dir, "idcard", ok=True, detail="读卡器应答正常")
            if then is not None:
                then(event)

        return report

    def queue_heartbeat(self, result: SyncResult | None = None, devices: dict[str, Any] | None = None) -> str:
        """Queue the station's heartbeat (``devices``: the caller's live view of them, if it has one)."""
        try:
            feed = self.feed_health().heartbeat()
        except Exception:
            log.exception("heartbeat: could not read the feed's health")
            feed = {}
        # The hub calls a station silent after three of its intervals without a heartbeat.
        fields = {**self.health(devices), "feed": feed, "sync_interval_s": self.settings.hub.sync_interval_s}
        if result is not None:
            fields.update(last_sync=result.status, last_sync_code=result.code)
        return queue_heartbeat(self.outbox, station_name=self.settings.station.name,
                               content_info=self.store.content_info, fields=fields)

    def care_client(self, **kwargs: Any) -> CareClient:
        """Remote care (:mod:`content.care`): settings records verified with the feed's trust,
        kept over this station's settings file (:mod:`config.remote_care`); logs from the journal."""
        from config.remote_care import apply_remote_settings
        from content.care import CareClient
        from content.media import http_session

        settings = self.settings
        hub = settings.hub

        def verify(data: bytes, signature: bytes) -> None:
            from content.trust_store import load_trust_state

            load_trust_state(settings.db_path, root_key=hub.public_key, feed_id=hub.feed_id).verify(
                data, signature, what="care settings signature")

        def apply(changes: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
            if settings.source is None:
                return [], {k: "本站没有设置文件" for k in changes}
            return apply_remote_settings(settings.source, changes, settings.data_dir)

        kwargs.setdefault("session", http_session(hub.ca_bundle))
        kwargs.setdefault("journal", journal_lines)
        return CareClient(upload_url=hub.upload_url, token=hub.station_token, station_id=settings.station.id,
                          data_dir=settings.data_dir, verify=verify, apply=apply, timeout_s=hub.timeout_s, **kwargs)

    def _heartbeat_and_care(self) -> Callable[[SyncResult | None, dict[str, Any] | None], object]:
        care = self.care_client() if self.settings.hub.upload_url else None

        def beat(result: SyncResult | None, devices: dict[str, Any] | None) -> object:
            key = self.queue_heartbeat(result, devices)
            if care is not None:
                try:
                    care.run_once()
                except Exception:
                    log.exception("remote care round failed")
            return key

        return beat

    def kiosk_runs_sync(self, units_dir: str = "/etc/systemd/system") -> bool:
        """Whether the kiosk runs its own sync loop (``kiosk.sync_loop``): never beside an
        enabled ``yizhan-sync.service``, which sends the station's one heartbeat."""
        from pathlib import Path

        choice = self.settings.kiosk.sync_loop
        if choice != "auto":
            return choice == "on"
        enabled = Path(units_dir) / "yizhan.target.wants" / "yizhan-sync.service"
        return not (enabled.is_symlink() or enabled.exists())

    def sync_loop(self, **kwargs: Any) -> SyncLoop:
        """The background loop: sync, heartbeat and delivery every ``hub.sync_interval_s``; after
        each feed round's heartbeat, one round of remote care (:meth:`care_client`)."""
        kwargs.setdefault("client", self.sync_client())
        kwargs.setdefault("sender", self.sender())
        kwargs.setdefault("interval_s", self.settings.hub.sync_interval_s)
        kwargs.setdefault("heartbeat", self._heartbeat_and_care())
        kwargs.setdefault("persisted", self.sync_status)
        return SyncLoop(**kwargs)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def journal_lines(lines: int) -> str:
    """The station's last ``lines`` journal lines (its yizhan units), for 收集日志."""
    import subprocess

    try:
        run = subprocess.run(["journalctl", "--no-pager", "-o", "short-iso", "-n", str(lines), "-u", "yizhan-*"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"读不到系统日志：{exc}"
    return run.stdout if run.returncode == 0 else f"读不到系统日志：{run.stderr.strip()[-300:]}"
