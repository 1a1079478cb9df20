"""The kiosk application: screens, navigation, the resident's visit, device events, idle reset.

:class:`KioskApp` is thin: content comes from ``content.store``, cards from the ``idcard``
reader service, slips go to the ``printer`` queue, registrations to ``content``'s outbox
(all gathered in :class:`kiosk.services.Services`). Device callbacks arrive on their own
threads and are moved onto Kivy's clock before anything on screen changes.

Call :func:`kiosk.boot.prepare` before importing this module (the CLI, the demo driver and
the tests do): Kivy fixes the window's configuration when it is first imported.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.animation import Animation
from kivy.app import App
from kivy.base import ExceptionManager
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import ScreenManager, ScreenManagerException
from kivy.uix.widget import Widget

from kiosk import boot
from kiosk.errors import KioskExceptionHandler
from kiosk.idle import IdleClock
from kiosk.screens import SCREENS
from kiosk.services import Services
from kiosk.session import Resident, Session
from kiosk.status import (
    READER_READY,
    card_problem,
    content_age_text,
    offline_text,
    printer_message,
    reader_message,
)
from kiosk.style import Theme
from kiosk.tts import ReadAloud
from kiosk.visit import AttractReel, IdleStep, RatingAsk, Visit, at_rest, idle_step
from kiosk.widgets import common as _common  # noqa: F401 - registers the shared widget rules
from kiosk.widgets import keyboard as _keyboard  # noqa: F401
from kiosk.widgets import keypad as _keypad  # noqa: F401
from kiosk.widgets import load_kv
from kiosk.widgets import pictos as _pictos  # noqa: F401 - Pictogram, CardHint

log = logging.getLogger("kiosk")
HERE = Path(__file__).parent
WEEKDAYS = "一二三四五六日"
STAFF_TAPS = 5  # taps on the station name within STAFF_TAP_WINDOW_S open the staff PIN screen
STAFF_TAP_WINDOW_S = 4.0
ATTRACT_PERIOD_S = 6.0
BANNER_QUIET_S = 3.0  # a banner that comes or goes waits for this long without a touch (apply_banners)
# Built while the kiosk waits, a moment after its home screen is up (the others when first shown):
# the first tap on 找工作 and the first card read find their page ready.
BUILT_EARLY = ("jobs", "resident", "job")
BUILD_EARLY_AFTER_S = 1.0
RATING_SHOWN_S = 30.0  # 好差评 closes by itself: it never stands between the next resident and the kiosk
RATING_PROMPT = "请您为这次服务评价：非常满意，满意，基本满意，不满意，非常不满意。点一下就可以，也可以跳过。"


READER_PLACES = {"below": "屏幕下方", "right": "屏幕右边", "left": "屏幕左边"}

PinCheck = Callable[[str], bool]  # the PIN typed -> whether it is the staff PIN
Watchdog = Callable[[Any], list[Any]]  # Kivy's Clock -> the scheduled events (cancelled on stop)


class StaffCorner(Label):
    """The station name in the top bar; five quick taps open the staff PIN screen (hidden gesture)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._taps: list[float] = []

    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        now = Clock.get_time()
        self._taps = [t for t in self._taps if now - t < STAFF_TAP_WINDOW_S] + [now]
        if len(self._taps) >= STAFF_TAPS:
            self._taps = []
            App.get_running_app().open_staff()
        return True


class CountdownOverlay(FloatLayout):
    """The idle countdown with 继续; while shown it takes every touch (any touch means 'still here')."""

    active = BooleanProperty(False)
    seconds = NumericProperty(0)

    def on_touch_down(self, touch: Any) -> bool:
        if not self.active:
            return False
        if not super().on_touch_down(touch):
            App.get_running_app().keep_going()
        return True

    def on_touch_move(self, touch: Any) -> bool:
        return self.active and super().on_touch_move(touch)

    def on_touch_up(self, touch: Any) -> bool:
        return self.active and (super().on_touch_up(touch) or True)


