"""培训视频: the catalogue of training videos with thumbnails and durations."""

from __future__ import annotations

from typing import Any

from kivy.properties import ListProperty

from kiosk.screens.base import KioskScreen


def duration_text(seconds: float) -> str:
    """``3分20秒`` / ``45秒`` / ``1小时5分``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}小时{minutes}分"
    if minutes:
        return f"{minutes}分{secs}秒" if secs else f"{minutes}分钟"
    return f"{secs}秒"


class CoursesScreen(KioskScreen):
    items = ListProperty([])

    def refresh(self) -> None:
        app = self.app
        media_dir = app.settings.media_dir
        positions = app.session.video_positions
        items = []
        for course in app.store.courses():
            thumb = media_dir / course.thumbnail.filename if course.thumbnail else None
            video = media_dir / course.media.filename
            seen = positions.get(course.id, 0.0)
            note = duration_text(course.duration_s)
            if not video.is_file():
                note += "（视频还在下载）"
            elif seen > 1:
                note += f"，看到{duration_text(seen)}，点一下接着看"
            items.append({"course_id": course.id, "title": course.title, "category": course.category,
                          "note": note, "thumb": str(thumb) if thumb and thumb.is_file() else "",
                          "ready": video.is_file()})
        self.items = items
        self.ids.rv.data = items

    def speech(self) -> str:
        lines = [f"培训视频，共{len(self.items)}个，都是免费的。"]
        lines += [f"{item['title']}，{item['note']}" for item in self.items[:8]]
        lines.append("点一个视频开始看。")
        return "。".join(lines)

    def open(self, item: dict[str, Any]) -> None:
        if not item.get("ready"):
            self.app.notify("这个视频还在下载，请先看其他视频", seconds=6)
            return
        self.app.go("player", course_id=item["course_id"])
