"""A job slip's QR code leads to the job on the station's phone page when the job has no link
of its own, and the QR code printed reads back as that address."""

from __future__ import annotations

import zxingcpp

from printer import slips
from printer.preview import render
from printer.profiles import get_profile
from printer.samples import SAMPLE_URL, sample_job, sample_station
from protocol.phone import phone_page_url

FEED = "https://hub.example.gov.cn/feeds/gy-yunyan/"


def test_a_job_without_a_link_gets_its_page_on_the_stations_phone_pages() -> None:
    page = phone_page_url(FEED, "gy-yunyan-001", "J1001")
    assert page == "https://hub.example.gov.cn/feeds/gy-yunyan/m/s/gy-yunyan-001/job-J1001.html"
    profile = get_profile("generic-80")
    slip = slips.job_slip(sample_job(url=""), station=sample_station(), profile=profile,
                          slip_no="X", page_url=page, native_qr=False)
    assert slip.qr_data == page
    image, _report = render(slip.data, profile.dots, chinese_default=not profile.needs_fs_ampersand)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [page]


def test_a_jobs_own_link_comes_first_and_no_feed_means_no_qr_code() -> None:
    own = slips.job_slip(sample_job(), station=sample_station(), profile=get_profile("generic-58"), slip_no="X",
                         page_url=phone_page_url(FEED, "gy-yunyan-001", "J1001"))
    assert own.qr_data == SAMPLE_URL
    assert phone_page_url("", "gy-yunyan-001", "J1001") == ""
    bare = slips.job_slip(sample_job(url=""), station=sample_station(), profile=get_profile("generic-58"),
                          slip_no="X", page_url="")
    assert bare.qr_data == ""
