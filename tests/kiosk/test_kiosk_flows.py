"""The kiosk driven like a resident would: real Kivy windows under Xvfb, real taps, simulated devices.

Each test runs the whole app (store with sample content, the ID card simulator on a
pseudo-terminal, the virtual network printer rendering slips) through config.kiosk_harness.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import logging
import time
import wave

import pytest
from pypinyin import Style, pinyin

from config.kiosk_harness import KioskHarness
from config.settings import hash_pin

pytestmark = pytest.mark.display

CARD = 0  # 张测试, 男, 1990-03-07
CARD_NAME, CARD_ID = "张测试", "119999199003079910"
EXPIRED_CARD = 4  # 赵过期, valid to 2020
PHONES = {"求职": "13800138001", "培训需求": "13900139002", "返乡": "15800158003", "零工": "18600186004",
          "失业": "13700137005"}


@pytest.fixture
def make_kiosk(xvfb, station):
    harnesses = []

    def make(**kwargs):
        harness = KioskHarness(station.settings, **kwargs)
        harnesses.append(harness)
        harness.start()
        return harness

    yield make
    try:
        for harness in harnesses:
            # Unexpected errors are caught by the app (home + apology): a test must not hide one.
            assert harness.app.errors_handled == getattr(harness, "expected_errors", 0)
    finally:
        for harness in harnesses:
            harness.stop()


@pytest.fixture
def kiosk(make_kiosk):
    return make_kiosk()


def texts_on_screen(driver) -> list[str]:
    """Every text in the window's widget tree (every page built so far, shown or not)."""
    out = []
    for widget in driver.app.sm.screens + [driver.app.root]:
        for w in driver.walk(widget):
            value = getattr(w, "text", None)
            if isinstance(value, str) and value:
                out.append(value)
        for rv in (w for w in driver.walk(widget) if type(w).__name__ == "RecycleView"):
            out.extend(str(item) for item in rv.data)
    return out


def initial_spellings(text: str) -> set[str]:
    readings = pinyin(text, style=Style.FIRST_LETTER, heteronym=True, errors=lambda s: list(s.lower()))
    return {"".join(combo) for combo in itertools.islice(itertools.product(*readings), 256)}


def matches_bj(job) -> bool:
    return any("bj" in s for field in (job.title, job.employer, job.category) for s in initial_spellings(field))


def open_jobs(driver):
    if driver.app.screen_name != "home":
        driver.tap(driver.app.root.ids.home_button)
    driver.tap(driver.app.sm.get_screen("home").ids.tile_jobs)
    assert driver.app.screen_name == "jobs"
    return driver.app.screen


def place_card(harness, index=CARD):
    app = harness.app
    reads = app.counts.get("card_read", 0)
    harness.simulator.place(index)
    harness.driver.until(lambda: app.counts.get("card_read", 0) > reads, timeout=10, what="the card to be read")
    harness.driver.pump(frames=2)


def take_card_back(harness) -> None:
    """The resident takes the card back, as the kiosk asks. Once the reader has seen it go, a glitch
    of the reader's port (a write timeout on a busy machine, then a reconnect) can no longer read
    the card again, which would begin another visit and close a 好差评 on the screen."""
    from kiosk.status import READER_READY

    harness.simulator.remove()
    harness.driver.until(lambda: harness.app.reader_text == READER_READY, timeout=10,
                         what="the reader to see the card taken away")


def fill_form(driver, kind: str) -> None:
    """Answer every question of the current form by tapping, then accept the consent notice."""
    app = driver.app
    form_screen = app.screen
    assert form_screen.name == "form" and app.session.form.kind == kind
    for digit in PHONES[kind]:
        driver.tap(form_screen.ids.keypad.key(digit), frames=0)
    assert form_screen.phone_text.replace(" ", "") == PHONES[kind]
    driver.tap(form_screen.ids.next_button)
    while app.screen_name == "form":
        chips = list(reversed(form_screen.ids.choices.children))  # in the order shown
        driver.tap(chips[0])
        if form_screen.multiple:
            driver.tap(chips[1])
        driver.tap(form_screen.ids.next_button)
    assert app.screen_name == "consent"


