"""人岗匹配 at the centre, by hand: 200 jobs laid out on a line east of station O (station B is
12 km east of O) and 30 registrations, each with the top 5 its rules (hub/matching.py's
docstring) give, worked out by hand from the layout below.

Jobs (published 2026-11-01; today is Monday 2026-12-07):
- 100 全职: ten categories (ba 保安, bj 保洁, cy 餐饮, fw 服务, jg 技工, jz 家政, jzu 建筑,
  ny 农业, pg 普工, wl 物流) x 1, 2.5, 5, 12, 40 km east of O x a top monthly pay of 2800 or
  5200 (id ``<code>-<km>k-<pay>``); 保安 takes men of 18-50, 家政 women up to 55; the 5200 物流
  jobs close on 2026-12-20, the rest on 2027-03-31;
- 100 零工: the ten categories x work dates 12-06 (past), 12-07, 12-08, 12-10, 12-12 (a
  Saturday) x 150 元/日 2 km east or 220 元/日 8 km east (id ``g-<code>-<MMDD>-<rate>``).
"""

from __future__ import annotations

import datetime as dt

import pytest

from common.geo import destination
from hub.matching import MatchError, Seeker, match_publication, recommend, seeker_from
from protocol.model import Job

TODAY = dt.date(2026, 12, 7)
O = (26.58, 106.71)  # noqa: E741 (station O, as the docstring names it)
B = destination(*O, 90.0, 12.0)
CODES = {"ba": "保安", "bj": "保洁", "cy": "餐饮", "fw": "服务", "jg": "技工", "jz": "家政", "jzu": "建筑",
         "ny": "农业", "pg": "普工", "wl": "物流"}
LIMITS = {"ba": {"gender": "男", "age_min": 18, "age_max": 50}, "jz": {"gender": "女", "age_max": 55}}


def _east(km: float) -> tuple[float, float]:
    return destination(*O, 90.0, km)


def _jobs() -> list[Job]:
    jobs = []
    for code, category in CODES.items():
        for km in (1, 2.5, 5, 12, 40):
            for pay in (2800, 5200):
                lat, lon = _east(km)
                closes = dt.date(2026, 12, 20) if code == "wl" and pay == 5200 else dt.date(2027, 3, 31)
                jobs.append(Job(id=f"{code}-{km:g}k-{pay}", title=f"{category}岗位", employer="某公司",
                                category=category, salary_min=pay - 500, salary_max=pay, latitude=lat, longitude=lon,
                                published=dt.date(2026, 11, 1), valid_until=closes, **LIMITS.get(code, {})))
        for day in (6, 7, 8, 10, 12):
            for rate, km in ((150, 2), (220, 8)):
                lat, lon = _east(km)
                jobs.append(Job(id=f"g-{code}-12{day:02d}-{rate}", title=f"{category}零工", employer="某公司",
                                category=category, kind="零工", work_date=dt.date(2026, 12, day), salary_min=rate,
                                salary_max=rate, salary_unit="日", latitude=lat, longitude=lon,
                                published=dt.date(2026, 11, 1), valid_until=dt.date(2026, 12, 31)))
    return jobs


PEOPLE = {"F40": ("女", "1986-06-01"), "M35": ("男", "1991-05-05"), "M30": ("男", "1996-01-01"),
          "F30": ("女", "1996-02-02"), "M55": ("男", "1971-03-03"), "F50": ("女", "1976-04-04"),
          "F56": ("女", "1970-01-01"), "M45": ("男", "1981-01-01"), "M40": ("男", "1986-01-01"), "?": ("", "")}

