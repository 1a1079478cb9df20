"""Basic kiosk widgets: wrapped labels, big buttons, chips and chip groups, tiles, panels, job cards.

Every size and colour binds to ``app.theme`` (see :mod:`kiosk.style`), so the elder/normal
switch resizes all of them at once. Selection is never shown by colour alone: a selected
chip also carries a check mark (✓).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.recycleview.views import RecycleDataViewBehavior
from kivy.uix.scrollview import ScrollView
from kivy.uix.stacklayout import StackLayout

from kiosk.widgets import load_kv

ROLES = ("primary", "secondary", "danger", "good", "gig", "plain")


class ThemeFont:
    """Text that follows the theme's ``default_size`` ("body", "main") unless a rule gives it another.

    The size must not be bound in both the class rule and an instance rule: when the type size
    changes, both bindings fire in an order Kivy does not promise, and a heading could end up
    with body size after 改为标准字 and back. So the default is set here, in Python, and
    followed only by labels whose rule did not set a size of their own.
    """

    default_size = "body"

    def __init__(self, **kwargs: Any) -> None:
        app = App.get_running_app()
        if app is not None and "font_size" not in kwargs:
            kwargs["font_size"] = getattr(app.theme, self.default_size)
        super().__init__(**kwargs)

    def on_kv_post(self, base_widget: Any) -> None:
        app = App.get_running_app()
        if app is not None and self.font_size == getattr(app.theme, self.default_size):
            app.theme.fbind(self.default_size, self._follow_theme)

    def _follow_theme(self, _theme: Any, value: float) -> None:
        self.font_size = value


class WrapLabel(ThemeFont, Label):
    """A label that wraps to its width and grows to fit its text."""


class Panel(BoxLayout):
    """A white card with a border."""


class Reveal(BoxLayout):
    """A vertical box whose children are taken out of the widget tree while ``shown`` is False.

    Hiding by height 0 or opacity 0 is not enough in Kivy: the children keep their own size,
    still draw (at a cost) and - when disabled - swallow touches meant for what is under them.
    """

    shown = BooleanProperty(True)

    def __init__(self, **kwargs: Any) -> None:
        self._kept: list[Any] = []
        super().__init__(**kwargs)

    def add_widget(self, widget: Any, *args: Any, **kwargs: Any) -> None:
        if not self.shown:
            self._kept.append(widget)
            return
        super().add_widget(widget, *args, **kwargs)

    def on_shown(self, _widget: Any, shown: bool) -> None:
        if shown:
            kept, self._kept = self._kept, []
            for widget in kept:
                super().add_widget(widget)
        else:
            self._kept = list(reversed(self.children))
            self.clear_widgets()


class FitScroll(ScrollView):
    """Holds a screen's layout: the layout fills the screen when it fits and scrolls when it does not.

    The layout gets ``max(own height, its minimum height)``; flexible parts (lists) keep
    their ``size_hint_min_y``. Scrolling is switched on only when there is something to
    scroll, so that on screens that fit, a tap reaches its button at once (a ScrollView that
    may scroll holds every touch back for ``scroll_timeout`` to see whether it is a swipe).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from kivy.effects.scroll import ScrollEffect

        self.do_scroll_x = False
        self.do_scroll_y = False
        self.effect_cls = ScrollEffect  # no bounce: elderly users read a bounce as "broken"
        self.bind(height=self._fit)

    @property
    def content(self) -> Any:
        return self.children[0] if self.children else None

    def add_widget(self, widget: Any, *args: Any, **kwargs: Any) -> None:
        widget.size_hint_y = None
        if hasattr(widget, "minimum_height"):
            widget.bind(minimum_height=self._fit)
        super().add_widget(widget, *args, **kwargs)
        self._fit()

    def _fit(self, *_: Any) -> None:
        content = self.content
        if content is None:
            return
        need = getattr(content, "minimum_height", 0)
        content.height = max(self.height, need)
        scrolls = need > self.height + 1
        if scrolls != self.do_scroll_y:
            self.do_scroll_y = scrolls
            if not scrolls:
                self.scroll_y = 1

    @property
    def scrolls(self) -> bool:
        return bool(self.do_scroll_y)


class BigButton(ThemeFont, ButtonBehavior, Label):
    """A large button. ``role`` picks its colours; the label always says what it does."""

    default_size = "main"

    role = OptionProperty("primary", options=ROLES)
    bold = BooleanProperty(True)
    # Set these instead of ``height`` (a second rule on height would fight the class rule).
    min_height = NumericProperty(0)  # 0 = the theme's touch target
    collapsed = BooleanProperty(False)  # hidden: no height, no touches

    def on_touch_down(self, touch: Any) -> bool:
        if self.collapsed:
            return False
        return super().on_touch_down(touch)


class Chip(ButtonBehavior, Label):
    """A choice shown as a pill; a selected chip is filled and carries ✓."""

    selected = BooleanProperty(False)
    label = StringProperty("")
    value = ObjectProperty(None, allownone=True)


class ChoiceGroup(StackLayout):
    """Chips for ``options`` [(value, label)]; one or (``multiple``) several selected.

    Fires ``on_choice(value)`` when a chip is tapped; the owner decides what is selected
    (by setting ``selected``) so that the state lives in one place.
    """

    options = ListProperty([])
    selected = ObjectProperty(None, allownone=True)  # a value, or a list of values when multiple
    multiple = BooleanProperty(False)
    chip_font = NumericProperty(0)  # 0 = the theme's body size
    __events__ = ("on_choice",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(options=self._rebuild, selected=self._mark, chip_font=self._apply_font)
        app = App.get_running_app()
        if app is not None:
            app.theme.bind(body=self._apply_font)
        self._rebuild()

    def _rebuild(self, *_: Any) -> None:
        self.clear_widgets()
        for value, label in self.options:
            chip = Chip(label=label, value=value)
            chip.bind(on_release=self._tapped)
            self.add_widget(chip)
        self._apply_font()
        self._mark()

    def _apply_font(self, *_: Any) -> None:
        app = App.get_running_app()
        size = self.chip_font or (app.theme.body if app is not None else 20)
        for chip in self.children:
            chip.font_size = size

    def _mark(self, *_: Any) -> None:
        chosen = self.selected if isinstance(self.selected, (list, tuple)) else [self.selected]
        for chip in self.children:
            chip.selected = chip.value in chosen

    def _tapped(self, chip: Chip) -> None:
        self.dispatch("on_choice", chip.value)

    def on_choice(self, value: Any) -> None:
        pass

    def chip_for(self, value: Any) -> Chip | None:
        return next((c for c in self.children if c.value == value), None)


class Tile(ButtonBehavior, BoxLayout):
    """A home-screen tile: a drawn pictogram (kiosk/widgets/pictos.py), a label and a count line."""

    icon = StringProperty("jobs")
    label = StringProperty("")
    note = StringProperty("")
    role = OptionProperty("primary", options=ROLES)


class JobCard(RecycleDataViewBehavior, ButtonBehavior, BoxLayout):
    """One job in a list: title and salary on top, employer, then kind, distance and date."""

    job_id = StringProperty("")
    title = StringProperty("")
    employer = StringProperty("")
    salary = StringProperty("")
    kind = StringProperty("")
    details = StringProperty("")
    index = NumericProperty(0)

    def refresh_view_attrs(self, rv: Any, index: int, data: dict[str, Any]) -> Any:
        self.index = index
        return super().refresh_view_attrs(rv, index, data)

    def on_release(self) -> None:
        app = App.get_running_app()
        if app is not None and self.job_id:
            app.open_job(self.job_id)


load_kv(Path(__file__).with_suffix(".kv"))
