"""Region names where staff read a region code, and employers linked to their jobs."""

from __future__ import annotations

import io

import pytest
from console_kit import FEED, Console, post

from hub.console.regions import region_name, regions_text


@pytest.mark.parametrize("code, name", [
    ("520103", "贵州省贵阳市云岩区"), ("520100", "贵州省贵阳市"), ("520000", "贵州省"), ("110101", "北京市东城区"),
    ("500101", "重庆市万州区"), ("*", "全部地区"), ("520199", "520199"), ("12ab", "12ab")])
def test_a_region_code_reads_as_its_name(code: str, name: str) -> None:
    assert region_name(code) == name


def test_a_list_of_codes_reads_as_names() -> None:
    assert regions_text("520103,520102") == "贵州省贵阳市云岩区、贵州省贵阳市南明区" and regions_text("") == "—"


def test_employers_show_their_region_and_their_jobs(console: Console) -> None:
    editor = console.client("editor")
    refused = post(editor, "/console/employers", {"name": "云岩物业公司", "uscc": "91110108551385082Q", "region": "5201"})
    assert refused.status_code == 400 and "没有 5201 这个地区" in refused.get_data(as_text=True)
    assert post(editor, "/console/employers", {"name": "云岩物业公司", "uscc": "91110108551385082Q",
                                                "region": "520103"}).status_code == 302
    sheet = ("岗位编号,岗位名称,用人单位,岗位类别,薪资下限（元）,薪资上限（元）,纬度,经度,发布日期,有效期至\n"
             "e-1,保洁员,云岩物业公司,保洁,2200,2800,26.58,106.71,2026-11-01,2026-12-31\n"
             "e-2,保安,云岩物业公司,保安,2600,3000,26.58,106.71,2026-11-01,2026-12-31\n"
             "e-3,收银员,花果园超市,零售,2400,2800,26.56,106.69,2026-11-01,2026-12-31\n")
    post(editor, "/console/import", {"kind": "job", "feed_id": FEED, "file": (io.BytesIO(sheet.encode()), "岗位.csv")},
         content_type="multipart/form-data")
    page = editor.get("/console/employers").get_data(as_text=True)
    assert "<td>贵州省贵阳市云岩区</td>" in page and "520103</td>" not in page
    assert "云岩物业公司 的 2 个岗位" in page
    jobs = editor.get("/console/content/job", query_string={"employer": "云岩物业公司"}).get_data(as_text=True)
    assert "保洁员" in jobs and "保安" in jobs and "收银员" not in jobs and "共 2 条" in jobs
