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

A list that moves by less than half its height (a scroll step, a frame of a page's glide) is
not even redrawn: its pixels already on the screen are moved by the X server (``XCopyArea`` on
the window, a memory move inside the server) and only the rows that entered, a strip as wide
as the step, are drawn and copied. The reel's
offset only ever moves by whole pixels and the rows are drawn at whole pixels, so the moved
picture is exactly the one a whole redraw makes (tests/display/test_board_player.py compares
them). The back buffer's copy of the list goes stale meanwhile; nothing shows it (whole frames
redraw everything, other partial frames show their own rectangles), and every
``REFRESH_COPIES`` moved frames the list is redrawn whole, which also heals a window the X
server lost (an expose).

What changed is read from Kivy's own canvas flags (a canvas changed since it was last drawn
``needs_redraw``): the flagged canvases are walked from the window down; a flagged canvas
that is neither a moving reel nor on the way to one means something else changed (the
clock's minute, a new segment, a video frame), and that frame is drawn and shown whole.
Window size or rotation changes, and any change of the reels driven, do the same.

Only used with Mesa's software renderers under GLX and its ``GLX_MESA_copy_sub_buffer``
extension, on a window without multisampling (display/window.py turns it off); elsewhere (a
GPU, EGL/Wayland) Kivy's own redraw and swap stay in place. ``YIZHAN_BOARD_PARTIAL=0`` in
the environment turns it off; ``YIZHAN_BOARD_MOVE=0`` keeps the partial frames but redraws a
scrolling list's whole rectangle instead of moving its pixels.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
from typing import Any

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x, y, width, height in framebuffer pixels (origin bottom left)
Move = tuple[Box, int, int]  # a reel's rectangle and how far its picture moves (x right, y up)
REFRESH_COPIES = 600  # moved frames between whole redraws of a list (10 s at 60 fps)
SOFTWARE_RENDERERS = (b"llvmpipe", b"softpipe", b"swrast")


class GlxScreen:
    """The GL window as Xlib sees it: part of the back buffer shown, pixels moved inside the window."""

    def __init__(self, copy_sub: Any, libx11: Any, display: int, drawable: int) -> None:
        self._copy_sub = copy_sub
        self._x = libx11
        self.display = display
        self.drawable = drawable
        self._gc: int | None = None

    def show(self, box: Box) -> None:
        """Copy ``box`` of the back buffer (framebuffer pixels, origin bottom left) to the window."""
        self._copy_sub(self.display, self.drawable, *box)

    def move(self, src_x: int, src_y: int, width: int, height: int, dst_x: int, dst_y: int) -> None:
        """Move pixels inside the window (X coordinates: origin top left)."""
        if self._gc is None:
            self._gc = self._x.XCreateGC(self.display, self.drawable, 0, None)
            self._x.XSetGraphicsExposures(self.display, self._gc, 0)  # no NoExpose events for SDL to read
        self._x.XCopyArea(self.display, self.drawable, self.drawable, self._gc, src_x, src_y, width, height,
                          dst_x, dst_y)

    def flush(self) -> None:
        self._x.XFlush(self.display)


def _glx() -> GlxScreen | None:
    """The current GL context's window, if it is Mesa's GLX with ``GLX_MESA_copy_sub_buffer``."""
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
    libx11.XCreateGC.restype = ctypes.c_void_p
    libx11.XCreateGC.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_void_p]
    libx11.XSetGraphicsExposures.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    libx11.XCopyArea.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_uint, ctypes.c_uint, ctypes.c_int, ctypes.c_int]
    libx11.XFlush.argtypes = [ctypes.c_void_p]
    extensions = libgl.glXQueryExtensionsString(display, libx11.XDefaultScreen(display)) or b""
    if b"GLX_MESA_copy_sub_buffer" not in extensions.split():
        return None
    address = libgl.glXGetProcAddressARB(b"glXCopySubBufferMESA")
    if not address:
        return None
    prototype = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_int)
    return GlxScreen(prototype(address), libx11, display, drawable)


def shift_of(reel: Any, delta: int, rotation: int) -> tuple[int, int]:
    """How far a reel's picture moves in framebuffer pixels (x right, y up) when its offset grows by ``delta``."""
    dx, dy = (0, delta) if reel.axis == "y" else (-delta, 0)  # a list moves up, a ticker left
    angle = math.radians(rotation % 360)
    cos, sin = round(math.cos(angle)), round(math.sin(angle))  # Kivy turns the picture by right angles only
    return dx * cos - dy * sin, dx * sin + dy * cos


def entering(box: Box, sx: int, sy: int) -> Box:
    """The strip of ``box`` that a move by (sx, sy) leaves to be drawn (framebuffer pixels)."""
    x, y, w, h = box
    if sx > 0:
        return x, y, sx, h
    if sx < 0:
        return x + w + sx, y, -sx, h
    if sy > 0:
        return x, y, w, sy
    return x, y + h + sy, w, -sy