# (number, kind, station, who, answers, expected top 5)
CASES = [
    (1, "求职", O, "F40", {"categories": ["保洁"], "salary": "3000-5000元", "available_from": "2026-12-07"},
     ["bj-1k-5200", "bj-2.5k-5200", "bj-5k-5200", "bj-12k-5200"]),
    (2, "求职", O, "F40", {"categories": ["保洁"], "salary": "面议"},
     ["bj-1k-5200", "bj-2.5k-5200", "bj-1k-2800", "bj-2.5k-2800", "bj-5k-5200"]),
    (3, "求职", O, "F40", {"categories": ["保洁"], "salary": "5000-8000元"},
     ["bj-1k-5200", "bj-2.5k-5200", "bj-5k-5200", "bj-12k-5200"]),
    (4, "求职", O, "F40", {"categories": ["保洁"], "salary": "8000元以上"}, []),
    (5, "求职", O, "M35", {"categories": ["保洁", "普工"], "salary": "面议"},
     ["bj-1k-5200", "pg-1k-5200", "bj-2.5k-5200", "pg-2.5k-5200", "bj-1k-2800"]),
    (6, "求职", B, "F40", {"categories": ["保洁"], "salary": "面议"},
     ["bj-12k-5200", "bj-12k-2800", "bj-5k-5200", "bj-2.5k-5200", "bj-1k-5200"]),
    (7, "求职", B, "F40", {"categories": ["保洁"], "salary": "3000-5000元"},
     ["bj-12k-5200", "bj-5k-5200", "bj-2.5k-5200", "bj-1k-5200", "bj-40k-5200"]),
    (8, "求职", O, "M30", {"categories": ["保安"], "salary": "面议"},
     ["ba-1k-5200", "ba-2.5k-5200", "ba-1k-2800", "ba-2.5k-2800", "ba-5k-5200"]),
    (9, "求职", O, "F30", {"categories": ["保安"], "salary": "面议"}, []),
    (10, "求职", O, "M55", {"categories": ["保安"], "salary": "面议"}, []),
    (11, "求职", O, "?", {"categories": ["保安"], "salary": "面议"},
     ["ba-1k-5200", "ba-2.5k-5200", "ba-1k-2800", "ba-2.5k-2800", "ba-5k-5200"]),
    (12, "求职", O, "F50", {"categories": ["家政"], "salary": "面议"},
     ["jz-1k-5200", "jz-2.5k-5200", "jz-1k-2800", "jz-2.5k-2800", "jz-5k-5200"]),
    (13, "求职", O, "F56", {"categories": ["家政"], "salary": "面议"}, []),
    (14, "求职", O, "M30", {"categories": ["物流"], "salary": "3000-5000元", "available_from": "2026-12-07"},
     ["wl-1k-5200", "wl-2.5k-5200", "wl-5k-5200", "wl-12k-5200"]),
    (15, "求职", O, "M30", {"categories": ["物流"], "salary": "3000-5000元", "available_from": "2027-01-06"}, []),
    (16, "求职", O, "M30", {"categories": ["物流"], "salary": "面议", "available_from": "2027-01-06"},
     ["wl-1k-2800", "wl-2.5k-2800", "wl-5k-2800", "wl-12k-2800"]),
    (17, "返乡", O, "M45", {"categories": ["农业"], "return_date": "2026-12-31", "plan": "务农"},
     ["ny-1k-5200", "ny-2.5k-5200", "ny-1k-2800", "ny-2.5k-2800", "ny-5k-5200"]),
    (18, "返乡", O, "M30", {"categories": [], "return_date": "2026-12-07"},
     ["ba-1k-5200", "bj-1k-5200", "cy-1k-5200", "fw-1k-5200", "jg-1k-5200"]),
    (19, "返乡", O, "F30", {"categories": [], "return_date": "2026-12-07"},
     ["bj-1k-5200", "cy-1k-5200", "fw-1k-5200", "jg-1k-5200", "jz-1k-5200"]),
    (20, "返乡", O, "M30", {"categories": ["其他"], "return_date": "2026-12-07"},
     ["ba-1k-5200", "bj-1k-5200", "cy-1k-5200", "fw-1k-5200", "jg-1k-5200"]),
    (21, "返乡", B, "M40", {"categories": ["建筑"], "return_date": "2026-12-07"},
     ["jzu-12k-5200", "jzu-12k-2800", "jzu-5k-5200", "jzu-2.5k-5200", "jzu-1k-5200"]),
    (22, "零工", O, "F40", {"skills": ["保洁"], "days": "每天都可以", "day_pay": "150元左右"},
     ["g-bj-1207-220", "g-bj-1207-150", "g-bj-1208-220", "g-bj-1208-150", "g-bj-1210-220"]),
    (23, "零工", O, "F40", {"skills": ["保洁"], "days": "每天都可以", "day_pay": "200元左右"},
     ["g-bj-1207-220", "g-bj-1208-220", "g-bj-1210-220", "g-bj-1212-220"]),
    (24, "零工", O, "F40", {"skills": ["保洁"], "days": "今天明天", "day_pay": "150元左右"},
     ["g-bj-1207-220", "g-bj-1207-150", "g-bj-1208-220", "g-bj-1208-150"]),
    (25, "零工", O, "F40", {"skills": ["保洁"], "days": "只有周末", "day_pay": "面议"},
     ["g-bj-1212-220", "g-bj-1212-150"]),
    (26, "零工", O, "M35", {"skills": ["搬运装卸"], "days": "随叫随到", "day_pay": "100元左右"},
     ["g-pg-1207-220", "g-wl-1207-220", "g-pg-1207-150", "g-wl-1207-150", "g-pg-1208-220"]),
    (27, "零工", O, "F50", {"skills": ["看护陪护"], "days": "每天都可以", "day_pay": "面议"},
     ["g-jz-1207-220", "g-jz-1207-150", "g-jz-1208-220", "g-jz-1208-150", "g-jz-1210-220"]),
    (28, "零工", O, "M30", {"skills": ["其他"], "days": "每天都可以", "day_pay": "面议"},
     ["g-ba-1207-220", "g-bj-1207-220", "g-cy-1207-220", "g-fw-1207-220", "g-jg-1207-220"]),
    (29, "零工", O, "M30", {"skills": ["保洁"], "days": "每天都可以", "day_pay": "250元以上"}, []),
    (30, "零工", B, "F30", {"skills": ["餐饮帮工"], "days": "今天明天", "day_pay": "150元左右"},
     ["g-cy-1207-220", "g-cy-1207-150", "g-cy-1208-220", "g-cy-1208-150"]),
]


