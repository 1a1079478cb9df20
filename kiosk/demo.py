"""The scripted tour of the kiosk (``yizhan kiosk --script demo``), as a resident would go through it.

home -> 找工作 -> "bj" -> a job -> 打印 -> an ID card is placed -> recommendations ->
我要登记 -> 求职登记 (phone, choices, consent) -> 登记成功. A screenshot of every screen is
saved. Each step taps real buttons through the window's input path (see kiosk.driver).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.driver import Driver

log = logging.getLogger("kiosk.demo")
DEMO_PHONE = "13800138000"  # the well-known test number, not a person's


class TourTimeout(Exception):
    pass


def run_tour(driver: Driver, shots: Path, *, place_card: Callable[[int], object] | None = None,
             remove_card: Callable[[], object] | None = None, deadline: float | None = None) -> list[Path]:
    """Drive the tour; returns the screenshots saved (fewer if ``deadline`` passes first)."""
    app = driver.app
    saved: list[Path] = []
    shots.mkdir(parents=True, exist_ok=True)

    def shot(name: str) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise TourTimeout(name)
        driver.pump(0.2)
        saved.append(driver.screenshot(shots / f"{len(saved) + 1:02d}-{name}.png"))
        log.info("tour: %s", name)

    try:
        shot("home")
        driver.tap(app.sm.get_screen("home").ids.tile_jobs)
        shot("jobs")
        driver.type_letters("bj")
        shot("jobs-bj")
        driver.tap(driver.find(cls="JobCard")[0])
        driver.until(lambda: app.screen_name == "job", what="the job detail")
        shot("job")
        driver.tap(app.screen.ids.print_button)
        driver.until(lambda: "打印" in app.notice_text or "排队" in app.notice_text, what="the print message")
        driver.pump(1.0)
        shot("job-printed")
        if place_card is not None:
            place_card(0)
            driver.until(lambda: app.screen_name == "resident", timeout=10, what="the ID card greeting")
            shot("resident")
            driver.tap(app.screen.ids.register_button)
            shot("register")
            driver.tap(driver.button("求职登记", exact=False))
            form = app.screen
            for digit in DEMO_PHONE:
                driver.tap(form.ids.keypad.key(digit), frames=1)
            shot("form-phone")
            driver.tap(form.ids.next_button)
            for value in ("保洁", "家政"):
                driver.tap(form.ids.choices.chip_for(value))
            shot("form-categories")
            driver.tap(form.ids.next_button)
            driver.tap(form.ids.choices.chip_for("3000-5000元"))
            driver.tap(form.ids.next_button)
            driver.tap(form.ids.choices.children[-1])  # 马上就可以
            driver.tap(form.ids.next_button)
            driver.until(lambda: app.screen_name == "consent", what="the consent notice")
            shot("consent")
            driver.tap(app.screen.ids.accept_button)
            driver.until(lambda: app.screen_name == "done", what="the confirmation")
            driver.pump(1.0)
            shot("done")
            if remove_card is not None:
                remove_card()
            driver.tap(app.screen.ids.finish_button)
            shot("rating")  # 好差评 at the end of the service
            driver.tap(app.rating.ids.skip_rating_button)
            shot("home-after")
        landscape_tour(driver, shot, place_card=place_card, remove_card=remove_card)
    except TourTimeout as stopped:
        log.warning("tour: stopped at %s (--run-seconds reached)", stopped)
    return saved


def landscape_tour(driver: Driver, shot: Callable[[str], None], *, place_card: Callable[[int], object] | None,
                   remove_card: Callable[[], object] | None) -> None:
    """The same kiosk on a landscape 1920x1080 screen (the window is turned, the app follows)."""
    from kivy.core.window import Window

    app = driver.app
    Window.size = (1920, 1080)
    driver.until(lambda: tuple(Window.size) == (1920, 1080) and app.wide, what="the landscape window")
    app.go_home()
    shot("landscape-home")
    driver.tap(app.sm.get_screen("home").ids.tile_jobs)
    driver.type_letters("bj")
    shot("landscape-jobs-bj")
    if place_card is None:
        return
    if remove_card is not None:
        remove_card()
        driver.pump(0.8)
    place_card(1)
    driver.until(lambda: app.screen_name == "resident", timeout=10, what="the ID card greeting")
    shot("landscape-resident")
    driver.tap(app.screen.ids.register_button)
    shot("landscape-register")
    def reach(widget):  # on a short screen the page scrolls: bring the widget into view first
        fit = getattr(app.screen, "fit", None)
        if fit is not None and fit.do_scroll_y:
            fit.scroll_to(widget, padding=0, animate=False)
            driver.pump(frames=2)
        driver.tap(widget, frames=1)

    reach(next(w for w in driver.walk(app.screen) if "失业登记" in str(getattr(w, "text", ""))))
    for digit in DEMO_PHONE:
        reach(app.screen.ids.keypad.key(digit))
    shot("landscape-form-phone")
    reach(app.screen.ids.next_button)
    shot("landscape-form-choices")
    app.end_visit()
    if remove_card is not None:
        remove_card()
