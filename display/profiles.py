"""Board profiles as data: screen size and rotation, layout, motion, frame-rate cap, palette, type sizes.

A profile names a kind of board (``tv-1080p``, ``tv-portrait``, ``led-strip``, ``led-panel``).
The station's ``devices.board_screen`` settings pick one and may override its size,
rotation, motion and frame-rate cap; the command line may override those again. Sizes of
type are given for the profile's reference height and scaled to the real screen; LED
boards use bitmap-friendly sizes (12/16/24/32 px) rendered without anti-aliasing, in the
few colours an LED module has.

No Kivy here: the profile is plain data that the player and the tests read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

RGB = tuple[int, int, int]
Layout = Literal["tv", "led-panel", "led-strip"]
Motion = Literal["paged", "scroll"]

LED_FONT_SIZES = (12, 16, 24, 32, 48)


@dataclass(frozen=True)
class Palette:
    """Colours of a board. Everything is drawn opaque on ``background`` (see display/sprites.py)."""

    background: RGB
    text: RGB  # job titles, card titles
    accent: RGB  # salaries, the clock, headings
    muted: RGB  # employers, distances, card bodies
    line: RGB  # separators
    badge: RGB  # the 今日零工 badge and the 通知 tag
    badge_text: RGB
    urgent_background: RGB
    urgent_text: RGB


TV_PALETTE = Palette(
    background=(9, 30, 66), text=(255, 255, 255), accent=(255, 200, 61), muted=(196, 212, 236),
    line=(40, 72, 120), badge=(211, 47, 47), badge_text=(255, 255, 255),  # 4.98:1 (WCAG AA: 4.5)
    urgent_background=(150, 16, 16), urgent_text=(255, 255, 255),
)
# An LED module lights red, green or both (amber): pure colours on black read best.
LED_PALETTE = Palette(
    background=(0, 0, 0), text=(255, 40, 40), accent=(40, 255, 40), muted=(255, 190, 0),
    line=(90, 0, 0), badge=(255, 190, 0), badge_text=(0, 0, 0),
    urgent_background=(0, 0, 0), urgent_text=(255, 190, 0),
)


@dataclass(frozen=True)
class Profile:
    """Everything the player needs to know about one board."""

    name: str
    layout: Layout
    width: int  # the output the board is driven with (before rotation)
    height: int
    rotation: int  # 0, 90, 180, 270: the picture is turned so that a turned screen reads upright
    motion: Motion
    max_fps: int  # cap for everything (page transitions, videos' redraws come from the video itself)
    scroll_fps: int  # cap for continuous scrolling (a moving list costs every frame; see display/present.py)
    palette: Palette
    antialias: bool
    videos: bool  # training videos are played on this board
    reference_height: int  # type sizes below are for this height (of the upright picture's short side)
    title_px: int  # job titles
    body_px: int  # employer, distance, headcount, salary
    header_px: int
    ticker_px: int
    page_s: float  # paged motion: how long a page holds still
    transition_s: float  # paged motion: how long the move to the next page takes
    scroll_px_s: float  # continuous motion: speed at the reference height

    @property
    def upright_size(self) -> tuple[int, int]:
        """Width and height of the picture as a passer-by sees it (after rotation)."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height

    @property
    def scale(self) -> float:
        """How much larger than the reference the type is drawn on this screen."""
        if self.layout != "tv":
            return 1.0
        return max(0.5, min(self.upright_size) / self.reference_height)

    def px(self, size: int) -> int:
        """A type size scaled to this screen (LED sizes are never scaled)."""
        return max(8, round(size * self.scale))