class Presenter:
    """Draws and shows only the moving reels' rectangles when nothing else changed (see module docstring)."""

    def __init__(self, window: Any, screen: GlxScreen) -> None:
        from kivy.graphics.scissor_instructions import ScissorPop, ScissorPush

        self.window = window
        self.screen = screen
        self.reels: list[Any] = []
        self.partial_frames = 0
        self.full_frames = 0
        self.moved_frames = 0  # partial frames in which a list's pixels were moved, not redrawn
        self.last_boxes: list[Box] | None = None  # what the last frame changed (None: the whole window)
        self.last_drawn: list[Box] | None = None  # what the last frame drew (None: the whole window)
        self._full_next = True
        self._shown: list[Box] | None = None  # what the frame just drawn needs shown; None: all
        self._moves: list[Move] = []  # pixels the X server moves before the frame is shown
        self._seen: dict[int, tuple[int, int]] = {}  # reel -> (generation, offset) on the screen
        self._copies = 0  # moved frames since the lists were last redrawn whole
        # YIZHAN_BOARD_MOVE=0: redraw a scrolling list's rectangle every frame instead (for comparison)
        self.move_pixels = os.environ.get("YIZHAN_BOARD_MOVE", "1") != "0"
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
        window.bind(on_resize=self.invalidate, on_rotate=self.invalidate, on_show=self.invalidate,
                    on_restore=self.invalidate)

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
        presenter = cls(window, glx)
        log.info("presenting moving regions only (%s)", renderer.decode(errors="replace"))
        return presenter

    def uninstall(self) -> None:
        window = self.window
        window.on_draw = self._draw
        window.flip = self._flip
        window.unbind(on_resize=self.invalidate, on_rotate=self.invalidate, on_show=self.invalidate,
                      on_restore=self.invalidate)
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

    def changed_reels(self) -> list[tuple[Any, Box]] | None:
        """The reels that changed with their rectangles, if nothing else did; None when something else did."""
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
        boxes: list[tuple[Any, Box]] = []
        stack = [window.canvas]
        while stack:
            canvas = stack.pop()
            reel = allowed.get(id(canvas))
            if reel is not None:
                scissor = reel._scissor  # noqa: SLF001 - the reel's own clip, in framebuffer pixels
                boxes.append((reel, (int(scissor.x), int(scissor.y), int(scissor.width), int(scissor.height))))
                continue
            if id(canvas) not in ancestors:
                return None  # a change outside the moving reels
            flagged = [c for c in _subcanvases(canvas) if c.needs_redraw]
            if not flagged:
                return None  # this canvas itself changed (a widget added or removed, a new projection)
            stack.extend(flagged)
        return boxes

    def _move_of(self, reel: Any, box: Box) -> Move | None:
        """How the reel's pixels on the screen move to show its new offset; None if it must be redrawn."""
        seen = self._seen.get(id(reel))
        if (not self.move_pixels or seen is None or seen[0] != reel.generation or not reel.moves
                or self._copies >= REFRESH_COPIES):
            return None
        delta = (reel.offset - seen[1]) % reel.track.total
        sx, sy = shift_of(reel, delta, int(self.window.rotation))
        if not (sx or sy) or 2 * abs(sx) > box[2] or 2 * abs(sy) > box[3]:
            return None  # nothing moved (something else in the list changed), or most of it is new
        return box, sx, sy

    def _remember(self) -> None:
        self._seen = {id(reel): (reel.generation, reel.offset) for reel in self.reels}

    def _on_draw(self, *args: Any) -> None:
        from kivy.graphics import opengl as gl

        changed = None if self._full_next else self.changed_reels()
        self._full_next = False
        if not changed:
            self._shown = None
            self._moves = []
            self._scissor.x, self._scissor.y, self._scissor.width, self._scissor.height = self._full_box()
            self._draw(*args)
            self.full_frames += 1
            self.last_boxes = self.last_drawn = None
            self._copies = 0
            self._remember()
            return
        moves: list[Move] = []
        drawn: list[Box] = []
        for reel, box in changed:
            move = self._move_of(reel, box)
            if move is None:
                drawn.append(box)
            else:
                moves.append(move)
                drawn.append(entering(*move))
        self._copies = self._copies + 1 if moves and len(drawn) == len(moves) else 0
        clear = self.window.clearcolor
        for box in drawn:
            self._scissor.x, self._scissor.y, self._scissor.width, self._scissor.height = box
            # Clear the colour alone, inside the box: the board uses no depth or stencil, and a
            # scissored clear of those too costs llvmpipe a shaded pass over the box with depth and
            # stencil writes (measured: ~a quarter of a scrolling frame).
            gl.glEnable(gl.GL_SCISSOR_TEST)
            gl.glScissor(*box)
            gl.glClearColor(*clear)
            gl.glClear(gl.GL_COLOR_BUFFER_BIT)
            self.window.render_context.draw()
        self._shown = drawn
        self._moves = moves
        self.last_boxes = [box for _reel, box in changed]
        self.last_drawn = drawn
        self.partial_frames += 1
        self.moved_frames += bool(moves)
        self._remember()

    def _on_flip(self, *_args: Any) -> None:
        shown, self._shown = self._shown, None
        moves, self._moves = self._moves, []
        if shown is None:
            # A whole frame goes through Kivy's own swap: Mesa's software GLX copies the back buffer
            # to the window and keeps it (what the partial frames build on), and re-reads the
            # window's size, which a copy of part of the buffer does not.
            self._flip()
            return
        height = int(self.window.system_size[1])
        for (x, y, w, h), sx, sy in moves:
            # what stays in view, in X's coordinates (origin top left): from where it was to where it goes
            keep_w, keep_h = w - abs(sx), h - abs(sy)
            to_x, to_y = x + max(sx, 0), y + max(sy, 0)
            self.screen.move(to_x - sx, height - (to_y - sy + keep_h), keep_w, keep_h, to_x, height - (to_y + keep_h))
        for box in shown:
            self.screen.show(box)
        if moves:
            self.screen.flush()


def _subcanvases(canvas: Any) -> list[Any]:
    """The canvases drawn as part of ``canvas``: its before and after groups and its child canvases."""
    from kivy.graphics.instructions import CanvasBase

    out = [c for c in canvas.children if isinstance(c, CanvasBase)]
    if getattr(canvas, "has_before", False):
        out.append(canvas.before)
    if getattr(canvas, "has_after", False):
        out.append(canvas.after)
    return out
