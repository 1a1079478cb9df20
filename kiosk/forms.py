"""The five registrations (求职, 培训需求, 返乡, 零工, 失业) as data, their validation and their payload.

A resident cannot be expected to type Chinese, so every question is answered with taps
(options) or the numeric keypad (the phone number). Each form is a list of :class:`Step`;
:class:`FormState` walks through them, says in plain Chinese what is missing or wrong, and
finally builds the ``person`` and ``answers`` handed to ``content.registrations``. The
consent notice (why the data is collected, who receives it, how long it is kept) must be
accepted before anything is built.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from common.privacy import mask_phone
from protocol.model import JOB_CATEGORIES

KINDS = ("求职", "培训需求", "返乡", "零工", "失业")
TITLES = {"求职": "求职登记", "培训需求": "培训需求登记", "返乡": "返乡登记", "零工": "零工登记",
          "失业": "失业登记"}
BLURBS = {
    "求职": "想找一份工作，请工作人员帮您推荐",
    "培训需求": "想学一门手艺，参加免费或有补贴的培训",
    "返乡": "从外地回到家乡，登记后可享受就业服务",
    "零工": "想打零工、做日结的活",
    "失业": "没有工作了，登记后可享受失业保险和就业服务",
}
APPLY_TITLE = "我想应聘"
CONSENT_VERSION = "2024-1"
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


class FormError(ValueError):
    """What the resident must fix, in plain Chinese (``str()`` is shown on the screen)."""


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class DateOption:
    """A date answered by a tap: ``label`` and how to compute the date from today."""

    label: str
    resolve: Callable[[dt.date], dt.date]


@dataclass(frozen=True)
class Step:
    key: str
    kind: Literal["phone", "single", "multi", "date"]
    question: str
    label: str  # short name on the summary ("手机号码")
    options: tuple[Option, ...] = ()
    dates: tuple[DateOption, ...] = ()
    max_select: int = 0  # multi: 0 = no limit
    hint: str = ""

    def options_for(self, today: dt.date) -> tuple[Option, ...]:
        """The options to show; for a date step, with the actual date in each label."""
        if self.kind != "date":
            return self.options
        out = []
        for choice in self.dates:
            day = choice.resolve(today)
            out.append(Option(day.isoformat(), f"{choice.label}（{day.month}月{day.day}日）"))
        return tuple(out)


def _end_of_month(day: dt.date) -> dt.date:
    first_next = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return first_next - dt.timedelta(days=1)


def _end_of_next_month(day: dt.date) -> dt.date:
    return _end_of_month(_end_of_month(day) + dt.timedelta(days=1))


def _options(*labels: str) -> tuple[Option, ...]:
    return tuple(Option(label, label) for label in labels)


PHONE = Step("phone", "phone", "请输入您的手机号码", "手机号码",
             hint="工作人员会用这个号码联系您，号码只用于就业服务")
CATEGORIES = Step("categories", "multi", "您想做哪一类工作？（可以选多个）", "想做的工作",
                  options=_options(*(c for c in JOB_CATEGORIES if c != "其他"), "其他"), max_select=5)
SALARY = Step("salary", "single", "您希望每月工资大概多少？", "期望工资",
              options=_options("面议", "3000元以下", "3000-5000元", "5000-8000元", "8000元以上"))
AVAILABLE = Step("available_from", "date", "您什么时候可以上班？", "可以上班",
                 dates=(DateOption("马上就可以", lambda d: d),
                        DateOption("一周内", lambda d: d + dt.timedelta(days=7)),
                        DateOption("半个月内", lambda d: d + dt.timedelta(days=15)),
                        DateOption("一个月内", lambda d: d + dt.timedelta(days=30))))
TRAININGS = Step("trainings", "multi", "您想学什么？（可以选多个）", "想学的技能",
                 options=_options("电工", "焊工", "叉车", "中式烹调", "面点", "育婴员", "养老护理",
                                  "家政服务", "美容美发", "电商直播", "电脑操作", "农业技术"), max_select=4)
TRAINING_TIME = Step("training_time", "single", "您方便什么时间上课？", "上课时间",
                     options=_options("白天", "晚上", "周末", "都可以"))
RETURN_DATE = Step("return_date", "date", "您什么时候回到家乡？", "返乡时间",
                   dates=(DateOption("已经回来了", lambda d: d),
                          DateOption("一周内回来", lambda d: d + dt.timedelta(days=7)),
                          DateOption("这个月内回来", _end_of_month),
                          DateOption("下个月回来", _end_of_next_month)))
CAME_FROM = Step("came_from", "single", "您是从哪里回来的？", "原务工地",
                 options=_options("广东", "浙江", "江苏", "上海", "福建", "北京", "省内其他城市", "其他省份"))
PLAN = Step("plan", "single", "回来以后您打算做什么？", "返乡打算",
            options=_options("在附近找工作", "自己创业", "务农", "参加培训", "还没想好"))
SKILLS = Step("skills", "multi", "您能做哪些零工？（可以选多个）", "能做的活",
              options=_options("搬运装卸", "保洁", "家政", "建筑小工", "装修", "农活", "送货",
                               "餐饮帮工", "看护陪护", "其他"), max_select=5)
GIG_DAYS = Step("days", "single", "您哪些时间可以干活？", "可以干活",
                options=_options("每天都可以", "只有周末", "今天明天", "随叫随到"))
DAY_PAY = Step("day_pay", "single", "您希望一天的工钱是多少？", "期望日薪",
               options=_options("100元左右", "150元左右", "200元左右", "250元以上", "面议"))

# 失业登记: the questions of a bureau's unemployment registration form that can be answered by
# tapping; the employer's name and the termination certificate are completed at the counter.
LAST_EMPLOYER = Step("last_employer", "single", "您原来在哪类单位工作？", "原工作单位",
                     options=_options("企业（公司、工厂）", "个体工商户", "机关事业单位", "社会组织",
                                      "灵活就业（打零工等）", "其他"),
                     hint="单位名称到窗口时告诉工作人员")
ENDED_ON = Step("ended_on", "date", "您是什么时候不再上班的？", "停止工作时间",
                dates=(DateOption("这几天", lambda d: d),
                       DateOption("大约半个月前", lambda d: d - dt.timedelta(days=15)),
                       DateOption("大约一个月前", lambda d: d - dt.timedelta(days=30)),
                       DateOption("大约三个月前", lambda d: d - dt.timedelta(days=90)),
                       DateOption("半年以前", lambda d: d - dt.timedelta(days=182))))
END_REASON = Step("end_reason", "single", "为什么不再上班了？", "离职原因",
                  options=_options("劳动合同到期", "单位裁员", "单位关闭或停产", "本人辞职", "被单位辞退",
                                   "灵活就业中断", "其他"))
SEEKING = Step("seeking_work", "single", "您现在想找工作吗？", "是否求职",
               options=_options("想找工作", "想先参加培训", "暂时不找"))

FORMS: dict[str, tuple[Step, ...]] = {
    "求职": (PHONE, CATEGORIES, SALARY, AVAILABLE),
    "培训需求": (PHONE, TRAININGS, TRAINING_TIME),
    "返乡": (PHONE, RETURN_DATE, CAME_FROM, PLAN, CATEGORIES),
    "零工": (PHONE, SKILLS, GIG_DAYS, DAY_PAY),
    "失业": (PHONE, LAST_EMPLOYER, ENDED_ON, END_REASON, SEEKING),
}


def check_mobile(digits: str) -> str:
    """A mainland mobile number (11 digits, 13x-19x), or :class:`FormError` saying what is wrong."""
    digits = re.sub(r"[\s-]", "", digits or "")
    if not digits:
        raise FormError("请输入手机号码")
    if not digits.isdigit():
        raise FormError("手机号码只能是数字")
    if len(digits) != 11:
        raise FormError(f"手机号码是11位数字，您输入了{len(digits)}位")
    if not MOBILE_RE.match(digits):
        raise FormError("这不是手机号码：手机号码以13到19开头，请检查")
    return digits


def consent_text(station_name: str, retention_days: int) -> list[tuple[str, str]]:
    """The consent notice in plain words, as (heading, text) paragraphs."""
    return [
        ("为什么要收集", "为了帮您找工作、安排培训和联系您，需要记下您的姓名、身份证号、性别、"
                    "出生日期、住址、手机号码和您刚才选的内容。"),
        ("谁会看到", f"只有{station_name}的工作人员和本地人力资源社会保障部门，用于就业服务，"
                  "不会给其他单位，不会用来推销。"),
        ("保存多久", f"信息加密保存在本机，上报到人社部门后就从本机删除，最长保存{retention_days}天。"
                  "您可以随时到窗口要求查看、更正或删除。"),
        ("您可以不同意", "不同意也没关系，不会登记任何信息。您仍然可以查看岗位和政策，"
                     "也可以到窗口请工作人员帮忙。"),
    ]


@dataclass
class FormState:
    """One registration being filled in. ``values`` holds answers by step key."""

    kind: str
    today: dt.date
    values: dict[str, Any] = field(default_factory=dict)
    index: int = 0
    consent_at: dt.datetime | None = None
    # 我想应聘 from a job's page: {"id", "title", "employer"}; the phone is the only question
    job: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in FORMS:
            raise ValueError(f"unknown registration kind {self.kind!r}; expected one of {', '.join(KINDS)}")

    @property
    def title(self) -> str:
        return APPLY_TITLE if self.job else TITLES[self.kind]

    @property
    def steps(self) -> tuple[Step, ...]:
        return (PHONE,) if self.job else FORMS[self.kind]

    @property
    def step(self) -> Step | None:
        """The current question, or None when all are answered (consent comes next)."""
        return self.steps[self.index] if self.index < len(self.steps) else None

    @property
    def progress(self) -> str:
        return f"第{min(self.index + 1, len(self.steps))}步，共{len(self.steps)}步"

    # -- answering -------------------------------------------------------------------------
    def type_digit(self, digit: str) -> None:
        current = self.values.get("phone", "")
        if digit.isdigit() and len(digit) == 1 and len(current) < 11:
            self.values["phone"] = current + digit

    def erase_digit(self) -> None:
        self.values["phone"] = self.values.get("phone", "")[:-1]

    def choose(self, key: str, value: str) -> None:
        self.values[key] = value

    def toggle(self, key: str, value: str) -> None:
        """Select or unselect ``value`` in a multi-choice answer (FormError past the limit)."""
        step = next(s for s in self.steps if s.key == key)
        chosen = list(self.values.get(key, []))
        if value in chosen:
            chosen.remove(value)
        else:
            if step.max_select and len(chosen) >= step.max_select:
                raise FormError(f"最多选{step.max_select}个，请先取消一个再选")
            chosen.append(value)
        self.values[key] = chosen

    def is_chosen(self, key: str, value: str) -> bool:
        current = self.values.get(key)
        return value in current if isinstance(current, list) else current == value

    # -- moving ----------------------------------------------------------------------------
    def problem(self, step: Step | None = None) -> str | None:
        """What is missing or wrong in ``step`` (default: the current one), in Chinese; None = fine."""
        step = step or self.step
        if step is None:
            return None
        value = self.values.get(step.key)
        if step.kind == "phone":
            try:
                check_mobile(value or "")
            except FormError as exc:
                return str(exc)
            return None
        if not value:
            return "请至少选一项" if step.kind == "multi" else "请选一项"
        return None

    def advance(self) -> None:
        problem = self.problem()
        if problem:
            raise FormError(problem)
        self.index = min(self.index + 1, len(self.steps))

    def back(self) -> bool:
        """Go to the previous question; False when already at the first."""
        if self.index == 0:
            return False
        self.index -= 1
        return True

    @property
    def complete(self) -> bool:
        return all(self.problem(step) is None for step in self.steps)

    def accept_consent(self, now: dt.datetime) -> None:
        self.consent_at = now

    # -- results ---------------------------------------------------------------------------
    @property
    def phone(self) -> str:
        return self.values.get("phone", "")

    def answers(self) -> dict[str, Any]:
        """The answers except the phone (which belongs to ``person``)."""
        out: dict[str, Any] = {}
        for step in self.steps:
            if step.kind == "phone":
                continue
            value = self.values.get(step.key)
            out[step.key] = list(value) if isinstance(value, list) else value
        return out

    def summary(self, *, masked: bool = True) -> list[tuple[str, str]]:
        """(label, text) lines of the answers; the phone masked unless ``masked`` is False.

        The review step shows the phone in full (``masked=False``) to the resident who just
        typed it, so that they can check it; everywhere after, it is masked.
        """
        lines = [("应聘岗位", f"{self.job['title']}，{self.job['employer']}")] if self.job else []
        for step in self.steps:
            value = self.values.get(step.key)
            if step.kind == "phone":
                digits = value or ""
                text = mask_phone(digits) if masked else " ".join(
                    g for g in (digits[:3], digits[3:7], digits[7:11]) if g)
            elif step.kind == "date" and value:
                day = dt.date.fromisoformat(value)
                text = f"{day.year}年{day.month}月{day.day}日"
            elif isinstance(value, list):
                text = "、".join(value)
            else:
                text = value or ""
            lines.append((step.label, text))
        return lines

    def __repr__(self) -> str:
        return f"FormState(kind={self.kind!r}, step={self.index}, phone={mask_phone(self.phone)!r})"


def build_submission(form: FormState, resident: Any, *, station_id: str
                     ) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``(kind, person, answers)`` for ``content.registrations.submit_registration``.

    Refuses (FormError) an incomplete form, a missing resident or consent not given. An
    application for a job (``form.job``) may be made without the card: ``person`` is then the
    phone number alone, and the registration is sent as unverified.
    """
    if resident is None and not form.job:
        raise FormError("请先把身份证放在感应区")
    for step in form.steps:
        problem = form.problem(step)
        if problem:
            raise FormError(f"{step.label}：{problem}")
    if form.consent_at is None:
        raise FormError("需要您同意个人信息说明才能登记")
    if resident is None:
        person = {"phone": check_mobile(form.phone)}
    else:
        person = {
            "name": resident.name,
            "id_number": resident.id_number,
            "gender": resident.gender,
            "birth_date": resident.birth_date.isoformat(),
            "address": resident.address,
            "phone": check_mobile(form.phone),
        }
    answers = {
        **form.answers(),
        "consent": {"version": CONSENT_VERSION, "accepted_at": form.consent_at.isoformat(timespec="seconds")},
        "channel": "kiosk",
        "station_id": station_id,
    }
    return form.kind, person, answers
