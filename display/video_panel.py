"""A training video on the board, played with ffpyplayer (layout in video_panel.kv).

The player is opened while the previous segment is still showing, and the panel counts as
ready only once the first picture is decoded into its texture: the switch to a video never
shows an empty frame. A file that will not open or decode (or stalls) is reported through
``on_failed``; the end of the video through ``on_finished``. Each new picture is copied
into the same texture (no texture per frame); the player and texture are released when
the segment ends, so memory stays flat over a day of videos (Xibo #190).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from display import sprites  # noqa: F401 - register SpriteLabel for video_panel.kv
from display.layout import BoardGeometry
from display.profiles import Profile
from display.sprites import STATS
from display.widgets import KvPalette

Builder.load_file(str(Path(__file__).with_name("video_panel.kv")))
log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 6.0  # no first picture by then: the file is treated as broken
STALL_TIMEOUT_S = 5.0  # no new picture for this long while playing: the video is ended
# FFmpeg decodes with one thread per core plus one by default, each holding frames of its own
# (a 720p player measured 64 MB with 3 threads, 58 MB with 2, 53 MB with 1). Two keep a
# two-core board decoding on both cores while showing the video, without the third's frames.
DECODER_THREADS = "2"


def quiet_ffmpeg() -> None:
    """FFmpeg would print every damaged packet; a board runs for months on an SD card."""
    from ffpyplayer.tools import set_loglevel

    set_loglevel("fatal")


class VideoPanel(Widget):
    geo = ObjectProperty(None)
    pal = ObjectProperty(None)
    caption = StringProperty("")
    caption_px = NumericProperty(40)
    caption_height = NumericProperty(70)

    def __init__(self, profile: Profile, geo: BoardGeometry, path: Path, title: str, *,
                 on_ready: Callable[[VideoPanel], None], on_failed: Callable[[VideoPanel, str], None],
                 on_finished: Callable[[VideoPanel], None], full_area: tuple[int, int, int, int] | None = None,
                 **kwargs: Any) -> None:
        area = full_area or geo.body
        p = profile
        super().__init__(geo=geo, pal=KvPalette(p.palette), caption=f"培训视频 · {title}" if title else "",
                         caption_px=p.px(40), caption_height=p.px(70), pos=(area[0], area[1]),
                         size=(area[2], area[3]), **kwargs)
        self.path = Path(path)
        self.ready = False
        self.failed = ""
        self.played_s = 0.0
        self._on_ready, self._on_failed, self._on_finished = on_ready, on_failed, on_finished
        self._player: Any = None
        self._texture: Texture | None = None
        self._poll: Any = None
        self._next: Any = None
        self._opened_at = time.monotonic()
        self._last_picture = 0.0
        self._playing_since: float | None = None
        self._error = ""
        with self.canvas:
            Color(1, 1, 1, 1)
            self._rect = Rectangle(pos=self.pos, size=(0, 0))
        self._open()

    # -- opening -------------------------------------------------------------------------

    def _open(self) -> None:
        from ffpyplayer.player import MediaPlayer

        quiet_ffmpeg()
        if not self.path.is_file():
            Clock.schedule_once(lambda _dt: self._fail("missing"), 0)
            return
        try:
            self._player = MediaPlayer(str(self.path), callback=self._player_event,
                                       ff_opts={"an": True, "sn": True, "out_fmt": "rgb24"},
                                       lib_opts={"threads": DECODER_THREADS})
        except Exception as exc:  # ffpyplayer raises plain exceptions for unreadable input
            log.warning("video %s cannot be opened: %s", self.path.name, exc)
            Clock.schedule_once(lambda _dt: self._fail("decode"), 0)
            return
        self._poll = Clock.schedule_interval(self._wait_first, 0.02)

    def _player_event(self, selector: str, value: Any) -> None:
        # called from ffpyplayer's threads: only note it; the Kivy side reads it on its own clock
        if selector.endswith("error"):
            self._error = selector

    def _wait_first(self, _dt: float) -> bool | None:
        player = self._player
        if player is None:
            return False
        frame, value = player.get_frame()
        if frame is not None:
            player.set_pause(True)
            self._show(frame[0])
            self.ready = True
            self._poll = None
            self._on_ready(self)
            return False
        if value == "eof" or self._error or time.monotonic() - self._opened_at > OPEN_TIMEOUT_S:
            self._poll = None
            self._fail("decode")
            return False
        return None

    def _fail(self, reason: str) -> None:
        if self.failed:
            return
        self.failed = reason
        self.release()
        self._on_failed(self, reason)

    # -- playing -------------------------------------------------------------------------

    def play(self) -> None:
        if self._player is None or self._playing_since is not None:
            return
        self._player.set_pause(False)
        self._playing_since = time.monotonic()
        self._last_picture = self._playing_since
        self._schedule(0)

    def pause(self) -> None:
        if self._player is None or self._playing_since is None:
            return
        self.played_s += time.monotonic() - self._playing_since
        self._playing_since = None
        self._player.set_pause(True)
        if self._next is not None:
            self._next.cancel()
            self._next = None

    def _schedule(self, delay: float) -> None:
        self._next = Clock.schedule_once(self._pull, max(0.0, min(delay, 0.1)))

    def _pull(self, _dt: float) -> None:
        self._next = None
        player = self._player
        if player is None or self._playing_since is None:
            return
        frame, value = player.get_frame()
        now = time.monotonic()
        if value == "eof":
            self._end()
            return
        if frame is not None:
            self._show(frame[0])
            self._last_picture = now
        elif now - self._last_picture > STALL_TIMEOUT_S:
            log.warning("video %s stalled; ending it", self.path.name)
            self._end()
            return
        self._schedule(value if isinstance(value, float) and frame is not None else 0.01)

    def _end(self) -> None:
        self.pause()
        self._on_finished(self)

    def _show(self, image: Any) -> None:
        width, height = image.get_size()
        if self._texture is None or self._texture.size != (width, height):
            self._texture = Texture.create(size=(width, height), colorfmt="rgb", bufferfmt="ubyte")
            self._texture.flip_vertical()
            STATS.created += 1
            self._fit(width, height)
        data = image.to_memoryview()[0]
        self._texture.blit_buffer(data, colorfmt="rgb", bufferfmt="ubyte")
        self._rect.texture = self._texture
        self.canvas.ask_update()

    def _fit(self, width: int, height: int) -> None:
        room_w = int(self.width)
        room_h = int(self.height - (self.caption_height if self.caption else 0))
        scale = min(room_w / width, room_h / height)
        w, h = int(width * scale) // 2 * 2, int(height * scale) // 2 * 2
        base_y = self.y + (self.caption_height if self.caption else 0)
        self._rect.pos = (int(self.x + (room_w - w) // 2), int(base_y + (room_h - h) // 2))
        self._rect.size = (w, h)

    # -- the end -------------------------------------------------------------------------

    def seconds_played(self) -> float:
        extra = time.monotonic() - self._playing_since if self._playing_since is not None else 0.0
        return self.played_s + extra

    def release(self) -> None:
        """Close the player and drop the texture (idempotent)."""
        for event in (self._poll, self._next):
            if event is not None:
                event.cancel()
        self._poll = self._next = None
        if self._playing_since is not None:
            self.played_s += time.monotonic() - self._playing_since
            self._playing_since = None
        if self._player is not None:
            try:
                self._player.close_player()
            except Exception as exc:  # closing a player that failed half-way may raise; nothing to keep
                log.debug("closing video player: %s", exc)
            self._player = None
        self._rect.texture = None
        self._texture = None
