"""Reading back what the board really drew: frame probes and upright screenshots.

A probe reads the framebuffer right after a frame is drawn and before it is shown (Kivy's
``on_flip``), so the tests and the demo see exactly what went to the screen. Reading a
1080p frame costs a few milliseconds: probes are armed only around segment changes, and
screenshots are taken once per segment.

Screenshots are turned upright (a portrait TV is driven with a turned picture) so that
they read as a passer-by sees the board.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image


def read_framebuffer() -> Image.Image:
    """The current framebuffer (what was just drawn), as an RGB image, top row first."""
    from kivy.core.window import Window
    from kivy.graphics import opengl as gl

    width, height = Window.system_size
    gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
    data = gl.glReadPixels(0, 0, width, height, gl.GL_RGB, gl.GL_UNSIGNED_BYTE)
    return Image.frombytes("RGB", (width, height), bytes(data)).transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def upright(image: Image.Image, rotation: int) -> Image.Image:
    """Undo the board's rotation, so the picture reads as it does on the turned screen."""
    rotation %= 360
    if rotation == 0:
        return image
    return image.rotate(-rotation, expand=True)


def blank_fraction(image: Image.Image) -> float:
    """The share of the picture taken by its single most common colour (1.0 = one flat colour)."""
    small = image.convert("RGB")
    if small.width * small.height > 200_000:
        small = small.resize((small.width // 4, small.height // 4), Image.Resampling.NEAREST)
    colors = small.getcolors(maxcolors=small.width * small.height)
    if not colors:
        return 0.0
    return max(count for count, _ in colors) / (small.width * small.height)


def is_blank(image: Image.Image, *, threshold: float = 0.995) -> bool:
    """True when the picture is (almost) one flat colour: black, or the background with nothing on it."""
    return blank_fraction(image) >= threshold


@dataclass
class ProbeSample:
    label: str
    index: int  # 0 = the first frame drawn after the change
    blank_fraction: float
    image: Image.Image | None = field(default=None, repr=False)


class FrameProbe:
    """Samples the next few frames drawn after each :meth:`arm` (e.g. a segment change)."""

    def __init__(self, *, keep_images: bool = False) -> None:
        self.samples: deque[ProbeSample] = deque(maxlen=2000)
        self.keep_images = keep_images
        self._label = ""
        self._left = 0
        self._index = 0
        self._bound = False
        self.listeners: list[Callable[[ProbeSample], None]] = []
        self._captures: list[tuple[Path, int, Callable[[Path], None] | None]] = []

    def bind(self) -> None:
        from kivy.core.window import Window

        if not self._bound:
            Window.bind(on_flip=self._on_flip)
            self._bound = True

    def unbind(self) -> None:
        from kivy.core.window import Window

        if self._bound:
            Window.unbind(on_flip=self._on_flip)
            self._bound = False

    def arm(self, label: str, frames: int = 3) -> None:
        self._label, self._left, self._index = label, frames, 0

    def capture(self, path: Path, rotation: int, done: Callable[[Path], None] | None = None) -> None:
        """Save the next frame drawn (upright) at ``path``; a redraw is requested so one comes."""
        from kivy.core.window import Window

        self._captures.append((path, rotation, done))
        Window.canvas.ask_update()

    def _on_flip(self, *_args: Any) -> None:
        if self._captures:
            image = read_framebuffer()
            captures, self._captures = self._captures, []
            for path, rotation, done in captures:
                path.parent.mkdir(parents=True, exist_ok=True)
                upright(image, rotation).save(path)
                if done is not None:
                    done(path)
        if self._left <= 0:
            return
        image = read_framebuffer()
        sample = ProbeSample(self._label, self._index, blank_fraction(image), image if self.keep_images else None)
        self.samples.append(sample)
        self._left -= 1
        self._index += 1
        for listener in self.listeners:
            listener(sample)