# -- jobs -------------------------------------------------------------------------------------

def test_find_a_job_by_bj_open_it_and_print_its_slip(kiosk):
    import zxingcpp
    from PIL import Image

    from kiosk.jobquery import job_qr_text

    driver, app = kiosk.driver, kiosk.app
    jobs = open_jobs(driver)
    everything = jobs.found
    assert everything > 50 and len(jobs.ids.rv.data) == 50 and jobs.ids.more_button.text == "再看50个"

    driver.type_letters("b")
    after_b = jobs.found
    assert 0 < after_b < everything and jobs.letters_text == "B"
    driver.type_letters("j")
    assert 0 < jobs.found < after_b and "拼音“BJ”" in jobs.results_text
    shown = [app.store.get_job(item["job_id"]) for item in jobs.ids.rv.data]
    assert all(matches_bj(job) for job in shown)
    assert any("保洁" in job.title for job in shown)

    driver.tap(driver.find(cls="JobCard")[0])
    assert app.screen_name == "job"
    detail = app.screen
    job = detail.job
    assert job.id == shown[0].id and detail.ids.headline.text == job.title
    assert detail.ids.salary.text == job.salary_text()

    qr_png = kiosk.slips_dir / "qr.png"
    detail.ids.qr.export_to_png(str(qr_png))
    decoded = zxingcpp.read_barcodes(Image.open(qr_png).convert("L"))
    assert [d.text for d in decoded] == [job_qr_text(job, app.settings.station.name)]

    driver.tap(detail.ids.print_button)
    printed = kiosk.printer.wait_for_printed(1, timeout=15)
    assert "正在打印岗位单" in app.notice_text
    slip = Image.open(printed[0].png)
    assert slip.width == 576 and slip.height > 400  # 80 mm paper, a whole slip
    assert job.title.encode("gb18030") in printed[0].data
    driver.until(lambda: app.counts.get("print_job") == 1, what="the print to be counted")


def test_filters_and_category_words_narrow_the_list(kiosk):
    driver, app = kiosk.driver, kiosk.app
    jobs = open_jobs(driver)
    near = jobs.found
    driver.tap(jobs.ids.categories.chip_for("保洁"))
    assert jobs.ids.categories.chip_for("保洁").selected and jobs.ids.categories.chip_for("保洁").text == "✓ 保洁"
    assert all(app.store.get_job(i["job_id"]).category == "保洁" for i in jobs.ids.rv.data)
    driver.tap(jobs.ids.categories.chip_for(None))
    driver.tap(jobs.ids.conditions_button)
    assert jobs.conditions_open and jobs.ids.keyboard_box.children == []  # the chips take the keyboard's place
    driver.tap(jobs.ids.distances.chip_for(None))
    assert jobs.found > near and "不限距离" in jobs.conditions_text
    driver.tap(jobs.ids.kinds.chip_for("零工"))
    assert jobs.ids.rv.data and all(i["kind"] == "零工" for i in jobs.ids.rv.data)
    driver.tap(jobs.ids.salaries.chip_for(5000))
    for item in jobs.ids.rv.data:
        job = app.store.get_job(item["job_id"])
        monthly = job.salary_max * {"月": 1, "日": 21.75, "时": 174}[job.salary_unit]
        assert monthly >= 5000
    driver.tap(jobs.ids.conditions_button)
    assert jobs.ids.keyboard_box.children  # the keyboard is back


def test_todays_gigs_tile_shows_only_todays_gigs(kiosk):
    driver, app = kiosk.driver, kiosk.app
    driver.tap(app.sm.get_screen("home").ids.tile_gigs)
    jobs = app.screen
    assert jobs.title == "今日零工" and app.top_title == "今日零工"
    today = dt.date.today()
    data = jobs.ids.rv.data
    assert data and all(app.store.get_job(i["job_id"]).work_date == today for i in data)
    assert all("今天干活" in i["details"] for i in data)


# -- ID card ----------------------------------------------------------------------------------

