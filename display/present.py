"""Presenting only what moved: under software GL, a scrolling frame redraws and shows just the reels.

Kivy redraws the whole window for any change, and the swap shows the whole window. Under
software GL (Mesa's llvmpipe, what a board box without a usable GPU and the test machines
run) every pixel drawn and shown costs CPU, so a 1080p board whose job list scrolls paid
for the header, the side card and the QR code thirty times a second.

When only the moving reels changed since the last frame (the reel's translation, its slots
re-pointed), the :class:`Presenter` redraws with a scissor set to those reels' rectangles
(llvmpipe rasterises nothing outside it) and shows those rectangles alone with
``glXCopySubBufferMESA``, which copies part of the back buffer to the window and leaves the
back buffer whole. Every frame is shown that way, so the back buffer always holds the
complete picture: a partial frame is exactly the last frame with the reels redrawn.

What changed is read from Kivy's own canvas flags (a canvas changed since it was last drawn
``needs_redraw``): the flagged canvases are walked from the window down; a flagged canvas
that is neither a moving reel nor on the way to one means something else changed (the
clock's minute, a new segment, a video frame), and that frame is drawn and shown whole.
Window size or rotation changes, and any change of the reels driven, do the same.

Only used with Mesa's software renderers under GLX and its ``GLX_MESA_copy_sub_buffer``
extension, on a window without multisampling (display/window.py turns it off); elsewhere (a
GPU, EGL/Wayland) Kivy's own redraw and swap stay in place. ``YIZHAN_BOARD_PARTIAL=0`` in
the environment turns it off.
"""

from __future__ import annotations

import ctypes
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x, y, width, height in framebuffer pixels (origin bottom left)
SOFTWARE_RENDERERS = (b"llvmpipe", b"softpipe", b"swrast")


def _glx() -> tuple[Any, int, int] | None:
    """(glXCopySubBufferMESA, display, drawable) for the current GL context, or None."""
    try:
        libgl = ctypes.CDLL("libGL.so.1")
    except OSError:
        return None
    libgl.glXGetCurrentDisplay.restype = ctypes.c_void_p
    libgl.glXGetCurrentDrawable.restype = ctypes.c_ulong
    libgl.glXQueryExtensionsString.restype = ctypes.c_char_p
    libgl.glXQueryExtensionsString.argtypes = [ctypes.c_void_p, ctypes.c_int]
    libgl.glXGetProcAddressARB.restype = ctypes.c_void_p
    libgl.glXGetProcAddressARB.argtypes = [ctypes.c_char_p]
    display = libgl.glXGetCurrentDisplay()
    drawable = libgl.glXGetCurrentDrawable()
    if not display or not drawable:
        return None
    libx11 = ctypes.CDLL("libX11.so.6")
    libx11.XDefaultScreen.argtypes = [ctypes.c_void_p]
    extensions = libgl.glXQueryExtensionsString(display, libx11.XDefaultScreen(display)) or b""
    if b"GLX_MESA_copy_sub_buffer" not in extensions.split():
        return None
    address = libgl.glXGetProcAddressARB(b"glXCopySubBufferMESA")
    if not address:
        return None
    prototype = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_int)
    return prototype(address), display, drawable


