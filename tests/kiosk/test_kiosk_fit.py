"""Every kiosk screen fits (or scrolls) on every supported screen size, in both type sizes,
with every banner showing at once: nothing is covered by the fixed bars or cut at an edge.

Typing areas are stricter: where a resident types (the job search's letters and its
handwriting pad, the phone keypad, the staff PIN) the field and every key are on screen
together without scrolling, and the five registration kinds are whole on screen: each of
their rectangles lies inside the visible viewport (the screen's area, and the rectangle of
any scrolling view around it) while the page is at its top.

Judged from the widget tree, not by eye: every widget shown on the current screen lies
inside the screen's area (the space the top bar, the banners and the bottom bar leave),
unless it sits inside a scrolling view, which itself must lie inside that area and be tall
enough to use; no label's text is taller or wider than the label. One window is resized
from size to size (a new window per size would cost seconds each).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_kiosk_flows import fill_form, make_kiosk, place_card  # noqa: F401 - fixture

pytestmark = pytest.mark.display

SIZES = [(1080, 1920), (1920, 1080), (1280, 800), (1366, 768), (800, 1280)]
SCROLLING = ("ScrollView", "RecycleView")


def _rect(widget) -> tuple[float, float, float, float]:
    x0, y0 = widget.to_window(widget.x, widget.y)
    x1, y1 = widget.to_window(widget.right, widget.top)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _inside(inner, outer, tol: float = 1.5) -> bool:
    return (inner[0] >= outer[0] - tol and inner[1] >= outer[1] - tol
            and inner[2] <= outer[2] + tol and inner[3] <= outer[3] + tol)


def _shown(widget) -> bool:
    node = widget
    while node is not None and node.parent is not node:
        if getattr(node, "opacity", 1) == 0 or getattr(node, "collapsed", False):
            return False
        node = node.parent
    return widget.width > 0.5 and widget.height > 0.5


def _text_cut(widget) -> str:
    from kivy.uix.label import Label

    if not isinstance(widget, Label) or not widget.text.strip() or widget.shorten:
        return ""
    widget.texture_update()
    tw, th = widget.texture_size
    if tw > widget.width + 2 or th > widget.height + 2:
        return f"text {tw:.0f}x{th:.0f} in {widget.width:.0f}x{widget.height:.0f}"
    return ""


def fit_problems(app, *, min_scroll: float) -> list[str]:
    """What is covered or cut on the current screen and in the fixed bars (empty = fine)."""
    from kivy.core.window import Window

    problems = []
    area = _rect(app.sm)
    if area[3] - area[1] < min_scroll:
        problems.append(f"screen area only {area[3] - area[1]:.0f} px tall")

    def walk(root, bounds, where):
        # Inside a scrolling view a widget must lie inside the view's content (reachable by
        # scrolling); elsewhere inside ``bounds``.
        stack = [(root, bounds)]
        while stack:
            widget, limit = stack.pop()
            if not _shown(widget):
                continue
            name = f"{where}: {type(widget).__name__} {str(getattr(widget, 'text', ''))[:16]!r}"
            if not _inside(_rect(widget), limit):
                problems.append(f"{name} at {tuple(round(v) for v in _rect(widget))} "
                                f"outside {tuple(round(v) for v in limit)}")
                continue
            scrolling = any(k.__name__ in SCROLLING for k in type(widget).__mro__)
            if scrolling and widget.height < min_scroll and widget.height < widget.children[0].height:
                problems.append(f"{name}: scrolling area {widget.height:.0f} px < {min_scroll:.0f}")
            cut = _text_cut(widget)
            if cut:
                problems.append(f"{name}: {cut}")
            for child in widget.children:
                stack.append((child, _rect(child) if scrolling else limit))

    window = (0, 0, Window.width, Window.height)
    for name, overlay in (("countdown", app.countdown), ("rating", app.rating)):
        if overlay.parent is not None:
            walk(overlay, window, name)
    if app.screen_name != "player":
        walk(app.root.ids.top, window, "top bar")
        walk(app.root.ids.bottom, window, "bottom bar")
    walk(app.root.ids.notices, window, "banners")
    walk(app.screen, area, app.screen_name)
    return problems


# What must be whole on screen, without scrolling, per screen: (field ids, key widget classes).
TYPING = {
    "jobs": (("letters",), ("LetterKey",)),
    "jobs-hand": (("letters",), ("HandwritingPad", "CandidateKey", "PadTool")),
    "gigs": (("letters",), ("LetterKey",)),
    "form-phone": (("phone_box",), ("PadKey",)),
    "staff-pin": (("dots",), ("PadKey",)),
    "register": ((), ("RegisterChoice",)),
}


def typing_problems(app, name: str) -> list[str]:
    """Which field or key of the current screen's typing area is not wholly visible (empty = fine)."""
    if name not in TYPING:
        return []
    field_ids, key_classes = TYPING[name]
    screen = app.screen
    area = _rect(app.sm)
    problems = []
    fit = getattr(screen, "fit", None)
    if fit is not None and fit.scroll_y < 0.999 and fit.scrolls:
        problems.append(f"the page is scrolled (scroll_y {fit.scroll_y:.2f})")
    wanted = [screen.ids[i] for i in field_ids]
    keys = [w for w in screen.walk(restrict=True)
            if any(k.__name__ in key_classes for k in type(w).__mro__)]
    if not keys:
        problems.append(f"no {'/'.join(key_classes)} on screen")
    for widget in wanted + keys:
        label = f"{type(widget).__name__} {str(getattr(widget, 'text', ''))[:8]!r}"
        if not _shown(widget):
            problems.append(f"{label} hidden")
            continue
        viewports = [area] + [_rect(a) for a in _ancestors(widget)
                              if any(k.__name__ in SCROLLING for k in type(a).__mro__)]
        for view in viewports:
            if not _inside(_rect(widget), view):
                problems.append(f"{label} at {tuple(round(v) for v in _rect(widget))} "
                                f"outside the visible {tuple(round(v) for v in view)}")
                break
    return problems