def test_a_card_greets_the_resident_masked_and_recommends_jobs_they_may_take(kiosk):
    driver, app = kiosk.driver, kiosk.app
    place_card(kiosk)
    screen = app.screen
    assert screen.name == "resident"
    assert app.resident_text == "张*试先生，您好" and screen.ids.greeting.text == "张*试先生，您好！"
    everything = " ".join(texts_on_screen(driver))
    assert CARD_NAME not in everything and CARD_ID not in everything
    age = dt.date.today().year - 1990 - ((dt.date.today().month, dt.date.today().day) < (3, 7))
    recommended = [app.store.get_job(item["job_id"]) for item in screen.ids.rv.data]
    assert len(recommended) >= 5
    assert all(job.accepts(age, "男") for job in recommended)
    assert screen.ids.register_button.opacity == 1

    place_card(kiosk, EXPIRED_CARD)  # swapping cards: the reader sees the first one leave
    assert app.resident_text.startswith("赵*")
    assert "过期" in screen.ids.problem.text and "窗口" in screen.ids.problem.text
    assert screen.ids.register_button.collapsed  # an expired card cannot register here


def test_reader_unplugged_shows_a_message_and_recovers(kiosk):
    driver, app = kiosk.driver, kiosk.app
    driver.until(lambda: app.reader_state == "online", timeout=10, what="the reader")
    kiosk.simulator.unplug()
    driver.until(lambda: app.reader_state == "offline", timeout=10, what="the unplug to be noticed")
    assert "没有连接" in app.reader_text and "读卡器" in app.notice_text and app.notice_level == "error"
    assert app.root.ids.reader_hint.text == app.reader_text
    kiosk.simulator.replug()
    driver.until(lambda: app.reader_state == "online", timeout=10, what="the reader to come back")
    assert "已恢复" in app.notice_text
    place_card(kiosk)
    assert app.session.resident is not None


def test_an_unreadable_card_says_what_to_do(kiosk):
    driver, app = kiosk.driver, kiosk.app
    driver.until(lambda: app.reader_state == "online", timeout=10, what="the reader")
    kiosk.simulator.read_failure(1)
    kiosk.simulator.place(CARD)
    driver.until(lambda: app.notice_level == "error", timeout=10, what="the read error")
    assert "平放在感应区" in app.notice_text and app.reader_level == "error"
    assert app.session.resident is None and app.screen_name == "home"
    kiosk.simulator.remove()
    driver.pump(0.3)
    place_card(kiosk)  # placed again, it reads
    assert app.screen_name == "resident" and app.session.resident is not None


# -- registrations ----------------------------------------------------------------------------

