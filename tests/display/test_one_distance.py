"""One distance for one job on every surface: the kiosk's list and 朗读, the board's row, the printed slip."""

from __future__ import annotations

import datetime as dt

import pytest

from common.geo import distance_text
from content.store import JobHit
from display.board_content import job_row
from printer import slips
from printer.preview import render
from printer.profiles import get_profile
from printer.samples import sample_job, sample_station

NOW = dt.datetime(2025, 3, 1, 10, 32)


@pytest.mark.parametrize(("km", "shown"), [(0.044, "40米"), (0.996, "1.0公里"), (2.345, "2.3公里"), (9.96, "10公里"),
                                            (35.2, "35公里")])
def test_the_kiosk_the_board_and_the_slip_show_the_same_distance(km: float, shown: str) -> None:
    from kiosk.jobquery import job_speech
    from kiosk.screens.jobs import card_data

    assert distance_text(km) == shown
    job = sample_job()
    kiosk_card = card_data(JobHit(job, km), NOW.date())["details"]
    kiosk_speech = job_speech(job, km)
    board = job_row(job, km, NOW.date())
    profile = get_profile("generic-80")
    slip = slips.job_slip(job, station=sample_station(), profile=profile, slip_no="250301-1032-7F3A",
                          distance_km=km, now=NOW)
    _image, report = render(slip.data, profile.dots, chinese_default=not profile.needs_fs_ampersand)
    paper = report.text
    assert f"离这里{shown}" in kiosk_card.split(" · ")
    assert f"离这里{shown}" in kiosk_speech.split("。")
    assert board.distance == shown and shown in board.meta.split(" · ")
    assert f"距离：距本站约{shown}" in paper.splitlines()


def test_the_residents_phone_pages_use_the_same_formatter() -> None:
    """The board's QR code leads to the station's phone page: the same job reads the same there."""
    from hub.mobile import pages

    assert pages._distance_text is distance_text
