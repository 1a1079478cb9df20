"""The live theme the .kv files bind to (``app.theme.body``, ``app.theme.c_primary``...).

Switching between elder and normal mode changes these properties and every widget that
binds to them follows at once, on every screen.
"""

from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty

from kiosk.theme import ELDER, NORMAL, PALETTE, Scale, hex_to_rgba


class Theme(EventDispatcher):
    elder = BooleanProperty(True)
    mode = StringProperty("elder")
    title = NumericProperty(dp(ELDER.title))
    main = NumericProperty(dp(ELDER.main))
    body = NumericProperty(dp(ELDER.body))
    small = NumericProperty(dp(ELDER.small))
    target = NumericProperty(dp(ELDER.target))
    key = NumericProperty(dp(ELDER.key))
    pad = NumericProperty(dp(ELDER.pad))
    spacing = NumericProperty(dp(ELDER.spacing))
    line_height = NumericProperty(ELDER.line_height)
    radius = NumericProperty(dp(12))

    c_background = ColorProperty(hex_to_rgba(PALETTE.background))
    c_surface = ColorProperty(hex_to_rgba(PALETTE.surface))
    c_text = ColorProperty(hex_to_rgba(PALETTE.text))
    c_muted = ColorProperty(hex_to_rgba(PALETTE.muted))
    c_primary = ColorProperty(hex_to_rgba(PALETTE.primary))
    c_on_primary = ColorProperty(hex_to_rgba(PALETTE.on_primary))
    c_secondary = ColorProperty(hex_to_rgba(PALETTE.secondary))
    c_on_secondary = ColorProperty(hex_to_rgba(PALETTE.on_secondary))
    c_gig = ColorProperty(hex_to_rgba(PALETTE.gig))
    c_on_gig = ColorProperty(hex_to_rgba(PALETTE.on_gig))
    c_good = ColorProperty(hex_to_rgba(PALETTE.good))
    c_on_good = ColorProperty(hex_to_rgba(PALETTE.on_good))
    c_danger = ColorProperty(hex_to_rgba(PALETTE.danger))
    c_on_danger = ColorProperty(hex_to_rgba(PALETTE.on_danger))
    c_notice = ColorProperty(hex_to_rgba(PALETTE.notice))
    c_on_notice = ColorProperty(hex_to_rgba(PALETTE.on_notice))
    c_urgent = ColorProperty(hex_to_rgba(PALETTE.urgent))
    c_on_urgent = ColorProperty(hex_to_rgba(PALETTE.on_urgent))
    c_header = ColorProperty(hex_to_rgba(PALETTE.header))
    c_on_header = ColorProperty(hex_to_rgba(PALETTE.on_header))
    c_border = ColorProperty(hex_to_rgba(PALETTE.border))
    c_salary = ColorProperty(hex_to_rgba(PALETTE.salary))

    def __init__(self, elder: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_elder(elder)

    def set_elder(self, elder: bool) -> None:
        self.apply(ELDER if elder else NORMAL)

    def apply(self, scale: Scale) -> None:
        for name in ("title", "main", "body", "small", "target", "key", "pad", "spacing"):
            setattr(self, name, dp(getattr(scale, name)))
        self.line_height = scale.line_height
        self.mode = scale.name
        self.elder = scale.name == "elder"

    def bg(self, role: str) -> list[float]:
        """Background colour of a button or chip of ``role``."""
        return {"primary": self.c_primary, "secondary": self.c_secondary, "danger": self.c_danger,
                "good": self.c_good, "gig": self.c_gig, "plain": self.c_surface}.get(role, self.c_primary)

    def bg_state(self, role: str, down: bool) -> list[float]:
        """:meth:`bg`, darkened while pressed (the text stays readable on it)."""
        r, g, b, a = self.bg(role)
        if not down:
            return [r, g, b, a]
        if role in ("plain", "secondary"):
            return [r * 0.85, g * 0.85, b * 0.85, a]
        return [r * 0.7, g * 0.7, b * 0.7, a]

    def fg(self, role: str) -> list[float]:
        """Text colour on :meth:`bg` of ``role`` (every pair is checked for 4.5:1)."""
        return {"primary": self.c_on_primary, "secondary": self.c_on_secondary, "danger": self.c_on_danger,
                "good": self.c_on_good, "gig": self.c_on_gig, "plain": self.c_text}.get(role, self.c_on_primary)

    def scale(self) -> Scale:
        return ELDER if self.elder else NORMAL