def test_each_registration_type_reaches_the_outbox_without_personal_data_in_logs(kiosk, caplog, capsys):
    from content.outbox import Outbox

    caplog.set_level(logging.DEBUG)
    driver, app = kiosk.driver, kiosk.app
    receipts = []
    kinds = ("求职", "培训需求", "返乡", "零工", "失业")
    for kind in kinds:
        place_card(kiosk)
        assert app.screen_name == "resident"
        take_card_back(kiosk)
        driver.tap(app.screen.ids.register_button)
        driver.tap(driver.button(f"{kind}登记", exact=False))
        fill_form(driver, kind)
        phone = PHONES[kind]
        # The review shows the phone just typed in full, so that the resident can check it.
        assert f"{phone[:3]} {phone[3:7]} {phone[7:]}" in app.screen.ids.summary.text
        driver.tap(app.screen.ids.accept_button)
        assert app.screen_name == "done", app.screen.error
        receipts.append(app.session.last_receipt)
        code = receipts[-1].code
        assert code.isdigit() and len(code) == 8 and app.screen.ids.code.text == f"{code[:4]} {code[4:]}"
        if kind == "失业":
            assert "离职证明" in app.screen.ids.next_steps.text  # what to bring to the counter
        driver.tap(app.screen.ids.finish_button)
        assert app.screen_name == "home" and app.session.resident is None
        # 好差评 at the end of the service: one tap, or 跳过.
        assert app.rating.active
        if kind == "求职":
            driver.tap(next(f for f in driver.find(cls="FaceButton") if f.level == "非常满意"))
            assert app.counts.get("rating") == 1
            # Thanked, unless the printer's own line took the message slot in the meantime (a busy
            # machine's virtual printer can miss a status poll and report itself unavailable).
            assert app.notice_text == "谢谢您的评价！" or getattr(app, "_notice_source", "") == "printer"
        else:
            driver.tap(app.rating.ids.skip_rating_button)
        assert not app.rating.active

    with Outbox(app.settings.db_path, key_dir=app.settings.data_dir) as outbox:
        entries = outbox.pending("registration")
        driver.until(lambda: outbox.pending("event"), what="the rating event")
        ratings = [e.payload for e in outbox.pending("event") if e.payload["event"] == "rating"]
    assert [(r["level"], r["score"], r["services"]) for r in ratings] == [("非常满意", 5, "print_receipt,registration_求职")]
    assert [e.payload["kind"] for e in entries] == list(kinds)
    assert [e.payload["code"] for e in entries] == [r.code for r in receipts]
    for entry in entries:
        person = entry.payload["person"]
        assert person["name"] == CARD_NAME and person["id_number"] == CARD_ID
        assert person["phone"] == PHONES[entry.payload["kind"]]
        assert entry.payload["answers"]["consent"]["version"]
    kiosk.printer.wait_for_printed(5, timeout=20)  # a receipt for each

    logged = caplog.text + capsys.readouterr().err
    assert "registration stored" in caplog.text
    for secret in (CARD_NAME, CARD_ID, *PHONES.values(), "测试路1号"):
        assert secret not in logged


def test_declining_consent_stores_nothing(kiosk):
    from content.outbox import Outbox

    driver, app = kiosk.driver, kiosk.app
    place_card(kiosk)
    driver.tap(app.screen.ids.register_button)
    driver.tap(driver.button("零工登记", exact=False))
    fill_form(driver, "零工")
    driver.tap(app.screen.ids.decline_button)
    assert app.screen_name == "home" and "没有登记任何信息" in app.notice_text
    with Outbox(app.settings.db_path, key_dir=app.settings.data_dir) as outbox:
        assert outbox.pending("registration") == []


def test_a_wrong_phone_number_is_explained_and_blocks_the_next_step(kiosk):
    driver, app = kiosk.driver, kiosk.app
    place_card(kiosk)
    driver.tap(app.screen.ids.register_button)
    driver.tap(driver.button("求职登记", exact=False))
    form = app.screen
    for digit in "1280013":
        driver.tap(form.ids.keypad.key(digit), frames=0)
    driver.tap(form.ids.next_button)
    assert form.ids.error.text == "！手机号码是11位数字，您输入了7位" and form.progress == "第1步，共4步"
    for digit in "8000":
        driver.tap(form.ids.keypad.key(digit), frames=0)
    driver.tap(form.ids.next_button)
    assert "以13到19开头" in form.ids.error.text
    driver.tap(form.ids.keypad.key("清空"))
    assert form.phone_text == ""


# -- idle -------------------------------------------------------------------------------------

def test_idle_countdown_continue_and_reset_forgets_the_resident(kiosk):
    from kiosk.forms import FormState
    from kiosk.session import Resident

    driver, app = kiosk.driver, kiosk.app
    place_card(kiosk)
    driver.tap(app.screen.ids.register_button)
    driver.tap(driver.button("求职登记", exact=False))
    for digit in "13800":
        driver.tap(app.screen.ids.keypad.key(digit), frames=0)
    kiosk.simulator.remove()
    app.idle.timeout_s, app.idle.countdown_s = 1.0, 3.0
    app.idle.touch()

    driver.until(lambda: app.countdown.active, timeout=5, what="the countdown")
    assert app.countdown.parent is not None and "秒后回到首页" in app.countdown.ids.seconds_label.text
    assert app.countdown.ids.seconds_label.font_size >= app.theme.title  # heading size, not body text
    assert app.screen_name == "form" and app.session.form.phone == "13800"  # nothing dropped yet
    driver.tap(app.countdown.ids.continue_button)
    assert not app.countdown.active and app.countdown.parent is None
    assert app.session.form is not None

    driver.until(lambda: app.countdown.active, timeout=5, what="the second countdown")
    shown = {app.countdown.seconds}
    driver.until(lambda: shown.add(app.countdown.seconds) or app.screen_name == "home", timeout=8,
                 what="the reset")
    assert {3, 2, 1} <= shown  # counted down visibly
    assert app.session.resident is None and app.session.form is None and app.resident_text == ""
    everything = " ".join(texts_on_screen(driver))
    assert "张*" not in everything and "1199" not in everything and "138 00" not in everything
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o) in (Resident, FormState)]


