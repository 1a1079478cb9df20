"""A slow feed must not stop uploads: the feed and the outbox each have a thread of their own.

The finding: one thread fetched the feed, then delivered the outbox; a manifest trickled at
one byte every few seconds kept a registration and the heartbeats unsent with the upload
server healthy. Here the feed server trickles (real server on 127.0.0.1) while the hub that
takes uploads answers at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from feed_support import Hub, client_for, hub_toml, make_content
from trickle_server import Body, TrickleServer

from config.station import Station
from content.registrations import submit_registration

PERSON = {"name": "赵六", "id_number": "520103197812120018", "gender": "男", "birth_date": "1978-12-12",
          "address": "贵州省贵阳市云岩区中华北路108号3单元", "phone": "13698765432"}


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    server = TrickleServer({}, interval_s=0.5).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_registration_reaches_the_hub_while_the_feed_trickles(station, hub: Hub, trickle: TrickleServer) -> None:
    token = hub.store.add_station("test-station-01")
    hub.publish(make_content(hub, jobs=5))
    manifest = (hub.feed_dir / "manifest.json").read_bytes()
    trickle.bodies["/manifest.json"] = Body(manifest, step=1)  # a byte every 0.5 s: the 10 s read timeout never fires
    settings = station.write(hub_toml(hub, token=token, timeout_s=10).replace(hub.feed_url, trickle.url))
    code = submit_registration(settings.db_path, "求职", PERSON, {"意向工种": "保洁"},
                               station_id=settings.station.id).code
    station_ = Station(settings)
    loop = station_.sync_loop(interval_s=3600, client=client_for(settings),
                              sender=station_.sender(attempts=2, backoff_s=0.01))
    loop.start()
    try:
        assert trickle.bodies["/manifest.json"].started.wait(20), "the feed was never asked for"
        status = loop.wait_rounds(-1, 0, timeout=30)  # the uplink's first round, within the first interval
        assert status.last_delivery is not None and status.last_delivery.sent >= 1, status.last_delivery
        uploads = hub.store.uploads("registration")
        assert [u["payload"]["code"] for u in uploads] == [code]
        # ... while the feed is still being trickled: its round has not ended.
        assert loop.status.syncing and loop.status.feed_rounds == 0
        assert trickle.bodies["/manifest.json"].sent < len(manifest)

        # A registration made later goes as soon as the uplink is woken, the feed still trickling.
        later = submit_registration(settings.db_path, "零工", PERSON, {}, station_id=settings.station.id).code
        loop.deliver_now()
        loop.wait_rounds(-1, status.delivery_rounds, timeout=30)
        assert sorted(u["payload"]["code"] for u in hub.store.uploads("registration")) == sorted([code, later])
        assert loop.status.syncing and loop.status.feed_rounds == 0
    finally:
        trickle.stop()
        loop.stop(timeout=20)
