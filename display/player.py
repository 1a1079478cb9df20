"""The board player: a Kivy app that never goes blank.

Once a second (and whenever something happens: content arrives, a video ends, an urgent
notice opens) the player asks the playlist (display/schedule.py) what should be on screen.
If that is not what shows, it makes the segment ready first (display/segments.py) and
switches only when it is: a video counts as ready once its first picture is decoded, a
card once its text is rendered. Until then the current segment stays. What follows the
current segment is prepared ahead, so a switch happens in one frame.

Content is polled from the store every few seconds in the worker thread
(display/worker.py); a new version is loaded and its job rows rendered there, turned into
textures a few rows per frame, and put on the board when the jobs segment next starts.
Every showing is recorded as proof of play in the outbox.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.uix.widget import Widget

from config.fonts import find_cjk_font
from content.model import Announcement, Event, Policy
from content.sync import stale_notices
from deploy import watchdog
from display.art import (
    ItemArt,
    Painter,
    led_job_row,
    strip_job_item,
    strip_lines,
    ticker_lines,
    ticker_marquee,
    tv_job_row,
)
from display.board_content import (
    BoardContent,
    MediaChecker,
    board_announcements,
    load_board_content,
)
from display.driver import MotionDriver
from display.frames import FrameProbe
from display.layout import BoardGeometry, board_geometry
from display.motion import ScrollMotion
from display.profiles import LED_FONT_SIZES, Profile, led_font_px
from display.proof import Play, PlayBuffer
from display.reel import ReelItem, realize
from display.schedule import Clock as BoardClock
from display.schedule import Playlist, Slot, SystemClock, clock_is_plausible, default_schedule
from display.segments import Segment, VideoSegment
from display.sprites import Art, TextureBank, kivy_color
from display.textimg import FontBook, chunk_text, qr_image
from display.worker import Worker

log = logging.getLogger(__name__)

PREPARE_AHEAD_S = 10.0
REALIZE_ROWS_PER_FRAME = 8
MAX_SCREENSHOTS = 60


@dataclass
class Showing:
    segment: Segment
    started_wall: dt.datetime
    started_mono: float


def job_arts(painter: Painter, content: BoardContent, geo: BoardGeometry, *, paged: bool) -> list[ItemArt]:
    """The job rows of ``content`` as reel items for this board (worker thread)."""
    layout = painter.profile.layout
    if layout == "tv":
        return [tv_job_row(painter, row, geo.row_width) for row in content.jobs]
    if layout == "led-panel":
        return [led_job_row(painter, row, geo.row_width) for row in content.jobs]
    height = geo.list_zone[3]
    if paged:
        out: list[ItemArt] = []
        for row in content.jobs:
            text = f"{'今日零工 ' if row.gig_today else ''}{row.title} {row.salary} {row.employer} {row.meta}"
            out.extend(strip_lines(painter, text, height, geo.row_width, painter.profile.palette.text, row.id))
        return out
    return [strip_job_item(painter, row, height, spacing=max(24, height * 2)) for row in content.jobs]


class BoardApp(App):
    """The board. ``clock`` may be injected (tests); ``run_seconds`` stops it after that long."""

    def __init__(self, settings: Any, profile: Profile, *, clock: BoardClock | None = None, store: Any = None,
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
        self._own_store = store is None
        self.playlist = Playlist(default_schedule(), self.clock)
        self.content: BoardContent | None = None
        self.urgent: list[Announcement] = []
        self.notices: list[Announcement] = []
        self.showing: Showing | None = None
        self.prepared: dict[Slot, Segment] = {}
        self.interrupted: Segment | None = None
        self.plays: deque[Play] = deque(maxlen=1000)  # the latest showings (all go to the outbox)
        self.play_buffer = PlayBuffer(settings, profile=profile.name, monotonic=self.clock.monotonic)
        self.bad_videos: dict[str, str] = {}
        self.reported: set[tuple[str, str]] = set()
        self.screenshots: list[Path] = []
        self.probe = FrameProbe() if probe or screenshot_dir else None
        self.switches = 0
        self._content_seen: Any = None
        self._rows_pending: tuple[list[ReelItem], Any, set[str], int, int] | None = None
        self._rows_key: Any = None
        self._inflight_known: frozenset[str] = frozenset()
        self._realizing: Any = None
        self._side_turn = 0
        self._events: list[Any] = []
        self.checker = MediaChecker()
        self.worker: Worker | None = None
        self.running = False
        self._last_error_log = -1e9

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
        station = self.settings.station
        root = Widget(size=(self.geo.width, self.geo.height))
        if p.layout == "tv":
            from display.jobs_panel import JobsPanel
            from display.station_card import StationCard, register_cjk_font
            from display.tv_frame import TvFrame

            font_name = register_cjk_font(self.font_path)
            self.frame: Any = TvFrame(p, self.geo, station)
            self.jobs_panel: Any = JobsPanel(p, self.geo)
            url = self.settings.devices.board_screen.qr_url
            if url and self.geo.qr[2] > 0:
                self.jobs_panel.qr_image = qr_image(url, self.geo.qr[2], fg=(0, 0, 0), bg=(255, 255, 255))
            self.station_card: Any = StationCard.for_station(station, font_name=font_name)
            self.standby_card: Any = StationCard.for_station(station, font_name=font_name,
                                                            message="夜间休息　暂停播放")
            for card in (self.station_card, self.standby_card):
                card.size = (self.geo.width, self.geo.height)
                card.pos = (0, 0)
        else:
            from display.led_frame import LedFrame, LedReelPanel

            self.frame = LedFrame(p, self.geo, station)
            axis = "x" if (p.layout == "led-strip" and not self.paged) else "y"
            self.jobs_panel = LedReelPanel(self.geo.list_zone, axis)
            self.station_card = None
            self.standby_card = None
        root.add_widget(self.frame)
        self._set_ticker([])
        self._tick_clock_text(self.clock.now())
        return root

    def on_start(self) -> None:
        if self._store is None:
            from config.station import Station

            # The process's station database (proof of play shares its connections), and its store.
            self._store = Station(self.settings).store
        self.running = True
        self.worker = Worker(self._deliver)
        if self.probe is not None:
            self.probe.bind()
        self._events.append(Clock.schedule_interval(self.tick, self.tick_s))
        self._events.append(Clock.schedule_interval(lambda _dt: self.poll(), self.poll_s))
        self._events.extend(watchdog.attach(Clock))  # systemd: READY after the first frame, then alive
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
        if self.showing is not None:
            self._record(self.showing, "played")
            self.showing.segment.hide()
            if not self.showing.segment.persistent:
                self.showing.segment.release()
            self.showing = None
        for segment in list(self.prepared.values()):
            if not segment.persistent:
                segment.release()
        self.prepared = {}
        if self.interrupted is not None:
            self.interrupted.release()
            self.interrupted = None
        self.driver.stop()
        if self.probe is not None:
            self.probe.unbind()
        if self.worker is not None:
            self.worker.submit(self.play_buffer.flush)  # the last plays, before the worker ends
            self.worker.stop()
        else:
            self.play_buffer.flush()
        if self._own_store and self._store is not None:
            self._store.close()
        from kivy.core.window import Window

        Window.rotation = 0  # another app may use the same window next (tests, the demo)
        Window.show_cursor = True

    # -- content -------------------------------------------------------------------------

    @property
    def store(self) -> Any:
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
            for stale in [s for s, seg in self.prepared.items() if s.kind == "station" and not seg.persistent]:
                self.prepared.pop(stale)  # an LED station line made before the notices changed
        if urgent_changed:
            self.tick()

    def _load_job(self, now: dt.datetime, known: frozenset[str]) -> tuple[BoardContent, list[ItemArt]]:
        content = load_board_content(self._store, self.settings.media_dir, now=now, checker=self.checker,
                                     videos=self.profile.videos)
        self._painter.known = known
        arts = job_arts(self._painter, content, self.geo, paged=self.paged)
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
            self._report_media(problem.item_id, problem.reason, problem.detail)
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
            if not self._jobs_in_use():
                self._apply_rows()
            self.tick()
            return False

        self._realizing = Clock.schedule_interval(step, 0)

    def _jobs_in_use(self) -> bool:
        """The job list is on screen, or waits to resume after an urgent notice: keep its rows."""
        for segment in (self.showing.segment if self.showing else None, self.interrupted):
            if segment is not None and segment.item_kind == "jobs":
                return True
        return False

    def _apply_rows(self) -> None:
        if self._rows_pending is None:
            return
        items, key, keys, total, gigs = self._rows_pending
        self._rows_pending = None
        p = self.profile
        spec_speed = p.scroll_px_s * p.scale
        if p.layout == "tv":
            self.jobs_panel.set_jobs(items, total=total, gigs=gigs, key=key, paged=self.paged, speed=spec_speed,
                                     transition_s=p.transition_s)
        else:
            self.jobs_panel.set_items(items, key=key, paged=self.paged, speed=spec_speed,
                                      transition_s=p.transition_s)
        self._rows_key = key
        self.jobs_bank.retain(keys | self._inflight_known)

    def _set_ticker(self, texts: list[str]) -> None:
        if self.profile.layout != "tv":
            return
        station = self.settings.station
        if not texts:
            standing = f"欢迎来到{station.name}：免费提供求职登记、岗位推荐、政策咨询和技能培训报名"
            if station.opening_hours:
                standing += f"　服务时间 {station.opening_hours}"
            if station.hotline:
                standing += f"　服务热线 {station.hotline}"
            texts = [standing]
        if self.frame.set_ticker(texts) and self.showing is not None and not self.showing.segment.fullscreen:
            self.driver.set_reels(self._reels_for(self.showing.segment))

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
        """Decide what shows now; switch if it is ready; prepare what comes next.

        A failure here (a bug, a record the board cannot draw) must not take the picture
        away: it is logged (at most once a minute) and the current segment stays.
        """
        try:
            self._tick()
        except Exception:
            now = time.monotonic()
            if now - self._last_error_log > 60:
                self._last_error_log = now
                log.exception("the board could not change segment; keeping the current one")

    def _tick(self) -> None:
        now = self.clock.now()
        self._tick_clock_text(now)
        if self.content is None:
            # nothing loaded yet: the station card, outside the playlist (it has not started)
            if self.showing is None:
                startup = Slot("station", "startup", -1, -1, 0, 0.0)
                segment = self._station_segment(startup)
                self._switch(segment, start_playlist=False)
            return
        available = self.available()
        slot = self.playlist.wanted(available, tuple(a.id for a in self.urgent))
        current = self.showing.segment.slot if self.showing is not None else None
        if slot != current:
            segment = self._prepare(slot)
            if segment is not None and segment.failed:
                self._failed(segment)
                Clock.schedule_once(self.tick, 0)
                return
            if segment is not None and segment.ready:
                self._switch(segment)
        upcoming: Slot | None = None
        if self.showing is not None and self.showing.segment.slot.kind not in ("urgent", "standby"):
            upcoming = self.playlist.upcoming(available)
            left = self.playlist.remaining()
            own = self.showing.segment.time_left()
            if own is not None:
                left = min(left, own)
            if upcoming != self.showing.segment.slot and (upcoming.kind != "video" or left <= PREPARE_AHEAD_S):
                self._prepare(upcoming)
        keep = {slot, upcoming}
        for stale in [s for s in self.prepared if s not in keep]:
            segment = self.prepared.pop(stale)
            if segment is not self.interrupted and not segment.persistent:
                segment.release()

    def _tick_clock_text(self, now: dt.datetime) -> None:
        from display.widgets import date_text

        # an unset clock would show a wrong time and date to every passer-by: show none
        plausible = clock_is_plausible(now)
        self.frame.time_text = f"{now:%H:%M}" if plausible else ""
        self.frame.date_text = date_text(now) if plausible else ""

    # -- preparing -----------------------------------------------------------------------

    def _prepare(self, slot: Slot) -> Segment | None:
        segment = self.prepared.get(slot)
        if segment is not None:
            return segment
        if self.interrupted is not None and self.interrupted.slot == slot:
            return self.interrupted
        segment = self._make(slot)
        if segment is not None:
            self.prepared[slot] = segment
        return segment

    def _make(self, slot: Slot) -> Segment | None:
        kind = slot.kind
        content = self.content
        if kind == "jobs":
            if self._rows_key is None and self._rows_pending is None:
                return None
            segment = Segment(slot, self.jobs_panel, item_kind="jobs", item_id="jobs", persistent=True,
                              reels=[self.jobs_panel.reel], title=slot.spec.title if slot.spec else "")
            segment.on_show = self._show_jobs
            return segment
        if kind in ("policy", "event") and content is not None:
            items: list[Any] = content.policies if kind == "policy" else content.events
            if not items:
                return None
            item = items[slot.item % len(items)]
            return self._card_segment(slot, item)
        if kind == "video" and content is not None:
            videos = self._videos()
            if not videos:
                return None
            return self._video_segment(slot, videos[slot.item % len(videos)])
        if kind == "urgent":
            notices = [a for a in self.urgent if a.id in slot.announcements]
            if not notices:
                return None
            return self._urgent_segment(slot, notices)
        if kind in ("station", "standby"):
            return self._station_segment(slot)
        return None

    def _card_segment(self, slot: Slot, item: Policy | Event) -> Segment:
        kind = "policy" if isinstance(item, Policy) else "event"
        if self.profile.layout == "tv":
            from display.card_panel import CardPanel

            return Segment(slot, CardPanel(self.profile, self.geo, item), item_kind=kind, item_id=item.id,
                           title=item.title)
        from display.card_panel import card_blocks

        tag, title, blocks = card_blocks(item)
        color = self.profile.palette.muted if isinstance(item, Policy) else self.profile.palette.accent
        if self.profile.layout == "led-panel":
            # A panel has room for the whole card, paged: each block on its own lines
            # (a bare title and summary used only the top half of it).
            short_tag = "政策" if isinstance(item, Policy) else tag
            paragraphs = [f"【{short_tag}】{title}"] + [f"{label}：{text}" if label else text
                                                         for label, text in blocks]
            return self._led_text_segment(slot, paragraphs, color, kind, item.id)
        if isinstance(item, Policy):
            text = f"【政策】{item.title}：{item.summary or item.body}"
        else:
            from display.board_content import event_when

            text = f"【{item.event_kind}】{item.title} {event_when(item)} {item.place}"
        return self._led_text_segment(slot, text, color, kind, item.id)

    def _led_text_segment(self, slot: Slot, text: str | list[str], color: tuple[int, int, int], kind: str,
                          item_id: str, *, fullscreen: bool = False) -> Segment:
        from display.led_frame import LedReelPanel

        paragraphs = [line for para in ([text] if isinstance(text, str) else text) for line in para.split("\n")
                      if line.strip()]
        text = "\n".join(paragraphs)

        p = self.profile
        geo = self.geo
        zone = (0, 0, geo.width, geo.height) if fullscreen else geo.list_zone
        painter = Painter(self.book, p)
        marquee = p.layout == "led-strip" and not self.paged
        line = zone[3] if p.layout == "led-strip" else p.title_px + 2
        px = led_font_px(line)
        if fullscreen and not marquee:
            # an urgent notice on a panel: the largest LED type at which it fits the panel
            for size in reversed(LED_FONT_SIZES):
                if size <= p.title_px:
                    px = size
                    break
                lines = len(chunk_text(self.book, text, size, zone[2]))
                if lines * (size + 2) <= zone[3]:
                    px = size
                    break
            line = px + 2
        if marquee:
            arts = ticker_marquee(painter, [text], px, zone[3], color, p.palette.background, spacing=zone[2])
        else:
            arts = ticker_lines(painter, paragraphs, px, zone[2], line, color, p.palette.background)
        bank = TextureBank()
        panel = LedReelPanel(zone, "x" if marquee else "y")
        panel.set_items(realize(arts, bank), key=text, paged=not marquee, speed=p.scroll_px_s,
                        transition_s=p.transition_s)
        panel.bank = bank
        return Segment(slot, panel, item_kind=kind, item_id=item_id, reels=[panel.reel], fullscreen=fullscreen,
                       title=text[:20])

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
            if self.showing is not None and self.showing.segment is segment:
                self.playlist.finish()
                self.tick()

        panel = VideoPanel(self.profile, self.geo, video.path, video.course.title, on_ready=ready,
                           on_failed=failed, on_finished=finished)
        segment = VideoSegment(slot, panel, item_id=video.id, title=video.course.title,
                               duration_s=float(video.course.duration_s))
        holder["segment"] = segment
        return segment

    def _urgent_segment(self, slot: Slot, notices: list[Announcement]) -> Segment:
        ids = ",".join(a.id for a in notices)
        if self.profile.layout == "tv":
            from display.urgent_screen import UrgentScreen

            screen = UrgentScreen(self.profile, (self.geo.width, self.geo.height), notices, self.settings.station)
            return Segment(slot, screen, item_kind="urgent", item_id=ids, fullscreen=True)
        text = "【紧急通知】" + "　".join(a.text for a in notices)
        return self._led_text_segment(slot, text, self.profile.palette.urgent_text, "urgent", ids,
                                      fullscreen=True)

    def _station_segment(self, slot: Slot) -> Segment:
        station = self.settings.station
        kind = slot.kind
        if self.station_card is not None:
            card = self.standby_card if kind == "standby" else self.station_card
            return Segment(slot, card, item_kind=kind, item_id=station.id, fullscreen=True, persistent=True)
        parts = [station.name]
        if kind == "standby":
            parts.append("夜间休息 暂停播放")
        if station.hotline:
            parts.append(f"服务热线 {station.hotline}")
        if station.opening_hours:
            parts.append(f"服务时间 {station.opening_hours}")
        if station.address and kind != "standby":
            parts.append(station.address)
        if kind == "station":
            # an LED board has no ticker: its notices run with the station's details
            parts.extend(f"通知：{a.text}" for a in self.notices)
        return self._led_text_segment(slot, "　".join(parts), self.profile.palette.text, kind, station.id)

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
        if self.profile.layout == "tv" and self.content is not None:
            side: list[Any] = list(self.content.policies) + list(self.content.events)
            item = side[self._side_turn % len(side)] if side else None
            self._side_turn += 1
            self.jobs_panel.set_side(item)
        segment.reels = [self.jobs_panel.reel]

    # -- switching -----------------------------------------------------------------------

    def _reels_for(self, segment: Segment) -> list[Any]:
        reels = list(segment.reels)
        if self.profile.layout == "tv" and not segment.fullscreen:
            reels.append(self.frame.ticker)
        return reels

    def _switch(self, segment: Segment, *, start_playlist: bool = True) -> None:
        previous = self.showing
        if previous is not None:
            interrupting = segment.slot.kind == "urgent" and previous.segment.slot.kind not in ("urgent", "standby")
            self._record(previous, "interrupted" if interrupting else "played")
            previous.segment.hide()
            if interrupting:
                self.interrupted = previous.segment
            elif previous.segment is not segment and not previous.segment.persistent \
                    and previous.segment is not self.interrupted:
                previous.segment.release()
        resuming = segment is self.interrupted
        if resuming:
            self.interrupted = None
        elif self.interrupted is not None and segment.slot.kind != "urgent":
            # the playlist moved on (the night came first): the interrupted segment will not return
            if not self.interrupted.persistent:
                self.interrupted.release()
            self.interrupted = None
        self.prepared.pop(segment.slot, None)
        self._attach(segment)
        segment.resuming = resuming
        segment.show()
        self.driver.set_reels(self._reels_for(segment))
        if start_playlist:
            self.playlist.start(segment.slot)
        self.showing = Showing(segment, self.clock.now(), self.clock.monotonic())
        self.switches += 1
        if self.probe is not None:
            self.probe.arm(f"{self.switches}:{segment.item_kind}:{segment.item_id}")
        # what the previous segment freed (a video's decoder, a card's textures) goes back to the system
        Clock.schedule_once(lambda _dt: release_freed_memory(), 0.5)
        if self.screenshot_dir is not None and len(self.screenshots) < MAX_SCREENSHOTS:
            number = self.switches
            Clock.schedule_once(lambda _dt: self._screenshot(segment, number), 1.2)

    def _attach(self, segment: Segment) -> None:
        root = self.root
        keep = segment.widget if segment.fullscreen else self.frame
        for child in list(root.children):
            if child is not keep:
                root.remove_widget(child)
        if keep.parent is not root:
            if keep.parent is not None:
                keep.parent.remove_widget(keep)
            root.add_widget(keep)
        if not segment.fullscreen:
            self.frame.set_body(segment.widget)

    def _screenshot(self, segment: Segment, number: int) -> None:
        if self.showing is None or self.showing.segment is not segment or self.probe is None:
            return
        name = f"{len(self.screenshots) + 1:02d}-{self.profile.name}-{segment.item_kind}.png"
        path = self.screenshot_dir / name  # type: ignore[operator]
        self.screenshots.append(path)
        self.probe.capture(path, self.profile.rotation, done=self._pictured)

    def _pictured(self, _path: Path) -> None:
        if self.run_segments is not None and len(self.screenshots) >= self.run_segments:
            Clock.schedule_once(lambda _dt: self.stop(), 0)

    # -- reporting -----------------------------------------------------------------------

    def _record(self, showing: Showing, status: str, *, reason: str = "") -> None:
        segment = showing.segment
        duration = max(0.0, self.clock.monotonic() - showing.started_mono)
        extra: dict[str, Any] = {}
        if segment.title:
            extra["title"] = segment.title
        if segment.item_kind == "jobs":
            extra["jobs"] = len(self.jobs_panel.reel.items)
        play = Play(segment.item_kind, segment.item_id, showing.started_wall, duration,
                    segment=segment.slot.segment_id, status=status, reason=reason, extra=extra)
        self._submit_play(play)

    def _submit_play(self, play: Play) -> None:
        self.plays.append(play)
        version = self.content.version if self.content is not None else 0
        if self.play_buffer.add(play, content_version=version) and self.worker is not None:
            self.worker.submit(self.play_buffer.flush, tag="plays")

    def _failed(self, segment: Segment) -> None:
        """A segment could not be made ready (a video that will not decode): skip it, report it."""
        self.prepared.pop(segment.slot, None)
        segment.release()
        if segment.item_kind == "video":
            self.bad_videos[segment.item_id] = segment.failed
            self.checker.forget(Path(getattr(segment.widget, "path", "")))
        self._report_media(segment.item_id, segment.failed, f"{segment.item_kind} {segment.item_id} skipped")

    def _report_media(self, item_id: str, reason: str, detail: str) -> None:
        if (item_id, reason) in self.reported:
            return
        self.reported.add((item_id, reason))
        log.warning("skipping video %s: %s (%s)", item_id, reason, detail)
        self._submit_play(Play("video", item_id, self.clock.now(), 0.0, status="skipped", reason=reason,
                               extra={"detail": detail}))


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


def run_board(settings: Any, profile: Profile, **kwargs: Any) -> BoardApp:
    """Run the board until it stops (``run_seconds``, window closed); returns the app for inspection."""
    app = BoardApp(settings, profile, **kwargs)
    app.run()
    return app