def test_the_idle_home_screen_shows_featured_jobs_until_touched(kiosk):
    driver, app = kiosk.driver, kiosk.app
    app.idle.timeout_s = 0.5
    app.idle.touch()
    driver.until(lambda: app.attract.active, timeout=5, what="the attract loop")
    assert app.attract.job_title and app.attract.headline.startswith("推荐岗位 1/")
    driver.tap(app.attract)
    assert not app.attract.active and app.screen_name == "home"  # the touch only dismissed it


# -- printer ----------------------------------------------------------------------------------

def test_printer_paper_out_tells_the_resident_calmly_and_nothing_prints_after_they_left(kiosk):
    driver, app = kiosk.driver, kiosk.app
    driver.until(lambda: app.printer_state is not None, timeout=10, what="the first printer status")
    kiosk.printer.set_state("paper_out")
    driver.until(lambda: app.notice_text, timeout=10, what="the printer message")
    assert app.notice_text == "打印机暂时不能用，请用手机扫码或找工作人员" and app.notice_level == "info"
    open_jobs(driver)
    driver.tap(driver.find(cls="JobCard")[0])
    driver.tap(app.screen.ids.print_button)
    assert app.notice_text == "打印机暂时不能用，请用手机扫码或找工作人员"
    assert not any("缺纸" in t or "装纸" in t for t in texts_on_screen(driver))  # staff words stay with staff
    assert app.services.visit_slips == []  # not queued: it would print with nobody there
    # A slip that was queued just before the printer failed is held when the visit ends.
    place_card(kiosk)
    slip_id = app.services.printer.submit("job", b"\x1b@test\n", "岗位单")
    app.services.visit_slips.append(slip_id)
    driver.tap(app.root.ids.end_visit_button)
    assert app.services.printer.queue.get(slip_id).state == "cancelled"  # kept for staff to reprint
    driver.tap(app.rating.ids.skip_rating_button)
    kiosk.printer.set_state("ready")
    driver.until(lambda: not app.notice_text, timeout=10, what="the message to clear once the printer is back")
    driver.pump(1.0)
    assert kiosk.printer.printed == []  # nothing came out into an empty room
    app.session.staff = True
    app.go("staff")
    driver.pump(frames=2)
    row = next(r for r in app.screen.slips if r["slip_id"] == slip_id)
    assert row["can_retry"] and not row["can_cancel"]  # staff reprint it on request
    driver.tap(app.root.ids.home_button)
    driver.tap(app.sm.get_screen("home").ids.tile_events)
    driver.tap(driver.find("打印这场活动的通知")[0])
    event_slip = kiosk.printer.wait_for_printed(1, timeout=15)[0]
    assert app.screen.ids.rv.data[0]["title"].encode("gb18030") in event_slip.data


# -- staff ------------------------------------------------------------------------------------

