"""Jobs: a list of large job cards, filter chips, and the letter keyboard for pinyin initials.

Every key press and chip tap searches again at once (the store answers in milliseconds),
so the list follows the letters as they are typed: "b" -> "bj" -> 保洁.

手写 takes the keyboard's place for residents who can write a character but not spell its
pinyin: after every stroke the pad's candidates are recognised again (kiosk.handwriting);
tapping one adds it to the search, which runs at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)

from content.headline import GIG_RADIUS_KM
from kiosk.handwriting import CANDIDATES, HandwritingUnavailable, Recognizer, check_available
from kiosk.jobquery import (
    CATEGORIES,
    DISTANCES,
    KINDS,
    SALARIES,
    JobFilter,
    distance_text,
    is_hanzi,
    job_when_text,
)
from kiosk.screens.base import KioskScreen
from kiosk.widgets import handpad as _handpad  # noqa: F401 - HandwritingPad, CandidateKey, PadTool

PAGE = 50
log = logging.getLogger("kiosk")


def card_data(hit: Any, today: dt.date) -> dict[str, Any]:
    """The view data of one JobCard."""
    job = hit.job
    details = [job.category, f"离这里{distance_text(hit.distance_km)}"]
    when = job_when_text(job, today)
    if when:
        details.append(f"{when}干活")
    elif job.headcount > 1:
        details.append(f"招{job.headcount}人")
    return {"job_id": job.id, "title": job.title, "employer": job.employer, "salary": job.salary_text(),
            "kind": job.kind, "details": " · ".join(details)}


class JobsScreen(KioskScreen):
    # rebind: the chips bind to root.filter.category etc., which need the chain re-bound on change
    filter = ObjectProperty(JobFilter(), rebind=True)
    found = NumericProperty(0)
    shown = NumericProperty(0)
    results_text = StringProperty("")
    letters_text = StringProperty("")
    conditions_open = BooleanProperty(False)
    conditions_text = StringProperty("")
    empty = BooleanProperty(False)
    input_mode = OptionProperty("pinyin", options=("pinyin", "hand"))
    hand_available = BooleanProperty(False)
    candidates = ListProperty([])

    category_options = CATEGORIES
    kind_options = KINDS
    salary_options = SALARIES
    distance_options = ListProperty([])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._limit = PAGE
        radius = self.app.settings.station.radius_km
        # The station's own radius first (三公里就业圈), then the wider circles.
        self.distance_options = [(radius, f"{radius:g}公里内")] + [
            (value, label) for value, label in DISTANCES if value != radius]
        # Strong references: ids are weak, and a part is out of the widget tree while it moves.
        self._parts = {name: self.ids[name].__self__ for name in (
            "search_row", "categories", "conditions_row", "conditions_panel", "keyboard_box")}
        self.bind(size=self._arrange)
        if self.app is not None:
            self.app.bind(wide=self._arrange)
        # The recogniser's model is open only while the pad is out (on_input_mode): 25 MB that
        # a kiosk whose residents type pinyin, or have finished writing, does not hold.
        self._recognizer: Recognizer | None = None
        try:
            check_available()
            self.hand_available = True
        except HandwritingUnavailable as exc:
            log.warning("手写不可用：%s", exc)

    def on_input_mode(self, _screen: Any, mode: str) -> None:
        if mode == "hand" and self._recognizer is None:
            try:
                self._recognizer = Recognizer()
            except HandwritingUnavailable as exc:
                log.warning("手写不可用：%s", exc)
                self.hand_available = False
                self.input_mode = "pinyin"
        elif mode != "hand" and self._recognizer is not None:
            self._recognizer.close()
            self._recognizer = None

    # -- entering ----------------------------------------------------------------------------
    def enter(self, preset: str | None = None, returning: bool = False, **_: Any) -> None:
        if returning and preset is None:
            self.search()  # keep what the resident had typed and chosen
            return
        radius = self.app.settings.station.radius_km
        if preset == "gigs":
            self.title = "今日零工"
            self.filter = JobFilter(kind="零工", when="today", radius_km=GIG_RADIUS_KM)
        else:
            self.title = "找工作"
            self.filter = JobFilter(radius_km=radius)
        self.conditions_open = False
        self.input_mode = "pinyin"
        self._clear_pad()
        self._limit = PAGE
        self.search()

    def forget(self) -> None:
        self.filter = JobFilter(radius_km=self.app.settings.station.radius_km)
        self.ids.rv.data = []
        self.input_mode = "pinyin"
        self._clear_pad()

    # -- the resident's input ----------------------------------------------------------------
    def type_letter(self, letter: str) -> None:
        self.filter = self.filter.type_letter(letter)
        self._limit = PAGE
        self.search()

    def erase(self) -> None:
        self.filter = self.filter.erase()
        self._limit = PAGE
        self.search()

    def clear_letters(self) -> None:
        self.filter = self.filter.clear_letters()
        self._limit = PAGE
        self.search()

    # -- 手写 ---------------------------------------------------------------------------------
    def toggle_input(self) -> None:
        """手写 <-> 拼音: the pad and the letter keys take turns in the same place."""
        if self.input_mode == "pinyin" and self.hand_available:
            self.input_mode = "hand"
            self.conditions_open = False
        else:
            self.input_mode = "pinyin"
            self._clear_pad()

    def strokes_written(self, strokes: list[Any]) -> None:
        """After every stroke (and 退一笔): the likeliest characters, best first."""
        if not strokes or self._recognizer is None:
            self.candidates = []
            return
        pad = self.ids.pad
        found = self._recognizer.classify(strokes, pad.width, pad.height, CANDIDATES)
        self.candidates = [c.char for c in found if is_hanzi(c.char)][:CANDIDATES]

    def pick_character(self, char: str) -> None:
        """A candidate tapped: it joins the search, the pad is ready for the next character."""
        if not char:
            return
        self.filter = self.filter.add_character(char)
        self._clear_pad()
        self._limit = PAGE
        self.search()

    def read_candidates(self) -> None:
        if self.candidates:
            self.app.read_aloud("候选的字：" + "，".join(self.candidates) + "。点一下要的字。")

    def _clear_pad(self) -> None:
        self.candidates = []
        if "pad" in self.ids:
            self.ids.pad.clear()

    def query_label(self, letters: str, mode: str) -> str:
        if letters:
            return ("手写：" if not letters.isascii() else "拼音：") + letters
        if mode == "hand":
            return "在格子里写一个字"
        return "按下面的字母找工作，例如“保洁”按 B J"

    def choose(self, field: str, value: Any) -> None:
        self.filter = self.filter.with_(**{field: value})
        self._limit = PAGE
        self.search()

    def more(self) -> None:
        self._limit += PAGE
        self.search()

    def toggle_conditions(self) -> None:
        """The distance/kind/salary chips take the keyboard's place while open."""
        self.conditions_open = not self.conditions_open

    # -- searching ---------------------------------------------------------------------------
    def search(self) -> None:
        today = dt.date.today()
        kwargs = self.filter.search_kwargs(today=today)
        store = self.app.store
        hits = store.search_jobs(self.filter.letters, limit=self._limit, **kwargs)
        total = store.count_jobs(self.filter.letters, **kwargs) if len(hits) >= self._limit else len(hits)
        self.ids.rv.data = [card_data(hit, today) for hit in hits]
        if not self.filter.letters or len(hits) < self._limit:
            self.ids.rv.scroll_y = 1
        self.found = total
        self.shown = len(hits)
        self.empty = not hits
        self.letters_text = self.filter.letters.upper()
        described = self.filter.describe()
        f = self.filter
        self.conditions_text = "条件：" + " · ".join([
            "不限距离" if f.radius_km is None else f"{f.radius_km:g}公里内",
            f.kind or "全部类型",
            f"{f.min_salary}元以上" if f.min_salary else "工资不限"])
        if hits:
            self.results_text = f"找到 {total} 个岗位（{described}）"
        else:
            self.results_text = f"没有找到岗位（{described}）"

    def empty_hint(self) -> str:
        if self.filter.letters:
            return "没有找到。可以按“删除”少打一个字母，或者点“改条件”，再选“不限距离”。"
        return "这个条件下暂时没有岗位。可以点“全部工种”，或者点“改条件”再选“不限距离”看看。"

    def speech(self) -> str:
        lines = [self.title, self.results_text]
        for item in self.ids.rv.data[:5]:
            lines.append(f"{item['title']}，{item['employer']}，{item['salary']}")
        if self.input_mode == "hand":
            lines.append("可以在下面的格子里用手指写一个字，再点上面认出来的字。")
        elif not self.filter.letters:
            lines.append("可以按下面的拼音字母找工作，比如保洁，就按B和J。")
        return "。".join(lines)

    # -- layout ------------------------------------------------------------------------------
    def _arrange(self, *_: Any) -> None:
        """Portrait: the search, chips and conditions on top, the list, the keyboard under it.

        Landscape: the search and the keyboard (or the pad, or the conditions with the category
        chips) on the left, whole without scrolling; the conditions line and the list on the right.
        """
        # The window's shape, not the screen's: with every banner showing, a portrait 800x1280
        # screen leaves a page wider than tall, and it must keep the portrait layout.
        app = self.app
        portrait = not app.wide if app is not None else self.height >= self.width
        ids, part = self.ids, self._parts
        wanted_side = ([part["search_row"], part["categories"], part["conditions_row"], part["conditions_panel"]]
                       if portrait else [part["search_row"], part["conditions_panel"], part["keyboard_box"]])
        places = [(ids.wide_categories_slot, [] if portrait else [part["categories"]]),
                  (ids.right_top_slot, [] if portrait else [part["conditions_row"]]),
                  (ids.bottom_slot, [part["keyboard_box"]] if portrait else []),
                  (ids.side_slot, wanted_side)]
        if [list(reversed(p.children)) for p, _ in places] == [w for _, w in places]:
            return
        for parent, _ in places:
            for child in list(parent.children):
                parent.remove_widget(child)
        for parent, widgets in places:
            for widget in widgets:
                parent.add_widget(widget)
        self.ids.layout.orientation = "vertical" if portrait else "horizontal"