class AttractOverlay(FloatLayout):
    """Featured jobs cycling on the idle home screen; any touch dismisses it."""

    active = BooleanProperty(False)
    headline = StringProperty("推荐岗位")
    job_title = StringProperty("")
    job_lines = StringProperty("")

    def on_touch_down(self, touch: Any) -> bool:
        if not self.active:
            return False
        App.get_running_app().stop_attract()
        return True

    def on_touch_move(self, touch: Any) -> bool:
        return self.active

    def on_touch_up(self, touch: Any) -> bool:
        return self.active


class FaceButton(ButtonBehavior, BoxLayout):
    """One of the five 好差评 faces: a drawn face (smile to frown) with its word under it."""

    level = StringProperty("")
    score = NumericProperty(3)


class Face(Widget):
    """A face drawn on the canvas; ``score`` 5 smiles widely, 3 is straight, 1 frowns."""

    score = NumericProperty(3)
    mouth = ListProperty([])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._shape, size=self._shape, score=self._shape)

    def _shape(self, *_: Any) -> None:
        r = min(self.width, self.height) / 2
        cx, cy = self.center
        bend = (self.score - 3) * 0.16 * r  # how far the mouth's middle dips (smile) or rises
        points = []
        for i in range(13):
            t = i / 12 * 2 - 1  # -1 .. 1 across the mouth
            points += [cx + t * r * 0.5, cy - r * 0.38 - bend * (1 - t * t)]
        self.mouth = points


class RatingOverlay(FloatLayout):
    """好差评 at the end of a service: five faces, one tap, anonymous; 跳过 or waiting closes it."""

    active = BooleanProperty(False)

    def on_touch_down(self, touch: Any) -> bool:
        if not self.active:
            return False
        super().on_touch_down(touch)
        return True  # the page under it is not for tapping while it asks

    def on_touch_move(self, touch: Any) -> bool:
        return self.active and (super().on_touch_move(touch) or True)

    def on_touch_up(self, touch: Any) -> bool:
        return self.active and (super().on_touch_up(touch) or True)


class KioskRoot(FloatLayout):
    pass


class KioskScreens(ScreenManager):
    """The screens, each built the first time it is asked for (shown, or looked up by name).

    A screen nobody opens costs nothing: no start time, no widgets, no textures. The app
    builds the screens a resident reaches first while the kiosk waits (``BUILT_EARLY``).
    """

    def get_screen(self, name: str) -> Any:
        if not self.has_screen(name):
            found = next((entry for entry in SCREENS if entry[0] == name), None)
            if found is None:
                raise ScreenManagerException(f"No Screen with name {name!r}.")
            module = importlib.import_module(found[1])
            load_kv(Path(module.__file__).with_suffix(".kv"))
            self.add_widget(getattr(module, found[2])(name=name))
        return super().get_screen(name)


