"""Training videos uploaded in the console: checked, transcoded to what stations play, thumbnailed.

Stations play H.264 MP4 (``yuv420p``). An MP4 upload is kept as it is once ffpyplayer can
open and decode it; other containers are transcoded with Debian's ``ffmpeg`` when it is
installed, otherwise with ffpyplayer's own encoder (video only). The thumbnail is a PNG of
the frame at about one second in.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

MAX_DURATION_S = 4 * 3600


class MediaCheckError(ValueError):
    """The upload is not a video stations can play; the message is Chinese."""


@dataclass
class PreparedVideo:
    video: Path
    thumbnail: Path
    duration_s: int


def _open(path: Path, errors: list[str] | None = None, **opts: object):  # type: ignore[no-untyped-def]
    from ffpyplayer.player import MediaPlayer

    # ffpyplayer reports a file it cannot read through the callback ("read:error").
    def callback(selector: str, value: object) -> None:
        if errors is not None and selector.endswith(":error"):
            errors.append(selector)

    return MediaPlayer(str(path), callback=callback,
                       ff_opts={"paused": True, "out_fmt": "rgb24", "an": True, "sync": "video", **opts}, lib_opts={})


def _first_frame(path: Path, timeout_s: float = 30.0) -> tuple[object, float]:
    """The first decodable frame at or after ~1 s, and the duration (decoding is asynchronous)."""
    errors: list[str] = []
    player = _open(path, errors)
    try:
        deadline = time.monotonic() + timeout_s
        duration = 0.0
        sought = False
        while time.monotonic() < deadline and not errors:
            meta = player.get_metadata()
            duration = float(meta.get("duration") or 0.0)
            if duration and not sought:
                player.seek(min(1.0, duration / 2), relative=False, accurate=False)
                sought = True
            frame, val = player.get_frame(force_refresh=True)
            if frame is not None:
                return frame[0], duration
            if val == "eof":
                break
            time.sleep(0.02)
        raise MediaCheckError("无法解码视频画面，请上传 MP4（H.264）格式的视频")
    finally:
        player.close_player()


def prepare_video(upload: Path, work: Path) -> PreparedVideo:
    if upload.stat().st_size == 0:
        raise MediaCheckError("上传的文件是空的")
    try:
        image, duration = _first_frame(upload)
    except MediaCheckError:
        raise
    except Exception:
        raise MediaCheckError("文件不是可识别的视频") from None
    if duration <= 0 or duration > MAX_DURATION_S:
        raise MediaCheckError("无法读取视频时长，或视频超过 4 小时")
    video = upload
    if upload.suffix != ".mp4":
        video = _transcode(upload, work / "video.mp4")
    width, height = image.get_size()  # type: ignore[attr-defined]
    pixels = bytes(image.to_bytearray()[0])  # type: ignore[attr-defined]
    thumb = Image.frombytes("RGB", (width, height), pixels)
    thumb.thumbnail((480, 270))
    thumb_path = work / "thumbnail.png"
    thumb.save(thumb_path)
    return PreparedVideo(video=video, thumbnail=thumb_path, duration_s=max(1, round(duration)))


def _transcode(src: Path, out: Path) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        proc = subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(src), "-c:v", "libx264", "-pix_fmt", "yuv420p",
                               "-c:a", "aac", "-movflags", "+faststart", str(out)], capture_output=True, timeout=3600)
        if proc.returncode != 0 or not out.exists():
            raise MediaCheckError("视频转码失败，请上传 MP4（H.264）格式的视频")
        return out
    return _transcode_ffpyplayer(src, out)


def _transcode_ffpyplayer(src: Path, out: Path) -> Path:
    from ffpyplayer.pic import SWScale
    from ffpyplayer.writer import MediaWriter

    player = _open(src, paused=False)
    writer = None
    try:
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            frame, val = player.get_frame(force_refresh=False)
            if val == "eof":
                break
            if frame is None:
                time.sleep(0.005)
                continue
            image, pts = frame
            width, height = image.get_size()
            width, height = width - width % 2, height - height % 2
            if writer is None:
                writer = MediaWriter(str(out), [{"pix_fmt_in": "yuv420p", "width_in": width, "height_in": height,
                                                 "codec": "libx264", "frame_rate": (25, 1)}])
                scale = SWScale(*image.get_size(), image.get_pixel_format(), ofmt="yuv420p", ow=width, oh=height)
            writer.write_frame(img=scale.scale(image), pts=pts, stream=0)
    finally:
        player.close_player()
        if writer is not None:
            writer.close()
    if writer is None or not out.exists():
        raise MediaCheckError("视频转码失败，请上传 MP4（H.264）格式的视频")
    return out
