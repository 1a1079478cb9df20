"""Opening hours: the station's setting is the one every screen shows; doctor warns when the feed says otherwise."""

from __future__ import annotations

from config.cli import main
from config.doctor import check_hours, run_checks
from config.station import open_store
from content.hours import disagreements, stated_hours, time_ranges
from content.sample import sample_content


def test_hours_are_read_as_people_write_them() -> None:
    assert time_ranges("周一至周五 9:00-12:00 14:00-17:30") == ("9:00-12:00", "14:00-17:30")
    assert time_ranges("上午9点至12点，下午14：00～17：30") == ("9:00-12:00", "14:00-17:30")
    assert stated_hours("服务站办公时间：周一至周五 9:00-17:30，咨询电话0851-12333。") == ("9:00-17:30",)
    assert stated_hours("招聘会 3月15日 9:00-11:30") == ()  # an event's time is not the station's hours
    mentions = disagreements("周一至周五 9:00-12:00 14:00-17:30", [
        ("通知", "n1", "服务站办公时间：周一至周五 9:00-17:30。"),
        ("通知", "n2", "服务时间：9:00-12:00，14:00-17:30"),
        ("通知", "n3", "招聘会 9:00-11:30")])
    assert [(m.item_id, m.says) for m in mentions] == [("n1", "9:00-17:30")]


def _station_with_sample_feed(station, hours: str):
    text = station.config_path.read_text(encoding="utf-8")
    station.config_path.write_text(text.replace('opening_hours = "周一至周五 9:00-17:30"', f'opening_hours = "{hours}"'),
                                   encoding="utf-8")
    settings = station.settings
    assert settings.station.opening_hours == hours
    content = sample_content(origin=(settings.station.latitude, settings.station.longitude), jobs=5)
    with open_store(settings) as store:
        store.replace_content(content, feed_id="test", version=1)
    return settings


def test_doctor_warns_when_a_notice_gives_other_hours_than_the_stations(station, capsys) -> None:
    # the sample feed's notice says 周一至周五 9:00-17:30; this station is open with a lunch break
    settings = _station_with_sample_feed(station, "周一至周五 9:00-12:00 14:00-17:30")
    [check] = run_checks(settings, checks=(check_hours,))
    assert check.status == "warn" and check.key == "hours"
    assert "通知 notice-hours 写的是 9:00-17:30" in check.detail
    assert "本站设置的服务时间（周一至周五 9:00-12:00 14:00-17:30）" in check.detail
    # a warning is not a fault: doctor still ends well, and says where to look
    main(["--config", str(station.config_path), "doctor"])
    out = capsys.readouterr().out
    assert "! 服务时间" in out and "9:00-17:30" in out


def test_doctor_is_content_when_the_feed_agrees(station) -> None:
    settings = _station_with_sample_feed(station, "周一至周五 9:00-17:30")
    [check] = run_checks(settings, checks=(check_hours,))
    assert check.status == "ok" and "周一至周五 9:00-17:30" in check.detail


def test_doctor_reads_the_hours_without_creating_a_database(station) -> None:
    settings = station.settings
    [check] = run_checks(settings, checks=(check_hours,))
    assert check.status == "ok" and "周一至周五 9:00-17:30" in check.detail
    assert not settings.db_path.exists()  # a station that never synced keeps no empty database from doctor
