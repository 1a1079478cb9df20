"""The fleet at the centre: what stations report (software version, last upgrade, clock,
uptime, failed media) shown in Chinese on the stations page, a station's page and 版本分布,
with alerts for 升级失败/已回滚, 时钟偏差, 令牌无效 and a silent station; the dashboard's
counts live; remote care from the console reaching a station over loopback."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import pytest
from console_kit import Console, post

from config.settings import REMOTE_SETTINGS_FILE, check_pin, toml_set
from config.station import Station
from hub.app import HubServer

ROLLED_BACK = {"version": "0.1.4", "result": "rolled_back", "detail": "自检失败：yizhan-kiosk.service 没有启动",
               "at": "2026-11-20T01:30:00+00:00"}


def _beat(console: Console, station_id: str, **payload: object) -> None:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results = console.store.ingest(station_id, "heartbeat", [{
        "key": f"hb-{uuid.uuid4().hex}", "created_at": now,
        "payload": {"at": now, "devices": {"printer": {"ok": True, "detail": "正常"}}, "outbox_depth": 0,
                    "feed_id": "gy", "content_version": 3, **payload}}])
    assert [r["status"] for r in results] == ["created"], results


def _text(page: bytes) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.decode())))


@pytest.fixture
def fleet(console: Console) -> Console:
    console.clock.now = dt.datetime.now(dt.UTC)  # the hub stamps heartbeats with the real time
    console.store.add_station("s-1", "城东社区驿站")
    console.store.add_station("s-2", "城西社区驿站")
    _beat(console, "s-1", software_version="0.1.3", last_upgrade=ROLLED_BACK, clock_offset_s=300,
          uptime_s=3 * 86400, failed_media=2, sync_interval_s=300)
    _beat(console, "s-2", software_version="0.1.4", clock_offset_s=-1, uptime_s=600, failed_media=0,
          last_upgrade={"version": "0.1.4", "result": "ok", "detail": "", "at": "2026-11-19T01:00:00+00:00"},
          sync_interval_s=60)
    return console


def test_a_rollback_and_a_wrong_clock_are_shown_and_raised(fleet: Console) -> None:
    operator = fleet.client("operator")
    page = _text(operator.get("/console/stations").data)
    assert "已回滚 0.1.4" in page and "快 5 分钟" in page and "升级成功 0.1.4" in page
    assert "0.1.3" in page
    upgrade = _text(operator.get("/console/stations?alert=upgrade").data)
    clock = _text(operator.get("/console/stations?alert=clock").data)
    assert "城东社区驿站" in upgrade and "城西社区驿站" not in upgrade
    assert "城东社区驿站" in clock and "城西社区驿站" not in clock

    detail = operator.get("/console/stations/s-1")
    text = _text(detail.data)
    assert "已回滚" in text and "自检失败：yizhan-kiosk.service 没有启动" in text
    assert "快 5 分钟" in text and "偏差超过 2 分钟" in text
    assert "3.0 天" in text and "2 个文件" in text
    for raw in ("software_version", "clock_offset_s", "last_upgrade", "rolled_back", "uptime_s"):
        assert raw not in text  # no heartbeat JSON with English keys
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text)  # local times, not ISO stamps

    versions = operator.get("/console/stations/versions")
    assert versions.status_code == 200
    rows = {r[0]: r for r in re.findall(r"<tr><td>([0-9.]+)</td><td class=\"num\">(\d+)</td>.*?"
                                         r"<td class=\"num\">(\d+)</td>", versions.data.decode(), re.S)}
    assert rows["0.1.4"][1:] == ("1", "1")  # s-2 runs it; s-1 tried it and rolled back
    assert rows["0.1.3"][1:] == ("1", "0")
    assert "城东社区驿站" in _text(versions.data) and "自检失败" in _text(versions.data)


def test_silence_counts_in_the_stations_own_intervals(fleet: Console) -> None:
    operator = fleet.client("operator")
    fleet.clock.advance(minutes=4)  # s-2 syncs every minute: silent; s-1 every 5 minutes: not yet
    offline = _text(operator.get("/console/stations?alert=offline").data)
    assert "城西社区驿站" in offline and "城东社区驿站" not in offline
    fleet.clock.advance(minutes=12)
    assert "城东社区驿站" in _text(operator.get("/console/stations?alert=offline").data)


def test_a_refused_token_is_raised_until_the_station_is_heard_again(fleet: Console) -> None:
    token = fleet.store.add_station("s-3", "城南社区驿站")
    api = fleet.app.test_client()

    def heartbeat(bearer: str, key: str) -> int:
        body = {"items": [{"key": key, "created_at": "2026-11-20T02:00:00+00:00", "payload": {}}]}
        return api.post("/api/v1/heartbeats", json=body,
                        headers={"Authorization": f"Bearer {bearer}", "X-Yizhan-Station": "s-3"}).status_code

    assert heartbeat(token, "hb-1") == 200
    assert heartbeat("a-token-from-an-old-install", "hb-2") == 401
    operator = fleet.client("operator")
    page = _text(operator.get("/console/stations?alert=token").data)
    assert "城南社区驿站" in page and "城东社区驿站" not in page
    assert "令牌无效" in _text(operator.get("/console/stations/s-3").data)
    assert heartbeat(token, "hb-3") == 200  # the station is heard with its good token again
    assert "城南社区驿站" not in _text(operator.get("/console/stations?alert=token").data)


def test_the_dashboard_counts_what_has_arrived(fleet: Console) -> None:
    created = "2026-11-19T09:00:00+08:00"
    fleet.store.ingest("s-1", "registration", [{
        "key": "reg-key-fleet-1", "created_at": created,
        "payload": {"code": "70108956", "kind": "求职", "station_id": "s-1", "created_at": created,
                    "person": {"name": "赵六", "id_number": "520103197812120018", "gender": "男",
                               "birth_date": "1978-12-12", "address": "贵州省贵阳市云岩区中华北路108号",
                               "phone": "13698765432"}, "answers": {"意向": "保洁"}}}])
    page = fleet.client("registrar").get("/console/").data.decode()
    assert re.search(r"待跟进登记</td><td class=\"num\">1<", page)  # no other page opened first
    admin = _text(fleet.client("admin").get("/console/").data)
    assert re.search(r"运行告警驿站\s+1", admin)


# -- remote care -------------------------------------------------------------------------------

@pytest.fixture
def cared(console: Console, station):  # type: ignore[no-untyped-def]
    """A station on loopback whose hub is this console's: its token, the hub's key."""
    token = console.store.add_station("test-station-01", "城东社区驿站")
    server = HubServer(console.app).start()
    public_key = (console.home / "feed.pub").read_text(encoding="utf-8").strip()
    station.write(f'[hub]\nfeed_url = "{server.url}feeds/gy/"\npublic_key = "{public_key}"\n'
                  f'upload_url = "{server.url}api/v1/"\nstation_token = "{token}"\ntimeout_s = 5\n')
    try:
        yield station
    finally:
        server.stop()


def _care_round(station, **kwargs):  # type: ignore[no-untyped-def]
    with Station(station.settings) as s:
        client = s.care_client(**kwargs)
        try:
            return client.run_once()
        finally:
            client.close()


def test_a_settings_change_from_the_console_is_applied_at_the_station(console: Console, cared) -> None:
    operator = console.client("operator")
    sent = post(operator, "/console/stations/test-station-01/settings",
                {"station.hotline": "0851-88886666", "kiosk.idle_timeout_s": "120", "kiosk.elder_mode": "否",
                 "staff_pin": "246810"})
    assert sent.status_code == 302
    assert "等待驿站获取" in _text(operator.get("/console/stations/test-station-01").data)
    assert "246810" not in operator.get("/console/stations/test-station-01").data.decode()

    before = cared.config_path.read_text(encoding="utf-8")
    result = _care_round(cared)
    assert not result.problem and not result.refused, result
    # Kept beside the data (a box's station.toml is root's), read over the untouched file.
    assert cared.config_path.read_text(encoding="utf-8") == before
    assert (cared.settings.data_dir / REMOTE_SETTINGS_FILE).exists()
    settings = cared.settings
    assert settings.station.hotline == "0851-88886666"
    assert settings.kiosk.idle_timeout_s == 120 and settings.kiosk.elder_mode is False
    assert check_pin("246810", settings.kiosk.staff_pin_hash)
    page = _text(operator.get("/console/stations/test-station-01").data)
    assert "已应用" in page and "工作人员密码：已更改" in page
    assert _care_round(cared).settings_version is None  # the same record is not applied twice


def test_a_refused_setting_shows_its_reason(console: Console, cared) -> None:
    operator = console.client("operator")
    post(operator, "/console/stations/test-station-01/settings",
         {"kiosk.idle_timeout_s": "5", "station.name": "城东社区就业驿站"})
    result = _care_round(cared)
    assert result.applied == ["station.name"] and list(result.refused) == ["kiosk.idle_timeout_s"]
    assert cared.settings.station.name == "城东社区就业驿站" and cared.settings.kiosk.idle_timeout_s == 90
    page = _text(operator.get("/console/stations/test-station-01").data)
    assert "部分被拒绝" in page
    assert "自助机无操作返回首页（秒）被拒绝：本站不接受这个值：须不小于 15（收到 5）" in page
    # The console refuses what it can tell is wrong before anything is signed.
    bad = post(operator, "/console/stations/test-station-01/settings", {"kiosk.countdown_s": "半分钟"},
               follow_redirects=True)
    assert "返回前倒计时（秒）：请填写整数" in _text(bad.data)


def test_a_record_not_signed_by_the_hub_is_not_applied(console: Console, cared) -> None:
    from hub.care import issue_settings
    from protocol.feed import generate_private_key

    issue_settings(console.engine, generate_private_key(), "test-station-01", {"station.hotline": "110"},
                   by_user="intruder")
    result = _care_round(cared)
    assert "refused" in result.problem and result.settings_version is None
    assert cared.settings.station.hotline != "110"


def test_collected_logs_reach_the_console_without_personal_data(console: Console, cared) -> None:
    operator = console.client("operator")
    assert post(operator, "/console/stations/test-station-01/logs", {"lines": "50"}).status_code == 302
    journal = ("12-07 09:00 yizhan-kiosk[812]: 读卡成功 520103197812120018\n"
               "12-07 09:01 yizhan-sync[733]: 回访电话 13698765432 已登记\n")
    asked = []
    result = _care_round(cared, journal=lambda n: asked.append(n) or journal)
    assert result.logs_sent is not None and asked == [50]
    detail = operator.get("/console/stations/test-station-01").data.decode()
    link = re.search(r'href="(/console/stations/test-station-01/logs/\d+)"', detail)
    assert link, "no link to the uploaded log"
    log_page = operator.get(link.group(1)).data.decode()
    assert "读卡成功" in log_page and "520103197812120018" not in log_page and "13698765432" not in log_page
    assert "5201**********0018" in log_page


def test_toml_set_keeps_the_other_lines() -> None:
    text = '# 本站\n[station]\nname = "甲"  # 名称\nhotline = "1"\n\n[kiosk]\nelder_mode = true\n'
    changed = toml_set(toml_set(text, "station.hotline", "0851-2"), "screens.kiosk_on", "08:00-18:00")
    assert changed.startswith('# 本站\n[station]\nname = "甲"  # 名称\nhotline = "0851-2"\n')
    assert changed.endswith('[screens]\nkiosk_on = "08:00-18:00"\n')


def test_the_live_offers_are_shown_and_one_is_withdrawn_from_the_console(fleet: Console) -> None:
    from hub.publish import load_key_file
    from hub.releases import _write_offers, read_offers

    feed_dir = fleet.home / "feeds" / "gy"
    feed_dir.mkdir(parents=True, exist_ok=True)

    def offer(name: str, version: str, sha: str, **audience: object) -> dict:
        return {"format": "yizhan-release-offer/1", "name": name, "version": version, "sha256": sha * 64,
                "size": 10, "path": f"releases/{sha * 64}.tar", "published_at": "2026-11-20T01:00:00+00:00",
                "stations": [], "percent": 100, **audience}

    _write_offers(feed_dir, [offer("general", "0.1.4", "a"), offer("canary", "0.1.5", "b", stations=["s-2"],
                                                                    percent=0)],
                  load_key_file(fleet.home / "feed.key"))
    operator = fleet.client("operator")
    page = _text(operator.get("/console/stations/versions").data)
    assert "正式发布（general） 0.1.4 全部站点" in page
    assert "试点发布（canary） 0.1.5 站点 城西社区驿站" in page
    # s-1 rolled back from 0.1.4: behind, and said not to retry it; s-2 waits for the canary
    assert "城东社区驿站 0.1.3 0.1.4（已回滚，驿站不会再自动试这个版本）" in page
    assert "城西社区驿站 0.1.4 0.1.5" in page
    assert "撤回" not in _text(fleet.client("editor").get("/console/stations/versions").data)
    done = post(operator, "/console/stations/versions/withdraw", {"feed": "gy", "name": "canary"},
                follow_redirects=True)
    assert "已撤回：版本 0.1.5（canary）" in _text(done.data)
    assert [o["name"] for o in read_offers(feed_dir)] == ["general"]


def test_the_sync_loop_takes_care_after_its_heartbeat(console: Console, cared) -> None:
    """The station's sync process asks for care after each feed round's heartbeat; a remote file
    that the station's own file no longer agrees with is left aside, never a station that cannot start."""
    operator = console.client("operator")
    post(operator, "/console/stations/test-station-01/settings", {"station.opening_hours": "周一至周六 9:00-17:00"})
    with Station(cared.settings) as s:
        loop = s.sync_loop()
        try:
            loop.run_feed_round(report=False)  # the feed is not published: the round fails, care still runs
        finally:
            loop.stop(timeout=5)
    assert cared.settings.station.opening_hours == "周一至周六 9:00-17:00"
    assert "已应用" in _text(operator.get("/console/stations/test-station-01").data)
    remote = cared.settings.data_dir / REMOTE_SETTINGS_FILE
    remote.write_text(remote.read_text(encoding="utf-8") + "\n[kiosk]\nidle_timeout_s = 1\n", encoding="utf-8")
    assert cared.settings.station.opening_hours != "周一至周六 9:00-17:00"  # the station's own file holds
