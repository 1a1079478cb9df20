"""What every kiosk screen has: a title, content refreshed on entry, text to read aloud, a reset."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen


class KioskScreen(Screen):
    """Base of all screens.

    ``enter(**params)`` receives what the screen should show before it becomes current;
    ``leave()`` runs before another screen is entered;
    ``speech()`` is what 朗读 reads; ``forget()`` drops anything personal it shows (called on
    the idle reset); ``go_back()`` may handle 返回 inside the screen (form steps) and
    returns False to let the app go to the previous screen.
    """

    title = StringProperty("")
    main_screen = BooleanProperty(False)  # main screens use the largest type
    guarded = BooleanProperty(False)  # holds a form in progress
    # The layout goes into a FitScroll: on a short screen (landscape 1280x800, elder type,
    # every banner showing) it scrolls instead of sliding under the fixed bars.
    fits_or_scrolls = BooleanProperty(True)

    def on_kv_post(self, base_widget: Any) -> None:
        if not self.fits_or_scrolls or len(self.children) != 1:
            return
        from kiosk.widgets.common import FitScroll

        layout = self.children[0]
        self.remove_widget(layout)
        self.fit = FitScroll()
        self.fit.add_widget(layout)
        self.add_widget(self.fit)

    def on_pre_enter(self, *_: Any) -> None:
        fit = getattr(self, "fit", None)
        if fit is not None:
            fit.scroll_y = 1  # every screen starts at its top

    @property
    def app(self) -> Any:
        return App.get_running_app()

    def enter(self, **params: Any) -> None:
        self.refresh()

    def refresh(self) -> None:
        pass

    def leave(self) -> None:
        """Called before the app shows another screen."""

    def speech(self) -> str:
        return self.title

    def forget(self) -> None:
        pass

    def go_back(self) -> bool:
        return False