def _ancestors(widget):
    node = widget.parent
    while node is not None and node.parent is not node:
        yield node
        node = node.parent


def visit_every_screen(kiosk, receipt, ids):
    """(name, go) for each screen: ``go()`` shows it as a resident would find it."""
    app = kiosk.app

    def form(step: int):
        def go():
            app.go("form", kind="求职")
            app.session.form.index = step
            app.screen.show()
        return go

    def jobs_conditions():
        app.go("jobs", preset="all")
        app.screen.conditions_open = True

    def countdown():
        app.go("jobs", preset="all")
        app.countdown.seconds = 30
        app._overlay(app.countdown, True)

    def handwriting():
        app.go("jobs", preset="all")
        app.screen.input_mode = "hand"
        kiosk.driver.pump(frames=2)  # the pad comes into the tree and takes the keyboard's size

    return [
        ("home", lambda: app.go_home()),
        ("jobs", lambda: app.go("jobs", preset="all")),
        ("jobs-hand", handwriting),
        ("jobs-conditions", jobs_conditions),
        ("gigs", lambda: app.go("jobs", preset="gigs")),
        ("job", lambda: app.go("job", job_id=ids["job"])),
        ("resident", lambda: app.go("resident")),
        ("register", lambda: app.go("register")),
        ("form-phone", form(0)),
        ("form-choices", form(1)),
        ("consent", lambda: app.go("consent")),
        ("done", lambda: app.go("done", receipt=receipt)),
        ("policies", lambda: app.go("policies")),
        ("policy", lambda: app.go("policy", policy_id=ids["policy"])),
        ("events", lambda: app.go("events")),
        ("courses", lambda: app.go("courses")),
        ("staff-pin", lambda: app.go("staff_pin")),
        ("staff", lambda: (setattr(app.session, "staff", True), app.go("staff"))),
        ("countdown", countdown),
        ("rating", lambda: (app.go("jobs", preset="all"), app._overlay(app.rating, True))),
    ]


def test_every_screen_fits_every_size_type_size_and_banner(make_kiosk):  # noqa: F811 - pytest fixture
    from kivy.core.window import Window
    from kivy.metrics import dp

    kiosk = make_kiosk()
    driver, app = kiosk.driver, kiosk.app
    app.idle.timeout_s = 10_000
    place_card(kiosk)
    driver.tap(app.screen.ids.register_button)
    driver.tap(driver.button("求职登记", exact=False))
    fill_form(driver, "求职")
    driver.tap(app.screen.ids.accept_button)
    receipt = app.session.last_receipt
    assert receipt is not None and app.screen_name == "done"
    ids = {"job": app.store.featured_jobs(1)[0].job.id, "policy": app.store.policies(None)[0].id}
    # Every banner at once: urgent notice, a device message, the offline line, the resident bar.
    app.urgent_text = "【紧急通知】受寒潮影响，明天上午户外零工暂停，请注意安全，具体以工作人员通知为准。"
    app.notice_text = "打印机暂时不能用，请用手机扫码或找工作人员"
    app.notice_level = "error"
    app.offline_text = "网络暂时不通，显示的是上次更新的内容（内容更新于 2026年11月30日 08:00）"
    assert app.resident_text
    app.notify = lambda *a, **k: None  # keep the banners exactly as set while touring
    found: dict[str, list[str]] = {}
    shots = os.environ.get("YIZHAN_FIT_SHOTS")  # set it to a folder to look at every case
    for width, height in SIZES:
        Window.size = (width, height)
        driver.until(lambda w=width, h=height: tuple(Window.size) == (w, h), what=f"window {width}x{height}")
        for elder in (True, False):
            app.theme.set_elder(elder)
            for name, go in visit_every_screen(kiosk, receipt, ids):
                go()
                driver.pump(frames=2)
                key = f"{width}x{height} {'elder' if elder else 'normal'} {name}"
                problems = fit_problems(app, min_scroll=dp(84 if elder else 60) * 2)
                problems += typing_problems(app, name)
                if problems:
                    found[key] = problems[:4]
                if shots:
                    driver.screenshot(Path(shots) / f"fit-{key.replace(' ', '-')}.png")
                if name == "jobs-hand":
                    app.screen.input_mode = "pinyin"
                app.hide_countdown()
                app._overlay(app.rating, False)
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
