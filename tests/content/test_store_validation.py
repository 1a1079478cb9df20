"""Bad job records are refused or clipped one by one, with a reason; the store takes whole batches only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from content.sample import sample_rows
from content.store import Store
from protocol.model import ContentSet, Job, clean_text, validate_records

ORIGIN = (26.5830, 106.7135)
TODAY = dt.date(2024, 6, 3)


def good_row(**changes) -> dict:
    row = sample_rows(origin=ORIGIN, jobs=1, seed=3, today=TODAY)[0]
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def reasons(rows: list) -> tuple[list[Job], dict[int, str]]:
    good, problems = validate_records("job", rows, today=TODAY)
    return good, {p.index: p.reason for p in problems if not p.clipped}


def test_each_bad_record_is_refused_with_its_reason() -> None:
    missing = good_row()
    del missing["title"]
    rows = [
        good_row(id="ok-1"),
        missing,
        good_row(id="pay", salary_min=5000, salary_max=3000),
        good_row(id="lat", latitude=200),
        good_row(id="nan", longitude=float("nan")),
        good_row(id="expired", published="2024-05-01", valid_until="2024-06-02"),
        good_row(id="backwards", published="2024-06-01", valid_until="2024-05-01"),
        good_row(id="cat", category="程序员"),
        good_row(id="gig", kind="零工", work_date=None),
        good_row(id="age", age_min=60, age_max=18),
        good_row(id="bad id with spaces"),
        good_row(id="extra", colour="red"),
        "not an object",
        good_row(id="ok-1"),
        good_row(id="ok-2"),
    ]
    rows[8].pop("work_date", None)
    good, refused = reasons(rows)
    assert [j.id for j in good] == ["ok-1", "ok-2"]
    assert "title" in refused[1]
    assert "salary_max (3000) is below salary_min (5000)" in refused[2]
    assert "latitude" in refused[3]
    assert "longitude" in refused[4] or "finite" in refused[4]
    assert "expired" in refused[5]
    assert "valid_until" in refused[6]
    assert "category" in refused[7]
    assert "work_date" in refused[8]
    assert "age_max" in refused[9]
    assert "id" in refused[10]
    assert "colour" in refused[11]
    assert "not an object" in refused[12]
    assert "duplicate" in refused[13]
    assert set(refused) == set(range(1, 14))


def test_long_text_is_clipped_and_control_characters_and_emoji_removed() -> None:
    rows = [good_row(id="long", title="保" * 100_000, employer="城东\x00物业\x1b[2J😀服务\u200b公司",
                     requirements="第一行\r\n\x07第二行\t完\x9b" + "长" * 10_000)]
    good, problems = validate_records("job", rows, today=TODAY)
    job = good[0]
    assert job.title == "保" * 60
    assert job.employer == "城东物业[2J服务公司"
    assert job.requirements.startswith("第一行\n第二行 完长")  # CR dropped at line end, tab to space
    assert len(job.requirements) == 4000
    assert "\x1b" not in job.employer and "\x9b" not in job.requirements
    clipped = {p.reason for p in problems if p.clipped}
    assert clipped == {"title clipped to 60 characters", "requirements clipped to 4000 characters"}


def test_the_store_never_holds_half_a_batch(tmp_path: Path) -> None:
    rows = sample_rows(origin=ORIGIN, jobs=40, seed=8, today=TODAY)
    rows[5]["salary_max"] = -1
    rows[17]["latitude"] = 95
    good, problems = validate_records("job", rows, today=TODAY)
    assert len(good) == 38 and len(problems) == 2
    with Store(tmp_path / "s.db", ORIGIN) as store:
        store.replace_content(ContentSet(jobs=good))
        assert store.content_info().counts["jobs"] == 38
        added, updated = store.merge_jobs([Job.model_validate(good_row(id="new-1"))])
        assert (added, updated) == (1, 0)
        changed = good[0].model_copy(update={"title": "高级保洁员"})
        assert store.merge_jobs([changed]) == (0, 1)
        assert store.get_job(good[0].id).title == "高级保洁员"
        assert store.content_info().counts["jobs"] == 39
        assert store.merge_jobs([changed], replace_jobs=True) == (0, 1)
        assert store.content_info().counts["jobs"] == 1


def reference_clean(value: str, multiline: bool) -> str:
    """clean_text as first written: character by character (the fast path must agree with it)."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFC", value)
    out = []
    for ch in text:
        code = ord(ch)
        emoji = any(lo <= code <= hi for lo, hi in ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0xFE00, 0xFE0F)))
        if ch == "\n" and multiline:
            out.append(ch)
        elif ch in "\t\r\n":
            out.append(" ")
        elif unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} or emoji:
            continue
        else:
            out.append(ch)
    text = "".join(out)
    if multiline:
        text = "\n".join(re.sub(r"[ \u3000]+", " ", line).strip() for line in text.split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = re.sub(r"[ \u3000]+", " ", text)
    return text.strip()


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(
    list("保洁员 ab\t\r\n\u3000\u00a0\u2028\x00\x1b\x9b\u200b\ufeff\ue000😀☀️\U0001fa70") + [chr(0x0378)])),
    st.booleans())
def test_clean_text_agrees_with_the_character_by_character_rule(value: str, multiline: bool) -> None:
    assert clean_text(value, multiline=multiline) == reference_clean(value, multiline)
