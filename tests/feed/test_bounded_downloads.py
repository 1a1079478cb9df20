"""Every download is bounded in size and in time: a server that sends too much is cut off at
the cap, and one that trickles is cut off at the fetch's deadline (not only by the read
timeout, which a byte every few seconds keeps alive). Against a real server on 127.0.0.1,
with time injected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from feed_support import Hub, hub_toml, make_content
from trickle_server import Body, TrickleServer

from common.netutil import DeadlineExceeded, TooLarge, fetch_capped
from config.station import Station

OFFER = b'{"format": "yizhan-release-offer/1", "version": "0.7.0"}' * 4


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    server = TrickleServer({}).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_whole_body_within_cap_and_deadline_is_read(trickle: TrickleServer) -> None:
    trickle.bodies["/release.json"] = Body(OFFER, step=64, paced=False)
    with requests.Session() as session:
        response = fetch_capped(session, trickle.url + "release.json", max_bytes=len(OFFER), deadline_s=5)
    assert response.status_code == 200 and response.content == OFFER


def test_a_trickling_server_is_cut_off_at_the_deadline(trickle: TrickleServer) -> None:
    # One byte per clock reading, each reading one second later: the read timeout (10 s) never
    # fires, the 5 s deadline does, after a handful of bytes.
    trickle.bodies["/release.json"] = Body(OFFER, step=1)
    clock = trickle.ticking_clock(1.0)
    with requests.Session() as session, pytest.raises(DeadlineExceeded, match="not complete after 5 s"):
        fetch_capped(session, trickle.url + "release.json", max_bytes=1 << 20, deadline_s=5, clock=clock,
                     timeout=10.0)
    assert 0 < trickle.bodies["/release.json"].sent < 10


def test_a_600_mb_offer_is_refused_by_its_declared_size(trickle: TrickleServer) -> None:
    trickle.bodies["/release.json"] = Body(b"x" * 65536, declared_length=600 * 1024 * 1024, endless=True,
                                           paced=False)
    with requests.Session() as session, pytest.raises(TooLarge, match="629145600 bytes"):
        fetch_capped(session, trickle.url + "release.json", max_bytes=64 * 1024, deadline_s=30)


def test_an_endless_body_without_a_length_is_cut_off_at_the_cap(trickle: TrickleServer) -> None:
    trickle.bodies["/keys.json"] = Body(b"[" * 65536, endless=True, paced=False)
    seen: list[int] = []
    with requests.Session() as session, pytest.raises(TooLarge, match="larger than the limit 262144"):
        fetch_capped(session, trickle.url + "keys.json", max_bytes=256 * 1024, deadline_s=30, on_bytes=seen.append)
    assert 256 * 1024 < sum(seen) <= 256 * 1024 + 64 * 1024  # never more than one read past the cap


def test_the_station_gives_up_on_a_trickling_manifest_at_its_deadline(station, hub: Hub,
                                                                     trickle: TrickleServer) -> None:
    hub.publish(make_content(hub, jobs=5))
    manifest = (hub.feed_dir / "manifest.json").read_bytes()
    trickle.bodies["/manifest.json"] = Body(manifest, step=1)
    toml = hub_toml(hub).replace(hub.feed_url, trickle.url)
    settings = station.write(toml)
    client = Station(settings).sync_client(attempts=3, backoff_s=0.01, deadline_s=20,
                                           monotonic=trickle.ticking_clock(1.0))
    try:
        result = client.sync_once()
    finally:
        client.close()
    assert (result.status, result.code) == ("failed", "unavailable")
    assert "DeadlineExceeded" in result.detail and result.requests == 1  # cut off, and not tried again at once
    assert trickle.bodies["/manifest.json"].sent < 40


def test_a_trickling_media_download_stops_at_its_deadline_and_resumes_from_what_came(
        trickle: TrickleServer, tmp_path) -> None:
    """Media and release bundles too: each attempt has a deadline (60 s of grace plus the size
    at 2 KB/s); a server sending a byte a second is cut off, and the bytes it sent are kept."""
    import hashlib

    from tenacity import Retrying, stop_after_attempt

    from content.media import MediaCache, TransientHTTPError
    from protocol.model import MediaRef

    data = bytes(range(256)) * 40  # 10 KB: 60 s + 5 s allowed
    trickle.bodies["/media/clip.mp4"] = Body(data, step=1)
    cache = MediaCache(tmp_path / "media", clock=trickle.ticking_clock(1.0))
    ref = MediaRef(sha256=hashlib.sha256(data).hexdigest(), size=len(data), type="video/mp4", ext="mp4")
    with requests.Session() as session, pytest.raises(TransientHTTPError, match="slower than 2048 B/s"):
        cache.download(session, trickle.url + "media/clip.mp4", ref, timeout=10.0,
                       retrying=Retrying(stop=stop_after_attempt(1), reraise=True))
    kept = cache.part_path(ref).stat().st_size
    assert 55 <= kept <= 70  # about 65 one-second bytes, then cut: far from the 10 KB
    assert not cache.has(ref)
