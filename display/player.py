"""The board player: the Kivy app that joins the store, the director and the surface.

What plays when is the director's (display/director.py, no Kivy); how a TV or an LED
board draws it is its surface's (display/tv_surface.py, display/led_surface.py). The app
feeds them: once a second (and whenever something happens: content arrives, a video ends,
an urgent notice opens) it asks the director to decide; segments are made by the surface
and shown only when ready, so the board never goes blank.

Content is polled from the store every few seconds in the worker thread
(display/worker.py); a new version is loaded and its job rows rendered there, turned into
textures a few rows per frame, and put on the board when the jobs segment next starts.
Every showing is recorded as proof of play in the outbox.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.uix.widget import Widget

from common.fonts import find_cjk_font
from content.feed_client import stale_notices
from content.store import Store
from display.art import ItemArt, Painter
from display.board_content import BoardContent, MediaChecker, board_announcements, load_board_content
from display.director import Director, Showing
from display.driver import MotionDriver
from display.frames import FrameProbe
from display.layout import board_geometry
from display.motion import ScrollMotion
from display.profiles import Profile
from display.proof import Play, PlayBuffer
from display.reel import ReelItem, realize
from display.schedule import Clock as BoardClock
from display.schedule import Playlist, Slot, SystemClock, clock_is_plausible, default_schedule
from display.segments import Segment, VideoSegment
from display.sprites import Art, TextureBank, kivy_color
from display.surface import Surface
from display.surfaces import surface_for
from display.textimg import FontBook
from display.worker import Worker
from protocol.model import Announcement

log = logging.getLogger(__name__)

REALIZE_ROWS_PER_FRAME = 8
MAX_SCREENSHOTS = 60


class BoardApp(App):
    """The board, handed its parts by the entry point (``config.faces.board_app``): ``store`` (the
    station's content; its owner closes it), ``watchdog`` (what tells systemd the board is alive: it
    schedules its pings on the clock it is given and returns the events) and ``on_exit`` (called
    last when the board stops: the entry point closes its Station). ``clock`` may be injected
    (tests); ``run_seconds`` stops it after that long."""

    def __init__(self, settings: Any, profile: Profile, *, store: Store, clock: BoardClock | None = None,
                 watchdog: Callable[[Any], list[Any]] | None = None, on_exit: Callable[[], None] | None = None,
                 screenshot_dir: Path | None = None, run_seconds: float | None = None, poll_s: float = 2.0,
                 tick_s: float = 1.0, probe: bool = False, run_segments: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.profile = profile
        self.clock = clock or SystemClock()
        self.title = f"{settings.station.name} · 岗位信息屏"
        self.font_path = find_cjk_font(settings.ui.font)
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir else None
        self.run_seconds = run_seconds
        self.run_segments = run_segments  # stop once this many segments were shown (and pictured)
        self.poll_s = poll_s
        self.tick_s = tick_s
        self.paged = profile.motion == "paged"
        self._store = store
        self._watchdog = watchdog
        self._on_exit = on_exit
        self.director = Director(self, self.clock, record=self._submit_play, schedule=default_schedule(),
                                 soon=lambda: Clock.schedule_once(self.tick, 0))
        self.content: BoardContent | None = None
        self.urgent: list[Announcement] = []
        self.notices: list[Announcement] = []
        self.play_buffer = PlayBuffer(settings, profile=profile.name, monotonic=self.clock.monotonic)
        self.bad_videos: dict[str, str] = {}
        self.screenshots: list[Path] = []
        self.probe = FrameProbe() if probe or screenshot_dir else None
        self.surface: Surface | None = None
        self.presenter: Any = None
        self._content_seen: Any = None
        self._rows_pending: tuple[list[ReelItem], Any, set[str], int, int] | None = None
        self._rows_key: Any = None
        self._inflight_known: frozenset[str] = frozenset()
        self._realizing: Any = None
        self._events: list[Any] = []
        self.checker = MediaChecker()
        self.worker: Worker | None = None
        self.running = False
        self._last_error_log = -1e9

    # -- what the tests, the benchmark and the CLI look at ---------------------------------

    @property
    def playlist(self) -> Playlist:
        return self.director.playlist

    @property
    def showing(self) -> Showing | None:
        return self.director.showing

    @property
    def plays(self) -> deque[Play]:
        return self.director.plays

    @property
    def switches(self) -> int:
        return self.director.switches

    @property
    def frame(self) -> Any:
        return self.surface.frame if self.surface is not None else None

    @property
    def jobs_panel(self) -> Any:
        return self.surface.jobs_panel if self.surface is not None else None

    @property
    def station_card(self) -> Any:
        return self.surface.station_card if self.surface is not None else None

    @property
    def standby_card(self) -> Any:
        return self.surface.standby_card if self.surface is not None else None

    # -- set-up --------------------------------------------------------------------------

    def build(self) -> Widget:
        from kivy.core.window import Window

        p = self.profile
        Window.rotation = p.rotation
        if tuple(Window.system_size) != (p.width, p.height):
            Window.system_size = (p.width, p.height)
        Window.clearcolor = kivy_color(p.palette.background)
        Window.show_cursor = False
        Art.configure(str(self.font_path), antialias=p.antialias)
        self.book: FontBook = Art.fonts()
        self._painter = Painter(self.book, p)  # the worker's: remembers what it rendered
        width, height = (int(v) for v in Window.size)
        self.geo = board_geometry(self.book, p, paged=self.paged)
        if (self.geo.width, self.geo.height) != (width, height):
            log.warning("window is %dx%d, the profile expects %dx%d", width, height, self.geo.width,
                        self.geo.height)
        self.driver = MotionDriver(p.max_fps, p.page_s, scroll_fps=p.scroll_fps)
        self.jobs_bank = TextureBank()
        self.surface = surface_for(p, self.geo, self.book, self.settings.station, paged=self.paged,
                                   font_path=self.font_path, qr_url=self.settings.devices.board_screen.qr_url)
        root = Widget(size=(self.geo.width, self.geo.height))
        root.add_widget(self.surface.frame)
        self._set_ticker([])
        self._tick_clock_text(self.clock.now())
        return root

    def on_start(self) -> None:
        self.running = True
        self.worker = Worker(self._deliver)
        if self.probe is not None:
            self.probe.bind()
        from kivy.core.window import Window

        from display.present import Presenter

        self.presenter = Presenter.install(Window)
        self.driver.presenter = self.presenter
        # Everything made so far (Kivy, the frame, the panels, the cards) lives as long as the board:
        # out of the cyclic collector's way. Its collections walked these objects again and again,
        # ~10 % of a scrolling frame's CPU. Content loaded later is collected as usual.
        gc.freeze()
        self._events.append(Clock.schedule_interval(self.tick, self.tick_s))
        self._events.append(Clock.schedule_interval(lambda _dt: self.poll(), self.poll_s))
        if self._watchdog is not None:
            self._events.extend(self._watchdog(Clock))  # systemd: READY after the first frame, then alive
        self.poll()
        self.tick()
        if self.run_seconds:
            self._events.append(Clock.schedule_once(lambda _dt: self.stop(), self.run_seconds))

    def _deliver(self, fn: Any) -> None:
        """Run a worker result on the main thread, unless the board has stopped meanwhile."""
        Clock.schedule_once(lambda _dt: fn() if self.running else None, 0)

    def on_stop(self) -> None:
        self.running = False
        for event in self._events:
            event.cancel()
        self._events = []
        if self._realizing is not None:
            self._realizing.cancel()
            self._realizing = None
        self.director.stop()
        self.driver.stop()
        if self.presenter is not None:
            self.presenter.uninstall()
            self.presenter = None
            self.driver.presenter = None
        if self.probe is not None:
            self.probe.unbind()
        if self.worker is not None:
            self.worker.submit(self.play_buffer.flush)  # the last plays, before the worker ends
            self.worker.stop()
        else:
            self.play_buffer.flush()
        from kivy.core.window import Window

        gc.unfreeze()  # another app may run in this process next (tests, the demo)
        Window.rotation = 0  # another app may use the same window next (tests, the demo)
        Window.show_cursor = True
        if self._on_exit is not None:
            self._on_exit()

    # -- content -------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self._store

    def poll(self) -> None:
        """Ask the worker for the content version and the announcements open now."""
        if self.worker is None:
            return
        self.worker.submit(self._poll_job, self.clock.now(), done=self._polled, tag="poll")

    def _poll_job(self, now: dt.datetime) -> tuple[Any, list[Announcement], list[Announcement]]:
        info = self._store.content_info()
        urgent, normal = board_announcements(self._store, now)
        normal = [*stale_notices(self.settings, now), *normal]  # "信息可能已过期" once the feed is stale
        return info, urgent, normal

    def _polled(self, result: tuple[Any, list[Announcement], list[Announcement]]) -> None:
        info, urgent, normal = result
        key = (info.feed_id, info.version, info.applied_at)
        if key != self._content_seen and self.worker is not None and not self.worker.busy("load"):
            self._content_seen = key
            # the worker skips rendering sprites the bank holds: keep them until this load is in
            self._inflight_known = self.jobs_bank.keys()
            self.worker.submit(self._load_job, self.clock.now(), self._inflight_known, done=self._loaded,
                               error=self._load_failed, tag="load")
        urgent_changed = [a.id for a in urgent] != [a.id for a in self.urgent]
        self.urgent = urgent
        if [a.id for a in normal] != [a.id for a in self.notices]:
            self.notices = normal
            self._set_ticker([a.text for a in normal])
            self.director.forget_prepared("station")  # an LED station line made before the notices changed
        if urgent_changed:
            self.tick()

    def _load_job(self, now: dt.datetime, known: frozenset[str]) -> tuple[BoardContent, list[ItemArt]]:
        assert self.surface is not None
        content = load_board_content(self._store, self.settings.media_dir, now=now, checker=self.checker,
                                     videos=self.profile.videos)
        self._painter.known = known
        arts = self.surface.job_arts(self._painter, content)
        self._painter.retain(set().union(*(a.keys() for a in arts)) if arts else set())
        return content, arts

    def _load_failed(self, exc: BaseException) -> None:
        self._content_seen = None  # try again at the next poll
        self._inflight_known = frozenset()

    def _loaded(self, result: tuple[BoardContent, list[ItemArt]]) -> None:
        content, arts = result
        if self.content is None or self.content.key != content.key:
            self.bad_videos = {}
        self.content = content
        for problem in content.media_problems:
            self.director.report_media(problem.item_id, problem.reason, problem.detail)
        if content.schedule_error:
            log.warning("the feed's board schedule is not usable, playing the local one: %s",
                        content.schedule_error.splitlines()[0])
        self.playlist.set_schedule(content.schedule)
        self._start_realizing(arts, content)
        self.tick()

    def _start_realizing(self, arts: list[ItemArt], content: BoardContent) -> None:
        if self._realizing is not None:
            self._realizing.cancel()
        items: list[ReelItem] = []
        keys: set[str] = set()
        for art in arts:
            keys |= art.keys()
        gigs = sum(1 for row in content.jobs if row.gig_today)
        position = [0]

        def step(_dt: float) -> bool | None:
            chunk = arts[position[0]:position[0] + REALIZE_ROWS_PER_FRAME]
            items.extend(realize(chunk, self.jobs_bank))
            position[0] += len(chunk)
            if position[0] < len(arts):
                return None
            self._realizing = None
            self._inflight_known = frozenset()
            self._rows_pending = (items, content.key, keys, content.job_total,
                                  content.counts.gigs_today if content.counts is not None else gigs)
            release_freed_memory()
            if not self.director.in_use("jobs"):
                self._apply_rows()
            self.tick()
            return False

        self._realizing = Clock.schedule_interval(step, 0)

    def _apply_rows(self) -> None:
        if self._rows_pending is None or self.surface is None:
            return
        items, key, keys, total, gigs = self._rows_pending
        self._rows_pending = None
        p = self.profile
        self.surface.apply_rows(items, key=key, total=total, gigs=gigs, speed=p.scroll_px_s * p.scale)
        self._rows_key = key
        self.jobs_bank.retain(keys | self._inflight_known)

    def _set_ticker(self, texts: list[str]) -> None:
        if self.surface is None or not self.surface.set_ticker(texts):
            return
        showing = self.director.showing
        if showing is not None and not showing.segment.fullscreen:
            self.driver.set_reels(self.surface.reels_for(showing.segment))

    # -- deciding ------------------------------------------------------------------------

    def available(self) -> dict[str, int]:
        """How many items of each kind the playlist may show now."""
        if self.content is None:
            return {"station": 1}
        have = self.content.available(videos=self.profile.videos)
        have["video"] = len(self._videos()) if self.profile.videos else 0
        return have

    def _videos(self) -> list[Any]:
        if self.content is None:
            return []
        return [v for v in self.content.videos if v.id not in self.bad_videos]

    def tick(self, *_args: Any) -> None:
        """Let the director decide what shows now (see display/director.py).

        A failure here (a bug, a record the board cannot draw) must not take the picture
        away: it is logged (at most once a minute) and the current segment stays.
        """
        try:
            self._tick_clock_text(self.clock.now())
            available = self.available() if self.content is not None else None
            self.director.tick(available, tuple(a.id for a in self.urgent))
        except Exception:
            now = time.monotonic()
            if now - self._last_error_log > 60:
                self._last_error_log = now
                log.exception("the board could not change segment; keeping the current one")

    def _tick_clock_text(self, now: dt.datetime) -> None:
        from display.widgets import date_text

        # an unset clock would show a wrong time and date to every passer-by: show none
        plausible = clock_is_plausible(now)
        if self.surface is not None:
            self.surface.set_clock(f"{now:%H:%M}" if plausible else "", date_text(now) if plausible else "")

    # -- the director's stage: making segments, putting them on screen --------------------

    def make(self, slot: Slot) -> Segment | None:
        """A segment for ``slot`` (None: nothing to show for it yet)."""
        surface = self.surface
        assert surface is not None
        kind = slot.kind
        content = self.content
        if kind == "jobs":
            if self._rows_key is None and self._rows_pending is None:
                return None
            segment = surface.jobs_segment(slot)
            segment.on_show = self._show_jobs
            return segment
        if kind in ("policy", "event") and content is not None:
            items: list[Any] = content.policies if kind == "policy" else content.events
            if not items:
                return None
            return surface.card_segment(slot, items[slot.item % len(items)])
        if kind == "video" and content is not None:
            videos = self._videos()
            if not videos:
                return None
            return self._video_segment(slot, videos[slot.item % len(videos)])
        if kind == "urgent":
            notices = [a for a in self.urgent if a.id in slot.announcements]
            if not notices:
                return None
            return surface.urgent_segment(slot, notices)
        if kind in ("station", "standby"):
            return surface.station_segment(slot, self.notices)
        return None

    def attach(self, segment: Segment) -> None:
        assert self.surface is not None
        self.surface.attach(self.root, segment)

    def started(self, segment: Segment) -> None:
        assert self.surface is not None
        self.driver.set_reels(self.surface.reels_for(segment))
        if self.probe is not None:
            self.probe.arm(f"{self.switches}:{segment.item_kind}:{segment.item_id}")
        # what the previous segment freed (a video's decoder, a card's textures) goes back to the system
        Clock.schedule_once(lambda _dt: release_freed_memory(), 0.5)
        if self.screenshot_dir is not None and len(self.screenshots) < MAX_SCREENSHOTS:
            number = self.switches
            Clock.schedule_once(lambda _dt: self._screenshot(segment, number), 1.2)

    def failed(self, segment: Segment) -> None:
        if segment.item_kind == "video":
            self.bad_videos[segment.item_id] = segment.failed
            self.checker.forget(Path(getattr(segment.widget, "path", "")))

    def _video_segment(self, slot: Slot, video: Any) -> Segment:
        from display.video_panel import VideoPanel

        holder: dict[str, VideoSegment] = {}

        def ready(_panel: Any) -> None:
            segment = holder.get("segment")
            if segment is not None:
                segment.ready = True
                self.tick()

        def failed(_panel: Any, reason: str) -> None:
            segment = holder.get("segment")
            if segment is not None:
                segment.failed = reason
                segment.ready = False
                self.tick()

        def finished(_panel: Any) -> None:
            segment = holder.get("segment")
            if segment is not None:
                self.director.finished(segment)
                self.tick()

        panel = VideoPanel(self.profile, self.geo, video.path, video.course.title, on_ready=ready,
                           on_failed=failed, on_finished=finished)
        segment = VideoSegment(slot, panel, item_id=video.id, title=video.course.title,
                               duration_s=float(video.course.duration_s))
        holder["segment"] = segment
        return segment

    def _show_jobs(self, segment: Segment) -> None:
        if segment.resuming:
            return  # back after an urgent notice: the same page, the same side card
        if self._rows_pending is not None:
            self._apply_rows()
        p = self.profile
        spec = segment.slot.spec
        self.driver.page_s = spec.page_s if spec is not None and spec.page_s else p.page_s
        motion = self.jobs_panel.reel.motion
        if isinstance(motion, ScrollMotion):
            px_s = spec.scroll_px_s if spec is not None and spec.scroll_px_s else p.scroll_px_s
            motion.speed = px_s * p.scale
        assert self.surface is not None
        self.surface.show_jobs(segment, self.content)
        segment.extra["jobs"] = len(self.jobs_panel.reel.items)

    def _screenshot(self, segment: Segment, number: int) -> None:
        showing = self.director.showing
        if showing is None or showing.segment is not segment or self.probe is None:
            return
        name = f"{len(self.screenshots) + 1:02d}-{self.profile.name}-{segment.item_kind}.png"
        path = self.screenshot_dir / name  # type: ignore[operator]
        self.screenshots.append(path)
        self.probe.capture(path, self.profile.rotation, done=self._pictured)

    def _pictured(self, _path: Path) -> None:
        if self.run_segments is not None and len(self.screenshots) >= self.run_segments:
            Clock.schedule_once(lambda _dt: self.stop(), 0)

    # -- reporting -----------------------------------------------------------------------

    def _submit_play(self, play: Play) -> None:
        version = self.content.version if self.content is not None else 0
        if self.play_buffer.add(play, content_version=version) and self.worker is not None:
            self.worker.submit(self.play_buffer.flush, tag="plays")


def release_freed_memory() -> None:
    """Give freed memory back to the system (glibc only): after a segment change, after a big upload.

    Decoder threads and the worker thread allocate in their own malloc arenas, which keep
    freed blocks otherwise; a board that runs for months would slowly grow.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