def test_staff_mode_needs_the_pin(make_kiosk):
    kiosk = make_kiosk(changes={"kiosk.staff_pin_hash": hash_pin("246813", time_cost=1, memory_kib=8)})
    driver, app = kiosk.driver, kiosk.app
    driver.until(lambda: app.printer_state is not None, timeout=10, what="the first printer status")
    kiosk.printer.set_state("cover_open")
    driver.until(lambda: app.notice_text, timeout=10, what="the printer message")
    assert "纸仓盖" not in app.notice_text  # the cause is for staff: see below
    app.services.printer.submit("job", b"\x1b@waiting\n", "岗位单")  # waits in the queue while the cover is open
    app.go("staff")
    assert app.screen_name == "staff_pin"  # no way round the PIN
    app.go_home()
    corner = app.root.ids.station_name
    for _ in range(5):
        driver.tap(corner, frames=1)
    assert app.screen_name == "staff_pin"
    pin = app.screen
    for digit in "1111":
        driver.tap(pin.ids.keypad.key(digit), frames=0)
    assert pin.ids.dots.text == "●●●●"
    driver.tap(pin.ids.pin_ok_button)
    assert app.screen_name == "staff_pin" and "不对" in pin.ids.error.text and not app.session.staff
    for digit in "246813":
        driver.tap(pin.ids.keypad.key(digit), frames=0)
    driver.tap(pin.ids.pin_ok_button)
    assert app.screen_name == "staff" and app.session.staff
    staff = app.screen
    assert staff.ids.printer_status.text == "打印机：打印机盖未合上，请合上纸仓盖"
    waiting = staff.slips[0]
    assert "排队中" in waiting["text"] and waiting["can_cancel"] and not waiting["can_retry"]
    driver.tap(driver.find("取消")[0])
    assert "已取消" in staff.slips[0]["text"] and staff.slips[0]["can_retry"]
    driver.tap(driver.find("重试")[0])
    assert "排队中" in staff.slips[0]["text"]
    kiosk.printer.set_state("ready")
    kiosk.printer.wait_for_printed(1, timeout=15)
    assert staff.ids.reader_status.text.startswith("读卡器：")
    assert "待上报" in staff.ids.sync_status.text
    staff.ids.staff_scroll.scroll_y = 0  # the job search is at the bottom of the staff page
    driver.pump(frames=2)
    driver.type_letters("bj")
    driver.tap(driver.button("打印"))
    kiosk.printer.wait_for_printed(2, timeout=15)
    driver.tap(staff.ids.leave_staff_button)
    assert app.screen_name == "home" and not app.session.staff


# -- robustness -------------------------------------------------------------------------------

def test_an_unexpected_error_returns_home_with_an_apology_and_logs_no_personal_data(kiosk, caplog):
    driver, app = kiosk.driver, kiosk.app
    place_card(kiosk)
    jobs = open_jobs(driver)
    real = app.store.search_jobs

    def broken(*args, **kwargs):
        raise RuntimeError(f"{CARD_NAME} {CARD_ID} broke the search")

    app.store.search_jobs = broken
    kiosk.expected_errors = 1
    with caplog.at_level(logging.INFO):
        driver.type_letters("b")
    assert app.screen_name == "home" and "抱歉" in app.notice_text and app.errors_handled == 1
    assert app.session.resident is None  # the visit is forgotten too
    assert "unexpected error on screen jobs: RuntimeError at" in caplog.text
    assert CARD_NAME not in caplog.text and CARD_ID not in caplog.text
    app.store.search_jobs = real
    open_jobs(driver)
    driver.type_letters("b")
    assert jobs.found > 0 and app.errors_handled == 1  # and the kiosk carries on


def test_read_aloud_does_not_block_and_speaks_the_job(make_kiosk, tmp_path):
    wav = tmp_path / "job.wav"
    kiosk = make_kiosk(changes={"kiosk.tts_command": f"espeak-ng -v cmn -w {wav}"}, reader=False)
    driver, app = kiosk.driver, kiosk.app
    open_jobs(driver)
    driver.tap(driver.find(cls="JobCard")[0])
    started = time.perf_counter()
    app.screen.read()
    assert time.perf_counter() - started < 0.3
    assert app.voice.wait(timeout=60) == 0
    with wave.open(str(wav)) as speech:
        assert speech.getnframes() / speech.getframerate() > 2.0


def test_offline_banner_says_when_content_was_updated(make_kiosk):
    kiosk = make_kiosk(reader=False, printer=False)
    app = kiosk.app
    today = dt.date.today()
    assert app.offline_text.startswith("离线使用中")
    assert f"内容更新于 {today.year}年{today.month}月{today.day}日" in app.offline_text
    assert app.reader_state == "absent" and "找工作人员" in app.reader_text
    assert app.root.ids.offline_notice.height > 0


