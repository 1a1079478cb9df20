"""``yizhan jobs`` and ``yizhan stats`` on a temporary station, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common import exitcodes
from config.cli import main
from config.station import open_store


def run(station, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(station.config_path), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def filled(station, capsys):
    code, out, _ = run(station, capsys, "jobs", "sample", "--count", "400", "--seed", "3")
    assert code == exitcodes.OK
    assert "jobs 400" in out
    return station


def test_sample_fills_the_store_with_videos(filled) -> None:
    with open_store(filled.settings) as store:
        info = store.content_info()
        assert info.feed_id == "sample" and info.counts["jobs"] == 400 and info.counts["courses"] == 2
        for course in store.courses():
            assert (filled.settings.media_dir / course.media.filename).is_file()


def test_search_text_and_json(filled, capsys) -> None:
    code, out, _ = run(filled, capsys, "jobs", "search", "保洁", "--radius", "all", "--limit", "5")
    assert code == exitcodes.OK
    first_line = out.splitlines()[0]
    assert first_line.startswith("共 ") and "不限距离" in first_line
    code, out, _ = run(filled, capsys, "jobs", "search", "bj", "--json", "--limit", "500")
    data = json.loads(out)
    with open_store(filled.settings) as store:
        expected = store.search_jobs("bj", limit=500)
        assert data["count"] == store.count_jobs("bj")
    assert data["radius_km"] == 3
    assert [j["id"] for j in data["jobs"]] == [h.job.id for h in expected]
    assert all(j["distance_km"] <= 3 for j in data["jobs"])
    assert all(j["matched_field"] in ("title", "employer", "category") for j in data["jobs"])


def test_search_filters_for_a_person(filled, capsys) -> None:
    code, out, _ = run(filled, capsys, "jobs", "search", "--radius", "10", "--age", "58", "--gender", "女",
                       "--category", "保洁", "--json", "--limit", "500")
    assert code == exitcodes.OK
    jobs = json.loads(out)["jobs"]
    assert jobs and all(j["category"] == "保洁" and j["gender"] in ("不限", "女") for j in jobs)
    assert all((j["age_max"] or 100) >= 58 and (j["age_min"] or 0) <= 58 for j in jobs)
    assert all(j["distance_km"] <= 10 for j in jobs)
    code, out, _ = run(filled, capsys, "jobs", "search", "--kind", "零工", "--when", "today", "--json")
    assert all(j["kind"] == "零工" for j in json.loads(out)["jobs"])
    code, _, err = run(filled, capsys, "jobs", "search", "x", "--radius", "near")
    assert code == exitcodes.USAGE and "--radius" in err


def test_show(filled, capsys) -> None:
    with open_store(filled.settings) as store:
        job = store.search_jobs("叉车")[0].job
    code, out, _ = run(filled, capsys, "jobs", "show", job.id)
    assert code == exitcodes.OK
    assert f"岗位　　　{job.title}" in out and f"单位　　　{job.employer}" in out and job.salary_text() in out
    code, out, _ = run(filled, capsys, "jobs", "show", job.id, "--json")
    assert json.loads(out)["id"] == job.id
    code, _, err = run(filled, capsys, "jobs", "show", "no-such-job")
    assert code == exitcodes.FAILURE and "no-such-job" in err


def test_import_csv_reports_bad_rows_and_applies_good_ones(filled, capsys, tmp_path: Path) -> None:
    csv_text = (
        "id,title,employer,category,kind,work_date,salary_min,salary_max,salary_unit,latitude,longitude,"
        "age_min,age_max,gender,published,valid_until\n"
        "csv-1,保洁员,城东物业服务有限公司,保洁,全职,,2800,3300,月,26.5841,106.7142,18,60,不限,2020-01-01,2099-12-31\n"
        "csv-2,搬运工,城东物流有限公司,普工,零工,2099-01-01,200,260,日,26.5902,106.7188,18,55,男,2020-01-01,2099-01-01\n"
        "csv-3,电工,城东物业,技工,全职,,3000,2500,月,26.58,106.71,,,不限,2020-01-01,2099-12-31\n"
        "csv-4,叉车司机,城东物流,物流,全职,,5000,6500,月,200,106.71,,,不限,2020-01-01,2099-12-31\n"
        "csv-5,普工,城东电子,普工,全职,,4000,5000,月,26.58,106.71,,,不限,2020-01-01,2020-02-01\n"
    )
    path = tmp_path / "jobs.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text.encode("utf-8"))  # as Excel saves it
    code, out, _ = run(filled, capsys, "jobs", "import", str(path))
    assert code == exitcodes.FAILURE  # some rows refused
    lines = out.splitlines()
    assert any(line.startswith("第 4 行（csv-3）未导入") and "salary_max" in line for line in lines)
    assert any(line.startswith("第 5 行（csv-4）未导入") and "latitude" in line for line in lines)
    assert any(line.startswith("第 6 行（csv-5）未导入") and "expired" in line for line in lines)
    assert "新增 2 个" in lines[-1] and "拒绝 3 个" in lines[-1]
    with open_store(filled.settings) as store:
        assert store.content_info().counts["jobs"] == 402
        assert store.get_job("csv-2").work_date.isoformat() == "2099-01-01"
        assert store.get_job("csv-3") is None
        assert len(store.policies()) == 7  # the rest of the content stays


def test_import_json_gb18030_csv_and_bad_files(filled, capsys, tmp_path: Path) -> None:
    rows = [{"id": "json-1", "title": "保安员", "employer": "城东保安服务公司", "category": "保安",
             "salary_min": 3200, "salary_max": 4000, "latitude": 26.58, "longitude": 106.71,
             "published": "2020-01-01", "valid_until": "2099-12-31"}]
    (tmp_path / "jobs.json").write_text(json.dumps({"jobs": rows}, ensure_ascii=False), encoding="utf-8")
    code, out, _ = run(filled, capsys, "jobs", "import", str(tmp_path / "jobs.json"), "--replace", "--json")
    assert code == exitcodes.OK
    assert json.loads(out) == {"file": str(tmp_path / "jobs.json"), "rows": 1, "added": 1, "updated": 0,
                               "rejected": 0, "clipped": 0}
    with open_store(filled.settings) as store:
        assert [h.job.id for h in store.search_jobs(radius_km=None)] == ["json-1"]
    gb = "id,title,employer,category,salary_min,salary_max,latitude,longitude,published,valid_until\n" \
         "gb-1,厨师,城东餐饮管理有限公司,餐饮,5000,7000,26.58,106.71,2020-01-01,2099-12-31\n"
    (tmp_path / "gb.csv").write_bytes(gb.encode("gb18030"))
    code, out, _ = run(filled, capsys, "jobs", "import", str(tmp_path / "gb.csv"))
    assert code == exitcodes.OK
    with open_store(filled.settings) as store:
        assert store.get_job("gb-1").title == "厨师"
    (tmp_path / "bad.csv").write_text("id,title,colour\n1,x,red\n", encoding="utf-8")
    code, _, err = run(filled, capsys, "jobs", "import", str(tmp_path / "bad.csv"))
    assert code == exitcodes.FAILURE and "colour" in err
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    code, _, err = run(filled, capsys, "jobs", "import", str(tmp_path / "bad.json"))
    assert code == exitcodes.FAILURE and "JSON" in err
    code, _, err = run(filled, capsys, "jobs", "import", str(tmp_path / "missing.json"))
    assert code == exitcodes.FAILURE and "missing.json" in err
    with open_store(filled.settings) as store:
        assert store.content_info().counts["jobs"] == 2


def test_stats(filled, capsys) -> None:
    code, out, _ = run(filled, capsys, "stats", "--json")
    assert code == exitcodes.OK
    data = json.loads(out)
    assert data["content"]["feed_id"] == "sample" and data["content"]["counts"]["jobs"] == 400
    assert data["open_jobs"]["all"] == 400
    assert data["open_jobs"]["near"] == sum(data["open_jobs"]["by_category_near"].values()) < 400
    assert sum(data["open_jobs"]["by_kind_all"].values()) == 400
    code, out, _ = run(filled, capsys, "stats")
    assert code == exitcodes.OK and "在招岗位" in out and "按类别" in out


def test_a_query_starting_with_a_dash_is_a_query(filled, capsys) -> None:
    """Residents and staff type what they look for; "-" first is not an option (no "--" needed)."""
    for query in ("-保洁", "-bj", "-"):
        code, out, err = run(filled, capsys, "jobs", "search", query, "--radius", "all", "--json")
        assert code == exitcodes.OK, err
        data = json.loads(out)
        assert data["query"] == query
    code, out, _ = run(filled, capsys, "jobs", "search", "--radius", "all", "-bj", "--json")
    assert json.loads(out)["query"] == "-bj"
    with pytest.raises(SystemExit) as stopped:
        run(filled, capsys, "jobs", "search", "bj", "--no-such-option")
    assert stopped.value.code == 2 and "--no-such-option" in capsys.readouterr().err