def _seeker(number: int, kind: str, station: tuple[float, float], who: str, answers: dict) -> Seeker:
    gender, birth = PEOPLE[who]
    person = {"name": "某某", "gender": gender, "birth_date": birth, "phone": "13600000000"}
    return seeker_from(number, {"kind": kind, "person": person, "answers": answers}, today=TODAY, origin=station)


@pytest.fixture(scope="module")
def jobs() -> list[Job]:
    made = _jobs()
    assert len(made) == 200 and len({j.id for j in made}) == 200
    return made


@pytest.mark.parametrize("case", CASES, ids=[str(c[0]) for c in CASES])
def test_each_registration_gets_the_top_5_its_rules_give(case: tuple, jobs: list[Job]) -> None:
    number, kind, station, who, answers, expected = case
    top = recommend(_seeker(number, kind, station, who, answers), jobs, TODAY)
    assert [m.job.id for m in top] == expected


def test_a_new_job_lists_the_registrations_it_fits(jobs: list[Job]) -> None:
    seekers = [_seeker(n, kind, station, who, answers) for n, kind, station, who, answers, _ in CASES]
    new = [j for j in jobs if j.id in ("bj-1k-5200", "g-bj-1212-150", "ba-40k-5200", "wl-12k-5200")]
    found = match_publication(new, seekers, TODAY)
    assert set(found["bj-1k-5200"]) == {1, 2, 3, 5, 6, 7, 18, 19, 20}
    assert set(found["g-bj-1212-150"]) == {22, 25, 28}  # 23 wants 180 a day, 24 only today/tomorrow
    assert "ba-40k-5200" not in found  # 40 km from O; at B nobody asked for 保安
    assert set(found["wl-12k-5200"]) == {14, 18, 19, 20}  # 15 and 16 start after it closes
    # for every job, the grouped lists agree with the per-registration rule
    every = match_publication(jobs, seekers, TODAY)
    for job in jobs:
        fitting = {seeker.key for seeker in seekers if recommend(seeker, [job], TODAY)}
        assert set(every.get(job.id, [])) == fitting, job.id


def test_other_kinds_are_not_matched_and_say_so() -> None:
    with pytest.raises(MatchError, match="培训需求登记不做人岗匹配"):
        seeker_from(1, {"kind": "培训需求", "person": {}, "answers": {}}, today=TODAY)