def test_a_training_video_resumes_where_it_was_left(make_kiosk):
    kiosk = make_kiosk(reader=False, printer=False)
    driver, app = kiosk.driver, kiosk.app
    driver.tap(app.sm.get_screen("home").ids.tile_courses)
    driver.tap(driver.find(cls="CourseCard")[0])
    assert app.screen_name == "player" and app.idle.held
    assert app.root.ids.top.parent is None  # full screen: the top bar is out of the way
    player = app.screen
    driver.until(lambda: player.ids.video.position > 1.2, timeout=10, what="the video to play")
    driver.tap(player.ids.pause_button)
    assert not player.playing and not app.idle.held
    driver.tap(player.ids.player_back_button)
    assert app.screen_name == "courses"
    course_id, left_at = next(iter(app.session.video_positions.items()))
    assert left_at > 1.2
    assert "接着看" in app.screen.ids.rv.data[0]["note"]
    driver.tap(driver.find(cls="CourseCard")[0])
    driver.until(lambda: player.ids.video.position >= left_at - 0.3, timeout=10, what="the resumed position")
    assert player.course_id == course_id


# -- read aloud -------------------------------------------------------------------------------

def test_read_aloud_shows_it_is_speaking_stops_and_reports_a_missing_sound_card_to_staff(make_kiosk, tmp_path):
    # The speech engine is a program like espeak-ng; this one writes what espeak-ng writes on a
    # machine without a sound card (and still exits 0), then ends when told or after a while.
    engine = tmp_path / "speak"
    engine.write_text("#!/bin/sh\necho \"ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM default\" >&2\n"
                      "sleep \"${SPEAK_SECONDS:-30}\"\n", encoding="utf-8")
    engine.chmod(0o755)
    kiosk = make_kiosk(reader=False, changes={"kiosk.tts_command": str(engine)})
    driver, app = kiosk.driver, kiosk.app
    read = app.root.ids.read_button
    assert read.text == "♪ 朗读" and not read.disabled
    driver.tap(read)
    assert app.speaking and read.text == "■ 停止"  # the resident sees it is speaking, and how to stop it
    driver.tap(read)
    assert not app.speaking and read.text == "♪ 朗读" and not app.voice.speaking
    import os

    os.environ["SPEAK_SECONDS"] = "0.2"
    try:
        driver.tap(read)
        driver.until(lambda: "audio" in app.services.problems, what="the missing sound card to be noticed")
    finally:
        os.environ.pop("SPEAK_SECONDS", None)
    assert not app.speaking and read.text == "♪ 朗读"
    assert "声卡" not in app.notice_text  # never told to the resident
    assert app.services.health()["audio"]["ok"] is False  # in the heartbeat
    app.session.staff = True
    app.go("staff")
    assert "找不到声卡" in app.screen.reader_text  # on the staff screen


def test_the_kiosk_and_the_board_count_open_jobs_and_todays_gigs_alike(kiosk):
    from display.board_content import load_board_content

    app = kiosk.app
    home = app.sm.get_screen("home")
    board = load_board_content(app.store, app.settings.media_dir, now=dt.datetime.now().astimezone())
    counts = board.counts
    assert counts.open_all == board.job_total and counts.open_near < counts.open_all
    assert home.jobs_note == f"3公里内 {counts.open_near} 个，共 {counts.open_all} 个"
    assert home.gigs_note == f"今天有 {counts.gigs_today} 个零工"
    assert counts.board_text().startswith(f"3公里内{counts.open_near}个岗位 · 共{counts.open_all}个")
    kiosk.driver.tap(home.ids.tile_gigs)
    assert app.screen.found == counts.gigs_today  # the tile's number is the list's length