PROFILES: dict[str, Profile] = {
    "tv-1080p": Profile(
        name="tv-1080p", layout="tv", width=1920, height=1080, rotation=0, motion="paged",
        max_fps=60, scroll_fps=60,
        palette=TV_PALETTE, antialias=True, videos=True, reference_height=1080,
        title_px=52, body_px=42, header_px=46, ticker_px=42,
        page_s=12.0, transition_s=0.8, scroll_px_s=60.0),
    # A TV hung on its side, still fed a 1920x1080 signal: the picture is turned by 90 degrees.
    "tv-portrait": Profile(
        name="tv-portrait", layout="tv", width=1920, height=1080, rotation=90, motion="paged",
        max_fps=60, scroll_fps=60,
        palette=TV_PALETTE, antialias=True, videos=True, reference_height=1080,
        title_px=52, body_px=42, header_px=46, ticker_px=42,
        page_s=12.0, transition_s=0.8, scroll_px_s=60.0),
    "led-strip": Profile(
        name="led-strip", layout="led-strip", width=256, height=32, rotation=0, motion="scroll",
        max_fps=30, scroll_fps=30,
        palette=LED_PALETTE, antialias=False, videos=False, reference_height=32,
        title_px=32, body_px=32, header_px=32, ticker_px=32,
        page_s=4.0, transition_s=0.5, scroll_px_s=32.0),
    "led-panel": Profile(
        name="led-panel", layout="led-panel", width=640, height=320, rotation=0, motion="scroll",
        max_fps=30, scroll_fps=30,
        palette=LED_PALETTE, antialias=False, videos=False, reference_height=320,
        title_px=32, body_px=24, header_px=32, ticker_px=32,
        page_s=6.0, transition_s=0.6, scroll_px_s=32.0),
}


def led_font_px(line_height: int) -> int:
    """The largest bitmap-friendly type size whose glyphs fit a line of ``line_height`` pixels."""
    fitting = [s for s in LED_FONT_SIZES if s <= line_height]
    return fitting[-1] if fitting else max(8, line_height)


def _settings_overrides(board_screen: Any) -> dict[str, Any]:
    """The profile keys the settings file actually writes (unwritten keys keep the profile's)."""
    given: dict[str, Any] = {}
    explicit = getattr(board_screen, "model_fields_set", set())
    for key in ("width", "height", "rotation"):
        if key in explicit:
            given[key] = getattr(board_screen, key)
    if getattr(board_screen, "motion", "auto") != "auto":
        given["motion"] = board_screen.motion
    if getattr(board_screen, "max_fps", 0):
        given["max_fps"] = board_screen.max_fps
    return given


def _check_overrides(given: dict[str, Any]) -> None:
    """Refuse overrides out of range, naming the key and the value given."""
    if "rotation" in given and given["rotation"] not in (0, 90, 180, 270):
        raise ValueError(f"rotation must be 0, 90, 180 or 270, got {given['rotation']}")
    if "motion" in given and given["motion"] not in ("paged", "scroll"):
        raise ValueError(f"motion must be auto, paged or scroll, got {given['motion']!r}")
    for key in ("width", "height"):
        if key in given and not 16 <= int(given[key]) <= 7680:
            raise ValueError(f"{key} must be between 16 and 7680 pixels, got {given[key]}")
    if "max_fps" in given and not 1 <= int(given["max_fps"]) <= 120:
        raise ValueError(f"max_fps must be between 1 and 120, got {given['max_fps']}")


def resolve_profile(board_screen: Any = None, *, profile: str | None = None, width: int | None = None,
                    height: int | None = None, rotation: int | None = None, motion: str | None = None,
                    max_fps: int | None = None) -> Profile:
    """The profile for this board: the named profile, then the settings' explicit keys, then overrides.

    ``board_screen`` is ``settings.devices.board_screen``; only the keys actually written in the
    settings file override the profile (so ``profile = "led-strip"`` alone gives a 256x32 strip),
    and only for the profile the settings name (a different ``profile`` argument starts from
    that profile's own defaults).
    """
    configured = getattr(board_screen, "profile", None)
    given: dict[str, Any] = {}
    if board_screen is not None and (profile is None or profile == configured):
        given = _settings_overrides(board_screen)
    name = profile or configured or "tv-1080p"
    if name not in PROFILES:
        raise ValueError(f"unknown board profile {name!r}; one of {', '.join(PROFILES)}")
    for key, value in (("width", width), ("height", height), ("rotation", rotation), ("motion", motion),
                       ("max_fps", max_fps)):
        if value is not None and value != "auto" and value != 0:
            given[key] = value
        elif key == "rotation" and value == 0:
            given[key] = 0
    _check_overrides(given)
    if "max_fps" in given:
        given["scroll_fps"] = given["max_fps"]  # one cap for everything when the station sets one
    chosen = replace(PROFILES[name], **given)
    if "rotation" not in given and chosen.rotation in (90, 270) and chosen.height > chosen.width:
        # A portrait profile on an output that is already portrait (a TV the system drives
        # upright, 1080x1920): turning the picture again would put it on its side.
        chosen = replace(chosen, rotation=0)
    return chosen
