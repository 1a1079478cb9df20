"""同意短信推送岗位信息 on the kiosk's consent page: unticked each time the page opens, ticked only by
a tap, and what the registration carries to the outbox either way."""

from __future__ import annotations

import pytest
from test_kiosk_apply import apply_for
from test_kiosk_flows import make_kiosk  # noqa: F401 - fixture

from content.outbox import Outbox

pytestmark = pytest.mark.display


def test_sms_consent_is_off_unless_tapped(make_kiosk, station) -> None:  # noqa: F811
    kiosk = make_kiosk()
    driver, app = kiosk.driver, kiosk.app
    first, second = (hit.job for hit in app.store.featured_jobs(2))

    apply_for(kiosk, first.id, "13800138001")
    chip = app.screen.ids.sms_consent
    assert not chip.selected and "同意短信推送岗位信息" in chip.text
    driver.tap(chip)
    assert chip.selected and chip.text.startswith("✓ ")
    driver.tap(app.screen.ids.accept_button)
    assert app.screen_name == "done"

    apply_for(kiosk, second.id, "13900139002")
    assert not app.screen.ids.sms_consent.selected  # the next registration starts unticked
    driver.tap(app.screen.ids.accept_button)
    with Outbox(station.settings.db_path) as outbox:
        sent = [(e.payload["person"]["phone"], e.payload["sms_consent"]) for e in outbox.pending("registration")]
    assert sent == [("13800138001", True), ("13900139002", False)]