def test_a_phone_error_neither_moves_the_keypad_nor_outlives_clear(kiosk):
    driver, app = kiosk.driver, kiosk.app
    place_card(kiosk)
    driver.tap(app.screen.ids.register_button)
    driver.tap(driver.button("求职登记", exact=False))
    form = app.screen
    key = form.ids.keypad.key("5")
    where = key.to_window(*key.pos)
    for digit in "139":
        driver.tap(form.ids.keypad.key(digit), frames=0)
    driver.tap(form.ids.next_button)
    driver.pump(frames=2)
    assert "11位" in form.ids.error.text
    assert key.to_window(*key.pos) == where  # the keys stay where the finger is
    driver.tap(form.ids.keypad.key("清空"))
    driver.pump(frames=2)
    assert form.ids.error.text == "" and key.to_window(*key.pos) == where


class _Moments:
    """An injected monotonic clock for the kiosk's idle arithmetic."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_banners_that_come_and_go_never_move_the_keys_under_a_finger(kiosk, monkeypatch):
    """A slip message, a card message, an urgent notice from the centre, the offline line:
    none of them moves the keypad while the resident is typing. Banners from the centre and
    the network wait for a pause (or the next page); device messages keep one line reserved."""
    from kiosk.app import BANNER_QUIET_S
    from kiosk.idle import IdleClock
    from protocol.model import Announcement

    driver, app = kiosk.driver, kiosk.app
    moments = _Moments()
    app.idle = IdleClock(app.idle.timeout_s, app.idle.countdown_s, clock=moments)
    place_card(kiosk)
    driver.tap(app.screen.ids.register_button)
    driver.tap(driver.button("求职登记", exact=False))
    form = app.screen
    key = form.ids.keypad.key("5")
    where = key.to_window(*key.pos)

    def still() -> None:
        driver.pump(frames=2)
        assert key.to_window(*key.pos) == where, "the keypad moved under the resident's finger"

    driver.tap(form.ids.keypad.key("1"), frames=0)
    app.notify("已交给打印机，请在出纸口取")
    still()
    assert app.notice_text
    app.clear_notice()
    still()

    shown = app.urgent_text  # the sample feed's own urgent notice, shown when the visit began
    today = dt.datetime.now(dt.UTC)
    storm = Announcement(id="storm2", text="今天下午有冰雹，请注意安全", priority="urgent",
                         starts_at=today - dt.timedelta(hours=1), ends_at=today + dt.timedelta(hours=5))
    monkeypatch.setattr(app.store, "announcements", lambda *_a, **_k: [storm])
    moments.now += BANNER_QUIET_S - 0.5  # the resident is still typing
    app.refresh_status()
    still()
    assert app.urgent_text == shown  # held back while a finger may be about to tap
    driver.tap(form.ids.keypad.key("3"), frames=0)
    moments.now += BANNER_QUIET_S - 0.5
    app._tick_idle(0)
    still()
    assert app.urgent_text == shown

    moments.now += 1.0  # a pause: no touch for BANNER_QUIET_S
    app._tick_idle(0)
    driver.pump(frames=2)
    assert app.urgent_text == "紧急通知：今天下午有冰雹，请注意安全" == app.root.ids.urgent_notice.text
    assert form.form.values["phone"] == "13"  # nothing typed was lost

    monkeypatch.setattr(app.store, "announcements", lambda *_a, **_k: [])
    app.refresh_status()
    driver.tap(app.root.ids.home_button)  # the page changes anyway: the banner goes at once
    assert app.urgent_text == ""


def test_a_new_page_is_whole_in_the_frame_that_shows_it(kiosk):
    """Kivy finishes even an instant screen change on the next tick; the kiosk finishes it at
    once, so the frame that shows a page shows only that page (and a card's greeting comes a
    whole frame sooner)."""
    driver, app = kiosk.driver, kiosk.app
    home = app.sm.get_screen("home")
    driver.tap(home.ids.tile_jobs, frames=0)  # the tap switches the page; no frame drawn yet
    assert [s.name for s in app.sm.children] == ["jobs"] and not app.sm.transition.is_active
    driver.pump(frames=1)  # (the top bar's 首页 is laid out by the frame)
    driver.tap(app.root.ids.home_button, frames=0)
    assert [s.name for s in app.sm.children] == ["home"]
    place_card(kiosk)
    assert [s.name for s in app.sm.children] == ["resident"]
