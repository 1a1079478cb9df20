"""Training videos: an upload is checked by decoding it, gets a PNG thumbnail, and a file that
is not a video is refused with a reason."""

from __future__ import annotations

import io
import json
from pathlib import Path

import sqlalchemy as sa
from console_kit import FEED, Console, post
from PIL import Image


def _video(path: Path, seconds: int = 2, size: tuple[int, int] = (160, 120)) -> Path:
    from ffpyplayer.pic import Image as FFImage
    from ffpyplayer.writer import MediaWriter

    w, h = size
    writer = MediaWriter(str(path), [{"pix_fmt_in": "rgb24", "pix_fmt_out": "yuv420p", "width_in": w, "height_in": h,
                                      "codec": "libx264", "frame_rate": (10, 1)}])
    for i in range(seconds * 10):
        shade = (i * 12) % 256
        frame = FFImage(plane_buffers=[bytes([shade, 80, 200 - shade // 2]) * (w * h)], pix_fmt="rgb24", size=(w, h))
        writer.write_frame(img=frame, pts=i / 10.0, stream=0)
    writer.close()
    return path


def test_an_uploaded_video_is_checked_and_gets_a_thumbnail(console: Console, tmp_path: Path) -> None:
    editor = console.client("editor")
    video = _video(tmp_path / "焊工培训.mp4")
    form = {"feed_id": FEED, "id": "course-1", "title": "电焊安全操作", "category": "职业技能",
            "video": (io.BytesIO(video.read_bytes()), "焊工培训.mp4")}
    response = post(editor, "/console/content/course/new", form, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    with console.engine.begin() as conn:
        data = json.loads(conn.execute(sa.text("SELECT data FROM console_items WHERE record_id = 'course-1'")).scalar_one())
    assert data["duration_s"] == 2 and data["media"]["type"] == "video/mp4"
    media_dir = console.home / "console-media"
    assert (media_dir / f"{data['media']['sha256']}.mp4").read_bytes() == video.read_bytes()
    thumb = Image.open(media_dir / f"{data['thumbnail']['sha256']}.png")
    assert thumb.size == (160, 120)

    bad = {**form, "id": "course-2", "video": (io.BytesIO(b"this is not a video at all" * 50), "x.mp4")}
    response = post(editor, "/console/content/course/new", bad, content_type="multipart/form-data")
    assert response.status_code == 400 and "视频" in response.get_data(as_text=True)
