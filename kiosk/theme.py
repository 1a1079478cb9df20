"""Type scales, touch-target sizes and colours of the kiosk (MIIT 2021 适老化 rules), as plain data.

Two scales: ``ELDER`` (the default on a station) and ``NORMAL``. Sizes are in dp. The rules
checked by :func:`check_scale` and :func:`check_palette`: in elder mode the largest text on a
main screen is at least 30 dp, body text at least 18 dp, touch targets at least 60x60 dp
(44x44 in normal mode); every text/background pair used reaches a contrast ratio of 4.5:1.
Colour is never the only cue: every coloured state also carries a word (``已选``, ``全职``...).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Sizes in dp for one mode."""

    name: str
    title: float  # the screen's title and the largest text on main screens
    main: float  # main text on main screens (tile labels, job titles, salaries)
    body: float  # running text, card details
    small: float  # secondary notes (never below 18 dp in elder mode)
    target: float  # minimum height/width of anything tappable
    key: float  # height of a keyboard/keypad key
    pad: float
    spacing: float
    line_height: float


ELDER = Scale("elder", title=46, main=36, body=28, small=22, target=84, key=96, pad=20, spacing=16,
              line_height=1.35)
NORMAL = Scale("normal", title=36, main=28, body=22, small=17, target=60, key=76, pad=14, spacing=10,
               line_height=1.3)

SCALES = {"elder": ELDER, "normal": NORMAL}

# MIIT 2021: in elder mode main text >= 18 dp, the largest text on main screens >= 30 dp,
# targets >= 60x60 dp; otherwise targets >= 44x44 dp.
RULES = {
    "elder": {"title": 30.0, "body": 18.0, "small": 18.0, "target": 60.0},
    "normal": {"title": 24.0, "body": 14.0, "small": 12.0, "target": 44.0},
}
MIN_LINE_HEIGHT = 1.3
MIN_CONTRAST = 4.5


def check_scale(scale: Scale) -> list[str]:
    """What breaks the rules in ``scale`` (empty list = compliant)."""
    rules = RULES[scale.name]
    problems = [f"{scale.name}.{key} = {getattr(scale, key)} dp < {limit} dp"
                for key, limit in rules.items() if getattr(scale, key) < limit]
    if scale.key < rules["target"]:
        problems.append(f"{scale.name}.key = {scale.key} dp < {rules['target']} dp")
    if scale.line_height < MIN_LINE_HEIGHT:
        problems.append(f"{scale.name}.line_height = {scale.line_height} < {MIN_LINE_HEIGHT}")
    return problems


def hex_to_rgba(value: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    value = value.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, alpha)


def relative_luminance(value: str) -> float:
    """WCAG 2 relative luminance of an sRGB colour ``#rrggbb``."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = hex_to_rgba(value)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio between two colours (1.0 .. 21.0)."""
    a, b = relative_luminance(foreground), relative_luminance(background)
    light, dark = max(a, b), min(a, b)
    return (light + 0.05) / (dark + 0.05)


@dataclass(frozen=True)
class Palette:
    background: str = "#F3F0E8"  # warm paper: less glare than pure white
    surface: str = "#FFFFFF"
    text: str = "#1A1A1A"
    muted: str = "#45484D"
    primary: str = "#0B4F9C"  # buttons, selected chips (white text on it)
    on_primary: str = "#FFFFFF"
    secondary: str = "#DCE6F2"  # unselected chips, secondary buttons (dark text on it)
    on_secondary: str = "#0B2E57"
    gig: str = "#9A3D00"  # 零工 badge (always with the word 零工)
    on_gig: str = "#FFFFFF"
    good: str = "#1B6121"
    on_good: str = "#FFFFFF"
    danger: str = "#A3161C"
    on_danger: str = "#FFFFFF"
    notice: str = "#FFF1BF"  # offline banner, device messages
    on_notice: str = "#4A3800"
    urgent: str = "#A3161C"
    on_urgent: str = "#FFFFFF"
    header: str = "#0B3D78"
    on_header: str = "#FFFFFF"
    border: str = "#8A8F98"
    salary: str = "#A3161C"  # salary figures, on surface

    def pairs(self) -> list[tuple[str, str, str]]:
        """(name, foreground, background) for every text/background combination the kiosk uses."""
        return [
            ("text/background", self.text, self.background),
            ("text/surface", self.text, self.surface),
            ("muted/surface", self.muted, self.surface),
            ("muted/background", self.muted, self.background),
            ("on_primary/primary", self.on_primary, self.primary),
            ("on_secondary/secondary", self.on_secondary, self.secondary),
            ("on_gig/gig", self.on_gig, self.gig),
            ("on_good/good", self.on_good, self.good),
            ("on_danger/danger", self.on_danger, self.danger),
            ("on_notice/notice", self.on_notice, self.notice),
            ("on_urgent/urgent", self.on_urgent, self.urgent),
            ("on_header/header", self.on_header, self.header),
            ("salary/surface", self.salary, self.surface),
            ("primary/surface", self.primary, self.surface),
        ]


PALETTE = Palette()


def check_palette(palette: Palette = PALETTE) -> list[str]:
    """Every text/background pair below 4.5:1 (empty list = compliant)."""
    return [f"{name}: {contrast_ratio(fg, bg):.2f}:1 < {MIN_CONTRAST}:1"
            for name, fg, bg in palette.pairs() if contrast_ratio(fg, bg) < MIN_CONTRAST]
