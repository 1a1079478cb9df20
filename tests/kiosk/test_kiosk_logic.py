"""The kiosk's plain-Python parts: theme rules, idle arithmetic, forms, read-aloud, status lines."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
import wave

import pytest

from kiosk import forms, status, theme
from kiosk.errors import describe
from kiosk.forms import FormError, FormState, build_submission, check_mobile
from kiosk.idle import IdleClock, Phase
from kiosk.jobquery import JobFilter, distance_text, job_qr_text
from kiosk.session import Resident, Session
from kiosk.tts import ReadAloud, speakable

TODAY = dt.date(2025, 3, 10)


def resident(**changes) -> Resident:
    values = dict(name="张测试", gender="男", birth_date=dt.date(1990, 3, 7), address="某某省某某市示例区测试路1号",
                  id_number="119999199003079910", valid_to=dt.date(2036, 5, 20))
    values.update(changes)
    return Resident(**values)


# -- theme ------------------------------------------------------------------------------------

def test_both_scales_follow_the_miit_rules_and_elder_is_larger():
    assert theme.check_scale(theme.ELDER) == []
    assert theme.check_scale(theme.NORMAL) == []
    assert theme.ELDER.title >= 30 and theme.ELDER.body >= 18 and theme.ELDER.target >= 60
    for name in ("title", "main", "body", "small", "target", "key"):
        assert getattr(theme.ELDER, name) > getattr(theme.NORMAL, name), name


def test_a_scale_breaking_the_rules_is_reported():
    small = theme.Scale("elder", title=28, main=24, body=16, small=14, target=50, key=50, pad=8, spacing=8,
                        line_height=1.1)
    problems = theme.check_scale(small)
    assert any("title" in p for p in problems) and any("target" in p for p in problems)
    assert any("line_height" in p for p in problems)


def test_every_text_colour_pair_reaches_4_5_to_1():
    assert theme.check_palette() == []
    assert theme.contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    bad = theme.Palette(muted="#AAAAAA")
    assert any(p.startswith("muted/surface") for p in theme.check_palette(bad))


# -- idle -------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_idle_counts_down_visibly_before_it_expires():
    clock = FakeClock()
    idle = IdleClock(90, 20, clock=clock)
    assert idle.state().phase is Phase.ACTIVE
    clock.now += 89.5
    assert idle.state().phase is Phase.ACTIVE
    clock.now += 1
    state = idle.state()
    assert state.phase is Phase.COUNTDOWN and state.seconds_shown == 20
    clock.now += 19.2
    assert idle.state().seconds_shown == 1
    clock.now += 1
    assert idle.state().phase is Phase.EXPIRED
    idle.touch()  # 继续
    assert idle.state().phase is Phase.ACTIVE


def test_idle_is_held_while_a_video_plays():
    clock = FakeClock()
    idle = IdleClock(30, 10, clock=clock)
    idle.hold("video")
    clock.now += 500
    assert idle.state().phase is Phase.ACTIVE
    idle.release("video")
    clock.now += 31
    assert idle.state().phase is Phase.COUNTDOWN


def test_idle_rejects_nonsense():
    with pytest.raises(ValueError):
        IdleClock(0, 10)


# -- session ----------------------------------------------------------------------------------

def test_session_masks_the_resident_and_forgets_everything():
    session = Session()
    person = resident()
    session.begin(person)
    session.form = FormState("求职", TODAY)
    session.video_positions["c1"] = 42.0
    assert session.busy
    text = repr(session) + str(person)
    assert "张测试" not in text and "119999199003079910" not in text
    assert "张*试" in text and person.title == "张*试先生"
    session.clear()
    assert session.resident is None and session.form is None and not session.video_positions
    assert not session.busy


def test_resident_age_and_expiry():
    person = resident(valid_to=dt.date(2020, 1, 1))
    assert person.age(dt.date(2025, 3, 6)) == 34
    assert person.age(dt.date(2025, 3, 7)) == 35
    assert person.is_expired(TODAY)
    assert not resident(valid_to=None).is_expired(TODAY)  # 长期
    problem = status.card_problem(person, TODAY)
    assert "过期" in problem and "2020年1月1日" in problem and "窗口" in problem


# -- forms ------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed,message", [
    ("", "请输入手机号码"),
    ("1380013800", "11位数字，您输入了10位"),
    ("138001380001", "您输入了12位"),
    ("12800138000", "以13到19开头"),
    ("1380013800a", "只能是数字"),
])
def test_bad_mobile_numbers_say_what_is_wrong(typed, message):
    with pytest.raises(FormError, match=message):
        check_mobile(typed)


def test_good_mobile_numbers_pass_with_spaces_and_dashes_removed():
    assert check_mobile("138 0013-8000") == "13800138000"
    assert check_mobile("19912345678") == "19912345678"


def test_a_form_refuses_to_advance_until_the_step_is_answered():
    form = FormState("求职", TODAY)
    assert form.step.kind == "phone" and form.progress == "第1步，共4步"
    with pytest.raises(FormError, match="请输入手机号码"):
        form.advance()
    for d in "138001380009":  # the twelfth digit is ignored
        form.type_digit(d)
    assert form.phone == "13800138000"
    form.advance()
    assert form.step.key == "categories"
    with pytest.raises(FormError, match="请至少选一项"):
        form.advance()
    for value in ("保洁", "家政", "普工", "保安", "物流"):
        form.toggle("categories", value)
    with pytest.raises(FormError, match="最多选5个"):
        form.toggle("categories", "技工")
    form.toggle("categories", "普工")  # a second tap takes it away
    assert form.values["categories"] == ["保洁", "家政", "保安", "物流"]
    form.advance()
    assert form.back() and form.step.key == "categories"
    form.advance()
    form.choose("salary", "3000-5000元")
    form.advance()
    dates = form.step.options_for(TODAY)
    assert dates[1].value == "2025-03-17" and dates[1].label == "一周内（3月17日）"
    form.choose("available_from", dates[0].value)
    form.advance()
    assert form.step is None and form.complete


def test_the_submission_needs_consent_and_carries_no_phone_in_answers():
    form = FormState("返乡", TODAY)
    for d in "13800138000":
        form.type_digit(d)
    form.values.update(return_date="2025-03-31", came_from="广东", plan="自己创业", categories=["建筑"])
    with pytest.raises(FormError, match="同意"):
        build_submission(form, resident(), station_id="s1")
    form.accept_consent(dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.UTC))
    kind, person, answers = build_submission(form, resident(), station_id="s1")
    assert kind == "返乡"
    assert person == {"name": "张测试", "id_number": "119999199003079910", "gender": "男",
                      "birth_date": "1990-03-07", "address": "某某省某某市示例区测试路1号", "phone": "13800138000"}
    assert answers["came_from"] == "广东" and answers["plan"] == "自己创业"
    assert answers["consent"]["version"] == forms.CONSENT_VERSION
    assert "13800138000" not in str(answers)
    summary = dict(form.summary())
    assert summary["手机号码"] == "138****8000" and summary["返乡时间"] == "2025年3月31日"
    assert "13800138000" not in repr(form)


def test_no_submission_without_a_card_or_with_a_missing_answer():
    form = FormState("零工", TODAY)
    form.accept_consent(dt.datetime(2025, 3, 10, tzinfo=dt.UTC))
    with pytest.raises(FormError, match="身份证"):
        build_submission(form, None, station_id="s1")
    with pytest.raises(FormError, match="手机号码"):
        build_submission(form, resident(), station_id="s1")


def test_every_kind_has_a_form_and_an_unknown_kind_is_refused():
    assert set(forms.FORMS) == {"求职", "培训需求", "返乡", "零工", "失业"}
    unemployment = [step.key for step in forms.FORMS["失业"]]
    assert unemployment == ["phone", "last_employer", "ended_on", "end_reason", "seeking_work"]
    ended = forms.FORMS["失业"][2].options_for(TODAY)
    assert all(dt.date.fromisoformat(o.value) <= TODAY for o in ended)  # employment ended in the past
    with pytest.raises(ValueError, match="unknown registration kind"):
        FormState("买房", TODAY)
    notice = dict(forms.consent_text("城东服务站", 30))
    assert "30天" in notice["保存多久"] and "城东服务站" in notice["谁会看到"]


# -- jobs -------------------------------------------------------------------------------------

def test_the_job_filter_follows_key_presses():
    f = JobFilter(radius_km=3.0)
    for letter in "bJ1":
        f = f.type_letter(letter)
    assert f.letters == "bj"
    assert f.erase().letters == "b"
    kwargs = f.with_(kind="零工", min_salary=3000).search_kwargs(today=TODAY)
    assert kwargs == {"radius_km": 3.0, "category": None, "kind": "零工", "when": None, "min_salary": 3000,
                      "today": TODAY}
    assert f.describe() == "拼音“BJ”，3公里内"
    assert JobFilter(radius_km=None).describe() == "不限距离"


@pytest.mark.parametrize("km,text", [(0.04, "40米"), (0.8, "800米"), (2.345, "2.3公里"), (35.2, "35公里"),
                                     (None, "")])
def test_distances_read_naturally(km, text):
    assert distance_text(km) == text


# -- read aloud -------------------------------------------------------------------------------

def test_speakable_text_reads_masks_and_ranges_naturally():
    assert speakable("张*先生 4500-6000元/月 18-45岁") == "张某先生 4500到6000元每月 18到45岁"
    assert speakable("热线 0851-12333，手机13800138000") == "热线 0 8 5 1 1 2 3 3 3，手机1 3 8 0 0 1 3 8 0 0 0"
    assert speakable("拨打12333咨询") == "拨打1 2 3 3 3咨询"


def test_read_aloud_speaks_mandarin_without_blocking(tmp_path):
    out = tmp_path / "speech.wav"
    voice = ReadAloud(f"espeak-ng -v cmn -w {out}")
    assert voice.available
    started = time.perf_counter()
    assert voice.say("保洁员，月薪四千五百元。" * 5)
    assert time.perf_counter() - started < 0.2  # the caller never waits for the speech
    assert voice.wait(timeout=30) == 0
    with wave.open(str(out)) as wav:
        assert wav.getnframes() / wav.getframerate() > 1.0


def test_a_new_request_stops_the_speech_before(tmp_path):
    voice = ReadAloud("sleep")
    assert voice.say("30")
    first = voice._process
    assert voice.say("30")
    assert first.poll() is not None  # the first one was stopped
    voice.stop()
    assert not voice.speaking


def test_a_missing_engine_is_reported_not_raised():
    voice = ReadAloud("no-such-speech-engine -v cmn")
    assert not voice.available
    assert voice.say("你好") is False
    assert ReadAloud("").say("你好") is False


# -- status lines -----------------------------------------------------------------------------

class Info:
    applied_at = dt.datetime(2025, 3, 9, 6, 30, tzinfo=dt.UTC)


def test_offline_banner_names_the_last_update():
    now = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC)
    local = Info.applied_at.astimezone()
    text = status.offline_text(None, Info(), configured=False, now=now, interval_s=300)
    assert text.startswith("离线使用中") and f"{local.month}月{local.day}日" in text
    fresh = {"last_success_at": (now - dt.timedelta(minutes=2)).isoformat(), "last_error": None}
    assert status.offline_text(fresh, Info(), configured=True, now=now, interval_s=300) == ""
    failed = {"last_success_at": (now - dt.timedelta(minutes=2)).isoformat(), "last_error": "ConnectionError"}
    assert "网络暂时不通" in status.offline_text(failed, Info(), configured=True, now=now, interval_s=300)
    stale = {"last_success_at": (now - dt.timedelta(hours=1)).isoformat(), "last_error": None}
    assert "上次更新" in status.offline_text(stale, Info(), configured=True, now=now, interval_s=300)
    assert "还没有收到过内容" in status.offline_text(None, None, configured=True, now=now, interval_s=300)


def test_printer_messages_say_what_to_do():
    from printer.status import PrinterState, status_of

    assert status.printer_message(status_of(PrinterState.READY)) == ("", "info")
    # Residents get one calm line saying what they can do; the cause is for staff.
    for state in (PrinterState.PAPER_OUT, PrinterState.OFFLINE, PrinterState.COVER_OPEN):
        assert status.printer_message(status_of(state)) == ("打印机暂时不能用，请用手机扫码或找工作人员", "info")
    assert status.printer_message(status_of(PrinterState.PAPER_NEAR_END)) == ("", "info")  # still prints


def test_error_descriptions_carry_no_message():
    try:
        raise ValueError("张测试 119999199003079910 13800138000")
    except ValueError as exc:
        text = describe(exc)
    assert text.startswith("ValueError at ") and "test_kiosk_logic.py" in text
    assert "张测试" not in text and "1199" not in text and "1380" not in text


def test_the_qr_code_of_a_job_without_a_url_carries_its_facts():
    from protocol.model import Job

    job = Job(id="j1", title="保洁员", employer="城东物业", category="保洁", salary_min=3000, salary_max=3500,
              latitude=26.58, longitude=106.71, contact_phone="0851-1234567", published=TODAY,
              valid_until=TODAY + dt.timedelta(days=30))
    text = job_qr_text(job, "城东服务站")
    assert text.splitlines()[:3] == ["保洁员", "城东物业", "3000-3500元/月"] and "0851-1234567" in text
    assert job_qr_text(job.model_copy(update={"url": "https://jobs.example.cn/j1"}), "x") == "https://jobs.example.cn/j1"


def test_espeak_has_the_mandarin_voice():
    assert shutil.which("espeak-ng"), "espeak-ng is installed by 'make setup'"
    voices = subprocess.run(["espeak-ng", "--voices=cmn"], capture_output=True, text=True, check=True).stdout
    assert "cmn" in voices
