"""Full-screen training video (ffpyplayer through Kivy's Video) with big 暂停 and 返回 controls.

The position is kept in the session when the resident leaves, so the same video resumes
there during the same visit. The idle clock is held while the video plays (watching is
not being idle); the player is unloaded on leaving so that its decoder and textures go.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.screens.base import KioskScreen

HOLD = "video"


def clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class PlayerScreen(KioskScreen):
    course_id = StringProperty("")
    playing = BooleanProperty(False)
    position = NumericProperty(0)
    duration = NumericProperty(0)
    source = StringProperty("")
    _resume_at = 0.0

    def enter(self, course_id: str | None = None, **_: Any) -> None:
        if course_id is None:
            return
        course = self.app.store.get_course(course_id)
        if course is None:
            self.app.notify("这个视频已经下架了", seconds=6)
            return
        self.title = course.title
        self.course_id = course_id
        self.duration = float(course.duration_s)
        self.position = 0
        self._resume_at = self.app.session.video_positions.get(course_id, 0.0)
        self.source = str(self.app.settings.media_dir / course.media.filename)

    def on_enter(self, *_: Any) -> None:
        video = self.ids.video
        video.source = self.source
        video.state = "play"
        self.playing = True
        self.app.idle.hold(HOLD)
        self._ticker = Clock.schedule_interval(self._tick, 0.5)
        self.app.count("video_play")

    def _tick(self, _dt: float) -> None:
        video = self.ids.video
        if video.duration and video.duration > 0:
            self.duration = video.duration
            if self._resume_at > 1 and video.state == "play":
                video.seek(min(0.99, self._resume_at / video.duration))
                self._resume_at = 0.0
        self.position = video.position
        if video.state == "stop" and self.playing:  # played to the end
            self.playing = False
            self.app.idle.release(HOLD)
            self.app.session.video_positions.pop(self.course_id, None)

    def toggle(self) -> None:
        video = self.ids.video
        if self.playing:
            video.state = "pause"
            self.playing = False
            self.app.idle.release(HOLD)
        else:
            if video.state == "stop":
                video.seek(0)
            video.state = "play"
            self.playing = True
            self.app.idle.hold(HOLD)

    def leave(self) -> None:
        self._stop_video()

    def on_leave(self, *_: Any) -> None:
        self._stop_video()

    def _stop_video(self) -> None:
        ticker = getattr(self, "_ticker", None)
        if ticker is not None:
            ticker.cancel()
            self._ticker = None
        video = self.ids.video
        if self.course_id and video.state != "stop" and video.position > 1:
            self.app.session.video_positions[self.course_id] = float(video.position)
        video.state = "stop"
        video.unload()
        video.source = ""
        self.playing = False
        self.app.idle.release(HOLD)

    @staticmethod
    def clock_text(seconds: float) -> str:
        return clock_text(seconds)

    def speech(self) -> str:
        return f"正在播放：{self.title}。点“暂停”可以停下来，点“返回”回到视频列表。"
