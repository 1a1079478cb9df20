"""``yizhan doctor`` against a real hub on loopback: a station clock wrong either way is named as
the station's fault (and not blamed on the centre), and a token the hub does not know fails."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from feed_support import Hub, client_for, hub_toml, make_content

from common import exitcodes
from config.cli import main
from config.doctor import check_clock, check_feed, check_hub, check_token, run_checks, surroundings

NOT_SYNCED = (None, "读不到系统对时状态")


@pytest.fixture
def synced(station, hub: Hub):
    """A station that holds the hub's feed (valid 10 days) and has a token the hub knows."""
    store = hub.store
    try:
        token = store.add_station("test-station-01", "城东社区")
    finally:
        store.close()
    settings = station.write(hub_toml(hub, token=token))
    hub.publish(make_content(hub, jobs=5, media_sizes=(2000,)), valid_days=10)
    client = client_for(settings)
    try:
        assert client.sync_once().status == "changed"
    finally:
        client.close()
    return settings


def _clock_and_feed(settings, shift: dt.timedelta):
    """The hub, clock and feed checks with the station's clock moved by ``shift`` (the hub keeps
    the real time in its Date header)."""
    env = surroundings(settings, now=lambda: dt.datetime.now().astimezone() + shift, timesync=lambda: NOT_SYNCED)
    return check_hub(env), check_clock(env), check_feed(env)


def test_a_clock_five_days_slow_is_the_stations_fault(synced) -> None:
    hub, clock, feed = _clock_and_feed(synced, -dt.timedelta(days=5))
    assert hub.status == "ok"
    assert clock.status == "fail"
    assert "本机时钟比内容服务器慢了 5 天" in clock.detail and "本机的问题" in clock.detail
    assert "timedatectl set-ntp true" in clock.detail
    assert feed.status == "ok"


def test_a_clock_twenty_days_fast_does_not_blame_the_centre(synced) -> None:
    hub, clock, feed = _clock_and_feed(synced, dt.timedelta(days=20))
    assert clock.status == "fail" and "快了 20 天" in clock.detail
    assert feed.status == "fail"
    assert "本机时钟不准" in feed.detail and "不是内容服务器的问题" in feed.detail
    assert "停止了发布" not in feed.detail and "联系上级" not in feed.detail


def test_a_right_clock_passes_and_a_feed_really_expired_is_still_said(synced) -> None:
    hub, clock, feed = _clock_and_feed(synced, dt.timedelta(seconds=90))
    assert clock.status == "ok" and "相差 1 分钟" in clock.detail
    assert feed.status == "ok"
    # Without a hub to compare with, an unsynchronised clock cannot be vouched for.
    env = surroundings(synced, timesync=lambda: (False, "系统自动对时没有开启"))
    assert check_clock(env).status == "fail" and "无法确认" in check_clock(env).detail


def test_a_token_the_hub_does_not_know_fails(synced, station, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_token(synced).status == "ok"
    text = station.config_path.read_text(encoding="utf-8")
    start = text.index('station_token = "') + len('station_token = "')
    end = text.index('"', start)
    station.config_path.write_text(text[:start] + "not-this-stations-token" + text[end:], encoding="utf-8")
    wrong = station.settings
    check = check_token(wrong)
    assert check.status == "fail" and "上传服务器不认可本站的令牌" in check.detail
    assert check.name == "站点令牌"
    # The whole doctor says so, and exits non-zero; --json carries the stable key.
    code = main(["doctor", "--json", "--config", str(station.config_path)])
    data = json.loads(capsys.readouterr().out)
    token = {c["key"]: c for c in data["checks"]}["token"]
    assert code == exitcodes.FAILURE and token["status"] == "fail"


def test_every_line_is_chinese(synced) -> None:
    checks = run_checks(synced, timesync=lambda: NOT_SYNCED)
    for check in checks:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in check.name), check
        assert any("\u4e00" <= ch <= "\u9fff" for ch in check.detail), check