class Presenter:
    """Draws and shows only the moving reels' rectangles when nothing else changed (see module docstring)."""

    def __init__(self, window: Any, copy: Any, display: int, drawable: int) -> None:
        from kivy.graphics.scissor_instructions import ScissorPop, ScissorPush

        self.window = window
        self._copy = copy
        self._display = display
        self._drawable = drawable
        self.reels: list[Any] = []
        self.partial_frames = 0
        self.full_frames = 0
        self.last_boxes: list[Box] | None = None  # what the last frame redrew (None: the whole window)
        self._full_next = True
        self._shown: list[Box] | None = None  # what the frame just drawn needs shown; None: all
        self._draw = window.on_draw
        self._flip = window.flip
        # The whole picture is drawn inside one scissor: the window, or the part being redrawn.
        # Kivy intersects the reels' own scissors with it.
        self._scissor = ScissorPush(x=0, y=0, width=1, height=1)
        self._pop = ScissorPop()
        window.canvas.before.insert(0, self._scissor)
        window.canvas.after.add(self._pop)
        window.on_draw = self._on_draw
        window.flip = self._on_flip
        window.bind(on_resize=self.invalidate, on_rotate=self.invalidate)

    @classmethod
    def install(cls, window: Any) -> Presenter | None:
        """A presenter on ``window`` if the GL is Mesa's software GL under GLX; else None (nothing changes).

        ``YIZHAN_BOARD_PARTIAL=0`` in the environment keeps Kivy's whole-window redraw.
        """
        if os.environ.get("YIZHAN_BOARD_PARTIAL", "1") == "0":
            return None
        from kivy.graphics import opengl as gl

        try:
            renderer = gl.glGetString(gl.GL_RENDERER) or b""
        except Exception:  # noqa: BLE001 - no GL context: nothing to do
            return None
        if not any(name in renderer for name in SOFTWARE_RENDERERS):
            return None
        if gl.glGetIntegerv(gl.GL_SAMPLES)[0]:
            # a multisampled window (made before display/window.py's settings, e.g. by another app in
            # the same process): what a partial copy shows is not what a whole frame shows at the edges
            return None
        glx = _glx()
        if glx is None:
            return None
        presenter = cls(window, *glx)
        log.info("presenting moving regions only (%s)", renderer.decode(errors="replace"))
        return presenter

    def uninstall(self) -> None:
        window = self.window
        window.on_draw = self._draw
        window.flip = self._flip
        window.unbind(on_resize=self.invalidate, on_rotate=self.invalidate)
        window.canvas.before.remove(self._scissor)
        window.canvas.after.remove(self._pop)
        self.window.canvas.ask_update()

    # -- what moves ------------------------------------------------------------------------

    def watch(self, reels: list[Any]) -> None:
        """The reels that move from now on; the next frame is drawn whole."""
        self.reels = list(reels)
        self.invalidate()

    def invalidate(self, *_args: Any) -> None:
        """Draw and show the next frame whole."""
        self._full_next = True

    # -- the frame -------------------------------------------------------------------------

    def _full_box(self) -> Box:
        width, height = (int(v) for v in self.window.system_size)
        return 0, 0, width, height

    def changed_reels(self) -> list[Box] | None:
        """The rectangles of the reels that changed, if nothing else did; None when something else did."""
        from kivy.core.window import Window

        window = self.window
        allowed: dict[int, Any] = {}
        ancestors: set[int] = {id(window.canvas)}
        for reel in self.reels:
            widget, chain = reel, []
            while widget is not None and widget is not Window:
                chain.append(widget)
                widget = widget.parent
            if widget is None:
                continue  # not on screen
            allowed[id(reel.canvas)] = reel
            ancestors.update(id(w.canvas) for w in chain[1:])
        boxes: list[Box] = []
        stack = [window.canvas]
        while stack:
            canvas = stack.pop()
            reel = allowed.get(id(canvas))
            if reel is not None:
                scissor = reel._scissor  # noqa: SLF001 - the reel's own clip, in framebuffer pixels
                boxes.append((int(scissor.x), int(scissor.y), int(scissor.width), int(scissor.height)))
                continue
            if id(canvas) not in ancestors:
                return None  # a change outside the moving reels
            flagged = [c for c in _subcanvases(canvas) if c.needs_redraw]
            if not flagged:
                return None  # this canvas itself changed (a widget added or removed, a new projection)
            stack.extend(flagged)
        return boxes

    def _on_draw(self, *args: Any) -> None:
        from kivy.graphics import opengl as gl

        boxes = None if self._full_next else self.changed_reels()
        self._full_next = False
        if not boxes:
            self._shown = None
            self._scissor.x, self._scissor.y, self._scissor.width, self._scissor.height = self._full_box()
            self._draw(*args)
            self.full_frames += 1
            self.last_boxes = None
            return
        clear = self.window.clearcolor
        for box in boxes:
            self._scissor.x, self._scissor.y, self._scissor.width, self._scissor.height = box
            # Clear the colour alone, inside the box: the board uses no depth or stencil, and a
            # scissored clear of those too costs llvmpipe a shaded pass over the box with depth and
            # stencil writes (measured: ~a quarter of a scrolling frame).
            gl.glEnable(gl.GL_SCISSOR_TEST)
            gl.glScissor(*box)
            gl.glClearColor(*clear)
            gl.glClear(gl.GL_COLOR_BUFFER_BIT)
            self.window.render_context.draw()
        self._shown = boxes
        self.last_boxes = boxes
        self.partial_frames += 1

    def _on_flip(self, *_args: Any) -> None:
        shown, self._shown = self._shown, None
        if shown is None:
            # A whole frame goes through Kivy's own swap: Mesa's software GLX copies the back buffer
            # to the window and keeps it (what the partial frames build on), and re-reads the
            # window's size, which a copy of part of the buffer does not.
            self._flip()
            return
        for x, y, width, height in shown:
            self._copy(self._display, self._drawable, x, y, width, height)


def _subcanvases(canvas: Any) -> list[Any]:
    """The canvases drawn as part of ``canvas``: its before and after groups and its child canvases."""
    from kivy.graphics.instructions import CanvasBase

    out = [c for c in canvas.children if isinstance(c, CanvasBase)]
    if getattr(canvas, "has_before", False):
        out.append(canvas.before)
    if getattr(canvas, "has_after", False):
        out.append(canvas.after)
    return out