class KioskApp(App):
    """The touchscreen app, handed its parts by the entry point (``config.faces.kiosk_app``):
    ``services`` (store, reader, printer, outbox), ``check_pin`` (the staff PIN's check, None when
    no PIN is set) and ``watchdog`` (what tells systemd the app is alive: it schedules its pings on
    the clock it is given and returns the events). ``settings`` is read for the kiosk's own options."""

    title = "就业服务自助终端"
    screen_name = StringProperty("home")
    top_title = StringProperty("")
    clock_text = StringProperty("")
    urgent_text = StringProperty("")
    notice_text = StringProperty("")
    notice_level = StringProperty("info")
    offline_text = StringProperty("")
    resident_text = StringProperty("")
    reader_text = StringProperty("请放身份证：放在屏幕下方的感应区")
    reader_level = StringProperty("info")
    reader_place = StringProperty("屏幕下方")  # where the card reader is, in words (kiosk.reader_side)
    reader_state_text = StringProperty("读卡器：正在连接")
    speaking = BooleanProperty(False)
    wide = BooleanProperty(False)  # a landscape window: banners keep to one line, the resident bar joins the bottom bar
    voice_available = BooleanProperty(False)
    history = ListProperty([])

    def on_reader_text(self, _app: Any, text: str) -> None:
        # status.py words the prompt for the usual reader below the screen; this station's may be beside it.
        if self.reader_place != "屏幕下方" and "屏幕下方" in text:
            self.reader_text = text.replace("屏幕下方", self.reader_place)

    def __init__(self, settings: Any, services: Services, *, kiosk_mode: bool | None = None,
                 check_pin: PinCheck | None = None, watchdog: Watchdog | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.kiosk_mode = kiosk_mode
        self.check_pin = check_pin  # None: no staff PIN is set, staff mode stays shut
        self._watchdog = watchdog
        self.services = services
        self.store = services.store
        self.session = Session()
        self.idle = IdleClock(settings.kiosk.idle_timeout_s, settings.kiosk.countdown_s)
        self.voice = ReadAloud(settings.kiosk.tts_command, enabled=settings.kiosk.read_aloud)
        self.theme = Theme(elder=settings.kiosk.elder_mode)
        self.reader_place = READER_PLACES[settings.kiosk.reader_side]
        self.on_reader_text(self, self.reader_text)
        self.visit = Visit()  # what this visit was served with (asks for 好差评 at its end), today's counts
        self.counts = self.visit.counts
        self.errors_handled = 0
        self.stopped = False
        self._handler: KioskExceptionHandler | None = None
        self._notice_event: Any = None
        self._banners: dict[str, str] = {}  # the urgent and offline banners as they are now (apply_banners)
        self._notice_source = ""
        self._attract_event: Any = None
        self._rating_event: Any = None
        self._rating_ask = RatingAsk(())
        self._attract_reel = AttractReel()
        self._events: list[Any] = []
        self.printer_state: Any = None
        self.reader_state = "unknown"

    def stop_after(self, seconds: float) -> None:
        """Stop the app ``seconds`` after it starts running (a bounded run: ``yizhan kiosk --run-seconds``)."""
        Clock.schedule_once(lambda _dt: self.stop(), seconds)

    # -- building ----------------------------------------------------------------------------
    def build(self) -> KioskRoot:
        load_kv(HERE / "root.kv")
        # The window's clear colour is the background: one full-screen fill less per frame.
        Window.clearcolor = self.theme.c_background
        root = Factory.KioskRoot()
        # Overlays are in the widget tree only while shown: hidden widgets still cost draw time.
        self.countdown = Factory.CountdownOverlay()
        self.attract = Factory.AttractOverlay()
        self.rating = Factory.RatingOverlay()
        root.sm.get_screen("home")  # the others when first needed (KioskScreens)
        return root

    def _build_early(self, _dt: float) -> None:
        """One of :data:`BUILT_EARLY` per clock tick, so that a touch meanwhile waits for one at most;
        then the pinyin table the first letter typed needs (content.search)."""
        if self.stopped:
            return
        waiting = [name for name in BUILT_EARLY if not self.sm.has_screen(name)]
        if waiting:
            self.sm.get_screen(waiting[0])
            self._events.append(Clock.schedule_once(self._build_early, 0))
        else:
            from content.search import syllables

            syllables()

    def on_start(self) -> None:
        boot.apply_screen(self.settings, kiosk_mode=self.kiosk_mode)
        self.voice_available = self.voice.available
        self._handler = KioskExceptionHandler(self)
        ExceptionManager.add_handler(self._handler)
        Window.bind(on_touch_down=self._any_touch, on_key_down=self._any_key, size=self._window_size)
        self._window_size(Window, Window.size)
        self._events = [
            Clock.schedule_interval(self._tick_idle, 0.5),
            Clock.schedule_interval(self._tick_clock, 1.0),
            Clock.schedule_interval(self._tick_voice, 0.5),
            Clock.schedule_interval(self._tick_status, 15.0),
            Clock.schedule_once(self._build_early, BUILD_EARLY_AFTER_S),
            # systemd: READY after the first frame, then alive (WatchdogSec)
            *(self._watchdog(Clock) if self._watchdog is not None else []),
        ]
        self._tick_clock(0)
        self.services.start(on_reader_event=self._from_thread(self.on_reader_event),
                            on_printer_status=self._from_thread(self.on_printer_status),
                            on_sync_status=self._from_thread(self.on_sync_status))
        if self.services.reader is None:
            self.reader_state = "absent"
            self.reader_state_text = "本机没有连接读卡器，登记请找工作人员"
            self.reader_text = "本机不能读身份证，登记请找工作人员"
        self.refresh_status()
        self.go_home()

    def on_stop(self) -> None:
        self.stopped = True
        self.session.clear()  # shutting down forgets the resident like any other end of a visit
        if self._notice_event is not None:
            self._notice_event.cancel()
        for event in self._events:
            event.cancel()
        self._events = []
        self.stop_attract()
        self.close_rating()
        Window.unbind(on_touch_down=self._any_touch, on_key_down=self._any_key, size=self._window_size)
        if self._handler is not None:
            ExceptionManager.remove_handler(self._handler)
            self._handler = None
        self.voice.stop()
        self.services.stop()
        # Kivy keeps recycled list views in a module-wide cache; views made for this app are
        # bound to its theme and must not be handed to a later app in the same process.
        from kivy.uix.recycleview import views

        views._cached_views.clear()
        # ... and its count of them: left high, Kivy's next trim divides by the empty cache.
        views._cache_count = 0

    def _from_thread(self, method: Any) -> Any:
        """Wrap a callback that device threads call so that it runs on Kivy's clock."""
        def run(*args: Any) -> None:
            if not self.stopped:  # an event that arrives while shutting down has no screen left
                method(*args)

        def hop(*args: Any) -> None:
            Clock.schedule_once(lambda _dt: run(*args), 0)

        return hop

    def _window_size(self, _window: Any, size: Any) -> None:
        self.wide = size[0] > size[1]

    # -- navigation --------------------------------------------------------------------------
    @property
    def sm(self) -> Any:
        return self.root.sm

    @property
    def screen(self) -> Any:
        return self.sm.current_screen

    def go(self, name: str, *, remember: bool = True, **params: Any) -> None:
        """Show screen ``name`` (with ``params`` for its ``enter``)."""
        if name == "staff" and not self.session.staff:
            name = "staff_pin"  # no way into staff mode but through the PIN
        target = self.sm.get_screen(name)
        previous = self.sm.current
        self.apply_banners(now=True)  # the page changes anyway: banners that came or went show now
        if previous != name:
            self.sm.current_screen.leave()  # before the next screen reads what this one leaves behind
        target.enter(**params)
        if remember and previous != name:
            self.history.append(previous)
        self.voice.stop()
        self.sm.current = name
        # Kivy ends even a NoTransition on the next clock tick: the page would take two frames
        # (the new screen over the old, then the old one removed). End it now: one frame.
        # (Stopping its animation completes it as the tick would: on_enter and on_leave too.)
        Animation.stop_all(self.sm.transition)
        self.screen_name = name
        self.top_title = self.settings.station.name if name == "home" else target.title
        self.idle.touch()

    def back(self) -> None:
        if self.screen.go_back():
            return
        while self.history:
            name = self.history.pop()
            if name != self.sm.current:
                self.go(name, remember=False, returning=True)
                return
        self.go_home()

    def home_tapped(self) -> None:
        """首页 from the top bar: an anonymous visitor who was served (a slip) is asked for 好差评."""
        served = self.visit.home_tapped(resident_present=self.session.resident is not None)
        self.go_home()
        if served:
            self.ask_rating(served)

    def go_home(self) -> None:
        self.history = []
        self.go("home", remember=False)

    def set_title(self, screen: Any) -> None:
        if screen.name == self.sm.current and screen.name != "home":
            self.top_title = screen.title

    def open_job(self, job_id: str) -> None:
        self.go("job", job_id=job_id)

    def open_staff(self) -> None:
        if self.session.staff:
            self.go("staff")
        else:
            self.go("staff_pin")

    # -- the visit ---------------------------------------------------------------------------
    def begin_visit(self, resident: Resident) -> None:
        self.session.begin(resident)
        self.resident_text = f"{resident.title}，您好"

    def end_visit(self) -> None:
        """结束: the resident leaves; forget everything about them now, then ask for 好差评."""
        served = self.visit.end(resident_present=self.session.resident is not None)
        self.reset_visit("ended")
        if served:
            self.ask_rating(served)

    # -- 好差评 -------------------------------------------------------------------------------
    def ask_rating(self, services: list[str]) -> None:
        """Show the five faces (and say them); anonymous: only the level and the services are kept."""
        from content.stats import RATING_LEVELS

        self._rating_ask = RatingAsk.about(services)
        self.stop_attract()
        self._overlay(self.rating, True)
        if self._rating_event is not None:
            self._rating_event.cancel()
        self._rating_event = Clock.schedule_once(lambda _dt: self.close_rating(), RATING_SHOWN_S)
        assert len(RATING_LEVELS) == len(self.rating.ids.faces.children)
        if self.voice_available:
            self.speaking = self.voice.say(RATING_PROMPT)

    def rate(self, level: str) -> None:
        kind, fields = self._rating_ask.answer(level)
        self.services.record_usage(kind, **fields)
        self.services.later(self.services.flush_usage)  # the visit is over: its last event is written now
        self.counts["rating"] = self.counts.get("rating", 0) + 1
        self.close_rating()
        self.notify("谢谢您的评价！", seconds=5)

    def close_rating(self) -> None:
        if self._rating_event is not None:
            self._rating_event.cancel()
            self._rating_event = None
        if self.rating.active:
            self.voice.stop()
            self.speaking = False
        self._overlay(self.rating, False)

    def reset_visit(self, reason: str) -> None:
        """Forget the resident (session, forms, every screen), return home."""
        log.info("visit reset (%s)", reason)
        self.hide_countdown()
        self.voice.stop()
        self.screen.leave()  # first, so that nothing it saves outlives the visit
        self.services.end_visit()  # their unprinted slips never come out into an empty room
        self.session.clear()
        self.visit.forget()
        self.resident_text = ""
        if self.reader_state == "online" and self.reader_level == "info":
            self.reader_text = READER_READY
        for screen in self.sm.screens:
            screen.forget()
        self.go_home()
        self.idle.touch()
        gc.collect()

    def count(self, what: str) -> None:
        """Today's service counts (staff screen) and a usage event for the station's reports."""
        self.visit.count(what)
        self.services.record_usage(what)

    # -- idle --------------------------------------------------------------------------------
    def _any_touch(self, _window: Any, _touch: Any) -> None:
        self.idle.touch()

    def _any_key(self, *_args: Any) -> None:
        self.idle.touch()

    def keep_going(self) -> None:
        self.idle.touch()
        self.hide_countdown()

    def _overlay(self, overlay: Any, active: bool) -> None:
        overlay.active = active
        if active and overlay.parent is None:
            self.root.add_widget(overlay)
        elif not active and overlay.parent is not None:
            overlay.parent.remove_widget(overlay)

    def hide_countdown(self) -> None:
        self._overlay(self.countdown, False)

    def _tick_idle(self, _dt: float) -> None:
        self.apply_banners()
        state = self.idle.state()
        overlay = self.countdown
        at_home, busy = self.screen_name == "home", self.session.busy
        self.services.mark_visit(not at_rest(at_home=at_home, busy=busy, rating_shown=self.rating.active))
        step = idle_step(state.phase, at_home=at_home, busy=busy, rating_shown=self.rating.active,
                         attract_shown=self.attract.active)
        if step in (IdleStep.REST, IdleStep.ATTRACT, IdleStep.ACTIVE):
            self.hide_countdown()  # nothing to lose, or someone is here
            if step is IdleStep.ATTRACT:
                self.start_attract()
        elif step is IdleStep.COUNTDOWN:
            overlay.seconds = state.seconds_shown
            if not overlay.active:
                self.say_prompt(f"您还在使用吗？{state.seconds_shown}秒后回到首页。要继续，请点继续使用。")
            self._overlay(overlay, True)
        else:
            self.reset_visit("idle")

    def start_attract(self) -> None:
        attract = self.attract
        self._attract_reel = AttractReel.load(lambda: self.store.featured_jobs(10))
        self._show_attract_job()
        self._overlay(attract, True)
        if self._attract_event is None:
            self._attract_event = Clock.schedule_interval(lambda _dt: self._show_attract_job(), ATTRACT_PERIOD_S)

    def _show_attract_job(self) -> None:
        card = self._attract_reel.next_card()
        self.attract.headline, self.attract.job_title, self.attract.job_lines = card.headline, card.job_title, card.job_lines

    def stop_attract(self) -> None:
        if self._attract_event is not None:
            self._attract_event.cancel()
            self._attract_event = None
        self._attract_reel = AttractReel()
        if self.root is not None:
            self._overlay(self.attract, False)
        self.idle.touch()

    # -- status lines ------------------------------------------------------------------------
    def _tick_clock(self, _dt: float) -> None:
        now = dt.datetime.now()
        text = f"{now.month}月{now.day}日 星期{WEEKDAYS[now.weekday()]}\n{now:%H:%M}"
        if text != self.clock_text:
            self.clock_text = text

    def _tick_voice(self, _dt: float) -> None:
        speaking = self.voice.check()
        if speaking != self.speaking:
            self.speaking = speaking
        # No sound card: staff hear about it (staff screen, heartbeat, doctor), residents do not.
        if self.voice.problem:
            self.services.problems["audio"] = self.voice.problem
        else:
            self.services.problems.pop("audio", None)
        self.services.publish_audio()

    def _tick_status(self, _dt: float) -> None:
        self.services.refresh_sync_status()
        self.refresh_status()

    def refresh_status(self) -> None:
        """Urgent announcements and the offline banner, from the store and the sync status."""
        try:
            notices = self.store.announcements("kiosk")
        except Exception:
            log.exception("announcements unavailable")
            notices = []
        urgent = [a.text for a in notices if a.priority == "urgent"]
        self._banners["urgent"] = "紧急通知：" + "；".join(urgent) if urgent else ""
        try:
            info = self.store.content_info()
        except Exception:
            log.exception("content info unavailable")
            info = None
        self._banners["offline"] = offline_text(
            self.services.sync_status(), info, configured=self.services.sync_configured,
            now=dt.datetime.now(dt.UTC), interval_s=self.settings.hub.sync_interval_s)
        self.apply_banners()

    def apply_banners(self, *, now: bool = False) -> bool:
        """Show the urgent and offline banners as they now are, if the page may move.

        A banner that comes or goes moves the page below it. So they change only when the
        page changes anyway (``now``, from :meth:`go`) or once nobody has touched the screen
        for :data:`BANNER_QUIET_S`: never under a finger that is about to tap. Returns whether
        what is shown is up to date.
        """
        urgent = self._banners.get("urgent", self.urgent_text)
        offline = self._banners.get("offline", self.offline_text)
        if urgent == self.urgent_text and offline == self.offline_text:
            return True
        if not now and self.idle.since_touch() < BANNER_QUIET_S:
            return False
        self.urgent_text, self.offline_text = urgent, offline
        return True

    def content_age(self) -> str:
        try:
            return content_age_text(self.store.content_info())
        except Exception:
            return ""

    def notify(self, text: str, *, level: str = "info", seconds: float | None = 10.0, source: str = "") -> None:
        """A message under the top bar (device problems, the apology after an error).

        ``source`` ("printer", "reader") lets a device clear its own message once it recovers.
        """
        self.notice_text = text
        self.notice_level = level
        self._notice_source = source
        if self._notice_event is not None:
            self._notice_event.cancel()
            self._notice_event = None
        if seconds:
            self._notice_event = Clock.schedule_once(lambda _dt: self.clear_notice(text), seconds)

    def clear_notice(self, text: str | None = None, *, source: str | None = None) -> None:
        if source is not None and getattr(self, "_notice_source", "") != source:
            return
        if text is None or self.notice_text == text:
            self.notice_text = ""
            self.notice_level = "info"
            self._notice_source = ""

    # -- read aloud and elder mode -----------------------------------------------------------
    def toggle_reading(self) -> None:
        if self.voice.speaking:
            self.voice.stop()
            self.speaking = False
            return
        self.read_aloud(self.screen.speech())

    def read_aloud(self, text: str) -> bool:
        ok = self.voice.say(text)
        self.speaking = ok
        if not ok:
            log.warning("read-aloud could not start")  # the staff screen says why; the resident is not troubled
        return ok

    def say_prompt(self, text: str) -> None:
        """A short spoken prompt (a card was placed, the countdown started), when a voice exists."""
        if self.voice_available and not self.voice.speaking:
            self.speaking = self.voice.say(text)

    def toggle_elder(self) -> None:
        self.theme.set_elder(not self.theme.elder)
        self.screen.refresh()

    # -- devices -----------------------------------------------------------------------------
    def on_reader_event(self, event: Any) -> None:
        """An event from the ID card reader, now on the UI thread."""
        kind = type(event).__name__
        if kind == "CardRead":
            self._card_read(event.card)
            return
        if kind == "CardRemoved":
            if self.reader_state == "online":
                self.reader_text, self.reader_level = reader_message(event)[:2]
            return
        text, level, state = reader_message(event)
        self.reader_state = state
        self.reader_state_text = {"online": "读卡器：正常", "offline": "读卡器：没有连接"}.get(state, "读卡器：正常")
        self.reader_text = text
        self.reader_level = level
        if kind == "ReaderError":
            self.count("card_error")
            self.notify(text, level="error", seconds=10, source="reader")
        elif kind == "ReaderOffline":
            self.notify(text, level="error", seconds=None, source="reader")
        elif kind == "ReaderOnline" and getattr(self, "_notice_source", "") == "reader":
            self.notify("读卡器已恢复，可以放身份证了", seconds=6, source="reader")

    def _card_read(self, card: Any) -> None:
        today = dt.date.today()
        resident = Resident.from_card(card)
        self.stop_attract()
        self.hide_countdown()
        self.close_rating()  # a new resident: the last one's 好差评 is over
        problem = card_problem(resident, today)
        self.count("card_read")
        self.reader_state = "online"
        self.reader_text, self.reader_level = "已读到身份证，请拿回您的身份证", "info"
        current = self.session.resident
        if current is not None and current.id_number == resident.id_number:
            # The same card again (put back after taking it away): keep the visit and any form.
            self.notify(f"{resident.title}，您的身份证已读取", seconds=5)
            self.screen.refresh()
            return
        self.begin_visit(resident)
        self.say_prompt(f"{resident.title}，您好。请拿回您的身份证。")
        if self.screen_name in ("register", "form", "consent"):
            self.go("register", remember=False)  # the resident was on the way to registering
        else:
            self.go("resident", problem=problem)

    def on_printer_status(self, status: Any) -> None:
        """A status change from the print queue, now on the UI thread."""
        self.printer_state = status
        text, level = printer_message(status)
        if text:
            self.notify(text, level=level, seconds=None, source="printer")  # until the printer recovers
        else:
            self.clear_notice(source="printer")
        if self.screen_name == "staff":
            self.screen.refresh()

    def on_sync_status(self, _status: Any) -> None:
        self.refresh_status()
        if self.screen_name == "home":
            self.screen.refresh()

    # -- printing ----------------------------------------------------------------------------
    def print_job(self, job: Any, distance_km: float | None = None) -> bool:
        resident = self.session.resident
        ok, message = self.services.print_job(job, distance_km=distance_km,
                                              resident_name=resident.masked_name if resident else None)
        self.notify(message, level=self._print_level(ok), seconds=10, source="printer")
        if ok:
            self.count("print_job")
        return ok

    def print_event(self, event: Any) -> bool:
        ok, message = self.services.print_event(event)
        self.notify(message, level=self._print_level(ok), seconds=10, source="printer")
        if ok:
            self.count("print_event")
        return ok

    def _print_level(self, queued: bool) -> str:
        """A slip queued behind a printer fault is still news the resident must not miss."""
        status = self.services.printer_status()
        return "info" if queued and (status is None or status.printable) else "error"

    # -- errors ------------------------------------------------------------------------------
    def recover(self) -> None:
        """After an unexpected error: apologise, forget the visit, show home."""
        self.errors_handled += 1
        try:
            self.reset_visit("error")
        finally:
            self.notify("抱歉，出了点问题，已回到首页，请重新操作或找工作人员",
                        level="error", seconds=12)
