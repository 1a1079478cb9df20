"""多点联动 on loopback: a station uploads to its city hub, the city hub forwards to the provincial hub
(store-and-forward, same keys, nothing lost or doubled when either side is down), and the city's feed
carries the province's policies to the station."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests

from config.cli import main
from config.station import Station, open_store
from content.outbox import record_heartbeat
from content.registrations import submit_registration
from hub.app import HubServer, create_app
from hub.forward import Forwarder
from hub.storage import HubStore
from hub.upstream import UpstreamError, fetch_upstream

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "hub" / "example"
PERSON = {"name": "赵六", "id_number": "520103197812120018", "phone": "13698765432"}


class Hubs:
    def __init__(self, tmp_path: Path, database: str) -> None:
        self.province_home = tmp_path / "province"
        self.city_home = tmp_path / "city"
        self.province_app = create_app(self.province_home, database_url=database)
        self.city_app = create_app(self.city_home)  # a city keeps SQLite
        self.province = HubServer(self.province_app).start()
        self.province_port = self.province.port
        self.city = HubServer(self.city_app).start()

    @property
    def province_store(self) -> HubStore:
        return self.province_app.extensions["hub_store"]

    @property
    def city_store(self) -> HubStore:
        return self.city_app.extensions["hub_store"]

    def province_down(self) -> None:
        self.province.stop()

    def province_up(self) -> None:
        self.province = HubServer(self.province_app, port=self.province_port).start()

    def close(self) -> None:
        self.province.stop()
        self.city.stop()
        self.province_store.close()
        self.city_store.close()


@pytest.fixture
def hubs(tmp_path: Path, hub_database: str):
    h = Hubs(tmp_path, hub_database)
    try:
        yield h
    finally:
        h.close()


class LostAnswer(requests.Session):
    """The province stores the batch but its answer never reaches the city (cut, crash)."""

    def post(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().post(*args, **kwargs)
        raise requests.ConnectionError("connection reset before the answer was read")


def test_uploads_reach_the_province_once_whatever_fails(hubs: Hubs, station) -> None:
    relay_token = hubs.province_store.add_station("gy-city", "贵阳市", relay=True)
    station_token = hubs.city_store.add_station("test-station-01")
    settings = station.write(f'[hub]\nupload_url = "{hubs.city.url}api/v1/"\nstation_token = "{station_token}"\n')
    codes = [submit_registration(settings.db_path, "返乡", PERSON, {"n": i}, station_id="test-station-01").code
             for i in range(12)]
    record_heartbeat(settings, devices={"printer": {"ok": True}})
    assert Station(settings).sender().deliver_once().sent == 13
    upload_url = f"http://127.0.0.1:{hubs.province_port}/api/v1/"

    hubs.province_down()
    down = Forwarder(hubs.city_store, upload_url, relay_token, batch=5).forward_once()
    assert not down.ok and "unreachable" in down.error and down.pending == 13
    assert hubs.province_store.count() == 0

    hubs.province_up()
    lost = Forwarder(hubs.city_store, upload_url, relay_token, batch=5, session=LostAnswer()).forward_once()
    assert not lost.ok and lost.pending == 13  # stored there, but not known here
    assert hubs.province_store.count("registration") == 5

    # The city hub restarts (a new forwarder on the same database) and sends everything again.
    again = Forwarder(hubs.city_store, upload_url, relay_token, batch=5).forward_once()
    assert again.ok and (again.sent, again.duplicates, again.pending) == (8, 5, 0)
    assert Forwarder(hubs.city_store, upload_url, relay_token).forward_once().sent == 0

    stored = hubs.province_store.uploads("registration")
    assert sorted(u["payload"]["code"] for u in stored) == sorted(codes)  # 0 lost, 0 doubled
    city_keys = {u["key"] for u in hubs.city_store.uploads()}
    assert {u["key"] for u in hubs.province_store.uploads()} == city_keys  # the stations' own keys
    assert {(u["station_id"], u["origin_station"]) for u in stored} == {("gy-city", "test-station-01")}
    assert hubs.province_store.count("heartbeat") == 1


def test_only_a_relay_may_name_another_station(hubs: Hubs) -> None:
    token = hubs.province_store.add_station("gy-001")
    item = {"key": "0b5a4f3e-0000-4000-8000-000000000001", "created_at": "2026-03-01T09:30:00+08:00",
            "payload": {"event": "search"}, "station": "gy-999"}
    answer = requests.post(f"{hubs.province.url}api/v1/events", json={"items": [item]},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert answer["results"][0]["status"] == "rejected" and "relay" in answer["results"][0]["reason"]
    assert hubs.province_store.count() == 0


def test_cli_forward_once(hubs: Hubs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    relay_token = hubs.province_store.add_station("gy-city", relay=True)
    token = hubs.city_store.add_station("s1")
    event = {"key": "0b5a4f3e-0000-4000-8000-000000000002", "created_at": "2026-03-01T09:30:00+08:00",
             "payload": {"event": "search"}}
    requests.post(f"{hubs.city.url}api/v1/events", json={"items": [event]},
                  headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()
    token_file = tmp_path / "relay.token"
    token_file.write_text(relay_token + "\n")
    args = ["hub", "forward", "--home", str(hubs.city_home), "--to", f"{hubs.province.url}api/v1/",
            "--token-file", str(token_file), "--once"]
    assert main(args) == 0
    assert "forwarded 1 new" in capsys.readouterr().out
    assert hubs.province_store.uploads()[0]["origin_station"] == "s1"
    token_file.write_text("wrong\n")
    requests.post(f"{hubs.city.url}api/v1/events", json={"items": [{**event, "key": event["key"][:-1] + "3"}]},
                  headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()
    assert main(args) == 4
    assert "401" in capsys.readouterr().out


def _province_source(tmp_path: Path) -> Path:
    """A provincial source folder: two province-wide policies and nothing else."""
    src = tmp_path / "province-src"
    src.mkdir()
    policies = json.loads((EXAMPLE / "policies.json").read_text(encoding="utf-8"))[:2]
    for p in policies:
        p["id"] = "sheng-" + p["id"]
        p["title"] = "省级：" + p["title"]
    (src / "policies.json").write_text(json.dumps(policies, ensure_ascii=False), encoding="utf-8")
    (src / "feed.json").write_text(json.dumps({"feed_id": "guizhou", "scope": {"regions": ["520000"]}}))
    return src


def test_the_city_feed_carries_the_province_policies_to_the_station(hubs: Hubs, tmp_path: Path, station,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    p_home, c_home = str(hubs.province_home), str(hubs.city_home)
    assert main(["hub", "keygen", "--home", p_home]) == 0
    assert main(["hub", "publish", str(_province_source(tmp_path)), "--home", p_home]) == 0
    province_key = (hubs.province_home / "feed.pub").read_text().strip()
    assert main(["hub", "keygen", "--home", c_home]) == 0
    province_feed = f"{hubs.province.url}feeds/guizhou/"
    include = ["--include-feed", province_feed, "--include-key", province_key]
    assert main(["hub", "publish", str(EXAMPLE), "--home", c_home, *include]) == 0

    config = str(station.config_path)
    city_key = (hubs.city_home / "feed.pub").read_text().strip()
    station.write(f'[hub]\nfeed_url = "{hubs.city.url}feeds/gy-yunyan/"\npublic_key = "{city_key}"\n')
    assert main(["sync", "--once", "--no-progress", "--config", config]) == 0
    with open_store(station.settings) as store:
        titles = [p.title for p in store.export_content().policies]
    assert sum(t.startswith("省级：") for t in titles) == 2 and len(titles) > 2

    # The province unreachable: the city still publishes, with the last verified provincial copy.
    hubs.province_down()
    assert main(["hub", "publish", str(EXAMPLE), "--home", c_home, *include]) == 0
    assert "included guizhou version 1 (2 records) from the last verified copy" in capsys.readouterr().out
    # A forged provincial feed (another key) is refused, and nothing is published.
    hubs.province_up()
    shutil.copy(hubs.city_home / "feeds" / "gy-yunyan" / "manifest.sig",
                hubs.province_home / "feeds" / "guizhou" / "manifest.sig")
    with pytest.raises(UpstreamError, match="refused"):
        fetch_upstream(province_feed, province_key, hubs.city_home / "upstream")
    assert main(["hub", "publish", str(EXAMPLE), "--home", c_home, *include]) == 1
    assert json.loads((hubs.city_home / "feeds" / "gy-yunyan" / "manifest.json").read_text())["version"] == 2


def test_a_record_the_province_refuses_is_kept_for_staff_and_not_resent(hubs: Hubs) -> None:
    relay_token = hubs.province_store.add_station("gy-city", relay=True)
    hubs.province_store.add_station("other")
    hubs.city_store.add_station("s1")
    clash = {"key": "0b5a4f3e-0000-4000-8000-00000000abcd", "created_at": "2026-03-01T09:30:00+08:00",
             "payload": {"event": "search"}}
    hubs.province_store.ingest("other", "event", [clash])  # the province already has this key from elsewhere
    hubs.city_store.ingest("s1", "event", [clash, {**clash, "key": clash["key"][:-4] + "0001"}])
    forwarder = Forwarder(hubs.city_store, f"{hubs.province.url}api/v1/", relay_token)
    result = forwarder.forward_once()
    assert (result.sent, result.rejected, result.pending) == (1, 1, 0)
    assert forwarder.rejected()[0]["key"] == clash["key"]
    assert "another record" in forwarder.rejected()[0]["reason"]
    assert forwarder.forward_once().rejected == 0  # answered: not sent again
